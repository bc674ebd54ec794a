//! `minijwt keys`: the key ring file, and rotating, listing and retiring its keys.
//!
//! A key file written before key rotation holds one base64url key: that is
//! a ring of one *legacy* key, which signs tokens without a `kid`. Rotating
//! turns the file into a ring, one key a line:
//!
//! ```text
//! # minijwt key ring: KID CREATED ROLE KEY (see minijwt keys --help)
//! q3Vt1Z9A 1796000000 sign J3nS...
//! - 1795000000 verify Wm9v...
//! ```
//!
//! `KID` `-` is the legacy key (tokens without `kid`); `CREATED` is Unix
//! seconds; `ROLE` is `sign` (exactly one key) or `verify`.

use minijwt::{Hs256Key, KeySet};

use super::keygen::write_new_private_file;
use super::{usage, CliError, Parsed};

pub const HELP: &str = "\
minijwt keys: rotate the server's signing key without logging anyone out

  minijwt keys list   --key-file FILE        each key's kid, creation time and role
  minijwt keys rotate --key-file FILE        add a new signing key; the old one
                                             goes on verifying the tokens it signed
  minijwt keys retire --key-file FILE KID    remove a verify-only key (`-`: the
                                             legacy key of tokens without kid)

The file stays mode 0600 and is replaced atomically. Tell a running server
with SIGHUP (kill -HUP PID): it re-reads the file without dropping anyone, and
keeps its keys if the file is broken. Retire a key only when every token it
signed has expired: refresh tokens live two weeks (--refresh-ttl).
Key material is never printed.
";

/// One key of the ring file.
struct Entry {
    /// `None`: the legacy key, for tokens without `kid`.
    kid: Option<String>,
    created: i64,
    signing: bool,
    /// base64url text, as in the file.
    key: String,
}

