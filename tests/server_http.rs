//! The real server over loopback: the seed's flow (steps 1–14), rotation,
//! reuse detection, concurrency, bad framing, restarts, and hostile bursts.
//! What the router alone decides (status codes, error bodies, 404 and 405,
//! the `Authorization` header) is tested without sockets in tests/router.rs.
//!
//! Each test starts its own server (common's `TestServer`) on 127.0.0.1:0
//! with a clock the test moves, stopped when it is dropped. Requests go
//! through common's client, or as raw bytes where the bytes are the test
//! (keep-alive, lying Content-Length, bad headers).

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use minijwt::auth::{AuthConfig, Clock, ManualClock};
use minijwt::http::proxy::TrustedProxies;
use minijwt::http::server::Options;
use minijwt::store::Store;
use minijwt::Hs256Key;
use serde_json::{json, Value};

mod common;
use common::*;

const T0: i64 = 1_800_000_000;

/// A clock the test moves, which can also be told to panic (to prove a
/// panicking handler costs one request, not the server).
#[derive(Default)]
struct TestClock {
    time: ManualClock,
    panic: AtomicBool,
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        if self.panic.load(Ordering::SeqCst) {
            panic!("injected fault: clock exploded");
        }
        self.time.now()
    }
}

/// A server on an in-memory store with `config`, and the clock it runs
/// on, set to [`T0`].
fn start(config: AuthConfig) -> (TestServer, Arc<TestClock>) {
    start_with(ServerSetup {
        config,
        ..ServerSetup::default()
    })
}

/// A server as `setup` says, on a new [`TestClock`] set to [`T0`].
fn start_with(setup: ServerSetup) -> (TestServer, Arc<TestClock>) {
    let clock = Arc::new(TestClock::default());
    clock.time.set(T0);
    let server = ServerSetup {
        clock: clock.clone(),
        ..setup
    }
    .start();
    (server, clock)
}

#[test]
fn seed_flow_steps_1_to_14() {
    let (s, clock) = start(AuthConfig {
        access_ttl: 1,
        ..AuthConfig::default()
    });
    // 1-4: log in; the server checks the credentials and issues two tokens.
    assert_eq!(register(s.addr, "alice").status, 201);
    let tokens = login(s.addr, "alice");
    assert_eq!(tokens.status, 200);
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 1);
    assert_eq!(tokens.body["refresh_expires_in"], 14 * 24 * 3600);
    assert_eq!(tokens.header("Cache-Control"), Some("no-store"));
    let (access, refresh_token) = (tokens.text("access_token"), tokens.text("refresh_token"));

    // 5-7: requests carry the access token; the server verifies it and answers.
    let me = call(s.addr, "GET", "/me", Some(&access), None);
    assert_eq!(me.status, 200);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["created_at"], T0);

    // 8-11: the access token expires; the server says so, distinctly.
    clock.time.advance(1);
    let expired = call(s.addr, "GET", "/me", Some(&access), None);
    assert_eq!(expired.status, 401);
    let challenge = expired.header("WWW-Authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"minijwt\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(challenge.contains("expired"), "{challenge}");

    // 12-13: refresh token together with the (expired but genuine) access token.
    let renewed = refresh(s.addr, &refresh_token, Some(&access));
    assert_eq!(renewed.status, 200, "{renewed:?}");
    assert_eq!(renewed.header("Cache-Control"), Some("no-store"));
    assert_ne!(renewed.text("refresh_token"), refresh_token, "rotated");

    // 14: carry on with the new access token.
    assert_eq!(
        call(s.addr, "GET", "/me", Some(&renewed.text("access_token")), None).status,
        200
    );
}

#[test]
fn tampered_or_foreign_access_token_blocks_refresh() {
    let (s, _clock) = start(AuthConfig::default());
    let alice = user(s.addr, "alice");
    let bob = user(s.addr, "bob");
    // Bob's access token with Alice's refresh token: 401.
    let mixed = refresh(
        s.addr,
        &alice.text("refresh_token"),
        Some(&bob.text("access_token")),
    );
    assert_eq!((mixed.status, mixed.error()), (401, "invalid_grant"));
    // A forged access token (signed with another key): 401.
    let forged = minijwt::encode_with_header(
        &Hs256Key::new(&[1; 32]).unwrap(),
        &minijwt::Header::new().with_typ("at+jwt"),
        &json!({"iss": "minijwt", "sub": "1", "username": "alice", "iat": T0, "exp": T0 + 60, "jti": "x"}),
    )
    .unwrap();
    let reply = refresh(s.addr, &alice.text("refresh_token"), Some(&forged));
    assert_eq!(reply.status, 401);
    // Alice's own pair still works: the failed attempts did not rotate it.
    assert_eq!(
        refresh(
            s.addr,
            &alice.text("refresh_token"),
            Some(&alice.text("access_token"))
        )
        .status,
        200
    );
}

