//! What follows sign-in: the consent screen (what the app asks for, the accounts the customer
//! may choose) and its decision, Approve or Deny, which ends in the redirect back to the app;
//! or, for a sign-in alone or a step-up, the code straight away.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use wekeza_domain::{AccountId, Consent, ConsentId, ConsentStatus, CustomerId};
use wekeza_ledger::{Account, AccountQuery};
use wekeza_store::consents;
use wekeza_store::identity::authorization_requests::{self, SignInStage};

use super::session::Session;
use super::{
    Web, error_page, html, no_longer_pending, parse_customer, request_of, respond, session_over,
    stage_after_sign_in,
};
use crate::pages::ConsentScreen;
use crate::{Error, form};

/// The decision form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DecisionForm {
    csrf: String,
    /// `approve` or `deny`.
    decision: String,
    /// The chosen accounts (checkboxes: any number).
    account_id: Vec<String>,
}

pub(super) async fn decision(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    respond(web.decide(&headers, form::typed(&body)).await)
}

impl Web {
    /// The customer of `session` passed both factors (the session already moved on from
    /// them): the consent screen, or for a sign-in alone its code.
    pub(super) async fn signed_in(
        &self,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<Response, Error> {
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let request = request_of(&session.row)?;
        let issued = match stage_after_sign_in(&session.row) {
            SignInStage::Consent => return self.consent_screen(session, None, now).await,
            _ if request.acr.is_some() => {
                let authorised = self
                    .session_consent(session, ConsentStatus::Authorised, now)
                    .await?;
                let Some(consent) = authorised else {
                    return Ok(no_longer_pending());
                };
                if consent.customer_id.as_ref() != Some(&customer) {
                    tracing::warn!(client_id = %session.app.client_id, "step-up signed in by another customer");
                    return Ok(error_page(
                        StatusCode::FORBIDDEN,
                        "Another customer",
                        "This confirmation is for the customer who approved the payment. Return \
                         to the app.",
                    ));
                }
                self.identity
                    .issue_step_up_code(&session.app, &consent, &request, now)
                    .await?
            }
            _ => {
                self.identity
                    .issue_sign_in_code(&session.app, &customer, &request, now)
                    .await?
            }
        };
        Ok(self.redirect(&session.row, "code", &issued.code))
    }

    /// The consent to decide, if it still awaits authorisation.
    async fn pending_consent(
        &self,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>, Error> {
        self.session_consent(session, ConsentStatus::AwaitingAuthorisation, now)
            .await
    }

    /// The session's consent, if it is the app's and in `status` at `now`.
    async fn session_consent(
        &self,
        session: &Session,
        status: ConsentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>, Error> {
        let Some(Ok(id)) = session
            .row
            .consent_id
            .as_deref()
            .map(str::parse::<ConsentId>)
        else {
            return Ok(None);
        };
        Ok(consents::find(self.db(), &id)
            .await?
            .filter(|consent| consent.app_id == session.app.id)
            .filter(|consent| consent.status_at(now) == status))
    }

    /// The accounts the customer may choose for `consent`: those the domain's binding rule
    /// ([`ConsentTerms::may_bind`](wekeza_domain::ConsentTerms::may_bind)) allows.
    async fn choices(
        &self,
        consent: &Consent,
        customer: &CustomerId,
    ) -> Result<Vec<Account>, Error> {
        let query = AccountQuery {
            only: None,
            after_id: None,
            limit: wekeza_ledger::MAX_PAGE_SIZE,
        };
        let owned = self.core.accounts(customer, &query).await?;
        Ok(owned
            .into_iter()
            .filter(|account| consent.terms.may_bind(&account.bindable()))
            .collect())
    }

    /// The screen for the session's consent, if it still awaits a decision, with `error` about
    /// the previous submission.
    async fn consent_screen(
        &self,
        session: &Session,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Response, Error> {
        let Some(consent) = self.pending_consent(session, now).await? else {
            return Ok(no_longer_pending());
        };
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let accounts = self.choices(&consent, &customer).await?;
        if accounts.is_empty() {
            return Ok(error_page(
                StatusCode::OK,
                "No suitable account",
                "You have no account this request can use. Return to the app.",
            ));
        }
        let screen =
            ConsentScreen::new(&session.app.name, &session.csrf, &consent, &accounts, error);
        Ok(html(StatusCode::OK, &screen))
    }

    /// `POST /oauth2/authorize/decision`: Approve (with the chosen accounts) or Deny.
    async fn decide(&self, headers: &HeaderMap, form: DecisionForm) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, &form.csrf, SignInStage::Consent, now)
            .await?
        {
            Ok(session) => session,
            Err(page) => return Ok(page),
        };
        let Some(consent) = self.pending_consent(&session, now).await? else {
            return Ok(no_longer_pending());
        };
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let after = match form.decision.as_str() {
            "deny" => consent.clone().reject(now),
            "approve" => {
                let choices = self.choices(&consent, &customer).await?;
                let chosen: Option<BTreeSet<AccountId>> = form
                    .account_id
                    .iter()
                    .map(|id| {
                        choices
                            .iter()
                            .find(|account| account.id.as_str() == id)
                            .map(|account| account.id.clone())
                    })
                    .collect();
                match chosen {
                    Some(chosen) if !chosen.is_empty() => {
                        consent.clone().authorise(customer.clone(), chosen, now)
                    }
                    _ => {
                        return self
                            .consent_screen(&session, Some("Choose an account."), now)
                            .await;
                    }
                }
            }
            _ => {
                return self
                    .consent_screen(&session, Some("Choose Approve or Deny."), now)
                    .await;
            }
        };
        let after = match after {
            Ok(after) => after,
            Err(error) => {
                let message = error.to_string();
                return self.consent_screen(&session, Some(&message), now).await;
            }
        };
        // The decision is taken once: a second submission finds the session over.
        let moved = authorization_requests::advance(
            self.db(),
            &session.hash,
            SignInStage::Consent,
            SignInStage::Done,
            None,
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        let outcome = if after.status == ConsentStatus::Authorised {
            let request = request_of(&session.row)?;
            self.identity
                .authorise_consent(&session.app, &consent, &after, &request, now)
                .await
                .map(|issued| ("code", issued.code))
        } else {
            self.identity
                .reject_consent(&session.app, &consent, &after, now)
                .await
                .map(|()| ("error", "access_denied".to_owned()))
        };
        match outcome {
            Ok((name, value)) => Ok(self.redirect(&session.row, name, &value)),
            Err(Error::ConsentChanged) => Ok(no_longer_pending()),
            Err(error) => Err(error),
        }
    }
}
