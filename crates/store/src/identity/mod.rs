//! The identity service's storage: its token-signing keys ([`signing_keys`]), access tokens
//! revoked before they expire ([`revoked_tokens`]), the single-use JWT ids it has seen
//! ([`used_jtis`]: client assertions, DPoP proofs), and the authorization-code flow's
//! [`authorization_requests`] (pushed requests and their browser sessions),
//! [`second_factor_steps`] (one-time codes accepted once), [`authorization_codes`]
//! and [`refresh_tokens`] (by hash, never the secret),
//! CIBA's decoupled [`backchannel_requests`] (by hash too), and the initial access tokens of
//! dynamic client registration, [`registration_tokens`] (by hash as well).
//!
//! Revocations and used ids are kept only until the token or proof they name expires: after
//! that the signature checks refuse it anyway. [`revoked_tokens::purge_expired`] and
//! [`used_jtis::purge_expired`] drop the rows that no longer matter.
//!
//! The entities live beside the repositories ([`entity`]) rather than in [`crate::entity`]:
//! nothing else reads these tables.

pub mod authorization_codes;
pub mod authorization_requests;
pub mod backchannel_requests;
pub mod entity;
pub mod refresh_tokens;
pub mod registration_tokens;
pub mod revoked_tokens;
pub mod second_factor_steps;
pub mod signing_keys;
pub mod used_jtis;
