//! The redirect flow as a customer's browser lives it: the app pushes its authorization request
//! (PAR), the browser follows the `request_uri` to the authorization endpoint, signs in with
//! username and password, enters the TOTP code, chooses accounts on the consent screen and
//! approves (or denies); the redirect back carries `code`, `state` and `iss`, and the app
//! exchanges the code as usual. The test plays the browser with an HTTP client that keeps the
//! session cookie by hand and never follows redirects.
//!
//! Also what must be refused: authorization requests not pushed, spent or expired
//! `request_uri`s, skipped steps, too many failed attempts (the session ends; the guessing
//! address is slowed, the customer elsewhere is not), and bad pushed requests. Forged forms
//! (CSRF) are among the counted attacks (`attacks.rs`), which play this browser.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use chrono::Duration;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use wekeza_domain::{Clock, Scope};
use wekeza_testkit::TestServer;

use crate::identity_flow::{
    READ_ALL, REDIRECT, TestApp, account_access, account_ids, assert_oauth_error, create_consent,
    exchange, get, payment, pkce, register, send,
};

/// A browser: its own cookie for the authorization pages, the CSRF token of the last form.
pub(crate) struct Browser {
    http: reqwest::Client,
    base_url: String,
    cookie: Option<String>,
    csrf: String,
}

/// What a page answered.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) html: String,
    pub(crate) location: Option<String>,
    pub(crate) retry_after: Option<String>,
}

impl Browser {
    pub(crate) fn new(server: &TestServer) -> Self {
        Self::at(server, Ipv4Addr::LOCALHOST.into())
    }

