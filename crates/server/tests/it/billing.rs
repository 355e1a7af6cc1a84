//! Plans, daily quotas, metering, usage and invoices through the real server: a Free app's
//! 1,001st call of the day refused over REST and gRPC until 00:00 UTC, `ChangePlan` lifting it
//! on the next call, another app unaffected; counts per operation and status class exact
//! after a flush and after a graceful shutdown; `GetUsage` per day and per operation; a Startup
//! app's invoice over a month with a plan change priced by hand, and the binary's CSV and JSON
//! exports agreeing with it and with each other.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use wekeza_domain::{AppId, Principal, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::partner_service_client::PartnerServiceClient;
use wekeza_proto::v1::webhook_service_client::WebhookServiceClient;
use wekeza_store::apps::{NewApp, Plan};
use wekeza_store::entity::usage_counters;
use wekeza_store::testing::TestDatabase;
use wekeza_store::usage::QuotaCounts;
use wekeza_testkit::{TestServer, test_now};

use crate::cli::wekeza_succeeds;
use crate::rest::assert_problem;
use crate::support::assert_reason;

/// The cheap rpc the quota tests call: an app's (empty) list of webhook endpoints.
const CHEAP_PATH: &str = "/v1/webhook-endpoints";
const CHEAP_RPC: &str = "/wekeza.openbanking.v1.WebhookService/ListWebhookEndpoints";

/// A new app on the free plan and a token for it.
async fn free_app(server: &TestServer) -> (AppId, String) {
    let principal = server
        .app_principal(&[Scope::WebhooksManage, Scope::AccountsRead])
        .await;
    let app_id = principal.app_id.clone();
    (app_id, server.token_for(principal))
}

