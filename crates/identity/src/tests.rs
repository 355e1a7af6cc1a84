//! Unit tests over a real database: key rotation with overlap, access tokens, DPoP proofs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;
use wekeza_domain::{ManualClock, Scope};
use wekeza_store::apps::{self, NewApp};
use wekeza_store::testing::TestDatabase;

use crate::dpop::ProofTarget;
use crate::testing::ClientKey;
use crate::{
    Error, Identity, Issuer, KeyEncryptionKey, RETIRED_KEY_PUBLISHED_FOR, ROTATION_PERIOD, Settings,
};

pub(crate) const ISSUER: &str = "https://api.bank.example";

pub(crate) struct Fixture {
    pub(crate) database: TestDatabase,
    pub(crate) clock: ManualClock,
    pub(crate) identity: Identity,
}

pub(crate) async fn fixture() -> Fixture {
    let database = TestDatabase::new().await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap());
    let identity = start(&database, &clock).await;
    Fixture {
        database,
        clock,
        identity,
    }
}

async fn start(database: &TestDatabase, clock: &ManualClock) -> Identity {
    start_sealed(database, clock, None).await.unwrap()
}

async fn start_sealed(
    database: &TestDatabase,
    clock: &ManualClock,
    key_encryption_key: Option<&str>,
) -> Result<Identity, Error> {
    let settings = Settings {
        issuer: Issuer::parse(ISSUER).unwrap(),
        key_encryption_key: key_encryption_key.map(|key| KeyEncryptionKey::parse(key).unwrap()),
        upstream: None,
        audit: Arc::new(wekeza_domain::audit::Discard),
    };
    Identity::start(database.conn().clone(), Arc::new(clock.clone()), settings).await
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn app(fixture: &Fixture) -> apps::App {
    apps::create(
        fixture.database.conn(),
        NewApp {
            name: "Budgeting".into(),
            scopes: BTreeSet::from([Scope::AccountsRead]),
            ..NewApp::default()
        },
        fixture.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap()
    .app
}

use wekeza_domain::Clock as _;

#[tokio::test]
async fn keys_are_created_once_and_rotated_with_overlap() {
    let f = fixture().await;
    let now = f.clock.now();
    let first = kids(&f.identity.inner.keys.jwks(now).await.unwrap());
    assert_eq!(first.len(), 1);
    let jwk = &f.identity.inner.keys.jwks(now).await.unwrap()["keys"][0];
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk["alg"], "ES256");
    assert!(
        jwk.get("d").is_none(),
        "the JWKS must not hold private parts"
    );

    // A restart keeps the key.
    let again = start(&f.database, &f.clock).await;
    assert_eq!(kids(&again.inner.keys.jwks(now).await.unwrap()), first);

    // A token signed just before the rotation stays valid after it.
    let app = app(&f).await;
    f.clock.advance(ROTATION_PERIOD - Duration::minutes(1));
    let old = f
        .identity
        .issue_client_token(&app, &app.scopes, None, f.clock.now())
        .await
        .unwrap();
    f.clock.advance(Duration::minutes(2));
    let rotated = start(&f.database, &f.clock).await;
    let both = kids(&rotated.inner.keys.jwks(f.clock.now()).await.unwrap());
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], first[0]);
    rotated
        .decode_access_token(&old.token, f.clock.now())
        .await
        .unwrap();
    let new = rotated
        .issue_client_token(&app, &app.scopes, None, f.clock.now())
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&new.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(both[1].as_str()));
    // The first instance learns of the new key when it meets it.
    f.identity
        .decode_access_token(&new.token, f.clock.now())
        .await
        .unwrap();

    // Once nothing it signed can be valid, the old key is withdrawn.
    f.clock
        .advance(RETIRED_KEY_PUBLISHED_FOR + Duration::minutes(1));
    let later = kids(&rotated.inner.keys.jwks(f.clock.now()).await.unwrap());
    assert_eq!(later, vec![both[1].clone()]);
}

