//! Shared fixtures: a fixed anchor, a seeded ledger, a small hand-made ledger, table dumps.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use wekeza_domain::{AccountId, Clock, CustomerId, ManualClock};
use wekeza_sandbox_bank::SandboxLedger;
use wekeza_store::entity::enums::{AccountOwner, AccountStatus, AccountSubtype, CustomerKind};
use wekeza_store::entity::{accounts, customers, journals, postings};

/// The anchor the seeded tests use.
pub fn anchor() -> DateTime<Utc> {
    "2026-03-15T09:30:00Z".parse().unwrap()
}

pub fn ledger(db: &DatabaseConnection, now: DateTime<Utc>) -> SandboxLedger {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
    SandboxLedger::new(db.clone(), clock)
}

/// Every seeded row, ordered by id, to compare databases.
#[derive(Debug, PartialEq, Eq)]
pub struct Dump {
    pub customers: Vec<customers::Model>,
    pub accounts: Vec<accounts::Model>,
    pub journals: Vec<journals::Model>,
    pub postings: Vec<postings::Model>,
}

pub async fn dump(db: &DatabaseConnection) -> Dump {
    Dump {
        customers: customers::Entity::find()
            .order_by_asc(customers::Column::Id)
            .all(db)
            .await
            .unwrap(),
        accounts: accounts::Entity::find()
            .order_by_asc(accounts::Column::Id)
            .all(db)
            .await
            .unwrap(),
        journals: journals::Entity::find()
            .order_by_asc(journals::Column::Id)
            .all(db)
            .await
            .unwrap(),
        postings: postings::Entity::find()
            .order_by_asc(postings::Column::Id)
            .all(db)
            .await
            .unwrap(),
    }
}

/// A hand-made ledger: one customer with a KES account (given balance and overdraft limit)
/// and a USD account, and a KES and a USD internal account. The balances are set directly:
/// the tests using it check what posting changes, not the seed.
pub struct Fixture {
    pub kes_account: AccountId,
    pub usd_account: AccountId,
    pub kes_internal: AccountId,
    pub usd_internal: AccountId,
}

pub async fn fixture(db: &DatabaseConnection, booked_minor: i64, overdraft_minor: i64) -> Fixture {
    let at = anchor();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(77);
    let customer_id = CustomerId::generate(at, &mut rng).to_string();
    let customer_id = customer_id.as_str();
    wekeza_store::customers::insert_many(
        db,
        [customers::Model {
            id: customer_id.to_owned(),
            username: "fixture".to_owned(),
            password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
            full_name: "Fixture Customer".to_owned(),
            email: "fixture@example.com".to_owned(),
            phone_number: "+254700000000".to_owned(),
            address_line: "1 Test Road".to_owned(),
            town_name: "Nairobi".to_owned(),
            post_code: "00100".to_owned(),
            country: "KE".to_owned(),
            kind: CustomerKind::Personal,
            persona: "fixture".to_owned(),
            totp_secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".to_owned(),
            created_at: at,
        }],
    )
    .await
    .unwrap();
    let account =
        |id: &str, customer: bool, currency: &str, number: &str, booked: i64, overdraft: i64| {
            accounts::Model {
                id: id.to_owned(),
                customer_id: customer.then(|| customer_id.to_owned()),
                owner: if customer {
                    AccountOwner::Customer
                } else {
                    AccountOwner::Internal
                },
                kind: CustomerKind::Personal,
                subtype: AccountSubtype::CurrentAccount,
                currency: currency.to_owned(),
                nickname: id.to_owned(),
                status: AccountStatus::Enabled,
                account_number: number.to_owned(),
                holder_name: "Fixture Customer".to_owned(),
                opened_at: at,
                overdraft_limit_minor: overdraft,
                booked_minor: booked,
                held_minor: 0,
                is_primary: customer && currency == "KES",
            }
        };
    let ids: [String; 4] = std::array::from_fn(|_| AccountId::generate(at, &mut rng).to_string());
    wekeza_store::accounts::insert_many(
        db,
        [
            account(
                &ids[0],
                true,
                "KES",
                "01199990001",
                booked_minor,
                overdraft_minor,
            ),
            account(&ids[1], true, "USD", "01199990002", 0, 0),
            account(&ids[2], false, "KES", "09999990001", -booked_minor, 0),
            account(&ids[3], false, "USD", "09999990002", 0, 0),
        ],
    )
    .await
    .unwrap();
    let [kes_account, usd_account, kes_internal, usd_internal] = ids.map(|id| id.parse().unwrap());
    Fixture {
        kes_account,
        usd_account,
        kes_internal,
        usd_internal,
    }
}
