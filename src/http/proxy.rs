//! The client's address behind reverse proxies that the operator trusts.
//!
//! A proxy in front of the server (TLS termination, a load balancer) makes
//! every connection come from the proxy's address, and says who the client
//! was in `X-Forwarded-For` or `Forwarded` (RFC 7239). Anyone can send those
//! headers, so they are read only when the connecting peer is inside one of
//! the `--trusted-proxy` ranges, and then only the one header the proxy
//! appends to (`--proxy-header`, X-Forwarded-For unless told otherwise): a
//! proxy passes the other one on as the client wrote it. The chain is read
//! from the right, past the trusted proxies; the first hop that is not one is
//! the client, and a hop that cannot be read there means the chain cannot be
//! trusted (the peer's address counts). Everything to the left is whatever
//! the client chose to send.

use std::prelude::rust_2021::*;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range such as `10.0.0.0/8`, `2001:db8::/32` or `127.0.0.1`
/// (a single address).
///
/// ```
/// use minijwt::http::proxy::Cidr;
/// let private: Cidr = "10.0.0.0/8".parse().unwrap();
/// assert!(private.contains("10.1.2.3".parse().unwrap()));
/// assert!(!private.contains("11.0.0.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<Cidr>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `address` is inside the range (an IPv4-mapped IPv6 address
    /// counts as its IPv4 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an address range like 10.0.0.0/8 or ::1");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.parse().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Which header the trusted proxies append the client's address to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl FromStr for ProxyHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            _ => Err(format!("{text:?} is neither x-forwarded-for nor forwarded")),
        }
    }
}

/// The reverse proxies whose forwarding header is believed.
///
/// ```
/// use std::net::IpAddr;
/// use minijwt::http::proxy::TrustedProxies;
/// let proxies = TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
/// let ip = |text: &str| text.parse::<IpAddr>().unwrap();
/// let headers = [
///     ("X-Forwarded-For".to_owned(), "6.6.6.6, 203.0.113.9".to_owned()),
///     ("Forwarded".to_owned(), "for=6.6.6.6".to_owned()), // passed on as the client wrote it
/// ];
/// // The rightmost address the trusted proxy added, not what the client claimed.
/// assert_eq!(proxies.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
/// // From anyone else, the headers count for nothing.
/// assert_eq!(proxies.client(ip("198.51.100.1"), &headers), ip("198.51.100.1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// Trusts these ranges (none: every forwarding header is ignored), which
    /// append to `X-Forwarded-For`.
    pub fn new(ranges: Vec<Cidr>) -> Self {
        TrustedProxies {
            ranges,
            header: ProxyHeader::XForwardedFor,
        }
    }

    /// The header the trusted proxies append to.
    #[must_use]
    pub fn with_header(mut self, header: ProxyHeader) -> Self {
        self.header = header;
        self
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then the rightmost hop of the proxies' header that is not itself a
    /// trusted proxy. A hop that cannot be read before that one, or a chain
    /// of trusted proxies only, leaves the peer's address.
    pub fn client(&self, peer: IpAddr, headers: &[(String, String)]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let name = match self.header {
            ProxyHeader::XForwardedFor => "X-Forwarded-For",
            ProxyHeader::Forwarded => "Forwarded",
        };
        let hops: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let address = match self.header {
                ProxyHeader::XForwardedFor => hop.trim().parse().ok().map(canonical),
                ProxyHeader::Forwarded => forwarded_for(hop),
            };
            match address {
                Some(address) if self.trusts(address) => continue,
                Some(address) => return address,
                None => return peer,
            }
        }
        peer
    }
}

/// The `for=` address of one element of a `Forwarded` header:
/// `for=192.0.2.60`, `for="[2001:db8::17]:4711"`, `for="192.0.2.1:80"`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })?;
    let host = match value.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => value
            .split(':')
            .next()
            .filter(|_| value.matches(':').count() <= 1)?,
    };
    host.parse().ok().map(canonical)
}

/// IPv4-mapped IPv6 addresses as IPv4, so that ranges of either form match.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        let chain = headers(&[("X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(p.client(ip("10.0.0.1"), &chain), ip("203.0.113.9"));
        // Several header lines form one list, in order.
        let split = headers(&[("X-Forwarded-For", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(p.client(ip("10.0.0.1"), &split), ip("203.0.113.9"));
    }

    #[test]
    fn only_the_proxies_header_is_read_and_forwarded_is_parsed_with_ports_and_brackets() {
        let xff = proxies(&["127.0.0.1", "::1"]);
        let both = headers(&[("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "198.51.100.1")]);
        // A Forwarded header the client wrote, passed on by an X-Forwarded-For proxy.
        assert_eq!(xff.client(ip("::1"), &both), ip("198.51.100.1"));
        let forwarded = xff.clone().with_header(ProxyHeader::Forwarded);
        let chain = headers(&[(
            "Forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(forwarded.client(ip("::1"), &chain), ip("2001:db8:cafe::17"));
        let v4_port = headers(&[("Forwarded", "for=\"192.0.2.43:47011\"")]);
        assert_eq!(forwarded.client(ip("127.0.0.1"), &v4_port), ip("192.0.2.43"));
        assert_eq!(forwarded.client(ip("127.0.0.1"), &both), ip("6.6.6.6"));
    }

    #[test]
    fn untrusted_peers_and_unreadable_chains_keep_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        let spoofed = headers(&[("X-Forwarded-For", "203.0.113.9")]);
        assert_eq!(p.client(ip("198.51.100.4"), &spoofed), ip("198.51.100.4"));
        // Garbage the client put to the left does not matter...
        let left = headers(&[("X-Forwarded-For", "garbage, 203.0.113.9")]);
        assert_eq!(p.client(ip("10.0.0.1"), &left), ip("203.0.113.9"));
        // ...where the proxy's own entry should be, it does.
        let garbage = headers(&[("X-Forwarded-For", "203.0.113.9, not-an-address")]);
        assert_eq!(p.client(ip("10.0.0.1"), &garbage), ip("10.0.0.1"));
        let only_proxies = headers(&[("X-Forwarded-For", "10.1.1.1")]);
        assert_eq!(p.client(ip("10.0.0.1"), &only_proxies), ip("10.0.0.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ranges_parse_and_match() {
        assert!("::ffff:10.0.0.1"
            .parse::<Cidr>()
            .unwrap()
            .contains(ip("10.0.0.1")));
        assert!("2001:db8::/32"
            .parse::<Cidr>()
            .unwrap()
            .contains(ip("2001:db8:1::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/", "10.0.0.0/x", "::/129", "example.com", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
