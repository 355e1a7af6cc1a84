//! Test doubles: a payment, an in-memory history, and a fake fraud system served over a real
//! socket that answers, stalls or fails as told and records what it was asked.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};
use wekeza_domain::{AccountId, AppId, ConsentId, Currency, CustomerId, Money, PaymentId};
use wekeza_fraud::{Creditor, Error, FraudConfig, PastDebit, PaymentAttempt, RiskHistory};
use wekeza_proto::wekeza::fraud::v1::risk_assessment_service_server::{
    RiskAssessmentService, RiskAssessmentServiceServer,
};
use wekeza_proto::wekeza::fraud::v1::{
    AssessPaymentRequest, AssessPaymentResponse, RiskDecision, RiskReason,
};

/// 2026-03-10 12:00 UTC, 15:00 in Nairobi.
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

pub fn kes(decimal: &str) -> Money {
    Money::parse(decimal, "KES").unwrap()
}

/// An unremarkable KES 1,000.00 payment to a creditor the customer has paid before.
pub fn attempt() -> PaymentAttempt {
    PaymentAttempt {
        payment_id: PaymentId::new_random(noon()),
        consent_id: ConsentId::new_random(noon()),
        customer_id: CustomerId::new_random(noon()),
        debtor_account_id: AccountId::new_random(noon()),
        amount: Money::from_minor(1_000_00, Currency::Kes),
        creditor: Creditor {
            name: "Jane Wanjiru".into(),
            account_number: KNOWN_CREDITOR.into(),
        },
        reference: "March rent".into(),
        client_id: AppId::new_random(noon()),
        customer_ip: Some("196.201.214.10".into()),
        user_agent: Some("Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile".into()),
        device_id: Some("dev-android-7".into()),
        at: noon(),
    }
}

pub const KNOWN_CREDITOR: &str = "0011223344";

/// The customer's past, in memory.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    pub debits: Vec<PastDebit>,
    pub paid: HashSet<String>,
}

impl MemoryHistory {
    /// A customer who has paid [`KNOWN_CREDITOR`] before and nothing recently.
    pub fn usual() -> Self {
        Self {
            debits: Vec::new(),
            paid: HashSet::from([KNOWN_CREDITOR.to_owned()]),
        }
    }
}

#[async_trait]
impl RiskHistory for MemoryHistory {
    async fn debits_since(
        &self,
        _: &CustomerId,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastDebit>, Error> {
        Ok(self
            .debits
            .iter()
            .filter(|d| d.at >= since)
            .cloned()
            .collect())
    }

    async fn has_paid_creditor(&self, _: &CustomerId, account: &str) -> Result<bool, Error> {
        Ok(self.paid.contains(account))
    }
}

/// What the fake fraud system does with each call.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers at once.
    Answer(AssessPaymentResponse),
    /// Answers after a delay.
    Slow(Duration, AssessPaymentResponse),
    /// Fails with this code.
    Fail(Code),
}

/// An answer with `decision` and `score` and one reason.
pub fn answer(decision: RiskDecision, score: i32) -> AssessPaymentResponse {
    AssessPaymentResponse {
        score,
        decision: decision as i32,
        reasons: vec![RiskReason {
            code: "MULE_NETWORK".into(),
            description: "creditor linked to a mule network".into(),
        }],
        assessment_id: "fa_0001".into(),
    }
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: AssessPaymentRequest,
    /// The `grpc-timeout` header, as sent.
    pub grpc_timeout: Option<String>,
}

#[derive(Clone)]
struct Fake {
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[async_trait]
impl RiskAssessmentService for Fake {
    async fn assess_payment(
        &self,
        request: Request<AssessPaymentRequest>,
    ) -> Result<Response<AssessPaymentResponse>, Status> {
        let grpc_timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        self.seen.lock().unwrap().push(Seen {
            request: request.into_inner(),
            grpc_timeout,
        });
        match &self.behaviour {
            Behaviour::Answer(response) => Ok(Response::new(response.clone())),
            Behaviour::Slow(delay, response) => {
                tokio::time::sleep(*delay).await;
                Ok(Response::new(response.clone()))
            }
            Behaviour::Fail(code) => Err(Status::new(*code, "the fake fraud system fails")),
        }
    }
}

/// A real tonic server on an ephemeral port; stops when dropped.
pub struct FraudSystem {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl FraudSystem {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fake = Fake {
            behaviour,
            seen: seen.clone(),
        };
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(RiskAssessmentServiceServer::new(fake))
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        Self { addr, seen, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A configuration pointing at this server with `deadline_ms`.
    pub fn config(&self, deadline_ms: u64) -> FraudConfig {
        let mut config = FraudConfig::default();
        config.external.addr = Some(self.url());
        config.external.deadline_ms = deadline_ms;
        config
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FraudSystem {
    fn drop(&mut self) {
        self.task.abort();
    }
}