#[tokio::test]
async fn access_tokens_verify_until_they_expire_or_are_revoked() {
    let f = fixture().await;
    let app = app(&f).await;
    let now = f.clock.now();
    let issued = f
        .identity
        .issue_client_token(&app, &app.scopes, None, now)
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let claims = f
        .identity
        .verify_access_token(&issued.token, now)
        .await
        .unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, ISSUER);
    assert_eq!(claims.sub, app.client_id);
    assert_eq!(claims.scope, "accounts.read");
    assert_eq!(claims.exp - claims.iat, 300);

    // Tampering breaks the signature.
    let mut parts: Vec<&str> = issued.token.split('.').collect();
    let forged_claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({ "iss": ISSUER, "aud": ISSUER, "sub": "x", "client_id": app.client_id,
                "scope": "accounts.read payments.initiate", "jti": "j", "iat": claims.iat,
                "exp": claims.exp })
        .to_string(),
    );
    parts[1] = &forged_claims;
    let forged = parts.join(".");
    assert!(matches!(
        f.identity.verify_access_token(&forged, now).await,
        Err(Error::InvalidToken(_))
    ));

    // Another issuer's view of the same database refuses it.
    let settings = Settings {
        issuer: Issuer::parse("https://elsewhere.example").unwrap(),
        key_encryption_key: None,
        upstream: None,
        audit: Arc::new(wekeza_domain::audit::Discard),
    };
    let other = Identity::start(
        f.database.conn().clone(),
        Arc::new(f.clock.clone()),
        settings,
    )
    .await
    .unwrap();
    assert!(other.verify_access_token(&issued.token, now).await.is_err());

    // Expiry, with the small skew.
    let later = now + Duration::seconds(300);
    assert!(
        f.identity
            .verify_access_token(&issued.token, later)
            .await
            .is_ok()
    );
    let expired = now + Duration::seconds(311);
    assert!(matches!(
        f.identity.verify_access_token(&issued.token, expired).await,
        Err(Error::InvalidToken(_))
    ));

    // Revocation.
    f.identity.revoke(&claims, now).await.unwrap();
    assert!(matches!(
        f.identity.verify_access_token(&issued.token, now).await,
        Err(Error::InvalidToken(_))
    ));
    assert!(
        f.identity
            .decode_access_token(&issued.token, now)
            .await
            .is_ok()
    );
}

fn with_proof(proof: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("dpop", HeaderValue::from_str(proof).unwrap());
    headers
}

