//! The page at `/` and the refresh token in a cookie for browsers, over real
//! HTTP: security headers, the cookie's attributes, rotation and reuse
//! through the cookie, and the rule that keeps cross-site requests away
//! from it (the cookie is read only with `X-Refresh-Cookie: 1`, and bodies
//! must be JSON). The page itself is driven in Chromium by
//! tests/browser/e2e.mjs.

use std::net::SocketAddr;
use std::sync::Arc;

use minijwt::auth::ManualClock;
use minijwt::http::page::CONTENT_SECURITY_POLICY;
use serde_json::json;

mod common;
use common::*;

fn start() -> (TestServer, SocketAddr) {
    let server = ServerSetup {
        clock: Arc::new(ManualClock::new(1_800_000_000)),
        ..ServerSetup::default()
    }
    .start();
    let addr = server.addr;
    (server, addr)
}

const OPT_IN: (&str, &str) = ("X-Refresh-Cookie", "1");

/// The refresh token in a reply's `Set-Cookie`, checking every attribute.
fn cookie_of(reply: &Reply) -> String {
    let cookie = reply
        .header("Set-Cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {reply:?}"));
    let mut parts = cookie.split("; ");
    let token = parts
        .next()
        .and_then(|pair| pair.strip_prefix("__Host-minijwt_refresh="))
        .unwrap_or_else(|| panic!("{cookie}"));
    let attributes: Vec<&str> = parts.collect();
    assert_eq!(
        attributes,
        [
            "Path=/",
            "Max-Age=1209600",
            "HttpOnly",
            "Secure",
            "SameSite=Strict"
        ],
        "{cookie}"
    );
    assert_eq!(token.split('.').count(), 3, "{cookie}");
    token.to_owned()
}

fn assert_cleared(reply: &Reply) {
    let cookie = reply
        .header("Set-Cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {reply:?}"));
    assert!(
        cookie.starts_with("__Host-minijwt_refresh=; Path=/; Max-Age=0;"),
        "{cookie}"
    );
}

fn browser_login(addr: SocketAddr, username: &str) -> (String, String) {
    assert_eq!(register(addr, username).status, 201);
    let reply = call_with_headers(
        addr,
        "POST",
        "/auth/login",
        &[OPT_IN],
        Some(&json!({"username": username, "password": PASSWORD})),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.get("refresh_token").is_none(), "{reply:?}");
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    (reply.text("access_token"), cookie_of(&reply))
}

fn browser_refresh(addr: SocketAddr, cookie: &str, headers: &[(&str, &str)]) -> Reply {
    let cookie = format!("theme=dark; __Host-minijwt_refresh={cookie}");
    let mut all = vec![("Cookie", cookie.as_str())];
    all.extend_from_slice(headers);
    call_with_headers(addr, "POST", "/auth/refresh", &all, Some(&json!({})))
}

#[test]
fn the_page_is_served_with_strict_security_headers() {
    let (_server, addr) = start();
    for (path, media_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/verify.js", "text/javascript; charset=utf-8"),
        ("/flow.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/docs/how-jwt-works.md", "text/markdown; charset=utf-8"),
    ] {
        let response = call(addr, "GET", path, None, None);
        assert_eq!(response.status, 200, "{path}: {response:?}");
        for (name, value) in [
            ("Content-Type", media_type),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
        ] {
            assert_eq!(response.header(name), Some(value), "{path}: {name}");
        }
    }
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    let post = call(addr, "POST", "/", None, None);
    assert_eq!(post.status, 405, "{post:?}");
    assert_eq!(post.header("Allow"), Some("GET, HEAD"), "{post:?}");
}

#[test]
fn a_browser_gets_and_rotates_its_refresh_token_in_a_cookie() {
    let (_server, addr) = start();
    let (access, first) = browser_login(addr, "alice");
    assert_eq!(call(addr, "GET", "/me", Some(&access), None).status, 200);

    let rotated = browser_refresh(addr, &first, &[OPT_IN]);
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert!(rotated.body.get("refresh_token").is_none());
    let second = cookie_of(&rotated);
    assert_ne!(second, first);
    assert_eq!(
        call(addr, "GET", "/me", Some(&rotated.text("access_token")), None).status,
        200
    );

    // The old cookie again at once (the answer was lost, or another tab):
    // within the grace window, the same successor in the cookie.
    let retry = browser_refresh(addr, &first, &[OPT_IN]);
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(cookie_of(&retry), second);

    // Once the successor has been used, the old cookie (a stolen copy) is
    // reuse: the family is revoked, and the browser is told to forget it.
    let third = cookie_of(&browser_refresh(addr, &second, &[OPT_IN]));
    let replay = browser_refresh(addr, &first, &[OPT_IN]);
    assert_eq!((replay.status, replay.error()), (401, "invalid_grant"));
    assert_eq!(replay.text("error_description"), "refresh token reuse detected");
    assert_cleared(&replay);
    assert_eq!(browser_refresh(addr, &third, &[OPT_IN]).status, 401);
}

