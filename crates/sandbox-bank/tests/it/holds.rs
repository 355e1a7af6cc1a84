//! Funds holds: placed without ever reserving the same funds twice, settled into exactly one
//! journal (with its events) however often settlement runs, released at most once.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use wekeza_domain::{AccountId, Currency, Money};
use wekeza_ledger::{CoreBanking, CoreBankingError, Settlement};
use wekeza_sandbox_bank::InternalAccount;
use wekeza_store::DatabaseConnection;
use wekeza_store::entity::enums::{AccountOwner, AccountStatus, AccountSubtype, CustomerKind};
use wekeza_store::entity::{accounts, journals, outbox_events};
use wekeza_store::holds::{self, Placement};
use wekeza_store::testing::TestDatabase;

use crate::support::{anchor, fixture, ledger};

fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Kes)
}

/// `(booked, held)` of an account.
async fn funds(db: &DatabaseConnection, account: &AccountId) -> (i64, i64) {
    let row = wekeza_store::accounts::find(db, account)
        .await
        .unwrap()
        .unwrap();
    (row.booked_minor, row.held_minor)
}

/// Places a hold in a transaction of its own.
async fn place(
    db: &DatabaseConnection,
    reference: &str,
    account: &AccountId,
    amount: Money,
) -> Placement {
    let txn = db.begin().await.unwrap();
    let placed = holds::place(&txn, reference, account, amount, anchor())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    placed
}

/// The bank's KES clearing account, which the fixture lacks.
async fn clearing(db: &DatabaseConnection) -> AccountId {
    let number = InternalAccount::Clearing.account_number(Currency::Kes);
    extra_account(db, None, &number, 0).await
}

/// Another KES account: the customer's (`customer` is the owner's id) or the bank's.
async fn extra_account(
    db: &DatabaseConnection,
    customer: Option<String>,
    number: &str,
    booked: i64,
) -> AccountId {
    let id = AccountId::new_random(anchor());
    wekeza_store::accounts::insert_many(
        db,
        [accounts::Model {
            id: id.to_string(),
            owner: if customer.is_some() {
                AccountOwner::Customer
            } else {
                AccountOwner::Internal
            },
            customer_id: customer,
            kind: CustomerKind::Business,
            subtype: AccountSubtype::CurrentAccount,
            currency: "KES".into(),
            nickname: number.into(),
            status: AccountStatus::Enabled,
            account_number: number.into(),
            holder_name: "Wekeza Bank".into(),
            opened_at: anchor(),
            overdraft_limit_minor: 0,
            booked_minor: booked,
            held_minor: 0,
            is_primary: false,
        }],
    )
    .await
    .unwrap();
    id
}

fn to(account_number: &str) -> Settlement {
    Settlement {
        creditor_account_number: account_number.into(),
        creditor_name: "Acme Ltd".into(),
        reference: "INV-7".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_holds_never_reserve_the_same_funds_twice() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        // 8 000.00 booked + 2 000.00 overdraft = funds for exactly ten holds of 1 000.00.
        let accounts = fixture(db, 8_000_00, 2_000_00).await;
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                let account = accounts.kes_account.clone();
                tokio::spawn(async move {
                    place(&db, &format!("pay_{i}"), &account, kes(1_000_00)).await
                })
            })
            .collect();
        let mut placed = 0;
        for task in tasks {
            if task.await.unwrap() == Placement::Placed {
                placed += 1;
            }
        }
        assert_eq!(placed, 10, "on {:?}", database.backend());
        assert_eq!(
            funds(db, &accounts.kes_account).await,
            (8_000_00, 10_000_00)
        );
        // Held funds are spent for every debit: not a cent more can leave.
        let balance = ledger(db, anchor())
            .balance(&accounts.kes_account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(balance.available.minor(), 0);
        assert_eq!(
            place(db, "one-more", &accounts.kes_account, kes(1)).await,
            Placement::Refused
        );
        // Only customer accounts in the amount's currency hold funds.
        assert_eq!(
            place(
                db,
                "usd",
                &accounts.kes_account,
                Money::from_minor(1, Currency::Usd)
            )
            .await,
            Placement::Refused
        );
        assert_eq!(
            place(db, "internal", &accounts.kes_internal, kes(1)).await,
            Placement::Refused
        );
    }
}

