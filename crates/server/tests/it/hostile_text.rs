//! Hostile text in every string field of every REST route (on PostgreSQL when the suite runs
//! there): NUL bytes, control characters, bidi overrides, an unpaired surrogate written as a JSON
//! escape, a byte-order mark, path traversal, SQL, and an overlong string — in the body, the query
//! and the path. Whatever the route makes of it, it never answers a 5xx.
//!
//! The routes and their request messages come from the descriptors, and each call carries a
//! token of the caller kind the rpc's `(access)` option asks for, with every scope and
//! permission, so that the input reaches the handler; a new rpc is covered without a change here.

use std::collections::{BTreeSet, HashMap};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};
use wekeza_domain::{Permission, Scope};
use wekeza_proto::v1::Caller;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::support::{RestRoute, fill_path, rest_routes};

/// The hostile values, as JSON string literals (so that an unpaired surrogate can be written).
const HOSTILE: [(&str, &str); 10] = [
    ("nul", r#""\u0000""#),
    ("nul inside", r#""acc\u0000_x""#),
    ("controls", r#""\u0007\u001b[31m\r\n\t""#),
    ("bidi", r#""\u202eevil\u202c""#),
    ("unpaired surrogate", r#""\ud800x""#),
    ("byte-order mark", r#""\ufeffname""#),
    ("four-byte", r#""𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀""#),
    ("path traversal", r#""../../etc/passwd""#),
    ("sql", r#""' OR 1=1; DROP TABLE payments; --""#),
    ("overlong", "OVERLONG"),
];

/// How long the overlong string is: more than any field allows, less than the body limit.
const OVERLONG_CHARS: usize = 100_000;

/// The value's JSON literal.
fn literal(value: &str) -> String {
    if value == "OVERLONG" {
        format!("\"{}\"", "x".repeat(OVERLONG_CHARS))
    } else {
        value.to_owned()
    }
}

/// How long the overlong string is in a URL: the usual limit of HTTP servers and proxies.
const OVERLONG_URL_CHARS: usize = 8_000;

/// The value itself, for the path and the query (the surrogate becomes U+FFFD there: a URL
/// carries UTF-8).
fn text(value: &str) -> String {
    if value == "OVERLONG" {
        return "x".repeat(OVERLONG_URL_CHARS);
    }
    serde_json::from_str::<String>(value).unwrap_or_else(|_| "\u{fffd}x".to_owned())
}

/// Every string field reachable from `message` (nested messages to depth 3), as JSON paths of
/// json names.
fn string_fields(message: &MessageDescriptor, depth: usize) -> Vec<Vec<FieldDescriptor>> {
    let mut paths = Vec::new();
    for field in message.fields() {
        match field.kind() {
            Kind::String => paths.push(vec![field.clone()]),
            Kind::Message(inner) if depth < 3 && !inner.full_name().starts_with("google.") => {
                for mut rest in string_fields(&inner, depth + 1) {
                    rest.insert(0, field.clone());
                    paths.push(rest);
                }
            }
            _ => {}
        }
    }
    paths
}

/// A JSON body setting the field at `path` (and nothing else) to the literal `value`.
fn body_with(path: &[FieldDescriptor], value: &str) -> String {
    let (field, rest) = path.split_first().unwrap();
    let inner = if rest.is_empty() {
        literal(value)
    } else {
        body_with(rest, value)
    };
    let inner = if field.is_list() {
        format!("[{inner}]")
    } else {
        inner
    };
    format!("{{\"{}\":{inner}}}", field.json_name())
}

/// Creates `body` at `path` with `token`; answers the id at `id` in the answer.
async fn create(server: &TestServer, token: &str, path: &str, body: Value, id: &str) -> String {
    let answer: Value = server
        .http
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .header("idempotency-key", ulid::Ulid::new().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    id.split('.')
        .fold(&answer, |value, key| &value[key])
        .as_str()
        .unwrap_or_else(|| panic!("no {id} in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn hostile_text_in_any_string_field_of_any_route_never_answers_a_5xx() {
    let server = TestServer::start_with(TestDatabase::new().await, "").await;
    let app_token = server.token_for(server.app_principal(&Scope::ALL).await);
    let customer_token = server.token_for(
        server
            .customer_principal("user_good", None, &Permission::ALL, &Scope::ALL)
            .await,
    );
    // Real ids of the callers' own resources for the path variables, so that a hostile field
    // reaches the handler's use of it instead of a NOT_FOUND for the path.
    let customer = server.customer("user_good").await;
    let account_id = server.account_ids(&customer).await[0].to_string();
    let consent_id = create(
        &server,
        &app_token,
        "/v1/consents",
        json!({ "type": "CONSENT_TYPE_ACCOUNT_ACCESS", "permissions": ["PERMISSION_READ_ACCOUNTS"] }),
        "consentId",
    )
    .await;
    let endpoint_id = create(
        &server,
        &app_token,
        "/v1/webhook-endpoints",
        json!({ "url": "https://example.com/hook", "eventTypes": ["payment.status_changed"] }),
        "endpoint.endpointId",
    )
    .await;
    let real = HashMap::from([
        ("account_id", account_id),
        ("consent_id", consent_id),
        ("endpoint_id", endpoint_id.clone()),
        ("endpoint.endpoint_id", endpoint_id),
    ]);
    let real_id = |variable: &str| real.get(variable).cloned().unwrap_or_else(|| "x".into());
    let mut routes = rest_routes();
    // A reset removes the consent behind the customer token: last.
    routes.sort_by_key(|rest| rest.route.rpc.ends_with(".ResetSandbox"));

    let mut sent = 0;
    let mut failures = Vec::new();
    let mut rpcs = BTreeSet::new();
    for RestRoute { route, rpc, policy } in &routes {
        let token = match policy.caller {
            Caller::Customer => Some(&customer_token),
            Caller::App => Some(&app_token),
            _ => None,
        };
        let has_body = route.body.is_some();
        let fields = string_fields(&rpc.input(), 0);
        for (name, value) in HOSTILE {
            // Once per string field (body or query), and once in the path.
            let mut calls: Vec<(String, Option<String>, String)> = fields
                .iter()
                .map(|path| {
                    let dotted: Vec<&str> = path.iter().map(FieldDescriptor::json_name).collect();
                    let dotted = dotted.join(".");
                    let url_path = fill_path(&route.path, real_id);
                    if has_body {
                        (url_path, Some(body_with(path, value)), dotted)
                    } else {
                        let query: String = url::form_urlencoded::Serializer::new(String::new())
                            .append_pair(&dotted, &text(value))
                            .finish();
                        (format!("{url_path}?{query}"), None, dotted)
                    }
                })
                .collect();
            if route.path.contains('{') {
                let body = has_body.then(|| "{}".to_owned());
                calls.push((
                    fill_path(&route.path, |_| text(value)),
                    body,
                    "{path}".into(),
                ));
            }
            for (path, body, field) in calls {
                let mut request = server
                    .http
                    .request(route.method.clone(), format!("{}{path}", server.base_url))
                    .header("idempotency-key", ulid::Ulid::new().to_string());
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body);
                }
                let response = request.send().await.unwrap();
                sent += 1;
                rpcs.insert(route.rpc.clone());
                let status = response.status().as_u16();
                if status >= 500 {
                    let answer = response.text().await.unwrap_or_default();
                    failures.push(format!(
                        "{} {} [{field} = {name}]: {status} {answer}",
                        route.method, route.path
                    ));
                }
            }
        }
    }
    println!(
        "hostile text: {sent} requests over {} routes of {} rpcs, {} answered 5xx",
        routes.len(),
        rpcs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    server.stop().await;
}
