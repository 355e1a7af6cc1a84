//! REST as external developers see it: every REST route answers what the same rpc answers over
//! gRPC, errors are problem+json with reasons, and the OpenAPI document and docs console are
//! served.

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, DynamicMessage};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wekeza_domain::{ConsentGrant, Principal, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_proto::v1::customer_service_client::CustomerServiceClient;
use wekeza_proto::v1::partner_service_client::PartnerServiceClient;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_proto::v1::sandbox_service_client::SandboxServiceClient;
use wekeza_proto::v1::webhook_service_client::WebhookServiceClient;
use wekeza_testkit::TestServer;

use crate::support::{assert_reason, run_tool, tool};

/// Decodes proto3 JSON into the generated message type `T` named `name`.
fn from_json<T: prost::Message + Default>(name: &str, json: &Value) -> T {
    let pool = DescriptorPool::decode(wekeza_proto::FILE_DESCRIPTOR_SET).unwrap();
    let descriptor = pool
        .get_message_by_name(&format!("wekeza.openbanking.v1.{name}"))
        .unwrap();
    let message = DynamicMessage::deserialize(descriptor, json.clone())
        .unwrap_or_else(|e| panic!("{name} from {json}: {e}"));
    message.transcode_to().unwrap()
}

async fn rest_get(server: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// GETs `path` over REST with `token`, asserts 200 and that the body, decoded as the message
/// `name`, equals `expected` (the gRPC answer); returns the JSON for further checks.
async fn assert_get_matches<T>(
    server: &TestServer,
    token: &str,
    path: &str,
    name: &str,
    expected: &T,
) -> Value
where
    T: prost::Message + Default + PartialEq + std::fmt::Debug,
{
    let (status, rest) = rest_get(server, token, path).await;
    assert_eq!(status, 200, "{path}: {rest}");
    assert_eq!(&from_json::<T>(name, &rest), expected, "{path}");
    rest
}

#[tokio::test]
async fn every_rest_route_answers_what_grpc_answers() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_traveller").await;
    let customer = server.customer("user_traveller").await;
    let account_id = server.account_ids(&customer).await[1].to_string();
    let mut ais = AccountInformationServiceClient::new(server.channel());
    let mut covered = BTreeSet::new();

    covered.insert("AccountInformationService.ListAccounts");
    let grpc = ais
        .list_accounts(server.request(
            &token,
            pb::ListAccountsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let rest = assert_get_matches(
        &server,
        &token,
        "/v1/accounts?pageSize=1",
        "ListAccountsResponse",
        &grpc,
    )
    .await;
    assert!(!grpc.next_page_token.is_empty(), "a second page exists");
    let grpc_next = ais
        .list_accounts(server.request(
            &token,
            pb::ListAccountsRequest {
                page_size: 1,
                page_token: grpc.next_page_token.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (_, rest_next) = rest_get(
        &server,
        &token,
        &format!(
            "/v1/accounts?page_size=1&page_token={}",
            rest["nextPageToken"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        from_json::<pb::ListAccountsResponse>("ListAccountsResponse", &rest_next),
        grpc_next
    );

    covered.insert("AccountInformationService.GetAccount");
    let grpc = ais
        .get_account(server.request(
            &token,
            pb::GetAccountRequest {
                account_id: account_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (status, rest) = rest_get(&server, &token, &format!("/v1/accounts/{account_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        rest["accountId"],
        account_id.as_str(),
        "response_body unwraps the account"
    );
    assert_eq!(
        Some(from_json::<pb::Account>("Account", &rest)),
        grpc.account
    );
    assert_eq!(rest["currency"], "USD");

    covered.insert("AccountInformationService.ListBalances");
    let grpc = ais
        .list_balances(server.request(
            &token,
            pb::ListBalancesRequest {
                account_id: account_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let rest = assert_get_matches(
        &server,
        &token,
        &format!("/v1/accounts/{account_id}/balances"),
        "ListBalancesResponse",
        &grpc,
    )
    .await;
    assert_eq!(
        rest["balances"][0]["type"], "BALANCE_TYPE_INTERIM_BOOKED",
        "enums by name"
    );
    assert!(
        rest["balances"][0]["amount"]["amount"].is_string(),
        "money as a decimal string"
    );

    covered.insert("AccountInformationService.ListTransactions");
    let from = prost_types::Timestamp {
        seconds: wekeza_testkit::test_now().timestamp() - 20 * 86_400,
        nanos: 0,
    };
    let grpc = ais
        .list_transactions(server.request(
            &token,
            pb::ListTransactionsRequest {
                account_id: account_id.clone(),
                from_booking_time: Some(from),
                page_size: 4,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let from_text = chrono::DateTime::from_timestamp(from.seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_get_matches(
        &server,
        &token,
        &format!("/v1/accounts/{account_id}/transactions?fromBookingTime={from_text}&pageSize=4"),
        "ListTransactionsResponse",
        &grpc,
    )
    .await;
    assert!(!grpc.transactions.is_empty());

    covered.insert("CustomerService.GetCustomerProfile");
    let grpc = CustomerServiceClient::new(server.channel())
        .get_customer_profile(server.request(&token, pb::GetCustomerProfileRequest {}))
        .await
        .unwrap()
        .into_inner();
    let (status, rest) = rest_get(&server, &token, "/v1/customers/profile").await;
    assert_eq!(status, 200);
    assert_eq!(
        Some(from_json::<pb::CustomerProfile>("CustomerProfile", &rest)),
        grpc.profile
    );

    // ConsentService: the app's own token for its consents, a customer's for the others.
    let app = server
        .app_principal(&[Scope::AccountsRead, Scope::PaymentsInitiate])
        .await;
    let app_token = server.token_for(app.clone());
    let mut consents = ConsentServiceClient::new(server.channel());

    covered.insert("ConsentService.CreateConsent");
    // One idempotency key over both protocols: gRPC replays what REST created.
    let body = json!({
        "type": "CONSENT_TYPE_FUNDS_CONFIRMATION",
        "fundsConfirmation": { "amount": { "amount": "10.00", "currency": "USD" } }
    });
    let response = server
        .http
        .post(format!("{}/v1/consents", server.base_url))
        .bearer_auth(&app_token)
        .header("idempotency-key", "both-protocols")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    let mut request = server.request(
        &app_token,
        from_json::<pb::CreateConsentRequest>("CreateConsentRequest", &body),
    );
    request
        .metadata_mut()
        .insert("idempotency-key", "both-protocols".parse().unwrap());
    let grpc = consents.create_consent(request).await.unwrap().into_inner();
    assert_eq!(
        Some(from_json::<pb::Consent>("Consent", &rest)),
        grpc.consent
    );
    let consent_id = rest["consentId"].as_str().unwrap().to_owned();

    covered.insert("ConsentService.GetConsent");
    let grpc = consents
        .get_consent(server.request(
            &app_token,
            pb::GetConsentRequest {
                consent_id: consent_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (status, rest) = rest_get(&server, &app_token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        Some(from_json::<pb::Consent>("Consent", &rest)),
        grpc.consent
    );

    covered.insert("ConsentService.GetFundsConfirmation");
    let authorised = server
        .authorise_consent(
            &consent_id.parse().unwrap(),
            "user_traveller",
            &[account_id.parse().unwrap()],
        )
        .await;
    let customer = Principal {
        app_id: app.app_id.clone(),
        scopes: BTreeSet::from([Scope::PaymentsInitiate]),
        customer_id: authorised.customer_id.clone(),
        consent: Some(ConsentGrant {
            consent_id: authorised.id.clone(),
            account_ids: authorised.account_ids.clone(),
            permissions: BTreeSet::new(),
        }),
        step_up_at: None,
    };
    let bound = server.token_for(customer.clone());
    let grpc = consents
        .get_funds_confirmation(server.request(
            &bound,
            pb::GetFundsConfirmationRequest {
                consent_id: consent_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        &server,
        &bound,
        &format!("/v1/consents/{consent_id}/funds-confirmation"),
        "GetFundsConfirmationResponse",
        &grpc,
    )
    .await;

    covered.insert("ConsentService.ListCustomerConsents");
    // The customer's token at the app the consent was given to.
    let customer_token = server.token_for(Principal {
        scopes: BTreeSet::from([Scope::AccountsRead]),
        ..customer
    });
    let grpc = consents
        .list_customer_consents(server.request(
            &customer_token,
            pb::ListCustomerConsentsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        &server,
        &customer_token,
        "/v1/customers/consents?pageSize=1",
        "ListCustomerConsentsResponse",
        &grpc,
    )
    .await;
    assert_eq!(grpc.consents[0].consent_id, consent_id);

    covered.insert("ConsentService.RevokeConsent");
    // Revoked over gRPC, then again over REST: answered unchanged, the same consent.
    let grpc = consents
        .revoke_consent(server.request(
            &app_token,
            pb::RevokeConsentRequest {
                consent_id: consent_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let response = server
        .http
        .delete(format!("{}/v1/consents/{consent_id}", server.base_url))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    assert_eq!(rest["status"], "CONSENT_STATUS_REVOKED");
    assert_eq!(
        Some(from_json::<pb::Consent>("Consent", &rest)),
        grpc.consent
    );

    // PaymentService: a customer token bound to an authorised payment consent creates, the
    // app's own token reads.
    covered.insert("PaymentService.CreatePayment");
    let payer = server.app_principal(&[Scope::PaymentsInitiate]).await;
    let payer_token = server.token_for(payer.clone());
    let body = json!({
        "type": "CONSENT_TYPE_PAYMENT",
        "payment": {
            "instructedAmount": { "amount": "10.00", "currency": "KES" },
            "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" }
        }
    });
    let response = server
        .http
        .post(format!("{}/v1/consents", server.base_url))
        .bearer_auth(&payer_token)
        .header("idempotency-key", "payment-consent")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let consent: Value = response.json().await.unwrap();
    let payment_consent = server
        .authorise_consent(
            &consent["consentId"].as_str().unwrap().parse().unwrap(),
            "user_traveller",
            &[],
        )
        .await;
    let customer_token = server.token_for(Principal {
        app_id: payer.app_id.clone(),
        scopes: BTreeSet::from([Scope::PaymentsInitiate]),
        customer_id: payment_consent.customer_id.clone(),
        consent: Some(ConsentGrant {
            consent_id: payment_consent.id.clone(),
            account_ids: payment_consent.account_ids.clone(),
            permissions: BTreeSet::new(),
        }),
        step_up_at: None,
    });
    // One idempotency key over both protocols: gRPC replays what REST created.
    let body = json!({ "consentId": payment_consent.id.to_string() });
    let response = server
        .http
        .post(format!("{}/v1/payments", server.base_url))
        .bearer_auth(&customer_token)
        .header("idempotency-key", "both-protocols")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    let mut request = server.request(
        &customer_token,
        from_json::<pb::CreatePaymentRequest>("CreatePaymentRequest", &body),
    );
    request
        .metadata_mut()
        .insert("idempotency-key", "both-protocols".parse().unwrap());
    let mut payments = PaymentServiceClient::new(server.channel());
    let grpc = payments.create_payment(request).await.unwrap().into_inner();
    assert_eq!(
        Some(from_json::<pb::Payment>("Payment", &rest)),
        grpc.payment
    );
    let payment_id = rest["paymentId"].as_str().unwrap().to_owned();

    covered.insert("PaymentService.GetPayment");
    // Read once settled, so that both protocols see the same (final) status.
    let get = pb::GetPaymentRequest {
        payment_id: payment_id.clone(),
    };
    let grpc = loop {
        let read = payments
            .get_payment(server.request(&payer_token, get.clone()))
            .await
            .unwrap()
            .into_inner();
        let status = read.payment.as_ref().map(pb::Payment::status);
        if status == Some(pb::PaymentStatus::AcceptedSettlementCompleted) {
            break read;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let (status, rest) =
        rest_get(&server, &payer_token, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        Some(from_json::<pb::Payment>("Payment", &rest)),
        grpc.payment
    );

    webhook_routes_answer_what_grpc_answers(&server, &mut covered).await;

    partner_routes_answer_what_grpc_answers(&server, &mut covered).await;

    // SandboxService: the app's own token. Last, because a reset removes every consent.
    sandbox_routes_answer_what_grpc_answers(&server, &app_token, &mut covered).await;

    let routes: BTreeSet<String> = wekeza_server::rest::transcoder(&wekeza_server::app::SERVED)
        .unwrap()
        .routes()
        .map(|route| {
            route
                .rpc
                .trim_start_matches("wekeza.openbanking.v1.")
                .to_owned()
        })
        .collect();
    let covered: BTreeSet<String> = covered.into_iter().map(str::to_owned).collect();
    assert_eq!(
        routes, covered,
        "every served REST route has an equivalence check here"
    );
    server.stop().await;
}

/// The PartnerService part of [`every_rest_route_answers_what_grpc_answers`]: the billing rpcs
/// answer the same over both protocols; the developer, app and review rpcs (issue 14) are
/// refused or unimplemented the same way over both.
async fn partner_routes_answer_what_grpc_answers(
    server: &TestServer,
    covered: &mut BTreeSet<&'static str>,
) {
    let app = server.app_principal(&[Scope::AccountsRead]).await;
    let app_id = app.app_id.to_string();
    let token = server.token_for(app);
    let mut partner = PartnerServiceClient::new(server.channel());

    covered.insert("PartnerService.ListPlans");
    let grpc = partner
        .list_plans(server.request(&token, pb::ListPlansRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(server, &token, "/v1/plans", "ListPlansResponse", &grpc).await;

    covered.insert("PartnerService.ChangePlan");
    let response = server
        .http
        .post(format!("{}/v1/apps/{app_id}:changePlan", server.base_url))
        .bearer_auth(&token)
        .json(&json!({ "planId": "startup" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    // Moving to the plan it is on answers the app unchanged.
    let grpc = partner
        .change_plan(server.request(
            &token,
            pb::ChangePlanRequest {
                app_id: app_id.clone(),
                plan_id: "startup".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(Some(from_json::<pb::App>("App", &rest)), grpc.app);

    covered.insert("PartnerService.GetUsage");
    let grpc = partner
        .get_usage(server.request(
            &token,
            pb::GetUsageRequest {
                app_id: app_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        server,
        &token,
        &format!("/v1/usage?appId={app_id}"),
        "GetUsageResponse",
        &grpc,
    )
    .await;

    covered.insert("PartnerService.ListInvoices");
    let grpc = partner
        .list_invoices(server.request(&token, pb::ListInvoicesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        server,
        &token,
        "/v1/invoices",
        "ListInvoicesResponse",
        &grpc,
    )
    .await;

    covered.insert("PartnerService.GetInvoice");
    let invoice_id = grpc.invoices[0].invoice_id.clone();
    let grpc = partner
        .get_invoice(server.request(
            &token,
            pb::GetInvoiceRequest {
                invoice_id: invoice_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (status, rest) = rest_get(server, &token, &format!("/v1/invoices/{invoice_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        Some(from_json::<pb::Invoice>("Invoice", &rest)),
        grpc.invoice
    );

    // Issue 14's rpcs: the same refusal over both protocols (an empty request: what is refused
    // is the caller, or the rpc itself).
    for rest in crate::support::rest_routes() {
        let Some(method) = rest
            .route
            .rpc
            .strip_prefix("wekeza.openbanking.v1.PartnerService.")
        else {
            continue;
        };
        let name: &'static str = format!("PartnerService.{method}").leak();
        if covered.contains(name) {
            continue;
        }
        covered.insert(name);
        let (path, body) = rest.request(|_| "x".into());
        let mut request = server
            .http
            .request(
                rest.route.method.clone(),
                format!("{}{path}", server.base_url),
            )
            .bearer_auth(&token)
            .header("idempotency-key", ulid::Ulid::new().to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        let mut grpc = tonic::client::Grpc::new(server.channel());
        grpc.ready().await.unwrap();
        let refused = grpc
            .unary::<(), (), _>(
                server.request(&token, ()),
                format!("/wekeza.openbanking.v1.PartnerService/{method}")
                    .parse()
                    .unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        match refused.code() {
            tonic::Code::PermissionDenied => {
                assert_reason(&refused, tonic::Code::PermissionDenied, "WRONG_CALLER");
                assert_eq!(
                    (status, problem["reason"].as_str()),
                    (403, Some("WRONG_CALLER")),
                    "{method}"
                );
            }
            tonic::Code::Unimplemented => assert_eq!(status, 501, "{method}: {problem}"),
            other => panic!("{method}: {other:?}"),
        }
    }
}

/// The WebhookService part of [`every_rest_route_answers_what_grpc_answers`]. Secrets differ
/// on every issue, so creates and rotations compare everything else.
async fn webhook_routes_answer_what_grpc_answers(
    server: &TestServer,
    covered: &mut BTreeSet<&'static str>,
) {
    let app = server.app_principal(&[Scope::WebhooksManage]).await;
    let token = server.token_for(app);
    let mut webhooks = WebhookServiceClient::new(server.channel());
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = server
            .http
            .request(method, format!("{}{path}", server.base_url))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };

    covered.insert("WebhookService.CreateWebhookEndpoint");
    // One idempotency key over both protocols: gRPC replays what REST created.
    let body =
        json!({ "url": "https://example.com/hook", "eventTypes": ["payment.status_changed"] });
    let response = server
        .http
        .post(format!("{}/v1/webhook-endpoints", server.base_url))
        .bearer_auth(&token)
        .header("idempotency-key", "webhook-both-protocols")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    let mut request = server.request(
        &token,
        from_json::<pb::CreateWebhookEndpointRequest>("CreateWebhookEndpointRequest", &body),
    );
    request
        .metadata_mut()
        .insert("idempotency-key", "webhook-both-protocols".parse().unwrap());
    let grpc = webhooks
        .create_webhook_endpoint(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        from_json::<pb::CreateWebhookEndpointResponse>("CreateWebhookEndpointResponse", &rest),
        grpc
    );
    let id = grpc.endpoint.unwrap().endpoint_id;

    covered.insert("WebhookService.GetWebhookEndpoint");
    let grpc = webhooks
        .get_webhook_endpoint(server.request(
            &token,
            pb::GetWebhookEndpointRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        server,
        &token,
        &format!("/v1/webhook-endpoints/{id}"),
        "WebhookEndpoint",
        grpc.endpoint.as_ref().unwrap(),
    )
    .await;

    covered.insert("WebhookService.ListWebhookEndpoints");
    let grpc = webhooks
        .list_webhook_endpoints(server.request(&token, pb::ListWebhookEndpointsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        server,
        &token,
        "/v1/webhook-endpoints",
        "ListWebhookEndpointsResponse",
        &grpc,
    )
    .await;

    covered.insert("WebhookService.UpdateWebhookEndpoint");
    // The same change over both: the second answers what the first left.
    let (status, rest) = send(
        reqwest::Method::PATCH,
        &format!("/v1/webhook-endpoints/{id}?updateMask=description"),
        Some(json!({ "description": "changed" })),
    )
    .await;
    assert_eq!(status, 200, "{rest}");
    let grpc = webhooks
        .update_webhook_endpoint(server.request(
            &token,
            pb::UpdateWebhookEndpointRequest {
                endpoint: Some(pb::WebhookEndpoint {
                    endpoint_id: id.clone(),
                    description: "changed".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        Some(from_json::<pb::WebhookEndpoint>("WebhookEndpoint", &rest)),
        grpc.endpoint
    );

    covered.insert("WebhookService.RotateWebhookSecret");
    let (status, rest) = send(
        reqwest::Method::POST,
        &format!("/v1/webhook-endpoints/{id}:rotateSecret"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{rest}");
    let mut rest =
        from_json::<pb::RotateWebhookSecretResponse>("RotateWebhookSecretResponse", &rest);
    let mut grpc = webhooks
        .rotate_webhook_secret(server.request(
            &token,
            pb::RotateWebhookSecretRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(rest.signing_secret.starts_with("whsec_") && grpc.signing_secret.starts_with("whsec_"));
    rest.signing_secret.clear();
    grpc.signing_secret.clear();
    assert_eq!(rest, grpc);

    // The delivery rpcs: the (empty) log, a replay of the app's events (it made none), and the
    // same refusals over both.
    covered.insert("WebhookService.ListDeliveries");
    let grpc = webhooks
        .list_deliveries(server.request(
            &token,
            pb::ListDeliveriesRequest {
                endpoint_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_get_matches(
        server,
        &token,
        &format!("/v1/webhook-endpoints/{id}/deliveries"),
        "ListDeliveriesResponse",
        &grpc,
    )
    .await;

    covered.insert("WebhookService.ReplayEvents");
    let (status, rest) = send(
        reqwest::Method::POST,
        &format!("/v1/webhook-endpoints/{id}:replay"),
        Some(json!({ "sinceTime": "2026-10-15T00:00:00Z" })),
    )
    .await;
    assert_eq!(status, 200, "{rest}");
    let grpc = webhooks
        .replay_events(server.request(
            &token,
            pb::ReplayEventsRequest {
                endpoint_id: id.clone(),
                since_time: Some(prost_types::Timestamp {
                    seconds: 1_791_331_200,
                    nanos: 0,
                }),
                until_time: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        from_json::<pb::ReplayEventsResponse>("ReplayEventsResponse", &rest),
        grpc
    );

    covered.insert("WebhookService.RetryDelivery");
    let (status, rest) = send(
        reqwest::Method::POST,
        &format!("/v1/webhook-endpoints/{id}/deliveries/msg_01jb0000000000000000000000:retry"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, &rest["reason"]),
        (reqwest::StatusCode::NOT_FOUND, &json!("NOT_FOUND")),
        "{rest}"
    );
    let grpc = webhooks
        .retry_delivery(server.request(
            &token,
            pb::RetryDeliveryRequest {
                endpoint_id: id.clone(),
                delivery_id: "msg_01jb0000000000000000000000".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(grpc.code(), tonic::Code::NotFound);

    covered.insert("WebhookService.SendTestEvent");
    let (status, rest) = send(
        reqwest::Method::POST,
        &format!("/v1/webhook-endpoints/{id}:sendTestEvent"),
        Some(json!({ "eventType": "payment.exploded" })),
    )
    .await;
    assert_eq!(
        (status, &rest["reason"]),
        (reqwest::StatusCode::BAD_REQUEST, &json!("INVALID_REQUEST")),
        "{rest}"
    );
    let grpc = webhooks
        .send_test_event(server.request(
            &token,
            pb::SendTestEventRequest {
                endpoint_id: id.clone(),
                event_type: "payment.exploded".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(grpc.code(), tonic::Code::InvalidArgument);

    covered.insert("WebhookService.DeleteWebhookEndpoint");
    let grpc = webhooks
        .delete_webhook_endpoint(server.request(
            &token,
            pb::DeleteWebhookEndpointRequest {
                endpoint_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let response = server
        .http
        .post(format!("{}/v1/webhook-endpoints", server.base_url))
        .bearer_auth(&token)
        .header("idempotency-key", "webhook-to-delete")
        .json(&body)
        .send()
        .await
        .unwrap();
    let other: Value = response.json().await.unwrap();
    let other = other["endpoint"]["endpointId"].as_str().unwrap();
    let (status, rest) = send(
        reqwest::Method::DELETE,
        &format!("/v1/webhook-endpoints/{other}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(
        from_json::<pb::DeleteWebhookEndpointResponse>("DeleteWebhookEndpointResponse", &rest),
        grpc
    );
}

/// The SandboxService half of [`every_rest_route_answers_what_grpc_answers`].
async fn sandbox_routes_answer_what_grpc_answers(
    server: &TestServer,
    app_token: &str,
    covered: &mut BTreeSet<&'static str>,
) {
    let mut sandbox = SandboxServiceClient::new(server.channel());
    let post = |path: &str, body: Value| {
        server
            .http
            .post(format!("{}{path}", server.base_url))
            .bearer_auth(app_token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&body)
    };
    let consent = || async {
        let response = post(
            "/v1/consents",
            json!({
                "type": "CONSENT_TYPE_FUNDS_CONFIRMATION",
                "fundsConfirmation": { "amount": { "amount": "5.00", "currency": "KES" } }
            }),
        )
        .send()
        .await
        .unwrap();
        let consent: Value = response.json().await.unwrap();
        consent["consentId"].as_str().unwrap().to_owned()
    };

    covered.insert("SandboxService.AuthorizeConsent");
    // Denials answer the same on both protocols (authorisations differ by their codes).
    let (first, second) = (consent().await, consent().await);
    let grpc = sandbox
        .authorize_consent(server.request(
            app_token,
            pb::AuthorizeConsentRequest {
                consent_id: first,
                username: "user_good".into(),
                state: "s".into(),
                deny: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let response = post(
        &format!("/v1/sandbox/consents/{second}:authorize"),
        json!({ "username": "user_good", "state": "s", "deny": true }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    assert_eq!(rest["error"], "access_denied");
    assert_eq!(
        from_json::<pb::AuthorizeConsentResponse>("AuthorizeConsentResponse", &rest),
        grpc
    );

    covered.insert("SandboxService.ListTestUsers");
    let grpc = sandbox
        .list_test_users(server.request(app_token, pb::ListTestUsersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let (status, rest) = rest_get(server, app_token, "/v1/sandbox/users").await;
    assert_eq!(status, 200);
    assert_eq!(
        from_json::<pb::ListTestUsersResponse>("ListTestUsersResponse", &rest),
        grpc
    );

    // FireEvent with sample data: the same event over both (ids are made up each time).
    covered.insert("SandboxService.FireEvent");
    let grpc = sandbox
        .fire_event(server.request(
            app_token,
            pb::FireEventRequest {
                event_type: "payment.status_changed".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap();
    let response = post(
        "/v1/sandbox/events:fire",
        json!({ "eventType": "payment.status_changed" }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    assert_eq!(rest["type"], grpc.r#type);
    assert_eq!(
        rest["paymentStatusChanged"]["status"],
        "PAYMENT_STATUS_PENDING"
    );
    assert!(rest["eventId"].as_str().unwrap().starts_with("evt_"));
    let response = post("/v1/sandbox/events:fire", json!({ "eventType": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A payment that is not the app's: NOT_FOUND over both (the simulations themselves, over
    // both protocols, are in `sandbox.rs`).
    covered.insert("SandboxService.SimulatePaymentStatus");
    let status = sandbox
        .simulate_payment_status(server.request(
            app_token,
            pb::SimulatePaymentStatusRequest {
                payment_id: "pay_01jz0000000000000000000000".into(),
                status: pb::PaymentStatus::Rejected.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&status, tonic::Code::NotFound, "NOT_FOUND");
    let path = "/v1/sandbox/payments/pay_01jz0000000000000000000000:simulate";
    let response = post(path, json!({ "status": "PAYMENT_STATUS_REJECTED" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "{path}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["reason"], "NOT_FOUND", "{path}");

    // An auth_req_id that is not the app's: NOT_FOUND over both (the flow is in `ciba.rs`).
    covered.insert("SandboxService.ApproveDecoupledAuthorization");
    let status = sandbox
        .approve_decoupled_authorization(server.request(
            app_token,
            pb::ApproveDecoupledAuthorizationRequest {
                auth_req_id: "x".into(),
                username: "user_good".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&status, tonic::Code::NotFound, "NOT_FOUND");
    let response = post(
        "/v1/sandbox/decoupled-authorizations/x:approve",
        json!({ "username": "user_good" }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["reason"], "NOT_FOUND");

    covered.insert("SandboxService.ResetSandbox");
    // gRPC resets (removing the consents above), then REST and gRPC again: nothing left.
    let first = sandbox
        .reset_sandbox(server.request(app_token, pb::ResetSandboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(first.deleted_consent_count >= 2, "{first:?}");
    let response = post("/v1/sandbox:reset", json!({})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let rest: Value = response.json().await.unwrap();
    let grpc = sandbox
        .reset_sandbox(server.request(app_token, pb::ResetSandboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        from_json::<pb::ResetSandboxResponse>("ResetSandboxResponse", &rest),
        grpc
    );
}

/// Asserts a problem+json answer with `status` and `reason`, carrying the FAPI interaction id.
pub(crate) async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    reason: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let interaction = headers
        .get("x-fapi-interaction-id")
        .expect("interaction id echoed on errors");
    assert!(uuid_like(interaction.to_str().unwrap()));
    let request_id = headers
        .get("x-request-id")
        .expect("request id on errors")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["requestId"], request_id.as_str(), "{body}");
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    body
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn errors_are_problem_json_with_reasons() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_good").await;
    let url = |path: &str| format!("{}{path}", server.base_url);

    let anonymous = server.http.get(url("/v1/accounts")).send().await.unwrap();
    assert_problem(anonymous, 401, "UNAUTHENTICATED").await;

    let forged = server
        .http
        .get(url("/v1/accounts"))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_problem(forged, 401, "INVALID_TOKEN").await;

    // The caller's own mistakes on a customer route, each with its reason.
    for (path, status, reason) in [
        (
            "/v1/accounts/acc_01jd5t3j9c2v8q7m6n5b4x3z2y",
            404,
            "NOT_FOUND",
        ),
        ("/v1/accounts?colour=blue", 400, "UNKNOWN_FIELD"),
        ("/v1/accounts?pageSize=lots", 400, "INVALID_REQUEST"),
        ("/v1/accounts?pageSize=-5", 400, "INVALID_REQUEST"),
        (
            "/v1/accounts?pageToken=bm90LW91cnM",
            400,
            "INVALID_PAGE_TOKEN",
        ),
    ] {
        let response = server
            .http
            .get(url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(response, status, reason).await;
    }

    let route = server
        .http
        .get(url("/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_problem(route, 404, "ROUTE_NOT_FOUND").await;

    let method = server
        .http
        .delete(url("/v1/accounts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let allow = method
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_problem(method, 405, "METHOD_NOT_ALLOWED").await;
    assert_eq!(allow.as_deref(), Some("GET"));

    let echoed = server
        .http
        .get(url("/v1/accounts"))
        .header(
            "x-fapi-interaction-id",
            "0b7a1f6e-9a0b-4d3c-8f9e-1a2b3c4d5e6f",
        )
        .header("x-request-id", "my-request-1")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(
        echoed.headers()["x-fapi-interaction-id"],
        "0b7a1f6e-9a0b-4d3c-8f9e-1a2b3c4d5e6f"
    );
    assert_eq!(echoed.headers()["x-request-id"], "my-request-1");
    server.stop().await;
}

#[tokio::test]
async fn serves_the_openapi_document_and_the_docs_console() {
    let server = TestServer::start().await;
    let response = server
        .http
        .get(format!("{}/openapi.json", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    for path in [
        "/v1/accounts",
        "/v1/accounts/{account_id}",
        "/v1/accounts/{account_id}/balances",
        "/v1/accounts/{account_id}/transactions",
        "/v1/customers/profile",
    ] {
        assert!(served["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert_eq!(
        served["paths"]["/v1/accounts"]["get"]["security"][0]["oauth2"][0], "accounts.read",
        "security comes from the rpc's access policy"
    );

    let committed: Value =
        serde_json::from_str(include_str!("../../../../sdk/openapi/openapi.json"))
            .expect("sdk/openapi/openapi.json is JSON");
    assert!(
        committed == served,
        "sdk/openapi/openapi.json is stale: run `make gen` and commit the result"
    );

    let docs = server
        .http
        .get(format!("{}/docs", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/docs/swagger-ui-bundle.js") && html.contains("/docs/init.js"));
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"] {
        let response = server
            .http
            .get(format!("{}/docs/{asset}", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.unwrap().len() > 100,
            "{asset} is embedded"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_validates_as_openapi_3_1() {
    let server = TestServer::start().await;
    let document = server
        .http
        .get(format!("{}/openapi.json", server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, document).unwrap();
    let script = "import sys, json\nfrom openapi_spec_validator import validate, OpenAPIV31SpecValidator\nvalidate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\nprint('valid')";
    let output = run_tool(
        tool("WEKEZA_PYTHON", "python"),
        vec!["-c".into(), script.into(), path.display().to_string()],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "not valid OpenAPI 3.1: {stderr}");
    server.stop().await;
}

#[tokio::test]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_business").await;
    let output = run_tool(
        tool("WEKEZA_SCHEMATHESIS", "schemathesis"),
        vec![
            "run".into(),
            format!("{}/openapi.json", server.base_url),
            "--checks".into(),
            "all".into(),
            // Every check but "schema-valid data is accepted": page tokens are opaque strings
            // the server issued, so an arbitrary string is (rightly) refused with 400
            // INVALID_PAGE_TOKEN, which that check counts as a failure.
            "--exclude-checks".into(),
            "positive_data_acceptance".into(),
            // Developer sign-up arrives with issue 14; until then it answers 501
            // UNIMPLEMENTED, which the server-error check (rightly) counts as a 5xx.
            "--exclude-path".into(),
            "/v1/developers".into(),
            "--header".into(),
            format!("Authorization: Bearer {token}"),
            "--max-examples".into(),
            "40".into(),
            "--seed".into(),
            "20261126".into(),
            "--request-timeout".into(),
            "10".into(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    server.stop().await;
}
