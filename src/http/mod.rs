//! The HTTP layer: translates requests into calls of [`Auth`](crate::auth::Auth)
//! and its results into responses. No auth rule lives here.
//!
//! [`router::handle`] works on a plain [`Request`] value, so it can be tested
//! and fuzzed without sockets; [`server`] feeds it from `tiny_http`.

use std::prelude::rust_2021::*;

pub mod browser;
pub mod metrics;
pub mod page;
pub mod proxy;
pub mod router;
pub mod server;

use serde::Serialize;

/// Largest request body read, in bytes; larger ones get 413.
///
/// ```
/// assert_eq!(minijwt::http::MAX_BODY, 65_536);
/// ```
pub const MAX_BODY: usize = 64 * 1024;

/// Longest `Authorization` header accepted, in bytes.
///
/// ```
/// assert_eq!(minijwt::http::MAX_AUTHORIZATION, 8192);
/// ```
pub const MAX_AUTHORIZATION: usize = 8 * 1024;

/// An HTTP request as the router sees it.
///
/// ```
/// use minijwt::http::Request;
/// let request = Request::new("GET", "/healthz");
/// assert_eq!(request.header("content-type"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target: path and, possibly, a query.
    pub path: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
    /// The client's address, when known (for login throttling).
    pub client: Option<std::net::IpAddr>,
}

impl Request {
    /// A request without headers or body.
    ///
    /// ```
    /// let r = minijwt::http::Request::new("POST", "/auth/login");
    /// assert_eq!(r.method, "POST");
    /// ```
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            ..Request::default()
        }
    }

    /// Adds a header.
    ///
    /// ```
    /// let r = minijwt::http::Request::new("GET", "/me").with_header("Authorization", "Bearer x");
    /// assert_eq!(r.header("authorization"), Some("Bearer x"));
    /// ```
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body and its `Content-Type`.
    ///
    /// ```
    /// let r = minijwt::http::Request::new("POST", "/notes").with_json(&serde_json::json!({"text": "hi"}));
    /// assert_eq!(r.body, br#"{"text":"hi"}"#);
    /// ```
    #[must_use]
    pub fn with_json(self, body: &serde_json::Value) -> Self {
        let mut request = self.with_header("Content-Type", "application/json");
        request.body = body.to_string().into_bytes();
        request
    }

    /// The first header named `name` (without regard to case).
    ///
    /// ```
    /// let r = minijwt::http::Request::new("GET", "/").with_header("X-A", "1");
    /// assert_eq!(r.header("x-a"), Some("1"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
///
/// ```
/// let r = minijwt::http::Response::error(404, "not_found", "no such path");
/// assert_eq!(r.status, 404);
/// assert_eq!(r.body, br#"{"error":"not_found","error_description":"no such path"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    ///
    /// ```
    /// let r = minijwt::http::Response::json(200, &serde_json::json!({"status": "ok"}));
    /// assert_eq!(r.header("content-type"), Some("application/json"));
    /// ```
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
        }
    }

    /// The error body every failure uses: `{"error": code, "error_description": text}`.
    ///
    /// ```
    /// let r = minijwt::http::Response::error(400, "invalid_request", "bad");
    /// assert_eq!(r.status, 400);
    /// ```
    pub fn error(status: u16, code: &str, description: &str) -> Self {
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        Response::json(
            status,
            &ErrorBody {
                error: code,
                error_description: description,
            },
        )
    }

    /// A response without a body (`204 No Content`).
    ///
    /// ```
    /// assert!(minijwt::http::Response::empty(204).body.is_empty());
    /// ```
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    ///
    /// ```
    /// let r = minijwt::http::Response::empty(204).with_header("Cache-Control", "no-store");
    /// assert_eq!(r.header("cache-control"), Some("no-store"));
    /// ```
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first header named `name` (without regard to case).
    ///
    /// ```
    /// assert_eq!(minijwt::http::Response::empty(204).header("x"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
