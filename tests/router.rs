//! The router in this process, without sockets: `router::handle` answers a
//! constructed `Request` (through the common client, whose `&Auth` target
//! calls it directly). For what does not need the transport: routes, status
//! codes, the JSON error body, 404 and 405 with `Allow`, the `Authorization`
//! header. Framing, limits and timeouts are the transport's, tested over TCP
//! in server_http.rs, connections.rs and transport.rs.

use minijwt::auth::AuthConfig;
use minijwt::http::router::ROUTES;
use minijwt::http::Request;
use serde_json::json;

mod common;
use common::*;

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A path of `route` that exists: `{id}` as an id one could have.
fn concrete(route: &str) -> String {
    let id = if route.starts_with("/notes/") { "1" } else { "abc" };
    route.replace("{id}", id)
}

/// Every method of every route in `ROUTES` reaches a handler (neither 405
/// nor the 404 of a path that does not exist), and every other method is a
/// 405 that names the route's methods in `Allow`.
#[test]
fn every_route_answers_its_methods_and_only_those() {
    let auth = in_process();
    let mut answered = 0;
    for route in ROUTES {
        let path = concrete(route.path);
        for method in METHODS {
            let reply = call(&auth, method, &path, None, Some(&json!({})));
            if route.methods.contains(&method) {
                assert_ne!(reply.status, 405, "{method} {path}: {reply:?}");
                assert!(
                    !(reply.status == 404 && reply.text("error_description") == "no such path"),
                    "{method} {path}: {reply:?}"
                );
                answered += 1;
            } else {
                assert_error_body(&reply, 405, "method_not_allowed");
                assert_eq!(reply.header("Allow"), Some(route.methods.join(", ").as_str()));
            }
        }
    }
    assert_eq!(answered, 16, "the API has 16 operations");
}

#[test]
fn paths_that_do_not_exist_are_404() {
    let auth = in_process();
    let access = user(&auth, "alice").text("access_token");
    for path in [
        "/nope",
        "/me/",
        "/notes/abc",
        "/notes/007",
        "/notes/+7",
        "/notes/0",
        "/notes/-1",
        "/auth/sessions/",
        "/auth/sessions/a.b",
        "/auth",
    ] {
        let reply = call(&auth, "GET", path, Some(&access), None);
        assert_error_body(&reply, 404, "not_found");
        assert_eq!(reply.text("error_description"), "no such path", "{path}");
    }
    // A query does not change the route.
    assert_eq!(call(&auth, "GET", "/healthz?x=1", None, None).status, 200);
}

