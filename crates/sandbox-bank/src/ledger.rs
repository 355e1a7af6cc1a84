//! The sandbox ledger: [`CoreBanking`] answered from the store's double-entry tables, and
//! [`SandboxLedger::post_journal`] / [`CoreBanking::settle_hold`], the only ways money moves in
//! them.
//!
//! Every posting updates its account's running booked balance in the same database
//! transaction, so a balance is always the sum of its postings; the same transaction appends
//! the postings' `account.transaction_created` and `account.balance_changed` events to the
//! outbox. Debits of customer accounts
//! are checked against the overdraft limit by the conditional update itself
//! ([`wekeza_store::accounts::apply_delta`]), which makes concurrent debits safe on both
//! backends.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use wekeza_domain::{AccountId, Clock, Currency, CustomerId, JournalId, Money, TransactionId};
use wekeza_ledger::{
    Account, AccountBalance, AccountQuery, AccountStatus, AccountSubtype, CoreBanking,
    CoreBankingError, Customer, CustomerKind, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PostalAddress,
    PostedJournal, Result, Settlement, Transaction, TransactionQuery, TransactionStatus,
};
use wekeza_store::accounts::{AccountFilter, Overdraft};
use wekeza_store::entity::{accounts, customers, enums, holds, journals, postings};
use wekeza_store::postings::PostingFilter;

use crate::journal::check_balanced;
use crate::{InternalAccount, JournalKind, NewJournal, NewPosting};

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

    /// Now, in microseconds: what PostgreSQL keeps, so what is returned is what is stored.
    fn booking_time(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Posts a journal atomically, booked now: either every posting is written, every
    /// account's balance moved and every event appended to the outbox, or nothing is.
    ///
    /// Refuses a journal that does not balance per currency ([`CoreBankingError::UnbalancedJournal`],
    /// [`CoreBankingError::EmptyJournal`]), a posting to an unknown account
    /// ([`CoreBankingError::NoSuchAccount`]) or in another currency than its account's
    /// ([`CoreBankingError::CurrencyMismatch`]), and a debit that would take a customer account
    /// below its overdraft limit ([`CoreBankingError::InsufficientFunds`]).
    pub async fn post_journal(&self, journal: NewJournal) -> Result<PostedJournal> {
        check_balanced(&journal.postings)?;
        let booking_time = self.booking_time();
        let txn = self.db.begin().await.map_err(unavailable)?;
        let posted = post_in(&txn, journal, Recorded::Plain, booking_time).await?;
        txn.commit().await.map_err(unavailable)?;
        tracing::debug!(journal_id = %posted.id, postings = posted.postings.len(), "journal posted");
        Ok(posted)
    }

    /// The bank's internal account for `purpose` in `currency`.
    pub async fn internal_account(
        &self,
        purpose: InternalAccount,
        currency: Currency,
    ) -> Result<AccountId> {
        internal_account_in(&self.db, purpose, currency).await
    }

    /// Settles the active hold `hold` in `txn`: ends it, then posts its debit against the
    /// creditor's account or the clearing account, recorded under the hold's reference.
    async fn settle_in(
        &self,
        txn: &DatabaseTransaction,
        hold: &holds::Model,
        settlement: &Settlement,
    ) -> Result<PostedJournal> {
        let booking_time = self.booking_time();
        // The transaction's first statement writes: on SQLite a transaction that read first
        // could not take the write lock once another connection wrote since.
        if !wekeza_store::holds::settle(txn, hold, booking_time)
            .await
            .map_err(unavailable)?
        {
            return Err(CoreBankingError::HoldNotActive);
        }
        let currency = parse_currency(&hold.currency)?;
        let amount = Money::from_minor(hold.amount_minor, currency);
        let debtor =
            wekeza_store::accounts::find(txn, &parse(&hold.account_id, "holds.account_id")?)
                .await
                .map_err(unavailable)?
                .ok_or(CoreBankingError::NoSuchAccount)?;
        let creditor =
            wekeza_store::accounts::find_by_number(txn, &settlement.creditor_account_number)
                .await
                .map_err(unavailable)?
                .filter(|row| row.owner == enums::AccountOwner::Customer);
        let (credit_account, credit_text) = match creditor {
            Some(row) => {
                if row.status != enums::AccountStatus::Enabled {
                    return Err(CoreBankingError::AccountDisabled);
                }
                // In the bank: credited directly (in the hold's currency, or refused below).
                let text = format!("Payment from {}", debtor.holder_name);
                (parse(&row.id, "accounts.id")?, text)
            }
            None => {
                let clearing =
                    internal_account_in(txn, InternalAccount::Clearing, currency).await?;
                let text = format!(
                    "Outgoing payment to {} {}",
                    settlement.creditor_name, settlement.creditor_account_number
                );
                (clearing, text)
            }
        };
        let debit = Money::from_minor(-amount.minor(), currency);
        let mut debtor_leg = NewPosting::new(
            parse(&debtor.id, "accounts.id")?,
            debit,
            format!("Payment to {}", settlement.creditor_name),
            settlement.reference.clone(),
            "transfers",
        );
        debtor_leg.counterparty_name = Some(settlement.creditor_name.clone());
        let mut creditor_leg = NewPosting::new(
            credit_account,
            amount,
            credit_text,
            settlement.reference.clone(),
            "transfers",
        );
        creditor_leg.counterparty_name = Some(debtor.holder_name.clone());
        let journal = NewJournal {
            kind: JournalKind::Payment,
            description: format!(
                "Payment {} to {} ({})",
                hold.reference, settlement.creditor_name, settlement.creditor_account_number
            ),
            postings: vec![debtor_leg, creditor_leg],
        };
        check_balanced(&journal.postings)?;
        post_in(txn, journal, Recorded::Settling(hold), booking_time).await
    }
}

