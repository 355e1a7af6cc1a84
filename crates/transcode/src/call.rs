//! The tower service that answers REST: look the route up, build the request message, frame it
//! as a unary gRPC call (HTTP/2, `application/grpc`, `te: trailers`) carrying the forwarded
//! headers and the original request's extensions, send it through the gRPC router in-process,
//! and turn the reply (message or status, from headers or trailers) into JSON or problem+json.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message as _;
use prost_reflect::{DynamicMessage, SerializeOptions, Value};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tower::{BoxError, Service, ServiceExt};

use crate::problem::{Problems, Rejection, copy_metadata};
use crate::request::{self, RestRequest};
use crate::routes::{Lookup, Route, RouteTable};
use crate::template::SplitPath;

/// Everything a request needs, shared by every clone of the service.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The compiled routes, in matching order.
    pub(crate) table: RouteTable,
    /// Request headers copied into the gRPC metadata: credentials and proofs for the layers
    /// and services behind, idempotency keys, correlation ids.
    pub(crate) forward: Vec<HeaderName>,
    /// How problems are rendered (the `type` base).
    pub(crate) problems: Problems,
    /// Where a problem's `requestId` comes from: the reply's metadata, else the request.
    pub(crate) request_id_header: HeaderName,
    /// Bodies are read whole before decoding: this bounds what one request can make us hold.
    pub(crate) max_body_bytes: usize,
}

/// Answers REST requests by calling the wrapped gRPC service; see [`crate::Transcoder`].
///
/// Never fails: every error, including one from the gRPC service itself, is answered as
/// problem+json.
#[derive(Debug, Clone)]
pub struct TranscodeService<S> {
    shared: Arc<Shared>,
    grpc: S,
}

impl<S> TranscodeService<S> {
    pub(crate) fn new(shared: Arc<Shared>, grpc: S) -> Self {
        Self { shared, grpc }
    }
}

impl<S, B> Service<Request<Body>> for TranscodeService<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the gRPC service is awaited per call (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let grpc = self.grpc.clone();
        Box::pin(async move { Ok(handle(&shared, grpc, request).await) })
    }
}

async fn handle<S, B>(shared: &Shared, grpc: S, request: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<B>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    // Kept for problems only (a cheap clone: header values are shared bytes).
    let request_id = request.headers().get(&shared.request_id_header).cloned();
    let request_id = request_id.as_ref().and_then(|v| v.to_str().ok());
    match transcode(shared, grpc, request).await {
        Ok(response) => response,
        Err(Reply::Rejected(rejection)) => shared.problems.rejection(&rejection, request_id),
        Err(Reply::Status(status)) => {
            let id = status
                .metadata()
                .get(shared.request_id_header.as_str())
                .and_then(|v| v.to_str().ok())
                .or(request_id);
            shared.problems.response(&status, id)
        }
    }
}

/// Why a request did not produce a JSON reply.
enum Reply {
    /// Refused by the transcoder before any service was called.
    Rejected(Rejection),
    /// The gRPC call ended with a non-OK status (or could not be made).
    Status(Status),
}

impl From<Rejection> for Reply {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

async fn transcode<S, B>(
    shared: &Shared,
    grpc: S,
    request: Request<Body>,
) -> Result<Response<Body>, Reply>
where
    S: Service<Request<Body>, Response = Response<B>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let path = SplitPath::new(parts.uri.path()).ok_or_else(|| route_not_found(parts.uri.path()))?;
    let (route, captures) = match shared.table.lookup(&parts.method, &path) {
        Lookup::Found(route, captures) => (route, captures),
        Lookup::NotFound => return Err(route_not_found(parts.uri.path()).into()),
        Lookup::MethodNotAllowed(allow) => {
            let mut rejection = Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("{} is not allowed on {}", parts.method, parts.uri.path()),
            );
            rejection.allow = allow;
            return Err(rejection.into());
        }
    };

    let body = Limited::new(body, shared.max_body_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                Rejection::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BODY_TOO_LARGE",
                    format!("the request body exceeds {} bytes", shared.max_body_bytes),
                )
            } else {
                Rejection::new(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_BODY",
                    "the request body could not be read",
                )
            }
        })?
        .to_bytes();
    let message = request::build(
        route,
        &shared.table.requirements,
        &RestRequest {
            path: &path,
            captures: &captures,
            query: parts.uri.query(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            body: &body,
        },
    )?;

    let framed = frame(&message).ok_or_else(|| {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "the request message exceeds 4 GiB",
        )
    })?;
    let mut grpc_request = Request::new(Body::from(framed));
    *grpc_request.method_mut() = http::Method::POST;
    *grpc_request.uri_mut() = route.grpc_uri.clone();
    *grpc_request.version_mut() = Version::HTTP_2;
    let headers = grpc_request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    for name in &shared.forward {
        for value in parts.headers.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    // Identity (and anything else the layers in front attached) travels in the extensions.
    *grpc_request.extensions_mut() = parts.extensions;

    let response = grpc.oneshot(grpc_request).await.map_err(|e| {
        let error = e.into();
        tracing::error!(rpc = %route.info.rpc, %error, "the gRPC service failed");
        Reply::Status(Status::unavailable("the service is unavailable"))
    })?;
    reply(route, response).await
}

