//! The teaching page at `/`: HTML, CSS and JavaScript embedded in the binary
//! (no build step, no CDN), and the tutorial it links to.
//!
//! Every page response carries a strict Content-Security-Policy: scripts and
//! styles only from this origin, no inline code, fetches only to this
//! origin, no framing. The page keeps the access token in memory and never
//! sees the refresh token (see [`super::browser`]).

use std::prelude::rust_2021::*;

use super::Response;

/// The policy every page response carries: nothing inline, nothing foreign.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Path, media type and content of every file served as it is.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "/verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/verify.js"),
    ),
    (
        "/flow.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/flow.js"),
    ),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_str!("../../web/favicon.svg"),
    ),
    (
        "/docs/how-jwt-works.md",
        "text/markdown; charset=utf-8",
        include_str!("../../docs/how-jwt-works.md"),
    ),
];

/// Whether `path` (without its query) is one of the page's files.
///
/// ```
/// assert!(minijwt::http::page::is_page("/app.js"));
/// assert!(!minijwt::http::page::is_page("/me"));
/// ```
pub fn is_page(path: &str) -> bool {
    FILES.iter().any(|(p, _, _)| *p == path)
}

/// The file at `path` with its security headers, or `None`; `GET` and
/// `HEAD` only (the caller answers other methods 405).
///
/// ```
/// let page = minijwt::http::page::serve("/").unwrap();
/// assert_eq!(page.status, 200);
/// assert_eq!(page.header("X-Frame-Options"), Some("DENY"));
/// assert!(page.header("Content-Security-Policy").unwrap().contains("script-src 'self'"));
/// ```
pub fn serve(path: &str) -> Option<Response> {
    let (_, media_type, content) = FILES.iter().find(|(p, _, _)| *p == path)?;
    Some(
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), (*media_type).into())],
            body: content.as_bytes().to_vec(),
        }
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("X-Frame-Options", "DENY")
        // The page changes with the binary; a stale copy would call an API
        // it does not match.
        .with_header("Cache-Control", "no-cache"),
    )
}
