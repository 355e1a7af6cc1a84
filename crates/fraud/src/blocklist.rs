//! Matching against the configured blocklists: IP addresses and CIDR blocks ([`IpNetwork`]),
//! and creditor account numbers and names in a normal form ([`CreditorBlocklist`]).

use std::collections::HashSet;
use std::net::IpAddr;

/// An address block, `198.51.100.0/24` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNetwork {
    base: IpAddr,
    prefix_len: u8,
}

impl IpNetwork {
    /// Parses an address or a CIDR block; host bits set in a block are ignored.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let base = addr.parse::<IpAddr>().ok()?.to_canonical();
        let max = match base {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix_len = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok()?,
            None => max,
        };
        (prefix_len <= max).then_some(Self { base, prefix_len })
    }

    /// Whether `addr` is in the block (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        match (self.base, addr.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(addr)) => same_prefix(
                u128::from(base.to_bits()),
                u128::from(addr.to_bits()),
                32,
                self.prefix_len,
            ),
            (IpAddr::V6(base), IpAddr::V6(addr)) => {
                same_prefix(base.to_bits(), addr.to_bits(), 128, self.prefix_len)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix_len` of the `width` low bits of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, width: u32, prefix_len: u8) -> bool {
    let host_bits = width - u32::from(prefix_len);
    a.checked_shr(host_bits).unwrap_or(0) == b.checked_shr(host_bits).unwrap_or(0)
}

/// The creditor blocklist in normal form, ready to match.
#[derive(Debug, Clone)]
pub(crate) struct CreditorBlocklist {
    account_numbers: HashSet<String>,
    names: HashSet<String>,
}

impl CreditorBlocklist {
    /// The list of these blocked account numbers and names, as configured.
    pub(crate) fn new(account_numbers: &[String], names: &[String]) -> Self {
        Self {
            account_numbers: account_numbers
                .iter()
                .map(|number| normal_account_number(number))
                .collect(),
            names: names.iter().map(|name| normal_name(name)).collect(),
        }
    }

    /// What matched, if anything: `"account number"` or `"name"`.
    pub(crate) fn matches(&self, account_number: &str, name: &str) -> Option<&'static str> {
        if self
            .account_numbers
            .contains(&normal_account_number(account_number))
        {
            Some("account number")
        } else if self.names.contains(&normal_name(name)) {
            Some("name")
        } else {
            None
        }
    }
}

/// An account number without spaces and dashes, upper case (IBAN-style letters).
fn normal_account_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// A name in lower case with single spaces.
pub(crate) fn normal_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::inconsistent_digit_grouping,
    reason = "tests fail loudly; amounts in minor units read as shillings_cents (1_000_00 is KES 1,000.00)"
)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn exact_addresses_and_blocks() {
        let exact = IpNetwork::parse("203.0.113.7").unwrap();
        assert!(exact.contains(ip("203.0.113.7")));
        assert!(!exact.contains(ip("203.0.113.8")));
        assert!(exact.contains(ip("::ffff:203.0.113.7")), "IPv4-mapped");

        let block = IpNetwork::parse("198.51.100.0/24").unwrap();
        assert!(block.contains(ip("198.51.100.0")));
        assert!(block.contains(ip("198.51.100.255")));
        assert!(!block.contains(ip("198.51.101.0")));
        assert!(!block.contains(ip("2001:db8::1")));

        let v6 = IpNetwork::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("198.51.100.1")));

        let everything = IpNetwork::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(ip("8.8.8.8")));
        let host_bits_set = IpNetwork::parse("10.1.2.3/8").unwrap();
        assert!(host_bits_set.contains(ip("10.200.0.1")));
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0",
            "10.0.0.0/x",
            "host.example",
        ] {
            assert_eq!(IpNetwork::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn creditor_forms_are_normalised() {
        let list = CreditorBlocklist::new(
            &["0123-4567 89".to_owned()],
            &["Mule  Account Ltd".to_owned()],
        );
        assert_eq!(
            list.matches("0123456789", "Someone"),
            Some("account number")
        );
        assert_eq!(list.matches("1", " mule account LTD "), Some("name"));
        assert_eq!(list.matches("1", "Mule Accounts Ltd"), None);
    }
}
