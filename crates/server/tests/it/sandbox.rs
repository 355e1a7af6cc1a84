//! The sandbox's bank-side shortcuts, as apps use them, with real tokens only:
//! `SimulatePaymentStatus` driving a payment held for simulation (the magic amount `77.77`)
//! along the lifecycle over gRPC and REST — its ledger postings, balances and events, and what
//! it refuses — and the isolation of one sandbox app from another: a reset removes and takes
//! back only the caller's consents, tokens, payments and money movements; `FireEvent` and
//! `SimulatePaymentStatus` touch only the caller's resources, and a fired event reaches the
//! caller alone. Also: the authorize shortcut refuses a username with a NUL byte as the
//! request's fault.

use std::time::Duration;

use prost::Message;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tonic::Code;
use wekeza_domain::{AccountId, Clock, PaymentId, Scope};
use wekeza_ledger::CoreBanking;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::sandbox_service_client::SandboxServiceClient;
use wekeza_store::TransactionTrait;
use wekeza_store::entity::outbox_events;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::identity_flow::{
    READ_ALL, REDIRECT, TestApp, assert_oauth_error, assert_problem, authorize, authorized_code,
    consent_tokens, create_consent, exchange, get, payment, refresh, register, send,
};
use crate::payments::events;
use crate::support::{assert_reason, field_violations};

/// Fraud policy under which every payment is allowed (the sandbox magic values still act): the
/// tests make several payments from one customer, which the velocity rules would flag.
const ALLOW_ALL: &str = "[fraud]\npolicy = { step_up_threshold = 101, reject_threshold = 101 }\n";

/// The amount settlement leaves alone, for simulation.
const HELD: &str = wekeza_fraud::sandbox::HELD_FOR_SIMULATION_AMOUNT;

/// How long a payment may take to settle before a test fails.
const SETTLE_WITHIN: Duration = Duration::from_secs(15);

/// A sandbox server on which every payment is allowed.
async fn server() -> TestServer {
    TestServer::start_with(TestDatabase::new().await, ALLOW_ALL).await
}

/// Pays `amount` KES to Jane Doe from `user_good`'s current account, as `app` does it: a
/// payment consent, authorised through the sandbox shortcut, its code exchanged for a customer
/// token, the payment made over REST. Answers the payment id.
async fn pay(server: &TestServer, app: &TestApp, amount: &str) -> String {
    let consent_id = create_consent(server, app, &payment(amount, None)).await;
    let (code, verifier) = authorized_code(server, app, &consent_id, "user_good", &[]).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, created) = send(
        server
            .http
            .post(format!("{}/v1/payments", server.base_url))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .header("x-fapi-customer-ip-address", "198.51.100.23")
            .json(&json!({ "consentId": consent_id })),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "PAYMENT_STATUS_PENDING");
    created["paymentId"].as_str().unwrap().to_owned()
}

/// The payment as stored now.
async fn stored(server: &TestServer, id: &str) -> wekeza_domain::Payment {
    let id: PaymentId = id.parse().unwrap();
    wekeza_store::payments::find(server.database.conn(), &id)
        .await
        .unwrap()
        .unwrap()
}

