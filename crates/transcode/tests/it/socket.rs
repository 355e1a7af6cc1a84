//! The transcoder and the gRPC service on one real listener, called with a real HTTP client.

use axum::Router;
use serde_json::json;

use crate::support::{LibraryGrpc, transcoder};

#[tokio::test]
async fn rest_through_a_socket() {
    let grpc = LibraryGrpc::new();
    // As the server does: gRPC paths go to the gRPC service, everything else to the transcoder.
    let app = Router::new()
        .route_service("/library.v1.BookService/{method}", grpc.clone())
        .fallback_service(transcoder().into_service(grpc));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let book: serde_json::Value = client
        .get(format!("{base}/v1/shelves/1/books/2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(book["name"], "shelves/1/books/2");
    assert_eq!(book["pages"], "1234567890123");

    let response = client
        .post(format!("{base}/v1/echo"))
        .json(&json!({ "int64Value": 5, "genre": "FICTION" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({ "int64Value": "5", "genre": "FICTION" })
    );

    let response = client
        .delete(format!("{base}/v1/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST, GET");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let response = client
        .post(format!("{base}/v1/fail"))
        .header("content-type", "application/json")
        .body(r#"{"code":5,"message":"gone","reason":"BOOK_NOT_FOUND"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["reason"], "BOOK_NOT_FOUND");

    server.abort();
}
