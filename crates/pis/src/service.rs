//! `PaymentService`: creating a payment under an authorised payment consent, and reading it.
//!
//! # CreatePayment, step by step
//!
//! 1. **Idempotency first.** A read-only look-up of `(app, Idempotency-Key)`: a key used before
//!    answers its stored response (same body) or `IDEMPOTENCY_KEY_REUSED` (other body), whatever
//!    else is wrong with the request. A refusal found later is checked against the key again,
//!    so a request that raced the key's first use answers what that use answered.
//! 2. **The consent.** It must be the token's consent, the app's and the customer's (else
//!    NOT_FOUND), a payment consent, usable now (`CONSENT_EXPIRED`, `CONSENT_REVOKED`,
//!    `CONSENT_CONSUMED`, `CONSENT_NOT_AUTHORISED`, `CONSENT_REJECTED`), and what the request
//!    repeats of it must equal it (`CONSENT_MISMATCH`, with field violations).
//! 3. **The debtor account:** the consent's debtor account number, else the account bound at
//!    authorisation, else the customer's primary current account in the payment's currency.
//! 4. **Fraud.** The [`RiskAssessor`] scores the attempt (with the FAPI customer headers
//!    `x-fapi-customer-ip-address` and `user-agent`) against the customer's history. Reject →
//!    `FRAUD_SUSPECTED`; step-up → `STEP_UP_REQUIRED`; the decision and its reasons go to the
//!    audit trail (an [`AuditSink`] record of kind `fraud`), never to the app. In the sandbox, `99.99` then answers
//!    `INSUFFICIENT_FUNDS`.
//! 5. **One transaction:** claim the key, consume the consent (conditional on AUTHORISED), hold
//!    the funds (conditional on the available balance), insert the PENDING payment, append its
//!    events, store the response. Any refusal rolls all of it back.
//!
//! A refused request leaves nothing behind — not even its idempotency key, which only a
//! successful payment records: after `INSUFFICIENT_FUNDS` (the consent stays AUTHORISED) or a
//! step-up, the app may retry with the same key once the customer has topped up or passed the
//! extra factor. Storing refusals would pin the first answer to a key that the same retry
//! should be able to turn into a payment.
//!
//! # Step-up
//!
//! `STEP_UP_REQUIRED` tells the app to send the customer through a step-up: an authorization
//! request for the same (still authorised) consent with
//! `acr_values=urn:wekeza:acr:step-up`, where the customer signs in again with both factors.
//! The tokens it yields carry the step-up ([`Principal::step_up_at`]); with one at most
//! [`STEP_UP_MAX_AGE`](wekeza_domain::STEP_UP_MAX_AGE) old, a step-up decision lets the
//! payment through (a rejection never does).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use tokio::sync::Notify;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use wekeza_domain::{
    AppId, AuditEvent, AuditKind, AuditSink, Clock, Consent, ConsentId, ConsentTerms, Creditor,
    CustomerId, NewPayment, Payment, PaymentId, PaymentTerms, Principal,
};
use wekeza_events::record::{self, StatusWrite};
use wekeza_fraud::sandbox::MagicOutcome;
use wekeza_fraud::{Assessment, Decision, PaymentAttempt, RiskAssessor};
use wekeza_ledger::{Account, AccountQuery, AccountStatus, CoreBanking};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::payment_service_server::PaymentService;
use wekeza_rpc::idempotency::{self as idempotency_key, IdempotencyError};
use wekeza_rpc::{OrInternal, RequestExt, wire};
use wekeza_store::apps::{self, App};
use wekeza_store::holds::{self, Placement};
use wekeza_store::idempotency::{self, Claim};
use wekeza_store::{DatabaseConnection, TransactionTrait, consents, payments};

use crate::history::StoreHistory;
use crate::{Error, validate};

/// The operation idempotency keys of `CreatePayment` are recorded under (its gRPC path).
const CREATE_PAYMENT: &str = "/wekeza.openbanking.v1.PaymentService/CreatePayment";

/// The FAPI header carrying the customer's IP address, as the app saw it.
const CUSTOMER_IP_HEADER: &str = "x-fapi-customer-ip-address";

/// The Payment Initiation service.
#[derive(Debug, Clone)]
pub struct Payments {
    /// Payments, consents, holds, idempotency records and the outbox live here.
    db: DatabaseConnection,
    /// Accounts (the debtor's) come from the core.
    core: Arc<dyn CoreBanking>,
    /// Stamps changes and decides consent expiry; injectable for tests.
    clock: Arc<dyn Clock>,
    /// Scores every payment before it is accepted.
    assessor: Arc<dyn RiskAssessor>,
    /// The customer's past payments and debits, for the assessor.
    history: StoreHistory,
    /// Whether the sandbox magic values act (`99.99` → insufficient funds).
    sandbox: bool,
    /// Wakes the settlement worker when a payment is created, so settlement starts at once.
    settlement: Arc<Notify>,
    /// Where every fraud decision is recorded with its reasons.
    audit: Arc<dyn AuditSink>,
}

