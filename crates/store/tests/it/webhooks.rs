//! Webhook endpoints: round trips, an app's endpoints in keyset pages, changes, deletion and
//! secret rotation, each invisible to another app.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use wekeza_domain::{AppId, WebhookEndpointId};
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::{self, NewApp};
use wekeza_store::testing::TestDatabase;
use wekeza_store::webhooks::{self, EndpointChanges, WebhookEndpoint};

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

pub(crate) async fn app(db: &DatabaseConnection, name: &str) -> AppId {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(name.len() as u64);
    let new = NewApp {
        name: name.to_owned(),
        ..NewApp::default()
    };
    apps::create(db, new, now(), &mut rng).await.unwrap().app.id
}

pub(crate) fn endpoint(app: &AppId, url: &str) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookEndpointId::new_monotonic(now()),
        app_id: app.clone(),
        url: url.to_owned(),
        description: "orders".into(),
        event_types: vec!["payment.status_changed".into()],
        disabled: false,
        disabled_reason: None,
        failing_since: None,
        secret: "clear:whsec_one".into(),
        previous_secret: None,
        created_at: now(),
        updated_at: now(),
    }
}

#[tokio::test]
async fn endpoints_round_trip_page_change_and_rotate_per_app() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mine = app(db, "mine").await;
        let theirs = app(db, "theirs!").await;
        let mut created = Vec::new();
        for n in 0..3 {
            let endpoint = endpoint(&mine, &format!("https://example.com/{n}"));
            webhooks::insert(db, &endpoint).await.unwrap();
            created.push(endpoint);
        }
        let first = &created[0];
        assert_eq!(
            webhooks::find(db, &mine, &first.id).await.unwrap().as_ref(),
            Some(first)
        );
        assert_eq!(webhooks::find(db, &theirs, &first.id).await.unwrap(), None);

        // Newest first, in pages.
        let page = webhooks::list_for_app(db, &mine, None, 2).await.unwrap();
        let ids: Vec<_> = page.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, vec![created[2].id.clone(), created[1].id.clone()]);
        let rest = webhooks::list_for_app(db, &mine, Some(&created[1].id), 2)
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].id, first.id);
        assert!(
            webhooks::list_for_app(db, &theirs, None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Changes apply to the owner's endpoint only.
        let later = now() + Duration::minutes(5);
        let changes = EndpointChanges {
            url: "https://example.com/new".into(),
            description: String::new(),
            event_types: vec![
                "consent.status_changed".into(),
                "account.balance_changed".into(),
            ],
            disabled: true,
        };
        assert!(
            !webhooks::update(db, &theirs, &first.id, &changes, later)
                .await
                .unwrap()
        );
        assert!(
            webhooks::update(db, &mine, &first.id, &changes, later)
                .await
                .unwrap()
        );
        let changed = webhooks::find(db, &mine, &first.id).await.unwrap().unwrap();
        assert_eq!(changed.url, changes.url);
        assert_eq!(changed.event_types, changes.event_types);
        assert!(changed.disabled);
        assert_eq!(changed.updated_at, later);
        assert_eq!(changed.created_at, now());

        // Rotation keeps the old secret as the previous one, until the given time.
        let until = later + Duration::hours(24);
        assert!(
            !webhooks::rotate_secret(db, &theirs, &first.id, "clear:x", until, later)
                .await
                .unwrap()
        );
        assert!(
            webhooks::rotate_secret(db, &mine, &first.id, "clear:whsec_two", until, later)
                .await
                .unwrap()
        );
        let rotated = webhooks::find(db, &mine, &first.id).await.unwrap().unwrap();
        assert_eq!(rotated.secret, "clear:whsec_two");
        assert_eq!(
            rotated.previous_secret,
            Some(("clear:whsec_one".to_owned(), until))
        );
        assert!(!format!("{rotated:?}").contains("whsec"));

        // Deletion.
        assert!(!webhooks::delete(db, &theirs, &first.id).await.unwrap());
        assert!(webhooks::delete(db, &mine, &first.id).await.unwrap());
        assert!(!webhooks::delete(db, &mine, &first.id).await.unwrap());
        assert_eq!(webhooks::find(db, &mine, &first.id).await.unwrap(), None);
    }
}
