//! The sandbox ledger: [`CoreBanking`] answered from the store's double-entry tables, and
//! [`SandboxLedger::post_journal`], the only way money moves in them.
//!
//! Every posting updates its account's running booked balance in the same database
//! transaction, so a balance is always the sum of its postings. Debits of customer accounts
//! are checked against the overdraft limit by the conditional update itself
//! ([`wekeza_store::accounts::apply_delta`]), which makes concurrent debits safe on both
//! backends.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::SubsecRound;
use sea_orm::{DatabaseConnection, TransactionTrait};
use wekeza_domain::{AccountId, Clock, Currency, CustomerId, Money, TransactionId};
use wekeza_store::entity::{accounts, customers, enums, journals, postings};
use wekeza_store::postings::PostingFilter;
use wekeza_store::{JournalId, accounts::AccountFilter};

use crate::journal::check_balanced;
use crate::{
    Account, AccountBalance, AccountQuery, AccountStatus, AccountSubtype, CoreBanking,
    CoreBankingError, Customer, CustomerKind, DEFAULT_PAGE_SIZE, InternalAccount, MAX_PAGE_SIZE,
    NewJournal, PostalAddress, PostedJournal, Result, Transaction, TransactionQuery,
    TransactionStatus,
};

/// The sandbox's core banking system: a double-entry ledger in the platform's database.
#[derive(Debug, Clone)]
pub struct SandboxLedger {
    /// The platform's database (the ledger's tables live beside the others).
    db: DatabaseConnection,
    /// Stamps booking times and balance read times; injectable for tests.
    clock: Arc<dyn Clock>,
}

impl SandboxLedger {
    /// A ledger over `db`, telling time by `clock`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Posts a journal atomically, booked now: either every posting is written and every
    /// account's balance moved, or nothing is.
    ///
    /// Refuses a journal that does not balance per currency ([`CoreBankingError::UnbalancedJournal`],
    /// [`CoreBankingError::EmptyJournal`]), a posting to an unknown account
    /// ([`CoreBankingError::NoSuchAccount`]) or in another currency than its account's
    /// ([`CoreBankingError::CurrencyMismatch`]), and a debit that would take a customer account
    /// below its overdraft limit ([`CoreBankingError::InsufficientFunds`]).
    pub async fn post_journal(&self, journal: NewJournal) -> Result<PostedJournal> {
        check_balanced(&journal.postings)?;
        // Microseconds: what PostgreSQL keeps, so what is returned is what is stored.
        let booking_time = self.clock.now().trunc_subsecs(6);
        let (journal_id, transaction_ids) = {
            let mut rng = rand::rng();
            let journal_id = JournalId::generate(booking_time, &mut rng);
            let ids: Vec<TransactionId> = journal
                .postings
                .iter()
                .map(|_| TransactionId::generate(booking_time, &mut rng))
                .collect();
            (journal_id, ids)
        };

        let txn = self.db.begin().await.map_err(unavailable)?;
        // Move balances in account-id order, so that concurrent journals over the same
        // accounts lock their rows in the same order and cannot deadlock on PostgreSQL.
        let mut order: Vec<usize> = (0..journal.postings.len()).collect();
        order.sort_by(|&a, &b| {
            let account = |i: usize| journal.postings.get(i).map(|p| &p.account_id);
            account(a).cmp(&account(b))
        });
        let mut balances_after = vec![0i64; journal.postings.len()];
        for index in order {
            let Some(posting) = journal.postings.get(index) else {
                continue;
            };
            let account = wekeza_store::accounts::find(&txn, &posting.account_id)
                .await
                .map_err(unavailable)?
                .ok_or(CoreBankingError::NoSuchAccount)?;
            if account.currency != posting.amount.currency().code() {
                return Err(CoreBankingError::CurrencyMismatch);
            }
            let after = wekeza_store::accounts::apply_delta(
                &txn,
                &posting.account_id,
                posting.amount.minor(),
            )
            .await
            .map_err(unavailable)?
            .ok_or(CoreBankingError::InsufficientFunds)?;
            if let Some(slot) = balances_after.get_mut(index) {
                *slot = after;
            }
        }

        let rows: Vec<postings::Model> = journal
            .postings
            .iter()
            .zip(transaction_ids)
            .zip(&balances_after)
            .map(|((posting, id), &balance_after)| postings::Model {
                id: id.to_string(),
                journal_id: journal_id.to_string(),
                account_id: posting.account_id.to_string(),
                amount_minor: posting.amount.minor(),
                currency: posting.amount.currency().code().to_owned(),
                status: enums::PostingStatus::Booked,
                booking_time,
                value_time: booking_time,
                description: posting.description.clone(),
                reference: posting.reference.clone(),
                category: posting.category.clone(),
                merchant_name: posting.merchant_name.clone(),
                merchant_category_code: posting.merchant_category_code.clone(),
                counterparty_name: posting.counterparty_name.clone(),
                balance_after_minor: balance_after,
            })
            .collect();
        let transactions = rows
            .iter()
            .map(transaction_from_row)
            .collect::<Result<Vec<_>>>()?;
        let journal_row = journals::Model {
            id: journal_id.to_string(),
            kind: journal.kind,
            description: journal.description,
            created_at: booking_time,
        };
        wekeza_store::journals::insert(&txn, journal_row, rows)
            .await
            .map_err(unavailable)?;
        txn.commit().await.map_err(unavailable)?;
        tracing::debug!(journal_id = %journal_id, postings = transactions.len(), "journal posted");
        Ok(PostedJournal {
            id: journal_id,
            booking_time,
            postings: transactions,
        })
    }

