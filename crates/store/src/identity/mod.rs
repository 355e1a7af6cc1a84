//! The identity service's storage: its token-signing keys ([`signing_keys`]), access tokens
//! revoked before they expire ([`revoked_tokens`]) and the single-use JWT ids it has seen
//! ([`used_jtis`]: client assertions, DPoP proofs).
//!
//! Revocations and used ids are kept only until the token or proof they name expires: after
//! that the signature checks refuse it anyway. [`revoked_tokens::purge_expired`] and
//! [`used_jtis::purge_expired`] drop the rows that no longer matter.
//!
//! The entities live beside the repositories ([`entity`]) rather than in [`crate::entity`]:
//! nothing else reads these tables.

pub mod entity;
pub mod revoked_tokens;
pub mod signing_keys;
pub mod used_jtis;
