//! Listing accounts and transactions: filters, order and keyset pagination without gaps or
//! repeats.

use std::collections::{BTreeSet, HashSet};

use chrono::Duration;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use wekeza_domain::TransactionId;
use wekeza_ledger::{
    AccountQuery, AccountSubtype, CoreBanking, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Transaction,
    TransactionQuery,
};
use wekeza_sandbox_bank::{SandboxLedger, seed};
use wekeza_store::entity::postings;
use wekeza_store::testing::TestDatabase;

use crate::support::{anchor, ledger};

/// Pages through `query` `page` at a time, following `before_id`.
async fn all_pages(
    ledger: &SandboxLedger,
    account: &wekeza_domain::AccountId,
    query: &TransactionQuery,
    page: u32,
) -> Vec<Transaction> {
    let mut collected = Vec::new();
    let mut before_id: Option<TransactionId> = None;
    loop {
        let query = TransactionQuery {
            before_id: before_id.clone(),
            limit: page,
            ..query.clone()
        };
        let batch = ledger.transactions(account, &query).await.unwrap();
        assert!(batch.len() <= page as usize);
        let Some(last) = batch.last() else {
            break;
        };
        before_id = Some(last.id.clone());
        let full = batch.len() == page as usize;
        collected.extend(batch);
        if !full {
            break;
        }
    }
    collected
}

#[tokio::test]
async fn transactions_page_newest_first_without_gaps_or_repeats() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        seed::seed(db, anchor()).await.unwrap();
        let ledger = ledger(db, anchor());
        let business = ledger
            .customer_by_username("user_business")
            .await
            .unwrap()
            .unwrap();
        let account = ledger
            .accounts(&business.id, &AccountQuery::default())
            .await
            .unwrap()[0]
            .id
            .clone();

        // The reference: the account's rows straight from the table, newest first.
        let reference: Vec<String> = postings::Entity::find()
            .filter(postings::Column::AccountId.eq(account.as_str()))
            .order_by_desc(postings::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.id)
            .collect();
        assert!(
            reference.len() > MAX_PAGE_SIZE as usize,
            "{}",
            reference.len()
        );

        // A page never exceeds the cap, whatever the limit asked.
        let capped = ledger
            .transactions(
                &account,
                &TransactionQuery {
                    limit: 5 * MAX_PAGE_SIZE,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(capped.len(), MAX_PAGE_SIZE as usize);

        let everything = all_pages(&ledger, &account, &TransactionQuery::default(), 500).await;
        let ids: Vec<String> = everything.iter().map(|t| t.id.to_string()).collect();
        assert_eq!(ids, reference);
        assert!(
            everything.windows(2).all(|w| w[0].id > w[1].id),
            "newest first by id"
        );
        assert!(
            everything
                .windows(2)
                .all(|w| w[0].booking_time >= w[1].booking_time)
        );
        // Newest first: each entry's balance is the previous (older) one's plus its amount.
        for pair in everything.windows(2) {
            assert_eq!(
                pair[1].balance_after.minor() + pair[0].amount.minor(),
                pair[0].balance_after.minor()
            );
        }

        for page in [1, 7, 37, MAX_PAGE_SIZE] {
            if page == 1 && database.backend() == sea_orm::DbBackend::Postgres {
                continue; // one page per row is slow and adds nothing on a second backend
            }
            let paged = all_pages(&ledger, &account, &TransactionQuery::default(), page).await;
            assert_eq!(paged, everything, "page size {page}");
            let ids: HashSet<_> = paged.iter().map(|t| t.id.clone()).collect();
            assert_eq!(ids.len(), paged.len(), "no repeats");
        }

        // A booking-time window: [from, to).
        let from = anchor() - Duration::days(30);
        let to = anchor() - Duration::days(10);
        let window = TransactionQuery {
            from_booking_time: Some(from),
            to_booking_time: Some(to),
            ..Default::default()
        };
        let expected: Vec<_> = everything
            .iter()
            .filter(|t| t.booking_time >= from && t.booking_time < to)
            .cloned()
            .collect();
        assert!(!expected.is_empty());
        assert!(expected.len() < everything.len());
        assert_eq!(all_pages(&ledger, &account, &window, 25).await, expected);

        // Window edges are exact: from is inclusive, to exclusive.
        let edge = expected[expected.len() / 2].booking_time;
        let at_edge = TransactionQuery {
            from_booking_time: Some(edge),
            to_booking_time: Some(edge + Duration::milliseconds(1)),
            ..Default::default()
        };
        let hits = ledger.transactions(&account, &at_edge).await.unwrap();
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|t| t.booking_time == edge));
        let before_edge = TransactionQuery {
            to_booking_time: Some(edge),
            limit: 1000,
            ..Default::default()
        };
        assert!(
            ledger
                .transactions(&account, &before_edge)
                .await
                .unwrap()
                .iter()
                .all(|t| t.booking_time < edge)
        );

        // limit 0 means the default page.
        let default_page = ledger
            .transactions(&account, &TransactionQuery::default())
            .await
            .unwrap();
        assert_eq!(default_page.len(), DEFAULT_PAGE_SIZE as usize);
        assert_eq!(default_page[..], everything[..DEFAULT_PAGE_SIZE as usize]);
    }
}

#[tokio::test]
async fn accounts_list_by_id_with_only_and_after() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        seed::seed(db, anchor()).await.unwrap();
        let ledger = ledger(db, anchor());
        let good = ledger
            .customer_by_username("user_good")
            .await
            .unwrap()
            .unwrap();
        let all = ledger
            .accounts(&good.id, &AccountQuery::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].id < all[1].id);
        assert_eq!(all[0].subtype, AccountSubtype::CurrentAccount);
        assert_eq!(all[1].subtype, AccountSubtype::Savings);
        assert!(all.iter().all(|a| a.customer_id == good.id));

        let first_page = ledger
            .accounts(
                &good.id,
                &AccountQuery {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(first_page, all[..1]);
        let second_page = ledger
            .accounts(
                &good.id,
                &AccountQuery {
                    after_id: Some(all[0].id.clone()),
                    limit: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(second_page, all[1..]);

        // `only` narrows to a consent's accounts; another customer's account never shows.
        let student = ledger
            .customer_by_username("user_student")
            .await
            .unwrap()
            .unwrap();
        let foreign = ledger
            .accounts(&student.id, &AccountQuery::default())
            .await
            .unwrap()[0]
            .id
            .clone();
        let only = AccountQuery {
            only: Some(BTreeSet::from([all[1].id.clone(), foreign])),
            ..Default::default()
        };
        assert_eq!(ledger.accounts(&good.id, &only).await.unwrap(), all[1..]);
        let none = AccountQuery {
            only: Some(BTreeSet::new()),
            ..Default::default()
        };
        assert!(ledger.accounts(&good.id, &none).await.unwrap().is_empty());

        assert_eq!(
            ledger.account(&all[0].id).await.unwrap().as_ref(),
            Some(&all[0])
        );
        assert!(
            ledger
                .customer_by_username("user_nobody")
                .await
                .unwrap()
                .is_none()
        );
        let found = ledger.customer(&good.id).await.unwrap().unwrap();
        assert_eq!(found.username, "user_good");
        assert_eq!(found.address.country, "KE");
    }
}
