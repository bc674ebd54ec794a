//! Refresh tokens for browsers: in a cookie JavaScript cannot read.
//!
//! An API client gets its refresh token in the JSON body and sends it back in
//! the body. A page in a browser should never hold it: any script injected
//! into the page could read it and send it away. So a request to
//! `/auth/login`, `/auth/refresh` or `/auth/logout` that carries
//! `X-Refresh-Cookie: 1` gets the refresh token in a cookie instead,
//! `HttpOnly` (invisible to JavaScript), `SameSite=Strict` (only from this
//! site), `Secure` (never over plain HTTP, loopback excepted by browsers:
//! served on another address, browser mode needs HTTPS in front, or the
//! browser drops the cookie), named with the `__Host-` prefix, which binds
//! it to `Path=/` and this host: no sibling subdomain can plant one.
//!
//! The cookie is read only from requests that carry that header too. A page
//! on another site can make a browser send the cookie with a simple form post
//! but cannot add a custom header without a CORS preflight, which this server
//! never grants, and every auth body must be `application/json` besides: a
//! forged cross-site request never reaches the cookie.

use std::prelude::rust_2021::*;

use super::Request;

/// The cookie's name.
///
/// ```
/// assert_eq!(minijwt::http::browser::COOKIE, "__Host-minijwt_refresh");
/// ```
pub const COOKIE: &str = "__Host-minijwt_refresh";

/// The request header that asks for (and allows) the cookie.
///
/// ```
/// assert_eq!(minijwt::http::browser::OPT_IN_HEADER, "X-Refresh-Cookie");
/// ```
pub const OPT_IN_HEADER: &str = "X-Refresh-Cookie";

/// Whether the request opts in to the cookie: `X-Refresh-Cookie: 1`.
///
/// ```
/// use minijwt::http::{browser, Request};
/// assert!(browser::wants_cookie(&Request::new("POST", "/auth/login").with_header("x-refresh-cookie", "1")));
/// assert!(!browser::wants_cookie(&Request::new("POST", "/auth/login")));
/// ```
pub fn wants_cookie(request: &Request) -> bool {
    request.header(OPT_IN_HEADER) == Some("1")
}

/// The refresh token in the request's `__Host-minijwt_refresh` cookie, if there is
/// exactly one. Two or more are refused: a browser sends every cookie whose
/// domain and path match, so another one may have been planted by a sibling
/// subdomain (cookie tossing), and which one is ours cannot be told.
///
/// ```
/// use minijwt::http::{browser, Request};
/// let request = Request::new("POST", "/auth/refresh").with_header("Cookie", "theme=dark; __Host-minijwt_refresh=abc.def.ghi");
/// assert_eq!(browser::cookie_token(&request), Some("abc.def.ghi"));
/// assert_eq!(browser::cookie_token(&Request::new("POST", "/auth/refresh")), None);
/// let tossed = Request::new("POST", "/auth/refresh").with_header("Cookie", "__Host-minijwt_refresh=a.b.c; __Host-minijwt_refresh=d.e.f");
/// assert_eq!(browser::cookie_token(&tossed), None);
/// ```
pub fn cookie_token(request: &Request) -> Option<&str> {
    let mut tokens = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Cookie"))
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => Some(token),
        _ => None,
    }
}

/// The `Set-Cookie` value that hands `token` to the browser for `max_age` seconds.
///
/// ```
/// let cookie = minijwt::http::browser::set_cookie("t.o.k", 60);
/// assert_eq!(cookie, "__Host-minijwt_refresh=t.o.k; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict");
/// ```
pub fn set_cookie(token: &str, max_age: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that makes the browser forget the cookie.
///
/// ```
/// assert!(minijwt::http::browser::clear_cookie().contains("Max-Age=0"));
/// ```
pub fn clear_cookie() -> String {
    set_cookie("", 0)
}
