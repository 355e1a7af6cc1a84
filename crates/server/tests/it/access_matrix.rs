//! The access matrix, generated from the contracts: for every REST route, the credentials its
//! rpc's `(access)` option does not allow are refused with the right reason — no credentials,
//! a forged token, an app token where a customer's consent is needed, a token missing each
//! required scope, a customer token whose consent misses each required permission, and an
//! idempotent call without its `Idempotency-Key`; and outside the sandbox, every rpc that is
//! `sandbox_only` (and no other) is refused `SANDBOX_ONLY`. A new rpc is covered without a change
//! here.
//!
//! Bodies carry every REQUIRED field: the REST transcoder checks those while building the
//! message, before the call reaches the policy, so a body missing one is answered 400 whatever
//! the credentials.

use std::collections::BTreeMap;

use serde_json::Value;
use wekeza_domain::{Permission, Scope};
use wekeza_gateway::policy::RpcPolicy;
use wekeza_proto::v1::Caller;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::support::rest_routes;

/// One attempt: which credentials, and the reason it must be refused with.
struct Attempt {
    what: String,
    token: Option<String>,
    idempotency_key: bool,
    status: u16,
    reason: &'static str,
}

/// The attempts `policy` must refuse.
async fn attempts(server: &TestServer, policy: &RpcPolicy) -> Vec<Attempt> {
    let refused = |what: &str, token: Option<String>, status, reason| Attempt {
        what: what.to_owned(),
        token,
        idempotency_key: true,
        status,
        reason,
    };
    let customer = |scopes: Vec<Scope>, permissions: Vec<Permission>| async move {
        server.token_for(
            server
                .customer_principal("user_good", None, &permissions, &scopes)
                .await,
        )
    };
    let forged = refused(
        "a forged token",
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into()),
        401,
        "INVALID_TOKEN",
    );
    if matches!(policy.caller, Caller::Developer | Caller::Operator) {
        // No developer or operator credentials exist until issue 14: every caller but a forged
        // token is the wrong one, whatever its scopes or headers.
        let app = server.token_for(server.app_principal(&Scope::ALL).await);
        return vec![
            refused("no credentials", None, 403, "WRONG_CALLER"),
            forged,
            refused("an app token", Some(app), 403, "WRONG_CALLER"),
        ];
    }
    let mut attempts = vec![
        refused("no credentials", None, 401, "UNAUTHENTICATED"),
        forged,
    ];
    if policy.caller == Caller::Customer {
        let app = server.token_for(server.app_principal(&Scope::ALL).await);
        attempts.push(refused("an app token", Some(app), 403, "WRONG_CALLER"));
    }
    for missing in &policy.scopes {
        let scopes: Vec<Scope> = Scope::ALL.into_iter().filter(|s| s != missing).collect();
        let token = match policy.caller {
            Caller::Customer => customer(scopes, Permission::ALL.to_vec()).await,
            _ => server.token_for(server.app_principal(&scopes).await),
        };
        let what = format!("a token without {missing}");
        attempts.push(refused(&what, Some(token), 403, "INSUFFICIENT_SCOPE"));
    }
    for missing in &policy.permissions {
        let permissions: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| p != missing)
            .collect();
        let token = customer(Scope::ALL.to_vec(), permissions).await;
        let what = format!("a consent without {}", missing.as_str());
        attempts.push(refused(&what, Some(token), 403, "PERMISSION_NOT_GRANTED"));
    }
    if policy.idempotent {
        let token = match policy.caller {
            Caller::Customer => customer(Scope::ALL.to_vec(), Permission::ALL.to_vec()).await,
            _ => server.token_for(server.app_principal(&Scope::ALL).await),
        };
        attempts.push(Attempt {
            idempotency_key: false,
            ..refused(
                "no Idempotency-Key",
                Some(token),
                400,
                "IDEMPOTENCY_KEY_MISSING",
            )
        });
    }
    attempts
}

#[tokio::test]
async fn every_route_refuses_the_credentials_its_access_policy_does_not_allow() {
    let server = TestServer::start_with(TestDatabase::new().await, "").await;
    let mut refusals: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut routes = 0;
    for rest in rest_routes() {
        let (route, policy) = (&rest.route, &rest.policy);
        if policy.caller == Caller::Public {
            continue;
        }
        routes += 1;
        let (path, body) = rest.request(|_| "x".into());
        for attempt in attempts(&server, policy).await {
            let mut request = server
                .http
                .request(route.method.clone(), format!("{}{path}", server.base_url));
            if let Some(token) = &attempt.token {
                request = request.bearer_auth(token);
            }
            if attempt.idempotency_key {
                request = request.header("idempotency-key", ulid::Ulid::new().to_string());
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            let reason = body["reason"].as_str().unwrap_or_default();
            if status == attempt.status && reason == attempt.reason {
                *refusals.entry(attempt.reason).or_default() += 1;
            } else {
                wrong.push(format!(
                    "{} {} with {}: expected {} {}, got {status} {body}",
                    route.method, route.path, attempt.what, attempt.status, attempt.reason
                ));
            }
        }
    }
    let total: usize = refusals.values().sum();
    println!(
        "access matrix: {routes} routes, {} attempts, {total} refused as required {refusals:?}, \
         {} allowed or refused otherwise",
        total + wrong.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    server.stop().await;
}

#[tokio::test]
async fn outside_the_sandbox_every_sandbox_only_route_is_refused() {
    let server = TestServer::start_with(TestDatabase::new().await, "env = \"qa\"\n").await;
    let token = server.token_for(server.app_principal(&Scope::ALL).await);
    let (mut refused, mut wrong) = (0, Vec::new());
    for rest in rest_routes() {
        let (path, body) = rest.request(|_| "x".into());
        let mut request = server
            .http
            .request(
                rest.route.method.clone(),
                format!("{}{path}", server.base_url),
            )
            .bearer_auth(&token)
            .header("idempotency-key", ulid::Ulid::new().to_string());
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or_default();
        let sandbox_only = status == 403 && answer["reason"] == "SANDBOX_ONLY";
        if sandbox_only == rest.policy.sandbox_only {
            refused += usize::from(sandbox_only);
        } else {
            wrong.push(format!(
                "{} {}: {status} {answer}",
                rest.route.method, rest.route.path
            ));
        }
    }
    println!("outside the sandbox: {refused} sandbox-only routes refused SANDBOX_ONLY");
    assert!(refused > 0);
    assert!(wrong.is_empty(), "{wrong:#?}");
    server.stop().await;
}
