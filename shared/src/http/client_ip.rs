//! Which address a request comes from, for rate limiting.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::Request};

use crate::config::TrustProxy;

/// The client's address: the TCP peer, or an `X-Forwarded-For` entry when proxies are trusted.
pub fn client_ip<B>(request: &Request<B>, trust: TrustProxy) -> String {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let forwarded = || {
        let header = request.headers().get("x-forwarded-for")?.to_str().ok()?;
        let hops: Vec<IpAddr> = header
            .split(',')
            .filter_map(|h| h.trim().parse().ok())
            .collect();
        match trust {
            TrustProxy::None => None,
            TrustProxy::All => hops.first().copied(),
            TrustProxy::Hops(n) => hops.len().checked_sub(n).map(|i| hops[i]),
        }
    };
    forwarded()
        .or(peer)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(xff: Option<&str>) -> Request<()> {
        let mut builder = Request::builder();
        if let Some(v) = xff {
            builder = builder.header("x-forwarded-for", v);
        }
        let mut req = builder.body(()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4000))));
        req
    }

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        assert_eq!(
            client_ip(&request(Some("1.2.3.4")), TrustProxy::None),
            "10.0.0.9"
        );
        assert_eq!(client_ip(&request(None), TrustProxy::All), "10.0.0.9");
    }

    #[test]
    fn trusted_hops_are_counted_from_the_right() {
        let req = request(Some("6.6.6.6, 1.2.3.4, 192.168.0.1"));
        assert_eq!(client_ip(&req, TrustProxy::All), "6.6.6.6");
        assert_eq!(client_ip(&req, TrustProxy::Hops(1)), "192.168.0.1");
        assert_eq!(client_ip(&req, TrustProxy::Hops(2)), "1.2.3.4");
        assert_eq!(client_ip(&req, TrustProxy::Hops(9)), "10.0.0.9");
    }
}
