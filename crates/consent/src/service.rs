//! `ConsentService`: an app's consents (create, get, revoke), the consents a customer gave the
//! calling app, and funds confirmation.
//!
//! Every handler authorizes on its first line and answers NOT_FOUND for any consent that is not
//! the caller's, so consent ids cannot be probed. Each state change — the consent row, its
//! event and, for creates, the idempotency record — commits in one transaction.

use std::sync::Arc;

use prost::Message;
use tonic::{Request, Response, Status};
use wekeza_domain::{
    AppId, Clock, Consent, ConsentId, ConsentKind, ConsentStatus, ConsentTerms, Principal,
};
use wekeza_events::record::{self, StatusWrite};
use wekeza_ledger::{Account, CoreBanking};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::consent_service_server::ConsentService;
use wekeza_rpc::idempotency::{self as idempotency_key, IdempotencyError};
use wekeza_rpc::wire::timestamp;
use wekeza_rpc::{ApiError, OrInternal, PageRequest, RequestExt};
use wekeza_store::apps::{self, App};
use wekeza_store::idempotency::{self, Claim};
use wekeza_store::{ConnectionTrait, DatabaseConnection, TransactionTrait, consents};

use crate::convert::{self, Client};
use crate::{Error, validate};

/// The operation idempotency keys of `CreateConsent` are recorded under (its gRPC path).
const CREATE_CONSENT: &str = "/wekeza.openbanking.v1.ConsentService/CreateConsent";

/// How often a revocation re-reads a consent another request changed under it. Each conflict
/// means a transition happened, and a lifecycle has at most two before a final status, so the
/// third attempt always decides.
const REVOKE_ATTEMPTS: usize = 3;

/// The Consent service.
#[derive(Debug, Clone)]
pub struct Consents {
    /// Consents, idempotency records and the outbox live here.
    db: DatabaseConnection,
    /// Balances for funds confirmation.
    core: Arc<dyn CoreBanking>,
    /// Stamps changes and decides expiry; injectable for tests.
    clock: Arc<dyn Clock>,
}

impl Consents {
    /// A service over `db`, asking `core` for balances and `clock` for the time.
    pub fn new(db: DatabaseConnection, core: Arc<dyn CoreBanking>, clock: Arc<dyn Clock>) -> Self {
        Self { db, core, clock }
    }

    /// The consent if it is `app`'s; NOT_FOUND for malformed, unknown and other apps' ids alike.
    async fn app_consent(
        &self,
        db: &impl ConnectionTrait,
        app: &AppId,
        consent_id: &str,
    ) -> Result<Consent, Error> {
        let id: ConsentId = consent_id.parse().map_err(|_| Error::ConsentNotFound)?;
        consents::find(db, &id)
            .await?
            .filter(|consent| &consent.app_id == app)
            .ok_or(Error::ConsentNotFound)
    }

    /// The debtor account of a funds check: the one bound while authorising, else the one the
    /// app named. It must be the customer's.
    async fn debtor_account(
        &self,
        consent: &Consent,
        customer: &wekeza_domain::CustomerId,
    ) -> Result<Account, Error> {
        let account = match (consent.account_ids.first(), consent.terms.debtor_account()) {
            (Some(id), _) => self.core.account(id).await?,
            (None, Some(number)) => self.core.account_by_number(number).await?,
            (None, None) => None,
        };
        account
            .filter(|account| &account.customer_id == customer)
            .ok_or(Error::ConsentMismatch(
                "the consent names no debtor account of the customer",
            ))
    }
}

/// The app and how clients see it; loaded in the caller's transaction.
async fn app(db: &impl ConnectionTrait, principal: &Principal) -> Result<App, Error> {
    apps::find(db, &principal.app_id)
        .await?
        .ok_or(Error::UnknownApp)
}

fn client(app: &App) -> Client<'_> {
    Client {
        id: &app.client_id,
        name: &app.name,
    }
}

/// Refuses unless the token carries the scope that consents of this kind need.
fn require_scope(principal: &Principal, kind: ConsentKind) -> Result<(), Error> {
    let scope = kind.required_scope();
    if principal.has_scope(scope) {
        Ok(())
    } else {
        Err(Error::InsufficientScope(scope))
    }
}