#[test]
fn token_types_are_never_confused() {
    let (s, _clock) = start(AuthConfig::default());
    let alice = user(s.addr, "alice");
    // A refresh token is not an access token...
    let reply = call(s.addr, "GET", "/me", Some(&alice.text("refresh_token")), None);
    assert_eq!(reply.status, 401);
    assert!(
        reply.header("WWW-Authenticate").unwrap().contains("token type"),
        "{reply:?}"
    );
    // ...and an access token is not a refresh token.
    let reply = refresh(s.addr, &alice.text("access_token"), None);
    assert_eq!((reply.status, reply.error()), (401, "invalid_grant"));
}

#[test]
fn rotation_keeps_the_family_expiry_two_weeks_after_login() {
    let (s, clock) = start(AuthConfig::default());
    let mut tokens = user(s.addr, "alice");
    let two_weeks = 14 * 24 * 3600;
    for day in 1..14 {
        clock.time.set(T0 + day * 24 * 3600);
        tokens = refresh(s.addr, &tokens.text("refresh_token"), None);
        assert_eq!(tokens.status, 200, "day {day}");
        assert_eq!(
            tokens.body["refresh_expires_in"],
            two_weeks - day * 24 * 3600,
            "day {day}"
        );
    }
    clock.time.set(T0 + two_weeks);
    let late = refresh(s.addr, &tokens.text("refresh_token"), None);
    assert_eq!((late.status, late.error()), (401, "invalid_grant"));
    assert!(late.text("error_description").contains("expired"), "{late:?}");
    // A new login starts a new two weeks.
    assert_eq!(login(s.addr, "alice").body["refresh_expires_in"], two_weeks);
}

/// Strict rotation: no grace window, so any second use is reuse.
fn strict() -> AuthConfig {
    AuthConfig {
        refresh_grace: 0,
        ..AuthConfig::default()
    }
}

#[test]
fn reuse_of_a_rotated_token_revokes_the_family() {
    let (s, _clock) = start(strict());
    let first = user(s.addr, "alice");
    let other_login = login(s.addr, "alice");
    let second = refresh(s.addr, &first.text("refresh_token"), None);
    assert_eq!(second.status, 200);

    let replay = refresh(s.addr, &first.text("refresh_token"), None);
    assert_eq!((replay.status, replay.error()), (401, "invalid_grant"));
    assert_eq!(replay.text("error_description"), "refresh token reuse detected");
    // The thief's and the owner's current token are both dead now...
    let after = refresh(s.addr, &second.text("refresh_token"), None);
    assert_eq!(after.status, 401);
    // ...but another login's family is untouched.
    assert_eq!(
        refresh(s.addr, &other_login.text("refresh_token"), None).status,
        200
    );
}

/// `n` refreshes of one token at once; the replies in no particular order.
fn concurrent_refreshes(addr: SocketAddr, token: &str, n: usize) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(n));
    (0..n)
        .map(|_| {
            let (barrier, token) = (barrier.clone(), token.to_owned());
            std::thread::spawn(move || {
                barrier.wait();
                refresh(addr, &token, None)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect()
}

#[test]
fn sixteen_concurrent_refreshes_without_grace_exactly_one_succeeds() {
    let (s, _clock) = start(strict());
    let token = user(s.addr, "alice").text("refresh_token");
    let statuses: Vec<u16> = concurrent_refreshes(s.addr, &token, 16)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 200 || s == 401), "{statuses:?}");
}

#[test]
fn a_retry_within_the_grace_window_gets_the_same_successor() {
    let (s, clock) = start(AuthConfig::default()); // grace 30 s
    let first = user(s.addr, "alice");
    let r1 = first.text("refresh_token");
    let second = refresh(s.addr, &r1, Some(&first.text("access_token")));
    assert_eq!(second.status, 200);
    let r2 = second.text("refresh_token");

    // The answer was lost; the client tries again 5 s later: the same
    // successor, byte for byte, and a fresh access token.
    clock.time.advance(5);
    let retry = refresh(s.addr, &r1, None);
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.text("refresh_token"), r2);
    assert_eq!(
        retry.body["refresh_expires_in"],
        second.body["refresh_expires_in"].as_i64().unwrap() - 5
    );
    assert_eq!(
        call(s.addr, "GET", "/me", Some(&retry.text("access_token")), None).status,
        200
    );

    // The family goes on as a line: R2 rotates as usual...
    let third = refresh(s.addr, &r2, None);
    assert_eq!(third.status, 200);
    // ...and once R2 has been used, R1 again is reuse: the family is revoked.
    let replay = refresh(s.addr, &r1, None);
    assert_eq!(replay.text("error_description"), "refresh token reuse detected");
    assert_eq!(refresh(s.addr, &third.text("refresh_token"), None).status, 401);
}

