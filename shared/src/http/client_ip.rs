//! Which client a request comes from, for rate limiting: its key is an IPv4 address, or an IPv6
//! client's /64 (one subscriber's network: a client holding a /64 could otherwise take a fresh
//! address, and a fresh limit, for every request).

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::Request};

use crate::config::TrustProxy;

/// The client's rate-limit key: from the TCP peer, or from an `X-Forwarded-For` hop when
/// proxies are trusted.
pub fn client_ip<B>(request: &Request<B>, trust: TrustProxy) -> String {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    forwarded_client(request, trust)
        .or(peer)
        .map_or_else(|| "unknown".to_owned(), bucket)
}

/// The hop the trusted proxies vouch for. Every `X-Forwarded-For` line counts, in order (a proxy
/// may add a line rather than extend the last), and every entry counts as a hop, parsable or
/// not, so that a client cannot shift the count; an unparsable hop vouches for no one.
fn forwarded_client<B>(request: &Request<B>, trust: TrustProxy) -> Option<IpAddr> {
    if trust == TrustProxy::None {
        return None;
    }
    let hops: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| line.to_str().unwrap_or("?").split(','))
        .map(str::trim)
        .collect();
    let hop = match trust {
        TrustProxy::None => None,
        TrustProxy::All => hops.first(),
        // The last `n` entries were added by the trusted proxies; the one before them is the client.
        TrustProxy::Hops(n) => hops.len().checked_sub(n).and_then(|i| hops.get(i)),
    }?;
    hop.parse().ok()
}

fn bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(lines: &[&str]) -> Request<()> {
        let mut builder = Request::builder();
        for line in lines {
            builder = builder.header("x-forwarded-for", *line);
        }
        let mut req = builder.body(()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000))));
        req
    }

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        assert_eq!(
            client_ip(&request(&["1.2.3.4"]), TrustProxy::None),
            "10.0.0.9"
        );
        assert_eq!(client_ip(&request(&[]), TrustProxy::All), "10.0.0.9");
    }

    #[test]
    fn trusted_hops_are_counted_from_the_right() {
        let req = request(&["6.6.6.6, 1.2.3.4, 192.168.0.1"]);
        assert_eq!(client_ip(&req, TrustProxy::All), "6.6.6.6");
        assert_eq!(client_ip(&req, TrustProxy::Hops(1)), "192.168.0.1");
        assert_eq!(client_ip(&req, TrustProxy::Hops(2)), "1.2.3.4");
        assert_eq!(client_ip(&req, TrustProxy::Hops(9)), "10.0.0.9");
    }

    #[test]
    fn every_header_line_and_every_entry_counts_as_a_hop() {
        // The client wrote the first line; the trusted proxy added its own.
        let req = request(&["6.6.6.6", "203.0.113.7"]);
        assert_eq!(client_ip(&req, TrustProxy::Hops(1)), "203.0.113.7");
        // Junk before the client's address cannot move the count.
        let req = request(&["junk, not-an-ip, 203.0.113.7"]);
        assert_eq!(client_ip(&req, TrustProxy::Hops(1)), "203.0.113.7");
        // An unparsable hop where the client should be vouches for no one: the peer counts.
        let req = request(&["203.0.113.7, not-an-ip"]);
        assert_eq!(client_ip(&req, TrustProxy::Hops(1)), "10.0.0.9");
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let one = request(&["2001:db8:1:2::1"]);
        let other = request(&["2001:db8:1:2:ffff:1:2:3"]);
        let elsewhere = request(&["2001:db8:1:3::1"]);
        let key = |r| client_ip(r, TrustProxy::Hops(1));
        assert_eq!(key(&one), "2001:db8:1:2::/64");
        assert_eq!(key(&one), key(&other));
        assert_ne!(key(&one), key(&elsewhere));
        assert_eq!(key(&request(&["::ffff:198.51.100.4"])), "198.51.100.4");
    }
}
