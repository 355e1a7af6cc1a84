//! Typed ids for rows that have no id kind in `wekeza-domain`: API keys (`key_…`). Same shape
//! as the domain's ids: a prefix and a lowercase ULID, so they sort by creation time and parsing
//! checks the prefix.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngCore;
use ulid::Ulid;
use wekeza_domain::IdError;

macro_rules! store_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

store_id!(
    /// An app's API key (the row, not the secret), `key_…`.
    ApiKeyId, "key_"
);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parse_checks_the_prefix() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let id = ApiKeyId::generate(at, &mut rng);
        assert!(id.as_str().starts_with("key_"));
        assert_eq!(id.as_str().parse::<ApiKeyId>(), Ok(id.clone()));
        let journal = wekeza_domain::JournalId::generate(at, &mut rng);
        assert_eq!(
            journal.as_str().parse::<ApiKeyId>(),
            Err(IdError::WrongPrefix { expected: "key_" })
        );
    }
}
