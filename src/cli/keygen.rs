//! `minijwt keygen`: a fresh 32-byte secret from the operating system.

use std::io::Write;

use super::{usage, CliError, Parsed};

const HELP: &str = "\
minijwt keygen [--out FILE]

Prints a new random 32-byte HS256 secret as base64url text (43 characters), the
form --key-file and MINIJWT_SECRET expect. With --out, writes it to FILE with
mode 0600 instead; an existing FILE is never overwritten.
";

pub fn run(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &["out"])?;
    if parsed.help {
        print!("{HELP}");
        return Ok(());
    }
    parsed.no_positional()?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| usage(format!("the OS random source failed: {e}")))?;
    let text = minijwt::base64url::encode(&secret);
    match parsed.get("out") {
        None => println!("{text}"),
        Some(path) => {
            write_new_private_file(path, format!("{text}\n").as_bytes())?;
            eprintln!("minijwt: wrote a new 32-byte key to {path} (mode 0600)");
        }
    }
    Ok(())
}

/// Creates `path` readable by its owner only; fails if it already exists.
pub fn write_new_private_file(path: &str, contents: &[u8]) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => usage(format!("{path} already exists; not overwriting it")),
        _ => usage(format!("cannot create {path}: {e}")),
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| usage(format!("cannot write {path}: {e}")))
}
