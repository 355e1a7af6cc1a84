//! gRPC statuses as problem+json: the code table, ErrorInfo and BadRequest details, metadata
//! kept as headers, request ids, and replies no well-behaved service would send.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use prost_reflect::DynamicMessage;
use serde_json::json;
use tonic::{Code, Status};
use tower::ServiceExt;
use wekeza_transcode::{Problems, problem_response};

use crate::support::{Harness, RawBody, frame, pool, raw_grpc, read, transcoder};

#[tokio::test]
async fn every_code_maps_to_its_http_status() {
    let h = Harness::new();
    let table = [
        (Code::Cancelled, 499, "CANCELLED"),
        (Code::Unknown, 500, "UNKNOWN"),
        (Code::InvalidArgument, 400, "INVALID_ARGUMENT"),
        (Code::DeadlineExceeded, 504, "DEADLINE_EXCEEDED"),
        (Code::NotFound, 404, "NOT_FOUND"),
        (Code::AlreadyExists, 409, "ALREADY_EXISTS"),
        (Code::PermissionDenied, 403, "PERMISSION_DENIED"),
        (Code::ResourceExhausted, 429, "RESOURCE_EXHAUSTED"),
        (Code::FailedPrecondition, 422, "FAILED_PRECONDITION"),
        (Code::Aborted, 409, "ABORTED"),
        (Code::OutOfRange, 400, "OUT_OF_RANGE"),
        (Code::Unimplemented, 501, "UNIMPLEMENTED"),
        (Code::Internal, 500, "INTERNAL"),
        (Code::Unavailable, 503, "UNAVAILABLE"),
        (Code::DataLoss, 500, "DATA_LOSS"),
        (Code::Unauthenticated, 401, "UNAUTHENTICATED"),
    ];
    for (code, http, reason) in table {
        let body = json!({ "code": code as i32, "message": format!("failed with {code:?}") });
        let problem = h
            .post("/v1/fail", &body.to_string())
            .await
            .problem(http, reason);
        assert_eq!(problem["detail"], format!("failed with {code:?}"));
        assert!(problem.get("errors").is_none());
    }
}