    /// The bank's internal account for `purpose` in `currency`.
    pub async fn internal_account(
        &self,
        purpose: InternalAccount,
        currency: Currency,
    ) -> Result<AccountId> {
        let row =
            wekeza_store::accounts::find_by_number(&self.db, &purpose.account_number(currency))
                .await
                .map_err(unavailable)?
                .filter(|row| row.owner == enums::AccountOwner::Internal)
                .ok_or(CoreBankingError::NoSuchAccount)?;
        parse(&row.id, "accounts.id")
    }
}

#[async_trait]
impl CoreBanking for SandboxLedger {
    async fn customer(&self, id: &CustomerId) -> Result<Option<Customer>> {
        wekeza_store::customers::find(&self.db, id)
            .await
            .map_err(unavailable)?
            .map(customer_from_row)
            .transpose()
    }

    async fn customer_by_username(&self, username: &str) -> Result<Option<Customer>> {
        wekeza_store::customers::find_by_username(&self.db, username)
            .await
            .map_err(unavailable)?
            .map(customer_from_row)
            .transpose()
    }

    async fn accounts(&self, customer: &CustomerId, query: &AccountQuery) -> Result<Vec<Account>> {
        let filter = AccountFilter {
            only: query.only.as_ref(),
            after_id: query.after_id.as_ref(),
            limit: page_size(query.limit),
        };
        let rows = wekeza_store::accounts::list_for_customer(&self.db, customer, filter)
            .await
            .map_err(unavailable)?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in rows {
            accounts.extend(account_from_row(row)?);
        }
        Ok(accounts)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        let row = wekeza_store::accounts::find(&self.db, id)
            .await
            .map_err(unavailable)?;
        row.map(account_from_row).transpose().map(Option::flatten)
    }

    async fn account_by_number(&self, account_number: &str) -> Result<Option<Account>> {
        let row = wekeza_store::accounts::find_by_number(&self.db, account_number)
            .await
            .map_err(unavailable)?;
        row.map(account_from_row).transpose().map(Option::flatten)
    }

    async fn balance(&self, id: &AccountId) -> Result<Option<AccountBalance>> {
        let Some(row) = wekeza_store::accounts::find(&self.db, id)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        if row.owner != enums::AccountOwner::Customer {
            return Ok(None);
        }
        let currency = parse_currency(&row.currency)?;
        let available = row
            .booked_minor
            .checked_sub(row.held_minor)
            .and_then(|minor| minor.checked_add(row.overdraft_limit_minor))
            .ok_or_else(|| corrupt("accounts.booked_minor"))?;
        Ok(Some(AccountBalance {
            account_id: id.clone(),
            booked: Money::from_minor(row.booked_minor, currency),
            available: Money::from_minor(available, currency),
            overdraft_limit: Money::from_minor(row.overdraft_limit_minor, currency),
            as_of: self.clock.now(),
        }))
    }

