//! The seed: a consistent double-entry ledger, the documented test users, the same rows for
//! the same anchor on every backend, fast.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Duration;
use wekeza_domain::{Currency, CustomerId, Money};
use wekeza_ledger::CoreBanking;
use wekeza_sandbox_bank::seed::{self, JANE_ACCOUNT_NUMBER, TEST_USERS};
use wekeza_sandbox_bank::{InternalAccount, JournalKind, NewJournal, NewPosting};
use wekeza_store::entity::enums::{self, AccountOwner};
use wekeza_store::secret;
use wekeza_store::testing::TestDatabase;

use crate::support::{Dump, anchor, dump, ledger};

/// Everything the double-entry rules promise, checked on a dump.
fn assert_consistent(data: &Dump) {
    let accounts: BTreeMap<&str, _> = data.accounts.iter().map(|a| (a.id.as_str(), a)).collect();

    // Every journal sums to zero per currency, with at least two postings.
    let mut journals: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    let mut legs: BTreeMap<&str, usize> = BTreeMap::new();
    for posting in &data.postings {
        *journals
            .entry(posting.journal_id.as_str())
            .or_default()
            .entry(posting.currency.as_str())
            .or_default() += posting.amount_minor;
        *legs.entry(posting.journal_id.as_str()).or_default() += 1;
    }
    assert_eq!(
        journals.len(),
        data.journals.len(),
        "every journal has postings"
    );
    for (journal, sums) in &journals {
        assert!(legs[journal] >= 2, "{journal} has one leg");
        for (currency, sum) in sums {
            assert_eq!(*sum, 0, "{journal} does not balance in {currency}");
        }
    }

    // Every account's booked balance is the sum of its postings, and each posting's
    // balance_after is the running sum in id order (= booking order).
    let mut running: BTreeMap<&str, i64> = BTreeMap::new();
    let mut last_time = BTreeMap::new();
    for posting in &data.postings {
        let account = accounts[posting.account_id.as_str()];
        assert_eq!(posting.currency, account.currency, "{}", posting.id);
        let balance = running.entry(posting.account_id.as_str()).or_default();
        *balance += posting.amount_minor;
        assert_eq!(
            *balance, posting.balance_after_minor,
            "balance after {}",
            posting.id
        );
        if account.owner == AccountOwner::Customer {
            assert!(
                posting.balance_after_minor >= -account.overdraft_limit_minor,
                "{} went below its overdraft limit at {}",
                account.account_number,
                posting.id
            );
        }
        if let Some(previous) = last_time.insert(posting.account_id.as_str(), posting.booking_time)
        {
            assert!(previous <= posting.booking_time, "id order is time order");
        }
    }
    for account in &data.accounts {
        let sum = running.get(account.id.as_str()).copied().unwrap_or(0);
        assert_eq!(
            account.booked_minor, sum,
            "booked balance of {}",
            account.account_number
        );
    }
}

