//! Where webhooks may be sent: the guard against server-side request forgery.
//!
//! A webhook URL is the app's choice, and the platform POSTs to it from inside the bank's
//! network, so outside the sandbox and dev a URL must be `https` and every address its host
//! resolves to must be public: loopback, private (RFC 1918, IPv6 unique local), carrier-grade
//! NAT, link-local (which holds cloud metadata services such as `169.254.169.254`), multicast,
//! broadcast, unspecified and documentation ranges are refused — IPv4-mapped IPv6 addresses as
//! their IPv4 selves. The check runs when an endpoint is registered or changed, and again
//! before every delivery, after DNS resolution, so a name that later resolves to a private
//! address is refused too; the delivery then connects to the addresses checked here, never to
//! a second lookup's.
//!
//! The sandbox does not apply this rule (see `validate`): developers receive webhooks on
//! `http://localhost`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute https URL with a host.
    #[error("must be an https URL with a host")]
    NotHttps,
    /// User name or password in the URL: credentials belong in the signature, not the URL.
    #[error("must not carry credentials")]
    Credentials,
    /// The host resolves to nothing.
    #[error("host {0} does not resolve")]
    Unresolvable(String),
    /// The host is, or resolves to, an address the platform never sends to.
    #[error("resolves to {0}, which is not a public address")]
    NotPublic(IpAddr),
}

/// Checks `url` for the production rule — https, no credentials, and every address its host
/// is or resolves to public — and answers the addresses a delivery may connect to.
pub async fn public_https(url: &Url) -> Result<Vec<SocketAddr>, TargetError> {
    if url.scheme() != "https" {
        return Err(TargetError::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(TargetError::NotHttps),
    };
    if let Some(ip) = literal.filter(|ip| !is_public(*ip)) {
        return Err(TargetError::NotPublic(ip));
    }
    let host = url.host_str().ok_or(TargetError::NotHttps)?;
    let port = url.port_or_known_default().ok_or(TargetError::NotHttps)?;
    // `[::1]` is written with brackets in URLs, not in look-ups.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| TargetError::Unresolvable(host.to_owned()))?
        .collect();
    if addresses.is_empty() {
        return Err(TargetError::Unresolvable(host.to_owned()));
    }
    match addresses.iter().find(|address| !is_public(address.ip())) {
        Some(private) => Err(TargetError::NotPublic(private.ip())),
        None => Ok(addresses),
    }
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let carrier_grade_nat = a == 100 && (64..128).contains(&b);
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let reserved = a >= 240;
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || carrier_grade_nat
        || benchmarking
        || reserved)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{public} is public");
        }
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|error| unreachable!("{text}: {error}"))
    }

    #[tokio::test]
    async fn only_https_urls_to_public_addresses_pass() {
        assert_eq!(
            public_https(&url("http://8.8.8.8/")).await,
            Err(TargetError::NotHttps)
        );
        assert_eq!(
            public_https(&url("https://user:pw@8.8.8.8/")).await,
            Err(TargetError::Credentials)
        );
        for private in [
            "https://127.0.0.1/",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]:8443/",
            // A name that resolves to loopback.
            "https://localhost:8443/hook",
        ] {
            assert!(
                matches!(
                    public_https(&url(private)).await,
                    Err(TargetError::NotPublic(_))
                ),
                "{private}"
            );
        }
        let public = public_https(&url("https://8.8.8.8:8443/hook")).await;
        assert_eq!(
            public,
            Ok(vec![
                "8.8.8.8:8443".parse().unwrap_or_else(|_| unreachable!())
            ])
        );
    }
}
