//! The seam between the platform and the bank's core banking system.
//!
//! Owns the [`CoreBanking`] trait — everything the API services may ask of the core — and the
//! model it speaks ([`Customer`], [`Account`], [`AccountBalance`], [`Transaction`],
//! [`PostedJournal`], the queries and page sizes) with its error, [`CoreBankingError`]. The
//! bank's real core plugs in behind the trait; today the sandbox's double-entry ledger answers
//! (`wekeza-sandbox-bank`).
//!
//! Speaks domain types only: depends on `wekeza-domain` and small utility crates, never on the
//! store, sea-orm or the generated contracts, so an adapter to a real core can depend on this
//! crate without pulling in the platform's database. Services depend on it, not the reverse.
//!
//! # Funds holds: where the seam is
//!
//! A payment reserves its amount when it is accepted and moves it when it settles. The
//! reservation must commit atomically with the payment row (a payment without its hold could
//! overdraw; a hold without its payment would lock funds forever), so in the sandbox it is
//! placed by the payment service *inside its own database transaction*, with the store's
//! `holds::place` on the shared ledger tables. Settling and releasing a hold are
//! [`CoreBanking`] operations ([`CoreBanking::settle_hold`], [`CoreBanking::release_hold`]),
//! keyed by the payment id as an idempotency reference, so a re-run after a crash never posts
//! twice. A real core would also take the reservation itself (`hold_funds(reference, account,
//! amount)`, called before the local commit and released by the same reference if that commit
//! fails) — the one method this trait will gain when a real core plugs in; it is not declared
//! today because nothing could call it.
//!
//! # Layout
//! This one file: the error, the model, then the trait.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{
    AccountId, BindableAccount, Currency, CustomerId, JournalId, Money, TransactionId,
};

/// Page size when a query asks for `limit: 0`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a query gets, whatever its `limit`.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// What can go wrong asking the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreBankingError {
    /// The core did not answer or failed; the caller should answer UNAVAILABLE/INTERNAL. The
    /// cause is kept as the error's source, so a caller can tell an unreachable database (retry)
    /// from a bug.
    #[error("core banking unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The account to post to does not exist.
    #[error("no such account")]
    NoSuchAccount,
    /// The debit would take the account below its overdraft limit.
    #[error("insufficient funds")]
    InsufficientFunds,
    /// A posting's currency is not its account's currency.
    #[error("currency mismatch")]
    CurrencyMismatch,
    /// A journal's postings do not sum to zero in this currency.
    #[error("journal does not balance in {0}")]
    UnbalancedJournal(Currency),
    /// A journal without postings, or with a zero-amount posting.
    #[error("journal has no postings or a zero-amount posting")]
    EmptyJournal,
    /// No funds are held under this reference.
    #[error("no such hold")]
    NoSuchHold,
    /// The hold was already released (it cannot be settled) or settled (it cannot be
    /// released).
    #[error("the hold is no longer active")]
    HoldNotActive,
    /// The account to credit is blocked.
    #[error("the account is disabled")]
    AccountDisabled,
}

impl CoreBankingError {
    /// Whether asking again may succeed: the core was unavailable. Every other error is an
    /// answer about the request itself.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Shorthand for core-banking results.
pub type Result<T, E = CoreBankingError> = std::result::Result<T, E>;

/// A person or business the bank holds accounts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The customer's id.
    pub id: CustomerId,
    /// The sign-in name of the customer (for sandbox test users, e.g. `user_good`).
    pub username: String,
    /// Full name.
    pub full_name: String,
    /// Email address.
    pub email: String,
    /// Mobile number, E.164.
    pub phone_number: String,
    /// Postal address.
    pub address: PostalAddress,
    /// Person or business.
    pub kind: CustomerKind,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostalAddress {
    /// Street and number.
    pub address_line: String,
    /// Town or city.
    pub town_name: String,
    /// Postal code.
    pub post_code: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
}

/// Whether a customer is a person or a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    /// A person.
    Personal,
    /// A business.
    Business,
}

/// The product an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSubtype {
    /// Current (checking) account.
    CurrentAccount,
    /// Savings account.
    Savings,
}

/// Whether an account can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Open.
    Enabled,
    /// Blocked.
    Disabled,
}

/// A customer's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's id.
    pub id: AccountId,
    /// Its owner.
    pub customer_id: CustomerId,
    /// Personal or business (the owner's kind).
    pub kind: CustomerKind,
    /// The product.
    pub subtype: AccountSubtype,
    /// The currency it is held in.
    pub currency: Currency,
    /// The customer's name for it.
    pub nickname: String,
    /// Whether it can be used.
    pub status: AccountStatus,
    /// Account number, unique in the bank.
    pub account_number: String,
    /// Holder name as the bank knows it.
    pub holder_name: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The overdraft limit (zero when none), a non-negative amount.
    pub overdraft_limit: Money,
    /// Whether it is the customer's main account (one per customer).
    pub is_primary: bool,
}