/// The bank's internal account for `purpose` in `currency`, read through `db`.
async fn internal_account_in(
    db: &impl ConnectionTrait,
    purpose: InternalAccount,
    currency: Currency,
) -> Result<AccountId> {
    let row = wekeza_store::accounts::find_by_number(db, &purpose.account_number(currency))
        .await
        .map_err(unavailable)?
        .filter(|row| row.owner == enums::AccountOwner::Internal)
        .ok_or(CoreBankingError::NoSuchAccount)?;
    parse(&row.id, "accounts.id")
}

/// What a journal posted by [`post_in`] records besides its postings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Recorded<'a> {
    /// Nothing more: no reference, every debit within its account's overdraft limit.
    Plain,
    /// The settlement of this hold (already marked settled): recorded under the hold's
    /// reference, and its first debit of the held account also releases the held amount.
    Settling(&'a holds::Model),
    /// A reversal, recorded under this reference (so at most once); its debits apply whatever
    /// the overdraft limits, since they only take back what the reversed journal moved.
    Reversal(&'a str),
}

/// Posts a balanced journal in `txn`, booked at `booking_time`, and appends its events, with
/// what it `records`. A settlement's release of the held amount happens in the same balance
/// update as its debit: every account row is locked once, in account-id order, so concurrent
/// settlements cannot deadlock on PostgreSQL.
pub(crate) async fn post_in(
    txn: &DatabaseTransaction,
    journal: NewJournal,
    records: Recorded<'_>,
    booking_time: DateTime<Utc>,
) -> Result<PostedJournal> {
    let (settles, external_reference, overdraft) = match records {
        Recorded::Plain => (None, None, Overdraft::Enforced),
        Recorded::Settling(hold) => (
            Some(hold),
            Some(hold.reference.clone()),
            Overdraft::Enforced,
        ),
        Recorded::Reversal(reference) => (None, Some(reference.to_owned()), Overdraft::Waived),
    };
    let journal_id = JournalId::generate(booking_time, &mut rand::rng());
    // Monotonic: ids sort in the journal's order (and after earlier postings booked in the same
    // millisecond), so a journal read back lists its postings as posted.
    let transaction_ids: Vec<TransactionId> = journal
        .postings
        .iter()
        .map(|_| TransactionId::new_monotonic(booking_time))
        .collect();

    // Move balances in account-id order, so that concurrent journals over the same
    // accounts lock their rows in the same order and cannot deadlock on PostgreSQL.
    let mut order: Vec<usize> = (0..journal.postings.len()).collect();
    order.sort_by(|&a, &b| {
        let account = |i: usize| journal.postings.get(i).map(|p| &p.account_id);
        account(a).cmp(&account(b))
    });
    let mut balances_after = vec![0i64; journal.postings.len()];
    // Each customer account moved, with its row and its booked balance after the journal.
    let mut moved: BTreeMap<AccountId, (accounts::Model, i64)> = BTreeMap::new();
    let mut to_release = settles;
    for index in order {
        let Some(posting) = journal.postings.get(index) else {
            continue;
        };
        let mut account = wekeza_store::accounts::find(txn, &posting.account_id)
            .await
            .map_err(unavailable)?
            .ok_or(CoreBankingError::NoSuchAccount)?;
        if account.currency != posting.amount.currency().code() {
            return Err(CoreBankingError::CurrencyMismatch);
        }
        let released = match to_release {
            Some(hold) if hold.account_id == account.id && posting.amount.is_negative() => {
                to_release = None;
                hold.amount_minor
            }
            _ => 0,
        };
        let after = wekeza_store::accounts::apply_delta(
            txn,
            &posting.account_id,
            posting.amount.minor(),
            released,
            overdraft,
        )
        .await
        .map_err(unavailable)?
        .ok_or(CoreBankingError::InsufficientFunds)?;
        account.held_minor -= released;
        if let Some(slot) = balances_after.get_mut(index) {
            *slot = after;
        }
        if account.owner == enums::AccountOwner::Customer {
            moved.insert(posting.account_id.clone(), (account, after));
        }
    }

    if to_release.is_some() {
        return Err(corrupt(
            "a settling journal does not debit the held account",
        ));
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
        kind: journal.kind.stored(),
        description: journal.description,
        created_at: booking_time,
        external_reference,
    };
    wekeza_store::journals::insert(txn, journal_row, rows)
        .await
        .map_err(unavailable)?;

    let customer_postings: Vec<Transaction> = transactions
        .iter()
        .filter(|posting| moved.contains_key(&posting.account_id))
        .cloned()
        .collect();
    let balances = moved
        .into_iter()
        .map(|(id, (row, booked))| balance_of(id, &row, booked, booking_time))
        .collect::<Result<Vec<_>>>()?;
    // The postings' `account.*` events, in the journal's transaction, through the one writer of
    // state changes with their events.
    wekeza_events::record::postings_booked(txn, &customer_postings, &balances, booking_time)
        .await
        .map_err(unavailable)?;
    Ok(PostedJournal {
        id: journal_id,
        booking_time,
        postings: transactions,
    })
}

/// The journal already posted under `reference`, as it was returned when it was posted.
async fn posted_under(db: &impl ConnectionTrait, reference: &str) -> Result<PostedJournal> {
    let (journal, rows) = wekeza_store::journals::find_by_external_reference(db, reference)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| corrupt("a settled hold without its journal"))?;
    Ok(PostedJournal {
        id: parse(&journal.id, "journals.id")?,
        booking_time: journal.created_at,
        postings: rows
            .iter()
            .map(transaction_from_row)
            .collect::<Result<_>>()?,
    })
}

