//! Building the route table: descriptor sets that must be refused, and ones with no rules.

use std::path::Path;

use axum::body::Body;
use http::Request;
use tower::ServiceExt;
use wekeza_transcode::{BuildError, Transcoder};

use crate::support::{LibraryGrpc, read};

fn compile(file: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proto");
    let mut compiler = protox::Compiler::new([&root]).unwrap();
    compiler.include_imports(true);
    compiler.open_files([file]).unwrap();
    compiler.encode_file_descriptor_set()
}

fn build(file: &str) -> Result<Transcoder, BuildError> {
    Transcoder::from_descriptor_set(&compile(file))
}

#[test]
fn broken_rules_are_refused_at_build_time() {
    let error = build("invalid/conflict.proto").unwrap_err();
    assert!(matches!(error, BuildError::Conflict { .. }), "{error}");
    assert!(
        error.to_string().contains("/v1/things/{inner.x}"),
        "{error}"
    );

    for (file, words) in [
        ("invalid/unknown_field.proto", "no field `nope`"),
        ("invalid/message_variable.proto", "not a scalar"),
        ("invalid/repeated_variable.proto", "repeated"),
        ("invalid/bad_body.proto", "body field `nope`"),
        (
            "invalid/bad_response_body.proto",
            "response_body field `nope`",
        ),
        ("invalid/streaming.proto", "streaming"),
        ("invalid/nested_bindings.proto", "cannot nest"),
        ("invalid/bad_custom.proto", "not an HTTP method"),
    ] {
        let error = build(file).unwrap_err();
        assert!(matches!(error, BuildError::Rule { .. }), "{file}: {error}");
        assert!(error.to_string().contains(words), "{file}: {error}");
        assert!(
            error.to_string().starts_with("invalid.v1.S.A"),
            "{file}: {error}"
        );
    }
    let error = build("invalid/bad_template.proto").unwrap_err();
    assert!(matches!(error, BuildError::Template { .. }), "{error}");

    let error = Transcoder::from_descriptor_set(b"\x0a\x03bad").unwrap_err();
    assert!(matches!(error, BuildError::Descriptor(_)), "{error}");
}

#[tokio::test]
async fn no_rules_means_no_routes() {
    for file in ["invalid/no_rules.proto", "google/protobuf/empty.proto"] {
        let transcoder = build(file).unwrap();
        assert_eq!(transcoder.routes().count(), 0);
        let reply = read(
            transcoder
                .into_service(LibraryGrpc::new())
                .oneshot(Request::get("/v1/things").body(Body::empty()).unwrap())
                .await
                .unwrap(),
        )
        .await;
        reply.problem(404, "ROUTE_NOT_FOUND");
    }
}
