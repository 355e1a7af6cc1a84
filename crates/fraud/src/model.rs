//! What is scored and what comes out: the [`PaymentAttempt`] the payment service describes, and
//! the [`Assessment`] — score, [`Decision`], [`RiskReason`]s and [`Source`] — it gets back.
//!
//! Reasons are for the audit trail and the bank's staff, never for the TPP: the payment service
//! answers a rejected payment with `FRAUD_SUSPECTED` and nothing more.

use chrono::{DateTime, Utc};
use serde::Serialize;
use wekeza_domain::{AccountId, AppId, ConsentId, CustomerId, Money, PaymentId};

/// The highest score; also the cap of the sum of the rules' points.
pub const MAX_SCORE: u8 = 100;

/// A payment the platform is about to accept, with the context it was requested in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAttempt {
    /// The payment's id, so the assessment can be filed with it.
    pub payment_id: PaymentId,
    /// The payment consent it is made under (sent to the bank's fraud system).
    pub consent_id: ConsentId,
    /// The paying customer, whose history the rules compare against.
    pub customer_id: CustomerId,
    /// The account debited.
    pub debtor_account_id: AccountId,
    /// How much is paid; positive.
    pub amount: Money,
    /// Who is paid; the blocklist, the new-payee rule and the sandbox magic names look at it.
    pub creditor: Creditor,
    /// The payment's reference, as the creditor sees it (sent to the bank's fraud system).
    pub reference: String,
    /// The app (OAuth2 client) initiating the payment.
    pub client_id: AppId,
    /// The customer's IP address as the app reported it (`x-fapi-customer-ip-address`), or the
    /// caller's; kept as received so a malformed value is itself a signal.
    pub customer_ip: Option<String>,
    /// The customer's user agent as the app reported it.
    pub user_agent: Option<String>,
    /// An identifier of the customer's device, if the app sent one.
    pub device_id: Option<String>,
    /// When the customer asked for the payment; the unusual-hour rule reads its local time.
    pub at: DateTime<Utc>,
}

/// The payee of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creditor {
    /// The creditor's name, as the app sent it.
    pub name: String,
    /// The creditor's account number, as the app sent it.
    pub account_number: String,
}

/// What to do with the payment. Ordered by severity: `Allow < StepUp < Reject`, so a floor is
/// applied with [`Ord::max`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Low risk: accept the payment.
    Allow,
    /// Elevated risk: accept it only after the customer passes a step-up (second-factor)
    /// authentication.
    StepUp,
    /// High risk: reject it with `FRAUD_SUSPECTED`.
    Reject,
}

impl Decision {
    /// The stored name, e.g. `STEP_UP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::StepUp => "STEP_UP",
            Self::Reject => "REJECT",
        }
    }
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    /// The embedded rules engine.
    Rules,
    /// The bank's fraud system, over `wekeza.fraud.v1`.
    External,
    /// The rules engine (or a fixed rejection) under the configured fallback policy, because
    /// the bank's fraud system timed out, was unavailable or failed.
    FallbackAfterExternalFailure,
    /// A sandbox magic value forced the outcome (see [`crate::sandbox`]); never in production.
    SandboxMagic,
}

impl Source {
    /// The stored name, e.g. `FALLBACK_AFTER_EXTERNAL_FAILURE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "RULES",
            Self::External => "EXTERNAL",
            Self::FallbackAfterExternalFailure => "FALLBACK_AFTER_EXTERNAL_FAILURE",
            Self::SandboxMagic => "SANDBOX_MAGIC",
        }
    }
}

/// One reason behind a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    /// A stable UPPER_SNAKE_CASE code ([`crate::codes`], or whatever the bank's fraud system
    /// sends).
    pub code: String,
    /// An explanation for the bank's staff; never shown to the TPP or the customer.
    pub description: String,
    /// What the reason added to the score; 0 for the external system's reasons and for notes
    /// such as the fallback's cause.
    pub points: u8,
}

impl RiskReason {
    /// A reason with `code`, `description` and `points`.
    pub fn new(code: &str, description: impl Into<String>, points: u8) -> Self {
        Self {
            code: code.to_owned(),
            description: description.into(),
            points,
        }
    }
}

