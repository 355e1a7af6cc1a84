//! The customer's side of the authorization-code flow, in the browser: the authorization
//! endpoint (`GET /oauth2/authorize`, which accepts only a `request_uri` from PAR), sign-in
//! with username and password (argon2 hashes in `customers`), the second factor (TOTP,
//! RFC 6238), and the consent screen whose Approve or Deny ends in the redirect back to the app
//! with `code` (or `error=access_denied`), `state` and `iss` (RFC 9207).
//!
//! A browser session is bound to one pushed request: the `request_uri` is spent by the first
//! browser that brings it, which gets an HttpOnly, SameSite=Strict session cookie (only its
//! hash is stored) and a CSRF token that every form must post back; each step moves the
//! session on only from the stage it expects, so a step cannot be skipped or replayed.
//!
//! With an upstream OpenID provider configured ([`crate::federation`]), the authorization
//! endpoint sends the browser there instead of showing the sign-in form, and the provider's
//! answer at the callback signs the customer in (both factors are the provider's); the consent
//! screen follows as usual. A request without a consent (a sign-in alone, `openid`) skips the
//! consent screen: passing both factors issues its code; so does a step-up (`acr_values`, an
//! authorised payment consent), once the customer who authorised the consent is the one who
//! signed in again.
//!
//! Brute force: a session ends after [`SESSION_ATTEMPTS`] failed passwords or one-time codes,
//! and a username is locked for [`LOCK_FOR`] after [`LOCK_LIMIT`] failures within
//! [`LOCK_WINDOW`] — whether or not it exists, and whichever sessions they came from. An unknown
//! username costs the same password hashing as a known one.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;
use wekeza_domain::{
    AccountId, Consent, ConsentId, ConsentStatus, ConsentTerms, CustomerId, Scope,
};
use wekeza_ledger::{Account, AccountQuery, AccountStatus, AccountSubtype, CoreBanking};
use wekeza_store::apps::{self, App};
use wekeza_store::identity::authorization_requests::{
    self, AuthorizationRequest as Stored, SignInStage,
};
use wekeza_store::identity::sign_in_failures;
use wekeza_store::secret::{self, PasswordStrength};
use wekeza_store::{consents, customers};

use crate::authorization::AuthorizationRequest;
use crate::federation::CustomerField;
use crate::issuer::{
    AUTHORIZATION_PATH, DECISION_PATH, SECOND_FACTOR_PATH, SIGN_IN_PATH, UPSTREAM_CALLBACK_PATH,
};
use crate::pages::{self, ConsentScreen};
use crate::{Error, Identity, par, totp};

/// How long a browser session lasts once it started.
pub const SESSION_TTL: Duration = Duration::minutes(10);
/// Failed passwords and one-time codes after which a session ends.
pub const SESSION_ATTEMPTS: i32 = 5;
/// The window in which a username's failures add up.
pub const LOCK_WINDOW: Duration = Duration::minutes(15);
/// Failures within [`LOCK_WINDOW`] that lock a username.
pub const LOCK_LIMIT: i32 = 5;
/// How long a locked username stays locked.
pub const LOCK_FOR: Duration = Duration::minutes(15);
/// The session cookie.
const COOKIE: &str = "wekeza_authz";
/// Bytes of randomness in the session cookie and the CSRF token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The routes' state: the authorization server and the bank's accounts (for the consent
/// screen).
#[derive(Debug, Clone)]
struct Web {
    identity: Identity,
    core: Arc<dyn CoreBanking>,
}

/// The customer's routes.
pub(crate) fn router(identity: Identity, core: Arc<dyn CoreBanking>) -> Router {
    Router::new()
        .route(AUTHORIZATION_PATH, get(authorize))
        .route(SIGN_IN_PATH, post(sign_in))
        .route(SECOND_FACTOR_PATH, post(second_factor))
        .route(DECISION_PATH, post(decision))
        .route(UPSTREAM_CALLBACK_PATH, get(upstream_callback))
        .with_state(Web { identity, core })
}

/// An HTML page that no cache keeps and no frame shows.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, pages::error(title, message))
}

fn link_expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Link expired",
        "This sign-in link is invalid, has expired or was already used. Return to the app and \
         start again.",
    )
}

fn session_over() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Session ended",
        "This sign-in session has ended or this step was already done. Return to the app and \
         start again.",
    )
}

