//! Webhook delivery end to end: real payments over REST with real tokens, the outbox, the bus
//! (in-process, and NATS JetStream when `WEKEZA_TEST_NATS_URL` is set), the dispatcher, and a
//! receiver that verifies every signature with the `standardwebhooks` package — plus retries on
//! schedule, 410 Gone, dead letters, secret rotation, replays, test events, ownership, two
//! dispatchers sharing the work, and the SSRF guard at delivery time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use wekeza_domain::{Clock, Scope};
use wekeza_events::{EventBus, JetStreamBus};
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::identity_flow::{
    REDIRECT, TestApp, account_access, assert_problem, authorized_code, create_consent, exchange,
    get, payment, register, send,
};
use crate::receiver::{Receiver, Seen, WAIT};
use crate::support::Api;

/// Every event type.
const ALL_TYPES: [&str; 4] = [
    "payment.status_changed",
    "consent.status_changed",
    "account.transaction_created",
    "account.balance_changed",
];

/// The NATS server of the JetStream variants, if the environment names one.
pub(crate) fn nats_url() -> Option<String> {
    std::env::var("WEKEZA_TEST_NATS_URL").ok()
}

/// Configuration putting a server on its own JetStream stream at `url`.
pub(crate) fn on_nats(url: &str) -> String {
    let name = ulid::Ulid::new().to_string().to_lowercase();
    format!(
        "nats_url = \"{url}\"\n[nats]\nstream = \"WEBHOOKS_{}\"\nsubject_root = \"t{name}.events\"\nack_wait_secs = 5\n",
        name.to_uppercase()
    )
}

/// The configurations every bus test runs with: in-process, and JetStream when available.
pub(crate) fn buses() -> Vec<(&'static str, String)> {
    let mut buses = vec![("in-process", String::new())];
    if let Some(url) = nats_url() {
        buses.push(("jetstream", on_nats(&url)));
    }
    buses
}

/// What a webhook test app may do: read accounts, pay and manage webhooks.
pub(crate) const WEBHOOK_APP_SCOPES: [Scope; 3] = [
    Scope::AccountsRead,
    Scope::PaymentsInitiate,
    Scope::WebhooksManage,
];

/// An app holding [`WEBHOOK_APP_SCOPES`], with its client-credentials token.
pub(crate) async fn webhook_app(server: &TestServer) -> TestApp {
    register(server, &WEBHOOK_APP_SCOPES).await
}

/// Registers an endpoint of the app holding `token` at `url` for `types`; answers its id and
/// signing secret.
pub(crate) async fn endpoint(
    server: &impl Api,
    token: &str,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let (status, body) = send(
        server
            .http()
            .post(format!("{}/v1/webhook-endpoints", server.base_url()))
            .bearer_auth(token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "url": url, "eventTypes": types })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["endpoint"]["endpointId"].as_str().unwrap().to_owned(),
        body["signingSecret"].as_str().unwrap().to_owned(),
    )
}

/// A receiver trusting the secret of a new endpoint of `app` for every event type.
pub(crate) async fn subscribed_receiver(server: &impl Api, app: &TestApp) -> (Receiver, String) {
    let receiver = Receiver::start().await;
    let (id, secret) = endpoint(server, &app.token, &receiver.url(), &ALL_TYPES).await;
    receiver.trust(&[&secret]).await;
    (receiver, id)
}

/// `POST` to `path` with `token` and a JSON body.
async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}{path}", server.base_url))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

