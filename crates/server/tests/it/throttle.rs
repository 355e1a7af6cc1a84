//! Client authentication is throttled by source address and by client id at that source, at
//! every endpoint that authenticates clients (token, PAR, CIBA, introspection, revocation): past
//! the free failures the guessing address is refused unchecked with 429, `Retry-After` and
//! `invalid_client`, for delays that double — while the app itself, from another address, is
//! served as usual. Sources are varied on loopback (127.0.0.2, 127.0.0.3, …) by binding the
//! client's local address.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Duration;
use reqwest::RequestBuilder;
use wekeza_domain::Clock;
use wekeza_identity::ASSERTION_TYPE;
use wekeza_identity::testing::ClientKey;
use wekeza_testkit::TestServer;

use crate::identity::{assert_oauth_error, sandbox_app, send, url};

/// An HTTP client whose requests come from 127.0.0.`last`.
pub(crate) fn client_at(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

fn client_credentials(request: RequestBuilder) -> RequestBuilder {
    request.form(&[("grant_type", "client_credentials")])
}

fn assert_throttled(answer: &(u16, serde_json::Value, reqwest::header::HeaderMap), seconds: &str) {
    assert_oauth_error(answer, 429, "invalid_client");
    assert_eq!(answer.2["retry-after"], seconds, "{:?}", answer.1);
}

#[tokio::test]
async fn guessing_a_client_secret_is_slowed_at_the_guessing_address_only() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let client_id = app.app.client_id.clone();
    let secret = app.client_secret.clone();
    let token = url(&server, "/oauth2/token");
    let attacker = client_at(2);
    let from_attacker = |secret: &str| {
        client_credentials(attacker.post(&token).basic_auth(&client_id, Some(secret)))
    };

    // Five wrong secrets are answered (and checked); the fifth is past the four free ones.
    for _ in 0..5 {
        assert_oauth_error(&send(from_attacker("guess")).await, 401, "invalid_client");
    }
    // From that address the client is now refused unchecked, even with the right secret…
    assert_throttled(&send(from_attacker(&secret)).await, "1");
    // …or a private_key_jwt naming it, at every endpoint that authenticates clients.
    let assertion = ClientKey::generate().assertion(&client_id, &token, server.clock.now());
    assert_throttled(
        &send(attacker.post(&token).form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ]))
        .await,
        "1",
    );
    for path in [
        "/oauth2/par",
        "/oauth2/bc-authorize",
        "/oauth2/introspect",
        "/oauth2/revoke",
    ] {
        let answer = send(
            attacker
                .post(url(&server, path))
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", "x"), ("response_type", "code")]),
        )
        .await;
        assert_throttled(&answer, "1");
    }

    // The app, from its own addresses, is served meanwhile.
    for own in [client_at(1), client_at(3)] {
        let answer = send(client_credentials(
            own.post(&token).basic_auth(&client_id, Some(&secret)),
        ))
        .await;
        assert_eq!(answer.0, 200, "{:?}", answer.1);
    }

    // The delays grow: after a second, one more wrong guess blocks for two.
    server.clock.advance(Duration::seconds(1));
    assert_oauth_error(&send(from_attacker("guess")).await, 401, "invalid_client");
    assert_throttled(&send(from_attacker("guess")).await, "2");

    // Once the delay is over, the right secret from that address is accepted again.
    server.clock.advance(Duration::seconds(2));
    let answer = send(from_attacker(&secret)).await;
    assert_eq!(answer.0, 200, "{:?}", answer.1);
    server.stop().await;
}

#[tokio::test]
async fn an_address_guessing_many_clients_is_slowed() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let token = url(&server, "/oauth2/token");
    let attacker = client_at(2);

    // Twenty-one unknown clients, each tried once: the source's twenty free failures and one.
    for n in 0..21 {
        let answer = send(attacker.post(&token).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", format!("app_guess{n}").as_str()),
            ("client_secret", "guess"),
        ]))
        .await;
        assert_oauth_error(&answer, 401, "invalid_client");
    }
    // Any client from that address is refused now; from elsewhere, served.
    let right = |client: &reqwest::Client| {
        client_credentials(
            client
                .post(&token)
                .basic_auth(&app.app.client_id, Some(&app.client_secret)),
        )
    };
    assert_throttled(&send(right(&attacker)).await, "1");
    let answer = send(right(&client_at(1))).await;
    assert_eq!(answer.0, 200, "{:?}", answer.1);
    server.stop().await;
}
