//! A rough throughput comparison, REST through the transcoder vs the same call as gRPC, against
//! one echo service: in-process, and through a socket with real clients (reqwest over
//! HTTP/1.1, tonic over h2c). Not a test: run it on purpose, in release:
//! `cargo test --release -p wekeza-transcode --test it -- --ignored --nocapture bench`.

use std::time::Instant;

use axum::body::Body;
use http::{Request, Version};
use http_body_util::BodyExt;
use prost_reflect::DynamicMessage;
use serde_json::json;
use tower::ServiceExt;

use crate::support::{DynamicCodec, echo_grpc, frame, pool, transcoder};

const CALLS: u32 = 20_000;

#[tokio::test]
#[ignore = "a benchmark; run on purpose in release"]
async fn bench_rest_vs_grpc() {
    let body = json!({
        "stringValue": "hello",
        "int64Value": "5",
        "genre": "FICTION",
        "timestamp": "2026-01-01T00:00:00Z",
        "stringList": ["a", "b", "c"],
        "nested": { "label": "x", "code": "c" },
    })
    .to_string();
    let descriptor = pool().get_message_by_name("library.v1.Everything").unwrap();
    let message = DynamicMessage::deserialize(
        descriptor.clone(),
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
    )
    .unwrap();

    let grpc = echo_grpc();
    let grpc_call = || {
        let grpc = grpc.clone();
        let framed = frame(&message);
        let descriptor = descriptor.clone();
        async move {
            let request = Request::post("/library.v1.BookService/Echo")
                .version(Version::HTTP_2)
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(Body::from(framed))
                .unwrap();
            let response = grpc.oneshot(request).await.unwrap();
            let collected = response.into_body().collect().await.unwrap();
            assert!(
                collected
                    .trailers()
                    .is_some_and(|t| t["grpc-status"] == "0")
            );
            let bytes = collected.to_bytes();
            DynamicMessage::decode(descriptor, &bytes[5..]).unwrap()
        }
    };
    let rest = transcoder().into_service(echo_grpc());
    let rest_call = || {
        let rest = rest.clone();
        let body = body.clone();
        async move {
            let request = Request::post("/v1/echo")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let response = rest.oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        }
    };

    for _ in 0..1_000 {
        grpc_call().await;
        rest_call().await;
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        grpc_call().await;
    }
    let grpc_time = start.elapsed();
    let start = Instant::now();
    for _ in 0..CALLS {
        rest_call().await;
    }
    let rest_time = start.elapsed();
    let per_call = |d: std::time::Duration| d.as_secs_f64() * 1e6 / f64::from(CALLS);
    println!(
        "gRPC {:.2} µs/call, REST {:.2} µs/call, REST throughput = {:.2}× gRPC",
        per_call(grpc_time),
        per_call(rest_time),
        grpc_time.as_secs_f64() / rest_time.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run on purpose in release"]
async fn bench_rest_vs_grpc_over_a_socket() {
    let app = axum::Router::new()
        .route_service("/library.v1.BookService/{method}", echo_grpc())
        .fallback_service(transcoder().into_service(echo_grpc()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let body = json!({
        "stringValue": "hello",
        "int64Value": "5",
        "genre": "FICTION",
        "timestamp": "2026-01-01T00:00:00Z",
        "stringList": ["a", "b", "c"],
        "nested": { "label": "x", "code": "c" },
    })
    .to_string();
    let descriptor = pool().get_message_by_name("library.v1.Everything").unwrap();
    let message = DynamicMessage::deserialize(
        descriptor.clone(),
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
    )
    .unwrap();

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let rest = reqwest::Client::new();
    let url = format!("http://{address}/v1/echo");
    let path = http::uri::PathAndQuery::from_static("/library.v1.BookService/Echo");

    let mut grpc_call = async || {
        grpc.ready().await.unwrap();
        let codec = DynamicCodec {
            input: descriptor.clone(),
        };
        grpc.unary(tonic::Request::new(message.clone()), path.clone(), codec)
            .await
            .unwrap()
            .into_inner()
    };
    for _ in 0..1_000 {
        grpc_call().await;
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        grpc_call().await;
    }
    let grpc_time = start.elapsed();

    let rest_call = async || {
        let response = rest
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap()
    };
    for _ in 0..1_000 {
        rest_call().await;
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        rest_call().await;
    }
    let rest_time = start.elapsed();
    let per_call = |d: std::time::Duration| d.as_secs_f64() * 1e6 / f64::from(CALLS);
    println!(
        "socket: gRPC {:.2} µs/call, REST {:.2} µs/call, REST throughput = {:.2}× gRPC",
        per_call(grpc_time),
        per_call(rest_time),
        grpc_time.as_secs_f64() / rest_time.as_secs_f64()
    );
    server.abort();
}
