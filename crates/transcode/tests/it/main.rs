//! Integration tests of the transcoder against a real tonic gRPC service for the test-only
//! `library.v1` contract (tests/proto), in-process and through a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod bench;
mod build;
mod errors;
mod headers;
mod json;
mod openapi;
mod routing;
mod socket;
mod support;
