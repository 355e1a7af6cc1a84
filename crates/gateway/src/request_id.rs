//! Request ids. Every response carries `x-request-id` (the caller's, if it sent a sane one, else
//! a new `req_…`) and `x-fapi-interaction-id` (the caller's UUID, else a new one), errors
//! included. The id is stored in the request extensions and on the request's tracing span, so
//! every log line of a request can be found from the id a client reports.
//!
//! This layer sits outermost: everything inside it, refusals included, is covered. The span's
//! `path` never carries a secret: a path segment that is one (CIBA's `auth_req_id`) is redacted.

use std::borrow::Cow;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument;

/// Header naming one request, end to end.
pub const REQUEST_ID: &str = "x-request-id";
/// FAPI interaction id, echoed to the client.
pub const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// The request's id, as stored in the extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Path prefixes whose next segment is a secret (a CIBA `auth_req_id`, which with the client's
/// credentials redeems tokens): logged as `{redacted}`.
const SECRET_SEGMENT_AFTER: [&str; 1] = ["/v1/sandbox/decoupled-authorizations/"];

/// The request path as the span records it: a secret segment is redacted, its `:verb` kept.
fn loggable_path(path: &str) -> Cow<'_, str> {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let suffix = rest.find([':', '/']).map_or("", |at| &rest[at..]);
            return Cow::Owned(format!("{prefix}{{redacted}}{suffix}"));
        }
    }
    Cow::Borrowed(path)
}

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_owned())
}

fn interaction_id(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string()
}

/// Middleware: assigns the ids, runs the request in a span named after them, echoes them.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| format!("req_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()));
    let interaction = interaction_id(request.headers().get(INTERACTION_ID));
    // Downstream (the transcoder, the services) read the ids from the headers; make sure the
    // generated ones are there too.
    for (name, value) in [(REQUEST_ID, &request_id), (INTERACTION_ID, &interaction)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            request.headers_mut().insert(name, value);
        }
    }
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %loggable_path(request.uri().path()),
    );
    let mut response = next.run(request).instrument(span).await;
    for (name, value) in [(REQUEST_ID, request_id), (INTERACTION_ID, interaction)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_path_segments_are_redacted() {
        assert_eq!(
            loggable_path("/v1/sandbox/decoupled-authorizations/s3cret:approve"),
            "/v1/sandbox/decoupled-authorizations/{redacted}:approve"
        );
        assert_eq!(loggable_path("/v1/accounts/acc_1"), "/v1/accounts/acc_1");
    }

    #[test]
    fn keeps_sane_ids_only() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(sane_request_id(&ok).as_deref(), Some("abc-123_x.y:z"));
        for bad in ["", "has space", "semi;colon"] {
            assert_eq!(
                sane_request_id(&HeaderValue::from_static(bad)),
                None,
                "{bad}"
            );
        }
        let uuid = "0b7a1f6e-9a0b-4d3c-8f9e-1a2b3c4d5e6f";
        assert_eq!(interaction_id(Some(&HeaderValue::from_static(uuid))), uuid);
        assert_ne!(
            interaction_id(Some(&HeaderValue::from_static("nope"))),
            "nope"
        );
    }
}