    /// A browser whose requests come from `source` (any 127.0.0.0/8 address on loopback).
    pub(crate) fn at(server: &TestServer, source: IpAddr) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .local_address(source)
                .build()
                .unwrap(),
            base_url: server.base_url.clone(),
            cookie: None,
            csrf: String::new(),
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let faults = page_header_faults(&headers);
        assert!(faults.is_empty(), "{status}: {faults:?}");
        if let Some(set) = headers.get("set-cookie") {
            let set = set.to_str().unwrap();
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let html = response.text().await.unwrap();
        if let Some(start) = html.find("name=\"csrf\" value=\"") {
            let rest = &html[start + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        if status == 200 {
            assert_eq!(headers["cache-control"], "no-store");
        }
        Page {
            status,
            location: headers
                .get("location")
                .map(|value| value.to_str().unwrap().to_owned()),
            retry_after: headers
                .get("retry-after")
                .map(|value| value.to_str().unwrap().to_owned()),
            headers,
            html,
        }
    }

    /// Follows the app's link to the authorization endpoint.
    pub(crate) async fn open(&mut self, client_id: &str, request_uri: &str) -> Page {
        let response = self
            .http
            .get(format!("{}/oauth2/authorize", self.base_url))
            .query(&[("client_id", client_id), ("request_uri", request_uri)])
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Submits a form of the flow, with the session cookie and the CSRF token.
    pub(crate) async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        self.submit_with_csrf(path, Some(&csrf), fields).await
    }

    /// The CSRF token of the last form.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Forgets the session cookie, as a cross-site request would come without it (`SameSite`).
    pub(crate) fn forget_cookie(&mut self) -> Option<String> {
        self.cookie.take()
    }

    /// Takes `cookie` back as the session's.
    pub(crate) fn restore_cookie(&mut self, cookie: Option<String>) {
        self.cookie = cookie;
    }

    /// Submits a form with the session cookie and `csrf` as its token (`None`: no token).
    pub(crate) async fn submit_with_csrf(
        &mut self,
        path: &str,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Page {
        let mut form: Vec<(&str, &str)> = csrf.map(|csrf| ("csrf", csrf)).into_iter().collect();
        form.extend_from_slice(fields);
        let body = serde_urlencoded_pairs(&form);
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie.clone());
        }
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    pub(crate) async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.submit(
            "/oauth2/authorize/sign-in",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub(crate) async fn second_factor(&mut self, otp: &str) -> Page {
        self.submit("/oauth2/authorize/second-factor", &[("otp", otp)])
            .await
    }
}

/// `application/x-www-form-urlencoded` of `pairs`, repeats kept.
fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// What is wrong with the security headers of a response, if it is an HTML page: each page
/// forbids framing (CSP `frame-ancestors 'none'` and `X-Frame-Options`), sniffing and referrers,
/// and a session cookie is `HttpOnly` and `SameSite=Lax`, scoped to the authorization endpoints.
pub(crate) fn page_header_faults(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let mut faults = Vec::new();
    for set in headers.get_all("set-cookie") {
        let set = set.to_str().unwrap_or_default();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/oauth2/authorize"] {
            if !set.split("; ").any(|part| part == attribute) {
                faults.push(format!("a cookie without {attribute}: {set}"));
            }
        }
    }
    if !header("content-type").starts_with("text/html") {
        return faults;
    }
    let policy = header("content-security-policy");
    if !policy
        .split(';')
        .any(|d| d.trim() == "frame-ancestors 'none'")
    {
        faults.push(format!("CSP without frame-ancestors 'none': {policy:?}"));
    }
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        if header(name) != value {
            faults.push(format!("{name}: {:?}, not {value}", header(name)));
        }
    }
    faults
}

/// Pushes an authorization request for `consent_id` with `extra` parameters (overriding the
/// defaults: S256 PKCE with `challenge`, the app's redirect URI, a state and a nonce).
pub(crate) async fn push(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut params: HashMap<&str, &str> = HashMap::from([
        ("response_type", "code"),
        ("client_id", app.client_id()),
        ("consent_id", consent_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ]);
    for (name, value) in extra {
        if value.is_empty() {
            params.remove(name);
        } else {
            params.insert(name, value);
        }
    }
    send(
        server
            .http
            .post(format!("{}/oauth2/par", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&params),
    )
    .await
}

/// The request_uri of a pushed request that must succeed.
pub(crate) async fn pushed(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    challenge: &str,
) -> String {
    let (status, body) = push(server, app, consent_id, challenge, &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 90);
    let uri = body["request_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri.to_owned()
}

/// A browser that followed a fresh pushed request's link to the sign-in page.
pub(crate) async fn begin(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    challenge: &str,
) -> Browser {
    begin_at(
        server,
        app,
        consent_id,
        challenge,
        Ipv4Addr::LOCALHOST.into(),
    )
    .await
}

/// [`begin`] in a browser at `source`.
pub(crate) async fn begin_at(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    challenge: &str,
    source: IpAddr,
) -> Browser {
    let uri = pushed(server, app, consent_id, challenge).await;
    let mut browser = Browser::at(server, source);
    let page = browser.open(app.client_id(), &uri).await;
    assert_eq!(page.status, 200, "{}", page.html);
    browser
}

/// The test user's TOTP code now, from their stored secret.
pub(crate) async fn otp(server: &TestServer, username: &str) -> String {
    let customer = wekeza_store::customers::find_by_username(server.database.conn(), username)
        .await
        .unwrap()
        .unwrap();
    wekeza_identity::totp::code(&customer.totp_secret, server.clock.now()).unwrap()
}

/// A code that is not the current one (nor one step either side).
fn wrong(code: &str) -> String {
    code.chars()
        .map(|digit| {
            if digit == '9' {
                '0'
            } else {
                char::from(digit as u8 + 1)
            }
        })
        .collect()
}

/// The query parameters of a redirect `location` to the app.
pub(crate) fn callback(location: &str) -> HashMap<String, String> {
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, REDIRECT);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Signs in as `username` through both factors; answers the consent screen.
pub(crate) async fn authenticate(
    server: &TestServer,
    browser: &mut Browser,
    username: &str,
) -> Page {
    let page = browser
        .sign_in(username, &format!("pass_{}", &username[5..]))
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("One-time code"), "{}", page.html);
    let page = browser.second_factor(&otp(server, username).await).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Approve"), "{}", page.html);
    page
}

#[tokio::test]
async fn a_customer_signs_in_with_two_factors_and_approves_on_the_consent_screen() {
    let server = TestServer::start().await;
    let mut app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let customer = server.customer("user_good").await;
    let owned: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let (verifier, challenge) = pkce();
    let request_uri = pushed(&server, &app, &consent_id, &challenge).await;

    let mut browser = Browser::new(&server);
    let page = browser.open(app.client_id(), &request_uri).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("Budgeting"),
        "the app is named: {}",
        page.html
    );
    assert!(
        page.html.contains("<label for=\"password\">"),
        "labelled fields"
    );
    assert!(!browser.csrf.is_empty());

    // A wrong password, then the right one; a wrong code, then the right one.
    let page = browser.sign_in("user_good", "pass_bad").await;
    assert!(
        page.html.contains("Wrong username or password"),
        "{}",
        page.html
    );
    let page = browser.sign_in("user_good", "pass_good").await;
    assert!(page.html.contains("One-time code"), "{}", page.html);
    let code_now = otp(&server, "user_good").await;
    let page = browser.second_factor(&wrong(&code_now)).await;
    assert!(page.html.contains("not right"), "{}", page.html);
    let page = browser.second_factor(&code_now).await;
    assert_eq!(page.status, 200);
    // The consent screen: what is asked, and every account to choose from.
    assert!(page.html.contains("Your balances"), "{}", page.html);
    assert!(page.html.contains("Your transactions"), "{}", page.html);
    for id in &owned {
        assert!(
            page.html.contains(id.as_str()),
            "{id} offered: {}",
            page.html
        );
    }

    // Approve with the first account only.
    let page = browser
        .submit(
            "/oauth2/authorize/decision",
            &[("decision", "approve"), ("account_id", &owned[0])],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let response = callback(page.location.as_deref().unwrap());
    assert_eq!(response["state"], "st-123");
    assert_eq!(response["iss"], server.base_url);
    let code = &response["code"];

    // Deciding again is refused; the request_uri was spent.
    let again = browser
        .submit(
            "/oauth2/authorize/decision",
            &[("decision", "deny"), ("account_id", &owned[0])],
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(again.location.is_none());
    let spent = Browser::new(&server)
        .open(app.client_id(), &request_uri)
        .await;
    assert_eq!(spent.status, 400);
    assert!(spent.html.contains("already used"), "{}", spent.html);

    let (status, tokens) = exchange(&server, &app, code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(id_token.split('.').count(), 3);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        account_ids(&get(&server, access, "/v1/accounts").await.1),
        std::collections::BTreeSet::from([owned[0].clone()])
    );

    // A payment: the consent screen offers the current account in KES; approving binds it.
    // (The next one-time code: each is accepted once.)
    server.clock.advance(Duration::seconds(30));
    app.renew(&server).await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;
    let consent_id = create_consent(&server, &app, &payment("75.00", None)).await;
    let (_, challenge) = pkce();
    let request_uri = pushed(&server, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new(&server);
    browser.open(app.client_id(), &request_uri).await;
    let page = authenticate(&server, &mut browser, "user_good").await;
    assert!(
        page.html.contains("KES 75.00") || page.html.contains("75.00"),
        "{}",
        page.html
    );
    assert!(page.html.contains("Jane Doe"), "{}", page.html);
    assert!(page.html.contains("type=\"radio\""), "{}", page.html);
    assert!(
        !page.html.contains(&owned[1]),
        "savings cannot pay: {}",
        page.html
    );
    let page = browser
        .submit(
            "/oauth2/authorize/decision",
            &[("decision", "approve"), ("account_id", &owned[0])],
        )
        .await;
    assert_eq!(page.status, 303);
    assert!(callback(page.location.as_deref().unwrap()).contains_key("code"));
    let (_, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(consent["status"], "CONSENT_STATUS_AUTHORISED");
    assert_eq!(consent["accountIds"], json!([owned[0]]));
    server.stop().await;
}

#[tokio::test]
async fn the_customer_can_deny_and_the_app_is_told() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (_, challenge) = pkce();
    let request_uri = pushed(&server, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new(&server);
    browser.open(app.client_id(), &request_uri).await;
    authenticate(&server, &mut browser, "user_student").await;
    // Approving without any account is not possible.
    let page = browser
        .submit("/oauth2/authorize/decision", &[("decision", "approve")])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Choose an account"), "{}", page.html);
    let page = browser
        .submit("/oauth2/authorize/decision", &[("decision", "deny")])
        .await;
    assert_eq!(page.status, 303);
    let response = callback(page.location.as_deref().unwrap());
    assert_eq!(response["error"], "access_denied");
    assert_eq!(response["state"], "st-123");
    assert!(!response.contains_key("code"));
    let (_, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(consent["status"], "CONSENT_STATUS_REJECTED");
    server.stop().await;
}

#[tokio::test]
async fn only_pushed_fresh_requests_are_accepted_and_steps_follow_in_order() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let other = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (verifier, challenge) = pkce();

    // Bad pushed requests.
    for (extra, error) in [
        (
            vec![
                ("code_challenge_method", "plain"),
                ("code_challenge", verifier.as_str()),
            ],
            "invalid_request",
        ),
        (vec![("code_challenge", "")], "invalid_request"),
        (
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        (vec![("response_type", "token")], "invalid_request"),
        (vec![("scope", "payments.initiate")], "invalid_scope"),
        (
            vec![("consent_id", "cns_01jz0000000000000000000000")],
            "invalid_request",
        ),
        (vec![("request_uri", "urn:x")], "invalid_request"),
    ] {
        let answer = push(&server, &app, &consent_id, &challenge, &extra).await;
        assert_oauth_error(&answer, 400, error);
    }
    // Another app cannot push a request for this app's consent; nobody unauthenticated can.
    assert_oauth_error(
        &push(&server, &other, &consent_id, &challenge, &[]).await,
        400,
        "invalid_request",
    );
    let (status, _) = send(
        server
            .http
            .post(format!("{}/oauth2/par", server.base_url))
            .form(&[("response_type", "code"), ("client_id", app.client_id())]),
    )
    .await;
    assert_eq!(status, 401);

    // The authorization endpoint takes nothing but a pushed request, from sandbox and
    // production apps alike.
    let production = wekeza_store::apps::create(
        server.database.conn(),
        wekeza_store::apps::NewApp {
            name: "Production budgeting".into(),
            environment: wekeza_store::apps::AppEnvironment::Production,
            redirect_uris: vec![REDIRECT.into()],
            scopes: [Scope::AccountsRead].into(),
            token_endpoint_auth_method: wekeza_store::apps::TokenEndpointAuthMethod::PrivateKeyJwt,
            jwks: Some(wekeza_identity::testing::ClientKey::generate().jwks()),
            ..wekeza_store::apps::NewApp::default()
        },
        server.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap();
    for client_id in [app.client_id(), production.app.client_id.as_str()] {
        let mut browser = Browser::new(&server);
        let response = browser
            .http
            .get(format!("{}/oauth2/authorize", server.base_url))
            .query(&[
                ("client_id", client_id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        let page = browser.read(response).await;
        assert_eq!(page.status, 400, "{client_id}");
        assert!(page.html.contains("PAR"), "{}", page.html);
    }
    // With another client's id, or once expired, the request_uri does not work.
    let request_uri_value = pushed(&server, &app, &consent_id, &challenge).await;
    assert_eq!(
        Browser::new(&server)
            .open(other.client_id(), &request_uri_value)
            .await
            .status,
        400
    );
    server.clock.advance(Duration::seconds(91));
    assert_eq!(
        Browser::new(&server)
            .open(app.client_id(), &request_uri_value)
            .await
            .status,
        400
    );

    let request_uri_value = pushed(&server, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new(&server);
    browser.open(app.client_id(), &request_uri_value).await;
    // Steps cannot be skipped (forged forms: `attacks.rs`): the consent screen's decision before signing in.
    let page = browser
        .submit("/oauth2/authorize/decision", &[("decision", "approve")])
        .await;
    assert_eq!(page.status, 400);
    assert!(
        browser
            .sign_in("user_good", "pass_good")
            .await
            .html
            .contains("One-time code")
    );
    server.stop().await;
}

#[tokio::test]
async fn failed_attempts_end_the_session_and_slow_the_guessing_source_only() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (_, challenge) = pkce();
    let attacker: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();

    // Four wrong passwords in one session: still going.
    let mut first = begin_at(&server, &app, &consent_id, &challenge, attacker).await;
    for _ in 0..4 {
        let page = first.sign_in("user_good", "guess").await;
        assert!(
            page.html.contains("Wrong username or password"),
            "{}",
            page.html
        );
    }
    // The fifth failure (in another session) is past the free ones: from that address the
    // username is refused unchecked for a second, even with the right password.
    let mut second = begin_at(&server, &app, &consent_id, &challenge, attacker).await;
    let page = second.sign_in("user_good", "guess").await;
    assert!(page.html.contains("Wrong username or password"));
    let page = second.sign_in("user_good", "pass_good").await;
    assert_eq!(page.status, 429, "{}", page.html);
    assert_eq!(page.retry_after.as_deref(), Some("1"));
    assert!(page.html.contains("try again in 1 s"), "{}", page.html);
    assert!(!page.html.contains("One-time code"));

    // The customer, from their own address, signs in meanwhile: no lock-out.
    let mut own = begin(&server, &app, &consent_id, &challenge).await;
    authenticate(&server, &mut own, "user_good").await;

    // The delays grow: the next failure from the attacker's address blocks for two seconds.
    server.clock.advance(Duration::seconds(1));
    let page = second.sign_in("user_good", "guess").await;
    assert!(page.html.contains("Wrong username or password"));
    let page = second.sign_in("user_good", "guess").await;
    assert_eq!(page.status, 429, "{}", page.html);
    assert_eq!(page.retry_after.as_deref(), Some("2"));

    // A session ends at its fifth failure (of any username, even unknown ones).
    let mut third = begin(&server, &app, &consent_id, &challenge).await;
    for attempt in 1..=5 {
        let page = third.sign_in(&format!("nobody{attempt}"), "guess").await;
        if attempt < 5 {
            assert!(page.html.contains("Wrong username or password"));
        } else {
            assert_eq!(page.status, 403, "{}", page.html);
            assert!(page.html.contains("Too many attempts"), "{}", page.html);
        }
    }
    assert_eq!(
        third.sign_in("user_student", "pass_student").await.status,
        400
    );

    // Wrong one-time codes count too.
    let mut fourth = begin(&server, &app, &consent_id, &challenge).await;
    fourth.sign_in("user_student", "pass_student").await;
    let code_now = otp(&server, "user_student").await;
    for _ in 0..4 {
        let page = fourth.second_factor(&wrong(&code_now)).await;
        assert!(page.html.contains("not right"), "{}", page.html);
    }
    let page = fourth.second_factor(&wrong(&code_now)).await;
    assert_eq!(page.status, 403);

    // Once the delay is over, the right password from the attacker's address works too (a
    // time step later: the customer's code of this step was used already).
    server.clock.advance(Duration::seconds(30));
    let mut fifth = begin_at(&server, &app, &consent_id, &challenge, attacker).await;
    authenticate(&server, &mut fifth, "user_good").await;
    server.stop().await;
}

#[tokio::test]
async fn no_password_cookie_csrf_token_or_request_uri_reaches_the_logs() {
    let (logs, _guard) = crate::identity::capture_logs();
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (verifier, challenge) = pkce();
    let uri = pushed(&server, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new(&server);
    browser.open(app.client_id(), &uri).await;
    browser.sign_in("user_good", "wrong-password-value").await;
    authenticate(&server, &mut browser, "user_good").await;
    let account = server
        .account_ids(&server.customer("user_good").await)
        .await[0]
        .to_string();
    let page = browser
        .submit(
            "/oauth2/authorize/decision",
            &[("decision", "approve"), ("account_id", &account)],
        )
        .await;
    let code = callback(page.location.as_deref().unwrap())["code"].clone();
    exchange(&server, &app, &code, &verifier, REDIRECT).await;
    server.stop().await;

    let text = logs.text();
    assert!(text.contains("authorization request pushed"), "{text}");
    assert!(text.contains("consent authorised"), "{text}");
    logs.assert_free_of(&[
        uri,
        browser.cookie.clone().unwrap(),
        browser.csrf.clone(),
        "wrong-password-value".to_owned(),
        "pass_good".to_owned(),
        code,
        verifier,
    ]);
}