impl Payments {
    /// A service over `db`: accounts from `core`, time from `clock`, risk from `assessor`;
    /// `settlement` is notified of every new payment; fraud decisions go to `audit`.
    pub fn new(
        db: DatabaseConnection,
        core: Arc<dyn CoreBanking>,
        clock: Arc<dyn Clock>,
        assessor: Arc<dyn RiskAssessor>,
        sandbox: bool,
        settlement: Arc<Notify>,
        audit: Arc<dyn AuditSink>,
    ) -> Self {
        Self {
            history: StoreHistory::new(db.clone()),
            db,
            core,
            clock,
            assessor,
            sandbox,
            settlement,
            audit,
        }
    }

    /// What the key's record says about this request, if it was used before.
    async fn replayed(
        &self,
        key: idempotency::Key<'_>,
        request_hash: &str,
    ) -> Result<Option<pb::CreatePaymentResponse>, Error> {
        match idempotency::peek(&self.db, key, request_hash).await? {
            None | Some(Claim::Fresh) => Ok(None),
            Some(Claim::Replay(stored)) => Ok(Some(decode(&stored)?)),
            Some(Claim::Mismatch) => Err(IdempotencyError::Reused.into()),
        }
    }

    /// Steps 2 to 5 of the module doc.
    async fn create(
        &self,
        caller: &Caller,
        body: &pb::CreatePaymentRequest,
        key: idempotency::Key<'_>,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<pb::CreatePaymentResponse, Error> {
        let (consent, terms) = self.usable_consent(caller, body, now).await?;
        validate::matches_consent(body, &terms)?;
        let debtor = self
            .debtor_account(&consent, &terms, &caller.customer_id)
            .await?;
        let app = apps::find(&self.db, &caller.app_id)
            .await?
            .ok_or(Error::UnknownApp)?;
        let payment = Payment::new(
            NewPayment {
                id: PaymentId::new_monotonic(now),
                app_id: app.id.clone(),
                consent_id: consent.id.clone(),
                customer_id: caller.customer_id.clone(),
                debtor_account_id: debtor.id,
                amount: terms.amount,
                creditor: Creditor {
                    name: terms.creditor_name.clone(),
                    account_number: terms.creditor_account.clone(),
                },
                reference: terms.reference.clone(),
            },
            now,
        );
        self.check_risk(caller, &payment, now).await?;
        let magic = self
            .sandbox
            .then(|| wekeza_fraud::sandbox::find(payment.amount, &payment.creditor.name))
            .flatten();
        if magic.is_some_and(|magic| magic.outcome == MagicOutcome::InsufficientFunds) {
            return Err(Error::InsufficientFunds);
        }
        self.record(&consent, &payment, &app, key, request_hash, now)
            .await
    }

    /// The token's consent, if it is a usable payment consent of the caller.
    async fn usable_consent(
        &self,
        caller: &Caller,
        body: &pb::CreatePaymentRequest,
        now: DateTime<Utc>,
    ) -> Result<(Consent, PaymentTerms), Error> {
        if body.consent_id.is_empty() {
            return Err(Error::InvalidRequest(vec![(
                "consent_id".to_owned(),
                "is required".to_owned(),
            )]));
        }
        let id: ConsentId = body
            .consent_id
            .parse()
            .map_err(|_| Error::ConsentNotFound)?;
        if id != caller.consent_id {
            return Err(Error::ConsentNotFound);
        }
        let consent = consents::find(&self.db, &id)
            .await?
            // A consent no customer decided on yet has no customer: its status answers.
            .filter(|consent| {
                consent.app_id == caller.app_id
                    && consent
                        .customer_id
                        .as_ref()
                        .is_none_or(|customer| customer == &caller.customer_id)
            })
            .ok_or(Error::ConsentNotFound)?;
        let ConsentTerms::Payment(terms) = &consent.terms else {
            return Err(mismatch("is not a payment consent"));
        };
        let terms = terms.clone();
        consent.check_usable(now).map_err(Error::ConsentNotUsable)?;
        Ok((consent, terms))
    }