fn route_not_found(path: &str) -> Rejection {
    Rejection::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("no operation at {path}"),
    )
}

/// A gRPC length-prefixed message: flag 0 (uncompressed), big-endian u32 length, bytes.
/// `None` when the message is too long for the length prefix.
fn frame(message: &DynamicMessage) -> Option<Bytes> {
    let len = message.encoded_len();
    let prefix = u32::try_from(len).ok()?;
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    buf.put_u32(prefix);
    message.encode_raw(&mut buf);
    Some(buf.freeze())
}

async fn reply<B>(route: &Route, response: Response<B>) -> Result<Response<Body>, Reply>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(|e| {
        let error = e.into();
        tracing::error!(rpc = %route.info.rpc, %error, "the gRPC reply was cut");
        Reply::Status(Status::unavailable("the service's reply was cut"))
    })?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut data = collected.to_bytes();

    match status_code(&parts.headers, &trailers) {
        Some(Code::Ok) => {}
        Some(code) => return Err(Reply::Status(status_from(code, &parts.headers, &trailers))),
        None if parts.status != StatusCode::OK => {
            return Err(Reply::Status(http_to_status(parts.status)));
        }
        None => {
            return Err(Reply::Status(Status::internal(
                "the service's reply carried no grpc-status",
            )));
        }
    }

    let json = unframe(&mut data)
        .ok_or_else(|| "the reply is not one uncompressed gRPC message".to_owned())
        .and_then(|payload| {
            DynamicMessage::decode(route.rpc.output(), payload)
                .map_err(|e| format!("the reply does not decode: {e}"))
        })
        .and_then(|output| {
            to_json(route, &output).map_err(|e| format!("the reply cannot be written as JSON: {e}"))
        })
        .map_err(|error| {
            // A service bug, not the caller's: log it once, answer a bare INTERNAL.
            tracing::error!(rpc = %route.info.rpc, %error, "unusable gRPC reply");
            Reply::Status(Status::internal("internal error"))
        })?;
    let mut response = Response::new(Body::from(json));
    let headers = response.headers_mut();
    copy_metadata(&parts.headers, headers);
    copy_metadata(&trailers, headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// One uncompressed message and nothing after it.
fn unframe(data: &mut Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    data.advance(1);
    let len = usize::try_from(data.get_u32()).ok()?;
    (data.len() == len).then(|| data.split_to(len))
}

/// The proto3 JSON of the reply, or of its `response_body` field.
fn to_json(route: &Route, output: &DynamicMessage) -> Result<Vec<u8>, serde_json::Error> {
    let options = SerializeOptions::new()
        .use_proto_field_name(false)
        .stringify_64_bit_integers(true)
        .skip_default_fields(true)
        .use_enum_numbers(false);
    let mut serializer = serde_json::Serializer::new(Vec::with_capacity(256));
    match &route.response_body {
        None => output.serialize_with_options(&mut serializer, &options)?,
        Some(field) => match output.get_field(field).as_ref() {
            Value::Message(message) if !field.is_list() && !field.is_map() => {
                message.serialize_with_options(&mut serializer, &options)?;
            }
            value => {
                // Scalars, lists and maps have no standalone serializer: write a message holding
                // just this field (defaults included) and take the field's JSON out of it.
                let mut only = DynamicMessage::new(route.rpc.output());
                only.set_field(field, value.clone());
                let whole = only.serialize_with_options(
                    serde_json::value::Serializer,
                    &options.clone().skip_default_fields(false),
                )?;
                let inner = whole.get(field.json_name()).cloned().unwrap_or_default();
                return serde_json::to_vec(&inner);
            }
        },
    }
    Ok(serializer.into_inner())
}

/// The `grpc-status` of a reply: in the headers (trailers-only reply) or the trailers.
fn status_code(headers: &HeaderMap, trailers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .or_else(|| trailers.get("grpc-status"))
        .map(|v| Code::from_bytes(v.as_bytes()))
}

/// The full status of a failed reply: message, details and metadata from headers and trailers.
/// Unlike `tonic::Status::from_header_map`, a malformed details header cannot panic.
fn status_from(code: Code, headers: &HeaderMap, trailers: &HeaderMap) -> Status {
    let source = if headers.contains_key("grpc-status") {
        headers
    } else {
        trailers
    };
    let message = source
        .get("grpc-message")
        .map(|v| {
            crate::template::percent_decode(&String::from_utf8_lossy(v.as_bytes()), false)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let details = source
        .get("grpc-status-details-bin")
        .and_then(|v| crate::request::BASE64_STANDARD.decode(v.as_bytes()).ok())
        .unwrap_or_default();
    let mut metadata = HeaderMap::new();
    copy_metadata(headers, &mut metadata);
    copy_metadata(trailers, &mut metadata);
    Status::with_details_and_metadata(
        code,
        message,
        details.into(),
        MetadataMap::from_headers(metadata),
    )
}

/// A reply with no grpc-status but an HTTP error (e.g. a proxy in between): the gRPC spec's
/// HTTP → code table.
fn http_to_status(status: StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("the service answered HTTP {status}"))
}
