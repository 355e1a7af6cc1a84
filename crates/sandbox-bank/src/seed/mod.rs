//! The sandbox's data set: six test customers with documented credentials, their accounts and
//! a little over three months of realistic Kenyan banking history, the same every time.
//!
//! [`seed`] is deterministic: a fixed ChaCha20 seed drives every random choice (ids, amounts,
//! argon2 salts, TOTP secrets), and all dates are relative to the `anchor` passed in, so two
//! fresh databases seeded with the same anchor hold byte-identical rows. The whole history is
//! built in memory first, posted in time order (so every `balance_after` is right and no
//! customer account ever went below its overdraft limit), then written in batches inside one
//! transaction.
//!
//! Every customer posting has its other leg on one of the bank's [`InternalAccount`]s:
//! salaries and rent through interbank clearing, M-Pesa through the mobile-money float, card
//! spending through card settlement, FX through the bank's FX position, opening balances
//! against the opening-balances account.
//!
//! [`InternalAccount`]: crate::InternalAccount

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sea_orm::{DatabaseConnection, TransactionTrait};

mod builder;
mod personas;

use builder::Builder;

/// The ChaCha20 seed of the data set. Changing it changes every id and amount.
pub const SEED: u64 = 0x5745_4b45_5a41_0001;

/// Days of history before the anchor.
pub const HISTORY_DAYS: i64 = 100;

/// A published sandbox test user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestUser {
    /// Sign-in name.
    pub username: &'static str,
    /// Password (public: sandbox only).
    pub password: &'static str,
    /// Short persona tag, stored on the customer.
    pub persona: &'static str,
    /// The customer's name.
    pub full_name: &'static str,
    /// What the customer's accounts and history look like.
    pub description: &'static str,
}

/// Salaried professional.
pub const USER_GOOD: TestUser = TestUser {
    username: "user_good",
    password: "pass_good",
    persona: "salaried",
    full_name: "Amina Wanjiru",
    description: "Salaried professional: KES current and KES savings accounts; monthly salary, \
                  rent, utilities (KPLC, Nairobi Water, Safaricom Home), groceries, Uber/Bolt, \
                  card spending, M-Pesa transfers to family, savings interest.",
};

/// University student.
pub const USER_STUDENT: TestUser = TestUser {
    username: "user_student",
    password: "pass_student",
    persona: "student",
    full_name: "Brian Otieno",
    description: "University student: one KES current account; a small monthly allowance by \
                  M-Pesa, a HELB loan and fees payment, many small M-Pesa sends, till payments, \
                  airtime and data bundles.",
};

/// Small business.
pub const USER_BUSINESS: TestUser = TestUser {
    username: "user_business",
    password: "pass_business",
    persona: "small_business",
    full_name: "Kamau Hardware & Supplies Ltd",
    description: "Hardware shop: business KES current account with a KES 250,000 overdraft \
                  limit and a KES VAT-reserve savings account; many M-Pesa till receipts, \
                  weekly card settlements, supplier payments, payroll, rent, KRA VAT.",
};

/// Frequent traveller.
pub const USER_TRAVELLER: TestUser = TestUser {
    username: "user_traveller",
    password: "pass_traveller",
    persona: "frequent_traveller",
    full_name: "David Mwangi",
    description: "Frequent traveller: KES current and USD current accounts; salary, KES→USD \
                  top-ups, flights, and card spending abroad (London, Dubai, Johannesburg) \
                  with foreign merchants.",
};

/// Overdrawn customer.
pub const USER_OVERDRAWN: TestUser = TestUser {
    username: "user_overdrawn",
    password: "pass_overdrawn",
    persona: "overdrawn",
    full_name: "Peter Njoroge",
    description: "Overdrawn: KES current account with a KES 50,000 overdraft limit and a \
                  negative booked balance (KES -27,480.55); spending above a modest salary, \
                  monthly overdraft interest.",
};

/// Jane Doe, the example creditor of in-bank payments.
pub const USER_JANE: TestUser = TestUser {
    username: "user_jane",
    password: "pass_jane",
    persona: "payee",
    full_name: "Jane Doe",
    description: "Jane Doe, the API examples' creditor: KES current account number \
                  01100012345, so in-bank payments to it land on a real account.",
};

