//! `minijwt serve` as a child process, in a directory of its own: for the
//! tests of the process (signals, kill -9, limits, logs) rather than the
//! server in this process ([`TestServer`](super::TestServer)).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// `minijwt serve` on a free port of 127.0.0.1, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every stderr line so far, as it arrives.
    pub lines: Receiver<String>,
    /// With `Launch::stderr_unread`: the server's stderr, held open and not
    /// read after its first line.
    _unread: Option<BufReader<std::process::ChildStderr>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Kills the server with SIGKILL and waits for it.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for a stderr line of the server that contains `text`.
    pub fn wait_for_line(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} from the server");
    }
}

/// A new empty directory of this test's own.
pub fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minijwt-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server in `dir`, with `env` added to its environment.
pub fn serve(dir: &Path, env: &[(&str, &str)]) -> Serve {
    serve_with(dir, env, &Launch::default())
}

/// How to start the server other than plainly.
#[derive(Default)]
pub struct Launch {
    /// A resource limit to lower first, as dash's `ulimit` takes it ("-n 64").
    pub ulimit: Option<String>,
    /// A command the server runs under, such as `setpriv` switching users.
    pub wrapper: Vec<String>,
    /// The binary to run instead of the one cargo built.
    pub binary: Option<PathBuf>,
    /// Arguments after `serve --addr 127.0.0.1:0`.
    pub args: Vec<String>,
    /// Read stderr's first line only, then keep the pipe open unread, as a
    /// log collector that stopped would.
    pub stderr_unread: bool,
}

/// The server in `dir`, with `env` added to its environment, started as
/// `launch` says.
pub fn serve_with(dir: &Path, env: &[(&str, &str)], launch: &Launch) -> Serve {
    let binary = launch
        .binary
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_minijwt")));
    let mut argv: Vec<std::ffi::OsString> = launch.wrapper.iter().map(Into::into).collect();
    if let Some(limit) = &launch.ulimit {
        argv.extend([
            "sh".into(),
            "-c".into(),
            format!("ulimit {limit} && exec \"$0\" \"$@\"").into(),
        ]);
    }
    argv.push(binary.into());
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(&launch.args)
        .current_dir(dir)
        .env_remove("MINIJWT_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).expect("a start-up line");
    let (tx, lines) = channel();
    let unread = match launch.stderr_unread {
        true => Some(stderr),
        false => {
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            None
        }
    };
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    // The start-up line names the database and the key's source, never the key.
    let db_given =
        launch.args.iter().any(|a| a == "--db") || env.iter().any(|(name, _)| *name == "MINIJWT_DB");
    match db_given {
        true => assert!(first.contains(", database "), "{first}"),
        false => assert!(first.contains("database minijwt.db"), "{first}"),
    }
    assert!(first.contains("key from"), "{first}");
    Serve {
        child,
        addr,
        lines,
        _unread: unread,
    }
}
