//! Webhook endpoints through real REST and gRPC clients: creation with a signing secret shown
//! once, idempotency, validation, paging, changes, deletion, secret rotation, ownership, the
//! `webhooks.manage` scope, and secrets sealed at rest under a key-encryption key.

use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;
use wekeza_domain::Scope;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::webhook_service_client::WebhookServiceClient;
use wekeza_store::entity::{idempotency_keys, webhook_endpoints};
use wekeza_store::sealing::{self, KeyEncryptionKey};
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::{TestServer, test_now};

use crate::rest::assert_problem;
use crate::support::assert_reason;

/// A key-encryption key for the server that seals secrets.
const KEK: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA";

fn grpc(server: &TestServer) -> WebhookServiceClient<Channel> {
    WebhookServiceClient::new(server.channel())
}

/// A new app allowed to manage webhooks, and a token for it.
async fn manager_token(server: &TestServer) -> String {
    let principal = server.app_principal(&[Scope::WebhooksManage]).await;
    server.token_for(principal)
}

/// A REST call with `token`, an `Idempotency-Key` when given, and a JSON body when given.
async fn call(
    server: &TestServer,
    method: Method,
    token: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server
        .http
        .request(method, format!("{}{path}", server.base_url))
        .bearer_auth(token);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn orders_hook() -> Value {
    json!({
        "url": "https://example.com/hooks/orders",
        "description": "orders",
        "eventTypes": ["payment.status_changed"]
    })
}

/// Creates an endpoint over gRPC; answers the response.
async fn create_grpc(
    server: &TestServer,
    token: &str,
    url: &str,
) -> pb::CreateWebhookEndpointResponse {
    let mut request = server.request(
        token,
        pb::CreateWebhookEndpointRequest {
            url: url.into(),
            description: String::new(),
            event_types: vec!["consent.status_changed".into()],
        },
    );
    request.metadata_mut().insert(
        "idempotency-key",
        ulid::Ulid::new().to_string().parse().unwrap(),
    );
    grpc(server)
        .create_webhook_endpoint(request)
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn endpoints_are_created_read_listed_and_deleted_with_the_secret_shown_once() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;

    let created = ok_json(
        call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            Some("create-1"),
            Some(orders_hook()),
        )
        .await,
    )
    .await;
    let secret = created["signingSecret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(secret.len(), "whsec_".len() + 44, "base64 of 32 bytes");
    let id = created["endpoint"]["endpointId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("whe_"));
    assert_eq!(
        created["endpoint"]["url"],
        "https://example.com/hooks/orders"
    );
    assert_eq!(
        created["endpoint"]["eventTypes"],
        json!(["payment.status_changed"])
    );

    // Over gRPC too; http to this machine is accepted in the sandbox.
    let second = create_grpc(&server, &token, "http://localhost:9000/hook").await;
    assert!(second.signing_secret.starts_with("whsec_"));
    assert_ne!(second.signing_secret, secret);
    let second_id = second.endpoint.unwrap().endpoint_id;

    // Reading never shows a secret.
    let path = format!("/v1/webhook-endpoints/{id}");
    let read = ok_json(call(&server, Method::GET, &token, &path, None, None).await).await;
    assert_eq!(read["endpointId"], id.as_str());
    assert_eq!(read["description"], "orders");
    assert!(!read.to_string().contains("whsec_"));
    let listed = ok_json(
        call(
            &server,
            Method::GET,
            &token,
            "/v1/webhook-endpoints",
            None,
            None,
        )
        .await,
    )
    .await;
    assert!(!listed.to_string().contains("whsec_"));
    let ids: Vec<&str> = listed["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|endpoint| endpoint["endpointId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second_id.as_str(), id.as_str()], "newest first");
    let got = grpc(&server)
        .get_webhook_endpoint(server.request(
            &token,
            pb::GetWebhookEndpointRequest {
                endpoint_id: second_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .endpoint
        .unwrap();
    assert_eq!(got.url, "http://localhost:9000/hook");
    assert_eq!(got.create_time.unwrap().seconds, test_now().timestamp());

    // Deletion.
    ok_json(call(&server, Method::DELETE, &token, &path, None, None).await).await;
    let gone = call(&server, Method::GET, &token, &path, None, None).await;
    assert_problem(gone, 404, "NOT_FOUND").await;
    let again = call(&server, Method::DELETE, &token, &path, None, None).await;
    assert_problem(again, 404, "NOT_FOUND").await;
    server.stop().await;
}

#[tokio::test]
async fn creates_are_idempotent_per_key() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;
    let create = |key: Option<&'static str>, body: Value| {
        call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            key,
            Some(body),
        )
    };
    let first = ok_json(create(Some("same-key"), orders_hook()).await).await;
    let retried = ok_json(create(Some("same-key"), orders_hook()).await).await;
    assert_eq!(
        retried, first,
        "same key and body: the same endpoint and secret"
    );
    let mut other = orders_hook();
    other["url"] = json!("https://example.com/other");
    assert_problem(
        create(Some("same-key"), other).await,
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_problem(
        create(None, orders_hook()).await,
        400,
        "IDEMPOTENCY_KEY_MISSING",
    )
    .await;
    let listed = ok_json(
        call(
            &server,
            Method::GET,
            &token,
            "/v1/webhook-endpoints",
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(listed["endpoints"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn invalid_endpoints_are_problems_naming_the_fields() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;
    let fields = |problem: &Value| -> Vec<String> {
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        (
            json!({ "url": "http://example.com/hook", "eventTypes": ["payment.status_changed", "payment.created"] }),
            vec!["url", "event_types[1]"],
        ),
        (
            json!({ "url": "not a url", "eventTypes": ["account.balance_changed", "nope"] }),
            vec!["url", "event_types[1]"],
        ),
    ];
    for (index, (body, expected)) in cases.into_iter().enumerate() {
        let response = call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            Some(&format!("invalid-{index}")),
            Some(body.clone()),
        )
        .await;
        let problem = assert_problem(response, 400, "INVALID_REQUEST").await;
        assert_eq!(fields(&problem), expected, "{body}");
    }
    // Required fields are the transcoder's to name over REST.
    let response = call(
        &server,
        Method::POST,
        &token,
        "/v1/webhook-endpoints",
        Some("missing"),
        Some(json!({ "eventTypes": ["account.balance_changed"] })),
    )
    .await;
    let problem = assert_problem(response, 400, "MISSING_FIELD").await;
    assert_eq!(fields(&problem), ["url"]);

    // Updates: only the four changeable fields, and their values are checked too.
    let created = create_grpc(&server, &token, "https://example.com/a").await;
    let id = created.endpoint.unwrap().endpoint_id;
    let path = format!("/v1/webhook-endpoints/{id}?updateMask=secret");
    let response = call(&server, Method::PATCH, &token, &path, None, Some(json!({}))).await;
    let problem = assert_problem(response, 400, "INVALID_REQUEST").await;
    assert_eq!(fields(&problem), ["update_mask"]);
    let path = format!("/v1/webhook-endpoints/{id}?updateMask=url");
    let body = json!({ "url": "ftp://example.com" });
    let response = call(&server, Method::PATCH, &token, &path, None, Some(body)).await;
    let problem = assert_problem(response, 400, "INVALID_REQUEST").await;
    assert_eq!(fields(&problem), ["endpoint.url"]);
    server.stop().await;
}

#[tokio::test]
async fn endpoints_are_listed_in_pages() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;
    let mut created = Vec::new();
    for n in 0..5 {
        let response = create_grpc(&server, &token, &format!("https://example.com/{n}")).await;
        created.push(response.endpoint.unwrap().endpoint_id);
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = grpc(&server)
            .list_webhook_endpoints(server.request(
                &token,
                pb::ListWebhookEndpointsRequest {
                    page_size: 2,
                    page_token: page_token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.endpoints.len() <= 2);
        seen.extend(page.endpoints.into_iter().map(|e| e.endpoint_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, created);
    let response = call(
        &server,
        Method::GET,
        &token,
        "/v1/webhook-endpoints?pageToken=forged",
        None,
        None,
    )
    .await;
    assert_problem(response, 400, "INVALID_PAGE_TOKEN").await;
    server.stop().await;
}

#[tokio::test]
async fn endpoints_change_by_field_mask() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;
    let created = create_grpc(&server, &token, "https://example.com/a").await;
    let id = created.endpoint.unwrap().endpoint_id;

    let path = format!("/v1/webhook-endpoints/{id}?updateMask=url,eventTypes");
    let body = json!({
        "url": "https://example.com/b",
        "description": "ignored: not in the mask",
        "eventTypes": ["payment.status_changed", "account.transaction_created"]
    });
    let changed =
        ok_json(call(&server, Method::PATCH, &token, &path, None, Some(body)).await).await;
    assert_eq!(changed["url"], "https://example.com/b");
    assert_eq!(changed.get("description"), None, "empty: omitted");
    assert_eq!(
        changed["eventTypes"],
        json!(["payment.status_changed", "account.transaction_created"])
    );

    let disabled = grpc(&server)
        .update_webhook_endpoint(server.request(
            &token,
            pb::UpdateWebhookEndpointRequest {
                endpoint: Some(pb::WebhookEndpoint {
                    endpoint_id: id.clone(),
                    disabled: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["disabled".into()],
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .endpoint
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.url, "https://example.com/b");
    let read = ok_json(
        call(
            &server,
            Method::GET,
            &token,
            &format!("/v1/webhook-endpoints/{id}"),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(read["disabled"], true);
    assert_eq!(read["url"], "https://example.com/b");
    server.stop().await;
}

#[tokio::test]
async fn rotation_issues_a_new_secret_and_keeps_the_previous_one_for_a_day() {
    let server = TestServer::start().await;
    let token = manager_token(&server).await;
    let created = create_grpc(&server, &token, "https://example.com/a").await;
    let id = created.endpoint.unwrap().endpoint_id;
    let row = |server: &TestServer| {
        let id = id.clone();
        let db = server.database.conn().clone();
        async move {
            webhook_endpoints::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let before = row(&server).await;

    let rotated = ok_json(
        call(
            &server,
            Method::POST,
            &token,
            &format!("/v1/webhook-endpoints/{id}:rotateSecret"),
            None,
            Some(json!({})),
        )
        .await,
    )
    .await;
    let secret = rotated["signingSecret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_ne!(secret, created.signing_secret);
    let expiry = (test_now() + wekeza_webhooks::PREVIOUS_SECRET_VALID_FOR)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(rotated["previousSecretExpireTime"], expiry.as_str());

    let after = row(&server).await;
    assert_eq!(after.previous_secret.as_ref(), Some(&before.secret));
    assert_eq!(
        after.previous_secret_expires_at,
        Some(test_now() + wekeza_webhooks::PREVIOUS_SECRET_VALID_FOR)
    );
    assert_eq!(
        sealing::open_secret(None, &id, &after.secret).unwrap(),
        secret
    );
    server.stop().await;
}

#[tokio::test]
async fn another_apps_endpoints_are_not_found() {
    let server = TestServer::start().await;
    let owner = manager_token(&server).await;
    let stranger = manager_token(&server).await;
    let created = create_grpc(&server, &owner, "https://example.com/a").await;
    let id = created.endpoint.unwrap().endpoint_id;
    let mut client = grpc(&server);

    let get = client
        .get_webhook_endpoint(server.request(
            &stranger,
            pb::GetWebhookEndpointRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&get, Code::NotFound, "NOT_FOUND");
    let update = client
        .update_webhook_endpoint(server.request(
            &stranger,
            pb::UpdateWebhookEndpointRequest {
                endpoint: Some(pb::WebhookEndpoint {
                    endpoint_id: id.clone(),
                    disabled: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["disabled".into()],
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&update, Code::NotFound, "NOT_FOUND");
    let rotate = client
        .rotate_webhook_secret(server.request(
            &stranger,
            pb::RotateWebhookSecretRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&rotate, Code::NotFound, "NOT_FOUND");
    let delete = client
        .delete_webhook_endpoint(server.request(
            &stranger,
            pb::DeleteWebhookEndpointRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&delete, Code::NotFound, "NOT_FOUND");
    let unknown = client
        .get_webhook_endpoint(server.request(
            &owner,
            pb::GetWebhookEndpointRequest {
                endpoint_id: "whe_nope".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&unknown, Code::NotFound, "NOT_FOUND");
    let listed = client
        .list_webhook_endpoints(
            server.request(&stranger, pb::ListWebhookEndpointsRequest::default()),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(listed.endpoints.is_empty());

    // Untouched for its owner.
    let still = client
        .get_webhook_endpoint(
            server.request(&owner, pb::GetWebhookEndpointRequest { endpoint_id: id }),
        )
        .await
        .unwrap()
        .into_inner()
        .endpoint
        .unwrap();
    assert!(!still.disabled);
    server.stop().await;
}

#[tokio::test]
async fn the_webhooks_manage_scope_is_required_and_delivery_rpcs_check_their_input() {
    let server = TestServer::start().await;
    let principal = server.app_principal(&[Scope::AccountsRead]).await;
    let token = server.token_for(principal);
    let refused = call(
        &server,
        Method::POST,
        &token,
        "/v1/webhook-endpoints",
        Some("k"),
        Some(orders_hook()),
    )
    .await;
    assert_problem(refused, 403, "INSUFFICIENT_SCOPE").await;
    let refused = grpc(&server)
        .list_webhook_endpoints(server.request(&token, pb::ListWebhookEndpointsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");

    let manager = manager_token(&server).await;
    let created = create_grpc(&server, &manager, "https://example.com/a").await;
    let id = created.endpoint.unwrap().endpoint_id;
    let refused = grpc(&server)
        .list_deliveries(server.request(
            &token,
            pb::ListDeliveriesRequest {
                endpoint_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");
    let empty = grpc(&server)
        .list_deliveries(server.request(
            &manager,
            pb::ListDeliveriesRequest {
                endpoint_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.deliveries.is_empty());
    let bad_filter = grpc(&server)
        .list_deliveries(server.request(
            &manager,
            pb::ListDeliveriesRequest {
                endpoint_id: id.clone(),
                event_id: "pay_1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&bad_filter, Code::InvalidArgument, "INVALID_REQUEST");
    let bad_type = grpc(&server)
        .send_test_event(server.request(
            &manager,
            pb::SendTestEventRequest {
                endpoint_id: id.clone(),
                event_type: "payment.exploded".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&bad_type, Code::InvalidArgument, "INVALID_REQUEST");
    let unknown = grpc(&server)
        .retry_delivery(server.request(
            &manager,
            pb::RetryDeliveryRequest {
                endpoint_id: id,
                delivery_id: "msg_01jz0000000000000000000000".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&unknown, Code::NotFound, "NOT_FOUND");
    server.stop().await;
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_under_a_key_encryption_key() {
    let overrides = format!("key_encryption_key = \"{KEK}\"");
    let server = TestServer::start_with(TestDatabase::new().await, &overrides).await;
    let token = manager_token(&server).await;
    let created = ok_json(
        call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            Some("sealed"),
            Some(orders_hook()),
        )
        .await,
    )
    .await;
    let secret = created["signingSecret"].as_str().unwrap();
    let id = created["endpoint"]["endpointId"].as_str().unwrap();
    let db = server.database.conn();
    let row = webhook_endpoints::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.secret.starts_with(sealing::SEALED_PREFIX), "sealed");
    assert!(!row.secret.contains(secret.trim_start_matches("whsec_")));
    let key = KeyEncryptionKey::parse(KEK).unwrap();
    assert_eq!(
        sealing::open_secret(Some(&key), id, &row.secret).unwrap(),
        secret
    );
    // The idempotency record holds no plain secret either, yet a retry answers it.
    for record in idempotency_keys::Entity::find().all(db).await.unwrap() {
        let stored = String::from_utf8_lossy(record.response.as_deref().unwrap_or_default());
        assert!(!stored.contains(secret));
    }
    let retried = ok_json(
        call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            Some("sealed"),
            Some(orders_hook()),
        )
        .await,
    )
    .await;
    assert_eq!(retried, created);
    server.stop().await;
}

#[tokio::test]
async fn outside_the_sandbox_endpoints_must_reach_public_addresses_over_https() {
    let overrides = format!("env = \"production\"\nkey_encryption_key = \"{KEK}\"");
    let server = TestServer::start_with(TestDatabase::new().await, &overrides).await;
    let token = manager_token(&server).await;
    for (url, why) in [
        ("http://127.0.0.1:9000/hook", "must be https"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("https://10.0.0.1/hook", "not a public address"),
        (
            "https://169.254.169.254/latest/meta-data",
            "not a public address",
        ),
        ("https://[::1]:8443/hook", "not a public address"),
        // A name that resolves to loopback.
        ("https://localhost:8443/hook", "not a public address"),
    ] {
        let response = call(
            &server,
            Method::POST,
            &token,
            "/v1/webhook-endpoints",
            Some(url),
            Some(json!({ "url": url, "eventTypes": ["payment.status_changed"] })),
        )
        .await;
        assert_eq!(response.status(), 400, "{url}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["reason"], "INVALID_REQUEST", "{url}");
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
        let description = problem["errors"][0]["description"].as_str().unwrap();
        assert!(description.contains(why), "{url}: {description}");
    }
    // A public address is accepted (nothing is sent at registration).
    let accepted = call(
        &server,
        Method::POST,
        &token,
        "/v1/webhook-endpoints",
        Some("public"),
        Some(json!({ "url": "https://8.8.8.8/hook", "eventTypes": ["payment.status_changed"] })),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    server.stop().await;
}