/// Every sandbox test user, for the sandbox API and the README.
pub const TEST_USERS: [TestUser; 6] = [
    USER_GOOD,
    USER_STUDENT,
    USER_BUSINESS,
    USER_TRAVELLER,
    USER_OVERDRAWN,
    USER_JANE,
];

/// The account number of Jane Doe's current account.
pub const JANE_ACCOUNT_NUMBER: &str = "01100012345";

/// What a seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    /// Customers created.
    pub customers: usize,
    /// Accounts opened, the bank's internal ones included.
    pub accounts: usize,
    /// Journals posted.
    pub journals: usize,
    /// Postings written.
    pub postings: usize,
}

/// The anchor for a seed made at `now`: midnight (UTC) starting `now`'s day, so every seed of
/// one day is identical and no seeded transaction lies in the future.
pub fn anchor_for(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Whether the database holds no customer yet, i.e. the sandbox has not been seeded.
pub async fn is_empty(db: &DatabaseConnection) -> wekeza_store::Result<bool> {
    wekeza_store::customers::is_empty(db).await
}

/// Seeds an empty ledger with the sandbox data set, its history ending just before `anchor`.
/// Fails (writing nothing) if any seeded row already exists: use [`reset_and_seed`] then.
pub async fn seed(
    db: &DatabaseConnection,
    anchor: DateTime<Utc>,
) -> wekeza_store::Result<SeedSummary> {
    let data = build(anchor)?;
    let txn = db.begin().await?;
    let summary = data.write(&txn).await?;
    txn.commit().await?;
    Ok(summary)
}

/// Deletes every customer, account, journal and posting, then seeds again, in one
/// transaction: readers see the old data set or the new one, never a mix.
pub async fn reset_and_seed(
    db: &DatabaseConnection,
    anchor: DateTime<Utc>,
) -> wekeza_store::Result<SeedSummary> {
    let data = build(anchor)?;
    let txn = db.begin().await?;
    wekeza_store::journals::wipe_ledger(&txn).await?;
    let summary = data.write(&txn).await?;
    txn.commit().await?;
    Ok(summary)
}

/// The data set, built in memory.
struct DataSet {
    customers: Vec<wekeza_store::entity::customers::Model>,
    accounts: Vec<wekeza_store::entity::accounts::Model>,
    journals: Vec<wekeza_store::entity::journals::Model>,
    postings: Vec<wekeza_store::entity::postings::Model>,
}

fn build(anchor: DateTime<Utc>) -> wekeza_store::Result<DataSet> {
    let mut builder = Builder::new(ChaCha20Rng::seed_from_u64(SEED), anchor);
    personas::salaried(&mut builder)?;
    personas::student(&mut builder)?;
    personas::small_business(&mut builder)?;
    personas::traveller(&mut builder)?;
    personas::overdrawn(&mut builder)?;
    personas::jane(&mut builder)?;
    let (journals, postings) = builder.post();
    Ok(DataSet {
        customers: builder.customers,
        accounts: builder.accounts,
        journals,
        postings,
    })
}

impl DataSet {
    async fn write(self, db: &impl sea_orm::ConnectionTrait) -> wekeza_store::Result<SeedSummary> {
        let summary = SeedSummary {
            customers: self.customers.len(),
            accounts: self.accounts.len(),
            journals: self.journals.len(),
            postings: self.postings.len(),
        };
        wekeza_store::customers::insert_many(db, self.customers).await?;
        wekeza_store::accounts::insert_many(db, self.accounts).await?;
        wekeza_store::journals::insert_many(db, self.journals, self.postings).await?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_anchor_per_utc_day() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap_or_default();
        let midnight = at("2026-03-15T00:00:00Z");
        assert_eq!(anchor_for(at("2026-03-15T09:30:12.5Z")), midnight);
        assert_eq!(anchor_for(midnight), midnight);
        assert_eq!(anchor_for(at("2026-03-15T23:59:59Z")), midnight);
    }
}