impl Account {
    /// What a consent's binding rule ([`ConsentTerms::may_bind`](wekeza_domain::ConsentTerms::may_bind))
    /// needs to know of it.
    pub fn bindable(&self) -> BindableAccount<'_> {
        BindableAccount {
            number: &self.account_number,
            currency: self.currency,
            open_current_account: self.subtype == AccountSubtype::CurrentAccount
                && self.status == AccountStatus::Enabled,
        }
    }
}

/// How a held debit is settled: who is credited, and what both statements say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The creditor's account number: credited directly when it is a customer account of the
    /// bank (in the hold's currency), else the money leaves through the interbank clearing
    /// account.
    pub creditor_account_number: String,
    /// The creditor's name, on the debtor's statement.
    pub creditor_name: String,
    /// The reference both statements show.
    pub reference: String,
}

/// An account's balances at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    /// The account.
    pub account_id: AccountId,
    /// Sum of all booked postings (negative when overdrawn).
    pub booked: Money,
    /// Booked, less holds of pending debits, plus the overdraft limit.
    pub available: Money,
    /// The overdraft limit included in `available`.
    pub overdraft_limit: Money,
    /// When it was read.
    pub as_of: DateTime<Utc>,
}

/// Whether a transaction is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Booked.
    Booked,
    /// Pending.
    Pending,
}

/// One posting on a customer account, as its statement shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The entry's id; ids sort by booking time.
    pub id: TransactionId,
    /// The account.
    pub account_id: AccountId,
    /// Signed amount: positive is a credit, negative a debit.
    pub amount: Money,
    /// Booked or pending.
    pub status: TransactionStatus,
    /// When it was booked.
    pub booking_time: DateTime<Utc>,
    /// When the money took value.
    pub value_time: DateTime<Utc>,
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
    /// The booked balance right after this entry.
    pub balance_after: Money,
}

/// A posted journal: its id, when it was booked and its postings as statements show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedJournal {
    /// The journal's id.
    pub id: JournalId,
    /// When it was booked.
    pub booking_time: DateTime<Utc>,
    /// Its postings, in the order they were given, each with the balance right after it.
    pub postings: Vec<Transaction>,
}

/// Which transactions to list: newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionQuery {
    /// Booked at or after.
    pub from_booking_time: Option<DateTime<Utc>>,
    /// Booked strictly before.
    pub to_booking_time: Option<DateTime<Utc>>,
    /// Only entries with ids strictly below this one (the previous page's last id).
    pub before_id: Option<TransactionId>,
    /// At most this many; 0 means [`DEFAULT_PAGE_SIZE`], and more than [`MAX_PAGE_SIZE`] is
    /// capped.
    pub limit: u32,
}

/// Which accounts to list: oldest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// Only these accounts (a consent's); `None` for all of the customer's.
    pub only: Option<BTreeSet<AccountId>>,
    /// Only accounts with ids strictly above this one (the previous page's last id).
    pub after_id: Option<AccountId>,
    /// At most this many; 0 means [`DEFAULT_PAGE_SIZE`], and more than [`MAX_PAGE_SIZE`] is
    /// capped.
    pub limit: u32,
}

/// Everything the platform asks of the bank's core banking system.
#[async_trait]
pub trait CoreBanking: Send + Sync + std::fmt::Debug {
    /// The customer, if it exists.
    async fn customer(&self, id: &CustomerId) -> Result<Option<Customer>>;

    /// The customer with this sign-in name, if any.
    async fn customer_by_username(&self, username: &str) -> Result<Option<Customer>>;

    /// The customer's accounts matching `query`, ordered by id ascending.
    async fn accounts(&self, customer: &CustomerId, query: &AccountQuery) -> Result<Vec<Account>>;

    /// One account, if it exists.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>>;

    /// The customer account with this account number, if any (apps name debtor and creditor
    /// accounts by number).
    async fn account_by_number(&self, account_number: &str) -> Result<Option<Account>>;

    /// The account's balances now, if the account exists.
    async fn balance(&self, id: &AccountId) -> Result<Option<AccountBalance>>;

    /// The account's transactions matching `query`, ordered by id descending (newest first).
    async fn transactions(
        &self,
        account: &AccountId,
        query: &TransactionQuery,
    ) -> Result<Vec<Transaction>>;

    /// Turns the funds held under `reference` into a booked debit of the held account and a
    /// credit as `settlement` says, in one journal recorded under `reference`; the hold's
    /// amount stops being held.
    ///
    /// Idempotent: settling a hold again answers the journal it was posted as. Refused with
    /// [`CoreBankingError::NoSuchHold`] or, for a released hold, [`CoreBankingError::HoldNotActive`];
    /// a credit that cannot be made ([`CoreBankingError::CurrencyMismatch`],
    /// [`CoreBankingError::AccountDisabled`]) leaves the hold as it was.
    async fn settle_hold(&self, reference: &str, settlement: &Settlement) -> Result<PostedJournal>;

    /// Gives the funds held under `reference` back without posting anything. Idempotent:
    /// releasing a released hold succeeds; a settled one is [`CoreBankingError::HoldNotActive`].
    async fn release_hold(&self, reference: &str) -> Result<()>;
}