/// The outcome of scoring one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// From 0 (no risk) to 100 (certain fraud).
    pub score: u8,
    /// What to do with the payment.
    pub decision: Decision,
    /// Why, most significant first. For the audit trail only.
    pub reasons: Vec<RiskReason>,
    /// Who decided.
    pub source: Source,
    /// The bank's fraud system's id of its assessment, for audit and case handling; `None`
    /// when it did not answer.
    pub external_assessment_id: Option<String>,
}

impl Assessment {
    /// Whether the reasons include `code`.
    pub fn has_reason(&self, code: &str) -> bool {
        self.reasons.iter().any(|reason| reason.code == code)
    }
}

/// The reason codes this crate writes. The bank's fraud system may send codes of its own.
pub mod codes {
    /// The amount is far above the customer's usual debits.
    pub const AMOUNT_ANOMALY: &str = "AMOUNT_ANOMALY";
    /// Too many debits within a velocity window.
    pub const VELOCITY_COUNT: &str = "VELOCITY_COUNT";
    /// Too much money debited within a velocity window.
    pub const VELOCITY_SUM: &str = "VELOCITY_SUM";
    /// The customer has never paid this creditor account.
    pub const NEW_PAYEE: &str = "NEW_PAYEE";
    /// Requested at an unusual local time.
    pub const UNUSUAL_HOUR: &str = "UNUSUAL_HOUR";
    /// No customer IP address was reported.
    pub const IP_MISSING: &str = "IP_MISSING";
    /// The reported customer IP address is not an IP address.
    pub const IP_MALFORMED: &str = "IP_MALFORMED";
    /// The customer IP address is on the blocklist.
    pub const IP_BLOCKLISTED: &str = "IP_BLOCKLISTED";
    /// No customer user agent was reported.
    pub const USER_AGENT_MISSING: &str = "USER_AGENT_MISSING";
    /// The user agent looks like a script or a headless browser.
    pub const USER_AGENT_SUSPICIOUS: &str = "USER_AGENT_SUSPICIOUS";
    /// The creditor's account number or name is on the blocklist.
    pub const CREDITOR_BLOCKLISTED: &str = "CREDITOR_BLOCKLISTED";
    /// The customer's history could not be read; the history rules did not run.
    pub const HISTORY_UNAVAILABLE: &str = "HISTORY_UNAVAILABLE";
    /// The bank's fraud system did not answer within the deadline.
    pub const EXTERNAL_TIMEOUT: &str = "EXTERNAL_TIMEOUT";
    /// The bank's fraud system could not be reached.
    pub const EXTERNAL_UNAVAILABLE: &str = "EXTERNAL_UNAVAILABLE";
    /// The bank's fraud system answered with an error.
    pub const EXTERNAL_ERROR: &str = "EXTERNAL_ERROR";
    /// The bank's fraud system answered without a decision (or with an unknown one); the
    /// contract says to reject.
    pub const EXTERNAL_DECISION_UNSPECIFIED: &str = "EXTERNAL_DECISION_UNSPECIFIED";
    /// Sandbox: a magic value forced a fraud rejection.
    pub const SANDBOX_MAGIC_FRAUD: &str = "SANDBOX_MAGIC_FRAUD";
    /// Sandbox: a magic value forced a step-up.
    pub const SANDBOX_MAGIC_STEP_UP: &str = "SANDBOX_MAGIC_STEP_UP";
    /// Sandbox: a magic value makes the payment fail for insufficient funds (payment service).
    pub const SANDBOX_MAGIC_INSUFFICIENT_FUNDS: &str = "SANDBOX_MAGIC_INSUFFICIENT_FUNDS";
    /// Sandbox: a magic value makes the payment's settlement fail (payment service).
    pub const SANDBOX_MAGIC_SETTLEMENT_FAILURE: &str = "SANDBOX_MAGIC_SETTLEMENT_FAILURE";
    /// Sandbox: a magic value holds the payment for `SimulatePaymentStatus` (settlement).
    pub const SANDBOX_MAGIC_HELD_FOR_SIMULATION: &str = "SANDBOX_MAGIC_HELD_FOR_SIMULATION";
}
