//! Operations: `/readyz` beside `/healthz`, and `/metrics` on a listener of
//! its own (`Options::metrics_addr`), never on the public one.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use minijwt::auth::{AuthConfig, ThrottleLimits};
use minijwt::http::server::Options;
use minijwt::store::Store;
use rusqlite::Connection;
use serde_json::json;

mod common;
use common::*;

/// A server whose metrics listen on a free port of 127.0.0.1.
fn with_metrics(config: AuthConfig) -> TestServer {
    ServerSetup {
        config,
        options: Options {
            metrics_addr: Some("127.0.0.1:0".into()),
            ..Options::default()
        },
        ..ServerSetup::default()
    }
    .start()
}

/// How much each sample grew from `before` to `after` (samples new in `after` count from 0).
fn growth(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

#[test]
fn readyz_answers_200_while_the_database_answers_and_503_when_it_does_not() {
    let path = std::env::temp_dir().join(format!("minijwt-ops-{}-readyz.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let server = ServerSetup {
        store: Some(Store::open(&path).unwrap()),
        ..ServerSetup::default()
    }
    .start();
    let ready = call(server.addr, "GET", "/readyz", None, None);
    assert_eq!((ready.status, &ready.body), (200, &json!({"status": "ready"})));
    assert_eq!(ready.header("Content-Type"), Some("application/json"));

    // The operator takes the table the check reads away: the database no
    // longer answers it.
    let operator = Connection::open(&path).unwrap();
    operator.busy_timeout(Duration::from_secs(5)).unwrap();
    operator
        .execute_batch("ALTER TABLE users RENAME TO users_away")
        .unwrap();
    let started = Instant::now();
    let not_ready = call(server.addr, "GET", "/readyz", None, None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (not_ready.status, not_ready.error()),
        (503, "temporarily_unavailable"),
        "{not_ready:?}"
    );
    assert_eq!(not_ready.header("Retry-After"), Some("1"));
    // Nothing of SQLite's message reaches the client.
    assert_eq!(
        not_ready.text("error_description"),
        "the database does not answer"
    );
    // /healthz is the process, which lives.
    assert_eq!(call(server.addr, "GET", "/healthz", None, None).status, 200);
    assert!(server.auth.store().errors() >= 1);

    operator
        .execute_batch("ALTER TABLE users_away RENAME TO users")
        .unwrap();
    assert_eq!(call(server.addr, "GET", "/readyz", None, None).status, 200);
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(PathBuf::from(format!("{}{suffix}", path.display())));
    }
}

#[test]
fn metrics_are_not_served_on_the_public_listener() {
    // With the metrics listener on, and without it (the default: off).
    for server in [with_metrics(AuthConfig::default()), start_default_server()] {
        let reply = call(server.addr, "GET", "/metrics", None, None);
        assert_eq!((reply.status, reply.error()), (404, "not_found"), "{reply:?}");
    }
    assert_eq!(start_default_server().metrics, None);
}

#[test]
fn the_metrics_listener_serves_get_metrics_only() {
    let server = with_metrics(AuthConfig::default());
    let metrics = server.metrics.unwrap();
    assert_ne!(metrics.port(), server.addr.port());
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/metrics/x"),
        ("POST", "/metrics"),
    ] {
        assert_eq!(
            call(metrics, method, path, None, None).status,
            404,
            "{method} {path}"
        );
    }
    // A body is refused unread.
    let reply = call(metrics, "POST", "/metrics", None, Some(&json!({"a": 1})));
    assert_eq!(reply.status, 413, "{reply:?}");
    // None of these were requests to the public listener.
    let samples = scrape(metrics);
    assert_eq!(samples["minijwt_http_request_duration_seconds_count"], 0.0);
}

