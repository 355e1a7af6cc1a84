//! Federated sign-in against a second Wekeza as the upstream OpenID provider: the downstream
//! server (configured with `[oidc_upstream]`) sends the customer's browser to the upstream,
//! where they sign in with password and one-time code on *its* pages (a sign-in alone: no
//! consent there); the upstream redirects back with a code, which the downstream redeems as a
//! relying party (`openidconnect`: discovery, PAR, PKCE, ID token and nonce validation), then
//! the downstream's own consent screen follows and the app gets its tokens as usual.
//!
//! The two servers listen on the same host, so the test's browser keeps a cookie per origin
//! (scheme, host and port), as a browser does for two sites.

use std::collections::{BTreeSet, HashMap};

use reqwest::redirect::Policy;
use serde_json::Value;
use wekeza_domain::{Clock, Scope};
use wekeza_store::apps::{self, CreatedApp, NewApp};
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::identity_browser::{callback, pushed};
use crate::identity_flow::{
    READ_ALL, REDIRECT, account_access, create_consent, exchange, get, pkce, register, send,
};

/// Path of the downstream's callback from the upstream.
const CALLBACK: &str = "/oauth2/authorize/upstream-callback";

/// A browser across sites: one cookie per origin, redirects followed by hand.
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    csrf: String,
}

/// What a page answered.
struct Page {
    status: u16,
    html: String,
    location: Option<String>,
}

