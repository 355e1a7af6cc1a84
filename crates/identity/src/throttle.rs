//! Slows credential guessing: customers' passwords and one-time codes at the sign-in pages, and
//! client authentication (client secrets, `private_key_jwt`) at the token, PAR, CIBA,
//! introspection and revocation endpoints.
//!
//! Failures are counted under two keys: the source address (every account tried from it) and
//! the account *at* that source (a username or client id tried from that address). Once a key's
//! failures pass its free allowance, each further failure blocks the key for a delay that doubles
//! (from [`BASE_DELAY`] up to [`MAX_DELAY`]); one failure is forgiven every [`FORGIVE_EVERY`].
//! A blocked key is refused at once, before any credential is checked — the connection is never
//! held — with the time left. Success clears the account-at-source key only (not the source's,
//! so an attacker cannot reset it with an account of its own).
//!
//! No key names an account alone: failures from one address never slow or lock the account's
//! owner signing in from another (the lock-out this replaces was a denial-of-service lever).
//!
//! The state is in memory and per process: a restart forgets it, and with several replicas
//! behind a load balancer each counts its own share of the failures (an attacker spread over
//! `n` replicas guesses up to `n` times as fast). At most [`MAX_ENTRIES`] keys are kept; the
//! most long-quiet ones are evicted first. IPv6 sources count by their /64 prefix (what one
//! host is usually given). The source is the TCP peer: behind a reverse proxy that is the proxy
//! (a trusted forwarded-for header is not read).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequestParts};
use chrono::{DateTime, Duration, Utc};
use http::request::Parts;

/// The delay after the first failure past the free allowance.
pub const BASE_DELAY: Duration = Duration::seconds(1);
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::minutes(10);
/// One failure is forgiven per this much time.
pub const FORGIVE_EVERY: Duration = Duration::minutes(10);
/// Failures of one account from one source before delays start.
pub const ACCOUNT_FREE_FAILURES: u32 = 4;
/// Failures from one source (any accounts) before delays start.
pub const SOURCE_FREE_FAILURES: u32 = 20;
/// Keys kept at most.
pub const MAX_ENTRIES: usize = 65_536;

/// Where a request came from: the peer's address, IPv6 cut to its /64; unspecified when the
/// server runs without connection info (in-process tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(IpAddr);

impl From<SocketAddr> for Source {
    fn from(address: SocketAddr) -> Self {
        Self(match address.ip() {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(prefix))
                }
            },
        })
    }
}

impl<S: Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), |info| {
                Self::from(info.0)
            }))
    }
}

/// Whose credentials an attempt presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// A customer's password, by username.
    Customer,
    /// A customer's one-time code, by username: counted apart, so that the right password
    /// does not clear the failed codes.
    SecondFactor,
    /// A client, by client id.
    Client,
}

/// One attempt to authenticate: from `source`, as `account` (if the request names one).
#[derive(Debug)]
pub(crate) struct Attempt {
    source: Source,
    account: Option<(Kind, String)>,
}

impl Attempt {
    pub(crate) fn new(source: Source, kind: Kind, account: Option<&str>) -> Self {
        Self {
            source,
            account: account.map(|name| (kind, name.to_owned())),
        }
    }

    fn source_key(&self) -> Key {
        Key::Source(self.source)
    }

    fn account_key(&self) -> Option<Key> {
        self.account
            .as_ref()
            .map(|(kind, name)| Key::Account(*kind, name.clone(), self.source))
    }
}

/// A throttled attempt: refused unchecked; the caller may retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub(crate) retry_after_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Source(Source),
    Account(Kind, String, Source),
}

