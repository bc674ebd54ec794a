//! `minijwt serve` as a process: start-up with no set-up, SIGTERM, kill -9 and
//! restart, and logs that never hold a secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

struct Serve {
    child: Child,
    addr: SocketAddr,
    /// Every stderr line so far, as it arrives.
    lines: Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minijwt-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn serve(dir: &Path, env: &[(&str, &str)]) -> Serve {
    serve_limited(dir, env, None)
}

/// `serve`, with the soft limit of open files lowered to `files` if given.
fn serve_limited(dir: &Path, env: &[(&str, &str)], files: Option<u32>) -> Serve {
    let binary = env!("CARGO_BIN_EXE_minijwt");
    let mut command = match files {
        None => Command::new(binary),
        Some(files) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("ulimit -n {files} && exec \"$0\" \"$@\""), binary]);
            sh
        }
    };
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("MINIJWT_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("a start-up line");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    // The start-up line names the database and the key's source, never the key.
    assert!(first.contains("database minijwt.db"), "{first}");
    assert!(first.contains("key from"), "{first}");
    Serve { child, addr, lines }
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

const PASSWORD: &str = "a very secret password";

fn register(addr: SocketAddr) {
    let (status, body) = post(
        addr,
        "/auth/register",
        &json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{body}");
}

fn login(addr: SocketAddr) -> Value {
    let (status, tokens) = post(
        addr,
        "/auth/login",
        &json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[test]
fn starts_with_no_setup_and_stops_cleanly_on_sigterm() {
    let dir = workdir("sigterm");
    let mut server = serve(&dir, &[]);
    register(server.addr);
    let tokens = login(server.addr);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("minijwt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(dir.join("minijwt.db").exists());

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "clean exit on SIGTERM");

    // Nothing secret in the log: no password, no token, no key.
    let log: Vec<String> = server.lines.try_iter().collect();
    let log = log.join("\n");
    let key = std::fs::read_to_string(dir.join("minijwt.key")).unwrap();
    for secret in [
        PASSWORD,
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        key.trim(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    assert!(
        log.contains("POST /auth/login 200"),
        "one line per request:\n{log}"
    );
}

#[test]
fn refresh_token_survives_kill_9_and_restart() {
    let dir = workdir("kill9");
    let server = serve(&dir, &[]);
    register(server.addr);
    let kept = login(server.addr);
    let revoked = login(server.addr);
    assert_eq!(
        post(
            server.addr,
            "/auth/logout",
            &json!({"refresh_token": revoked["refresh_token"]})
        )
        .0,
        204
    );
    drop(server); // SIGKILL: no chance to clean up

    let server = serve(&dir, &[]);
    let (status, _) = post(
        server.addr,
        "/auth/refresh",
        &json!({"refresh_token": kept["refresh_token"]}),
    );
    assert_eq!(status, 200);
    let (status, _) = post(
        server.addr,
        "/auth/refresh",
        &json!({"refresh_token": revoked["refresh_token"]}),
    );
    assert_eq!(status, 401);
}

#[test]
fn secret_env_overrides_the_key_file_and_bad_config_is_exit_2() {
    let dir = workdir("env");
    let server = serve(
        &dir,
        &[("MINIJWT_SECRET", "bWluaWp3dC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm")],
    );
    assert!(
        !dir.join("minijwt.key").exists(),
        "no key file when MINIJWT_SECRET is set"
    );
    drop(server);

    let output = Command::new(env!("CARGO_BIN_EXE_minijwt"))
        .args(["serve", "--workers", "zero"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    let output = Command::new(env!("CARGO_BIN_EXE_minijwt"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--addr",
        "--db",
        "--key-file",
        "--access-ttl",
        "--refresh-ttl",
        "--issuer",
        "--workers",
        "--no-register",
    ] {
        assert!(help.contains(option), "{option} missing from serve --help");
    }
}

/// A client holds more connections than the server may open files: accept
/// fails (EMFILE) while it does. tiny_http's accept thread used to end on
/// that error and the server refused every connection from then on; it now
/// waits and accepts again (vendor/tiny_http/PATCHES.md, patch 5).
#[test]
fn running_out_of_file_descriptors_is_survived() {
    let dir = workdir("fd-limit");
    let s = serve_limited(&dir, &[("MINIJWT_WORKERS", "4")], Some(64));
    // Past the limit, connections still complete: the kernel queues them.
    let held: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    drop(held);
    let started = std::time::Instant::now();
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    register(s.addr);
    login(s.addr);
}