    /// The account the payment debits; see step 3 of the module doc.
    async fn debtor_account(
        &self,
        consent: &Consent,
        terms: &PaymentTerms,
        customer: &CustomerId,
    ) -> Result<Account, Error> {
        let currency = terms.amount.currency();
        let account = match (&terms.debtor_account, consent.account_ids.first()) {
            (Some(number), _) => self.core.account_by_number(number).await?,
            (None, Some(id)) => self.core.account(id).await?,
            (None, None) => {
                let query = AccountQuery {
                    limit: wekeza_ledger::MAX_PAGE_SIZE,
                    ..AccountQuery::default()
                };
                let mut bindable: Vec<Account> = self
                    .core
                    .accounts(customer, &query)
                    .await?
                    .into_iter()
                    .filter(|account| consent.terms.may_bind(&account.bindable()))
                    .collect();
                // The primary account if it qualifies, else the oldest that does.
                bindable.sort_by_key(|account| !account.is_primary);
                bindable.into_iter().next()
            }
        };
        let account = account
            .filter(|account| &account.customer_id == customer)
            .ok_or_else(|| mismatch("names no debtor account of the customer"))?;
        if account.currency != currency {
            return Err(mismatch(
                "names a debtor account not held in the payment's currency",
            ));
        }
        if account.status != AccountStatus::Enabled {
            return Err(mismatch("names a disabled debtor account"));
        }
        Ok(account)
    }

    /// Scores the payment; refuses it on a rejection or a step-up.
    async fn check_risk(
        &self,
        caller: &Caller,
        payment: &Payment,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let attempt = PaymentAttempt {
            payment_id: payment.id.clone(),
            consent_id: payment.consent_id.clone(),
            customer_id: payment.customer_id.clone(),
            debtor_account_id: payment.debtor_account_id.clone(),
            amount: payment.amount,
            creditor: wekeza_fraud::Creditor {
                name: payment.creditor.name.clone(),
                account_number: payment.creditor.account_number.clone(),
            },
            reference: payment.reference.clone(),
            client_id: caller.app_id.clone(),
            customer_ip: caller.customer_ip.clone(),
            user_agent: caller.user_agent.clone(),
            device_id: None,
            at: now,
        };
        let assessment = self.assessor.assess(&attempt, &self.history, now).await;
        self.audit
            .record(fraud_decision(&attempt, &assessment, now));
        match assessment.decision {
            Decision::Allow => Ok(()),
            Decision::StepUp if stepped_up(caller, now) => Ok(()),
            Decision::StepUp => Err(Error::StepUpRequired),
            Decision::Reject => Err(Error::FraudSuspected),
        }
    }

    /// Step 5: everything the payment changes, in one transaction.
    async fn record(
        &self,
        consent: &Consent,
        payment: &Payment,
        app: &App,
        key: idempotency::Key<'_>,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<pb::CreatePaymentResponse, Error> {
        let txn = self.db.begin().await?;
        match idempotency::claim(&txn, key, request_hash, now).await? {
            Claim::Fresh => {}
            Claim::Replay(stored) => return decode(&stored),
            Claim::Mismatch => return Err(IdempotencyError::Reused.into()),
        }
        let consumed = consent
            .clone()
            .consume(now)
            .map_err(|error| Error::ConsentNotUsable(error.reason()))?;
        if record::consent_transition(&txn, consent, &consumed, &app.client_id, now).await?
            == StatusWrite::Conflict
        {
            // Another request moved the consent first: say what it is now.
            let current = consents::find(&txn, &consent.id)
                .await?
                .ok_or(Error::ConsentNotFound)?;
            return Err(match current.check_usable(now) {
                Err(reason) => Error::ConsentNotUsable(reason),
                Ok(()) => Error::ConcurrentModification,
            });
        }
        let placement = holds::place(
            &txn,
            payment.id.as_str(),
            &payment.debtor_account_id,
            payment.amount,
            now,
        )
        .await?;
        if placement == Placement::Refused {
            return Err(Error::InsufficientFunds);
        }
        record::payment_created(&txn, payment, &app.client_id, now).await?;
        let response = pb::CreatePaymentResponse {
            payment: Some(wire::payment(payment)),
        };
        idempotency::complete(&txn, key, response.encode_to_vec()).await?;
        txn.commit().await?;
        tracing::info!(payment_id = %payment.id, consent_id = %consent.id, "payment created");
        self.settlement.notify_one();
        Ok(response)
    }
}

/// The caller of `CreatePayment`, as the handler needs it.
#[derive(Debug, Clone)]
struct Caller {
    app_id: AppId,
    customer_id: CustomerId,
    consent_id: ConsentId,
    /// `x-fapi-customer-ip-address`, as sent.
    customer_ip: Option<String>,
    /// `user-agent`, as sent.
    user_agent: Option<String>,
    /// When the customer passed a step-up for this consent, if the token comes from one.
    step_up_at: Option<DateTime<Utc>>,
}