#[test]
fn counters_move_by_exactly_what_happened() {
    let config = AuthConfig {
        throttle: ThrottleLimits {
            per_user_address: 2,
            ..ThrottleLimits::default()
        },
        ..AuthConfig::default()
    };
    let server = with_metrics(config);
    let (addr, metrics) = (server.addr, server.metrics.unwrap());
    let before = scrape(metrics);

    assert_eq!(register(addr, "alice").status, 201);
    let tokens = login(addr, "alice").body;
    let wrong = post(
        addr,
        "/auth/login",
        json!({"username": "alice", "password": "wrong horse"}),
    );
    assert_eq!(wrong.status, 401);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let rotated = refresh(addr, refresh_token, None);
    assert_eq!(rotated.status, 200);
    // The same token again, its successor unused: a retry within the grace.
    assert_eq!(refresh(addr, refresh_token, None).status, 200);
    // The successor used, then the first token again: reuse.
    assert_eq!(refresh(addr, &rotated.text("refresh_token"), None).status, 200);
    assert_eq!(refresh(addr, refresh_token, None).status, 401);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(call(addr, "GET", "/notes/12345", Some(access), None).status, 404);
    assert_eq!(call(addr, "GET", "/no/such/path/12345", None, None).status, 404);
    // The second failure reaches the limit of 2; the third attempt is throttled.
    let _ = post(
        addr,
        "/auth/login",
        json!({"username": "alice", "password": "wrong horse"}),
    );
    let throttled = post(
        addr,
        "/auth/login",
        json!({"username": "alice", "password": "wrong horse"}),
    );
    assert_eq!(throttled.status, 429, "{throttled:?}");

    let after = scrape(metrics);
    let expected: BTreeMap<String, f64> = [
        (
            r#"minijwt_http_requests_total{route="/auth/register",status="2xx"}"#,
            1.0,
        ),
        (
            r#"minijwt_http_requests_total{route="/auth/login",status="2xx"}"#,
            1.0,
        ),
        (
            r#"minijwt_http_requests_total{route="/auth/login",status="4xx"}"#,
            3.0,
        ),
        (
            r#"minijwt_http_requests_total{route="/auth/refresh",status="2xx"}"#,
            3.0,
        ),
        (
            r#"minijwt_http_requests_total{route="/auth/refresh",status="4xx"}"#,
            1.0,
        ),
        (
            r#"minijwt_http_requests_total{route="/notes/{id}",status="4xx"}"#,
            1.0,
        ),
        (
            r#"minijwt_http_requests_total{route="(unknown)",status="4xx"}"#,
            1.0,
        ),
        (r#"minijwt_logins_total{outcome="ok"}"#, 1.0),
        (r#"minijwt_logins_total{outcome="failed"}"#, 2.0),
        (r#"minijwt_logins_total{outcome="throttled"}"#, 1.0),
        (r#"minijwt_refreshes_total{outcome="ok"}"#, 2.0),
        (r#"minijwt_refreshes_total{outcome="grace"}"#, 1.0),
        (r#"minijwt_refreshes_total{outcome="reuse"}"#, 1.0),
        ("minijwt_http_request_duration_seconds_count", 11.0),
        (r#"minijwt_http_request_duration_seconds_bucket{le="+Inf"}"#, 11.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut grew = growth(&before, &after);
    // The latency's sum and the buckets below +Inf depend on the machine;
    // gauges (open connections, the login queue) on when a connection the
    // test just finished with is closed: only counters are compared here.
    grew.retain(|k, _| {
        let sum = k.starts_with("minijwt_http_request_duration_seconds_sum");
        let finite_bucket =
            k.starts_with("minijwt_http_request_duration_seconds_bucket") && !k.contains("+Inf");
        let gauge = [
            "minijwt_open_connections",
            "minijwt_login_queue_depth",
            "minijwt_password_hashes_running",
        ]
        .iter()
        .any(|name| k.starts_with(name));
        !sum && !finite_bucket && !gauge
    });
    assert_eq!(grew, expected);

    // The histogram: buckets cumulative, in order, +Inf = _count = the requests counted.
    let buckets: Vec<(String, f64)> = after
        .iter()
        .filter(|(k, _)| k.starts_with("minijwt_http_request_duration_seconds_bucket"))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(buckets.len(), 15);
    let mut by_bound: Vec<(f64, f64)> = buckets
        .iter()
        .map(|(k, v)| {
            let bound = k.split("le=\"").nth(1).unwrap().trim_end_matches("\"}");
            (
                if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().unwrap()
                },
                *v,
            )
        })
        .collect();
    by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(by_bound.windows(2).all(|w| w[0].1 <= w[1].1), "{by_bound:?}");
    let count = after["minijwt_http_request_duration_seconds_count"];
    assert_eq!(by_bound.last().unwrap().1, count);
    let requests: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with("minijwt_http_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(requests, count);
    assert!(after["minijwt_http_request_duration_seconds_sum"] > 0.0);
    // Labels are route templates: no raw path is ever one.
    assert!(!after.keys().any(|k| k.contains("12345")));
    assert_eq!(after["minijwt_login_queue_depth"], 0.0);
    assert_eq!(after["minijwt_database_errors_total"], 0.0);
}

#[test]
fn open_connections_are_counted() {
    let server = with_metrics(AuthConfig::default());
    let metrics = server.metrics.unwrap();
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    let open = loop {
        let open = scrape(metrics)["minijwt_open_connections"];
        if open >= 3.0 || Instant::now() > deadline {
            break open;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(open, 3.0);
    drop(held);
}