/// The deliveries of `endpoint_id`, newest first.
pub(crate) async fn deliveries(server: &impl Api, token: &str, endpoint_id: &str) -> Vec<Value> {
    let (status, body) = get(
        server,
        token,
        &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the newest delivery of `endpoint_id` satisfies `done`; answers it.
async fn newest_delivery(
    server: &TestServer,
    token: &str,
    endpoint_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = deliveries(server, token, endpoint_id).await;
        if let Some(newest) = listed.first().filter(|newest| done(newest)) {
            return newest.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery {what} within {WAIT:?}: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A payment consent of `app` for KES 150.00 from user_good to Jane, authorised through the
/// sandbox shortcut; answers its id and the consent-bound access token.
pub(crate) async fn payment_consent(server: &impl Api, app: &TestApp) -> (String, String) {
    let consent_id = create_consent(server, app, &payment("150.00", None)).await;
    let (code, verifier) = authorized_code(server, app, &consent_id, "user_good", &[]).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    (consent_id, token)
}

/// A payment of KES 150.00 by user_good's first account to Jane, made by `app` over REST with a
/// consent-bound token from the sandbox shortcut; answers the consent and payment ids once it
/// settled.
pub(crate) async fn pay(server: &impl Api, app: &TestApp) -> (String, String) {
    let (consent_id, token) = payment_consent(server, app).await;
    let (status, created) = send(
        server
            .http()
            .post(format!("{}/v1/payments", server.base_url()))
            .bearer_auth(token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "consentId": consent_id })),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let payment_id = created["paymentId"].as_str().unwrap().to_owned();
    (consent_id, payment_id)
}

/// The statuses `seen` received for `payment_id`, in the order the changes happened (event ids
/// are monotonic).
pub(crate) fn payment_statuses(seen: &Seen, payment_id: &str) -> Vec<String> {
    let mut changes: Vec<(&str, String)> = seen
        .of_type("payment.status_changed")
        .into_iter()
        .filter(|event| event.body["paymentStatusChanged"]["paymentId"] == payment_id)
        .map(|event| {
            let status = &event.body["paymentStatusChanged"]["status"];
            (
                event.id.as_str(),
                status.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    changes.sort();
    changes.into_iter().map(|(_, status)| status).collect()
}

#[tokio::test]
async fn a_payment_reaches_its_apps_endpoint_signed_and_no_other_app_hears_of_it() {
    for (bus, config) in buses() {
        let server = TestServer::start_with(TestDatabase::new().await, &config).await;
        let payer = webhook_app(&server).await;
        let bystander = webhook_app(&server).await;
        let (to_payer, _) = subscribed_receiver(&server, &payer).await;
        let (to_bystander, _) = subscribed_receiver(&server, &bystander).await;
        // The payer also reads user_good's balances and transactions: it hears of the account.
        let customer = server.customer("user_good").await;
        let debtor = server.account_ids(&customer).await[0].to_string();
        let reading = create_consent(
            &server,
            &payer,
            &account_access(&[
                "PERMISSION_READ_ACCOUNTS",
                "PERMISSION_READ_BALANCES",
                "PERMISSION_READ_TRANSACTIONS",
            ]),
        )
        .await;
        authorized_code(
            &server,
            &payer,
            &reading,
            "user_good",
            std::slice::from_ref(&debtor),
        )
        .await;

        let (consent_id, payment_id) = pay(&server, &payer).await;

        let seen = to_payer
            .wait_until("the payment completed and its consent consumed", |seen| {
                payment_statuses(seen, &payment_id).len() == 3
                    && seen.of_type("consent.status_changed").iter().any(|event| {
                        event.body["consentStatusChanged"]["consentId"] == consent_id.as_str()
                            && event.body["consentStatusChanged"]["status"]
                                == "CONSENT_STATUS_CONSUMED"
                    })
                    && !seen.of_type("account.transaction_created").is_empty()
                    && !seen.of_type("account.balance_changed").is_empty()
            })
            .await;
        assert_eq!(
            payment_statuses(&seen, &payment_id),
            [
                "PAYMENT_STATUS_PENDING",
                "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_IN_PROCESS",
                "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED",
            ],
            "{bus}"
        );
        assert_eq!(seen.rejected, 0, "{bus}: every delivery verifies");
        assert!(seen.received.iter().all(|event| event.verified_with == [0]));
        // The body is the envelope: its id is the webhook-id, its type the type.
        for event in &seen.received {
            assert_eq!(event.body["eventId"], event.id.as_str(), "{bus}");
            assert_eq!(event.body["type"], event.kind.as_str(), "{bus}");
        }
        for event in seen.of_type("account.transaction_created") {
            assert_eq!(
                event.body["accountTransactionCreated"]["accountId"],
                debtor.as_str()
            );
        }
        // Nothing reached the other app, whose endpoint listens to every type.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let elsewhere = to_bystander.seen().await;
        assert!(
            elsewhere.attempts.is_empty(),
            "{bus}: another app's endpoint got {elsewhere:#?}"
        );
        server.stop().await;
    }
}

/// A sandbox server whose deliveries time out after 500 ms and are retried after about a
/// second, three times.
async fn impatient_server() -> TestServer {
    TestServer::start_with(
        TestDatabase::new().await,
        "[webhooks]\ntimeout_ms = 500\nsandbox_retry_schedule_ms = [1000, 1000, 1000]\n",
    )
    .await
}

/// Queues a test event for `endpoint_id`; answers the delivery.
pub(crate) async fn send_test_event(server: &TestServer, token: &str, endpoint_id: &str) -> Value {
    let (status, delivery) = post(
        server,
        token,
        &format!("/v1/webhook-endpoints/{endpoint_id}:sendTestEvent"),
        json!({ "eventType": "payment.status_changed" }),
    )
    .await;
    assert_eq!(status, 200, "{delivery}");
    delivery
}

/// Moves the server's clock past the next retry.
fn next_retry(server: &TestServer) {
    server.clock.advance(chrono::Duration::milliseconds(1300));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_schedule_until_it_recovers() {
    let server = impatient_server().await;
    let app = webhook_app(&server).await;
    let (receiver, endpoint_id) = subscribed_receiver(&server, &app).await;
    let port = receiver.port;

    // 500: the first attempt fails and the next is scheduled about a second later.
    receiver.answer("500", 0).await;
    let queued = send_test_event(&server, &app.token, &endpoint_id).await;
    let delivery_id = queued["deliveryId"].as_str().unwrap().to_owned();
    let failed = newest_delivery(&server, &app.token, &endpoint_id, "failed once", |d| {
        d["attempts"] == 1
    })
    .await;
    assert_eq!(failed["status"], "DELIVERY_STATUS_FAILED");
    assert_eq!(failed["lastResponseStatus"], 500);
    assert_eq!(failed["lastError"], "HTTP 500");
    assert_eq!(
        failed["attemptLog"][0]["responseExcerpt"],
        r#"{"error": "receiver is failing"}"#
    );
    let gap = chrono::DateTime::parse_from_rfc3339(failed["nextAttemptTime"].as_str().unwrap())
        .unwrap()
        - chrono::DateTime::parse_from_rfc3339(failed["lastAttemptTime"].as_str().unwrap())
            .unwrap();
    assert!(
        (800..=1200).contains(&gap.num_milliseconds()),
        "the retry is due a second (±20 %) later, not {gap}"
    );
    // Not before it is due.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.seen().await.attempts.len(), 1);

    // A timeout.
    receiver.answer("timeout", 2000).await;
    next_retry(&server);
    let timed_out = newest_delivery(&server, &app.token, &endpoint_id, "timed out", |d| {
        d["attempts"] == 2
    })
    .await;
    assert!(
        timed_out["lastError"]
            .as_str()
            .unwrap()
            .starts_with("timeout"),
        "{timed_out}"
    );

    // Connections refused.
    receiver.stop().await;
    next_retry(&server);
    let refused = newest_delivery(&server, &app.token, &endpoint_id, "refused", |d| {
        d["attempts"] == 3
    })
    .await;
    assert!(
        refused["lastError"]
            .as_str()
            .unwrap()
            .starts_with("connection failed"),
        "{refused}"
    );
    assert_eq!(refused["lastResponseStatus"], Value::Null);

    // It recovers on the same port: the last attempt of the schedule delivers.
    let receiver = Receiver::on(port).await;
    let secret = rotate(&server, &app.token, &endpoint_id).await;
    receiver.trust(&[&secret]).await;
    next_retry(&server);
    let seen = receiver
        .wait_until("the delivery", |seen| seen.received.len() == 1)
        .await;
    assert_eq!(seen.received[0].kind, "payment.status_changed");
    let done = newest_delivery(&server, &app.token, &endpoint_id, "succeeded", |d| {
        d["status"] == "DELIVERY_STATUS_SUCCEEDED"
    })
    .await;
    assert_eq!(done["deliveryId"], delivery_id.as_str());
    assert_eq!(done["attempts"], 4);
    let statuses: Vec<&Value> = done["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["responseStatus"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(500), &Value::Null, &Value::Null, &json!(200)]
    );
    assert_eq!(done.get("nextAttemptTime"), None);
    server.stop().await;
}

/// Rotates the endpoint's secret; answers the new one.
async fn rotate(server: &TestServer, token: &str, endpoint_id: &str) -> String {
    let (status, body) = post(
        server,
        token,
        &format!("/v1/webhook-endpoints/{endpoint_id}:rotateSecret"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["signingSecret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_exhausted_delivery_is_a_dead_letter_until_retried_and_gone_disables() {
    let server = impatient_server().await;
    let app = webhook_app(&server).await;
    let (receiver, endpoint_id) = subscribed_receiver(&server, &app).await;
    receiver.answer("500", 0).await;
    let queued = send_test_event(&server, &app.token, &endpoint_id).await;
    let delivery_id = queued["deliveryId"].as_str().unwrap().to_owned();
    for attempts in 1..=4 {
        newest_delivery(&server, &app.token, &endpoint_id, "one more failure", |d| {
            d["attempts"] == attempts
        })
        .await;
        next_retry(&server);
    }
    let dead = newest_delivery(&server, &app.token, &endpoint_id, "dead", |d| {
        d["status"] == "DELIVERY_STATUS_DEAD_LETTERED"
    })
    .await;
    assert_eq!(dead["attempts"], 4);
    assert_eq!(dead.get("nextAttemptTime"), None);
    // The log filters by status.
    let (status, listed) = get(
        &server,
        &app.token,
        &format!(
            "/v1/webhook-endpoints/{endpoint_id}/deliveries?status=DELIVERY_STATUS_DEAD_LETTERED"
        ),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["deliveries"].as_array().unwrap().len(), 1);

    // Retried once the receiver works: delivered.
    receiver.answer("ok", 0).await;
    let (status, retried) = post(
        &server,
        &app.token,
        &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}:retry"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["status"], "DELIVERY_STATUS_PENDING");
    let seen = receiver
        .wait_until("the retried delivery", |seen| seen.received.len() == 1)
        .await;
    // Every attempt carried the same webhook-id: the receiver could dedupe them.
    let modes: Vec<&str> = seen.attempts.iter().map(|a| a.mode.as_str()).collect();
    assert_eq!(modes, ["500", "500", "500", "500", "ok"]);
    assert!(seen.attempts.iter().all(|a| a.id == seen.received[0].id));
    newest_delivery(&server, &app.token, &endpoint_id, "succeeded", |d| {
        d["status"] == "DELIVERY_STATUS_SUCCEEDED" && d["attempts"] == 5
    })
    .await;

    // 410 Gone disables the endpoint, with the reason.
    receiver.answer("410", 0).await;
    send_test_event(&server, &app.token, &endpoint_id).await;
    newest_delivery(&server, &app.token, &endpoint_id, "gone", |d| {
        d["lastResponseStatus"] == 410
    })
    .await;
    let (_, endpoint) = get(
        &server,
        &app.token,
        &format!("/v1/webhook-endpoints/{endpoint_id}"),
    )
    .await;
    assert_eq!(endpoint["disabled"], true, "{endpoint}");
    assert!(
        endpoint["disabledReason"]
            .as_str()
            .unwrap()
            .contains("410 Gone"),
        "{endpoint}"
    );
    // Enabled again by the app, it forgets the reason.
    let (status, enabled) = send(
        server
            .http
            .patch(format!(
                "{}/v1/webhook-endpoints/{endpoint_id}?updateMask=disabled",
                server.base_url
            ))
            .bearer_auth(&app.token)
            .json(&json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(enabled.get("disabledReason"), None, "{enabled}");
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let server = TestServer::start().await;
    let mut app = webhook_app(&server).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, old) = endpoint(&server, &app.token, &receiver.url(), &ALL_TYPES).await;
    let new = rotate(&server, &app.token, &endpoint_id).await;
    receiver.trust(&[&old, &new]).await;

    send_test_event(&server, &app.token, &endpoint_id).await;
    let seen = receiver
        .wait_until("the first delivery", |seen| seen.received.len() == 1)
        .await;
    assert_eq!(seen.received[0].verified_with, [0, 1], "both sign");

    // A day and a minute later only the new secret signs.
    server.clock.advance(chrono::Duration::minutes(24 * 60 + 1));
    app.renew(&server).await;
    send_test_event(&server, &app.token, &endpoint_id).await;
    let seen = receiver
        .wait_until("the second delivery", |seen| seen.received.len() == 2)
        .await;
    assert_eq!(
        seen.received[1].verified_with,
        [1],
        "only the new one signs"
    );
    server.stop().await;
}

#[tokio::test]
async fn replay_delivers_the_apps_events_again_with_their_ids_and_logs_are_private() {
    let server = TestServer::start().await;
    let app = webhook_app(&server).await;
    let other = webhook_app(&server).await;
    let (receiver, endpoint_id) = subscribed_receiver(&server, &app).await;
    let (_, other_endpoint) = subscribed_receiver(&server, &other).await;
    let (_, payment_id) = pay(&server, &app).await;
    let first = receiver
        .wait_until("the completed payment", |seen| {
            payment_statuses(seen, &payment_id).len() == 3
        })
        .await;
    let ids: BTreeSet<String> = first
        .received
        .iter()
        .map(|event| event.id.clone())
        .collect();
    let listed = deliveries(&server, &app.token, &endpoint_id).await;
    assert_eq!(listed.len(), ids.len());

    // The other app's events (it made none) are not replayed here, and this app's log and
    // deliveries are NOT_FOUND to it.
    let since = (wekeza_testkit::test_now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, replayed) = post(
        &server,
        &app.token,
        &format!("/v1/webhook-endpoints/{endpoint_id}:replay"),
        json!({ "sinceTime": since }),
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["eventCount"], ids.len().to_string());
    let again = receiver
        .wait_until("every event again", |seen| {
            seen.duplicates == u64::try_from(ids.len()).unwrap()
        })
        .await;
    assert_eq!(again.received.len(), ids.len(), "the same webhook-ids");

    let theirs = get(
        &server,
        &other.token,
        &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"),
    )
    .await;
    assert_problem(&theirs, 404, "NOT_FOUND");
    let delivery_id = listed[0]["deliveryId"].as_str().unwrap();
    let retry_theirs = post(
        &server,
        &other.token,
        &format!("/v1/webhook-endpoints/{other_endpoint}/deliveries/{delivery_id}:retry"),
        json!({}),
    )
    .await;
    assert_problem(&retry_theirs, 404, "NOT_FOUND");
    let (status, own) = get(
        &server,
        &other.token,
        &format!("/v1/webhook-endpoints/{other_endpoint}/deliveries"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(own, json!({}), "the other app has no deliveries");

    // A replay reaches back 30 days at most.
    let too_old = (wekeza_testkit::test_now() - chrono::Duration::days(31)).to_rfc3339();
    let refused = post(
        &server,
        &app.token,
        &format!("/v1/webhook-endpoints/{endpoint_id}:replay"),
        json!({ "sinceTime": too_old }),
    )
    .await;
    assert_problem(&refused, 400, "INVALID_REQUEST");
    server.stop().await;
}

#[tokio::test]
async fn two_dispatchers_on_one_stream_deliver_each_event_once() {
    for (bus, config) in buses() {
        let server = TestServer::start_with(TestDatabase::new().await, &config).await;
        // A second dispatcher on the same database and stream, with its own bus connection,
        // configured as the server is.
        let config =
            wekeza_server::Config::from_layers(Some(&config), Vec::<(String, String)>::new())
                .unwrap();
        let second_bus: Arc<dyn EventBus> = match config.jetstream() {
            Some(settings) => Arc::new(JetStreamBus::connect(settings).await.unwrap()),
            None => server.bus(),
        };
        let stop = CancellationToken::new();
        let settings = config.dispatch_settings().unwrap();
        let second = wekeza_webhooks::Dispatcher::new(
            server.database.conn().clone(),
            second_bus,
            Arc::new(server.clock.clone()),
            None,
            settings,
            Arc::new(tokio::sync::Notify::new()),
        )
        .unwrap();
        let workers = second.start(&stop);

        let app = webhook_app(&server).await;
        let (receiver, endpoint_id) = subscribed_receiver(&server, &app).await;
        let mut payments = Vec::new();
        for _ in 0..5 {
            payments.push(pay(&server, &app).await.1);
        }
        receiver
            .wait_until("every payment completed", |seen| {
                payments
                    .iter()
                    .all(|payment| payment_statuses(seen, payment).len() == 3)
            })
            .await;
        // Consents: created, authorised, consumed; payments: three statuses — 30 events.
        receiver
            .wait_until("30 events", |seen| seen.received.len() >= 30)
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = receiver.seen().await;
        let listed = deliveries(&server, &app.token, &endpoint_id).await;
        assert_eq!(seen.received.len(), 30, "{bus}: {listed:#?}");
        assert_eq!(seen.duplicates, 0, "{bus}: each event once");
        assert_eq!(seen.attempts.len(), 30, "{bus}");
        stop.cancel();
        for worker in workers {
            worker.await.unwrap();
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn production_refuses_to_deliver_to_private_addresses() {
    // An endpoint row pointing inside the network (as a name that later resolves there would):
    // registration refuses such URLs, so it is written straight into the database.
    let server = TestServer::start_with(
        TestDatabase::new().await,
        "env = \"production\"\nkey_encryption_key = \"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA\"\nissuer = \"https://api.wekeza.test\"\n",
    )
    .await;
    let receiver = Receiver::start().await;
    let principal = server.app_principal(&[Scope::WebhooksManage]).await;
    let token = server.token_for(principal.clone());
    let refused = send(
        server
            .http
            .post(format!("{}/v1/webhook-endpoints", server.base_url))
            .bearer_auth(&token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "url": receiver.url(), "eventTypes": ALL_TYPES })),
    )
    .await;
    assert_problem(&refused, 400, "INVALID_REQUEST");

    for url in [
        receiver.url().replace("http:", "https:"),
        "https://localhost/hooks".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.0.0.1/hooks".to_owned(),
    ] {
        let id = wekeza_domain::WebhookEndpointId::new_monotonic(server.clock.now());
        let row = wekeza_store::webhooks::WebhookEndpoint {
            id: id.clone(),
            app_id: principal.app_id.clone(),
            url: url.clone(),
            description: String::new(),
            event_types: vec!["payment.status_changed".to_owned()],
            disabled: false,
            disabled_reason: None,
            failing_since: None,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            previous_secret: None,
            created_at: server.clock.now(),
            updated_at: server.clock.now(),
        };
        wekeza_store::webhooks::insert(server.database.conn(), &row)
            .await
            .unwrap();
        send_test_event(&server, &token, id.as_str()).await;
        let failed = newest_delivery(&server, &token, id.as_str(), "refused", |d| {
            d["attempts"] == 1
        })
        .await;
        let error = failed["lastError"].as_str().unwrap();
        assert!(
            error.starts_with("refused by the SSRF guard: resolves to ")
                && error.ends_with("which is not a public address"),
            "{url}: {error}"
        );
    }
    assert!(receiver.seen().await.attempts.is_empty());
    server.stop().await;
}

/// A receiver that holds each request for a while and counts how many it holds at once.
#[derive(Default)]
struct SlowReceiver {
    holding: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    answered: std::sync::atomic::AtomicUsize,
}

impl SlowReceiver {
    /// Serves on a free port of 127.0.0.1, each request answered 204 after `hold`; answers its
    /// URL.
    async fn start(self: &Arc<Self>, hold: Duration) -> String {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let this = self.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move || {
                let this = this.clone();
                async move {
                    let now = this.holding.fetch_add(1, SeqCst) + 1;
                    this.most.fetch_max(now, SeqCst);
                    tokio::time::sleep(hold).await;
                    this.holding.fetch_sub(1, SeqCst);
                    this.answered.fetch_add(1, SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }
}

#[tokio::test]
async fn requests_to_one_endpoint_stay_within_its_limit_and_all_arrive() {
    use std::sync::atomic::Ordering::SeqCst;
    const LIMIT: usize = 2;
    const DELIVERIES: usize = 12;
    let server = TestServer::start_with(
        TestDatabase::new().await,
        &format!("[webhooks]\nendpoint_max_in_flight = {LIMIT}\n"),
    )
    .await;
    let app = webhook_app(&server).await;
    let receiver = Arc::new(SlowReceiver::default());
    let url = receiver.start(Duration::from_millis(200)).await;
    let (endpoint_id, _) = endpoint(&server, &app.token, &url, &ALL_TYPES).await;
    for _ in 0..DELIVERIES {
        send_test_event(&server, &app.token, &endpoint_id).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while receiver.answered.load(SeqCst) < DELIVERIES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {DELIVERIES} test events arrived",
            receiver.answered.load(SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Twelve queued at once for a limit of two: the claim takes several rounds' worth, and the
    // endpoint still never holds more than two requests.
    let most = receiver.most.load(SeqCst);
    println!("{DELIVERIES} deliveries, at most {most} at once to an endpoint limited to {LIMIT}");
    assert_eq!(most, LIMIT, "the limit is reached and never passed");
    server.stop().await;
}
