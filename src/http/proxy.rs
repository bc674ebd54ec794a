//! The client's address behind reverse proxies that the operator trusts.
//!
//! A proxy in front of the server (TLS termination, a load balancer) makes
//! every connection come from the proxy's address, and says who the client
//! was in `Forwarded` (RFC 7239) or `X-Forwarded-For`. Anyone can send those
//! headers, so they are read only when the connecting peer is inside one of
//! the `--trusted-proxy` ranges, and then the client is the rightmost address
//! in the chain that is not itself a trusted proxy: the leftmost entries are
//! whatever the client chose to send. Otherwise the headers are ignored.

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

/// The reverse proxies whose forwarding headers are believed.
///
/// ```
/// use std::net::IpAddr;
/// use minijwt::http::proxy::TrustedProxies;
/// let proxies = TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
/// let ip = |text: &str| text.parse::<IpAddr>().unwrap();
/// let headers = [("X-Forwarded-For".to_owned(), "6.6.6.6, 203.0.113.9".to_owned())];
/// // The rightmost address the trusted proxy added, not what the client claimed.
/// assert_eq!(proxies.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
/// // From anyone else, the headers count for nothing.
/// assert_eq!(proxies.client(ip("198.51.100.1"), &headers), ip("198.51.100.1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Trusts these ranges (none: every forwarding header is ignored).
    pub fn new(ranges: Vec<Cidr>) -> Self {
        TrustedProxies(ranges)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then the rightmost untrusted address of `Forwarded` (if sent) or else
    /// `X-Forwarded-For`. A chain that cannot be read, or that holds only
    /// trusted proxies, leaves the peer's address.
    pub fn client(&self, peer: IpAddr, headers: &[(String, String)]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.split(','))
                .collect()
        };
        let forwarded = chain("Forwarded");
        let hops: Option<Vec<IpAddr>> = match forwarded.is_empty() {
            false => forwarded.iter().map(|element| forwarded_for(element)).collect(),
            true => chain("X-Forwarded-For")
                .iter()
                .map(|hop| hop.trim().parse().ok().map(canonical))
                .collect(),
        };
        hops.unwrap_or_default()
            .into_iter()
            .rev()
            .find(|hop| !self.trusts(*hop))
            .unwrap_or(peer)
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
    fn forwarded_wins_and_is_parsed_with_ports_and_brackets() {
        let p = proxies(&["127.0.0.1", "::1"]);
        let both = headers(&[
            (
                "Forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("X-Forwarded-For", "198.51.100.1"),
        ]);
        assert_eq!(p.client(ip("::1"), &both), ip("2001:db8:cafe::17"));
        let v4_port = headers(&[("Forwarded", "for=\"192.0.2.43:47011\"")]);
        assert_eq!(p.client(ip("127.0.0.1"), &v4_port), ip("192.0.2.43"));
    }

    #[test]
    fn untrusted_peers_and_unreadable_chains_keep_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        let spoofed = headers(&[("X-Forwarded-For", "203.0.113.9")]);
        assert_eq!(p.client(ip("198.51.100.4"), &spoofed), ip("198.51.100.4"));
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