/// Internal failures are logged once and shown as a bare error page.
fn respond(result: Result<Response, Error>) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => {
            error.log_if_internal();
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The bank could not complete this step. Return to the app and try again.",
            )
        }
    }
}

/// The fields of a posted HTML form, repeats kept (checkboxes).
struct HtmlForm(Vec<(String, String)>);

impl HtmlForm {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The session cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .find_map(|pair| {
            pair.strip_prefix(COOKIE)
                .and_then(|rest| rest.strip_prefix('='))
        })
}

/// The hash every unknown username's password is checked against, so that it costs what a
/// known one does.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        secret::hash_password(
            "decoy password",
            PasswordStrength::Sandbox,
            &mut secret::os_rng(),
        )
        .unwrap_or_default()
    })
}

/// A session found by its cookie, with its CSRF token checked.
struct Session {
    row: Stored,
    hash: String,
    csrf: String,
    app: App,
}

async fn authorize(State(web): State<Web>, RawQuery(query): RawQuery) -> Response {
    respond(web.start(query.as_deref().unwrap_or_default()).await)
}

async fn sign_in(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    respond(web.sign_in(&headers, &HtmlForm::parse(&body)).await)
}

async fn second_factor(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    respond(web.second_factor(&headers, &HtmlForm::parse(&body)).await)
}

async fn decision(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    respond(web.decide(&headers, &HtmlForm::parse(&body)).await)
}

async fn upstream_callback(
    State(web): State<Web>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        web.upstream_callback(&headers, query.as_deref().unwrap_or_default())
            .await,
    )
}

impl Web {
    fn db(&self) -> &wekeza_store::DatabaseConnection {
        &self.identity.inner.db
    }

