//! The audit records of tokens: issued, refreshed, introspected and revoked, with ids only —
//! the access token's `jti`, a refresh token's [`refresh_token_id`] (the first 16 hex digits of
//! its SHA-256, which `refresh_tokens.token_hash` starts with), the client, the customer, the
//! consent, the grant type. Never a token.

use chrono::{DateTime, Utc};
use wekeza_domain::{AuditEvent, AuditKind};
use wekeza_gateway::record::CallRecord;
use wekeza_store::apps::App;
use wekeza_store::identity::refresh_tokens::RefreshToken;
use wekeza_store::secret;

use crate::Identity;
use crate::tokens::AccessClaims;

/// Hex digits of a refresh token's SHA-256 that name it in the trail (64 bits: unique enough
/// to find its row, useless to guess the token).
const REFRESH_ID_DIGITS: usize = 16;

/// What names a refresh token in the trail, from the token itself.
pub(crate) fn refresh_token_id(token: &str) -> String {
    refresh_id_of_hash(&secret::sha256_hex(token))
}

fn refresh_id_of_hash(token_hash: &str) -> String {
    token_hash.chars().take(REFRESH_ID_DIGITS).collect()
}

/// A token event of `app` at `now`.
pub(crate) fn token_event(action: &str, app: &App, now: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(AuditKind::Token, action, now)
        .app(Some(app.id.clone()))
        .detail("clientId", app.client_id.as_str())
}

/// `event` with what it says of the access token of `claims`.
pub(crate) fn with_access_token(event: AuditEvent, claims: &AccessClaims) -> AuditEvent {
    let customer = claims
        .consent_id
        .as_ref()
        .and_then(|_| claims.sub.parse().ok());
    event
        .customer(customer)
        .detail("jti", claims.jti.as_str())
        .detail("tokenType", claims.token_type())
        .detail("scope", claims.scope.as_str())
        .detail_if("consentId", claims.consent_id.clone())
}

/// `event` with what it says of the refresh token `row`.
pub(crate) fn with_refresh_token(event: AuditEvent, row: &RefreshToken) -> AuditEvent {
    event
        .customer(row.customer_id.parse().ok())
        .detail("tokenType", "refresh_token")
        .detail("refreshTokenId", refresh_id_of_hash(&row.token_hash))
        .detail("consentId", row.consent_id.as_str())
}

impl Identity {
    /// Hands `event` to the audit trail.
    pub(crate) fn audit(&self, event: AuditEvent) {
        self.inner.audit.record(event);
    }
}

/// Names `app` in the record of the call that authenticated it (token, introspection and
/// revocation requests carry no access token the gateway could name it from).
pub(crate) fn name_app(record: &CallRecord, app: &App) {
    record.update(|facts| facts.app_id = Some(app.id.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_is_named_by_the_start_of_its_stored_hash() {
        let token = "refresh-token-value";
        let id = refresh_token_id(token);
        assert_eq!(id.len(), REFRESH_ID_DIGITS);
        assert!(secret::sha256_hex(token).starts_with(&id));
        assert!(!id.contains(token));
    }
}
