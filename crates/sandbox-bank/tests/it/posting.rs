//! Posting journals: atomic, balanced, within overdraft limits even under concurrency.

use std::sync::Arc;

use wekeza_domain::{AccountId, Currency, Money};
use wekeza_ledger::{CoreBanking, CoreBankingError, TransactionQuery};
use wekeza_sandbox_bank::{JournalKind, NewJournal, NewPosting, SandboxLedger};
use wekeza_store::testing::TestDatabase;

use crate::support::{anchor, dump, fixture, ledger};

fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Kes)
}

/// A payment of `minor` from `from` to `to`.
fn payment(from: &AccountId, to: &AccountId, money: Money) -> NewJournal {
    let debit = Money::from_minor(-money.minor(), money.currency());
    NewJournal {
        kind: JournalKind::Payment,
        description: "test payment".to_owned(),
        postings: vec![
            NewPosting::new(from.clone(), debit, "Payment out", "INV-1", "transfers"),
            NewPosting::new(to.clone(), money, "Payment out", "INV-1", "settlement"),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_spend_the_same_funds_twice() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        // 8 000.00 booked + 2 000.00 overdraft = funds for exactly ten debits of 1 000.00.
        let accounts = fixture(db, 8_000_00, 2_000_00).await;
        let ledger = Arc::new(ledger(db, anchor()));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let ledger: Arc<SandboxLedger> = Arc::clone(&ledger);
                let journal = payment(&accounts.kes_account, &accounts.kes_internal, kes(1_000_00));
                tokio::spawn(async move { ledger.post_journal(journal).await })
            })
            .collect();
        let mut succeeded = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => succeeded += 1,
                Err(CoreBankingError::InsufficientFunds) => refused += 1,
                Err(other) => panic!("unexpected {other:?} on {:?}", database.backend()),
            }
        }
        assert_eq!(
            (succeeded, refused),
            (10, 10),
            "on {:?}",
            database.backend()
        );

        let balance = ledger
            .balance(&accounts.kes_account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(balance.booked.minor(), -2_000_00);
        assert_eq!(balance.available.minor(), 0);
        let statement = ledger
            .transactions(&accounts.kes_account, &TransactionQuery::default())
            .await
            .unwrap();
        assert_eq!(statement.len(), 10);
        let mut balances: Vec<i64> = statement.iter().map(|t| t.balance_after.minor()).collect();
        balances.sort_unstable();
        let expected: Vec<i64> = (0..10).map(|i| -2_000_00 + i * 1_000_00).collect();
        assert_eq!(balances, expected, "each debit saw the one before it");
        let data = dump(db).await;
        let internal = data
            .accounts
            .iter()
            .find(|a| a.id == accounts.kes_internal.as_str())
            .unwrap();
        assert_eq!(internal.booked_minor, -8_000_00 + 10 * 1_000_00);
    }
}

#[tokio::test]
async fn posting_moves_balances_and_reports_balance_after() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let accounts = fixture(db, 5_000_00, 0).await;
        let ledger = ledger(db, anchor());
        let posted = ledger
            .post_journal(payment(
                &accounts.kes_account,
                &accounts.kes_internal,
                kes(1_234_56),
            ))
            .await
            .unwrap();
        assert_eq!(posted.booking_time, anchor());
        assert_eq!(posted.postings.len(), 2);
        assert_eq!(posted.postings[0].account_id, accounts.kes_account);
        assert_eq!(posted.postings[0].amount.minor(), -1_234_56);
        assert_eq!(
            posted.postings[0].balance_after.minor(),
            5_000_00 - 1_234_56
        );
        assert_eq!(
            posted.postings[1].balance_after.minor(),
            -5_000_00 + 1_234_56
        );

        let statement = ledger
            .transactions(&accounts.kes_account, &TransactionQuery::default())
            .await
            .unwrap();
        assert_eq!(statement, posted.postings[..1]);
        let balance = ledger
            .balance(&accounts.kes_account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(balance.booked.minor(), 5_000_00 - 1_234_56);
        assert_eq!(balance.as_of, anchor());

        // A credit to a customer account needs no funds.
        ledger
            .post_journal(payment(
                &accounts.kes_internal,
                &accounts.kes_account,
                kes(10_00),
            ))
            .await
            .unwrap();
        let balance = ledger
            .balance(&accounts.kes_account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(balance.booked.minor(), 5_000_00 - 1_234_56 + 10_00);
    }
}

#[tokio::test]
async fn refused_journals_change_nothing() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let accounts = fixture(db, 1_000_00, 500_00).await;
        let ledger = ledger(db, anchor());
        let before = dump(db).await;

        // Beyond booked + overdraft.
        let too_much = payment(&accounts.kes_account, &accounts.kes_internal, kes(1_500_01));
        assert!(matches!(
            ledger.post_journal(too_much).await,
            Err(CoreBankingError::InsufficientFunds)
        ));

        // Unbalanced.
        let mut unbalanced = payment(&accounts.kes_account, &accounts.kes_internal, kes(100));
        unbalanced.postings[1].amount = kes(99);
        assert!(matches!(
            ledger.post_journal(unbalanced).await,
            Err(CoreBankingError::UnbalancedJournal(Currency::Kes))
        ));

        // Balanced, but KES posted to a USD account.
        let mismatch = payment(&accounts.usd_account, &accounts.kes_internal, kes(100));
        assert!(matches!(
            ledger.post_journal(mismatch).await,
            Err(CoreBankingError::CurrencyMismatch)
        ));

        // An unknown account, after a leg that would have succeeded.
        let unknown = AccountId::new_random(anchor());
        let to_nowhere = payment(&accounts.kes_account, &unknown, kes(100));
        assert!(matches!(
            ledger.post_journal(to_nowhere).await,
            Err(CoreBankingError::NoSuchAccount)
        ));

        // Empty journals.
        let empty = NewJournal {
            kind: JournalKind::Payment,
            description: "nothing".to_owned(),
            postings: Vec::new(),
        };
        assert!(matches!(
            ledger.post_journal(empty).await,
            Err(CoreBankingError::EmptyJournal)
        ));

        assert_eq!(before, dump(db).await, "a refused journal left traces");

        // Cross-currency journals balance per currency.
        let usd = |minor| Money::from_minor(minor, Currency::Usd);
        let fx = NewJournal {
            kind: JournalKind::Fx,
            description: "FX".to_owned(),
            postings: vec![
                NewPosting::new(accounts.kes_account.clone(), kes(-129_00), "FX", "fx", "fx"),
                NewPosting::new(accounts.kes_internal.clone(), kes(129_00), "FX", "fx", "fx"),
                NewPosting::new(accounts.usd_internal.clone(), usd(-1_00), "FX", "fx", "fx"),
                NewPosting::new(accounts.usd_account.clone(), usd(1_00), "FX", "fx", "fx"),
            ],
        };
        let posted = ledger.post_journal(fx).await.unwrap();
        assert_eq!(posted.postings[3].balance_after, usd(1_00));
    }
}