impl Key {
    fn free_failures(&self) -> u32 {
        match self {
            Self::Source(_) => SOURCE_FREE_FAILURES,
            Self::Account(..) => ACCOUNT_FREE_FAILURES,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: DateTime<Utc>,
    blocked_until: DateTime<Utc>,
}

impl Entry {
    /// The failures still counted at `now`, after forgiveness.
    fn failures_at(&self, now: DateTime<Utc>) -> u32 {
        let quiet = (now - self.last_failure).max(Duration::zero());
        let forgiven = quiet.num_seconds() / FORGIVE_EVERY.num_seconds();
        let forgiven = u32::try_from(forgiven).unwrap_or(u32::MAX);
        self.failures.saturating_sub(forgiven)
    }
}

/// The delay after a key's `failures`th failure.
fn delay(failures: u32, free: u32) -> Duration {
    let Some(past) = failures.checked_sub(free + 1) else {
        return Duration::zero();
    };
    let factor = 1i32.checked_shl(past.min(30)).unwrap_or(i32::MAX);
    BASE_DELAY
        .checked_mul(factor)
        .map_or(MAX_DELAY, |delay| delay.min(MAX_DELAY))
}

/// The failures of every key; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    /// Refuses the attempt while any of its keys is blocked.
    pub(crate) fn check(&self, attempt: &Attempt, now: DateTime<Utc>) -> Result<(), Throttled> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let blocked_until = [Some(attempt.source_key()), attempt.account_key()]
            .into_iter()
            .flatten()
            .filter_map(|key| entries.get(&key).map(|entry| entry.blocked_until))
            .max();
        match blocked_until {
            Some(until) if until > now => {
                let millis = (until - now).num_milliseconds();
                let secs = u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1);
                Err(Throttled {
                    retry_after_secs: secs,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt under each of its keys.
    pub(crate) fn failed(&self, attempt: &Attempt, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        for key in [Some(attempt.source_key()), attempt.account_key()]
            .into_iter()
            .flatten()
        {
            if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
                evict(&mut entries, now);
            }
            let free = key.free_failures();
            let failures = entries
                .get(&key)
                .map_or(0, |entry| entry.failures_at(now))
                .saturating_add(1);
            entries.insert(
                key,
                Entry {
                    failures,
                    last_failure: now,
                    blocked_until: now + delay(failures, free),
                },
            );
        }
    }

    /// A successful attempt clears its account-at-source key.
    pub(crate) fn succeeded(&self, attempt: &Attempt) {
        if let Some(key) = attempt.account_key() {
            self.entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
    }
}

/// Makes room for a key: drops every fully forgiven, unblocked key; if none is, the one quiet
/// the longest.
fn evict(entries: &mut HashMap<Key, Entry>, now: DateTime<Utc>) {
    entries.retain(|_, entry| entry.failures_at(now) > 0 || entry.blocked_until > now);
    if entries.len() >= MAX_ENTRIES
        && let Some(oldest) = entries
            .iter()
            .min_by_key(|(_, entry)| entry.last_failure)
            .map(|(key, _)| key.clone())
    {
        entries.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn source(last: u8) -> Source {
        Source::from(SocketAddr::from(([127, 0, 0, last], 1000)))
    }

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_cap() {
        let free = ACCOUNT_FREE_FAILURES;
        assert_eq!(delay(free, free), Duration::zero());
        assert_eq!(delay(free + 1, free), BASE_DELAY);
        assert_eq!(delay(free + 2, free), BASE_DELAY * 2);
        assert_eq!(delay(free + 4, free), BASE_DELAY * 8);
        assert_eq!(delay(free + 40, free), MAX_DELAY);
        assert_eq!(delay(u32::MAX, free), MAX_DELAY);
    }

    #[test]
    fn an_account_is_throttled_at_the_guessing_source_only_and_failures_are_forgiven() {
        let throttle = Throttle::default();
        let mut now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let attacker = Attempt::new(source(2), Kind::Client, Some("app_a"));
        for _ in 0..=ACCOUNT_FREE_FAILURES {
            assert_eq!(throttle.check(&attacker, now), Ok(()));
            throttle.failed(&attacker, now);
        }
        assert_eq!(
            throttle.check(&attacker, now),
            Err(Throttled {
                retry_after_secs: 1
            })
        );
        let owner = Attempt::new(source(3), Kind::Client, Some("app_a"));
        assert_eq!(throttle.check(&owner, now), Ok(()));
        // The same name as a customer is another account.
        let customer = Attempt::new(source(2), Kind::Customer, Some("app_a"));
        assert_eq!(throttle.check(&customer, now), Ok(()));

        now += BASE_DELAY;
        assert_eq!(throttle.check(&attacker, now), Ok(()));
        throttle.failed(&attacker, now);
        assert_eq!(
            throttle.check(&attacker, now),
            Err(Throttled {
                retry_after_secs: 2
            })
        );
        // Quiet long enough, every failure is forgiven: the next one is free again.
        now += FORGIVE_EVERY * i32::try_from(ACCOUNT_FREE_FAILURES + 2).unwrap();
        throttle.failed(&attacker, now);
        assert_eq!(throttle.check(&attacker, now), Ok(()));
    }

    #[test]
    fn a_source_guessing_many_accounts_is_throttled_and_success_does_not_clear_it() {
        let throttle = Throttle::default();
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        for n in 0..=SOURCE_FREE_FAILURES {
            let attempt = Attempt::new(source(2), Kind::Customer, Some(&format!("user{n}")));
            throttle.failed(&attempt, now);
        }
        let own = Attempt::new(source(2), Kind::Customer, Some("mine"));
        assert!(throttle.check(&own, now).is_err());
        throttle.succeeded(&own);
        assert!(throttle.check(&own, now).is_err());
        assert_eq!(
            throttle.check(&Attempt::new(source(3), Kind::Customer, Some("mine")), now),
            Ok(())
        );
    }

    #[test]
    fn ipv6_sources_count_by_their_64_prefix() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:443".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:bbbb::9]:443".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:443".parse().unwrap();
        assert_eq!(Source::from(a), Source::from(b));
        assert_ne!(Source::from(a), Source::from(c));
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:443".parse().unwrap();
        assert_eq!(Source::from(mapped), source_of([10, 0, 0, 1]));
    }

    fn source_of(ip: [u8; 4]) -> Source {
        Source::from(SocketAddr::from((ip, 1)))
    }

    #[test]
    fn the_table_stays_bounded() {
        let throttle = Throttle::default();
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        for n in 0..u32::try_from(MAX_ENTRIES).unwrap() + 10 {
            let ip = Ipv4Addr::from(n);
            let attempt = Attempt::new(Source::from(SocketAddr::from((ip, 1))), Kind::Client, None);
            throttle.failed(&attempt, now);
        }
        assert!(throttle.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