#[test]
fn the_page_answers_get_and_head_only() {
    let auth = in_process();
    for method in ["GET", "HEAD"] {
        assert_eq!(call(&auth, method, "/", None, None).status, 200, "{method}");
    }
    let post = call(&auth, "POST", "/", None, None);
    assert_error_body(&post, 405, "method_not_allowed");
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn healthz_answers() {
    let auth = in_process();
    let reply = call(&auth, "GET", "/healthz", None, None);
    assert_eq!((reply.status, reply.body.clone()), (200, json!({"status": "ok"})));
}

/// A request with `content_type` and a body of exactly `body`.
fn with_body(method: &str, path: &str, content_type: &str, body: &[u8]) -> Request {
    let mut request = Request::new(method, path).with_header("Content-Type", content_type);
    request.body = body.to_vec();
    request
}

#[test]
fn bad_input_gets_precise_errors() {
    let auth = in_process();
    let a = &auth;
    let access = user(a, "alice").text("access_token");

    let reply = a.send(&with_body("POST", "/auth/login", "application/json", b"{nope"));
    assert_error_body(&reply, 400, "invalid_request");
    assert!(reply.text("error_description").contains("not valid JSON"));

    let reply = post(a, "/auth/login", json!({"username": 5, "password": "x"}));
    assert_error_body(&reply, 400, "invalid_request");
    assert!(reply
        .text("error_description")
        .contains("`username` must be a string"));
    let reply = post(a, "/auth/login", json!({"password": "x"}));
    assert!(reply.text("error_description").contains("`username` is required"));
    let reply = post(a, "/auth/login", json!([1]));
    assert_error_body(&reply, 400, "invalid_request");

    let reply = a.send(&with_body("POST", "/auth/login", "text/plain", b"{}"));
    assert_error_body(&reply, 415, "unsupported_media_type");

    let reply = call(a, "PUT", "/notes", Some(&access), None);
    assert_error_body(&reply, 405, "method_not_allowed");
    assert_eq!(reply.header("Allow"), Some("GET, POST"));
    assert_eq!(call(a, "GET", "/nope", None, None).status, 404);
    assert_eq!(call(a, "GET", "/notes/abc", Some(&access), None).status, 404);
    assert_eq!(call(a, "GET", "/notes/007", Some(&access), None).status, 404);
}

/// Authorization problems are 401 with a challenge (RFC 6750 §3).
#[test]
fn authorization_problems_are_401_with_a_challenge() {
    let auth = in_process();
    let a = &auth;
    let access = user(a, "alice").text("access_token");

    let reply = call(a, "GET", "/me", None, None);
    assert_error_body(&reply, 401, "invalid_token");
    assert_eq!(reply.header("WWW-Authenticate"), Some("Bearer realm=\"minijwt\""));
    for authorization in [
        format!("Basic {access}"),
        "Bearer".to_owned(),
        "Bearer   ".to_owned(),
        access.clone(),
    ] {
        let reply = call_with_headers(a, "GET", "/me", &[("Authorization", &authorization)], None);
        assert_error_body(&reply, 401, "invalid_token");
        assert!(
            reply
                .header("WWW-Authenticate")
                .unwrap()
                .contains("error=\"invalid_token\""),
            "{authorization}: {reply:?}"
        );
    }
    let long = "a".repeat(9000);
    let reply = call(a, "GET", "/me", Some(&long), None);
    assert_error_body(&reply, 401, "invalid_token");
    assert!(reply.text("error_description").contains("too long"));
    // The scheme is case-insensitive, and the token is what it says.
    let lower = format!("bearer {access}");
    let reply = call_with_headers(a, "GET", "/me", &[("Authorization", &lower)], None);
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = call(a, "GET", "/me", Some(&format!("{access}x")), None);
    assert_error_body(&reply, 401, "invalid_token");
}

#[test]
fn registration_rules() {
    let auth = in_process();
    assert_eq!(register(&auth, "alice").status, 201);
    let taken = register(&auth, "ALICE");
    assert_eq!((taken.status, taken.error()), (409, "username_taken"));
    for bad in ["al", "a".repeat(33).as_str(), "al ice", "álice"] {
        let reply = register(&auth, bad);
        assert_eq!((reply.status, reply.error()), (400, "invalid_request"), "{bad}");
        assert!(reply.text("error_description").contains("username"));
    }
    let short = post(
        &auth,
        "/auth/register",
        json!({"username": "bob", "password": "short"}),
    );
    assert_eq!(short.status, 400);
    assert!(short.text("error_description").contains("password"));

    let closed = ServerSetup {
        config: AuthConfig {
            allow_register: false,
            ..AuthConfig::default()
        },
        ..ServerSetup::default()
    }
    .auth();
    assert_error_body(&register(&closed, "carol"), 404, "not_found");
}

#[test]
fn wrong_username_and_wrong_password_look_the_same() {
    let auth = in_process();
    user(&auth, "alice");
    let wrong_password = post(
        &auth,
        "/auth/login",
        json!({"username": "alice", "password": "nope nope"}),
    );
    let no_user = post(
        &auth,
        "/auth/login",
        json!({"username": "mallory", "password": "nope nope"}),
    );
    assert_eq!(wrong_password.status, 401);
    assert_eq!(wrong_password.body, no_user.body);
    // Byte for byte too (`body` is `Null` unless the reply is declared JSON).
    assert_eq!(wrong_password.bytes, no_user.bytes);
    assert_eq!(wrong_password.error(), "invalid_credentials");
}
