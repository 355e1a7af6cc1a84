//! Request ids. Every response carries `x-request-id` (the caller's, if it sent a usable one, else
//! a new `req_…`) and `x-fapi-interaction-id` (the caller's UUID, else a new one), errors
//! included. Both are also set on the request, where the transcoder and the services read them,
//! and the request runs in a tracing span named after its id, so every log line of a request can
//! be found from the id a client reports.
//!
//! `x-request-id` is tower-http's: [`SetRequestIdLayer`](tower_http::request_id::SetRequestIdLayer)
//! with [`NewRequestId`] sets it, [`PropagateRequestIdLayer`](tower_http::request_id::PropagateRequestIdLayer)
//! echoes it. tower-http keeps whatever id a caller sent, so [`drop_unusable_request_id`] runs
//! first. Ours is the rest, [`interaction`]: the FAPI interaction id and the span.
//!
//! These layers sit outermost: everything inside them, refusals included, is covered. The span's
//! `path` never carries a secret: a path segment that is one (CIBA's `auth_req_id`) is redacted.

use std::borrow::Cow;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

/// Header naming one request, end to end.
pub const REQUEST_ID: &str = "x-request-id";
/// FAPI interaction id, echoed to the client.
pub const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// The longest `x-request-id` a caller may choose.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Path prefixes whose next segment is a secret (a CIBA `auth_req_id`, which with the client's
/// credentials redeems tokens): logged as `{redacted}`.
const SECRET_SEGMENT_AFTER: [&str; 1] = ["/v1/sandbox/decoupled-authorizations/"];

/// Makes the id of a request that came without a usable one: `req_` and a lower-case ULID.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let id = format!("req_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Keeps a caller's `x-request-id` only when it is usable in logs and headers — 1 to 128 ASCII
/// letters, digits or `-_.:` — and then only its first value; otherwise removes it, so that
/// [`NewRequestId`] makes one.
pub fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request
        .headers()
        .get(REQUEST_ID)
        .filter(|value| is_usable_request_id(value))
        .cloned();
    match usable {
        Some(id) => request.headers_mut().insert(REQUEST_ID, id),
        None => request.headers_mut().remove(REQUEST_ID),
    };
    request
}

fn is_usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The caller's interaction id if it is a UUID, else a new one.
fn interaction_id(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string()
}

/// The request path as the span records it: a secret segment is redacted, its `:verb` kept.
pub(crate) fn loggable_path(path: &str) -> Cow<'_, str> {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let suffix = rest.find([':', '/']).map_or("", |at| &rest[at..]);
            return Cow::Owned(format!("{prefix}{{redacted}}{suffix}"));
        }
    }
    Cow::Borrowed(path)
}

/// Middleware, inside the request-id layers: sets the FAPI interaction id on the request and
/// the response, and runs the request in a span carrying its request id.
pub async fn interaction(mut request: Request, next: Next) -> Response {
    let interaction = HeaderValue::from_str(&interaction_id(request.headers().get(INTERACTION_ID)));
    if let Ok(value) = &interaction {
        // Downstream (the transcoder, the services) read it from the headers; make sure a
        // generated one is there too.
        request.headers_mut().insert(INTERACTION_ID, value.clone());
    }
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %loggable_path(request.uri().path()),
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = interaction {
        response.headers_mut().insert(INTERACTION_ID, value);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use axum::body::Body;

    use super::*;

    #[test]
    fn secret_path_segments_are_redacted() {
        assert_eq!(
            loggable_path("/v1/sandbox/decoupled-authorizations/s3cret:approve"),
            "/v1/sandbox/decoupled-authorizations/{redacted}:approve"
        );
        assert_eq!(loggable_path("/v1/accounts/acc_1"), "/v1/accounts/acc_1");
    }

    fn with_request_id(values: &[&'static str]) -> Request {
        let mut request = Request::new(Body::empty());
        for value in values {
            request
                .headers_mut()
                .append(REQUEST_ID, HeaderValue::from_static(value));
        }
        request
    }

    #[test]
    fn keeps_usable_ids_only() {
        let kept = drop_unusable_request_id(with_request_id(&["abc-123_x.y:z", "second"]));
        let values: Vec<_> = kept.headers().get_all(REQUEST_ID).iter().collect();
        assert_eq!(values, ["abc-123_x.y:z"]);
        for bad in ["", "has space", "semi;colon"] {
            let dropped = drop_unusable_request_id(with_request_id(&[bad]));
            assert_eq!(dropped.headers().get(REQUEST_ID), None, "{bad}");
        }
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        assert!(!is_usable_request_id(
            &HeaderValue::from_str(&long).unwrap()
        ));

        let uuid = "0b7a1f6e-9a0b-4d3c-8f9e-1a2b3c4d5e6f";
        assert_eq!(interaction_id(Some(&HeaderValue::from_static(uuid))), uuid);
        assert_ne!(
            interaction_id(Some(&HeaderValue::from_static("nope"))),
            "nope"
        );
    }

    #[test]
    fn new_ids_are_prefixed_lower_case_ulids() {
        let id = NewRequestId
            .make_request_id(&Request::new(Body::empty()))
            .unwrap();
        let text = id.header_value().to_str().unwrap();
        assert!(text.starts_with("req_") && text.len() == 30, "{text}");
        assert!(is_usable_request_id(id.header_value()));
        assert_eq!(text, text.to_ascii_lowercase());
    }
}