#[tokio::test]
async fn seeded_ledger_is_consistent_and_realistic() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        assert!(seed::is_empty(db).await.unwrap());
        let started = Instant::now();
        let summary = seed::seed(db, anchor()).await.unwrap();
        eprintln!(
            "seed on {:?}: {:?} in {:?}",
            database.backend(),
            summary,
            started.elapsed()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let data = dump(db).await;
        assert_eq!(summary.customers, 6);
        assert!(!seed::is_empty(db).await.unwrap());
        assert_eq!(summary.postings, data.postings.len());
        assert_consistent(&data);

        // The documented users, each with 1–3 accounts and working credentials.
        for user in TEST_USERS {
            let customer = data
                .customers
                .iter()
                .find(|c| c.username == user.username)
                .unwrap_or_else(|| panic!("{} not seeded", user.username));
            assert_eq!(customer.persona, user.persona);
            assert_eq!(customer.full_name, user.full_name);
            assert!(secret::verify_password(
                &customer.password_hash,
                user.password
            ));
            assert!(!secret::verify_password(&customer.password_hash, "wrong"));
            assert!(customer.password_hash.starts_with("$argon2id$"));
            assert_eq!(customer.totp_secret.len(), 32);
            let accounts: Vec<_> = data
                .accounts
                .iter()
                .filter(|a| a.customer_id.as_deref() == Some(customer.id.as_str()))
                .collect();
            assert!((1..=3).contains(&accounts.len()), "{}", user.username);
            assert_eq!(accounts.iter().filter(|a| a.is_primary).count(), 1);

            // ≥ 90 days of history before the anchor, nothing at or after it.
            for account in accounts {
                let times: Vec<_> = data
                    .postings
                    .iter()
                    .filter(|p| p.account_id == account.id)
                    .map(|p| p.booking_time)
                    .collect();
                assert!(
                    times.len() >= 5,
                    "{} has {} postings",
                    account.nickname,
                    times.len()
                );
                assert!(times.iter().all(|t| *t < anchor()));
                assert!(times.iter().any(|t| *t <= anchor() - Duration::days(99)));
                if account.is_primary {
                    // Everyday activity throughout: the first week and the last days.
                    assert!(
                        times.len() >= 60,
                        "{} has {} postings",
                        account.nickname,
                        times.len()
                    );
                    let first_week = anchor() - Duration::days(92);
                    assert!(times.iter().filter(|t| **t <= first_week).count() >= 2);
                    assert!(times.iter().any(|t| *t >= anchor() - Duration::days(3)));
                }
                eprintln!(
                    "{:>14} {:<22} {:>4} postings, booked {:>12}",
                    user.username,
                    account.nickname,
                    times.len(),
                    account.booked_minor
                );
            }
        }

        let ledger = ledger(db, anchor());
        // Jane Doe owns 01100012345.
        let jane = ledger
            .account_by_number(JANE_ACCOUNT_NUMBER)
            .await
            .unwrap()
            .unwrap();
        let jane_customer = ledger.customer(&jane.customer_id).await.unwrap().unwrap();
        assert_eq!(jane_customer.full_name, "Jane Doe");
        assert_eq!(jane.holder_name, "Jane Doe");

        // The overdrawn customer is below zero, within the limit.
        let overdrawn = ledger
            .customer_by_username("user_overdrawn")
            .await
            .unwrap()
            .unwrap();
        let account = &ledger
            .accounts(&overdrawn.id, &Default::default())
            .await
            .unwrap()[0];
        let balance = ledger.balance(&account.id).await.unwrap().unwrap();
        assert_eq!(balance.booked.minor(), -27_480_55);
        assert_eq!(balance.available.minor(), 50_000_00 - 27_480_55);

        // The traveller spends dollars at foreign hotels; the business lives on M-Pesa.
        let usd = data
            .accounts
            .iter()
            .find(|a| a.currency == "USD" && a.owner == AccountOwner::Customer)
            .unwrap();
        assert!(
            data.postings
                .iter()
                .any(|p| p.account_id == usd.id
                    && p.merchant_category_code.as_deref() == Some("7011"))
        );
        let business = ledger
            .customer_by_username("user_business")
            .await
            .unwrap()
            .unwrap();
        let business_account = &ledger
            .accounts(&business.id, &Default::default())
            .await
            .unwrap()[0];
        let till_receipts = data
            .postings
            .iter()
            .filter(|p| {
                p.account_id == business_account.id.as_str()
                    && p.category == "sales"
                    && p.amount_minor > 0
            })
            .count();
        assert!(till_receipts >= 300, "{till_receipts} till receipts");
        assert!(business_account.overdraft_limit.minor() > 0);
        assert!(
            data.journals
                .iter()
                .any(|j| j.kind == enums::JournalKind::Fx)
        );

        // Internal accounts are found by purpose and hidden from the customer-facing calls.
        let clearing = ledger
            .internal_account(InternalAccount::Clearing, Currency::Kes)
            .await
            .unwrap();
        assert!(ledger.account(&clearing).await.unwrap().is_none());
        assert!(ledger.balance(&clearing).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn same_anchor_same_rows_on_every_database() {
    let first = TestDatabase::sqlite().await;
    let second = TestDatabase::sqlite().await;
    seed::seed(first.conn(), anchor()).await.unwrap();
    seed::seed(second.conn(), anchor()).await.unwrap();
    let expected = dump(first.conn()).await;
    assert_eq!(expected, dump(second.conn()).await);
    assert!(!expected.postings.is_empty());

    if let Some(postgres) = TestDatabase::postgres_if_configured().await {
        seed::seed(postgres.conn(), anchor()).await.unwrap();
        assert_eq!(
            expected,
            dump(postgres.conn()).await,
            "PostgreSQL differs from SQLite"
        );
    }

    // Another anchor moves everything.
    let third = TestDatabase::sqlite().await;
    seed::seed(third.conn(), anchor() + Duration::days(1))
        .await
        .unwrap();
    assert_ne!(expected.postings, dump(third.conn()).await.postings);
}

#[tokio::test]
async fn reset_and_seed_restores_the_data_set() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        seed::seed(db, anchor()).await.unwrap();
        let expected = dump(db).await;

        // Seeding twice fails as a whole and leaves the data as it was.
        assert!(seed::seed(db, anchor()).await.is_err());
        assert_eq!(expected, dump(db).await);

        // Spend some money, then reset.
        let ledger = ledger(db, anchor());
        let good = ledger
            .customer_by_username("user_good")
            .await
            .unwrap()
            .unwrap();
        let account = ledger
            .accounts(&good.id, &Default::default())
            .await
            .unwrap()[0]
            .clone();
        let clearing = ledger
            .internal_account(InternalAccount::Clearing, Currency::Kes)
            .await
            .unwrap();
        let amount = wekeza_domain::Money::from_minor(1_000_00, Currency::Kes);
        ledger
            .post_journal(NewJournal {
                kind: JournalKind::Payment,
                description: "test payment".to_owned(),
                postings: vec![
                    NewPosting::new(
                        account.id.clone(),
                        Money::from_minor(-amount.minor(), Currency::Kes),
                        "out",
                        "r",
                        "transfers",
                    ),
                    NewPosting::new(clearing, amount, "out", "r", "settlement"),
                ],
            })
            .await
            .unwrap();
        assert_ne!(expected, dump(db).await);

        seed::reset_and_seed(db, anchor()).await.unwrap();
        assert_eq!(expected, dump(db).await);
        let unknown = CustomerId::new_random(anchor());
        assert!(ledger.customer(&unknown).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn any_anchor_gives_a_consistent_ledger() {
    for anchor in [
        "2026-01-31T23:00:00Z",
        "2026-02-28T12:00:00Z",
        "2026-06-01T00:00:00Z",
        "2026-12-26T06:45:00Z",
    ] {
        let anchor = anchor.parse().unwrap();
        let database = TestDatabase::sqlite().await;
        let db = database.conn();
        seed::seed(db, anchor).await.unwrap();
        let data = dump(db).await;
        assert_consistent(&data);
        assert!(data.postings.iter().all(|p| p.booking_time < anchor));
        let ledger = ledger(db, anchor);
        let overdrawn = ledger
            .customer_by_username("user_overdrawn")
            .await
            .unwrap()
            .unwrap();
        let account = ledger
            .accounts(&overdrawn.id, &Default::default())
            .await
            .unwrap()[0]
            .id
            .clone();
        let balance = ledger.balance(&account).await.unwrap().unwrap();
        assert_eq!(balance.booked.minor(), -27_480_55, "anchor {anchor}");
    }
}