/// Reads a key file: a legacy single key, or a ring.
fn read(path: &str) -> Result<Vec<Entry>, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read key file {path}: {e}")))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if let [single] = lines.as_slice() {
        if !single.contains(' ') {
            return Ok(vec![Entry {
                kid: None,
                created: 0,
                signing: true,
                key: (*single).to_owned(),
            }]);
        }
    }
    let entries = lines
        .iter()
        .enumerate()
        .map(|(n, line)| {
            let bad = |what: &str| usage(format!("key file {path}, key {}: {what}", n + 1));
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [kid, created, role, key] = fields.as_slice() else {
                return Err(bad("expected KID CREATED ROLE KEY"));
            };
            let kid_ok = kid.len() <= 64
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !kid_ok || kid.is_empty() {
                return Err(bad("the kid must be base64url text of at most 64 characters"));
            }
            Ok(Entry {
                kid: (*kid != "-").then(|| (*kid).to_owned()),
                created: created.parse().map_err(|_| bad("CREATED is not Unix seconds"))?,
                signing: match *role {
                    "sign" => true,
                    "verify" => false,
                    _ => return Err(bad("ROLE must be sign or verify")),
                },
                key: (*key).to_owned(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check(&entries, path)?;
    Ok(entries)
}

/// A ring has exactly one signing key, and no kid twice.
fn check(entries: &[Entry], path: &str) -> Result<(), CliError> {
    if entries.iter().filter(|e| e.signing).count() != 1 {
        return Err(usage(format!(
            "key file {path}: exactly one key must have the role sign"
        )));
    }
    for (i, entry) in entries.iter().enumerate() {
        if entries[..i].iter().any(|e| e.kid == entry.kid) {
            return Err(usage(format!("key file {path}: a kid appears twice")));
        }
    }
    Ok(())
}

/// The keys of a ring file: the signing key's kid (none for a legacy key),
/// the signing key, and every key that verifies. (Without the server, only
/// the token commands read a ring, and they only verify.)
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub struct Ring {
    pub signing_kid: Option<String>,
    pub signing: Hs256Key,
    pub verify: KeySet,
}

/// Reads `path` as the keys a server signs and verifies with.
///
/// Errors name the file and the line, never key material.
pub fn load_ring(path: &str) -> Result<Ring, CliError> {
    let mut verify = KeySet::new();
    let mut signing = None;
    for entry in read(path)? {
        let key = Hs256Key::from_base64url(&entry.key).map_err(|e| usage(format!("key file {path}: {e}")))?;
        verify = match &entry.kid {
            Some(kid) => verify.with(kid.clone(), key.clone()),
            None => verify.with_legacy(key.clone()),
        };
        if entry.signing {
            signing = Some((entry.kid, key));
        }
    }
    let (signing_kid, signing) = signing.ok_or_else(|| usage(format!("key file {path}: no signing key")))?;
    Ok(Ring {
        signing_kid,
        signing,
        verify,
    })
}

/// Writes the ring over `path` atomically (a new file, mode 0600, renamed
/// over the old one): a server reading it on SIGHUP sees the old ring or
/// the new one, never half of one.
fn write(path: &str, entries: &[Entry]) -> Result<(), CliError> {
    let mut text = String::from("# minijwt key ring: KID CREATED ROLE KEY (see minijwt keys --help)\n");
    for entry in entries {
        let role = if entry.signing { "sign" } else { "verify" };
        let kid = entry.kid.as_deref().unwrap_or("-");
        text.push_str(&format!("{kid} {} {role} {}\n", entry.created, entry.key));
    }
    let temporary = format!("{path}.new-{}", std::process::id());
    let _ = std::fs::remove_file(&temporary);
    write_new_private_file(&temporary, text.as_bytes())?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        usage(format!("cannot replace {path}: {e}"))
    })
}

pub fn run(args: &[&str]) -> Result<(), CliError> {
    let (command, rest) = match args {
        [command, rest @ ..] if !command.starts_with('-') => (*command, rest),
        _ => {
            print!("{HELP}");
            return Ok(());
        }
    };
    let parsed = Parsed::new(rest, &["key-file"])?;
    if parsed.help {
        print!("{HELP}");
        return Ok(());
    }
    let path = parsed
        .get("key-file")
        .ok_or_else(|| usage("--key-file FILE is required"))?;
    match command {
        "list" => {
            parsed.no_positional()?;
            for entry in read(path)? {
                let created = match entry.created {
                    0 => "-".to_owned(),
                    at => minijwt::time::utc(at),
                };
                let role = if entry.signing { "sign" } else { "verify" };
                let kid = entry.kid.as_deref().unwrap_or("- (legacy: tokens without kid)");
                println!("{kid} {created} {role}");
            }
            Ok(())
        }
        "rotate" => {
            parsed.no_positional()?;
            let mut entries = read(path)?;
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| usage(format!("the OS random source failed: {e}")))?;
            let mut id = [0u8; 6];
            getrandom::fill(&mut id).map_err(|e| usage(format!("the OS random source failed: {e}")))?;
            let kid = minijwt::base64url::encode(&id);
            for entry in &mut entries {
                entry.signing = false;
            }
            entries.insert(
                0,
                Entry {
                    kid: Some(kid.clone()),
                    created: minijwt::Validation::default().now(),
                    signing: true,
                    key: minijwt::base64url::encode(&secret),
                },
            );
            write(path, &entries)?;
            eprintln!("minijwt: key {kid} now signs; the others verify what they signed. Send SIGHUP to the server.");
            Ok(())
        }
        "retire" => {
            let wanted = parsed.single("the kid to retire")?;
            let mut entries = read(path)?;
            let kid = (wanted != "-").then(|| wanted.to_owned());
            let Some(at) = entries.iter().position(|e| e.kid == kid) else {
                return Err(usage(format!("no key {wanted:?} in {path}")));
            };
            if entries[at].signing {
                return Err(usage(format!(
                    "key {wanted:?} signs new tokens: rotate first, then retire it"
                )));
            }
            entries.remove(at);
            write(path, &entries)?;
            eprintln!("minijwt: key {wanted} retired: tokens it signed are refused from the next SIGHUP");
            Ok(())
        }
        other => Err(usage(format!(
            "unknown command `keys {other}` (try `minijwt keys --help`)"
        ))),
    }
}