#[tokio::test]
async fn error_info_and_bad_request_details() {
    let h = Harness::new();
    let body = json!({
        "code": Code::FailedPrecondition as i32,
        "message": "the consent has expired",
        "reason": "CONSENT_EXPIRED",
        "violations": { "consent_id": "expired on 2026-01-01", "account.id": "unknown" },
    });
    let reply = h
        .send(
            Request::post("/v1/fail")
                .header("x-request-id", "req-42")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    let problem = reply.problem(422, "CONSENT_EXPIRED");
    assert_eq!(
        problem,
        json!({
            "type": "https://docs.wekeza.dev/errors/consent_expired",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": "the consent has expired",
            "reason": "CONSENT_EXPIRED",
            "requestId": "req-42",
            "errors": [
                { "field": "account.id", "description": "unknown" },
                { "field": "consent_id", "description": "expired on 2026-01-01" },
            ],
        })
    );
    for name in reply.headers.keys() {
        assert!(!name.as_str().starts_with("grpc-"), "{name} leaked");
    }
}

#[tokio::test]
async fn rate_limit_headers_survive() {
    let h = Harness::new();
    let body = json!({
        "code": Code::ResourceExhausted as i32,
        "message": "slow down",
        "reason": "RATE_LIMITED",
        "metadata": {
            "retry-after": "30",
            "ratelimit-limit": "100",
            "ratelimit-remaining": "0",
            "ratelimit-reset": "30",
            "x-request-id": "from-metadata",
        },
    });
    let reply = h.post("/v1/fail", &body.to_string()).await;
    let problem = reply.problem(429, "RATE_LIMITED");
    assert_eq!(reply.headers["retry-after"], "30");
    assert_eq!(reply.headers["ratelimit-limit"], "100");
    assert_eq!(reply.headers["ratelimit-remaining"], "0");
    assert_eq!(reply.headers["ratelimit-reset"], "30");
    // The reply's request id wins over the request's (none here).
    assert_eq!(problem["requestId"], "from-metadata");
}

#[tokio::test]
async fn type_base_and_request_id_header_are_configurable() {
    let h = Harness::with(|t| {
        t.problems(Problems::new("urn:problem:"))
            .request_id_header(HeaderName::from_static("x-correlation-id"))
    });
    let reply = h
        .send(
            Request::get("/v1/nowhere")
                .header("x-correlation-id", "corr-1")
                .header("x-request-id", "ignored")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 404);
    let problem = reply.json();
    assert_eq!(problem["type"], "urn:problem:route_not_found");
    assert_eq!(problem["requestId"], "corr-1");
}

#[tokio::test]
async fn problem_response_serves_layers_in_front() {
    let reply = read(problem_response(
        &Status::unauthenticated("missing token"),
        Some("r1"),
    ))
    .await;
    let problem = reply.problem(401, "UNAUTHENTICATED");
    assert_eq!(problem["detail"], "missing token");
    assert_eq!(problem["requestId"], "r1");
}

/// The transcoder in front of a hand-made gRPC reply.
async fn against(
    make: impl Fn() -> Response<RawBody> + Clone + Send + Sync + 'static,
) -> crate::support::Reply {
    let service = transcoder().into_service(raw_grpc(make));
    read(
        service
            .oneshot(Request::get("/v1/shelves/1").body(Body::empty()).unwrap())
            .await
            .unwrap(),
    )
    .await
}

fn grpc_response(
    data: Option<Bytes>,
    headers: &[(&str, &str)],
    trailers: &[(&str, &str)],
) -> Response<RawBody> {
    let to_map = |pairs: &[(&str, &str)]| {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    };
    let mut response = Response::new(RawBody {
        data,
        trailers: (!trailers.is_empty()).then(|| to_map(trailers)),
    });
    *response.headers_mut() = to_map(headers);
    response
}

fn shelf() -> Bytes {
    let descriptor = pool().get_message_by_name("library.v1.Shelf").unwrap();
    frame(&DynamicMessage::deserialize(descriptor, json!({ "id": "1", "title": "t" })).unwrap())
}

#[tokio::test]
async fn status_in_trailers_and_in_headers() {
    // A status in the trailers after headers (not trailers-only), with its metadata.
    let reply = against(|| {
        grpc_response(
            None,
            &[("content-type", "application/grpc"), ("x-early", "1")],
            &[
                ("grpc-status", "5"),
                ("grpc-message", "no%20such%20shelf"),
                ("x-late", "2"),
            ],
        )
    })
    .await;
    let problem = reply.problem(404, "NOT_FOUND");
    assert_eq!(problem["detail"], "no such shelf");
    assert_eq!(reply.headers["x-early"], "1");
    assert_eq!(reply.headers["x-late"], "2");

    // OK in the trailers, with headers and trailers copied back.
    let reply = against(|| {
        grpc_response(
            Some(shelf()),
            &[("content-type", "application/grpc"), ("x-served-by", "raw")],
            &[("grpc-status", "0"), ("x-trailer", "t")],
        )
    })
    .await;
    assert_eq!(reply.ok(), json!({ "id": "1", "title": "t" }));
    assert_eq!(reply.headers["x-served-by"], "raw");
    assert_eq!(reply.headers["x-trailer"], "t");
    assert!(reply.headers.get("grpc-status").is_none());
}

#[tokio::test]
async fn broken_replies_never_panic() {
    // Details that are not base64, or not a google.rpc.Status: the code still maps.
    for details in ["!!!not base64!!!", "AAAA"] {
        let reply = against(move || {
            grpc_response(
                None,
                &[("grpc-status", "7"), ("grpc-status-details-bin", details)],
                &[],
            )
        })
        .await;
        reply.problem(403, "PERMISSION_DENIED");
    }
    // No grpc-status anywhere.
    against(|| grpc_response(Some(shelf()), &[], &[]))
        .await
        .problem(500, "INTERNAL");
    // An HTTP error from something in between.
    against(|| {
        let mut response = grpc_response(None, &[], &[]);
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    })
    .await
    .problem(503, "UNAVAILABLE");
    // OK with a broken frame, two frames, a compressed frame, or a message that does not decode.
    for data in [
        Bytes::from_static(&[0, 0, 0]),
        Bytes::from_static(&[0, 0, 0, 0, 9, 1]),
        [shelf(), shelf()].concat().into(),
        Bytes::from_static(&[1, 0, 0, 0, 1, 0]),
        Bytes::from_static(&[0, 0, 0, 0, 2, 0x0a, 0xff]),
    ] {
        let reply =
            against(move || grpc_response(Some(data.clone()), &[], &[("grpc-status", "0")])).await;
        reply.problem(500, "INTERNAL");
    }
    // Unknown codes are UNKNOWN.
    against(|| grpc_response(None, &[("grpc-status", "99")], &[]))
        .await
        .problem(500, "UNKNOWN");
}

#[tokio::test]
async fn a_failing_service_is_503() {
    let failing = tower::service_fn(|_request: Request<Body>| async {
        Err::<Response<Body>, _>(std::io::Error::other("connection refused"))
    });
    let service = transcoder().into_service(failing);
    let reply = read(
        service
            .oneshot(Request::get("/v1/shelves/1").body(Body::empty()).unwrap())
            .await
            .unwrap(),
    )
    .await;
    reply.problem(503, "UNAVAILABLE");
}