#[tonic::async_trait]
impl ConsentService for Consents {
    async fn create_consent(
        &self,
        request: Request<pb::CreateConsentRequest>,
    ) -> Result<Response<pb::CreateConsentResponse>, Status> {
        let principal = request.app()?.clone();
        let header = idempotency_key::key(request.metadata())?;
        let body = request.into_inner();
        let now = self.clock.now();
        let key = idempotency::Key {
            app: &principal.app_id,
            key: &header,
            operation: CREATE_CONSENT,
        };
        let txn = self.db.begin().await.or_internal()?;
        // The idempotency check comes first, whatever else is wrong with the request.
        match idempotency::claim(&txn, key, &idempotency_key::request_hash(&body), now)
            .await
            .or_internal()?
        {
            Claim::Fresh => {}
            Claim::Replay(stored) => {
                let response =
                    pb::CreateConsentResponse::decode(stored.as_slice()).or_internal()?;
                return Ok(Response::new(response));
            }
            Claim::Mismatch => return Err(IdempotencyError::Reused.into()),
        }
        let kind = validate::kind(body.r#type)?;
        require_scope(&principal, kind)?;
        let (terms, expires_at) = validate::create(&body, kind, now)?;
        let app = app(&txn, &principal).await?;
        let consent = Consent::new(
            ConsentId::new_monotonic(now),
            app.id.clone(),
            terms,
            expires_at,
            now,
        );
        record::consent_created(&txn, &consent, &app.client_id, now)
            .await
            .or_internal()?;
        let response = pb::CreateConsentResponse {
            consent: Some(convert::consent(&consent, client(&app))),
        };
        idempotency::complete(&txn, key, response.encode_to_vec())
            .await
            .or_internal()?;
        txn.commit().await.or_internal()?;
        tracing::info!(consent_id = %consent.id, "consent created");
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn get_consent(
        &self,
        request: Request<pb::GetConsentRequest>,
    ) -> Result<Response<pb::GetConsentResponse>, Status> {
        let principal = request.app()?;
        let consent = self
            .app_consent(&self.db, &principal.app_id, &request.get_ref().consent_id)
            .await?;
        require_scope(principal, consent.kind())?;
        let app = app(&self.db, principal).await?;
        let shown = consent.as_of(self.clock.now());
        Ok(Response::new(pb::GetConsentResponse {
            consent: Some(convert::consent(&shown, client(&app))),
        }))
    }

    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        let principal = request.app()?;
        let consent_id = &request.get_ref().consent_id;
        for _ in 0..REVOKE_ATTEMPTS {
            let now = self.clock.now();
            let txn = self.db.begin().await.or_internal()?;
            let consent = self
                .app_consent(&txn, &principal.app_id, consent_id)
                .await?;
            require_scope(principal, consent.kind())?;
            let app = app(&txn, principal).await?;
            // Revoking twice answers the revoked consent unchanged.
            if consent.status_at(now) == ConsentStatus::Revoked {
                return Ok(Response::new(pb::RevokeConsentResponse {
                    consent: Some(convert::consent(&consent, client(&app))),
                }));
            }
            let revoked = consent.clone().revoke(now).map_err(Error::from)?;
            let write = record::consent_transition(&txn, &consent, &revoked, &app.client_id, now)
                .await
                .or_internal()?;
            if write == StatusWrite::Conflict {
                continue;
            }
            txn.commit().await.or_internal()?;
            tracing::info!(consent_id = %revoked.id, "consent revoked");
            return Ok(Response::new(pb::RevokeConsentResponse {
                consent: Some(convert::consent(&revoked, client(&app))),
            }));
        }
        Err(Error::ConcurrentModification.into())
    }

    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn get_funds_confirmation(
        &self,
        request: Request<pb::GetFundsConfirmationRequest>,
    ) -> Result<Response<pb::GetFundsConfirmationResponse>, Status> {
        let caller = request.customer()?;
        let now = self.clock.now();
        let id: ConsentId = request
            .get_ref()
            .consent_id
            .parse()
            .map_err(|_| Error::ConsentNotFound)?;
        if id != caller.consent.consent_id {
            return Err(Error::ConsentNotFound.into());
        }
        let consent = self
            .app_consent(&self.db, &caller.principal.app_id, id.as_str())
            .await?;
        if consent.customer_id.as_ref() != Some(caller.customer_id) {
            return Err(Error::ConsentNotFound.into());
        }
        let amount = match &consent.terms {
            ConsentTerms::FundsConfirmation(terms) => terms.amount,
            ConsentTerms::Payment(terms) => terms.amount,
            ConsentTerms::AccountAccess { .. } => {
                return Err(Error::ConsentMismatch(
                    "funds can be confirmed only under a funds-confirmation or payment consent",
                )
                .into());
            }
        };
        consent.check_usable(now).map_err(Error::ConsentNotUsable)?;
        let account = self.debtor_account(&consent, caller.customer_id).await?;
        if account.currency != amount.currency() {
            return Err(Error::ConsentMismatch(
                "the debtor account is not held in the consent's currency",
            )
            .into());
        }
        let balance =
            self.core
                .balance(&account.id)
                .await
                .or_internal()?
                .ok_or(Error::ConsentMismatch(
                    "the consent names no debtor account of the customer",
                ))?;
        Ok(Response::new(pb::GetFundsConfirmationResponse {
            funds_available: balance.available.minor() >= amount.minor(),
            check_time: Some(timestamp(now)),
        }))
    }

    async fn list_customer_consents(
        &self,
        request: Request<pb::ListCustomerConsentsRequest>,
    ) -> Result<Response<pb::ListCustomerConsentsResponse>, Status> {
        let caller = request.customer()?;
        let body = request.get_ref();
        let now = self.clock.now();
        let app = &caller.principal.app_id;
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "customer_consents",
                app.as_str(),
                caller.customer_id.as_str(),
            ],
        )?;
        let before = page
            .after
            .as_deref()
            .map(str::parse::<ConsentId>)
            .transpose()
            .map_err(|_| {
                ApiError::new(
                    wekeza_domain::Reason::InvalidPageToken,
                    "page_token was not issued for this query",
                )
            })?;
        // An app sees only what the customer gave it, never their consents at other apps.
        let mut listed = consents::list_for_app_customer(
            &self.db,
            app,
            caller.customer_id,
            before.as_ref(),
            u64::from(page.fetch_limit()),
        )
        .await
        .or_internal()?;
        let next_page_token = page.finish(&mut listed, |item| item.consent.id.to_string());
        Ok(Response::new(pb::ListCustomerConsentsResponse {
            consents: listed
                .into_iter()
                .map(|item| {
                    let client = Client {
                        id: &item.client_id,
                        name: &item.client_name,
                    };
                    convert::consent(&item.consent.as_of(now), client)
                })
                .collect(),
            next_page_token,
        }))
    }
}
