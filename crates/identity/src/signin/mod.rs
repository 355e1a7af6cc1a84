//! The customer's side of the authorization-code flow, in the browser: the authorization
//! endpoint (`GET /oauth2/authorize`, which accepts only a `request_uri` from PAR), sign-in
//! with username and password (argon2 hashes in `customers`), the second factor (TOTP,
//! RFC 6238), and the consent screen whose Approve or Deny ends in the redirect back to the app
//! with `code` (or `error=access_denied`), `state` and `iss` (RFC 9207).
//!
//! A browser session is bound to one pushed request: the `request_uri` is spent by the first
//! browser that brings it, which gets an HttpOnly, SameSite=Lax session cookie (only its hash
//! is stored) and a CSRF token that every form must post back; each step moves the session on
//! only from the stage it expects, so a step cannot be skipped or replayed.
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
//! and failures are throttled by source address and by username at that source, whether or not
//! the username exists and whichever sessions they came from (`throttle`): past the free
//! allowance, the form answers 429 with `Retry-After` until the delay is over. Failures from
//! one address never hold back the customer signing in from another. An unknown username costs
//! the same password hashing as a known one.
//!
//! # Layout
//! - this file — the routes, their state, and what every step answers with: pages, the
//!   authorization response, the stage after sign-in.
//! - `session` — the authorization endpoint that starts a session, the session cookie, finding
//!   a session and checking its CSRF token and stage, failed attempts.
//! - `password` — the sign-in form and the second factor.
//! - `upstream` — the federated provider's callback.
//! - `consent_screen` — what follows sign-in: the consent screen and its decision, or the code
//!   of a sign-in alone or a step-up.

mod consent_screen;
mod password;
mod session;
mod upstream;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use http::{HeaderValue, StatusCode, header};
use wekeza_domain::{CustomerId, Scope};
use wekeza_ledger::CoreBanking;
use wekeza_store::identity::authorization_requests::{AuthorizationRequest as Stored, SignInStage};

use crate::authorization::AuthorizationRequest;
use crate::issuer::{
    AUTHORIZATION_PATH, DECISION_PATH, SECOND_FACTOR_PATH, SIGN_IN_PATH, UPSTREAM_CALLBACK_PATH,
};
use crate::pages::ErrorPage;
use crate::throttle::Throttled;
use crate::{Error, Identity, form};

/// How long a browser session lasts once it started.
pub const SESSION_TTL: Duration = Duration::minutes(10);
/// Failed passwords and one-time codes after which a session ends.
pub const SESSION_ATTEMPTS: i32 = 5;

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
        .route(AUTHORIZATION_PATH, get(session::authorize))
        .route(SIGN_IN_PATH, post(password::sign_in))
        .route(SECOND_FACTOR_PATH, post(password::second_factor))
        .route(DECISION_PATH, post(consent_screen::decision))
        .route(UPSTREAM_CALLBACK_PATH, get(upstream::callback))
        .with_state(Web { identity, core })
}

impl Web {
    fn db(&self) -> &wekeza_store::DatabaseConnection {
        &self.identity.inner.db
    }

    /// The authorization response: a 303 to the redirect URI with `name=value`, `state` and
    /// `iss`.
    fn redirect(&self, row: &Stored, name: &str, value: &str) -> Response {
        let issuer = self.identity.issuer().as_str();
        let mut params = vec![(name, value)];
        if let Some(state) = &row.state {
            params.push(("state", state.as_str()));
        }
        params.push(("iss", issuer));
        see_other(&form::with_query(&row.redirect_uri, &params))
    }
}

/// `page` rendered as an HTML page that no cache keeps and no frame shows.
fn html(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a sign-in page could not be rendered");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
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

/// The form `page` renders with what a throttled attempt is told, answered 429 with
/// `Retry-After`: the throttle refused the attempt unchecked.
fn throttled(throttled: Throttled, page: impl FnOnce(&str) -> Response) -> Response {
    let seconds = throttled.retry_after_secs;
    let mut response = page(&format!(
        "Too many failed attempts: try again in {seconds} s."
    ));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, &ErrorPage { title, message })
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

fn upstream_unavailable() -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        "Sign-in unavailable",
        "The bank's sign-in service could not complete this sign-in. Return to the app and try \
         again.",
    )
}

fn no_longer_pending() -> Response {
    error_page(
        StatusCode::OK,
        "Request no longer valid",
        "This request was already decided, withdrawn by the app, or has expired. Return to the \
         app.",
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

/// The customer a session's row names.
fn parse_customer(id: &str) -> Result<CustomerId, Error> {
    id.parse().map_err(|_| {
        Error::Store(wekeza_store::Error::Corrupt(
            "authorization_requests.customer_id".into(),
        ))
    })
}
