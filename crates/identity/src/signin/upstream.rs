//! The federated provider's answer (`GET /oauth2/authorize/upstream-callback`): checks that it
//! answers this session's request, finds the customer it names, and signs them in — or ends
//! the session, sending the app `access_denied` when the customer gave up upstream.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use wekeza_domain::CustomerId;
use wekeza_store::apps;
use wekeza_store::customers;
use wekeza_store::identity::authorization_requests::{self, SignInStage};
use wekeza_store::secret;

use super::session::{CookieSession, Session, TOKEN_BYTES, at_stage};
use super::{Web, error_page, respond, session_over, stage_after_sign_in, upstream_unavailable};
use crate::federation::CustomerField;
use crate::{Error, form};

/// The provider's authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Answer {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

pub(super) async fn callback(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let answer = form::typed(query.unwrap_or_default().as_bytes());
    respond(web.upstream_callback(&headers, answer).await)
}

impl Web {
    /// `GET /oauth2/authorize/upstream-callback?code=…&state=…&iss=…`: the upstream provider's
    /// answer. Signs the customer it names in, or ends the session.
    async fn upstream_callback(
        &self,
        headers: &HeaderMap,
        answer: Answer,
    ) -> Result<Response, Error> {
        let now = self.identity.now();
        let Some(upstream) = self.identity.inner.upstream.as_ref() else {
            return Ok(session_over());
        };
        let Some(CookieSession { cookie, hash, row }) = self.cookie_session(headers).await? else {
            return Ok(session_over());
        };
        if !at_stage(&row, SignInStage::Upstream, now) {
            return Ok(session_over());
        }
        let Some(app) = apps::find_by_client_id(self.db(), &row.client_id).await? else {
            return Ok(session_over());
        };
        let state = answer.state.as_deref().unwrap_or_default();
        if !upstream.owns_state(&cookie, state) {
            return Ok(session_over());
        }
        // From here on the session moves on or ends, whatever happens.
        let next = stage_after_sign_in(&row);
        if let Some(error) = answer.error.as_deref() {
            tracing::info!(client_id = %app.client_id, upstream_error = error, "upstream sign-in not completed");
            if !self.end_upstream_session(&hash).await? {
                return Ok(session_over());
            }
            return Ok(self.redirect(&row, "error", "access_denied"));
        }
        let identity = match upstream
            .finish(
                &cookie,
                answer.code.as_deref().unwrap_or_default(),
                state,
                answer.iss.as_deref(),
                now,
            )
            .await
        {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(client_id = %app.client_id, %error, "federated sign-in refused");
                self.end_upstream_session(&hash).await?;
                return Ok(upstream_unavailable());
            }
        };
        let customer = match identity.field {
            CustomerField::Id => match identity.value.parse::<CustomerId>() {
                Ok(id) => customers::find(self.db(), &id).await?,
                Err(_) => None,
            },
            CustomerField::Username => {
                customers::find_by_username(self.db(), &identity.value).await?
            }
        };
        let Some(customer) = customer else {
            tracing::warn!(client_id = %app.client_id, "federated sign-in names no customer of the bank");
            self.end_upstream_session(&hash).await?;
            return Ok(error_page(
                StatusCode::FORBIDDEN,
                "No matching customer",
                "You signed in, but the bank has no customer profile for this sign-in. Contact \
                 the bank.",
            ));
        };
        let moved = authorization_requests::advance(
            self.db(),
            &hash,
            SignInStage::Upstream,
            next,
            Some(&customer.id),
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        let mut row = row;
        row.customer_id = Some(customer.id.clone());
        // The consent screen's forms need a CSRF token the browser can echo: a fresh one.
        let csrf = secret::random_token(TOKEN_BYTES, &mut secret::os_rng());
        authorization_requests::set_csrf(self.db(), &hash, &secret::sha256_hex(&csrf)).await?;
        let session = Session {
            row,
            hash,
            csrf,
            app,
        };
        self.signed_in(&session, now).await
    }

    /// Ends the federated session `hash` still waiting for the upstream; `false` if it was not.
    async fn end_upstream_session(&self, hash: &str) -> Result<bool, Error> {
        Ok(authorization_requests::advance(
            self.db(),
            hash,
            SignInStage::Upstream,
            SignInStage::Done,
            None,
        )
        .await?)
    }
}