#[tokio::test]
async fn dpop_proofs_follow_rfc_9449() {
    let f = fixture().await;
    let key = ClientKey::generate();
    let now = f.clock.now();
    let url = format!("{ISSUER}/v1/accounts");
    let target = ProofTarget {
        method: &Method::GET,
        url: &url,
        access_token: Some("the-token"),
    };
    let verify = |proof: String| {
        let identity = f.identity.clone();
        async move {
            identity
                .verify_dpop_proof(&with_proof(&proof), target, now)
                .await
        }
    };

    let good = key.dpop_proof("GET", &format!("{url}?page=2"), now, Some("the-token"));
    assert_eq!(verify(good.clone()).await.unwrap(), key.thumbprint());
    // Single use.
    assert!(matches!(
        verify(good).await,
        Err(Error::InvalidDpopProof(_))
    ));

    let refused = [
        (
            "wrong method",
            key.dpop_proof("POST", &url, now, Some("the-token")),
        ),
        (
            "wrong url",
            key.dpop_proof("GET", &format!("{ISSUER}/v1/other"), now, Some("the-token")),
        ),
        (
            "wrong token",
            key.dpop_proof("GET", &url, now, Some("another-token")),
        ),
        ("no ath", key.dpop_proof("GET", &url, now, None)),
        (
            "too old",
            key.dpop_proof("GET", &url, now - Duration::minutes(3), Some("the-token")),
        ),
        (
            "from the future",
            key.dpop_proof("GET", &url, now + Duration::minutes(1), Some("the-token")),
        ),
        (
            "wrong typ",
            key.sign(
                &json!({ "typ": "JWT", "alg": "ES256", "jwk": key.bare_jwk() }),
                &json!({ "jti": "a", "htm": "GET", "htu": url, "iat": now.timestamp(),
                         "ath": crate::jwt::sha256_b64url("the-token") }),
            ),
        ),
        (
            "private key in the header",
            key.sign(
                &json!({ "typ": "dpop+jwt", "alg": "ES256",
                         "jwk": { "kty": "EC", "crv": "P-256", "x": key.bare_jwk()["x"],
                                  "y": key.bare_jwk()["y"], "d": "AAAA" } }),
                &json!({ "jti": "b", "htm": "GET", "htu": url, "iat": now.timestamp(),
                         "ath": crate::jwt::sha256_b64url("the-token") }),
            ),
        ),
        (
            "signed by another key",
            ClientKey::generate().sign(
                &json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.bare_jwk() }),
                &json!({ "jti": "c", "htm": "GET", "htu": url, "iat": now.timestamp(),
                         "ath": crate::jwt::sha256_b64url("the-token") }),
            ),
        ),
        ("garbage", "not.a.proof".to_owned()),
    ];
    for (case, proof) in refused {
        assert!(
            matches!(verify(proof).await, Err(Error::InvalidDpopProof(_))),
            "{case}"
        );
    }
    // No header, or two.
    assert!(
        f.identity
            .verify_dpop_proof(&HeaderMap::new(), target, now)
            .await
            .is_err()
    );
    let mut two = with_proof(&key.dpop_proof("GET", &url, now, Some("the-token")));
    two.append(
        "dpop",
        HeaderValue::from_str(&key.dpop_proof("GET", &url, now, Some("the-token"))).unwrap(),
    );
    assert!(
        f.identity
            .verify_dpop_proof(&two, target, now)
            .await
            .is_err()
    );
}

/// Stored private keys, oldest first.
async fn stored_private_keys(database: &TestDatabase) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    use wekeza_store::identity::entity::signing_keys::{Column, Entity};
    Entity::find()
        .order_by_asc(Column::CreatedAt)
        .all(database.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.private_key)
        .collect()
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest_when_a_key_encryption_key_is_set() {
    const KEK: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA";
    const OTHER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    assert!(KeyEncryptionKey::parse("c2hvcnQ").is_err());
    assert!(!format!("{:?}", KeyEncryptionKey::parse(KEK).unwrap()).contains(KEK));

    let database = TestDatabase::new().await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap());
    // A key made in the clear stays usable once a key-encryption key is configured…
    start(&database, &clock).await;
    let sealed = start_sealed(&database, &clock, Some(KEK)).await.unwrap();
    let stored = stored_private_keys(&database).await;
    assert!(stored[0].starts_with("pkcs8:"));
    // …and the next key is sealed.
    clock.advance(ROTATION_PERIOD);
    let now = clock.now();
    let kid = kids(
        &start_sealed(&database, &clock, Some(KEK))
            .await
            .unwrap()
            .inner
            .keys
            .jwks(now)
            .await
            .unwrap(),
    );
    let stored = stored_private_keys(&database).await;
    assert_eq!(stored.len(), 2);
    assert!(stored[1].starts_with("aes256gcm:"), "sealed");
    assert!(!stored[1].contains("pkcs8"));
    // Signing with it works (through the first instance, which reloads).
    let f = Fixture {
        database,
        clock: clock.clone(),
        identity: sealed.clone(),
    };
    let app = app(&f).await;
    let issued = sealed
        .issue_client_token(&app, &app.scopes, None, now)
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.kid.as_deref(), kid.last().map(String::as_str));
    // Without the key-encryption key, or with another one, the sealed key cannot be used.
    assert!(matches!(
        start_sealed(&f.database, &clock, None).await,
        Err(Error::Key(_))
    ));
    assert!(matches!(
        start_sealed(&f.database, &clock, Some(OTHER)).await,
        Err(Error::Key(_))
    ));
}
