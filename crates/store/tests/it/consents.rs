//! Consents, idempotency records and the outbox: round trips, optimistic status changes,
//! keyset pages, one winner among racing claims of a key.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use sea_orm::{EntityTrait, TransactionTrait};
use wekeza_domain::{
    AccountId, AppId, Consent, ConsentId, ConsentStatus, ConsentTerms, Currency, CustomerId,
    EventId, FundsConfirmationTerms, Money, PaymentTerms, Permission,
};
use wekeza_store::apps::{self, NewApp};
use wekeza_store::consents::{self, StatusWrite};
use wekeza_store::entity::{consents as consent_rows, customers as customer_rows, enums};
use wekeza_store::idempotency::{self, Claim, Key};
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::testing::TestDatabase;
use wekeza_store::{DatabaseConnection, customers};

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn app(db: &DatabaseConnection, name: &str) -> AppId {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(name.len() as u64);
    let new = NewApp {
        name: name.to_owned(),
        ..NewApp::default()
    };
    apps::create(db, new, now(), &mut rng).await.unwrap().app.id
}

pub(crate) async fn customer(db: &DatabaseConnection, username: &str) -> CustomerId {
    let id = CustomerId::new_random(now());
    let row = customer_rows::Model {
        id: id.to_string(),
        username: username.to_owned(),
        password_hash: "x".into(),
        full_name: "Test Customer".into(),
        email: "test@example.com".into(),
        phone_number: "+254700000000".into(),
        address_line: "1 Test Road".into(),
        town_name: "Nairobi".into(),
        post_code: "00100".into(),
        country: "KE".into(),
        kind: enums::CustomerKind::Personal,
        persona: String::new(),
        totp_secret: String::new(),
        created_at: now(),
    };
    customers::insert_many(db, [row]).await.unwrap();
    id
}

fn payment(app: &AppId, at: DateTime<Utc>) -> Consent {
    Consent::new(
        ConsentId::new_monotonic(at),
        app.clone(),
        ConsentTerms::Payment(PaymentTerms {
            amount: Money::from_minor(150_050, Currency::Kes),
            creditor_name: "Jane Doe".into(),
            creditor_account: "01100012345".into(),
            reference: "Invoice 42".into(),
            debtor_account: Some("01100054321".into()),
        }),
        at + Duration::minutes(10),
        at,
    )
}

fn access(app: &AppId, at: DateTime<Utc>) -> Consent {
    Consent::new(
        ConsentId::new_monotonic(at),
        app.clone(),
        ConsentTerms::AccountAccess {
            permissions: BTreeSet::from([Permission::ReadAccounts, Permission::ReadBalances]),
        },
        at + Duration::days(90),
        at,
    )
}