    /// `GET /oauth2/authorize?client_id=…&request_uri=…`: spends the pushed request, starts the
    /// session, shows the sign-in form.
    async fn start(&self, query: &str) -> Result<Response, Error> {
        let now = self.identity.now();
        let mut request_uri = None;
        let mut client_id = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "request_uri" => request_uri = Some(value.into_owned()),
                "client_id" => client_id = Some(value.into_owned()),
                _ => {}
            }
        }
        let Some(request_uri) = request_uri else {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Request not accepted",
                "The app must push its authorization request first (PAR) and send you here \
                 with the request_uri it got. Return to the app and try again.",
            ));
        };
        let uri_hash = par::request_uri_hash(&request_uri);
        let Some(row) = authorization_requests::find(self.db(), &uri_hash).await? else {
            return Ok(link_expired());
        };
        if client_id.as_deref() != Some(row.client_id.as_str()) {
            return Ok(link_expired());
        }
        let cookie = secret::random_token(TOKEN_BYTES, &mut secret::os_rng());
        let csrf = secret::random_token(TOKEN_BYTES, &mut secret::os_rng());
        let upstream = self.identity.inner.upstream.as_ref();
        let first_stage = if upstream.is_some() {
            SignInStage::Upstream
        } else {
            SignInStage::Password
        };
        let started = authorization_requests::start_session(
            self.db(),
            &uri_hash,
            &secret::sha256_hex(&cookie),
            &secret::sha256_hex(&csrf),
            now + SESSION_TTL,
            first_stage,
            now,
        )
        .await?;
        if !started {
            return Ok(link_expired());
        }
        let Some(app) = apps::find_by_client_id(self.db(), &row.client_id).await? else {
            return Ok(link_expired());
        };
        let mut response = match upstream {
            None => html(StatusCode::OK, pages::sign_in(&app.name, &csrf, "", None)),
            Some(upstream) => match upstream.begin(&cookie).await {
                Ok(location) => see_other(&location),
                Err(error) => {
                    tracing::warn!(%error, "federated sign-in could not start");
                    return Ok(upstream_unavailable());
                }
            },
        };
        // Lax, not Strict: the upstream provider's redirect back is a cross-site top-level
        // GET, which must carry the cookie; every POST still needs the session's CSRF token.
        let secure = if self.identity.issuer().as_str().starts_with("https:") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{COOKIE}={cookie}; Path={AUTHORIZATION_PATH}; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            SESSION_TTL.num_seconds()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        Ok(response)
    }

    /// `GET /oauth2/authorize/upstream-callback?code=…&state=…&iss=…`: the upstream provider's
    /// answer. Signs the customer it names in, or ends the session.
    async fn upstream_callback(&self, headers: &HeaderMap, query: &str) -> Result<Response, Error> {
        let now = self.identity.now();
        let Some(upstream) = self.identity.inner.upstream.as_ref() else {
            return Ok(session_over());
        };
        let Some((cookie, hash, row)) = self.session_row(headers).await? else {
            return Ok(session_over());
        };
        if !at_stage(&row, SignInStage::Upstream, now) {
            return Ok(session_over());
        }
        let Some(app) = apps::find_by_client_id(self.db(), &row.client_id).await? else {
            return Ok(session_over());
        };
        let answer: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let param = |name: &str| {
            answer
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let state = param("state").unwrap_or_default();
        if !upstream.owns_state(cookie, state) {
            return Ok(session_over());
        }
        // From here on the session moves on or ends, whatever happens.
        let next = stage_after_sign_in(&row);
        if let Some(error) = param("error") {
            tracing::info!(client_id = %app.client_id, upstream_error = error, "upstream sign-in not completed");
            if !self.end_upstream_session(&hash).await? {
                return Ok(session_over());
            }
            return Ok(self.redirect(&row, "error", "access_denied"));
        }
        let identity = match upstream
            .finish(
                cookie,
                param("code").unwrap_or_default(),
                state,
                param("iss"),
                now,
            )
            .await
        {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(client_id = %app.client_id, %error, "federated sign-in refused");
                self.end_upstream_session(&hash).await?;
                return Ok(upstream_unavailable());
            }
        };
        let customer = match identity.field {
            CustomerField::Id => match identity.value.parse::<CustomerId>() {
                Ok(id) => customers::find(self.db(), &id).await?,
                Err(_) => None,
            },
            CustomerField::Username => {
                customers::find_by_username(self.db(), &identity.value).await?
            }
        };
        let Some(customer) = customer else {
            tracing::warn!(client_id = %app.client_id, "federated sign-in names no customer of the bank");
            self.end_upstream_session(&hash).await?;
            return Ok(error_page(
                StatusCode::FORBIDDEN,
                "No matching customer",
                "You signed in, but the bank has no customer profile for this sign-in. Contact \
                 the bank.",
            ));
        };
        let moved = authorization_requests::advance(
            self.db(),
            &hash,
            SignInStage::Upstream,
            next,
            Some(&customer.id),
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        let mut row = row;
        row.customer_id = Some(customer.id.clone());
        // The consent screen's forms need a CSRF token the browser can echo: a fresh one.
        let csrf = secret::random_token(TOKEN_BYTES, &mut secret::os_rng());
        authorization_requests::set_csrf(self.db(), &hash, &secret::sha256_hex(&csrf)).await?;
        let session = Session {
            row,
            hash,
            csrf,
            app,
        };
        self.signed_in(&session, now).await
    }

    /// Ends the federated session `hash` still waiting for the upstream; `false` if it was not.
    async fn end_upstream_session(&self, hash: &str) -> Result<bool, Error> {
        Ok(authorization_requests::advance(
            self.db(),
            hash,
            SignInStage::Upstream,
            SignInStage::Done,
            None,
        )
        .await?)
    }

    /// The customer of `session` passed both factors (the session already moved on from
    /// them): the consent screen, or for a sign-in alone its code.
    async fn signed_in(&self, session: &Session, now: DateTime<Utc>) -> Result<Response, Error> {
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let request = request_of(&session.row)?;
        let issued = match stage_after_sign_in(&session.row) {
            SignInStage::Consent => return self.consent_screen(session, None, now).await,
            _ if request.acr.is_some() => {
                let authorised = self
                    .session_consent(session, ConsentStatus::Authorised, now)
                    .await?;
                let Some(consent) = authorised else {
                    return Ok(no_longer_pending());
                };
                if consent.customer_id.as_ref() != Some(&customer) {
                    tracing::warn!(client_id = %session.app.client_id, "step-up signed in by another customer");
                    return Ok(error_page(
                        StatusCode::FORBIDDEN,
                        "Another customer",
                        "This confirmation is for the customer who approved the payment. Return \
                         to the app.",
                    ));
                }
                self.identity
                    .issue_step_up_code(&session.app, &consent, &request, now)
                    .await?
            }
            _ => {
                self.identity
                    .issue_sign_in_code(&session.app, &customer, &request, now)
                    .await?
            }
        };
        Ok(self.redirect(&session.row, "code", &issued.code))
    }

    /// The session of a posted form: by its cookie, unexpired, its CSRF token matching, at
    /// `stage`. `Err(page)` to answer otherwise.
    async fn session(
        &self,
        headers: &HeaderMap,
        form: &HtmlForm,
        stage: SignInStage,
        now: DateTime<Utc>,
    ) -> Result<Result<Session, Response>, Error> {
        let Some((_, hash, row)) = self.session_row(headers).await? else {
            return Ok(Err(session_over()));
        };
        let csrf = form.get("csrf");
        let csrf_matches = row.csrf_hash.as_deref().is_some_and(|expected| {
            bool::from(
                secret::sha256_hex(csrf)
                    .as_bytes()
                    .ct_eq(expected.as_bytes()),
            )
        });
        if !csrf_matches {
            return Ok(Err(error_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent by this sign-in session. Return to the app and start \
                 again.",
            )));
        }
        if !at_stage(&row, stage, now) {
            return Ok(Err(session_over()));
        }
        let Some(app) = apps::find_by_client_id(self.db(), &row.client_id).await? else {
            return Ok(Err(session_over()));
        };
        Ok(Ok(Session {
            row,
            hash,
            csrf: csrf.to_owned(),
            app,
        }))
    }

    /// The session the request's cookie names: the cookie, its hash and the session's row.
    async fn session_row<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<(&'h str, String, Stored)>, Error> {
        let Some(cookie) = session_cookie(headers) else {
            return Ok(None);
        };
        let hash = secret::sha256_hex(cookie);
        let row = authorization_requests::find_by_session(self.db(), &hash).await?;
        Ok(row.map(|row| (cookie, hash, row)))
    }

    /// A wrong password or one-time code: counted for the session and the username; the
    /// session ends at [`SESSION_ATTEMPTS`].
    async fn failed(
        &self,
        session: &Session,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<bool, Response>, Error> {
        authorization_requests::record_failure(self.db(), &session.hash).await?;
        let locked =
            sign_in_failures::record(self.db(), username, now, LOCK_WINDOW, LOCK_LIMIT, LOCK_FOR)
                .await?;
        if session.row.failed_attempts.saturating_add(1) >= SESSION_ATTEMPTS {
            if let Some(stage) = session.row.stage {
                let _ = authorization_requests::advance(
                    self.db(),
                    &session.hash,
                    stage,
                    SignInStage::Done,
                    None,
                )
                .await?;
            }
            tracing::warn!(client_id = %session.app.client_id, "sign-in ended after too many failed attempts");
            return Ok(Err(error_page(
                StatusCode::FORBIDDEN,
                "Too many attempts",
                "Too many failed attempts. Return to the app and start again.",
            )));
        }
        Ok(Ok(locked))
    }

    /// `POST /oauth2/authorize/sign-in`: username and password.
    async fn sign_in(&self, headers: &HeaderMap, form: &HtmlForm) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, form, SignInStage::Password, now)
            .await?
        {
            Ok(session) => session,
            Err(page) => return Ok(page),
        };
        let username = form.get("username").trim();
        let retry = |message: &str| {
            html(
                StatusCode::OK,
                pages::sign_in(&session.app.name, &session.csrf, username, Some(message)),
            )
        };
        if sign_in_failures::locked_until(self.db(), username, now)
            .await?
            .is_some()
        {
            return Ok(retry(LOCKED));
        }
        let customer = customers::find_by_username(self.db(), username).await?;
        let hash = customer
            .as_ref()
            .map_or_else(|| decoy_hash().to_owned(), |row| row.password_hash.clone());
        let password = form.get("password").to_owned();
        let matches =
            tokio::task::spawn_blocking(move || secret::verify_password(&hash, &password))
                .await
                .unwrap_or(false);
        let Some(customer) = customer.filter(|_| matches) else {
            return Ok(match self.failed(&session, username, now).await? {
                Ok(true) => retry(LOCKED),
                Ok(false) => retry("Wrong username or password."),
                Err(page) => page,
            });
        };
        sign_in_failures::clear(self.db(), username).await?;
        let moved = authorization_requests::advance(
            self.db(),
            &session.hash,
            SignInStage::Password,
            SignInStage::SecondFactor,
            Some(&customer.id),
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        Ok(html(
            StatusCode::OK,
            pages::second_factor(&session.csrf, None),
        ))
    }

    /// `POST /oauth2/authorize/second-factor`: the one-time code.
    async fn second_factor(&self, headers: &HeaderMap, form: &HtmlForm) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, form, SignInStage::SecondFactor, now)
            .await?
        {
            Ok(session) => session,
            Err(page) => return Ok(page),
        };
        let customer = match session.row.customer_id.as_deref() {
            Some(id) => customers::find(self.db(), &parse_customer(id)?).await?,
            None => None,
        };
        let Some(customer) = customer else {
            return Ok(session_over());
        };
        let retry = |message: &str| {
            html(
                StatusCode::OK,
                pages::second_factor(&session.csrf, Some(message)),
            )
        };
        if sign_in_failures::locked_until(self.db(), &customer.username, now)
            .await?
            .is_some()
        {
            return Ok(retry(LOCKED));
        }
        if !totp::verify(&customer.totp_secret, form.get("otp").trim(), now)? {
            return Ok(
                match self.failed(&session, &customer.username, now).await? {
                    Ok(true) => retry(LOCKED),
                    Ok(false) => retry("That code is not right. Enter the current code."),
                    Err(page) => page,
                },
            );
        }
        sign_in_failures::clear(self.db(), &customer.username).await?;
        let next = stage_after_sign_in(&session.row);
        let moved = authorization_requests::advance(
            self.db(),
            &session.hash,
            SignInStage::SecondFactor,
            next,
            None,
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        self.signed_in(&session, now).await
    }

    /// The consent to decide, if it still awaits authorisation.
    async fn pending_consent(
        &self,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>, Error> {
        self.session_consent(session, ConsentStatus::AwaitingAuthorisation, now)
            .await
    }

    /// The session's consent, if it is the app's and in `status` at `now`.
    async fn session_consent(
        &self,
        session: &Session,
        status: ConsentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>, Error> {
        let Some(Ok(id)) = session
            .row
            .consent_id
            .as_deref()
            .map(str::parse::<ConsentId>)
        else {
            return Ok(None);
        };
        Ok(consents::find(self.db(), &id)
            .await?
            .filter(|consent| consent.app_id == session.app.id)
            .filter(|consent| consent.status_at(now) == status))
    }

    /// The accounts the customer may choose for `consent`: every account for account access;
    /// for a payment or a funds check the consent's debtor account, or else the open current
    /// accounts in the amount's currency.
    async fn choices(
        &self,
        consent: &Consent,
        customer: &CustomerId,
    ) -> Result<Vec<Account>, Error> {
        let query = AccountQuery {
            only: None,
            after_id: None,
            limit: wekeza_ledger::MAX_PAGE_SIZE,
        };
        let owned = self.core.accounts(customer, &query).await?;
        let currency = match &consent.terms {
            ConsentTerms::AccountAccess { .. } => return Ok(owned),
            ConsentTerms::Payment(terms) => terms.amount.currency(),
            ConsentTerms::FundsConfirmation(terms) => terms.amount.currency(),
        };
        Ok(match consent.terms.debtor_account() {
            Some(number) => owned
                .into_iter()
                .filter(|account| account.account_number == number)
                .collect(),
            None => owned
                .into_iter()
                .filter(|account| {
                    account.subtype == AccountSubtype::CurrentAccount
                        && account.currency == currency
                        && account.status == AccountStatus::Enabled
                })
                .collect(),
        })
    }

    async fn consent_screen(
        &self,
        session: &Session,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Response, Error> {
        let Some(consent) = self.pending_consent(session, now).await? else {
            return Ok(no_longer_pending());
        };
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let accounts = self.choices(&consent, &customer).await?;
        if accounts.is_empty() {
            return Ok(error_page(
                StatusCode::OK,
                "No suitable account",
                "You have no account this request can use. Return to the app.",
            ));
        }
        let screen = ConsentScreen {
            app_name: &session.app.name,
            csrf: &session.csrf,
            consent: &consent,
            accounts: &accounts,
            error,
        };
        Ok(html(StatusCode::OK, pages::consent_screen(&screen)))
    }

    /// `POST /oauth2/authorize/decision`: Approve (with the chosen accounts) or Deny.
    async fn decide(&self, headers: &HeaderMap, form: &HtmlForm) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, form, SignInStage::Consent, now)
            .await?
        {
            Ok(session) => session,
            Err(page) => return Ok(page),
        };
        let Some(consent) = self.pending_consent(&session, now).await? else {
            return Ok(no_longer_pending());
        };
        let customer = parse_customer(session.row.customer_id.as_deref().unwrap_or_default())?;
        let after = match form.get("decision") {
            "deny" => consent.clone().reject(now),
            "approve" => {
                let choices = self.choices(&consent, &customer).await?;
                let chosen: Option<BTreeSet<AccountId>> = form
                    .all("account_id")
                    .map(|id| {
                        choices
                            .iter()
                            .find(|account| account.id.as_str() == id)
                            .map(|account| account.id.clone())
                    })
                    .collect();
                match chosen {
                    Some(chosen) if !chosen.is_empty() => {
                        consent.clone().authorise(customer.clone(), chosen, now)
                    }
                    _ => {
                        return self
                            .consent_screen(&session, Some("Choose an account."), now)
                            .await;
                    }
                }
            }
            _ => {
                return self
                    .consent_screen(&session, Some("Choose Approve or Deny."), now)
                    .await;
            }
        };
        let after = match after {
            Ok(after) => after,
            Err(error) => {
                let message = error.to_string();
                return self.consent_screen(&session, Some(&message), now).await;
            }
        };
        // The decision is taken once: a second submission finds the session over.
        let moved = authorization_requests::advance(
            self.db(),
            &session.hash,
            SignInStage::Consent,
            SignInStage::Done,
            None,
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        let outcome = if after.status == ConsentStatus::Authorised {
            let request = request_of(&session.row)?;
            self.identity
                .authorise_consent(&session.app, &consent, &after, &request, now)
                .await
                .map(|issued| ("code", issued.code))
        } else {
            self.identity
                .reject_consent(&session.app, &consent, &after, now)
                .await
                .map(|()| ("error", "access_denied".to_owned()))
        };
        match outcome {
            Ok((name, value)) => Ok(self.redirect(&session.row, name, &value)),
            Err(Error::ConsentChanged) => Ok(no_longer_pending()),
            Err(error) => Err(error),
        }
    }

    /// The authorization response: a 303 to the redirect URI with `name=value`, `state` and
    /// `iss`.
    fn redirect(&self, row: &Stored, name: &str, value: &str) -> Response {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair(name, value);
        if let Some(state) = &row.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", self.identity.issuer().as_str());
        let separator = if row.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        let location = format!("{}{separator}{}", row.redirect_uri, query.finish());
        see_other(&location)
    }
}

/// Whether the session of `row` is unexpired at `now` and at `stage`.
fn at_stage(row: &Stored, stage: SignInStage, now: DateTime<Utc>) -> bool {
    row.session_expires_at.is_some_and(|end| now < end) && row.stage == Some(stage)
}

/// The pushed request a session carries out, as checked when it was pushed.
fn request_of(row: &Stored) -> Result<AuthorizationRequest, Error> {
    Ok(AuthorizationRequest {
        redirect_uri: row.redirect_uri.clone(),
        code_challenge: row.code_challenge.clone(),
        scopes: Scope::parse_list(&row.scope)
            .map_err(|error| Error::InvalidScope(error.to_string()))?
            .into_iter()
            .collect(),
        nonce: row.nonce.clone(),
        acr: row.acr.clone(),
    })
}

/// Where a session goes once the customer passed both factors: the consent screen for a consent
/// to decide; done (straight to the code) for a sign-in alone or a step-up.
fn stage_after_sign_in(row: &Stored) -> SignInStage {
    if row.consent_id.is_some() && row.acr.is_none() {
        SignInStage::Consent
    } else {
        SignInStage::Done
    }
}

/// A 303 to `location`, which no cache keeps.
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn upstream_unavailable() -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        "Sign-in unavailable",
        "The bank's sign-in service could not complete this sign-in. Return to the app and try \
         again.",
    )
}

/// What a locked username is told (the same whether or not it exists).
const LOCKED: &str = "Too many failed attempts: signing in is locked for 15 minutes.";

fn no_longer_pending() -> Response {
    error_page(
        StatusCode::OK,
        "Request no longer valid",
        "This request was already decided, withdrawn by the app, or has expired. Return to the \
         app.",
    )
}

fn parse_customer(id: &str) -> Result<CustomerId, Error> {
    id.parse().map_err(|_| {
        Error::Store(wekeza_store::Error::Corrupt(
            "authorization_requests.customer_id".into(),
        ))
    })
}
