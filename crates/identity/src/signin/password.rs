//! The customer's own factors: the sign-in form (username and password, argon2) and the second
//! factor (a TOTP code, accepted once per customer and time step). Each wrong answer — a used
//! code too — counts towards the session's end and is throttled by source and by username at
//! that source; a throttled attempt is told when to retry, whether or not the username exists.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use wekeza_domain::text::{self, TextKind};
use wekeza_store::customers;
use wekeza_store::identity::authorization_requests::{self, SignInStage};
use wekeza_store::identity::second_factor_steps;
use wekeza_store::secret::{self, PasswordStrength};

use super::{Web, html, parse_customer, respond, session_over, stage_after_sign_in, throttled};
use crate::pages::{SecondFactor, SignIn};
use crate::throttle::{Attempt, Kind, Source};
use crate::{Error, form, totp};

/// The sign-in form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignInForm {
    csrf: String,
    username: String,
    password: String,
}

/// The second-factor form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SecondFactorForm {
    csrf: String,
    otp: String,
}

pub(super) async fn sign_in(
    State(web): State<Web>,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(web.sign_in(&headers, source, form::typed(&body)).await)
}

pub(super) async fn second_factor(
    State(web): State<Web>,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        web.second_factor(&headers, source, form::typed(&body))
            .await,
    )
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

impl Web {
    /// `POST /oauth2/authorize/sign-in`: username and password.
    async fn sign_in(
        &self,
        headers: &HeaderMap,
        source: Source,
        form: SignInForm,
    ) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, &form.csrf, SignInStage::Password, now)
            .await?
        {
            Ok(session) => session,
            Err(page) => return Ok(page),
        };
        let page = |status, username: &str, message: &str| {
            html(
                status,
                &SignIn {
                    app_name: &session.app.name,
                    csrf: &session.csrf,
                    username,
                    error: Some(message),
                },
            )
        };
        // No username holds what the text rule refuses (control characters): such a form is
        // refused before any look-up, and counts as no attempt.
        let Ok(username) = text::clean(form.username.trim(), TextKind::Line) else {
            return Ok(page(
                StatusCode::BAD_REQUEST,
                "",
                "The username holds characters that are not allowed.",
            ));
        };
        let username = username.as_str();
        let retry = |message: &str| page(StatusCode::OK, username, message);
        let attempt = Attempt::new(source, Kind::Customer, Some(username));
        let throttle = &self.identity.inner.throttle;
        if let Err(refused) = throttle.check(&attempt, now) {
            return Ok(throttled(refused, retry));
        }
        let customer = customers::find_by_username(self.db(), username).await?;
        let hash = customer
            .as_ref()
            .map_or_else(|| decoy_hash().to_owned(), |row| row.password_hash.clone());
        let password = form.password;
        let matches =
            tokio::task::spawn_blocking(move || secret::verify_password(&hash, &password))
                .await
                .unwrap_or(false);
        let Some(customer) = customer.filter(|_| matches) else {
            return Ok(match self.failed(&session, &attempt, now).await? {
                Some(ended) => ended,
                None => retry("Wrong username or password."),
            });
        };
        throttle.succeeded(&attempt);
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
            &SecondFactor {
                csrf: &session.csrf,
                error: None,
            },
        ))
    }

    /// `POST /oauth2/authorize/second-factor`: the one-time code.
    async fn second_factor(
        &self,
        headers: &HeaderMap,
        source: Source,
        form: SecondFactorForm,
    ) -> Result<Response, Error> {
        let now = self.identity.now();
        let session = match self
            .session(headers, &form.csrf, SignInStage::SecondFactor, now)
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
                &SecondFactor {
                    csrf: &session.csrf,
                    error: Some(message),
                },
            )
        };
        let attempt = Attempt::new(source, Kind::SecondFactor, Some(&customer.username));
        let throttle = &self.identity.inner.throttle;
        if let Err(refused) = throttle.check(&attempt, now) {
            return Ok(throttled(refused, retry));
        }
        let accepted = match totp::verify(&customer.totp_secret, form.otp.trim(), now)? {
            // Once per customer and time step: not again in another session, nor an earlier
            // step's once a later one was (RFC 6238 §5.2).
            Some(step) => second_factor_steps::accept(self.db(), &customer.id, step)
                .await?
                .then_some(())
                .ok_or("That code was already used. Wait for the next code and enter it."),
            None => Err("That code is not right. Enter the current code."),
        };
        if let Err(message) = accepted {
            return Ok(match self.failed(&session, &attempt, now).await? {
                Some(ended) => ended,
                None => retry(message),
            });
        }
        throttle.succeeded(&attempt);
        let moved = authorization_requests::advance(
            self.db(),
            &session.hash,
            SignInStage::SecondFactor,
            stage_after_sign_in(&session.row),
            None,
        )
        .await?;
        if !moved {
            return Ok(session_over());
        }
        self.signed_in(&session, now).await
    }
}
