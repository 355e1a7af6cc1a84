//! Headers across: forwarded request headers become metadata, reply metadata becomes headers,
//! and the request's extensions (identity) reach the service.

use axum::body::Body;
use http::{HeaderName, Request, Version};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

use crate::support::{Harness, Identity, LibraryGrpc, read, transcoder};

#[tokio::test]
async fn forwarded_headers_become_metadata() {
    let h = Harness::with(|t| t.forward_header(HeaderName::from_static("x-tenant")));
    let reply = h
        .send(
            Request::get("/v1/whoami")
                .header("authorization", "DPoP abc")
                .header("dpop", "proof")
                .header("x-api-key", "key")
                .header("idempotency-key", "idem")
                .header("x-fapi-interaction-id", "fapi-1")
                .header("x-request-id", "req-1")
                .header("x-fapi-customer-ip-address", "203.0.113.9")
                .header("x-fapi-auth-date", "Sun, 10 Sep 2017 19:43:31 GMT")
                .header("user-agent", "test/1")
                .header("x-tenant", "t1")
                .header("cookie", "secret=1")
                .header("x-other", "no")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let whoami = reply.ok();
    let metadata = &whoami["metadata"];
    for (name, value) in [
        ("authorization", "DPoP abc"),
        ("dpop", "proof"),
        ("x-api-key", "key"),
        ("idempotency-key", "idem"),
        ("x-fapi-interaction-id", "fapi-1"),
        ("x-request-id", "req-1"),
        ("x-fapi-customer-ip-address", "203.0.113.9"),
        ("x-fapi-auth-date", "Sun, 10 Sep 2017 19:43:31 GMT"),
        ("user-agent", "test/1"),
        ("x-tenant", "t1"),
    ] {
        assert_eq!(metadata[name], value, "{name}: {metadata}");
    }
    assert!(metadata.get("cookie").is_none());
    assert!(metadata.get("x-other").is_none());
    // The service got a real gRPC request over HTTP/2.
    let seen = h.seen();
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.metadata["te"], "trailers");

    // Reply metadata comes back as headers; gRPC's own headers do not.
    assert_eq!(reply.headers["x-served-by"], "library");
    assert_eq!(reply.headers["x-request-id"], "from-service");
    assert_eq!(reply.headers["content-type"], "application/json");
    for name in reply.headers.keys() {
        assert!(!name.as_str().starts_with("grpc-"), "{name} leaked");
    }
}

#[tokio::test]
async fn extensions_set_by_a_layer_reach_the_service() {
    let grpc = LibraryGrpc::new();
    // A layer in front of the transcoder establishes the caller's identity, as authn does.
    let app = ServiceBuilder::new()
        .map_request(|mut request: Request<Body>| {
            request.extensions_mut().insert(Identity("alice".into()));
            request
        })
        .service(transcoder().into_service(grpc));
    let reply = read(
        app.oneshot(Request::get("/v1/whoami").body(Body::empty()).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.ok()["identity"], json!("alice"));

    // Without the layer, no identity.
    let h = Harness::new();
    assert!(h.get("/v1/whoami").await.ok().get("identity").is_none());
}
