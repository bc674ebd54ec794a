//! The `minijwt` command line: argument parsing, exit codes, and the shared
//! plumbing (reading a token or a key) of the sub-commands.
//!
//! Exit codes: 0 success, 1 verification failed, 2 usage or input error.
//! Every error is one line on stderr; nothing here panics on user input.

#[cfg(feature = "server")]
mod audit;
mod keygen;
mod keys;
#[cfg(feature = "server")]
mod serve;
mod token;

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::process::ExitCode;

use minijwt::Hs256Key;

/// The environment variable holding the key as base64url text.
pub const SECRET_ENV: &str = "MINIJWT_SECRET";

const HELP: &str = "\
minijwt: HS256 JSON Web Tokens, shown byte by byte

Usage:
  minijwt token encode  [--key-file F] [--typ T] [--exp-in SECONDS] CLAIMS_JSON|-
  minijwt token decode  TOKEN|-
  minijwt token verify  [--key-file F] [--typ T] [--issuer I] [--audience A] [--leeway S] TOKEN|-
  minijwt token explain [--key-file F] [--typ T] TOKEN|-
  minijwt keygen        [--out FILE]
  minijwt serve         [--addr A] [--db FILE] [--key-file F] ...   (see serve --help)
  minijwt audit         [--db FILE] [--user NAME] [--since T]      (the server's audit trail)
  minijwt keys          list|rotate|retire --key-file FILE [KID]   (see keys --help)

The key is base64url text of at least 32 bytes, read from --key-file or from the
MINIJWT_SECRET environment variable. `-` reads the token or claims from stdin.

Exit codes: 0 ok, 1 verification failed, 2 usage or input error.
Run `minijwt COMMAND --help` for one command.
";

/// Why a command failed, and so which exit code it gets.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or unreadable input: exit 2.
    Usage(String),
    /// The token was checked and refused: exit 1.
    Rejected(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) => f.write_str(message),
            CliError::Rejected(message) => write!(f, "token rejected: {message}"),
        }
    }
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Rejected(_) => ExitCode::from(1),
        }
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Runs the command line (without the program name) and returns the exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    match dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever the message holds.
            let line = error.to_string().replace(['\n', '\r'], " ");
            eprintln!("minijwt: {line}");
            error.exit_code()
        }
    }
}

fn dispatch(args: Vec<OsString>) -> Result<(), CliError> {
    let args = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| usage(format!("argument {a:?} is not UTF-8")))
        })
        .collect::<Result<Vec<String>, CliError>>()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["--help" | "-h" | "help"] => {
            print!("{HELP}");
            Ok(())
        }
        ["--version" | "-V"] => {
            println!("minijwt {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        ["token", "encode", rest @ ..] => token::encode(rest),
        ["token", "decode", rest @ ..] => token::decode(rest),
        ["token", "verify", rest @ ..] => token::verify(rest),
        ["token", "explain", rest @ ..] => token::explain(rest),
        ["token", ..] => {
            if words.len() == 1 || matches!(words[1], "--help" | "-h") {
                print!("{}", token::HELP);
                Ok(())
            } else {
                Err(usage(format!(
                    "unknown command `token {}` (try `minijwt token --help`)",
                    words[1]
                )))
            }
        }
        ["keygen", rest @ ..] => keygen::run(rest),
        #[cfg(feature = "server")]
        ["serve", rest @ ..] => serve::run(rest),
        #[cfg(feature = "server")]
        ["audit", rest @ ..] => audit::run(rest),
        ["keys", rest @ ..] => keys::run(rest),
        [other, ..] => Err(usage(format!("unknown command `{other}` (try `minijwt --help`)"))),
    }
}

/// Options and positional arguments of one sub-command.
pub struct Parsed<'a> {
    options: Vec<(&'static str, &'a str)>,
    positional: Vec<&'a str>,
    /// Whether `--help` was given.
    pub help: bool,
}

impl<'a> Parsed<'a> {
    /// Splits `args` into `--name value` (or `--name=value`) options, from the
    /// list `known`, and positional arguments. A lone `-` is positional.
    pub fn new(args: &[&'a str], known: &[&'static str]) -> Result<Self, CliError> {
        Self::with_flags(args, known, &[])
    }