#[tokio::test]
async fn a_hold_settles_into_one_journal_however_often_settlement_runs() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let accounts = fixture(db, 5_000_00, 0).await;
        let clearing = clearing(db).await;
        let ledger = ledger(db, anchor());
        assert_eq!(
            place(db, "pay_a", &accounts.kes_account, kes(3_000_00)).await,
            Placement::Placed
        );
        assert_eq!(
            place(db, "pay_b", &accounts.kes_account, kes(1_000_00)).await,
            Placement::Placed
        );

        // Out of the bank: debtor debited, clearing credited, the hold gone.
        let first = ledger
            .settle_hold("pay_a", &to("22200033344"))
            .await
            .unwrap();
        assert_eq!(funds(db, &accounts.kes_account).await, (2_000_00, 1_000_00));
        assert_eq!(funds(db, &clearing).await.0, 3_000_00);
        assert_eq!(first.postings[0].account_id, accounts.kes_account);
        assert_eq!(first.postings[0].amount, kes(-3_000_00));
        assert_eq!(
            first.postings[0].counterparty_name.as_deref(),
            Some("Acme Ltd")
        );
        assert_eq!(first.postings[1].account_id, clearing);
        // Again (a re-run after a crash): the same journal, nothing posted twice.
        let again = ledger
            .settle_hold("pay_a", &to("22200033344"))
            .await
            .unwrap();
        assert_eq!(again, first);
        let recorded = journals::Entity::find()
            .filter(journals::Column::ExternalReference.eq("pay_a"))
            .count(db)
            .await
            .unwrap();
        assert_eq!(recorded, 1);
        assert_eq!(funds(db, &accounts.kes_account).await, (2_000_00, 1_000_00));
        // The customer account's events, in the posting's transaction; none for clearing.
        let events: Vec<(String, String)> = outbox_events::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.event_type, row.aggregate_id))
            .collect();
        let debtor = accounts.kes_account.to_string();
        assert_eq!(
            events,
            [
                ("account.transaction_created".to_owned(), debtor.clone()),
                ("account.balance_changed".to_owned(), debtor)
            ]
        );
        // A settled hold cannot be released.
        assert!(matches!(
            ledger.release_hold("pay_a").await,
            Err(CoreBankingError::HoldNotActive)
        ));

        // A credit that cannot be made leaves the hold as it was.
        assert!(matches!(
            ledger.settle_hold("pay_b", &to("01199990002")).await,
            Err(CoreBankingError::CurrencyMismatch)
        ));
        assert_eq!(funds(db, &accounts.kes_account).await, (2_000_00, 1_000_00));
        // Released (twice: the second is a no-op), it cannot be settled any more.
        ledger.release_hold("pay_b").await.unwrap();
        ledger.release_hold("pay_b").await.unwrap();
        assert_eq!(funds(db, &accounts.kes_account).await, (2_000_00, 0));
        assert!(matches!(
            ledger.settle_hold("pay_b", &to("22200033344")).await,
            Err(CoreBankingError::HoldNotActive)
        ));
        assert!(matches!(
            ledger.settle_hold("pay_unknown", &to("22200033344")).await,
            Err(CoreBankingError::NoSuchHold)
        ));
        assert!(matches!(
            ledger.release_hold("pay_unknown").await,
            Err(CoreBankingError::NoSuchHold)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_settlements_run_concurrently_without_deadlock() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let accounts = fixture(db, 1_000_00, 0).await;
        let owner = wekeza_store::accounts::find(db, &accounts.kes_account)
            .await
            .unwrap()
            .unwrap()
            .customer_id;
        let other = extra_account(db, owner, "01199990003", 1_000_00).await;
        let ledger = std::sync::Arc::new(ledger(db, anchor()));
        // Twenty payments each way between the two accounts, all settled at once.
        let mut references = Vec::new();
        for i in 0..20 {
            let (from, to_number) = if i % 2 == 0 {
                (&accounts.kes_account, "01199990003")
            } else {
                (&other, "01199990001")
            };
            let reference = format!("pay_{i}");
            assert_eq!(
                place(db, &reference, from, kes(10_00)).await,
                Placement::Placed
            );
            references.push((reference, to_number));
        }
        let tasks: Vec<_> = references
            .into_iter()
            .map(|(reference, number)| {
                let ledger = ledger.clone();
                tokio::spawn(async move { ledger.settle_hold(&reference, &to(number)).await })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e} on {:?}", database.backend()));
        }
        assert_eq!(funds(db, &accounts.kes_account).await, (1_000_00, 0));
        assert_eq!(funds(db, &other).await, (1_000_00, 0));
    }
}