async fn cheap_rest(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .http
        .get(format!("{}{CHEAP_PATH}", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn cheap_grpc(server: &TestServer, token: &str) -> Result<(), tonic::Status> {
    WebhookServiceClient::new(server.channel())
        .list_webhook_endpoints(server.request(token, pb::ListWebhookEndpointsRequest::default()))
        .await
        .map(|_| ())
}

fn partner(server: &TestServer) -> PartnerServiceClient<Channel> {
    PartnerServiceClient::new(server.channel())
}

/// Makes `count` cheap REST calls, 16 at a time; answers their statuses.
async fn calls(server: &TestServer, token: &str, count: usize) -> Vec<u16> {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|_| async { cheap_rest(server, token).await.status().as_u16() })
        .buffer_unordered(16)
        .collect()
        .await
}

#[tokio::test]
async fn a_free_app_gets_1000_calls_a_day_then_429_until_midnight_utc_or_an_upgrade() {
    let server = TestServer::start().await;
    let (app, token) = free_app(&server).await;
    let (_, other_token) = free_app(&server).await;

    let statuses = calls(&server, &token, 1_000).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");

    // The 1,001st: 429 QUOTA_EXCEEDED, Retry-After until 00:00 UTC, the reset time named.
    let refused = cheap_rest(&server, &token).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let midnight = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let until_midnight = (midnight - test_now()).num_seconds();
    assert_eq!(i64::try_from(retry_after).unwrap(), until_midnight);
    let problem = assert_problem(refused, 429, "QUOTA_EXCEEDED").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("2026-11-02T00:00:00Z"), "{detail}");

    // Over gRPC: RESOURCE_EXHAUSTED with RetryInfo.
    let status = cheap_grpc(&server, &token).await.unwrap_err();
    assert_reason(&status, Code::ResourceExhausted, "QUOTA_EXCEEDED");
    let retry = status.get_error_details().retry_info().cloned().unwrap();
    assert_eq!(
        retry.retry_delay.unwrap().as_secs(),
        u64::try_from(until_midnight).unwrap()
    );

    // Another app is unaffected.
    assert_eq!(cheap_rest(&server, &other_token).await.status(), 200);

    // At 00:00 UTC the count starts again.
    server.clock.set(midnight);
    assert_eq!(cheap_rest(&server, &token).await.status(), 200);
    let used_up = calls(&server, &token, 999).await;
    assert!(used_up.iter().all(|status| *status == 200));
    assert_eq!(cheap_rest(&server, &token).await.status(), 429);

    // The billing rpcs stay open to it: it upgrades, and the next call passes.
    let changed = partner(&server)
        .change_plan(server.request(
            &token,
            pb::ChangePlanRequest {
                app_id: app.to_string(),
                plan_id: "startup".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.app.unwrap().plan_id, "startup");
    assert_eq!(cheap_rest(&server, &token).await.status(), 200);
    assert!(cheap_grpc(&server, &token).await.is_ok());
}

#[tokio::test]
async fn change_plan_is_the_callers_own_and_enterprise_is_by_contract() {
    let server = TestServer::start().await;
    let (app, token) = free_app(&server).await;
    let (other, _) = free_app(&server).await;
    let change = |app_id: &AppId, plan_id: &str| {
        server.request(
            &token,
            pb::ChangePlanRequest {
                app_id: app_id.to_string(),
                plan_id: plan_id.into(),
            },
        )
    };
    let status = partner(&server)
        .change_plan(change(&other, "startup"))
        .await
        .unwrap_err();
    assert_reason(&status, Code::NotFound, "NOT_FOUND");
    let status = partner(&server)
        .change_plan(change(&app, "enterprise"))
        .await
        .unwrap_err();
    assert_reason(&status, Code::PermissionDenied, "WRONG_CALLER");
    let status = partner(&server)
        .change_plan(change(&app, "gold"))
        .await
        .unwrap_err();
    assert_reason(&status, Code::InvalidArgument, "INVALID_REQUEST");
    // Over REST, the same rpc.
    let response = server
        .http
        .post(format!("{}/v1/apps/{app}:changePlan", server.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"planId": "startup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["planId"], "startup");
    let history = wekeza_store::plan_changes::history(server.database.conn(), &app)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].previous, history[0].plan),
        (Plan::Free, Plan::Startup)
    );
    // ListPlans is public.
    let plans: Value = server
        .http
        .get(format!("{}/v1/plans", server.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let startup = &plans["plans"][1];
    assert_eq!(startup["planId"], "startup");
    assert_eq!(startup["dailyRequestLimit"], "50000");
    assert_eq!(startup["monthlyPrice"]["amount"], "25000.00");
    assert_eq!(startup["overagePrice"]["amount"], "50.00");
    assert!(plans["plans"][0].get("overagePrice").is_none());
}

/// The counter rows of `app`: `(operation, status class) → (requests, rejected)`.
async fn counters(
    db: &sea_orm::DatabaseConnection,
    app: &AppId,
) -> BTreeMap<(String, i16), (i64, i64)> {
    usage_counters::Entity::find()
        .filter(usage_counters::Column::AppId.eq(app.as_str()))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (
                (row.operation, row.status_class),
                (row.request_count, row.rejected_count),
            )
        })
        .collect()
}

/// A server whose metering flushes every `millis`.
async fn flushing_every(millis: u64) -> TestServer {
    let config = format!("[metering]\nflush_interval_ms = {millis}\n");
    TestServer::start_with(TestDatabase::new().await, &config).await
}

#[tokio::test]
async fn a_graceful_shutdown_writes_every_count() {
    // A flush interval far longer than the test: only the shutdown writes.
    let server = flushing_every(3_600_000).await;
    let (app, token) = free_app(&server).await;
    for _ in 0..5 {
        assert_eq!(cheap_rest(&server, &token).await.status(), 200);
    }
    assert!(cheap_grpc(&server, &token).await.is_ok());
    // A consent that does not exist: a 404 of the consent service.
    let missing = server
        .http
        .get(format!(
            "{}/v1/consents/cns_01jd3z5q8x4m2n6p7r9s0t1v2w",
            server.base_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let database = server.stop_keeping_database().await;
    let counted = counters(database.conn(), &app).await;
    assert_eq!(counted[&(CHEAP_RPC.to_owned(), 2)], (6, 0), "{counted:?}");
    assert_eq!(
        counted[&(
            "/wekeza.openbanking.v1.ConsentService/GetConsent".to_owned(),
            4
        )],
        (1, 0),
        "{counted:?}"
    );
    assert_eq!(counted.len(), 2, "{counted:?}");
    let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let quota = wekeza_store::usage::admitted_on(database.conn(), day, &[&app])
        .await
        .unwrap();
    assert_eq!(quota[&app], 7);
}

/// Polls `check` until it holds (the flusher writes every 50 ms in these tests).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: never");
}

#[tokio::test]
async fn usage_is_exact_per_day_and_operation_over_grpc_and_rest_and_only_the_apps_own() {
    let server = flushing_every(50).await;
    let (app, token) = free_app(&server).await;
    let (other, other_token) = free_app(&server).await;
    // Day 1: 3 calls served. Day 2: 2 served, 1 refused by the quota once it is used up.
    for _ in 0..3 {
        assert_eq!(cheap_rest(&server, &token).await.status(), 200);
    }
    assert_eq!(cheap_rest(&server, &other_token).await.status(), 200);
    let day2 = Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap();
    server.clock.set(day2);
    wekeza_store::plans::update(server.database.conn(), &{
        let mut free = wekeza_store::plans::get(server.database.conn(), Plan::Free)
            .await
            .unwrap();
        free.daily_request_limit = Some(2);
        free
    })
    .await
    .unwrap();
    // The quota reads the new terms at its next flush.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cheap_rest(&server, &token).await.status(), 200);
    assert!(cheap_grpc(&server, &token).await.is_ok());
    assert_eq!(cheap_rest(&server, &token).await.status(), 429);
    let conn = server.database.conn().clone();
    let app_for_check = app.clone();
    eventually("the day-2 counts are written", || {
        let conn = conn.clone();
        let app = app_for_check.clone();
        async move {
            counters(&conn, &app)
                .await
                .get(&(CHEAP_RPC.to_owned(), 4))
                .is_some_and(|counts| *counts == (1, 1))
        }
    })
    .await;

    let request = pb::GetUsageRequest {
        app_id: app.to_string(),
        start_time: Some(prost_types::Timestamp {
            seconds: Utc
                .with_ymd_and_hms(2026, 10, 31, 0, 0, 0)
                .unwrap()
                .timestamp(),
            nanos: 0,
        }),
        end_time: None,
    };
    let usage = partner(&server)
        .get_usage(server.request(&token, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(usage.plan_id, "free");
    assert_eq!(usage.daily_request_limit, 2);
    let days: Vec<(i64, i64, i64)> = usage
        .days
        .iter()
        .map(|day| {
            (
                day.request_count,
                day.rejected_request_count,
                day.overage_request_count,
            )
        })
        .collect();
    assert_eq!(days, [(0, 0, 0), (3, 0, 0), (2, 1, 0)]);
    assert_eq!(usage.days[1].start_time.as_ref().unwrap().seconds, {
        let day: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        day.timestamp()
    });
    assert_eq!(usage.total_request_count, 5);
    // GetUsage itself is metered too (the calls above): only the cheap rpc is asserted.
    let cheap = usage
        .operations
        .iter()
        .find(|operation| operation.operation == CHEAP_RPC)
        .unwrap();
    assert_eq!(
        (
            cheap.request_count,
            cheap.success_count,
            cheap.client_error_count,
            cheap.server_error_count,
            cheap.rejected_request_count
        ),
        (5, 5, 0, 0, 1)
    );
    assert_eq!(cheap.latency.len(), 7);
    assert_eq!(
        cheap.latency.iter().map(|b| b.request_count).sum::<i64>(),
        6
    );
    assert_eq!(cheap.latency[0].upper_bound_ms, 5);
    assert_eq!(cheap.latency[6].upper_bound_ms, 0);

    // Over REST, the same answer.
    let rest: Value = server
        .http
        .get(format!(
            "{}/v1/usage?appId={app}&startTime=2026-10-31T00:00:00Z",
            server.base_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["totalRequestCount"], "5", "{rest}");
    assert_eq!(rest["days"][2]["rejectedRequestCount"], "1", "{rest}");
    let rest_cheap = rest["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|operation| operation["operation"] == CHEAP_RPC)
        .unwrap();
    assert_eq!(rest_cheap["requestCount"], "5");

    // Another app's usage: NOT_FOUND, over gRPC and REST.
    let status = partner(&server)
        .get_usage(server.request(
            &token,
            pb::GetUsageRequest {
                app_id: other.to_string(),
                ..request
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&status, Code::NotFound, "NOT_FOUND");
    let foreign = server
        .http
        .get(format!("{}/v1/usage?appId={other}", server.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(foreign, 404, "NOT_FOUND").await;
}

/// The app of the invoice test: created on 20 September 2026 on the free plan, moved to
/// startup on 11 October at 15:00 and back to free on 25 October at 09:00, with overage on two
/// of its startup days.
async fn startup_month(db: &sea_orm::DatabaseConnection) -> AppId {
    let at = |month, day, hour| Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap();
    let app = wekeza_store::apps::create(
        db,
        NewApp {
            name: "Invoiced".into(),
            scopes: [Scope::AccountsRead].into_iter().collect(),
            ..NewApp::default()
        },
        at(9, 20, 10),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap()
    .app;
    wekeza_store::plan_changes::change(db, &app.id, Plan::Startup, at(10, 11, 15))
        .await
        .unwrap()
        .unwrap();
    wekeza_store::plan_changes::change(db, &app.id, Plan::Free, at(10, 25, 9))
        .await
        .unwrap()
        .unwrap();
    let day = |day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
    let counts = |admitted, overage| QuotaCounts { admitted, overage };
    wekeza_store::usage::add_daily(
        db,
        &[
            (&app.id, day(5), counts(1_000, 0)),
            (&app.id, day(12), counts(50_500, 500)),
            (&app.id, day(20), counts(51_700, 1_700)),
        ],
    )
    .await
    .unwrap();
    app.id
}

#[tokio::test]
async fn an_invoice_prorates_plan_changes_bills_overage_and_exports_as_csv_and_json() {
    let server = TestServer::start().await;
    let db = server.database.conn().clone();
    let app = startup_month(&db).await;
    let token = server.token_for(Principal {
        app_id: app.clone(),
        scopes: [Scope::AccountsRead].into_iter().collect(),
        customer_id: None,
        consent: None,
        step_up_at: None,
    });
    // The server's clock is 1 November 2026: October has ended, November runs.
    let listed = partner(&server)
        .list_invoices(server.request(&token, pb::ListInvoicesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let months: Vec<(i64, i32)> = listed
        .invoices
        .iter()
        .map(|invoice| {
            (
                invoice.period_start_time.as_ref().unwrap().seconds,
                invoice.status,
            )
        })
        .collect();
    let start = |month| {
        Utc.with_ymd_and_hms(2026, month, 1, 0, 0, 0)
            .unwrap()
            .timestamp()
    };
    assert_eq!(
        months,
        [
            (start(11), pb::InvoiceStatus::Draft as i32),
            (start(10), pb::InvoiceStatus::Open as i32),
            (start(9), pb::InvoiceStatus::Open as i32),
        ]
    );
    let october_id = listed.invoices[1].invoice_id.clone();
    let october = partner(&server)
        .get_invoice(server.request(
            &token,
            pb::GetInvoiceRequest {
                invoice_id: october_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    assert_eq!(october, listed.invoices[1]);
    // By hand: October has 31 days. Free on the 1st–10th and 26th–31st (16 days, at 0). Startup
    // on the 11th–25th (15 days: the 11th is billed at the priciest plan held that day, and so is
    // the 25th) at ⌊2,500,000 / 31⌋ = 80,645 cents a day = 1,209,675. Overage: 500 + 1,700 =
    // 2,200 requests, 3 started thousands at 5,000 = 15,000. Total 1,224,675 = KES 12,246.75.
    let lines: Vec<(i64, &str, &str)> = october
        .lines
        .iter()
        .map(|line| {
            (
                line.quantity,
                line.unit_price.as_ref().unwrap().amount.as_str(),
                line.amount.as_ref().unwrap().amount.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (16, "0.00", "0.00"),
            (15, "806.45", "12096.75"),
            (3, "50.00", "150.00")
        ]
    );
    assert_eq!(october.total.as_ref().unwrap().amount, "12246.75");
    assert_eq!(october.total.as_ref().unwrap().currency, "KES");
    assert_eq!(
        october.issue_time.as_ref().unwrap().seconds,
        start(11),
        "issued when the month ended"
    );
    // Over REST, the same invoice.
    let rest: Value = server
        .http
        .get(format!("{}/v1/invoices/{october_id}", server.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["total"]["amount"], "12246.75", "{rest}");
    assert_eq!(rest["lines"][1]["quantity"], "15", "{rest}");
    // Another app cannot read it.
    let (_, other_token) = free_app(&server).await;
    let status = partner(&server)
        .get_invoice(server.request(
            &other_token,
            pb::GetInvoiceRequest {
                invoice_id: october_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&status, Code::NotFound, "NOT_FOUND");

    // The binary's exports of October: they parse and agree with each other and GetInvoice.
    let url = server.database.url().to_owned();
    let json = wekeza_succeeds(
        &url,
        &[
            "billing", "export", "--month", "2026-10", "--format", "json",
        ],
    )
    .await;
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let csv = wekeza_succeeds(
        &url,
        &["billing", "export", "--month", "2026-10", "--format", "csv"],
    )
    .await;
    let csv = String::from_utf8(csv.stdout).unwrap();
    let exported = json["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|invoice| invoice["invoiceId"] == october_id.as_str())
        .unwrap();
    assert_eq!(exported["total"], "12246.75");
    assert_eq!(exported["status"], "OPEN");
    assert_eq!(exported["currency"], "KES");
    let json_lines: Vec<(String, i64, String, String)> = exported["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["description"].as_str().unwrap().to_owned(),
                line["quantity"].as_i64().unwrap(),
                line["unitPrice"].as_str().unwrap().to_owned(),
                line["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let wire_lines: Vec<(String, i64, String, String)> = october
        .lines
        .iter()
        .map(|line| {
            (
                line.description.clone(),
                line.quantity,
                line.unit_price.clone().unwrap().amount,
                line.amount.clone().unwrap().amount,
            )
        })
        .collect();
    assert_eq!(json_lines, wire_lines);
    let rows = parse_csv(&csv);
    assert_eq!(
        rows[0],
        [
            "invoice_id",
            "app_id",
            "developer_id",
            "period_start",
            "period_end",
            "status",
            "currency",
            "total",
            "line",
            "description",
            "quantity",
            "unit_price",
            "amount"
        ]
    );
    let csv_lines: Vec<(String, i64, String, String)> = rows[1..]
        .iter()
        .filter(|row| row[0] == october_id)
        .map(|row| {
            assert_eq!(row[1], app.as_str());
            assert_eq!(row[3], "2026-10-01T00:00:00Z");
            assert_eq!(row[4], "2026-11-01T00:00:00Z");
            assert_eq!(
                (row[5].as_str(), row[6].as_str(), row[7].as_str()),
                ("OPEN", "KES", "12246.75")
            );
            (
                row[9].clone(),
                row[10].parse().unwrap(),
                row[11].clone(),
                row[12].clone(),
            )
        })
        .collect();
    assert_eq!(csv_lines, json_lines);
    // Every invoice of the JSON export is in the CSV, line for line.
    let json_rows: usize = json["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|invoice| invoice["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows.len() - 1, json_rows);
}

/// RFC 4180 records of `text` (quoted fields with doubled quotes, CRLF line ends).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}
