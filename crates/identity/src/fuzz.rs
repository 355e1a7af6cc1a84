//! Randomised input (proptest) for the parsers an attacker reaches first: JWS headers, JWKs,
//! DPoP proofs, access tokens and OAuth2 form bodies. The properties: nothing panics, garbage is
//! refused, and valid input round-trips (a header reads back, a proof by a client's key verifies
//! to its thumbprint, an issued token decodes to its claims, a form's parameters read back).
//!
//! Each property runs proptest's default number of cases (256), which `PROPTEST_CASES`
//! overrides: `PROPTEST_CASES=20000 cargo test -p wekeza-identity fuzz` for a longer run (see
//! docs/conventions.md, "Tests"). The proofs and tokens are checked by the real `Identity` over
//! a real database, so those two properties run their cases through a `TestRunner` inside one
//! runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, Method, header};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use wekeza_domain::{Clock as _, Scope};

use crate::dpop::ProofTarget;
use crate::form::Form;
use crate::jwt;
use crate::testing::ClientKey;
use crate::tests::{ISSUER, app, fixture};

/// A JSON value of any shape, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Members a JOSE header or a JWK has, and some it should not.
const MEMBERS: [&str; 14] = [
    "alg", "typ", "kid", "jwk", "kty", "crv", "x", "y", "n", "e", "d", "k", "use", "x5c",
];

/// A JSON object of (mostly) JOSE members with values of any shape, base64url strings among
/// them.
fn jose_object() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        4 => prop::sample::select(&MEMBERS[..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let value = prop_oneof![
        json_value(),
        prop::collection::vec(any::<u8>(), 0..70)
            .prop_map(|bytes| json!(URL_SAFE_NO_PAD.encode(bytes))),
        prop::sample::select(
            &[
                "ES256", "RS256", "HS256", "none", "EC", "RSA", "OKP", "oct", "P-256", "dpop+jwt",
                "at+jwt"
            ][..]
        )
        .prop_map(Value::from),
    ];
    prop::collection::btree_map(name, value, 0..8)
        .prop_map(|map: BTreeMap<String, Value>| map.into_iter().collect())
}

/// Text shaped like a compact JWS, or not at all.
fn jws_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.=+/-]{0,300}",
        (jose_object(), json_value(), "[A-Za-z0-9_-]{0,90}").prop_map(|(header, claims, sig)| {
            format!(
                "{}.{}.{sig}",
                URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            )
        }),
    ]
}

/// `text` with the byte at `at` (modulo its length) replaced by `by`, when that leaves UTF-8.
fn mutated(text: &str, at: usize, by: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let at = at % bytes.len();
    if bytes[at] == by {
        return None;
    }
    bytes[at] = by;
    String::from_utf8(bytes).ok()
}

proptest! {
    #[test]
    fn raw_headers_never_panic_and_read_back(text in jws_like(), header in jose_object()) {
        let _ = jwt::raw_header(&text);
        let jws = format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string()));
        prop_assert_eq!(jwt::raw_header(&jws), Some(header));
    }

    #[test]
    fn jwks_never_panic_and_public_keys_read_back(raw in jose_object()) {
        if let Ok((_, _)) = jwt::public_key(&raw) {
            for private in ["d", "k"] {
                prop_assert!(!raw.contains_key(private));
            }
        }
        let key = ClientKey::generate();
        let Value::Object(bare) = key.bare_jwk() else { unreachable!() };
        let (jwk, _) = jwt::public_key(&bare).unwrap();
        prop_assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256).unwrap(),
            key.thumbprint()
        );
    }

    #[test]
    fn forms_never_panic_and_unique_parameters_read_back(
        body in prop::collection::vec(any::<u8>(), 0..300),
        params in prop::collection::btree_map("[a-z_]{1,12}", "[ -~]{1,40}", 0..8),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let _ = Form::parse(&headers, &body);
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let form = Form::parse(&headers, encoded.as_bytes()).unwrap();
        for (name, value) in &params {
            prop_assert_eq!(form.get(name), Some(value.as_str()));
        }
    }
}

/// The runtime a property's cases share (each blocks on it).
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `test` on each case of `strategy` (cases needing the database block on a
/// [`current_thread`] runtime).
fn run_async<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    TestRunner::new(Config::default())
        .run(&strategy, test)
        .unwrap();
}

#[test]
fn dpop_proofs_never_panic_garbage_is_refused_and_valid_ones_verify() {
    let runtime = current_thread();
    let f = runtime.block_on(fixture());
    let now = f.clock.now();
    let key = ClientKey::generate();
    let strategy = (
        jws_like(),
        any::<usize>(),
        any::<u8>(),
        prop::sample::select(&["GET", "POST", "PUT", "PATCH", "DELETE"][..]),
        "(/[a-z0-9-]{1,12}){1,4}",
        "[ -~]{1,40}",
    );
    run_async(strategy, |(garbage, at, by, method, path, token)| {
        let url = format!("{ISSUER}{path}");
        let method: Method = method.parse().unwrap();
        let target = ProofTarget {
            method: &method,
            url: &url,
            access_token: Some(&token),
        };
        let verify = |proof: &str| {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_str(proof).ok()?;
            headers.insert("dpop", value);
            Some(runtime.block_on(f.identity.verify_dpop_proof(&headers, target, now)))
        };
        let good = key.dpop_proof(method.as_str(), &url, now, Some(&token));
        if let Some(answer) = verify(&garbage) {
            prop_assert!(answer.is_err(), "{garbage}");
        }
        if let Some(bad) = mutated(&good, at, by)
            && let Some(answer) = verify(&bad)
        {
            prop_assert!(answer.is_err(), "a mutated proof verified: {bad}");
        }
        prop_assert_eq!(verify(&good).unwrap().unwrap(), key.thumbprint());
        Ok(())
    });
}

#[test]
fn access_tokens_never_panic_garbage_is_refused_and_issued_ones_decode() {
    let runtime = current_thread();
    let f = runtime.block_on(fixture());
    let now = f.clock.now();
    let app = runtime.block_on(app(&f));
    let strategy = (
        jws_like(),
        any::<usize>(),
        any::<u8>(),
        prop::sample::subsequence(Scope::ALL.to_vec(), 0..Scope::ALL.len()),
    );
    run_async(strategy, |(garbage, at, by, scopes)| {
        let decode = |token: &str| runtime.block_on(f.identity.decode_access_token(token, now));
        prop_assert!(decode(&garbage).is_err(), "{garbage}");
        let scopes: BTreeSet<Scope> = scopes.into_iter().collect();
        let issued = runtime
            .block_on(f.identity.issue_client_token(&app, &scopes, None, now))
            .unwrap();
        if let Some(bad) = mutated(&issued.token, at, by) {
            prop_assert!(decode(&bad).is_err(), "a mutated token decoded: {bad}");
        }
        let claims = decode(&issued.token).unwrap();
        prop_assert_eq!(&claims.client_id, &app.client_id);
        prop_assert_eq!(claims.scope, issued.claims.scope);
        prop_assert_eq!(claims.jti, issued.claims.jti);
        Ok(())
    });
}