/// `scheme://host:port` of `url`.
fn origin(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed.origin().ascii_serialization()
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    async fn read(&mut self, url: &str, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(set) = headers.get("set-cookie") {
            let set = set.to_str().unwrap();
            self.cookies
                .insert(origin(url), set.split(';').next().unwrap().to_owned());
        }
        let html = response.text().await.unwrap();
        if let Some(start) = html.find("name=\"csrf\" value=\"") {
            let rest = &html[start + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Page {
            status,
            html,
            location: headers
                .get("location")
                .map(|value| value.to_str().unwrap().to_owned()),
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let mut request = self.http.get(url);
        if let Some(cookie) = self.cookies.get(&origin(url)) {
            request = request.header("cookie", cookie.clone());
        }
        let response = request.send().await.unwrap();
        self.read(url, response).await
    }

    async fn submit(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &self.csrf);
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish());
        if let Some(cookie) = self.cookies.get(&origin(url)) {
            request = request.header("cookie", cookie.clone());
        }
        let response = request.send().await.unwrap();
        self.read(url, response).await
    }
}

/// The two servers: the upstream provider, and the downstream that federates to it.
struct Federation {
    upstream: TestServer,
    downstream: TestServer,
    /// The downstream's client at the upstream.
    client: CreatedApp,
}

/// Starts the upstream, registers the downstream as its client (secret, `openid`, redirect to
/// the downstream's callback), and starts the downstream configured with it; `extra` adds to
/// the downstream's `[oidc_upstream]`.
async fn federation(extra: &str) -> Federation {
    let upstream = TestServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let downstream_url = format!("http://{}", listener.local_addr().unwrap());
    let client = apps::create(
        upstream.database.conn(),
        NewApp {
            name: "Wekeza downstream".into(),
            redirect_uris: vec![format!("{downstream_url}{CALLBACK}")],
            scopes: BTreeSet::from([Scope::OpenId]),
            ..NewApp::default()
        },
        upstream.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap();
    let overrides = format!(
        "[oidc_upstream]\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n{extra}",
        upstream.base_url, client.app.client_id, client.client_secret
    );
    let downstream =
        TestServer::start_listening(TestDatabase::new().await, &overrides, listener).await;
    assert_eq!(downstream.base_url, downstream_url);
    Federation {
        upstream,
        downstream,
        client,
    }
}

/// The test user's current one-time code, by the upstream's clock.
async fn upstream_otp(upstream: &TestServer, username: &str) -> String {
    let customer = wekeza_store::customers::find_by_username(upstream.database.conn(), username)
        .await
        .unwrap()
        .unwrap();
    wekeza_identity::totp::code(&customer.totp_secret, upstream.clock.now()).unwrap()
}

/// Opens the downstream's authorization link and signs in at the upstream as `user_good`;
/// answers the upstream's redirect back to the downstream.
async fn sign_in_upstream(
    federation: &Federation,
    browser: &mut Browser,
    client_id: &str,
    request_uri: &str,
) -> String {
    let downstream = &federation.downstream;
    let upstream = &federation.upstream;
    let mut link =
        reqwest::Url::parse(&format!("{}/oauth2/authorize", downstream.base_url)).unwrap();
    link.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    // The downstream pushes its own request upstream and sends the browser there.
    let page = browser.get(link.as_str()).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let to_upstream = page.location.unwrap();
    assert!(
        to_upstream.starts_with(&format!("{}/oauth2/authorize?", upstream.base_url)),
        "{to_upstream}"
    );
    assert!(
        to_upstream.contains("request_uri="),
        "pushed: {to_upstream}"
    );
    assert!(
        !to_upstream.contains("code_challenge"),
        "nothing but the request_uri travels: {to_upstream}"
    );
    let page = browser.get(&to_upstream).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Wekeza downstream"), "{}", page.html);
    let page = browser
        .submit(
            &format!("{}/oauth2/authorize/sign-in", upstream.base_url),
            &[("username", "user_good"), ("password", "pass_good")],
        )
        .await;
    assert!(page.html.contains("One-time code"), "{}", page.html);
    let otp = upstream_otp(upstream, "user_good").await;
    let page = browser
        .submit(
            &format!("{}/oauth2/authorize/second-factor", upstream.base_url),
            &[("otp", &otp)],
        )
        .await;
    // A sign-in alone: no consent screen upstream, straight back with a code.
    assert_eq!(page.status, 303, "{}", page.html);
    let back = page.location.unwrap();
    assert!(
        back.starts_with(&format!("{}{CALLBACK}?", downstream.base_url)),
        "{back}"
    );
    back
}

#[tokio::test]
async fn a_customer_signs_in_at_the_upstream_and_approves_on_our_consent_screen() {
    let (logs, _guard) = crate::identity::capture_logs();
    let federation = federation("").await;
    let downstream = &federation.downstream;

    let mut app = register(downstream, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(downstream, &app, &account_access(&READ_ALL)).await;
    let (verifier, challenge) = pkce();
    let request_uri = pushed(downstream, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new();
    let back = sign_in_upstream(&federation, &mut browser, app.client_id(), &request_uri).await;

    // A forged state is refused and changes nothing.
    let (base, query) = back.split_once('?').unwrap();
    let forged: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .map(|(name, value)| {
            if name == "state" {
                (name, format!("{value}x"))
            } else {
                (name, value)
            }
        })
        .collect();
    let mut forged_url = reqwest::Url::parse(base).unwrap();
    forged_url.query_pairs_mut().extend_pairs(&forged);
    let page = browser.get(forged_url.as_str()).await;
    assert_eq!(page.status, 400, "{}", page.html);
    // Another browser (no session cookie) bringing the real answer gets nowhere either.
    let page = Browser::new().get(&back).await;
    assert_eq!(page.status, 400, "{}", page.html);

    // The real answer signs the customer in: our consent screen, with their accounts.
    let page = browser.get(&back).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Approve"), "{}", page.html);
    let customer = downstream.customer("user_good").await;
    let owned: Vec<String> = downstream
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(page.html.contains(&owned[0]), "{}", page.html);
    // The upstream's answer is single use.
    let again = Browser::new().get(&back).await;
    assert_eq!(again.status, 400);

    let page = browser
        .submit(
            &format!("{}/oauth2/authorize/decision", downstream.base_url),
            &[("decision", "approve"), ("account_id", &owned[0])],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let response = callback(page.location.as_deref().unwrap());
    assert_eq!(response["iss"], downstream.base_url);
    let (status, tokens) = exchange(downstream, &app, &response["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(id_token).unwrap();
    assert_eq!(claims["sub"], customer.id.to_string());
    app.token = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, accounts) = get(downstream, &app.token, "/v1/accounts").await;
    assert_eq!(status, 200, "{accounts}");
    let listed: Vec<&str> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["accountId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![owned[0].as_str()]);

    let text = logs.text();
    assert!(text.contains("customer signed in"), "{text}");
    logs.assert_free_of(&[
        federation.client.client_secret.clone(),
        response["code"].clone(),
        app.token.clone(),
        id_token.to_owned(),
    ]);
}

#[tokio::test]
async fn an_upstream_identity_without_a_customer_here_is_refused() {
    // The upstream's `sub` is a customer id; compared with usernames it matches no one.
    let federation = federation("customer_field = \"username\"\n").await;
    let downstream = &federation.downstream;
    let app = register(downstream, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(downstream, &app, &account_access(&READ_ALL)).await;
    let (_, challenge) = pkce();
    let request_uri = pushed(downstream, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new();
    let back = sign_in_upstream(&federation, &mut browser, app.client_id(), &request_uri).await;
    let page = browser.get(&back).await;
    assert_eq!(page.status, 403, "{}", page.html);
    assert!(page.html.contains("No matching customer"), "{}", page.html);
    // The session is over: the same answer again finds nothing to continue.
    let page = browser.get(&back).await;
    assert_eq!(page.status, 400, "{}", page.html);
}

#[tokio::test]
async fn a_sign_in_alone_grants_openid_only() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let (verifier, challenge) = pkce();
    let push = |scope: &'static str| {
        let mut params = vec![
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if !scope.is_empty() {
            params.push(("scope", scope));
        }
        server
            .http
            .post(format!("{}/oauth2/par", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&params)
    };
    // Data needs a consent.
    let (status, body) = send(push("openid accounts.read")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    // openid alone (the default without a consent) is a sign-in: both factors, no consent
    // screen, a code whose tokens say who the customer is and open no data.
    let (status, body) = send(push("")).await;
    assert_eq!(status, 201, "{body}");
    let mut browser = crate::identity_browser::Browser::new(&server);
    let page = browser
        .open(app.client_id(), body["request_uri"].as_str().unwrap())
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    browser.sign_in("user_good", "pass_good").await;
    let otp = crate::identity_browser::otp(&server, "user_good").await;
    let page = browser.second_factor(&otp).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let response = callback(page.location.as_deref().unwrap());
    let (status, tokens) = exchange(&server, &app, &response["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens.get("consent_id").is_none(), "{tokens}");
    let customer = server.customer("user_good").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(id_token).unwrap();
    assert_eq!(claims["sub"], customer.id.to_string());
    assert!(claims.get("consent_id").is_none(), "{claims}");
    let token = tokens["access_token"].as_str().unwrap();
    let (status, userinfo) = get(&server, token, "/oauth2/userinfo").await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(userinfo["sub"], customer.id.to_string());
    assert!(
        userinfo.get("email").is_none(),
        "no profile without a consent: {userinfo}"
    );
    let (status, accounts) = get(&server, token, "/v1/accounts").await;
    assert_eq!(status, 403, "{accounts}");
    // The code is single use.
    let (status, again) = exchange(&server, &app, &response["code"], &verifier, REDIRECT).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
