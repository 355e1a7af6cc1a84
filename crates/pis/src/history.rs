//! The customer's payment history as the fraud checks see it: [`StoreHistory`], the
//! [`RiskHistory`] seam of `wekeza-fraud` answered from storage.
//!
//! Debits are the customer's ledger debits (card spending, transfers, …) plus their payments
//! through this API that were not rejected — pending ones included, so a burst of payments is
//! visible to the velocity rules before it settles. Settled API payments are counted once, from
//! the payments table, which also knows their creditor; their journals are left out of the
//! ledger side.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{Currency, CustomerId, Money};
use wekeza_fraud::{PastDebit, RiskHistory};
use wekeza_store::entity::enums::JournalKind;
use wekeza_store::{DatabaseConnection, payments, postings};

/// [`RiskHistory`] over the platform's database.
#[derive(Debug, Clone)]
pub struct StoreHistory {
    db: DatabaseConnection,
}

impl StoreHistory {
    /// The history in `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> wekeza_fraud::Error {
    wekeza_fraud::Error::HistoryUnavailable(Box::new(error))
}

#[async_trait]
impl RiskHistory for StoreHistory {
    async fn debits_since(
        &self,
        customer: &CustomerId,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastDebit>, wekeza_fraud::Error> {
        let ledger =
            postings::customer_debits_since(&self.db, customer, since, JournalKind::Payment)
                .await
                .map_err(unavailable)?;
        let mut debits = Vec::with_capacity(ledger.len());
        for debit in ledger {
            // A currency the platform does not know cannot be compared with anything: skip it.
            let Ok(currency) = Currency::parse(&debit.currency) else {
                continue;
            };
            debits.push(PastDebit {
                amount: Money::from_minor(debit.amount_minor, currency),
                at: debit.booking_time,
                creditor_account_number: None,
            });
        }
        let paid = payments::paid_out_since(&self.db, customer, since)
            .await
            .map_err(unavailable)?;
        for payment in paid {
            let Ok(currency) = Currency::parse(&payment.currency) else {
                continue;
            };
            debits.push(PastDebit {
                amount: Money::from_minor(payment.amount_minor, currency),
                at: payment.created_at,
                creditor_account_number: Some(payment.creditor_account),
            });
        }
        Ok(debits)
    }

    async fn has_paid_creditor(
        &self,
        customer: &CustomerId,
        creditor_account_number: &str,
    ) -> Result<bool, wekeza_fraud::Error> {
        payments::has_paid(&self.db, customer, creditor_account_number)
            .await
            .map_err(unavailable)
    }
}
