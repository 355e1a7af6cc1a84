//! Journals to post: one business event as a set of postings that sum to zero in every
//! currency, and the checks made before any of it touches the database. What a posted journal
//! looks like is the seam's [`PostedJournal`](wekeza_ledger::PostedJournal): settling a hold
//! answers one.

use std::collections::BTreeMap;

use wekeza_domain::{Currency, Money};
use wekeza_ledger::{CoreBankingError, Result};
use wekeza_store::entity::enums;

/// What kind of business event a journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalKind {
    /// Balances brought forward when an account was loaded into the ledger.
    Opening,
    /// A bank transfer (EFT, PesaLink, in-bank), salary and rent included.
    Transfer,
    /// Money moved between a customer's own accounts.
    InternalTransfer,
    /// A card purchase or refund.
    Card,
    /// A mobile-money movement (M-Pesa send, paybill, till, airtime).
    MobileMoney,
    /// A bill paid to a utility or service provider.
    BillPayment,
    /// A foreign-exchange conversion between a customer's accounts.
    Fx,
    /// A bank fee or interest.
    Fee,
    /// A payment initiated through the open-banking API.
    Payment,
    /// The reversal of another journal: its postings negated (a sandbox reset taking back an
    /// app's payments).
    Reversal,
}

impl JournalKind {
    /// The kind as the journals table stores it.
    pub(crate) fn stored(self) -> enums::JournalKind {
        match self {
            Self::Opening => enums::JournalKind::Opening,
            Self::Transfer => enums::JournalKind::Transfer,
            Self::InternalTransfer => enums::JournalKind::InternalTransfer,
            Self::Card => enums::JournalKind::Card,
            Self::MobileMoney => enums::JournalKind::MobileMoney,
            Self::BillPayment => enums::JournalKind::BillPayment,
            Self::Fx => enums::JournalKind::Fx,
            Self::Fee => enums::JournalKind::Fee,
            Self::Payment => enums::JournalKind::Payment,
            Self::Reversal => enums::JournalKind::Reversal,
        }
    }
}

/// A journal to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJournal {
    /// What kind of event it records.
    pub kind: JournalKind,
    /// What happened, for the bank's staff.
    pub description: String,
    /// The postings: at least one, each non-zero, summing to zero per currency.
    pub postings: Vec<NewPosting>,
}

/// One posting of a journal to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPosting {
    /// The account it moves.
    pub account_id: wekeza_domain::AccountId,
    /// Signed amount in the account's currency: positive credits, negative debits.
    pub amount: Money,
    /// Statement text.
    pub description: String,
    /// Payer's or payee's reference.
    pub reference: String,
    /// Spending category, e.g. `groceries`.
    pub category: String,
    /// Merchant name, for card spending.
    pub merchant_name: Option<String>,
    /// ISO 18245 merchant category code, for card spending.
    pub merchant_category_code: Option<String>,
    /// The other party, for transfers.
    pub counterparty_name: Option<String>,
}

impl NewPosting {
    /// A posting of `amount` to `account_id` with statement text and reference, in
    /// `category`, without merchant or counterparty.
    pub fn new(
        account_id: wekeza_domain::AccountId,
        amount: Money,
        description: impl Into<String>,
        reference: impl Into<String>,
        category: impl Into<String>,
    ) -> Self {
        Self {
            account_id,
            amount,
            description: description.into(),
            reference: reference.into(),
            category: category.into(),
            merchant_name: None,
            merchant_category_code: None,
            counterparty_name: None,
        }
    }
}

/// Refuses a journal without postings, with a zero-amount posting, or whose postings do not
/// sum to zero in some currency.
pub fn check_balanced(postings: &[NewPosting]) -> Result<()> {
    if postings.is_empty() || postings.iter().any(|posting| posting.amount.minor() == 0) {
        return Err(CoreBankingError::EmptyJournal);
    }
    let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
    for posting in postings {
        *sums.entry(posting.amount.currency()).or_default() += i128::from(posting.amount.minor());
    }
    match sums.into_iter().find(|(_, sum)| *sum != 0) {
        Some((currency, _)) => Err(CoreBankingError::UnbalancedJournal(currency)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use wekeza_domain::AccountId;

    fn posting(minor: i64, currency: Currency) -> NewPosting {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        NewPosting::new(
            AccountId::new_random(at),
            Money::from_minor(minor, currency),
            "test",
            "ref",
            "test",
        )
    }

    #[test]
    fn journals_must_balance_per_currency() {
        let kes = Currency::Kes;
        let usd = Currency::Usd;
        assert!(check_balanced(&[posting(-100, kes), posting(100, kes)]).is_ok());
        assert!(
            check_balanced(&[
                posting(-100, kes),
                posting(100, kes),
                posting(-1, usd),
                posting(1, usd)
            ])
            .is_ok()
        );
        assert!(matches!(
            check_balanced(&[posting(-100, kes), posting(100, usd)]),
            Err(CoreBankingError::UnbalancedJournal(Currency::Kes))
        ));
        assert!(matches!(
            check_balanced(&[posting(-100, kes), posting(99, kes)]),
            Err(CoreBankingError::UnbalancedJournal(Currency::Kes))
        ));
        assert!(matches!(
            check_balanced(&[]),
            Err(CoreBankingError::EmptyJournal)
        ));
        assert!(matches!(
            check_balanced(&[posting(0, kes)]),
            Err(CoreBankingError::EmptyJournal)
        ));
    }
}
