//! The sandbox's [`Authority`] port, implemented over the identity crate: the sandbox service
//! records a test user's decisions through identity's own authorisation and CIBA steps without
//! depending on identity's crate (services depend on no service or infrastructure crate; the
//! server composes them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{Consent, ConsentKind};
use wekeza_identity::{AuthorizationParams, AuthorizationRequest, Identity};
use wekeza_rpc::Internal;
use wekeza_sandbox::{Authority, AuthorityError, RequestParams};
use wekeza_store::apps::App;
use wekeza_store::identity::backchannel_requests::BackchannelRequest;

/// Identity, as the sandbox sees it.
#[derive(Debug, Clone)]
pub struct IdentityAuthority(pub Identity);

/// Identity's refusals of the request stay refusals; anything else is internal, raised at the
/// caller's line.
#[track_caller]
fn refusal(error: wekeza_identity::Error) -> AuthorityError {
    use wekeza_identity::Error as Identity;
    match error {
        Identity::InvalidScope(text) => AuthorityError::InvalidParameter("scope", text),
        Identity::InvalidParameter(name, text) => AuthorityError::InvalidParameter(name, text),
        Identity::ConsentChanged => AuthorityError::ConsentChanged,
        other => AuthorityError::Internal(Internal::new(other)),
    }
}

fn params(params: RequestParams<'_>) -> AuthorizationParams<'_> {
    AuthorizationParams {
        redirect_uri: params.redirect_uri,
        code_challenge: params.code_challenge,
        code_challenge_method: params.code_challenge_method,
        scope: params.scope,
        nonce: params.nonce,
    }
}

fn checked(
    app: &App,
    kind: ConsentKind,
    request: RequestParams<'_>,
) -> Result<AuthorizationRequest, AuthorityError> {
    AuthorizationRequest::check(app, Some(kind), params(request)).map_err(|error| refusal(error))
}

#[async_trait]
impl Authority for IdentityAuthority {
    fn issuer(&self) -> String {
        self.0.issuer().to_string()
    }

    fn check_request(
        &self,
        app: &App,
        kind: ConsentKind,
        params: RequestParams<'_>,
    ) -> Result<String, AuthorityError> {
        Ok(checked(app, kind, params)?.redirect_uri().to_owned())
    }

    fn denial_redirect(
        &self,
        app: &App,
        given: Option<&str>,
    ) -> Result<Option<String>, AuthorityError> {
        wekeza_identity::redirect_uri(app, given).map_err(|error| refusal(error))
    }

    async fn authorise(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        params: RequestParams<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, AuthorityError> {
        let request = checked(app, before.kind(), params)?;
        let issued = self
            .0
            .authorise_consent(app, before, after, &request, now)
            .await
            .map_err(|error| refusal(error))?;
        Ok(issued.code)
    }

    async fn reject(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), AuthorityError> {
        self.0
            .reject_consent(app, before, after, now)
            .await
            .map_err(|error| refusal(error))
    }

    async fn decoupled_request(
        &self,
        app: &App,
        auth_req_id: &str,
    ) -> Result<Option<BackchannelRequest>, AuthorityError> {
        self.0
            .find_backchannel(app, auth_req_id)
            .await
            .map_err(|error| refusal(error))
    }

    async fn decide_decoupled(
        &self,
        app: &App,
        auth_req_id: &str,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), AuthorityError> {
        let decided = if after.status == wekeza_domain::ConsentStatus::Rejected {
            self.0
                .deny_backchannel(app, auth_req_id, before, after, now)
                .await
        } else {
            self.0
                .approve_backchannel(app, auth_req_id, before, after, now)
                .await
        };
        decided.map_err(|error| refusal(error))
    }

    fn current_otp(&self, totp_secret: &str, now: DateTime<Utc>) -> Result<String, AuthorityError> {
        wekeza_identity::totp::code(totp_secret, now).map_err(|error| refusal(error))
    }
}
