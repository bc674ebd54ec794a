//! `minijwt serve` as a process: start-up with no set-up, SIGTERM, kill -9 and
//! restart, and logs that never hold a secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use minijwt::{Header, Hs256Key};
use serde_json::{json, Value};

mod common;
use common::serve::*;
use common::*;

#[test]
fn starts_with_no_setup_and_stops_cleanly_on_sigterm() {
    let dir = workdir("sigterm");
    let mut server = serve(&dir, &[]);
    let tokens = user(server.addr, "alice").body;

    // The key, the database and SQLite's -wal and -shm files beside it hold
    // secrets (a key, password hashes): readable by their owner only.
    #[cfg(unix)]
    for file in ["minijwt.key", "minijwt.db", "minijwt.db-wal", "minijwt.db-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
    }

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
    let kept = user(server.addr, "alice").body;
    let revoked = login(server.addr, "alice").body;
    assert_eq!(
        post(
            server.addr,
            "/auth/logout",
            json!({"refresh_token": revoked["refresh_token"]})
        )
        .status,
        204
    );
    drop(server); // SIGKILL: no chance to clean up

    let server = serve(&dir, &[]);
    let status = post(
        server.addr,
        "/auth/refresh",
        json!({"refresh_token": kept["refresh_token"]}),
    )
    .status;
    assert_eq!(status, 200);
    let status = post(
        server.addr,
        "/auth/refresh",
        json!({"refresh_token": revoked["refresh_token"]}),
    )
    .status;
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

/// A client holds more connections than the server may open files, so
/// accept fails (EMFILE) while it does, or accept takes the last descriptor
/// and duplicating the socket for its write half fails. tiny_http's accept
/// thread ended on the first and panicked on the second, and the server
/// refused every connection from then on; it now closes that connection,
/// waits and accepts again (vendor/tiny_http/PATCHES.md, patches 5 and 7).
/// Each connection takes two descriptors, so which of the two calls fails
/// depends on the parity of the limit: both are tried.
#[test]
fn running_out_of_file_descriptors_is_survived() {
    for files in [64, 65] {
        let dir = workdir(&format!("fd-limit-{files}"));
        let limit = Launch {
            ulimit: Some(format!("-n {files}")),
            ..Launch::default()
        };
        let s = serve_with(&dir, &[("MINIJWT_WORKERS", "4")], &limit);
        // Past the limit, connections still complete: the kernel queues them.
        let held: Vec<TcpStream> = (0..100)
            .map(|i| {
                TcpStream::connect(s.addr).unwrap_or_else(|e| panic!("limit {files}, connection {i}: {e}"))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        drop(held);
        let started = std::time::Instant::now();
        let reply = call(s.addr, "GET", "/healthz", None, None);
        assert_eq!(reply.status, 200, "limit {files}: {reply:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "limit {files}: {:?}",
            started.elapsed()
        );
        user(s.addr, "alice");
    }
}

/// A client holds more connections than the system lets the server start
/// threads (tiny_http serves each connection on a thread of its own). The
/// accept thread panicked when `thread::spawn` was refused, and the server
/// refused every connection from then on; it now closes the connections it
/// has no thread for and goes on (vendor/tiny_http/PATCHES.md, patch 7).
///
/// The limit is the user's process limit (`ulimit -p`), which counts every
/// thread of the user and does not bind root: as root the server runs as
/// `nobody` through `setpriv`, otherwise as us.
#[test]
fn running_out_of_threads_is_survived() {
    let dir = workdir("threads");
    let mut launch = Launch::default();
    let mut uid = real_uid();
    if uid == 0 {
        uid = 65534;
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
        // `nobody` may not reach the binary where cargo built it.
        let binary = dir.join("minijwt");
        std::fs::copy(env!("CARGO_BIN_EXE_minijwt"), &binary).unwrap();
        launch.binary = Some(binary);
        launch.wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            .map(String::from)
            .to_vec();
    }
    // The server starts 9 threads with two workers; leave it 6 more.
    let limit = threads_of(uid) + 15;
    launch.ulimit = Some(format!("-p {limit}"));
    let mut s = serve_with(&dir, &[("MINIJWT_WORKERS", "2")], &launch);

    let held: Vec<TcpStream> = (0..100)
        .map(|i| TcpStream::connect(s.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed = held.iter().filter(|stream| closed_by_server(stream)).count();
    assert!(
        (1..100).contains(&closed),
        "{closed} of 100 connections closed: the limit of {limit} threads was not what was tested"
    );
    drop(held);

    user(s.addr, "alice");
    assert!(s.child.try_wait().unwrap().is_none(), "the server exited");
    let log: Vec<String> = s.lines.try_iter().collect();
    assert!(!log.iter().any(|line| line.contains("panicked")), "{log:#?}");
}

/// Whether the server has closed `stream` (it sent nothing on its own).
fn closed_by_server(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("the server spoke first"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// The real user id of this process, from /proc.
fn real_uid() -> u32 {
    uid_of(&std::fs::read_to_string("/proc/self/status").unwrap()).unwrap()
}

fn uid_of(status: &str) -> Option<u32> {
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many threads the user `uid` runs, all processes together: what
/// `ulimit -p` (RLIMIT_NPROC) counts.
fn threads_of(uid: u32) -> u32 {
    let mut threads = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        // Processes come and go while we look; a vanished one counts for none.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        if uid_of(&status) == Some(uid) {
            let count = status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok());
            threads += count.unwrap_or(0);
        }
    }
    threads
}

/// Whoever reads the server's stderr stops reading (a stuck log collector):
/// the request log must neither grow the server without bound nor keep it
/// from stopping. Lines that do not fit its queue are dropped.
#[cfg(target_os = "linux")]
#[test]
fn a_log_nobody_reads_neither_grows_the_server_nor_blocks_its_stop() {
    let dir = workdir("unread-log");
    let launch = Launch {
        stderr_unread: true,
        ..Launch::default()
    };
    let server = serve_with(&dir, &[], &launch);
    let rss = |pid: u32| -> usize {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap()
    };
    // 20,000 requests with 4,000-byte paths: 80 MB of log, were paths and
    // lines kept whole and queued without bound. What a bound looks like:
    // the server's memory stops growing once its queues, buffers and
    // allocator arenas are warm, so the last 15,000 requests (60 MB of log)
    // must add almost nothing to what the first 5,000 left.
    let path = format!("/{}", "p".repeat(4000));
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").repeat(100);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = [0u8; 64 * 1024];
    let mut warm = 0;
    for batch in 0..200 {
        if batch == 50 {
            warm = rss(server.child.id());
        }
        stream.write_all(request.as_bytes()).unwrap();
        // Read the 100 answers (404s) so the connection keeps going.
        let mut answers = 0;
        let mut seen = Vec::new();
        while answers < 100 {
            let n = stream.read(&mut sink).unwrap();
            assert!(n > 0, "the server closed the connection");
            seen.extend_from_slice(&sink[..n]);
            answers = seen.windows(12).filter(|w| w == b"HTTP/1.1 404").count();
        }
    }
    let after = rss(server.child.id());
    assert!(
        after < warm + 8 * 1024,
        "RSS {warm} kB after 5,000 requests -> {after} kB after 20,000"
    );
    // SIGTERM: the server stops within seconds although its log is stuck.
    let mut server = server;
    let started = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The audit trail of a real server, read with `minijwt audit`: the events
/// with user, address and session, and never a password or a token.
#[test]
fn the_audit_trail_records_security_events_and_no_secret() {
    let dir = workdir("audit");
    let server = serve(&dir, &[]);
    let tokens = user(server.addr, "alice").body;
    let status = post(
        server.addr,
        "/auth/login",
        json!({"username": "alice", "password": "not the password"}),
    )
    .status;
    assert_eq!(status, 401);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let rotated = post(
        server.addr,
        "/auth/refresh",
        json!({ "refresh_token": refresh_token }),
    );
    assert_eq!(rotated.status, 200, "{rotated:?}");

    let audit = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_minijwt"))
            .arg("audit")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let output = audit(&["--user", "ALICE", "--since", "1d"]);
    assert!(output.status.success(), "{output:?}");
    let trail = String::from_utf8(output.stdout).unwrap();
    let events: Vec<&str> = trail.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(events, ["login_ok", "login_failed", "refresh"], "{trail}");
    assert!(trail.lines().all(|l| l.contains("address=127.0.0.1")), "{trail}");
    let login_line = trail.lines().next().unwrap();
    assert!(login_line.contains("user=alice (1)"), "{login_line}");
    assert!(!login_line.contains("session=-"), "{login_line}");
    for secret in [
        PASSWORD,
        "not the password",
        refresh_token,
        tokens["access_token"].as_str().unwrap(),
    ] {
        assert!(!trail.contains(secret), "a secret in the audit trail: {trail}");
    }
    // Nothing for another name; bad input is one line and exit 2.
    assert!(audit(&["--user", "bob"]).stdout.is_empty());
    for args in [&["--since", "yesterday"][..], &["--db", "missing.db"][..]] {
        let refused = audit(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&refused.stderr).lines().count(),
            1,
            "{args:?}"
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `kid` in a token's header, if any.
fn kid_of(token: &str) -> Option<String> {
    let header = minijwt::base64url::decode(token.split('.').next().unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().map(str::to_owned)
}

/// Rotate the key while the server runs, SIGHUP, and nobody is logged out:
/// tokens of the old key still verify, new ones carry the new kid, an
/// unknown kid is refused, a broken file keeps the keys in use, and a
/// retired key's tokens stop.
#[test]
fn keys_rotate_and_reload_on_sighup_without_logging_anyone_out() {
    let dir = workdir("keys");
    let server = serve(&dir, &[]);
    let before = user(server.addr, "alice").body;
    let old_access = before["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&old_access), None, "a legacy key file signs without kid");

    let keys = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_minijwt"))
            .arg("keys")
            .args(args)
            .args(["--key-file", "minijwt.key"])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let key_text = std::fs::read_to_string(dir.join("minijwt.key")).unwrap();
    let rotated = keys(&["rotate"]);
    assert!(rotated.status.success(), "{rotated:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("minijwt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = String::from_utf8(keys(&["list"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let new_kid = listed
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(listed.lines().next().unwrap().ends_with(" sign"), "{listed}");
    assert!(listed.lines().nth(1).unwrap().ends_with(" verify"), "{listed}");
    assert!(!listed.contains(key_text.trim()), "key material printed");
    // The signing key cannot be retired.
    let refused = keys(&["retire", &new_kid]);
    assert_eq!(refused.status.code(), Some(2));

    let hup = |server: &Serve| {
        let status = Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    hup(&server);
    server.wait_for_line(&format!("keys reloaded from minijwt.key; signing key {new_kid}"));

    // Nobody is logged out: the old access and refresh tokens still work...
    assert_eq!(
        call(server.addr, "GET", "/me", Some(&old_access), None).status,
        200
    );
    let after = post(
        server.addr,
        "/auth/refresh",
        json!({"refresh_token": before["refresh_token"]}),
    );
    assert_eq!(after.status, 200, "{after:?}");
    let after = after.body;
    // ...and what is signed now carries the new kid.
    let new_access = after["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&new_access).as_deref(), Some(new_kid.as_str()));
    assert_eq!(
        kid_of(after["refresh_token"].as_str().unwrap()).as_deref(),
        Some(new_kid.as_str())
    );
    assert_eq!(
        call(server.addr, "GET", "/me", Some(&new_access), None).status,
        200
    );

    // An unknown kid is refused, whatever key signed it.
    let stranger = Hs256Key::new(&[9; 32]).unwrap();
    let claims = json!({"iss": "minijwt", "sub": "1", "username": "alice", "iat": 0, "exp": 4_000_000_000i64, "jti": "x"});
    let forged = minijwt::encode_with_header(
        &stranger,
        &Header::new().with_typ("at+jwt").with_kid("nope"),
        &claims,
    )
    .unwrap();
    assert_eq!(call(server.addr, "GET", "/me", Some(&forged), None).status, 401);

    // A broken file on SIGHUP: the keys in use stay.
    let ring = std::fs::read_to_string(dir.join("minijwt.key")).unwrap();
    std::fs::write(dir.join("minijwt.key"), "not a key ring\nat all\n").unwrap();
    hup(&server);
    let line = server.wait_for_line("keys not reloaded");
    assert!(!line.contains(ring.lines().nth(1).unwrap_or("x")), "{line}");
    assert_eq!(
        call(server.addr, "GET", "/me", Some(&new_access), None).status,
        200
    );
    std::fs::write(dir.join("minijwt.key"), ring).unwrap();

    // Retiring the legacy key: its tokens stop at the next SIGHUP.
    assert!(keys(&["retire", "-"]).status.success());
    hup(&server);
    server.wait_for_line("keys reloaded");
    assert_eq!(
        call(server.addr, "GET", "/me", Some(&old_access), None).status,
        401
    );
    assert_eq!(
        call(server.addr, "GET", "/me", Some(&new_access), None).status,
        200
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--metrics-addr` (and `MINIJWT_METRICS_ADDR`) serve `/metrics` on a
/// listener of its own; the public port never serves it.
#[test]
fn metrics_addr_serves_metrics_on_a_separate_port() {
    let dir = workdir("metrics-flag");
    let launch = Launch {
        args: vec!["--metrics-addr".into(), "127.0.0.1:0".into()],
        ..Launch::default()
    };
    let flag = serve_with(&dir, &[], &launch);
    let dir = workdir("metrics-env");
    let env = serve(&dir, &[("MINIJWT_METRICS_ADDR", "127.0.0.1:0")]);
    for server in [&flag, &env] {
        let line = server.wait_for_line("metrics on http://");
        let metrics: std::net::SocketAddr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        assert_ne!(metrics.port(), server.addr.port());
        assert_eq!(call(server.addr, "GET", "/metrics", None, None).status, 404);
        let before = scrape(metrics);
        assert_eq!(call(server.addr, "GET", "/healthz", None, None).status, 200);
        let after = scrape(metrics);
        let key = r#"minijwt_http_requests_total{route="/healthz",status="2xx"}"#;
        assert_eq!(after[key] - before[key], 1.0);
    }

    // Off by default: no metrics line, and the public port has none.
    let dir = workdir("metrics-off");
    let plain = serve(&dir, &[]);
    assert_eq!(call(plain.addr, "GET", "/metrics", None, None).status, 404);
    assert_eq!(call(plain.addr, "GET", "/readyz", None, None).status, 200);

    // The metrics address taken: the server does not start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_minijwt"))
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-addr"])
        .arg(taken.local_addr().unwrap().to_string())
        .current_dir(workdir("metrics-taken"))
        .env_remove("MINIJWT_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("(metrics)"),
        "{output:?}"
    );
}