    async fn transactions(
        &self,
        account: &AccountId,
        query: &TransactionQuery,
    ) -> Result<Vec<Transaction>> {
        let filter = PostingFilter {
            from_booking_time: query.from_booking_time,
            to_booking_time: query.to_booking_time,
            before_id: query.before_id.as_ref(),
            limit: page_size(query.limit),
        };
        wekeza_store::postings::list_for_account(&self.db, account, filter)
            .await
            .map_err(unavailable)?
            .iter()
            .map(transaction_from_row)
            .collect()
    }
}

// === conversions ===

fn page_size(limit: u32) -> u64 {
    let limit = if limit == 0 { DEFAULT_PAGE_SIZE } else { limit };
    u64::from(limit.min(MAX_PAGE_SIZE))
}

fn unavailable(err: impl std::fmt::Display) -> CoreBankingError {
    CoreBankingError::Unavailable(err.to_string())
}

fn corrupt(what: &str) -> CoreBankingError {
    CoreBankingError::Unavailable(format!("stored ledger data is invalid: {what}"))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(what))
}

fn parse_currency(code: &str) -> Result<Currency> {
    Currency::parse(code).map_err(|_| corrupt("currency"))
}

fn customer_kind(kind: enums::CustomerKind) -> CustomerKind {
    match kind {
        enums::CustomerKind::Personal => CustomerKind::Personal,
        enums::CustomerKind::Business => CustomerKind::Business,
    }
}

fn customer_from_row(row: customers::Model) -> Result<Customer> {
    Ok(Customer {
        id: parse(&row.id, "customers.id")?,
        username: row.username,
        full_name: row.full_name,
        email: row.email,
        phone_number: row.phone_number,
        address: PostalAddress {
            address_line: row.address_line,
            town_name: row.town_name,
            post_code: row.post_code,
            country: row.country,
        },
        kind: customer_kind(row.kind),
    })
}

/// A customer's account as the model shows it; `None` for the bank's internal accounts.
fn account_from_row(row: accounts::Model) -> Result<Option<Account>> {
    let Some(customer_id) = row.customer_id.as_deref() else {
        return Ok(None);
    };
    if row.owner != enums::AccountOwner::Customer {
        return Ok(None);
    }
    let currency = parse_currency(&row.currency)?;
    Ok(Some(Account {
        id: parse(&row.id, "accounts.id")?,
        customer_id: parse(customer_id, "accounts.customer_id")?,
        kind: customer_kind(row.kind),
        subtype: match row.subtype {
            enums::AccountSubtype::CurrentAccount => AccountSubtype::CurrentAccount,
            enums::AccountSubtype::Savings => AccountSubtype::Savings,
        },
        currency,
        nickname: row.nickname,
        status: match row.status {
            enums::AccountStatus::Enabled => AccountStatus::Enabled,
            enums::AccountStatus::Disabled => AccountStatus::Disabled,
        },
        account_number: row.account_number,
        holder_name: row.holder_name,
        opened_at: row.opened_at,
        overdraft_limit: Money::from_minor(row.overdraft_limit_minor, currency),
    }))
}

fn transaction_from_row(row: &postings::Model) -> Result<Transaction> {
    let currency = parse_currency(&row.currency)?;
    Ok(Transaction {
        id: parse(&row.id, "postings.id")?,
        account_id: parse(&row.account_id, "postings.account_id")?,
        amount: Money::from_minor(row.amount_minor, currency),
        status: match row.status {
            enums::PostingStatus::Booked => TransactionStatus::Booked,
            enums::PostingStatus::Pending => TransactionStatus::Pending,
        },
        booking_time: row.booking_time,
        value_time: row.value_time,
        description: row.description.clone(),
        reference: row.reference.clone(),
        category: row.category.clone(),
        merchant_name: row.merchant_name.clone(),
        merchant_category_code: row.merchant_category_code.clone(),
        counterparty_name: row.counterparty_name.clone(),
        balance_after: Money::from_minor(row.balance_after_minor, currency),
    })
}
