//! The seam to the customer's payment history: [`RiskHistory`], which the payment service
//! implements over storage. The rules engine asks it at most two questions per payment, and
//! only the ones an enabled rule needs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{CustomerId, Money};

use crate::Error;

/// One earlier debit from any of the customer's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDebit {
    /// How much left the account, as a positive amount.
    pub amount: Money,
    /// When it was booked (or, for a payment, requested).
    pub at: DateTime<Utc>,
    /// The creditor's account number, when the debit was a payment to one.
    pub creditor_account_number: Option<String>,
}

/// What the rules engine may ask about a customer's past.
///
/// Implementations answer from storage; an `Err` ([`Error::HistoryUnavailable`]) makes the
/// engine skip the history rules and ask for at least a step-up instead.
#[async_trait]
pub trait RiskHistory: Send + Sync {
    /// The customer's outgoing payments and other debits booked at or after `since`, in any
    /// order, *excluding* the payment being assessed.
    async fn debits_since(
        &self,
        customer: &CustomerId,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastDebit>, Error>;

    /// Whether the customer has ever paid `creditor_account_number` before (the payment being
    /// assessed excluded).
    async fn has_paid_creditor(
        &self,
        customer: &CustomerId,
        creditor_account_number: &str,
    ) -> Result<bool, Error>;
}
