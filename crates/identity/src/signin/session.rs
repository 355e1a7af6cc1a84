//! The browser session: the authorization endpoint that spends a pushed request and starts a
//! session, the session cookie (set and read with the `cookie` crate), finding the session of
//! a request and checking its CSRF token and stage, and failed attempts (the session's count,
//! and the throttle's).

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use wekeza_store::apps::{self, App};
use wekeza_store::identity::authorization_requests::{
    self, AuthorizationRequest as Stored, SignInStage,
};
use wekeza_store::secret;

use super::{
    SESSION_ATTEMPTS, SESSION_TTL, Web, error_page, html, link_expired, respond, see_other,
    session_over, upstream_unavailable,
};
use crate::issuer::AUTHORIZATION_PATH;
use crate::pages::SignIn;
use crate::throttle::Attempt;
use crate::{Error, form, par};

/// The session cookie.
const COOKIE: &str = "wekeza_authz";
/// Bytes of randomness in the session cookie and the CSRF token (256 bits).
pub(super) const TOKEN_BYTES: usize = 32;

/// A session found by its cookie, with its CSRF token checked.
pub(super) struct Session {
    pub(super) row: Stored,
    /// The hash of the session cookie, which names the row.
    pub(super) hash: String,
    pub(super) csrf: String,
    pub(super) app: App,
}

/// The session a request's cookie names.
pub(super) struct CookieSession {
    /// The cookie's value (the federated sign-in derives its state from it).
    pub(super) cookie: String,
    /// Its hash, which names the row.
    pub(super) hash: String,
    pub(super) row: Stored,
}

/// The query of `GET /oauth2/authorize`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
}

pub(super) async fn authorize(State(web): State<Web>, RawQuery(query): RawQuery) -> Response {
    let query = form::typed(query.unwrap_or_default().as_bytes());
    respond(web.start(query).await)
}

/// The `Set-Cookie` of a new session: HttpOnly, Lax, for the authorization endpoints only,
/// Secure when the issuer is served over HTTPS.
fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    // Lax, not Strict: the upstream provider's redirect back is a cross-site top-level GET,
    // which must carry the cookie; every POST still needs the session's CSRF token.
    Cookie::build((COOKIE, value))
        .path(AUTHORIZATION_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(SESSION_TTL.num_seconds()))
        .secure(secure)
        .build()
}

/// The session cookie's value, if the request carries one.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

/// Whether the session of `row` is unexpired at `now` and at `stage`.
pub(super) fn at_stage(row: &Stored, stage: SignInStage, now: DateTime<Utc>) -> bool {
    row.session_expires_at.is_some_and(|end| now < end) && row.stage == Some(stage)
}

impl Web {
    /// `GET /oauth2/authorize?client_id=…&request_uri=…`: spends the pushed request, starts the
    /// session, shows the sign-in form.
    async fn start(&self, query: AuthorizeQuery) -> Result<Response, Error> {
        let now = self.identity.now();
        let Some(request_uri) = query.request_uri else {
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
        if query.client_id.as_deref() != Some(row.client_id.as_str()) {
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
            None => html(
                StatusCode::OK,
                &SignIn {
                    app_name: &app.name,
                    csrf: &csrf,
                    username: "",
                    error: None,
                },
            ),
            Some(upstream) => match upstream.begin(&cookie).await {
                Ok(location) => see_other(&location),
                Err(error) => {
                    tracing::warn!(%error, "federated sign-in could not start");
                    return Ok(upstream_unavailable());
                }
            },
        };
        let secure = self.identity.issuer().as_str().starts_with("https:");
        if let Ok(value) = HeaderValue::from_str(&session_cookie(cookie, secure).to_string()) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        Ok(response)
    }

    /// The session of a posted form: by its cookie, unexpired, its CSRF token `csrf`, at
    /// `stage`. `Err(page)` to answer otherwise.
    pub(super) async fn session(
        &self,
        headers: &HeaderMap,
        csrf: &str,
        stage: SignInStage,
        now: DateTime<Utc>,
    ) -> Result<Result<Session, Response>, Error> {
        let Some(CookieSession { hash, row, .. }) = self.cookie_session(headers).await? else {
            return Ok(Err(session_over()));
        };
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

    /// The session the request's cookie names, if any.
    pub(super) async fn cookie_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<CookieSession>, Error> {
        let Some(cookie) = cookie_value(headers) else {
            return Ok(None);
        };
        let hash = secret::sha256_hex(&cookie);
        let row = authorization_requests::find_by_session(self.db(), &hash).await?;
        Ok(row.map(|row| CookieSession { cookie, hash, row }))
    }

    /// A wrong password or one-time code: counted for the session and by the throttle; the
    /// session ends at [`SESSION_ATTEMPTS`]. `Some(page)` when the session ended.
    pub(super) async fn failed(
        &self,
        session: &Session,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<Option<Response>, Error> {
        authorization_requests::record_failure(self.db(), &session.hash).await?;
        self.identity.inner.throttle.failed(attempt, now);
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
            return Ok(Some(error_page(
                StatusCode::FORBIDDEN,
                "Too many attempts",
                "Too many failed attempts. Return to the app and start again.",
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_keeps_its_attributes() {
        let plain = session_cookie("abc".into(), false).to_string();
        for part in [
            "wekeza_authz=abc",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/oauth2/authorize",
            "Max-Age=600",
        ] {
            assert!(plain.contains(part), "{plain}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(
            session_cookie("abc".into(), true)
                .to_string()
                .contains("; Secure")
        );
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("other=x; wekeza_authz=tok-en_1"),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("tok-en_1"));
        assert_eq!(cookie_value(&HeaderMap::new()), None);
    }

    proptest::proptest! {
        /// Any `Cookie` header never panics the reader, and the session cookie is found
        /// between any others (proptest's case count; `PROPTEST_CASES` for more).
        #[test]
        fn cookie_headers_never_panic_and_the_session_cookie_reads_back(
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            before in "([a-z]{1,8}=[!#-+--:<-~]{0,12}; ){0,3}",
            after in "(; [a-z]{1,8}=[!#-+--:<-~]{0,12}){0,3}",
            value in "[A-Za-z0-9_-]{1,64}",
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(garbage) = HeaderValue::from_bytes(&garbage) {
                headers.insert(header::COOKIE, garbage);
                let _ = cookie_value(&headers);
            }
            let line = HeaderValue::from_str(&format!("{before}{COOKIE}={value}{after}"));
            proptest::prop_assert!(line.is_ok(), "{line:?}");
            if let Ok(line) = line {
                headers.insert(header::COOKIE, line);
            }
            proptest::prop_assert_eq!(cookie_value(&headers), Some(value));
        }
    }
}
