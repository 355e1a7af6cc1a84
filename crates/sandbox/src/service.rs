//! `SandboxService`: the sandbox's shortcuts.
//!
//! Every handler reads the app's own principal on its first line; `AuthorizeConsent` answers
//! NOT_FOUND for any consent that is not the caller's, and `ApproveDecoupledAuthorization` for
//! any backchannel request that is not, so ids cannot be probed.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wekeza_domain::text::{self, TextKind};
use wekeza_domain::{Clock, ConsentId, PaymentId};
use wekeza_events::{EventType, PaymentSteps, catalogue, record};
use wekeza_ledger::{AccountQuery, CoreBanking};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::sandbox_service_server::SandboxService;
use wekeza_rpc::{OrInternal, RequestExt, wire};
use wekeza_sandbox_bank::seed;
use wekeza_store::apps::{self, App};
use wekeza_store::identity::backchannel_requests::BackchannelStatus;
use wekeza_store::{DatabaseConnection, consents, customers, payments};

use crate::authority::{Authority, RequestParams};
use crate::simulate::{self, Target};
use crate::{Error, accounts, fire, reset};

/// The `error` of a denied authorization response (RFC 6749 §4.1.2.1).
const ACCESS_DENIED: &str = "access_denied";

/// The Sandbox service.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Apps, consents, payments and the test users' credentials; what a reset removes.
    db: DatabaseConnection,
    /// The test users' customers and accounts.
    core: Arc<dyn CoreBanking>,
    /// A payment's settlement steps, which `SimulatePaymentStatus` takes as settlement would.
    steps: PaymentSteps,
    /// Records a test user's decision and issues the authorization code.
    authority: Arc<dyn Authority>,
    /// Stamps decisions, TOTP codes and the reseed's anchor; injectable for tests.
    clock: Arc<dyn Clock>,
}

impl Sandbox {
    /// A service over `db` and `core`, recording decisions through `authority`.
    pub fn new(
        db: DatabaseConnection,
        core: Arc<dyn CoreBanking>,
        authority: Arc<dyn Authority>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            steps: PaymentSteps::new(db.clone(), core.clone()),
            db,
            core,
            authority,
            clock,
        }
    }

    async fn app(&self, principal: &wekeza_domain::Principal) -> Result<App, Error> {
        apps::find(&self.db, &principal.app_id)
            .await?
            .ok_or(Error::UnknownApp)
    }
}

/// The test user's name a request gives, under the platform's text rule: a control character
/// (NUL included) is the request's fault, answered as such before any database sees it.
fn username(text: &str) -> Result<String, Error> {
    if text.is_empty() {
        return Err(Error::InvalidField("username", "is required".into()));
    }
    text::clean(text, TextKind::Line)
        .map_err(|error| Error::InvalidField("username", error.to_string()))
}

