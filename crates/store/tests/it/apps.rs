//! Apps: secrets are shown once, stored only as hashes, and verified in constant time.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use sea_orm::EntityTrait;
use wekeza_domain::Scope;
use wekeza_store::apps::{self, AppEnvironment, AppStatus, NewApp};
use wekeza_store::entity::{api_keys as api_key_rows, apps as app_rows};
use wekeza_store::testing::TestDatabase;
use wekeza_store::{api_keys, secret};

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

fn new_app(environment: AppEnvironment) -> NewApp {
    NewApp {
        name: "Budget Buddy".to_owned(),
        environment,
        redirect_uris: vec!["https://budgetbuddy.example.com/callback".to_owned()],
        scopes: BTreeSet::from([Scope::AccountsRead, Scope::OpenId]),
        ..NewApp::default()
    }
}

#[tokio::test]
async fn created_app_verifies_its_secret_and_stores_only_hashes() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let created = apps::create(db, new_app(AppEnvironment::Sandbox), now(), &mut rng)
            .await
            .unwrap();

        assert!(created.client_secret.len() >= 43, "≥ 256 bits, base64url");
        assert!(apps::verify_client_secret(
            &created.app,
            &created.client_secret
        ));
        assert!(!apps::verify_client_secret(&created.app, "not-the-secret"));
        assert!(!apps::verify_client_secret(&created.app, ""));

        let found = apps::find_by_client_id(db, &created.app.client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, created.app);
        assert_eq!(found.status, AppStatus::Active);
        assert_eq!(
            found.scopes,
            BTreeSet::from([Scope::AccountsRead, Scope::OpenId])
        );
        assert!(apps::verify_client_secret(&found, &created.client_secret));
        assert_eq!(apps::find(db, &created.app.id).await.unwrap(), Some(found));
        assert!(
            apps::find_by_client_id(db, "app_unknown")
                .await
                .unwrap()
                .is_none()
        );

        // Only hashes at rest.
        let row = app_rows::Entity::find_by_id(created.app.id.as_str())
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(row.client_secret_hash, created.client_secret);
        assert_eq!(
            row.client_secret_hash,
            secret::sha256_hex(&created.client_secret)
        );
        let key = &created.api_key.key;
        assert!(key.starts_with("wk_test_"), "{key}");
        assert_eq!(key.len(), "wk_test_".len() + 40);
        let keys = api_key_rows::Entity::find().all(db).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_hash, secret::sha256_hex(key));
        assert!(key.starts_with(&keys[0].key_prefix));
        assert_eq!(keys[0].key_prefix.len(), "wk_test_".len() + 8);
        let everything = format!("{row:?}{keys:?}");
        assert!(!everything.contains(&created.client_secret));
        assert!(!everything.contains(key.as_str()));
    }
}

#[tokio::test]
async fn api_keys_are_found_by_key_until_revoked() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(10);
        let created = apps::create(db, new_app(AppEnvironment::Production), now(), &mut rng)
            .await
            .unwrap();
        let key = created.api_key.key;
        assert!(key.starts_with("wk_live_"), "{key}");

        let found = api_keys::find_by_key(db, &key).await.unwrap().unwrap();
        assert_eq!(found.app_id, created.app.id);
        assert_eq!(found, created.api_key.record);
        assert!(
            api_keys::find_by_key(db, "wk_live_0000")
                .await
                .unwrap()
                .is_none()
        );

        let app = &created.app.id;
        assert!(found.is_active(now()));
        assert!(api_keys::revoke(db, app, &found.id, now()).await.unwrap());
        assert!(!api_keys::revoke(db, app, &found.id, now()).await.unwrap());
        let revoked = api_keys::find_by_key(db, &key).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(now()));
        assert!(
            !revoked.is_active(now()),
            "a revoked key is found, and inactive"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_works_until_its_overlap_ends_beside_its_successor() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let created = apps::create(db, new_app(AppEnvironment::Sandbox), now(), &mut rng)
            .await
            .unwrap();
        let app = &created.app.id;
        let old = created.api_key.record;
        assert!(created.api_key.key.starts_with("wk_test_"));
        let until = now() + chrono::Duration::hours(24);

        let new = api_keys::rotate(db, app, &old.id, until, now(), &mut rng)
            .await
            .unwrap()
            .expect("a working key rotates");
        assert_eq!(new.record.display_name, old.display_name);
        assert!(new.key.starts_with("wk_test_"));
        let old_now = api_keys::find(db, app, &old.id).await.unwrap().unwrap();
        assert!(old_now.is_active(now()) && !old_now.is_active(until));
        assert_eq!(api_keys::list(db, app).await.unwrap().len(), 2);

        // Revoking brings the end forward; a later rotation of the old key is refused.
        let soon = now() + chrono::Duration::minutes(5);
        assert!(api_keys::revoke(db, app, &old.id, soon).await.unwrap());
        assert!(
            !api_keys::revoke(db, app, &old.id, until).await.unwrap(),
            "never pushed back"
        );
        assert!(
            api_keys::rotate(db, app, &old.id, until, until, &mut rng)
                .await
                .unwrap()
                .is_none()
        );

        // Another app cannot touch this app's keys.
        let other = apps::create(db, new_app(AppEnvironment::Sandbox), now(), &mut rng)
            .await
            .unwrap();
        assert!(
            !api_keys::revoke(db, &other.app.id, &new.record.id, now())
                .await
                .unwrap()
        );
        assert!(
            api_keys::find(db, &other.app.id, &new.record.id)
                .await
                .unwrap()
                .is_none()
        );

        // Use is recorded, later times only.
        let used = now() + chrono::Duration::minutes(1);
        api_keys::record_use(db, &[(new.record.id.clone(), used)])
            .await
            .unwrap();
        api_keys::record_use(db, &[(new.record.id.clone(), now())])
            .await
            .unwrap();
        let read = api_keys::find(db, app, &new.record.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.last_used_at, Some(used));
    }
}

#[tokio::test]
async fn production_secrets_come_from_the_os() {
    let database = TestDatabase::sqlite().await;
    let mut rng = secret::os_rng();
    let first = apps::create(
        database.conn(),
        new_app(AppEnvironment::Sandbox),
        now(),
        &mut rng,
    )
    .await
    .unwrap();
    let second = apps::create(
        database.conn(),
        new_app(AppEnvironment::Sandbox),
        now(),
        &mut rng,
    )
    .await
    .unwrap();
    assert_ne!(first.client_secret, second.client_secret);
    assert_ne!(first.api_key.key, second.api_key.key);
}