/// Waits until settlement finished the payment `id`.
async fn settled(server: &TestServer, id: &str) {
    let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
    while !stored(server, id).await.status.is_final() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} not settled within {SETTLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(booked, held)` of an account, in minor units.
async fn funds(server: &TestServer, account: &AccountId) -> (i64, i64) {
    let row = wekeza_store::accounts::find(server.database.conn(), account)
        .await
        .unwrap()
        .unwrap();
    (row.booked_minor, row.held_minor)
}

/// `user_good`'s current account (the one a payment consent naming no debtor binds) and Jane
/// Doe's.
async fn debtor_and_creditor(server: &TestServer) -> (AccountId, AccountId) {
    let customer = server.customer("user_good").await;
    let debtor = server.account_ids(&customer).await[0].clone();
    let jane = server
        .ledger()
        .account_by_number(wekeza_sandbox_bank::seed::JANE_ACCOUNT_NUMBER)
        .await
        .unwrap()
        .unwrap()
        .id;
    (debtor, jane)
}

/// `SimulatePaymentStatus` over gRPC with `token`.
async fn simulate(
    server: &TestServer,
    token: &str,
    payment_id: &str,
    status: pb::PaymentStatus,
    status_reason: &str,
) -> Result<pb::Payment, tonic::Status> {
    SandboxServiceClient::new(server.channel())
        .simulate_payment_status(server.request(
            token,
            pb::SimulatePaymentStatusRequest {
                payment_id: payment_id.to_owned(),
                status: status.into(),
                status_reason: status_reason.to_owned(),
            },
        ))
        .await
        .map(|response| response.into_inner().payment.unwrap())
}

/// `POST /v1/sandbox/payments/{id}:simulate` with `token` and `body`.
async fn simulate_rest(
    server: &TestServer,
    token: &str,
    payment_id: &str,
    body: Value,
) -> (u16, Value) {
    send(
        server
            .http
            .post(format!(
                "{}/v1/sandbox/payments/{payment_id}:simulate",
                server.base_url
            ))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

/// The `(previous, status, reason)` of every `payment.status_changed` of `payment`, as wire
/// names, from the outbox.
async fn changes(server: &TestServer, payment: &str) -> Vec<(String, String, String)> {
    let name = |value: i32| {
        pb::PaymentStatus::try_from(value)
            .unwrap()
            .as_str_name()
            .trim_start_matches("PAYMENT_STATUS_")
            .to_owned()
    };
    events(server, &[payment])
        .await
        .into_iter()
        .map(|(_, _, event)| match event.payload {
            Some(pb::event::Payload::PaymentStatusChanged(change)) => (
                name(change.previous_status),
                name(change.status),
                change.status_reason,
            ),
            other => panic!("not a payment change: {other:?}"),
        })
        .collect()
}

/// The lifecycle steps as [`changes`] lists them.
fn steps(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(from, to, reason)| ((*from).to_owned(), (*to).to_owned(), (*reason).to_owned()))
        .collect()
}

/// The amounts (minor units) of the `account.transaction_created` events of `account`, in order.
async fn postings(server: &TestServer, account: &AccountId) -> Vec<i64> {
    events(server, &[account.as_str()])
        .await
        .into_iter()
        .filter_map(|(_, _, event)| match event.payload {
            Some(pb::event::Payload::AccountTransactionCreated(posting)) => {
                let debit = posting.credit_debit_indicator() == pb::CreditDebitIndicator::Debit;
                let amount = posting.amount.unwrap();
                let minor = wekeza_domain::Money::parse(&amount.amount, &amount.currency)
                    .unwrap()
                    .minor();
                Some(if debit { -minor } else { minor })
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_held_payment_is_simulated_through_its_lifecycle_with_postings_and_events() {
    let server = server().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    let (debtor, jane) = debtor_and_creditor(&server).await;
    let (debtor_before, _) = funds(&server, &debtor).await;
    let (jane_before, _) = funds(&server, &jane).await;

    // Settlement leaves the held payment alone: a payment made after it settles, it waits.
    let held = pay(&server, &app, HELD).await;
    let other = pay(&server, &app, "10.00").await;
    settled(&server, &other).await;
    assert_eq!(
        stored(&server, &held).await.status,
        wekeza_domain::PaymentStatus::Pending
    );
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 1_000, 7_777),
        "the held payment's funds are on hold"
    );

    // gRPC: PENDING → IN_PROCESS. Nothing is posted yet.
    let moved = simulate(
        &server,
        &app.token,
        &held,
        pb::PaymentStatus::AcceptedSettlementInProcess,
        "",
    )
    .await
    .unwrap();
    assert_eq!(moved.payment_id, held);
    assert_eq!(
        moved.status(),
        pb::PaymentStatus::AcceptedSettlementInProcess
    );
    assert_eq!(moved.status_reason, "");
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 1_000, 7_777)
    );

    // REST: IN_PROCESS → COMPLETED. The hold is settled on the ledger, as settlement does it.
    let (status, body) = simulate_rest(
        &server,
        &app.token,
        &held,
        json!({ "status": "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paymentId"], held.as_str());
    assert_eq!(
        body["status"],
        "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED"
    );
    assert_eq!(body["instructedAmount"]["amount"], HELD);
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 1_000 - 7_777, 0)
    );
    assert_eq!(
        funds(&server, &jane).await,
        (jane_before + 1_000 + 7_777, 0)
    );
    let (status, read) = send(
        server
            .http
            .get(format!("{}/v1/payments/{held}", server.base_url))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!((status, &read), (200, &body), "GetPayment answers the same");

    // Its events: every step, and the postings of both accounts, as a real settlement's.
    assert_eq!(
        changes(&server, &held).await,
        steps(&[
            ("UNSPECIFIED", "PENDING", ""),
            ("PENDING", "ACCEPTED_SETTLEMENT_IN_PROCESS", ""),
            (
                "ACCEPTED_SETTLEMENT_IN_PROCESS",
                "ACCEPTED_SETTLEMENT_COMPLETED",
                ""
            ),
        ])
    );
    assert_eq!(postings(&server, &debtor).await, [-1_000, -7_777]);
    assert_eq!(postings(&server, &jane).await, [1_000, 7_777]);
    let journal = wekeza_store::journals::find_by_external_reference(server.database.conn(), &held)
        .await
        .unwrap();
    assert!(journal.is_some(), "posted under the payment id");

    // A final payment goes nowhere: FAILED_PRECONDITION over both, nothing written.
    let refused = simulate(&server, &app.token, &held, pb::PaymentStatus::Rejected, "")
        .await
        .unwrap_err();
    assert_reason(
        &refused,
        Code::FailedPrecondition,
        "INVALID_STATE_TRANSITION",
    );
    assert!(
        refused
            .message()
            .contains("PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED"),
        "{refused:?}"
    );
    let (status, problem) = simulate_rest(
        &server,
        &app.token,
        &held,
        json!({ "status": "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_IN_PROCESS" }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["reason"], "INVALID_STATE_TRANSITION");
    assert_eq!(changes(&server, &held).await.len(), 3);

    // PENDING → COMPLETED passes through IN_PROCESS, with its event.
    let direct = pay(&server, &app, HELD).await;
    let completed = simulate(
        &server,
        &app.token,
        &direct,
        pb::PaymentStatus::AcceptedSettlementCompleted,
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        completed.status(),
        pb::PaymentStatus::AcceptedSettlementCompleted
    );
    assert_eq!(
        changes(&server, &direct).await,
        steps(&[
            ("UNSPECIFIED", "PENDING", ""),
            ("PENDING", "ACCEPTED_SETTLEMENT_IN_PROCESS", ""),
            (
                "ACCEPTED_SETTLEMENT_IN_PROCESS",
                "ACCEPTED_SETTLEMENT_COMPLETED",
                ""
            ),
        ])
    );
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 1_000 - 2 * 7_777, 0)
    );
    server.stop().await;
}

#[tokio::test]
async fn simulated_rejections_release_the_hold_and_keep_their_reason() {
    let server = server().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    let (debtor, jane) = debtor_and_creditor(&server).await;
    let (debtor_before, _) = funds(&server, &debtor).await;
    let (jane_before, _) = funds(&server, &jane).await;

    // REST, PENDING → REJECTED without a reason: REJECTED_BY_SANDBOX, the hold released.
    let first = pay(&server, &app, HELD).await;
    let (status, body) = simulate_rest(
        &server,
        &app.token,
        &first,
        json!({ "status": "PAYMENT_STATUS_REJECTED" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PAYMENT_STATUS_REJECTED");
    assert_eq!(body["statusReason"], "REJECTED_BY_SANDBOX");
    assert_eq!(funds(&server, &debtor).await, (debtor_before, 0));
    assert_eq!(
        changes(&server, &first).await,
        steps(&[
            ("UNSPECIFIED", "PENDING", ""),
            ("PENDING", "REJECTED", "REJECTED_BY_SANDBOX"),
        ])
    );

    // gRPC, PENDING → IN_PROCESS → REJECTED with a reason of the app's choosing.
    let second = pay(&server, &app, HELD).await;
    simulate(
        &server,
        &app.token,
        &second,
        pb::PaymentStatus::AcceptedSettlementInProcess,
        "",
    )
    .await
    .unwrap();
    let rejected = simulate(
        &server,
        &app.token,
        &second,
        pb::PaymentStatus::Rejected,
        "INSUFFICIENT_FUNDS",
    )
    .await
    .unwrap();
    assert_eq!(rejected.status(), pb::PaymentStatus::Rejected);
    assert_eq!(rejected.status_reason, "INSUFFICIENT_FUNDS");
    assert_eq!(
        changes(&server, &second).await,
        steps(&[
            ("UNSPECIFIED", "PENDING", ""),
            ("PENDING", "ACCEPTED_SETTLEMENT_IN_PROCESS", ""),
            (
                "ACCEPTED_SETTLEMENT_IN_PROCESS",
                "REJECTED",
                "INSUFFICIENT_FUNDS"
            ),
        ])
    );
    // Nothing was ever posted: the balances are as they were, and no account event was written.
    assert_eq!(funds(&server, &debtor).await, (debtor_before, 0));
    assert_eq!(funds(&server, &jane).await, (jane_before, 0));
    assert!(postings(&server, &debtor).await.is_empty());

    // A rejected payment stays rejected.
    let again = simulate(
        &server,
        &app.token,
        &second,
        pb::PaymentStatus::AcceptedSettlementCompleted,
        "",
    )
    .await
    .unwrap_err();
    assert_reason(&again, Code::FailedPrecondition, "INVALID_STATE_TRANSITION");
    server.stop().await;
}

#[tokio::test]
async fn simulation_refuses_other_apps_payments_unheld_payments_and_bad_requests() {
    let server = server().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    let stranger = register(&server, &[Scope::PaymentsInitiate]).await;
    let held = pay(&server, &app, HELD).await;

    // Another app's payment is not found, as an unknown or malformed id is: over both.
    for (token, id) in [
        (&stranger.token, held.as_str()),
        (&app.token, "pay_01jz0000000000000000000000"),
        (&app.token, "cns_01jz0000000000000000000000"),
        (&app.token, "nope"),
    ] {
        let status = simulate(&server, token, id, pb::PaymentStatus::Rejected, "")
            .await
            .unwrap_err();
        assert_reason(&status, Code::NotFound, "NOT_FOUND");
        let (status, problem) = simulate_rest(
            &server,
            token,
            id,
            json!({ "status": "PAYMENT_STATUS_REJECTED" }),
        )
        .await;
        assert_eq!(status, 404, "{id}: {problem}");
        assert_eq!(problem["reason"], "NOT_FOUND");
    }
    assert_eq!(
        stored(&server, &held).await.status,
        wekeza_domain::PaymentStatus::Pending,
        "the stranger moved nothing"
    );

    // Bad requests name their field.
    for (status, reason, field) in [
        (pb::PaymentStatus::Unspecified, "", "status"),
        (pb::PaymentStatus::Rejected, "NOT_FOUND", "status_reason"),
        (pb::PaymentStatus::Rejected, "bad\0reason", "status_reason"),
        (
            pb::PaymentStatus::AcceptedSettlementCompleted,
            "INSUFFICIENT_FUNDS",
            "status_reason",
        ),
    ] {
        let refused = simulate(&server, &app.token, &held, status, reason)
            .await
            .unwrap_err();
        assert_reason(&refused, Code::InvalidArgument, "INVALID_REQUEST");
        assert_eq!(field_violations(&refused), [field], "{status:?} {reason:?}");
    }
    let (status, problem) = simulate_rest(
        &server,
        &app.token,
        &held,
        json!({ "status": "PAYMENT_STATUS_REJECTED", "statusReason": "TEAPOT" }),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["reason"], "INVALID_REQUEST");

    // Back to PENDING is no step of the lifecycle.
    let refused = simulate(&server, &app.token, &held, pb::PaymentStatus::Pending, "")
        .await
        .unwrap_err();
    assert_reason(
        &refused,
        Code::FailedPrecondition,
        "INVALID_STATE_TRANSITION",
    );

    // A payment settlement moves by itself cannot be simulated, whatever its status.
    let ordinary = pay(&server, &app, "10.00").await;
    settled(&server, &ordinary).await;
    let refused = simulate(
        &server,
        &app.token,
        &ordinary,
        pb::PaymentStatus::Rejected,
        "",
    )
    .await
    .unwrap_err();
    assert_reason(
        &refused,
        Code::FailedPrecondition,
        "INVALID_STATE_TRANSITION",
    );
    assert!(refused.message().contains(HELD), "{refused:?}");
    assert_eq!(
        stored(&server, &held).await.status,
        wekeza_domain::PaymentStatus::Pending
    );
    server.stop().await;
}

#[tokio::test]
async fn held_payments_never_hold_up_the_settlement_of_others() {
    let server = server().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    // More held payments than settlement reads at once, all older than the next payment.
    // (Each under a consent of its own: a consent pays once.)
    let template = stored(&server, &pay(&server, &app, HELD).await).await;
    let consent = wekeza_store::consents::find(server.database.conn(), &template.consent_id)
        .await
        .unwrap()
        .unwrap();
    let txn = server.database.conn().begin().await.unwrap();
    for _ in 0..150 {
        let now = server.clock.now();
        let consent = wekeza_domain::Consent {
            id: wekeza_domain::ConsentId::new_monotonic(now),
            ..consent.clone()
        };
        wekeza_store::consents::insert(&txn, &consent)
            .await
            .unwrap();
        let copy = wekeza_domain::Payment {
            id: PaymentId::new_monotonic(now),
            consent_id: consent.id,
            ..template.clone()
        };
        wekeza_store::payments::insert(&txn, &copy).await.unwrap();
    }
    txn.commit().await.unwrap();

    let ordinary = pay(&server, &app, "10.00").await;
    settled(&server, &ordinary).await;
    let waiting = wekeza_store::payments::unfinished(server.database.conn(), None, 1_000)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 151, "the held payments still wait");
    server.stop().await;
}

/// `ResetSandbox` over gRPC with `token`: `(deleted consents, deleted payments)`.
async fn reset(server: &TestServer, token: &str) -> (i64, i64) {
    let reset = SandboxServiceClient::new(server.channel())
        .reset_sandbox(server.request(token, pb::ResetSandboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    (reset.deleted_consent_count, reset.deleted_payment_count)
}

/// Whether a journal is recorded under `reference`.
async fn journal_under(server: &TestServer, reference: &str) -> bool {
    wekeza_store::journals::find_by_external_reference(server.database.conn(), reference)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn one_apps_reset_removes_and_takes_back_only_what_that_app_did() {
    let server = server().await;
    let scopes = [Scope::PaymentsInitiate, Scope::AccountsRead];
    let a = register(&server, &scopes).await;
    let b = register(&server, &scopes).await;
    let (debtor, jane) = debtor_and_creditor(&server).await;
    let (debtor_before, _) = funds(&server, &debtor).await;
    let (jane_before, _) = funds(&server, &jane).await;

    // App A: a settled payment, a held one, and customer tokens over user_good's accounts.
    let a_paid = pay(&server, &a, "10.00").await;
    settled(&server, &a_paid).await;
    let a_held = pay(&server, &a, HELD).await;
    let (a_consent, a_tokens) = consent_tokens(&server, &a, &READ_ALL, "user_good", &[]).await;
    // App B: a settled payment and tokens of its own over the same customer.
    let b_paid = pay(&server, &b, "20.00").await;
    settled(&server, &b_paid).await;
    let (_, b_tokens) = consent_tokens(&server, &b, &READ_ALL, "user_good", &[]).await;
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 3_000, 7_777)
    );
    assert_eq!(funds(&server, &jane).await, (jane_before + 3_000, 0));

    // B resets: its two consents and its payment.
    assert_eq!(reset(&server, &b.token).await, (2, 1));
    // A's consents, payments and tokens are untouched.
    let a_access = a_tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&server, a_access, "/v1/accounts").await.0, 200);
    let (status, refreshed) =
        refresh(&server, &a, a_tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let a_access = refreshed["access_token"].as_str().unwrap().to_owned();
    let a_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, &a.token, &format!("/v1/consents/{a_consent}"))
            .await
            .0,
        200
    );
    for id in [&a_paid, &a_held] {
        assert_eq!(
            get(&server, &a.token, &format!("/v1/payments/{id}"))
                .await
                .0,
            200
        );
    }
    // B's are gone: its customer token is refused, its payment not found.
    assert_problem(
        &get(
            &server,
            b_tokens["access_token"].as_str().unwrap(),
            "/v1/accounts",
        )
        .await,
        401,
        "INVALID_TOKEN",
    );
    assert_problem(
        &get(&server, &b.token, &format!("/v1/payments/{b_paid}")).await,
        404,
        "NOT_FOUND",
    );
    // Only B's money movement was taken back, by a reversal the statements show; A's payment
    // and A's hold stand.
    assert_eq!(
        funds(&server, &debtor).await,
        (debtor_before - 1_000, 7_777)
    );
    assert_eq!(funds(&server, &jane).await, (jane_before + 1_000, 0));
    assert_eq!(postings(&server, &debtor).await, [-1_000, -2_000, 2_000]);
    assert_eq!(postings(&server, &jane).await, [1_000, 2_000, -2_000]);
    assert!(journal_under(&server, &format!("reversal:{b_paid}")).await);
    assert!(!journal_under(&server, &format!("reversal:{a_paid}")).await);
    // Again: nothing of B's is left.
    assert_eq!(reset(&server, &b.token).await, (0, 0));

    // A resets: its three consents and two payments; the hold released, the payment reversed:
    // the accounts are back where they started.
    assert_eq!(reset(&server, &a.token).await, (3, 2));
    assert_problem(
        &get(&server, &a_access, "/v1/accounts").await,
        401,
        "INVALID_TOKEN",
    );
    assert_oauth_error(
        &refresh(&server, &a, &a_refresh).await,
        400,
        "invalid_grant",
    );
    assert_eq!(funds(&server, &debtor).await, (debtor_before, 0));
    assert_eq!(funds(&server, &jane).await, (jane_before, 0));
    assert!(journal_under(&server, &format!("reversal:{a_paid}")).await);
    assert!(!journal_under(&server, &format!("reversal:{a_held}")).await);
    // Every balance is still the sum of its postings.
    for account in [&debtor, &jane] {
        let rows = wekeza_store::postings::list_for_account(
            server.database.conn(),
            account,
            wekeza_store::postings::PostingFilter {
                limit: 100_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let sum: i64 = rows.iter().map(|row| row.amount_minor).sum();
        assert_eq!(sum, funds(&server, account).await.0, "{account}");
        assert_eq!(rows[0].balance_after_minor, sum, "{account}: newest first");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_reset_takes_back_a_credit_another_app_has_spent_since() {
    let server = server().await;
    let scopes = [Scope::PaymentsInitiate];
    let a = register(&server, &scopes).await;
    let b = register(&server, &scopes).await;
    let (_, jane) = debtor_and_creditor(&server).await;
    let (jane_before, _) = funds(&server, &jane).await;

    // A pays Jane; B then pays out everything Jane's account has, A's credit included.
    let a_paid = pay(&server, &a, "500.00").await;
    settled(&server, &a_paid).await;
    let row = wekeza_store::accounts::find(server.database.conn(), &jane)
        .await
        .unwrap()
        .unwrap();
    let available = row.booked_minor - row.held_minor + row.overdraft_limit_minor;
    let amount = format!("{}.{:02}", available / 100, available % 100);
    let body = json!({
        "type": "CONSENT_TYPE_PAYMENT",
        "payment": {
            "instructedAmount": { "amount": amount, "currency": "KES" },
            "creditor": { "name": "Acme Supplies", "accountNumber": "22200033344" },
            "reference": "Everything",
            "debtorAccount": { "accountNumber": wekeza_sandbox_bank::seed::JANE_ACCOUNT_NUMBER }
        }
    });
    let consent_id = create_consent(&server, &b, &body).await;
    let (code, verifier) = authorized_code(&server, &b, &consent_id, "user_jane", &[]).await;
    let (_, tokens) = exchange(&server, &b, &code, &verifier, REDIRECT).await;
    let (status, created) = send(
        server
            .http
            .post(format!("{}/v1/payments", server.base_url))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "consentId": consent_id })),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    settled(&server, created["paymentId"].as_str().unwrap()).await;
    let spent = funds(&server, &jane).await.0;
    assert_eq!(spent, -row.overdraft_limit_minor);

    // A's reset still takes its credit back, whatever Jane's overdraft limit says: the
    // reversal only returns what A's payment moved.
    assert_eq!(reset(&server, &a.token).await, (1, 1));
    assert_eq!(funds(&server, &jane).await.0, spent - 50_000);
    assert_eq!(
        funds(&server, &jane).await.0,
        jane_before - available,
        "Jane's balance is as if only B had paid"
    );
    server.stop().await;
}

#[tokio::test]
async fn fire_event_and_simulation_touch_only_the_callers_resources() {
    let server = server().await;
    let scopes = [Scope::PaymentsInitiate, Scope::AccountsRead];
    let a = register(&server, &scopes).await;
    let b = register(&server, &scopes).await;
    let (debtor, _) = debtor_and_creditor(&server).await;
    let held = pay(&server, &a, HELD).await;
    let (a_consent, _) = consent_tokens(&server, &a, &READ_ALL, "user_good", &[]).await;
    // B may read the same account, under a consent of its own.
    consent_tokens(&server, &b, &READ_ALL, "user_good", &[]).await;
    let mut sandbox = SandboxServiceClient::new(server.channel());
    let fire = |token: &str, event_type: &str, resource_id: &str| {
        server.request(
            token,
            pb::FireEventRequest {
                event_type: event_type.to_owned(),
                resource_id: resource_id.to_owned(),
            },
        )
    };

    // B cannot fire events about A's payment or consent, nor move A's payment.
    for (event_type, resource) in [
        ("payment.status_changed", held.as_str()),
        ("consent.status_changed", a_consent.as_str()),
    ] {
        let status = sandbox
            .fire_event(fire(&b.token, event_type, resource))
            .await
            .unwrap_err();
        assert_reason(&status, Code::NotFound, "NOT_FOUND");
    }
    let status = simulate(&server, &b.token, &held, pb::PaymentStatus::Rejected, "")
        .await
        .unwrap_err();
    assert_reason(&status, Code::NotFound, "NOT_FOUND");
    assert_eq!(
        stored(&server, &held).await.status,
        wekeza_domain::PaymentStatus::Pending
    );

    // An event A fires about the shared account is A's alone: the webhook routing gives it to
    // A, not to B, which watches the same account. The same holds for sample data.
    let app_of = |app: &TestApp| app.created.app.id.clone();
    let router = wekeza_webhooks::dispatch::route::Router::default();
    let owners = |event: pb::Event| {
        let (server, router) = (&server, &router);
        async move {
            router
                .owners(server.database.conn(), &event, server.clock.now())
                .await
                .unwrap()
        }
    };
    for (token, app, resource) in [
        (&a.token, &a, debtor.as_str()),
        (&b.token, &b, debtor.as_str()),
        (&a.token, &a, ""),
    ] {
        let fired = sandbox
            .fire_event(fire(token, "account.balance_changed", resource))
            .await
            .unwrap()
            .into_inner()
            .event
            .unwrap();
        assert_eq!(fired.fired_by_client_id, app.client_id());
        let row = outbox_events::Entity::find_by_id(fired.event_id.clone())
            .one(server.database.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            pb::Event::decode(row.payload.as_slice()).unwrap(),
            fired,
            "the outbox holds it as answered"
        );
        assert_eq!(
            owners(fired).await,
            std::collections::BTreeSet::from([app_of(app)])
        );
    }
    // A real change of the account, by contrast, reaches every app that may read it.
    let paid = pay(&server, &a, "10.00").await;
    settled(&server, &paid).await;
    let (_, _, change) = events(&server, &[debtor.as_str()])
        .await
        .into_iter()
        .rev()
        .find(|(kind, _, _)| kind == "account.balance_changed")
        .unwrap();
    assert!(change.fired_by_client_id.is_empty());
    assert_eq!(
        owners(change).await,
        std::collections::BTreeSet::from([app_of(&a), app_of(&b)])
    );
    server.stop().await;
}

#[tokio::test]
async fn the_authorize_shortcut_refuses_a_nul_in_the_username() {
    let server = server().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    let consent_id = create_consent(&server, &app, &payment("10.00", None)).await;
    // REST: 400 naming the field, never a 500 from a database that refuses the byte.
    let (status, problem) = authorize(
        &server,
        &app,
        &consent_id,
        json!({ "username": "user\u{0}good", "redirectUri": REDIRECT }),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["reason"], "INVALID_REQUEST");
    assert_eq!(problem["errors"][0]["field"], "username", "{problem}");
    // gRPC: INVALID_ARGUMENT with the field violation.
    let refused = SandboxServiceClient::new(server.channel())
        .authorize_consent(server.request(
            &app.token,
            pb::AuthorizeConsentRequest {
                consent_id: consent_id.clone(),
                username: "user_good\u{0}".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::InvalidArgument, "INVALID_REQUEST");
    assert_eq!(field_violations(&refused), ["username"]);
    // The consent still awaits its decision, and a clean name still decides it.
    let (code, _) = authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    assert!(!code.is_empty());
    server.stop().await;
}
