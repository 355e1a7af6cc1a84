//! The platform as an operator and grpcurl see it: health, reflection, admin endpoints.

use std::process::Command;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wekeza_testkit::TestServer;

use crate::support::tool;

#[tokio::test]
async fn health_reports_serving() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel());
    for service in [
        "",
        "wekeza.openbanking.v1.AccountInformationService",
        "wekeza.openbanking.v1.CustomerService",
        "wekeza.openbanking.v1.ConsentService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
    let live = server
        .http
        .get(format!("{}/healthz", server.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = server
        .http
        .get(format!("{}/readyz", server.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn grpcurl_lists_describes_and_calls() {
    let server = TestServer::start().await;
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let run = |args: &[&str]| {
        let output = Command::new(tool("WEKEZA_GRPCURL", "grpcurl"))
            .arg("-plaintext")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let address_for = address.clone();
    let (ok, listed, err) = tokio::task::spawn_blocking(move || run(&[&address_for, "list"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    for service in [
        "wekeza.openbanking.v1.AccountInformationService",
        "wekeza.openbanking.v1.CustomerService",
        "wekeza.openbanking.v1.ConsentService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            listed.lines().any(|line| line == service),
            "{service} missing from:\n{listed}"
        );
    }
    assert!(
        !listed.contains("wekeza.fraud.v1"),
        "the fraud contract is one we call, not one we serve:\n{listed}"
    );
    let address_for = address.clone();
    let (ok, described, err) = tokio::task::spawn_blocking(move || {
        run(&[
            &address_for,
            "describe",
            "wekeza.openbanking.v1.AccountInformationService.ListTransactions",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(described.contains("ListTransactionsRequest"), "{described}");

    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        run(&[
            &address,
            "wekeza.openbanking.v1.AccountInformationService/ListAccounts",
        ])
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(err.contains("Unauthenticated"), "anonymous AIS call: {err}");
    assert!(
        err.contains("\"UNAUTHENTICATED\"") && !err.contains("not recognized"),
        "grpcurl decodes the ErrorInfo reason through reflection: {err}"
    );
    server.stop().await;
}
