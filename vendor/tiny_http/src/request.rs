//! A request as the handler gets it: the head, parsed and checked, and the
//! whole body, already read within the server's limits.

use std::fmt;
use std::net::SocketAddr;

use crate::{HTTPVersion, Header, Method};

/// One HTTP request. The transport has checked its framing and read its
/// body (at most `Limits::max_body` bytes) before the handler sees it, so
/// nothing here touches the socket.
pub struct Request {
    method: Method,
    url: String,
    http_version: HTTPVersion,
    headers: Vec<Header>,
    body: Vec<u8>,
    remote_addr: Option<SocketAddr>,
}

impl Request {
    pub(crate) fn new(
        method: Method,
        url: String,
        http_version: HTTPVersion,
        headers: Vec<Header>,
        body: Vec<u8>,
        remote_addr: Option<SocketAddr>,
    ) -> Request {
        Request {
            method,
            url,
            http_version,
            headers,
            body,
            remote_addr,
        }
    }

    /// The method (`GET`, `POST`, ...).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent: a path and maybe a query, usually.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The header fields, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// 1.0 or 1.1.
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// The body (empty without a `Content-Length`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken out of the request.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The client's address (`None` on a Unix socket).
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers and body may carry credentials: not shown.
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method, self.url, self.remote_addr
        )
    }
}
