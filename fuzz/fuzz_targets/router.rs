//! The HTTP router on arbitrary requests, without sockets, against an
//! in-memory store: no panic, and no 5xx (there are no injected faults here,
//! so a 5xx is a bug).
//!
//! The input picks a method, a path, a `Content-Type`, an `Authorization`
//! (none, a genuine access or refresh token, or bytes from the input) and a
//! browser's refresh cookie with or without its opt-in header, and the rest
//! is the body. A user is registered and logged in once, so the fuzzer
//! can reach the authenticated paths with tokens that verify.

#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use minijwt::auth::{Auth, AuthConfig, ManualClock};
use minijwt::http::{router, Request};
use minijwt::store::Store;
use minijwt::Hs256Key;

const NOW: i64 = 1_800_000_000;

struct World {
    auth: Auth,
    access: String,
    refresh: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let key = Hs256Key::new(b"router-fuzz-key-0123456789abcdefgh").expect("a long key");
    let clock = Arc::new(ManualClock::new(NOW));
    let auth = Auth::new(
        Store::open_in_memory().expect("memory store"),
        key,
        AuthConfig::default(),
        clock,
    )
    .expect("auth");
    auth.register("fuzzer", "fuzzer-password").expect("register");
    let tokens = auth.login("fuzzer", "fuzzer-password", None).expect("login");
    World {
        auth,
        access: tokens.access_token,
        refresh: tokens.refresh_token,
    }
});

const METHODS: &[&str] = &["GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "OPTIONS"];
const PATHS: &[&str] = &[
    "/auth/register",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/auth/logout-all",
    "/me",
    "/notes",
    "/notes/1",
    "/healthz",
    "/",
    "/app.js",
];
const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    let [method, path, content_type, authorization, rest @ ..] = data else {
        return;
    };
    // The rest: an optional free-form part (path suffix or bearer bytes),
    // then the body, split at the first 0xFF.
    let (free, body) = match rest.iter().position(|&b| b == 0xFF) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let free = String::from_utf8_lossy(free);

    let mut request = Request::new(METHODS[*method as usize % METHODS.len()], "");
    request.path = match *path as usize % (PATHS.len() + 2) {
        i if i < PATHS.len() => PATHS[i].to_owned(),
        i if i == PATHS.len() => format!("/notes/{free}"),
        _ => free.clone().into_owned(),
    };
    if let Some(content_type) = CONTENT_TYPES[*content_type as usize % CONTENT_TYPES.len()] {
        request = request.with_header("Content-Type", content_type);
    }
    let bearer = match authorization % 5 {
        0 => None,
        1 => Some(format!("Bearer {}", world.access)),
        2 => Some(format!("Bearer {}", world.refresh)),
        3 => Some(format!("Bearer {free}")),
        _ => Some(free.clone().into_owned()),
    };
    if let Some(bearer) = bearer {
        request = request.with_header("Authorization", &bearer);
    }
    // Browser mode: the opt-in header and the refresh cookie, apart or together.
    let cookie = match authorization / 5 % 4 {
        0 => None,
        1 => Some((true, format!("{}={}", minijwt::http::browser::COOKIE, world.refresh))),
        2 => Some((true, format!("{}={free}", minijwt::http::browser::COOKIE))),
        _ => Some((false, format!("{}={}", minijwt::http::browser::COOKIE, world.refresh))),
    };
    if let Some((opt_in, cookie)) = cookie {
        if opt_in {
            request = request.with_header("X-Refresh-Cookie", "1");
        }
        request = request.with_header("Cookie", &cookie);
    }
    // Tokens the fuzzer can splice into JSON bodies.
    request.body = String::from_utf8_lossy(body)
        .replace("$ACCESS", &world.access)
        .replace("$REFRESH", &world.refresh)
        .into_bytes();

    let response = router::handle(&world.auth, &request);
    assert!(response.status < 500, "{} for {request:?}", response.status);
    assert!((200..600).contains(&response.status));
    if response.status >= 400 {
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("error bodies are JSON");
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{body}"
        );
    }
});