/// `None` for an empty proto3 string.
fn given(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

#[tonic::async_trait]
impl SandboxService for Sandbox {
    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn authorize_consent(
        &self,
        request: Request<pb::AuthorizeConsentRequest>,
    ) -> Result<Response<pb::AuthorizeConsentResponse>, Status> {
        let principal = request.app()?.clone();
        let body = request.into_inner();
        let now = self.clock.now();
        let app = self.app(&principal).await?;
        let consent_id: ConsentId = body
            .consent_id
            .parse()
            .map_err(|_| Error::ConsentNotFound)?;
        let consent = consents::find(&self.db, &consent_id)
            .await
            .or_internal()?
            .filter(|consent| consent.app_id == app.id)
            .ok_or(Error::ConsentNotFound)?;
        let scope = consent.kind().required_scope();
        if !principal.has_scope(scope) {
            return Err(Error::InsufficientScope(scope).into());
        }
        let username = username(&body.username)?;
        let customer = self
            .core
            .customer_by_username(&username)
            .await
            .or_internal()?
            .ok_or_else(|| Error::InvalidField("username", "no test user has this name".into()))?;
        let issuer = self.authority.issuer();
        if body.deny {
            let redirect_uri = self
                .authority
                .denial_redirect(&app, given(&body.redirect_uri))
                .map_err(Error::from)?;
            let rejected = consent.clone().reject(now).map_err(Error::from)?;
            self.authority
                .reject(&app, &consent, &rejected, now)
                .await
                .map_err(Error::from)?;
            return Ok(Response::new(pb::AuthorizeConsentResponse {
                code: String::new(),
                iss: issuer,
                state: body.state,
                error: ACCESS_DENIED.to_owned(),
                redirect_uri: redirect_uri.unwrap_or_default(),
            }));
        }
        let params = RequestParams {
            redirect_uri: given(&body.redirect_uri),
            code_challenge: given(&body.code_challenge),
            code_challenge_method: given(&body.code_challenge_method),
            scope: given(&body.scope),
            nonce: given(&body.nonce),
        };
        let redirect_uri = self
            .authority
            .check_request(&app, consent.kind(), params)
            .map_err(Error::from)?;
        let accounts =
            accounts::to_bind(self.core.as_ref(), &consent, &customer, &body.account_ids).await?;
        let authorised = consent
            .clone()
            .authorise(customer.id, accounts, now)
            .map_err(Error::from)?;
        let code = self
            .authority
            .authorise(&app, &consent, &authorised, params, now)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::AuthorizeConsentResponse {
            code,
            iss: issuer,
            state: body.state,
            error: String::new(),
            redirect_uri,
        }))
    }

    async fn list_test_users(
        &self,
        request: Request<pb::ListTestUsersRequest>,
    ) -> Result<Response<pb::ListTestUsersResponse>, Status> {
        request.app()?;
        let now = self.clock.now();
        let mut users = Vec::new();
        for user in seed::TEST_USERS {
            // A user missing from the database (a bank's own data set) is not listed.
            let Some(row) = customers::find_by_username(&self.db, user.username)
                .await
                .or_internal()?
            else {
                continue;
            };
            let customer_id = row
                .id
                .parse()
                .map_err(|_| wekeza_store::Error::Corrupt(format!("customers.id of {}", row.id)))
                .or_internal()?;
            let query = AccountQuery {
                only: None,
                after_id: None,
                limit: wekeza_ledger::MAX_PAGE_SIZE,
            };
            let accounts = self
                .core
                .accounts(&customer_id, &query)
                .await
                .or_internal()?;
            let current_otp = self
                .authority
                .current_otp(&row.totp_secret, now)
                .map_err(Error::from)?;
            users.push(pb::TestUser {
                username: user.username.to_owned(),
                password: user.password.to_owned(),
                customer_id: row.id,
                persona: user.description.to_owned(),
                totp_secret: row.totp_secret,
                current_otp,
                account_ids: accounts.into_iter().map(|a| a.id.to_string()).collect(),
            });
        }
        Ok(Response::new(pb::ListTestUsersResponse { users }))
    }

    async fn reset_sandbox(
        &self,
        request: Request<pb::ResetSandboxRequest>,
    ) -> Result<Response<pb::ResetSandboxResponse>, Status> {
        let principal = request.app()?.clone();
        let app = self.app(&principal).await?;
        let reset = reset::app(&self.db, &app.id, self.clock.now()).await?;
        tracing::info!(
            consents = reset.consents,
            payments = reset.payments,
            holds_released = reset.undone.released,
            settlements_reversed = reset.undone.reversed,
            "sandbox reset"
        );
        Ok(Response::new(pb::ResetSandboxResponse {
            deleted_consent_count: i64::try_from(reset.consents).unwrap_or(i64::MAX),
            deleted_payment_count: i64::try_from(reset.payments).unwrap_or(i64::MAX),
        }))
    }

    #[tracing::instrument(skip_all, fields(payment_id = %request.get_ref().payment_id))]
    async fn simulate_payment_status(
        &self,
        request: Request<pb::SimulatePaymentStatusRequest>,
    ) -> Result<Response<pb::SimulatePaymentStatusResponse>, Status> {
        let principal = request.app()?.clone();
        let body = request.into_inner();
        let app = self.app(&principal).await?;
        let payment_id: PaymentId = body
            .payment_id
            .parse()
            .map_err(|_| Error::PaymentNotFound)?;
        let payment = payments::find(&self.db, &payment_id)
            .await
            .or_internal()?
            .filter(|payment| payment.app_id == app.id)
            .ok_or(Error::PaymentNotFound)?;
        let target = Target::of(body.status, &body.status_reason)?;
        if !wekeza_fraud::sandbox::held_for_simulation(payment.amount, &payment.creditor.name) {
            return Err(Error::NotHeldForSimulation.into());
        }
        let moved = simulate::drive(
            &self.steps,
            payment,
            target,
            &app.client_id,
            self.clock.now(),
        )
        .await?;
        tracing::info!(status = ?moved.status, "sandbox payment status simulated");
        Ok(Response::new(pb::SimulatePaymentStatusResponse {
            payment: Some(wire::payment(&moved)),
        }))
    }

    async fn fire_event(
        &self,
        request: Request<pb::FireEventRequest>,
    ) -> Result<Response<pb::FireEventResponse>, Status> {
        let principal = request.app()?.clone();
        let body = request.into_inner();
        let now = self.clock.now();
        let app = self.app(&principal).await?;
        let kind = EventType::parse(&body.event_type).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.name()).collect();
            Error::InvalidField("event_type", format!("must be one of {}", known.join(", ")))
        })?;
        let (aggregate_id, payload) = if body.resource_id.is_empty() {
            catalogue::sample(kind, &app.id, &app.client_id, now)
        } else {
            fire::about(
                &self.db,
                self.core.as_ref(),
                &app,
                kind,
                &body.resource_id,
                now,
            )
            .await?
        };
        let event = record::fired(&self.db, &aggregate_id, payload, &app.client_id, now)
            .await
            .or_internal()?;
        tracing::info!(event_id = %event.event_id, event_type = %kind, "sandbox event fired");
        Ok(Response::new(pb::FireEventResponse { event: Some(event) }))
    }

    async fn approve_decoupled_authorization(
        &self,
        request: Request<pb::ApproveDecoupledAuthorizationRequest>,
    ) -> Result<Response<pb::ApproveDecoupledAuthorizationResponse>, Status> {
        let principal = request.app()?.clone();
        let body = request.into_inner();
        let now = self.clock.now();
        let app = self.app(&principal).await?;
        let pending = self
            .authority
            .decoupled_request(&app, &body.auth_req_id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::DecoupledAuthorizationNotFound)?;
        let consent_id: ConsentId = pending
            .consent_id
            .parse()
            .map_err(|_| wekeza_store::Error::Corrupt("backchannel_requests.consent_id".into()))
            .or_internal()?;
        let consent = consents::find(&self.db, &consent_id)
            .await
            .or_internal()?
            .filter(|consent| consent.app_id == app.id)
            .ok_or(Error::DecoupledAuthorizationNotFound)?;
        let scope = consent.kind().required_scope();
        if !principal.has_scope(scope) {
            return Err(Error::InsufficientScope(scope).into());
        }
        let username = username(&body.username)?;
        let customer = self
            .core
            .customer_by_username(&username)
            .await
            .or_internal()?
            .filter(|customer| customer.id.as_str() == pending.customer_id)
            .ok_or_else(|| {
                Error::InvalidField("username", "is not the user the request names".into())
            })?;
        if pending.status != BackchannelStatus::Pending {
            return Err(Error::DecoupledAuthorizationClosed("was already decided").into());
        }
        if now >= pending.expires_at {
            return Err(Error::DecoupledAuthorizationClosed("has expired").into());
        }
        let decided = if body.deny {
            consent.clone().reject(now).map_err(Error::from)?
        } else {
            let accounts =
                accounts::to_bind(self.core.as_ref(), &consent, &customer, &body.account_ids)
                    .await?;
            consent
                .clone()
                .authorise(customer.id, accounts, now)
                .map_err(Error::from)?
        };
        self.authority
            .decide_decoupled(&app, &body.auth_req_id, &consent, &decided, now)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ApproveDecoupledAuthorizationResponse {
            auth_req_id: body.auth_req_id,
            consent_id: consent.id.to_string(),
            denied: body.deny,
        }))
    }
}
