//! Idempotent creates: the `Idempotency-Key` header rule, the request fingerprint, and the two
//! refusals every idempotent rpc shares.
//!
//! The gateway's access policy refuses a call that needs a key and has none ([`is_valid_key`]);
//! the service reads it again ([`key`]) and records `(app, key, operation)` with
//! [`request_hash`] through `wekeza_store::idempotency`, answering a repeat from the stored
//! response and a key reused for another request with [`IdempotencyError::Reused`].

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use wekeza_domain::Reason;

use crate::error::ServiceError;

/// The header that carries the key (gRPC metadata and HTTP alike).
pub const HEADER: &str = "idempotency-key";

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// Why an idempotent create is refused before any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    /// No usable `Idempotency-Key` header.
    #[error("this call needs an Idempotency-Key header (1 to 255 characters)")]
    Missing,
    /// The key was used before with a different request.
    #[error("the Idempotency-Key was already used with a different request")]
    Reused,
}

impl ServiceError for IdempotencyError {
    fn reason(&self) -> Reason {
        match self {
            Self::Missing => Reason::IdempotencyKeyMissing,
            Self::Reused => Reason::IdempotencyKeyReused,
        }
    }
}

impl From<IdempotencyError> for tonic::Status {
    fn from(error: IdempotencyError) -> Self {
        crate::error::into_status(error)
    }
}

/// Whether `key` is a usable idempotency key: 1 to [`MAX_KEY_LEN`] bytes.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}

/// The request's `Idempotency-Key`.
pub fn key(metadata: &MetadataMap) -> Result<String, IdempotencyError> {
    metadata
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|key| is_valid_key(key))
        .map(str::to_owned)
        .ok_or(IdempotencyError::Missing)
}

/// SHA-256 (hex) of the request's canonical bytes: its protobuf encoding, which is the same
/// whether the request came as gRPC or as REST JSON.
pub fn request_hash(message: &impl Message) -> String {
    hex::encode(Sha256::digest(message.encode_to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn a_key_is_one_to_255_bytes() {
        let mut metadata = MetadataMap::new();
        assert_eq!(key(&metadata), Err(IdempotencyError::Missing));
        metadata.insert(HEADER, MetadataValue::from_static(""));
        assert_eq!(key(&metadata), Err(IdempotencyError::Missing));
        metadata.insert(HEADER, MetadataValue::from_static("order-1"));
        assert_eq!(key(&metadata).as_deref(), Ok("order-1"));
        assert!(is_valid_key(&"k".repeat(MAX_KEY_LEN)));
        assert!(!is_valid_key(&"k".repeat(MAX_KEY_LEN + 1)));
    }

    #[test]
    fn the_request_hash_is_the_hash_of_the_protobuf_bytes() {
        let one = prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        };
        let two = prost_types::Timestamp {
            seconds: 2,
            nanos: 0,
        };
        assert_eq!(request_hash(&one).len(), 64);
        assert_eq!(request_hash(&one), request_hash(&one.clone()));
        assert_ne!(request_hash(&one), request_hash(&two));
    }
}