    /// Like [`Parsed::new`], also accepting the value-less `flags`
    /// (`--no-register`); a given flag reads as the value `"true"`.
    pub fn with_flags(
        args: &[&'a str],
        known: &[&'static str],
        flags: &[&'static str],
    ) -> Result<Self, CliError> {
        Self::with_repeatable(args, known, flags, &[])
    }

    /// Like [`Parsed::with_flags`], where the options in `repeatable` may be
    /// given more than once ([`Parsed::all`] has every value).
    pub fn with_repeatable(
        args: &[&'a str],
        known: &[&'static str],
        flags: &[&'static str],
        repeatable: &[&'static str],
    ) -> Result<Self, CliError> {
        let mut parsed = Parsed {
            options: Vec::new(),
            positional: Vec::new(),
            help: false,
        };
        let mut iter = args.iter();
        while let Some(&arg) = iter.next() {
            if arg == "--help" || arg == "-h" {
                parsed.help = true;
            } else if let Some(flag) = arg.strip_prefix("--") {
                let (name, inline) = match flag.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (flag, None),
                };
                let (name, value) = if let Some(flag) = flags.iter().find(|f| **f == name) {
                    if inline.is_some() {
                        return Err(usage(format!("--{name} takes no value")));
                    }
                    (*flag, "true")
                } else {
                    let name = *known
                        .iter()
                        .find(|k| **k == name)
                        .ok_or_else(|| usage(format!("unknown option --{name}")))?;
                    let value = match inline {
                        Some(value) => value,
                        None => iter
                            .next()
                            .ok_or_else(|| usage(format!("--{name} needs a value")))?,
                    };
                    (name, value)
                };
                if parsed.get(name).is_some() && !repeatable.contains(&name) {
                    return Err(usage(format!("--{name} given twice")));
                }
                parsed.options.push((name, value));
            } else if arg.starts_with('-') && arg != "-" {
                return Err(usage(format!("unknown option {arg}")));
            } else {
                parsed.positional.push(arg);
            }
        }
        Ok(parsed)
    }

    /// The value of option `name`, if given.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.options.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Every value of a repeatable option, in order.
    #[cfg(feature = "server")]
    pub fn all(&self, name: &str) -> Vec<&'a str> {
        self.options
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .collect()
    }

    /// The value of option `name` as a number.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, CliError> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| usage(format!("--{name} must be a whole number, not {v:?}")))
            })
            .transpose()
    }

    /// Refuses any positional argument.
    pub fn no_positional(&self) -> Result<(), CliError> {
        match self.positional.first() {
            Some(extra) => Err(usage(format!("unexpected argument {extra:?}"))),
            None => Ok(()),
        }
    }

    /// The one positional argument, `what` naming it in errors.
    pub fn single(&self, what: &str) -> Result<&'a str, CliError> {
        match self.positional.as_slice() {
            [one] => Ok(one),
            [] => Err(usage(format!("missing {what}"))),
            _ => Err(usage(format!(
                "expected one {what}, got {}",
                self.positional.len()
            ))),
        }
    }
}

/// The argument itself, or all of stdin for `-`; surrounding whitespace
/// (a pasted newline) is removed.
pub fn read_input(arg: &str, what: &str) -> Result<String, CliError> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(16 * 1024 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read the {what} from stdin: {e}")))?;
        text
    } else {
        arg.to_owned()
    };
    Ok(text.trim().to_owned())
}

/// The key from `--key-file`, else from `MINIJWT_SECRET`, else `None`.
/// What `token verify` and `token explain` check a signature with: one key,
/// or a key ring file of `minijwt keys` (the key a token's `kid` names).
pub enum Verifier {
    /// One key, whatever the token's `kid`.
    Key(Hs256Key),
    /// The key the token's `kid` selects; none is tried in turn.
    Ring(minijwt::KeySet),
}

impl Verifier {
    /// The library's verdict on `token`.
    pub fn decode(
        &self,
        token: &str,
        validation: &minijwt::Validation,
    ) -> Result<serde_json::Value, minijwt::Error> {
        match self {
            Verifier::Key(key) => minijwt::decode(key, token, validation),
            Verifier::Ring(keys) => minijwt::decode_with_keys(keys, token, validation),
        }
    }

    /// The key that checks `token`'s signature, if one does (for showing
    /// the HMAC it computes).
    pub fn key_for(&self, token: &str) -> Option<&Hs256Key> {
        match self {
            Verifier::Key(key) => Some(key),
            Verifier::Ring(keys) => {
                let header = minijwt::base64url::decode(token.split('.').next()?).ok()?;
                let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
                keys.select(header.get("kid").and_then(|k| k.as_str())).ok()
            }
        }
    }
}

/// The key or key ring of `--key-file` (or `MINIJWT_SECRET`, one key).
pub fn load_verifier(key_file: Option<&str>) -> Result<Option<Verifier>, CliError> {
    match load_key(key_file) {
        Ok(key) => Ok(key.map(Verifier::Key)),
        Err(not_one_key) => match key_file {
            // Not one key: a ring, if it reads as one; else the first error.
            Some(path) => keys::load_ring(path)
                .map(|ring| Some(Verifier::Ring(ring.verify)))
                .map_err(|_| not_one_key),
            None => Err(not_one_key),
        },
    }
}

pub fn load_key(key_file: Option<&str>) -> Result<Option<Hs256Key>, CliError> {
    let (text, source) = match key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read key file {path}: {e}")))?;
            (text, format!("key file {path}"))
        }
        None => match std::env::var(SECRET_ENV) {
            Ok(text) => (text, SECRET_ENV.to_owned()),
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage(format!("{SECRET_ENV} is not valid UTF-8")))
            }
        },
    };
    // The error names where the key came from, never what it holds.
    Hs256Key::from_base64url(&text)
        .map(Some)
        .map_err(|e| usage(format!("{source}: {e}")))
}

/// The key, required.
pub fn require_key(key_file: Option<&str>) -> Result<Hs256Key, CliError> {
    load_key(key_file)?.ok_or_else(|| {
        usage(format!(
            "no key: pass --key-file FILE or set {SECRET_ENV} (see `minijwt keygen`)"
        ))
    })
}