/// A customer account's balances from its row, with `booked` as its booked balance.
fn balance_of(
    account_id: AccountId,
    row: &accounts::Model,
    booked: i64,
    as_of: DateTime<Utc>,
) -> Result<AccountBalance> {
    let currency = parse_currency(&row.currency)?;
    let available = booked
        .checked_sub(row.held_minor)
        .and_then(|minor| minor.checked_add(row.overdraft_limit_minor))
        .ok_or_else(|| corrupt("accounts.booked_minor"))?;
    Ok(AccountBalance {
        account_id,
        booked: Money::from_minor(booked, currency),
        available: Money::from_minor(available, currency),
        overdraft_limit: Money::from_minor(row.overdraft_limit_minor, currency),
        as_of,
    })
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
        balance_of(id.clone(), &row, row.booked_minor, self.clock.now()).map(Some)
    }

    async fn settle_hold(&self, reference: &str, settlement: &Settlement) -> Result<PostedJournal> {
        // Read outside the transaction; the conditional status change inside decides.
        let hold = wekeza_store::holds::find(&self.db, reference)
            .await
            .map_err(unavailable)?
            .ok_or(CoreBankingError::NoSuchHold)?;
        match hold.status {
            // Settled before (a re-run after a crash): the journal it was posted as.
            enums::HoldStatus::Settled => return posted_under(&self.db, reference).await,
            enums::HoldStatus::Released => return Err(CoreBankingError::HoldNotActive),
            enums::HoldStatus::Active => {}
        }
        let txn = self.db.begin().await.map_err(unavailable)?;
        let posted = match self.settle_in(&txn, &hold, settlement).await {
            // Ended in between: by a concurrent settlement, whose journal is the answer.
            Err(CoreBankingError::HoldNotActive) => {
                drop(txn);
                return match wekeza_store::holds::find(&self.db, reference).await {
                    Ok(Some(now)) if now.status == enums::HoldStatus::Settled => {
                        posted_under(&self.db, reference).await
                    }
                    Ok(_) => Err(CoreBankingError::HoldNotActive),
                    Err(error) => Err(unavailable(error)),
                };
            }
            other => other?,
        };
        txn.commit().await.map_err(unavailable)?;
        tracing::debug!(journal_id = %posted.id, reference, "hold settled");
        Ok(posted)
    }

    async fn release_hold(&self, reference: &str) -> Result<()> {
        // Read outside the transaction; the conditional status change inside decides.
        let hold = wekeza_store::holds::find(&self.db, reference)
            .await
            .map_err(unavailable)?
            .ok_or(CoreBankingError::NoSuchHold)?;
        match hold.status {
            enums::HoldStatus::Released => return Ok(()),
            enums::HoldStatus::Settled => return Err(CoreBankingError::HoldNotActive),
            enums::HoldStatus::Active => {}
        }
        let txn = self.db.begin().await.map_err(unavailable)?;
        if !wekeza_store::holds::release(&txn, &hold, self.booking_time())
            .await
            .map_err(unavailable)?
        {
            // Ended in between: released already is what was asked.
            drop(txn);
            return match wekeza_store::holds::find(&self.db, reference).await {
                Ok(Some(now)) if now.status == enums::HoldStatus::Released => Ok(()),
                Ok(_) => Err(CoreBankingError::HoldNotActive),
                Err(error) => Err(unavailable(error)),
            };
        }
        txn.commit().await.map_err(unavailable)?;
        tracing::debug!(reference, "hold released");
        Ok(())
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

pub(crate) fn unavailable(
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> CoreBankingError {
    CoreBankingError::Unavailable(err.into())
}

pub(crate) fn corrupt(what: &str) -> CoreBankingError {
    CoreBankingError::Unavailable(format!("stored ledger data is invalid: {what}").into())
}

pub(crate) fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(what))
}

pub(crate) fn parse_currency(code: &str) -> Result<Currency> {
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
        is_primary: row.is_primary,
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