#[test]
fn concurrent_refreshes_within_the_grace_window_all_get_one_successor() {
    let (s, _clock) = start(AuthConfig::default());
    let token = user(s.addr, "alice").text("refresh_token");
    let replies = concurrent_refreshes(s.addr, &token, 8);
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let successors: std::collections::HashSet<String> =
        replies.iter().map(|r| r.text("refresh_token")).collect();
    assert_eq!(successors.len(), 1, "{successors:?}");
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(refresh(s.addr, &successor, None).status, 200);
}

#[test]
fn after_the_grace_window_a_retry_is_reuse() {
    let (s, clock) = start(AuthConfig {
        refresh_grace: 2,
        ..AuthConfig::default()
    });
    let r1 = user(s.addr, "alice").text("refresh_token");
    let r2 = refresh(s.addr, &r1, None).text("refresh_token");
    clock.time.advance(1);
    // Still within 2 s: the same successor.
    assert_eq!(refresh(s.addr, &r1, None).text("refresh_token"), r2);
    clock.time.advance(1);
    let late = refresh(s.addr, &r1, None);
    assert_eq!((late.status, late.error()), (401, "invalid_grant"));
    assert_eq!(late.text("error_description"), "refresh token reuse detected");
    // The successor is revoked with its family.
    let after = refresh(s.addr, &r2, None);
    assert_eq!(after.text("error_description"), "refresh token was revoked");
}

#[test]
fn logout_and_logout_all() {
    let (s, _clock) = start(AuthConfig::default());
    let a = user(s.addr, "alice");
    let b = login(s.addr, "alice");
    let c = login(s.addr, "alice");

    let out = post(
        s.addr,
        "/auth/logout",
        json!({"refresh_token": a.text("refresh_token")}),
    );
    assert_eq!(out.status, 204);
    // RFC 9110 §8.6: no Content-Length on a 204 (tiny_http patch 6).
    assert_eq!(out.header("Content-Length"), None, "{out:?}");
    // Idempotent.
    assert_eq!(
        post(
            s.addr,
            "/auth/logout",
            json!({"refresh_token": a.text("refresh_token")})
        )
        .status,
        204
    );
    assert_eq!(refresh(s.addr, &a.text("refresh_token"), None).status, 401);
    assert_eq!(refresh(s.addr, &b.text("refresh_token"), None).status, 200);

    let all = call(
        s.addr,
        "POST",
        "/auth/logout-all",
        Some(&c.text("access_token")),
        None,
    );
    assert_eq!(all.status, 204);
    assert_eq!(refresh(s.addr, &c.text("refresh_token"), None).status, 401);
    // A forged token cannot log anyone out.
    assert_eq!(
        post(s.addr, "/auth/logout", json!({"refresh_token": "a.b.c"})).status,
        401
    );
}

#[test]
fn notes_are_private() {
    let (s, clock) = start(AuthConfig::default());
    let alice = user(s.addr, "alice").text("access_token");
    let bob = user(s.addr, "bob").text("access_token");

    let first = call(
        s.addr,
        "POST",
        "/notes",
        Some(&alice),
        Some(&json!({"text": "first"})),
    );
    assert_eq!(first.status, 201);
    clock.time.advance(1);
    let second = call(
        s.addr,
        "POST",
        "/notes",
        Some(&alice),
        Some(&json!({"text": "second"})),
    );
    let list = call(s.addr, "GET", "/notes", Some(&alice), None);
    let texts: Vec<&str> = list.body["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["second", "first"]);

    let id = first.body["id"].as_i64().unwrap();
    let path = format!("/notes/{id}");
    assert_eq!(
        call(s.addr, "GET", &path, Some(&alice), None).body["text"],
        "first"
    );
    // Bob sees nothing of Alice's: 404, never 403.
    assert_eq!(call(s.addr, "GET", &path, Some(&bob), None).status, 404);
    assert_eq!(call(s.addr, "DELETE", &path, Some(&bob), None).status, 404);
    assert_eq!(
        call(s.addr, "GET", "/notes", Some(&bob), None).body["notes"],
        json!([])
    );

    assert_eq!(call(s.addr, "DELETE", &path, Some(&alice), None).status, 204);
    assert_eq!(call(s.addr, "GET", &path, Some(&alice), None).status, 404);
    let second_id = second.body["id"].as_i64().unwrap();
    assert_eq!(
        call(s.addr, "GET", &format!("/notes/{second_id}"), Some(&alice), None).status,
        200
    );
}

/// Behind a reverse proxy on 127.0.0.1 (the test client), which names the
/// client in X-Forwarded-For.
fn start_behind_proxy(config: AuthConfig) -> TestServer {
    let options = Options {
        trusted_proxies: TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]),
        ..Options::default()
    };
    start_with(ServerSetup {
        config,
        options,
        ..ServerSetup::default()
    })
    .0
}