#[test]
fn the_cookie_is_never_read_without_the_opt_in_header() {
    let (_server, addr) = start();
    let (_, cookie) = browser_login(addr, "alice");
    // What a cross-site form or fetch without a preflight could send: the
    // cookie, but not the header. The cookie is ignored.
    let forged = browser_refresh(addr, &cookie, &[]);
    assert_eq!(
        (forged.status, forged.error()),
        (400, "invalid_request"),
        "{forged:?}"
    );
    assert!(forged.header("Set-Cookie").is_none());
    let wrong_value = browser_refresh(addr, &cookie, &[("X-Refresh-Cookie", "true")]);
    assert_eq!(wrong_value.status, 400);
    // A simple request's content types are refused before the cookie is looked at.
    let form = raw(
        addr,
        format!(
            "POST /auth/refresh HTTP/1.1\r\nHost: t\r\nX-Refresh-Cookie: 1\r\nCookie: __Host-minijwt_refresh={cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b"
        )
        .as_bytes(),
    );
    assert_eq!(form.status, 415);
    // Two cookies of that name (one planted by a sibling subdomain?): neither is used.
    let tossed = call_with_headers(
        addr,
        "POST",
        "/auth/refresh",
        &[
            OPT_IN,
            (
                "Cookie",
                &format!("__Host-minijwt_refresh=x.y.z; __Host-minijwt_refresh={cookie}"),
            ),
        ],
        Some(&json!({})),
    );
    assert_eq!(
        (tossed.status, tossed.error()),
        (400, "invalid_request"),
        "{tossed:?}"
    );
    // None of that used the token up.
    assert_eq!(browser_refresh(addr, &cookie, &[OPT_IN]).status, 200);
}

#[test]
fn only_a_dead_refresh_token_is_cleared() {
    let (_server, addr) = start();
    let (_, cookie) = browser_login(addr, "alice");
    // A bad access token beside a good cookie (another tab's, another
    // user's): refused, but the cookie is still good and stays.
    let cookie_header = format!("__Host-minijwt_refresh={cookie}");
    let foreign = call_with_headers(
        addr,
        "POST",
        "/auth/refresh",
        &[OPT_IN, ("Cookie", &cookie_header)],
        Some(&json!({"access_token": "x.y.z"})),
    );
    assert_eq!(
        (foreign.status, foreign.error()),
        (401, "invalid_grant"),
        "{foreign:?}"
    );
    assert!(foreign.header("Set-Cookie").is_none(), "{foreign:?}");
    assert_eq!(browser_refresh(addr, &cookie, &[OPT_IN]).status, 200);

    // Logging out with a cookie that can never work is refused, and clears it.
    let dead = call_with_headers(
        addr,
        "POST",
        "/auth/logout",
        &[OPT_IN, ("Cookie", "__Host-minijwt_refresh=x.y.z")],
        Some(&json!({})),
    );
    assert_eq!((dead.status, dead.error()), (401, "invalid_grant"), "{dead:?}");
    assert_cleared(&dead);
}

#[test]
fn logging_out_a_browser_revokes_and_clears_the_cookie() {
    let (_server, addr) = start();
    let (access, cookie) = browser_login(addr, "alice");
    let cookie_header = format!("__Host-minijwt_refresh={cookie}");
    let logout = call_with_headers(
        addr,
        "POST",
        "/auth/logout",
        &[OPT_IN, ("Cookie", &cookie_header)],
        Some(&json!({})),
    );
    assert_eq!(logout.status, 204, "{logout:?}");
    assert_cleared(&logout);
    let after = browser_refresh(addr, &cookie, &[OPT_IN]);
    assert_eq!(
        (after.status, after.text("error_description").as_str()),
        (401, "refresh token was revoked")
    );

    // No token in the body nor a cookie: nothing says what to revoke.
    let again = call_with_headers(addr, "POST", "/auth/logout", &[OPT_IN], Some(&json!({})));
    assert_eq!((again.status, again.error()), (400, "invalid_request"));
    assert_eq!(post(addr, "/auth/logout", json!({})).status, 400);

    // Logout everywhere clears the cookie of the browser that asked.
    let everywhere = call_with_headers(
        addr,
        "POST",
        "/auth/logout-all",
        &[OPT_IN, ("Authorization", &format!("Bearer {access}"))],
        None,
    );
    assert_eq!(everywhere.status, 204);
    assert_cleared(&everywhere);
}
