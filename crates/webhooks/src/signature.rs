//! Standard Webhooks signatures: `webhook-signature` is `v1,` followed by the base64 of
//! HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the bytes the
//! `whsec_…` secret encodes; several signatures (one per secret during a rotation) are separated
//! by spaces, and a receiver accepts the message when any of them verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is `whsec_` followed by base64")]
pub struct MalformedSecret;

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp` (Unix seconds),
/// one `v1,` signature per secret in `secrets`.
pub fn sign(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, MalformedSecret> {
    let signatures = secrets
        .iter()
        .map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix(SECRET_PREFIX).ok_or(MalformedSecret)?)
                .map_err(|_| MalformedSecret)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| MalformedSecret)?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Ok(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_the_specification_example() {
        let signature = sign(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn signs_once_per_secret() {
        let signature = sign(
            &[
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "whsec_c2Vjb25kIHNlY3JldA==",
            ],
            "msg_1",
            1,
            b"{}",
        )
        .unwrap();
        let parts: Vec<&str> = signature.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn refuses_a_secret_without_its_prefix_or_base64() {
        assert_eq!(sign(&["MfKQ9r8G"], "msg_1", 1, b"{}"), Err(MalformedSecret));
        assert_eq!(
            sign(&["whsec_!!!"], "msg_1", 1, b"{}"),
            Err(MalformedSecret)
        );
    }
}