/// A login with `password`, by the client the proxy names `client`.
fn login_from(addr: SocketAddr, client: &str, password: &str) -> Reply {
    call_with_headers(
        addr,
        "POST",
        "/auth/login",
        &[("X-Forwarded-For", client)],
        Some(&json!({"username": "alice", "password": password})),
    )
}

#[test]
fn a_guesser_from_one_address_cannot_keep_the_user_out() {
    let s = start_behind_proxy(AuthConfig::default());
    user(s.addr, "alice");
    for _ in 0..5 {
        assert_eq!(login_from(s.addr, "198.51.100.7", "wrong guess").status, 401);
    }
    // The guesser is stopped, right password or not...
    assert_eq!(login_from(s.addr, "198.51.100.7", PASSWORD).status, 429);
    // ...while alice, from her own address, logs in.
    assert_eq!(login_from(s.addr, "203.0.113.9", PASSWORD).status, 200);
}

#[test]
fn guessers_from_many_addresses_meet_the_soft_limit_and_alice_still_gets_in() {
    let mut config = AuthConfig::default();
    config.throttle.per_user = 6;
    let s = start_behind_proxy(config);
    user(s.addr, "alice");
    for i in 1..=3 {
        let guesser = format!("198.51.100.{i}");
        for _ in 0..2 {
            assert_eq!(login_from(s.addr, &guesser, "wrong guess").status, 401);
        }
    }
    // Three addresses have failed twice each: they are refused now...
    assert_eq!(login_from(s.addr, "198.51.100.1", "wrong guess").status, 429);
    // ...but an address that has not failed is not, and the right password works.
    assert_eq!(login_from(s.addr, "203.0.113.9", PASSWORD).status, 200);
}

#[test]
fn a_spoofed_forwarded_for_changes_nothing_without_a_trusted_proxy() {
    let (s, _clock) = start(AuthConfig::default());
    user(s.addr, "alice");
    for i in 1..=5 {
        let spoofed = format!("198.51.100.{i}");
        assert_eq!(login_from(s.addr, &spoofed, "wrong guess").status, 401);
    }
    // Every attempt came from 127.0.0.1, whatever the header claimed.
    assert_eq!(login_from(s.addr, "203.0.113.9", PASSWORD).status, 429);
}

#[test]
fn failed_logins_are_throttled_per_username_and_address() {
    let (s, clock) = start(AuthConfig::default());
    user(s.addr, "alice");
    for _ in 0..5 {
        let reply = post(
            s.addr,
            "/auth/login",
            json!({"username": "alice", "password": "wrong guess"}),
        );
        assert_eq!(reply.status, 401);
    }
    // Right password or not, the sixth is refused until the window passes.
    let blocked = login(s.addr, "alice");
    assert_eq!(blocked.status, 429);
    assert_eq!(blocked.header("Retry-After"), Some("900"));
    clock.time.advance(15 * 60);
    assert_eq!(login(s.addr, "alice").status, 200);
}