#[tokio::test]
async fn consents_round_trip_and_change_status_only_from_the_expected_one() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let app_id = app(db, "Budget Buddy").await;
        let customer_id = customer(db, "ann").await;
        let funds = Consent::new(
            ConsentId::new_monotonic(now()),
            app_id.clone(),
            ConsentTerms::FundsConfirmation(FundsConfirmationTerms {
                amount: Money::from_minor(99, Currency::Usd),
                debtor_account: None,
            }),
            now() + Duration::days(30),
            now(),
        );
        for consent in [payment(&app_id, now()), access(&app_id, now()), funds] {
            consents::insert(db, &consent).await.unwrap();
            assert_eq!(
                consents::find(db, &consent.id).await.unwrap(),
                Some(consent.clone())
            );

            let accounts = BTreeSet::from([AccountId::new_random(now())]);
            let authorised = consent
                .clone()
                .authorise(customer_id.clone(), accounts, now() + Duration::minutes(1))
                .unwrap();
            let write =
                consents::update_status(db, &authorised, ConsentStatus::AwaitingAuthorisation)
                    .await
                    .unwrap();
            assert_eq!(write, StatusWrite::Applied);
            assert_eq!(
                consents::find(db, &consent.id).await.unwrap(),
                Some(authorised.clone())
            );

            // A second writer that decided on the old status loses.
            let rejected = consent.reject(now() + Duration::minutes(2)).unwrap();
            let write =
                consents::update_status(db, &rejected, ConsentStatus::AwaitingAuthorisation)
                    .await
                    .unwrap();
            assert_eq!(write, StatusWrite::Conflict);
            assert_eq!(
                consents::find(db, &authorised.id).await.unwrap(),
                Some(authorised)
            );
        }
        assert_eq!(
            consents::find(db, &ConsentId::new_random(now()))
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn expiry_due_finds_live_consents_past_their_time_longest_overdue_first() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let app_id = app(db, "Budget Buddy").await;
        let customer_id = customer(db, "ann").await;
        // Payments expire after 10 minutes: created one minute apart, oldest first.
        let first = payment(&app_id, now());
        let second = payment(&app_id, now() + Duration::minutes(1));
        let revoked = payment(&app_id, now() + Duration::minutes(2));
        let lasting = access(&app_id, now());
        for consent in [&second, &first, &revoked, &lasting] {
            consents::insert(db, consent).await.unwrap();
        }
        let authorised = second
            .clone()
            .authorise(customer_id, BTreeSet::new(), now() + Duration::minutes(2))
            .unwrap();
        let write = consents::update_status(db, &authorised, ConsentStatus::AwaitingAuthorisation);
        assert_eq!(write.await.unwrap(), StatusWrite::Applied);
        let gone = revoked.clone().revoke(now()).unwrap();
        let write = consents::update_status(db, &gone, ConsentStatus::AwaitingAuthorisation);
        assert_eq!(write.await.unwrap(), StatusWrite::Applied);

        let ids = |found: Vec<Consent>| found.into_iter().map(|c| c.id).collect::<Vec<_>>();
        let at = |minutes| now() + Duration::minutes(minutes);
        assert!(
            consents::expiry_due(db, at(9), 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Due at exactly its expiration time; the authorised one got 10 fresh minutes.
        let due = consents::expiry_due(db, at(10), 10).await.unwrap();
        assert_eq!(ids(due), vec![first.id.clone()]);
        let due = consents::expiry_due(db, at(12), 10).await.unwrap();
        assert_eq!(ids(due), vec![first.id.clone(), second.id.clone()]);
        let due = consents::expiry_due(db, at(12), 1).await.unwrap();
        assert_eq!(ids(due), vec![first.id.clone()], "bounded by the limit");
    }
}

#[tokio::test]
async fn a_customer_lists_their_consents_newest_first_with_the_app_names() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let buddy = app(db, "Budget Buddy").await;
        let shop = app(db, "Corner Shop").await;
        let ann = customer(db, "ann").await;
        let bob = customer(db, "bob").await;
        let mut given = Vec::new();
        for minute in 0..5 {
            let at = now() + Duration::minutes(minute);
            let app_id = if minute % 2 == 0 { &buddy } else { &shop };
            let consent = access(app_id, at)
                .authorise(ann.clone(), BTreeSet::from([AccountId::new_random(at)]), at)
                .unwrap();
            consents::insert(db, &consent).await.unwrap();
            given.push(consent);
        }
        // Bob's consent and a pending one are not Ann's.
        let bobs = access(&buddy, now())
            .authorise(
                bob.clone(),
                BTreeSet::from([AccountId::new_random(now())]),
                now(),
            )
            .unwrap();
        consents::insert(db, &bobs).await.unwrap();
        consents::insert(db, &payment(&buddy, now())).await.unwrap();

        let first = consents::list_for_customer(db, &ann, None, 3)
            .await
            .unwrap();
        let second = consents::list_for_customer(db, &ann, Some(&first[2].consent.id), 3)
            .await
            .unwrap();
        let listed: Vec<&ConsentId> = first
            .iter()
            .chain(&second)
            .map(|listed| &listed.consent.id)
            .collect();
        let expected: Vec<&ConsentId> = given.iter().rev().map(|consent| &consent.id).collect();
        assert_eq!(listed, expected);
        assert_eq!(first[0].client_name, "Budget Buddy");
        assert_eq!(first[1].client_name, "Corner Shop");
        assert_eq!(first[1].client_id, shop.to_string());
        assert_eq!(second.len(), 2);
        assert_eq!(
            consents::list_for_customer(db, &bob, None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        // At one app: only what Ann gave that app, still newest first and paged.
        let at_shop = consents::list_for_app_customer(db, &shop, &ann, None, 10)
            .await
            .unwrap();
        let expected: Vec<&ConsentId> = given
            .iter()
            .rev()
            .filter(|consent| consent.app_id == shop)
            .map(|consent| &consent.id)
            .collect();
        let listed: Vec<&ConsentId> = at_shop.iter().map(|listed| &listed.consent.id).collect();
        assert_eq!(listed, expected);
        let after = consents::list_for_app_customer(db, &buddy, &ann, Some(&given[4].id), 10)
            .await
            .unwrap();
        let listed: Vec<&ConsentId> = after.iter().map(|listed| &listed.consent.id).collect();
        assert_eq!(listed, [&given[2].id, &given[0].id]);
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_its_response_and_refuses_other_requests() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let app_id = app(db, "Budget Buddy").await;
        let other_app = app(db, "Corner Shop").await;
        let key = Key {
            app: &app_id,
            key: "key-1",
            operation: "/pkg.Service/Create",
        };

        // A claim whose transaction rolls back leaves the key free.
        let txn = db.begin().await.unwrap();
        assert_eq!(
            idempotency::claim(&txn, key, "hash-a", now())
                .await
                .unwrap(),
            Claim::Fresh
        );
        txn.rollback().await.unwrap();

        let txn = db.begin().await.unwrap();
        assert_eq!(
            idempotency::claim(&txn, key, "hash-a", now())
                .await
                .unwrap(),
            Claim::Fresh
        );
        idempotency::complete(&txn, key, vec![0, 1, 2, 255])
            .await
            .unwrap();
        txn.commit().await.unwrap();

        let txn = db.begin().await.unwrap();
        assert_eq!(
            idempotency::claim(&txn, key, "hash-a", now())
                .await
                .unwrap(),
            Claim::Replay(vec![0, 1, 2, 255])
        );
        assert_eq!(
            idempotency::claim(&txn, key, "hash-b", now())
                .await
                .unwrap(),
            Claim::Mismatch
        );
        // Keys are per app and per operation.
        let elsewhere = [
            Key {
                app: &other_app,
                ..key
            },
            Key {
                operation: "/pkg.Service/Other",
                ..key
            },
        ];
        for other in elsewhere {
            assert_eq!(
                idempotency::claim(&txn, other, "hash-b", now())
                    .await
                    .unwrap(),
                Claim::Fresh
            );
        }
        txn.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn racing_claims_of_one_key_do_the_work_once() {
    for database in TestDatabase::all().await {
        let db = database.conn().clone();
        let app_id = app(&db, "Budget Buddy").await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let db = db.clone();
            let app_id = app_id.clone();
            tasks.push(tokio::spawn(async move {
                let key = Key {
                    app: &app_id,
                    key: "race",
                    operation: "/pkg.Service/Create",
                };
                let txn = db.begin().await.unwrap();
                let claim = idempotency::claim(&txn, key, "hash", now()).await.unwrap();
                if claim == Claim::Fresh {
                    // The work: a consent, then the response.
                    let consent = payment(&app_id, now());
                    consents::insert(&txn, &consent).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    idempotency::complete(&txn, key, consent.id.to_string().into_bytes())
                        .await
                        .unwrap();
                    txn.commit().await.unwrap();
                    consent.id.to_string().into_bytes()
                } else {
                    txn.rollback().await.unwrap();
                    match claim {
                        Claim::Replay(response) => response,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }));
        }
        let mut answers = BTreeSet::new();
        for task in tasks {
            answers.insert(task.await.unwrap());
        }
        assert_eq!(answers.len(), 1, "every request got the same answer");
        let rows = consent_rows::Entity::find().all(&db).await.unwrap();
        assert_eq!(rows.len(), 1, "on {:?}", database.backend());
    }
}

#[tokio::test]
async fn the_outbox_hands_out_unpublished_events_in_order() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut ids = Vec::new();
        for n in 0..5u8 {
            let id = EventId::new_monotonic(now());
            ids.push(id.clone());
            outbox::append(
                db,
                OutboxEvent {
                    id,
                    subject: "wekeza.events.consent.status_changed".into(),
                    event_type: "consent.status_changed".into(),
                    aggregate_id: format!("cns_{n}"),
                    payload: vec![n, 0, 255],
                    created_at: now(),
                    published_at: None,
                },
            )
            .await
            .unwrap();
        }
        let pending = outbox::unpublished(db, 3).await.unwrap();
        let pending_ids: Vec<EventId> = pending.iter().map(|event| event.id.clone()).collect();
        assert_eq!(pending_ids, ids[..3]);
        assert_eq!(pending[1].payload, vec![1, 0, 255]);
        assert_eq!(pending[1].aggregate_id, "cns_1");

        outbox::mark_published(db, &pending_ids, now())
            .await
            .unwrap();
        let rest: Vec<EventId> = outbox::unpublished(db, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.id)
            .collect();
        assert_eq!(rest, ids[3..]);
    }
}