fn mismatch(description: &str) -> Error {
    Error::ConsentMismatch(vec![(
        "consent_id".to_owned(),
        format!("the consent {description}"),
    )])
}

fn decode(stored: &[u8]) -> Result<pb::CreatePaymentResponse, Error> {
    Ok(pb::CreatePaymentResponse::decode(stored)?)
}

/// Whether the caller's token comes from a step-up the customer passed for this consent at
/// most [`STEP_UP_MAX_AGE`](wekeza_domain::STEP_UP_MAX_AGE) ago.
fn stepped_up(caller: &Caller, now: DateTime<Utc>) -> bool {
    caller
        .step_up_at
        .is_some_and(|at| at <= now && now - at <= wekeza_domain::STEP_UP_MAX_AGE)
}

/// The audit record of the assessment: the only place its reasons go.
fn fraud_decision(
    attempt: &PaymentAttempt,
    assessment: &Assessment,
    now: DateTime<Utc>,
) -> AuditEvent {
    let reasons: Vec<String> = assessment
        .reasons
        .iter()
        .map(|reason| reason.code.clone())
        .collect();
    AuditEvent::new(AuditKind::Fraud, assessment.decision.as_str(), now)
        .app(Some(attempt.client_id.clone()))
        .customer(Some(attempt.customer_id.clone()))
        .detail("paymentId", attempt.payment_id.as_str())
        .detail("consentId", attempt.consent_id.as_str())
        .detail("score", i64::from(assessment.score))
        .detail("source", assessment.source.as_str())
        .detail("reasons", reasons)
        .detail_if(
            "externalAssessmentId",
            assessment.external_assessment_id.clone(),
        )
}

/// A text header as sent, if present and printable.
fn header(metadata: &MetadataMap, name: &str) -> Option<String> {
    metadata
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn caller(
    principal: &Principal,
    customer_id: &CustomerId,
    consent_id: &ConsentId,
    metadata: &MetadataMap,
) -> Caller {
    Caller {
        app_id: principal.app_id.clone(),
        customer_id: customer_id.clone(),
        consent_id: consent_id.clone(),
        customer_ip: header(metadata, CUSTOMER_IP_HEADER),
        user_agent: header(metadata, "user-agent"),
        step_up_at: principal.step_up_at,
    }
}

#[tonic::async_trait]
impl PaymentService for Payments {
    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::CreatePaymentResponse>, Status> {
        let customer = request.customer()?;
        let caller = caller(
            customer.principal,
            customer.customer_id,
            &customer.consent.consent_id,
            request.metadata(),
        );
        let header = idempotency_key::key(request.metadata())?;
        let body = request.into_inner();
        let now = self.clock.now();
        let key = idempotency::Key {
            app: &caller.app_id,
            key: &header,
            operation: CREATE_PAYMENT,
        };
        let hash = idempotency_key::request_hash(&body);
        if let Some(response) = self.replayed(key, &hash).await? {
            return Ok(Response::new(response));
        }
        match self.create(&caller, &body, key, &hash, now).await {
            Ok(response) => Ok(Response::new(response)),
            // A request with the same key may have committed while this one was refused (the
            // consent it consumed then looks consumed here): its answer wins.
            Err(error) if error.is_refusal() => match self.replayed(key, &hash).await? {
                Some(response) => Ok(Response::new(response)),
                None => Err(error.into()),
            },
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(payment_id = %request.get_ref().payment_id))]
    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        let principal = request.app()?;
        let id: PaymentId = request
            .get_ref()
            .payment_id
            .parse()
            .map_err(|_| Error::PaymentNotFound)?;
        let payment = payments::find(&self.db, &id)
            .await
            .or_internal()?
            .filter(|payment| payment.app_id == principal.app_id)
            .ok_or(Error::PaymentNotFound)?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(wire::payment(&payment)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fapi_headers_are_read_as_sent() {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            CUSTOMER_IP_HEADER,
            "203.0.113.7".parse().unwrap_or_else(|_| unreachable!()),
        );
        metadata.insert(
            "user-agent",
            "Mozilla/5.0".parse().unwrap_or_else(|_| unreachable!()),
        );
        let principal = Principal {
            app_id: AppId::new_random(Utc::now()),
            scopes: Default::default(),
            customer_id: None,
            consent: None,
            step_up_at: None,
        };
        let customer = CustomerId::new_random(Utc::now());
        let consent = ConsentId::new_random(Utc::now());
        let caller = caller(&principal, &customer, &consent, &metadata);
        assert_eq!(caller.customer_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(caller.user_agent.as_deref(), Some("Mozilla/5.0"));
    }
}