#[test]
fn concurrent_guesses_cannot_overshoot_the_limit() {
    let (s, _clock) = start(AuthConfig::default());
    user(s.addr, "alice");
    let barrier = Arc::new(Barrier::new(30));
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            let (barrier, addr) = (barrier.clone(), s.addr);
            std::thread::spawn(move || {
                barrier.wait();
                post(
                    addr,
                    "/auth/login",
                    json!({"username": "alice", "password": "wrong guess"}),
                )
                .status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked, the limit is 5: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
}

#[test]
fn failed_logins_are_throttled_per_address() {
    let mut config = AuthConfig::default();
    config.throttle.per_address = 3;
    let (s, _clock) = start(config);
    user(s.addr, "alice");
    for name in ["x1y", "x2y", "x3y"] {
        assert_eq!(
            post(
                s.addr,
                "/auth/login",
                json!({"username": name, "password": "whatever1"})
            )
            .status,
            401
        );
    }
    assert_eq!(login(s.addr, "alice").status, 429);
}

/// The transport's refusals have the router's error body too (the router's
/// own errors are in tests/router.rs).
#[test]
fn bad_framing_gets_precise_errors() {
    let (s, _clock) = start(AuthConfig::default());
    let a = s.addr;
    // A 9,000-byte Bearer token gets through the transport (its header
    // limits are larger) to the router, which answers the 401 with its
    // challenge and error body (what the router makes of it:
    // tests/router.rs).
    let long = "a".repeat(9_000);
    let reply = raw(
        a,
        format!("GET /me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {long}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_error_body(&reply, 401, "invalid_token");
    assert!(reply.text("error_description").contains("too long"), "{reply:?}");
    assert!(
        reply
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer realm=\"minijwt\", error=\"invalid_token\""),
        "{reply:?}"
    );
    // Bodies over 64 KiB are refused unread; chunked bodies are not read at
    // all (411: the API needs none, and their size lines are one more thing
    // to bound).
    let reply = raw(a, b"POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n");
    assert_eq!(reply.status, 413);
    let chunk = "x".repeat(70_000);
    let chunked = format!(
        "POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let refused = raw(a, chunked.as_bytes());
    assert_eq!((refused.status, refused.error()), (411, "length_required"));
    // Every error body has the same shape.
    assert!(reply.body["error_description"].is_string());
}

#[test]
fn huge_announced_body_is_413_and_server_survives() {
    let (s, _clock) = start(AuthConfig::default());
    let reply = raw(
        s.addr,
        b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n{}",
    );
    assert_eq!(reply.status, 413);
    assert_eq!(call(s.addr, "GET", "/healthz", None, None).status, 200);
}

/// One response with `status`, and then the connection closed.
fn assert_only_one(status: u16, received: &Received) {
    assert_eq!(status_among(received, &[status]), Ok(status));
}

#[test]
fn no_request_can_be_smuggled_in_an_unread_body() {
    let (s, _clock) = start(AuthConfig::default());
    let smuggled = b"GET /healthz?smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    // An announced length: the server answers 413 without reading the body,
    // then closes, so the request hidden in it is never parsed.
    let mut body = vec![b' '; 1024 * 1024 + 100];
    body.extend_from_slice(smuggled);
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len() + 4096
    );
    assert_only_one(413, &send_while_reading(s.addr, head.as_bytes(), body));

    // Chunked: the rest of the chunked body is never read as a request either.
    let chunk = vec![b'x'; 70_000];
    let mut body = format!("{:x}\r\n", chunk.len()).into_bytes();
    body.extend_from_slice(&chunk);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    body.extend_from_slice(smuggled);
    let head = "POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_owned();
    assert_only_one(411, &send_while_reading(s.addr, head.as_bytes(), body));
}

#[test]
fn a_stalled_body_times_out_and_holds_only_its_own_connection() {
    let (s, _clock) = start(AuthConfig::default());
    let mut stalled = TcpStream::connect(s.addr).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stalled
        .write_all(b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n{\"user")
        .unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    // The stalled body holds its own connection's thread, nobody else's.
    let mut other = TcpStream::connect(s.addr).unwrap();
    other.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut BufReader::new(other)).unwrap().status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The body has 10 s (BODY_TIMEOUT) from the end of its head.
    let reply = read_reply(&mut BufReader::new(stalled)).unwrap();
    assert_eq!((reply.status, reply.error()), (408, "request_timeout"));
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_secs(9) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
}

#[test]
fn a_panicking_handler_costs_one_request() {
    let (s, clock) = start(AuthConfig::default());
    let access = user(s.addr, "alice").text("access_token");
    clock.panic.store(true, Ordering::SeqCst);
    let reply = call(s.addr, "GET", "/me", Some(&access), None);
    assert_eq!((reply.status, reply.error()), (500, "server_error"));
    clock.panic.store(false, Ordering::SeqCst);
    assert_eq!(call(s.addr, "GET", "/me", Some(&access), None).status, 200);
}

fn temp_db(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("minijwt-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

#[test]
fn restart_keeps_tokens_and_revocations() {
    let path = temp_db("restart");
    let clock = Arc::new(TestClock::default());
    clock.time.set(T0);
    let on_file = || ServerSetup {
        store: Some(Store::open(&path).unwrap()),
        clock: clock.clone(),
        ..ServerSetup::default()
    };
    let s = on_file().start();
    let kept = user(s.addr, "alice");
    let revoked = login(s.addr, "alice");
    assert_eq!(
        post(
            s.addr,
            "/auth/logout",
            json!({"refresh_token": revoked.text("refresh_token")})
        )
        .status,
        204
    );
    drop(s);

    let s = on_file().start();
    assert_eq!(refresh(s.addr, &kept.text("refresh_token"), None).status, 200);
    assert_eq!(refresh(s.addr, &revoked.text("refresh_token"), None).status, 401);
    assert_eq!(
        call(s.addr, "GET", "/me", Some(&kept.text("access_token")), None).status,
        200
    );
}

/// A client that sends its headers a byte at a time (slowloris) is cut off:
/// the request head has 10 s to arrive, whatever the pace.
#[test]
fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let (s, _clock) = start(AuthConfig::default());
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .unwrap();
    let started = Instant::now();
    let mut cut_off = None;
    while started.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(250));
        if slow.write_all(b"a").is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        // The server answers 408 and closes; a write then fails soon after.
        slow.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 64];
        let closed = (&slow).read(&mut byte).is_ok();
        slow.set_nonblocking(false).unwrap();
        if closed {
            cut_off = Some(started.elapsed());
            break;
        }
    }
    let cut_off = cut_off.expect("a slowloris client was never cut off");
    assert!(cut_off < Duration::from_secs(30), "{cut_off:?}");
    // Meanwhile and after, everyone else is served.
    assert_eq!(call(s.addr, "GET", "/healthz", None, None).status, 200);
}

/// A request head without end is cut off at 64 KiB, not read into memory.
/// The head parser scans tiny_http's buffer for line ends (patch 4): a CRLF
/// split across two reads still ends the line.
#[test]
fn a_head_split_between_cr_and_lf_is_read() {
    let (s, _clock) = start(AuthConfig::default());
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.set_nodelay(true).unwrap();
    for part in [
        &b"GET /healthz HTTP/1.1\r"[..],
        b"\nHost: t\r",
        b"\nConnection: close\r\n\r",
        b"\n",
    ] {
        stream.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = read_reply(&mut BufReader::new(stream)).unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn endless_headers_are_cut_off() {
    let (s, _clock) = start(AuthConfig::default());
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 200 * 1024));
    head.extend_from_slice(b"\r\n\r\n");
    let received = send_while_reading(s.addr, &head, Vec::new());
    let answer = String::from_utf8_lossy(&received.bytes);
    assert!(
        !answer.contains("200 OK"),
        "an oversized head was served: {}",
        &answer[..answer.len().min(100)]
    );
    assert_eq!(call(s.addr, "GET", "/healthz", None, None).status, 200);
}

#[test]
fn a_full_database_refuses_writes_keeps_reads_and_recovers() {
    let path = temp_db("full");
    let (server, _clock) = start_with(ServerSetup {
        store: Some(Store::open(&path).unwrap()),
        ..ServerSetup::default()
    });
    let (addr, auth) = (server.addr, server.auth.clone());
    let tokens = user(addr, "alice");
    let access = tokens.text("access_token");
    let note = json!({"text": "n".repeat(4000)});
    assert_eq!(
        call(addr, "POST", "/notes", Some(&access), Some(&note)).status,
        201
    );

    // The disk fills up: writes are refused with 503 and a clear reason...
    auth.store().set_page_limit(Some(1)).unwrap();
    let refused = (0..50)
        .map(|_| call(addr, "POST", "/notes", Some(&access), Some(&note)))
        .find(|reply| reply.status != 201)
        .expect("a full database must refuse a write");
    assert_eq!(
        (refused.status, refused.error()),
        (503, "temporarily_unavailable")
    );
    assert!(refused.text("error_description").contains("full"), "{refused:?}");
    assert_eq!(refused.header("Retry-After"), Some("1"));
    // A small write may still fit in a page that has room; either way, a
    // refresh is answered 200 or 503, and a 503 rotates nothing.
    let mut refresh_token = tokens.text("refresh_token");
    let during = refresh(addr, &refresh_token, None);
    match during.status {
        200 => refresh_token = during.text("refresh_token"),
        503 => {}
        other => panic!("refresh on a full database: {other} {during:?}"),
    }
    // ...while reads go on.
    assert_eq!(call(addr, "GET", "/me", Some(&access), None).status, 200);
    assert_eq!(call(addr, "GET", "/notes", Some(&access), None).status, 200);
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);

    // Space comes back: the server recovers by itself, and the refresh token
    // that could not be rotated still works.
    auth.store().set_page_limit(None).unwrap();
    assert_eq!(
        call(addr, "POST", "/notes", Some(&access), Some(&note)).status,
        201
    );
    assert_eq!(refresh(addr, &refresh_token, None).status, 200);
    server.shutdown();
}

