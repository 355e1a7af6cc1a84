//! Prefixed, sortable, opaque identifiers: `acc_` followed by a lowercase ULID.
//!
//! The ULID's first 48 bits are the creation time in milliseconds, so ids of one kind sort by
//! creation time as plain strings — keyset pagination orders by id alone. Each kind is its own
//! type, so an account id can never be passed where a payment id is expected, and parsing checks
//! the prefix: `pay_…` is not an `AccountId`.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rand::RngCore;
use ulid::{Generator, Ulid};

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not start with the kind's prefix.
    #[error("expected an id starting with `{expected}`")]
    WrongPrefix {
        /// The prefix the kind requires, e.g. `acc_`.
        expected: &'static str,
    },
    /// The part after the prefix is not a ULID.
    #[error("malformed id")]
    Malformed,
}

/// The process's monotonic ULID source behind `new_monotonic`.
static MONOTONIC: Mutex<Generator> = Mutex::new(Generator::new());

fn monotonic_ulid(at: DateTime<Utc>) -> Ulid {
    let mut generator = MONOTONIC.lock().unwrap_or_else(PoisonError::into_inner);
    generator
        .generate_from_datetime(SystemTime::from(at))
        // Only 2^80 ids in one millisecond exhaust it; start afresh from a random one then.
        .unwrap_or_else(|_| Ulid::from_datetime(SystemTime::from(at)))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id created at `at`, random bits drawn from `rng`.
            pub fn generate(at: DateTime<Utc>, rng: &mut impl RngCore) -> Self {
                let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
                let random = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                Self::from_ulid(Ulid::from_parts(millis, random))
            }

            /// A new id for now, from the thread's random generator.
            pub fn new_random(at: DateTime<Utc>) -> Self {
                Self::generate(at, &mut rand::rng())
            }

            /// A new id for `at` that sorts after every id this process made with this
            /// function before (of any kind), even within one millisecond or when `at` goes
            /// back: rows written one after the other (events, consents) keep their order.
            pub fn new_monotonic(at: DateTime<Utc>) -> Self {
                Self::from_ulid(monotonic_ulid(at))
            }

            /// The id made of the time `at` and the 80 low bits of `random`: the same
            /// arguments always make the same id (for ids derived from what they name).
            pub fn from_parts(at: DateTime<Utc>, random: u128) -> Self {
                let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
                Self::from_ulid(Ulid::from_parts(millis, random))
            }

            fn from_ulid(ulid: Ulid) -> Self {
                Self(format!("{}{}", $prefix, ulid.to_string().to_ascii_lowercase()))
            }

            /// The id as text, prefix included.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                let rest = text
                    .strip_prefix($prefix)
                    .ok_or(IdError::WrongPrefix { expected: $prefix })?;
                let ulid = Ulid::from_string(rest).map_err(|_| IdError::Malformed)?;
                Ok(Self::from_ulid(ulid))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A bank customer, `cus_…`.
    CustomerId, "cus_"
);
id_type!(
    /// A bank account, `acc_…`.
    AccountId, "acc_"
);
id_type!(
    /// One entry on an account, `txn_…`.
    TransactionId, "txn_"
);
id_type!(
    /// A journal: one balanced set of postings on the ledger, `jnl_…`.
    JournalId, "jnl_"
);
id_type!(
    /// A payment, `pay_…`.
    PaymentId, "pay_"
);
id_type!(
    /// A consent, `cns_…`.
    ConsentId, "cns_"
);
id_type!(
    /// A third-party app (an OAuth2 client), `app_…`.
    AppId, "app_"
);
id_type!(
    /// A developer of the portal, `dev_…`.
    DeveloperId, "dev_"
);
id_type!(
    /// A webhook endpoint, `whe_…`.
    WebhookEndpointId, "whe_"
);
id_type!(
    /// An event, `evt_…`; also the Standard Webhooks `webhook-id`.
    EventId, "evt_"
);
id_type!(
    /// A webhook delivery, `msg_…`.
    DeliveryId, "msg_"
);
id_type!(
    /// An invoice, `inv_…`.
    InvoiceId, "inv_"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn parse_checks_the_prefix() {
        let id = AccountId::new_random(at(1_800_000_000));
        assert!(id.as_str().starts_with("acc_"));
        assert_eq!(id.as_str().len(), 4 + 26);
        assert_eq!(id.as_str().parse::<AccountId>(), Ok(id.clone()));
        assert_eq!(
            id.as_str().parse::<PaymentId>(),
            Err(IdError::WrongPrefix { expected: "pay_" })
        );
        assert_eq!(
            "acc_not-a-ulid".parse::<AccountId>(),
            Err(IdError::Malformed)
        );
        assert_eq!("acc_".parse::<AccountId>(), Err(IdError::Malformed));
    }

    #[test]
    fn same_seed_same_ids() {
        let mut a = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(
            CustomerId::generate(at(1_700_000_000), &mut a),
            CustomerId::generate(at(1_700_000_000), &mut b)
        );
    }

    #[test]
    fn monotonic_ids_keep_their_order_within_a_millisecond() {
        let ids: Vec<EventId> = (0..100)
            .map(|_| EventId::new_monotonic(at(1_800_000_000)))
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let earlier = EventId::new_monotonic(at(1_700_000_000));
        assert!(
            ids.iter().all(|id| id < &earlier),
            "time going back keeps the order"
        );
    }

    proptest! {
        #[test]
        fn ids_sort_by_creation_time(t1 in 0i64..4_000_000_000, t2 in 0i64..4_000_000_000, seed: u64) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let first = TransactionId::generate(at(t1), &mut rng);
            let second = TransactionId::generate(at(t2), &mut rng);
            if t1 < t2 {
                prop_assert!(first.as_str() < second.as_str());
            }
            prop_assert_eq!(first.as_str().parse::<TransactionId>(), Ok(first.clone()));
        }
    }
}