/// N keep-alive clients connect at once, each sends one request, and every
/// one must be answered within 2 s (see vendor/tiny_http/PATCHES.md).
fn burst(n: usize) {
    let (s, _clock) = start(AuthConfig::default());
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, addr) = (barrier.clone(), s.addr);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                barrier.wait();
                let started = Instant::now();
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                    .unwrap();
                let reply = read_reply(&mut BufReader::new(&stream));
                let elapsed = started.elapsed();
                // Keep the connection open (keep-alive) until everyone is done.
                barrier.wait();
                (reply.map(|r| r.status).ok(), elapsed)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let slow: Vec<_> = results
        .iter()
        .filter(|(status, elapsed)| *status != Some(200) || *elapsed > Duration::from_secs(2))
        .collect();
    assert!(
        slow.is_empty(),
        "{} of {n} clients were not answered in 2 s: {:?}",
        slow.len(),
        &slow[..slow.len().min(5)]
    );
}

#[test]
fn burst_of_keep_alive_clients_all_get_answers() {
    burst(64);
    burst(256);
}

/// A login from a device that names itself in `User-Agent`.
fn login_with_agent(addr: SocketAddr, agent: &str) -> Reply {
    let reply = call_with_headers(
        addr,
        "POST",
        "/auth/login",
        &[("User-Agent", agent)],
        Some(&json!({"username": "alice", "password": PASSWORD})),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
}

fn sessions(addr: SocketAddr, access: &str) -> Vec<Value> {
    let reply = call(addr, "GET", "/auth/sessions", Some(access), None);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    reply.body["sessions"].as_array().unwrap().clone()
}

#[test]
fn a_user_sees_their_sessions_and_ends_another_one() {
    let (s, clock) = start(AuthConfig::default());
    assert_eq!(register(s.addr, "alice").status, 201);
    let laptop = login_with_agent(s.addr, "Laptop/1.0");
    clock.time.advance(10);
    let long_agent = format!("Phone/2.0 {}", "x".repeat(1000));
    let phone = login_with_agent(s.addr, &long_agent);

    let listed = sessions(s.addr, &laptop.text("access_token"));
    assert_eq!(listed.len(), 2, "{listed:?}");
    // The most recently used first; `current` is the laptop's for its token.
    assert_eq!(listed[0]["user_agent"].as_str().unwrap().len(), 256);
    assert!(listed[0]["user_agent"].as_str().unwrap().starts_with("Phone/2.0"));
    assert_eq!(listed[1]["user_agent"], "Laptop/1.0");
    assert_eq!(
        (listed[0]["current"].clone(), listed[1]["current"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(listed[1]["created_at"], T0);
    assert_eq!(listed[1]["expires_at"], T0 + 14 * 24 * 3600);

    // A refresh moves the session's last use.
    clock.time.advance(5);
    let laptop = refresh(s.addr, &laptop.text("refresh_token"), None);
    let listed = sessions(s.addr, &laptop.text("access_token"));
    assert_eq!(listed[0]["user_agent"], "Laptop/1.0");
    assert_eq!(listed[0]["last_used_at"], T0 + 15);
    assert_eq!(listed[0]["current"], true);

    // The laptop ends the phone's session: the phone can no longer refresh.
    let phone_id = listed[1]["id"].as_str().unwrap().to_owned();
    let ended = call(
        s.addr,
        "DELETE",
        &format!("/auth/sessions/{phone_id}"),
        Some(&laptop.text("access_token")),
        None,
    );
    assert_eq!(ended.status, 204);
    assert_eq!(refresh(s.addr, &phone.text("refresh_token"), None).status, 401);
    assert_eq!(sessions(s.addr, &laptop.text("access_token")).len(), 1);

    // Another user's session, or none, is 404.
    let bob = user(s.addr, "bob");
    let laptop_id = listed[0]["id"].as_str().unwrap();
    let foreign = call(
        s.addr,
        "DELETE",
        &format!("/auth/sessions/{laptop_id}"),
        Some(&bob.text("access_token")),
        None,
    );
    assert_eq!((foreign.status, foreign.error()), (404, "not_found"));
    assert_eq!(refresh(s.addr, &laptop.text("refresh_token"), None).status, 200);
    let unknown = call(
        s.addr,
        "DELETE",
        "/auth/sessions/nope",
        Some(&bob.text("access_token")),
        None,
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        call(
            s.addr,
            "DELETE",
            "/auth/sessions/a.b",
            Some(&bob.text("access_token")),
            None
        )
        .status,
        404
    );
}

#[test]
fn changing_the_password_ends_the_other_sessions() {
    let (s, _clock) = start(AuthConfig::default());
    let laptop = user(s.addr, "alice");
    let phone = login(s.addr, "alice");
    let access = laptop.text("access_token");
    let change = |current: &str, new: &str| {
        call(
            s.addr,
            "POST",
            "/auth/password",
            Some(&access),
            Some(&json!({"current_password": current, "new_password": new})),
        )
    };
    let wrong = change("not my password", "a brand new password");
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_credentials"));
    assert_eq!(change(PASSWORD, "short").status, 400);
    assert_eq!(change(PASSWORD, "a brand new password").status, 204);

    assert_eq!(refresh(s.addr, &phone.text("refresh_token"), None).status, 401);
    assert_eq!(refresh(s.addr, &laptop.text("refresh_token"), None).status, 200);
    assert_eq!(login(s.addr, "alice").status, 401); // the old password
    let new = post(
        s.addr,
        "/auth/login",
        json!({"username": "alice", "password": "a brand new password"}),
    );
    assert_eq!(new.status, 200);
}

#[test]
fn a_wrong_current_password_counts_as_a_failed_login() {
    let (s, _clock) = start(AuthConfig::default());
    let alice = user(s.addr, "alice");
    for _ in 0..5 {
        let reply = call(
            s.addr,
            "POST",
            "/auth/password",
            Some(&alice.text("access_token")),
            Some(&json!({"current_password": "guess guess", "new_password": "whatever it is"})),
        );
        assert_eq!(reply.status, 401);
    }
    assert_eq!(login(s.addr, "alice").status, 429);
}

#[test]
fn deleting_the_account_refuses_its_tokens_at_once() {
    let (s, _clock) = start(AuthConfig::default());
    let alice = user(s.addr, "alice");
    let access = alice.text("access_token");
    assert_eq!(post_note(s.addr, &access, "private").status, 201);
    let delete = |password: &str| {
        call(
            s.addr,
            "DELETE",
            "/me",
            Some(&access),
            Some(&json!({ "password": password })),
        )
    };
    assert_eq!(delete("not my password").status, 401);
    assert_eq!(call(s.addr, "GET", "/me", Some(&access), None).status, 200);
    assert_eq!(delete(PASSWORD).status, 204);

    // The access token has not expired, and is refused everywhere all the same.
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/notes"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout-all"),
    ] {
        let reply = call(s.addr, method, path, Some(&access), None);
        assert_eq!(
            (reply.status, reply.error()),
            (401, "invalid_token"),
            "{method} {path}"
        );
    }
    assert_eq!(post_note(s.addr, &access, "again").status, 401);
    assert_eq!(refresh(s.addr, &alice.text("refresh_token"), None).status, 401);
    assert_eq!(login(s.addr, "alice").status, 401);
    // The name is free again, and the new alice sees none of the old notes.
    let again = user(s.addr, "alice");
    let notes = call(s.addr, "GET", "/notes", Some(&again.text("access_token")), None);
    assert_eq!(notes.body["notes"], json!([]));
}

/// SQLite gives a new user the highest id a deletion freed: the deleted
/// user's token must not then speak for the newcomer.
#[test]
fn a_deleted_users_token_does_not_work_for_whoever_gets_the_id_next() {
    let (s, clock) = start(AuthConfig::default());
    let mallory = user(s.addr, "mallory");
    let access = mallory.text("access_token");
    let deleted = call(
        s.addr,
        "DELETE",
        "/me",
        Some(&access),
        Some(&json!({"password": PASSWORD})),
    );
    assert_eq!(deleted.status, 204);
    clock.time.advance(1);
    let alice = user(s.addr, "alice");
    let me = call(s.addr, "GET", "/me", Some(&alice.text("access_token")), None);
    // PostgreSQL never gives an id twice (the suite runs on it too, see
    // `test_store`): there, what follows only shows the token refused.
    let reused = me.body["id"] == mallory_id(&access);
    assert!(
        reused || std::env::var(POSTGRES_VAR).is_ok(),
        "SQLite did not reuse the id; the test proves nothing"
    );
    assert_eq!(
        post_note(s.addr, &alice.text("access_token"), "alice's secret").status,
        201
    );
    for (method, path) in [("GET", "/me"), ("GET", "/notes"), ("GET", "/auth/sessions")] {
        let reply = call(s.addr, method, path, Some(&access), None);
        assert_eq!(reply.status, 401, "{method} {path}: {reply:?}");
    }
}

/// The `sub` of an access token, as a JSON number.
fn mallory_id(access: &str) -> Value {
    let payload = minijwt::base64url::decode(access.split('.').nth(1).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    json!(claims["sub"].as_str().unwrap().parse::<i64>().unwrap())
}
