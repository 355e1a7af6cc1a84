//! Test support: the `library.v1` descriptor set compiled with protox, a real tonic gRPC
//! service for it built on `DynamicMessage` (no codegen), and a harness that sends REST
//! requests through the transcoder to it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions, Value};
use serde_json::json;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Service, ServiceExt};
use wekeza_transcode::{TranscodeService, Transcoder};

/// The compiled `tests/proto` tree, with source info and the google.api extensions.
pub fn descriptor_set() -> &'static [u8] {
    static SET: OnceLock<Vec<u8>> = OnceLock::new();
    SET.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proto");
        let mut compiler = protox::Compiler::new([&root]).unwrap();
        compiler.include_source_info(true).include_imports(true);
        compiler.open_files(["library/v1/library.proto"]).unwrap();
        compiler.encode_file_descriptor_set()
    })
}

pub fn pool() -> DescriptorPool {
    DescriptorPool::decode(descriptor_set()).unwrap()
}

pub fn transcoder() -> Transcoder {
    Transcoder::from_descriptor_set(descriptor_set()).unwrap()
}

/// What a tower layer in front of the transcoder attaches: the caller's identity.
#[derive(Debug, Clone)]
pub struct Identity(pub String);

/// One call as the gRPC service saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request message, proto3 JSON with proto field names and defaults omitted.
    pub request: serde_json::Value,
    pub metadata: HeaderMap,
    pub version: http::Version,
}

pub type Recorder = Arc<Mutex<Vec<Seen>>>;

// === impl DynamicCodec ===

/// A tonic codec for `DynamicMessage` (tonic-prost's needs `Default`, which it lacks).
#[derive(Clone)]
pub struct DynamicCodec {
    /// The type the decoder reads (requests on a server, replies on a client).
    pub input: prost_reflect::MessageDescriptor,
}

pub struct DynamicEncoder;
pub struct DynamicDecoder(prost_reflect::MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.input.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

// === impl LibraryGrpc ===

/// The `library.v1.BookService` gRPC service, answering through tonic's server machinery.
#[derive(Clone)]
pub struct LibraryGrpc {
    methods: Arc<HashMap<String, MethodDescriptor>>,
    pub recorder: Recorder,
}

impl LibraryGrpc {
    pub fn new() -> Self {
        let pool = pool();
        let mut methods = HashMap::new();
        for service in pool.services() {
            for method in service.methods() {
                methods.insert(
                    format!("/{}/{}", service.full_name(), method.name()),
                    method,
                );
            }
        }
        Self {
            methods: Arc::new(methods),
            recorder: Recorder::default(),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<Body>> for LibraryGrpc {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = self.methods.get(request.uri().path()).cloned();
        let recorder = self.recorder.clone();
        Box::pin(async move {
            let Some(method) = method else {
                return Ok(Status::unimplemented("no such method").into_http());
            };
            let version = request.version();
            let codec = DynamicCodec {
                input: method.input(),
            };
            let handler = tower::service_fn(move |request: tonic::Request<DynamicMessage>| {
                let result = handle(&method, &recorder, version, request);
                async move { result }
            });
            Ok(tonic::server::Grpc::new(codec)
                .unary(handler, request)
                .await)
        })
    }
}

fn to_proto_json(message: &DynamicMessage) -> serde_json::Value {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().use_proto_field_name(true),
        )
        .unwrap()
}

fn from_json(
    descriptor: prost_reflect::MessageDescriptor,
    value: serde_json::Value,
) -> DynamicMessage {
    DynamicMessage::deserialize(descriptor, value).unwrap()
}

fn handle(
    method: &MethodDescriptor,
    recorder: &Recorder,
    version: http::Version,
    request: tonic::Request<DynamicMessage>,
) -> Result<tonic::Response<DynamicMessage>, Status> {
    let identity = request.extensions().get::<Identity>().map(|i| i.0.clone());
    let metadata = request.metadata().clone().into_headers();
    let message = request.into_inner();
    let received = to_proto_json(&message);
    recorder.lock().unwrap().push(Seen {
        method: method.name().to_owned(),
        request: received.clone(),
        metadata: metadata.clone(),
        version,
    });
    let output = method.output();
    let reply = match method.name() {
        "Echo" => message,
        "Fail" => return Err(failure(&received)),
        "Whoami" => {
            let metadata: serde_json::Map<String, serde_json::Value> = metadata
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), json!(v.to_str().ok()?))))
                .collect();
            let mut response = tonic::Response::new(from_json(
                output,
                json!({ "identity": identity.unwrap_or_default(), "metadata": metadata }),
            ));
            response
                .metadata_mut()
                .insert("x-served-by", "library".parse().unwrap());
            response
                .metadata_mut()
                .insert("x-request-id", "from-service".parse().unwrap());
            return Ok(response);
        }
        "ListBooks" => from_json(
            output,
            json!({
                "books": [{ "name": "shelves/1/books/1", "title": "One", "pages": "12345678901234" }],
                "next_page_token": "next",
                "received": received.to_string(),
            }),
        ),
        "GetShelf" | "GetShelfTitle" | "GetShelfTags" | "GetSpecialShelf" => {
            let id = received
                .get("shelf_id")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            from_json(
                output,
                json!({ "id": id, "title": format!("Shelf {}", id.as_str().unwrap_or("special")), "tags": ["a", "b"] }),
            )
        }
        "ResetLibrary" => from_json(output, json!({ "removed": 3 })),
        "DeleteBook" => from_json(output, json!({})),
        "GetFile" => from_json(
            output,
            json!({ "path": received["path"], "content": "aGk=" }),
        ),
        _ => {
            // Everything returning a Book: the request's book, else a book named after it.
            if let Some(Value::Message(book)) =
                message.get_field_by_name("book").map(|v| v.into_owned())
            {
                book
            } else {
                from_json(
                    output,
                    json!({
                        "name": received.get("name").cloned().unwrap_or(json!("shelves/1/books/1")),
                        "title": "A Book",
                        "pages": "1234567890123",
                        "genre": "FICTION",
                        "written": "2026-01-01T00:00:00Z",
                        "author": { "display_name": "Ann" },
                    }),
                )
            }
        }
    };
    Ok(tonic::Response::new(reply))
}

/// `Fail`: a status with the requested code, ErrorInfo, BadRequest and metadata.
fn failure(request: &serde_json::Value) -> Status {
    let code = Code::from_i32(request["code"].as_i64().unwrap_or(2) as i32);
    let message = request["message"].as_str().unwrap_or_default();
    let mut details = ErrorDetails::new();
    if let Some(reason) = request["reason"].as_str() {
        details.set_error_info(reason, "library.example", HashMap::new());
    }
    if let Some(violations) = request["violations"].as_object() {
        let mut violations: Vec<_> = violations.iter().collect();
        violations.sort_by_key(|(k, _)| k.as_str());
        for (field, description) in violations {
            details.add_bad_request_violation(
                field.as_str(),
                description.as_str().unwrap_or_default(),
            );
        }
    }
    let mut status = Status::with_error_details(code, message, details);
    if let Some(metadata) = request["metadata"].as_object() {
        for (key, value) in metadata {
            let key = tonic::metadata::MetadataKey::from_bytes(key.as_bytes()).unwrap();
            status
                .metadata_mut()
                .insert(key, value.as_str().unwrap_or_default().parse().unwrap());
        }
    }
    status
}

/// A bare echo gRPC service (no recording), for measuring the transcoder's own cost.
pub fn echo_grpc() -> impl Service<
    Request<Body>,
    Response = Response<tonic::body::Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    let input = pool().get_message_by_name("library.v1.Everything").unwrap();
    tower::service_fn(move |request: Request<Body>| {
        let codec = DynamicCodec {
            input: input.clone(),
        };
        async move {
            let echo = tower::service_fn(|request: tonic::Request<DynamicMessage>| async move {
                Ok::<_, Status>(tonic::Response::new(request.into_inner()))
            });
            Ok::<_, Infallible>(tonic::server::Grpc::new(codec).unary(echo, request).await)
        }
    })
}

// === impl Harness ===

/// A REST reply, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a problem+json reply with this status and reason; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, reason: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let problem = self.json();
        assert_eq!(problem["reason"], reason, "{problem}");
        assert_eq!(problem["status"], status);
        assert_eq!(
            problem["type"],
            format!(
                "https://docs.wekeza.dev/errors/{}",
                reason.to_ascii_lowercase()
            )
        );
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{problem}"
        );
        problem
    }

    /// Asserts a 200 JSON reply; returns the JSON.
    #[track_caller]
    pub fn ok(&self) -> serde_json::Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert_eq!(self.headers["content-type"], "application/json");
        self.json()
    }
}

/// The transcoder in front of a fresh [`LibraryGrpc`].
pub struct Harness {
    pub service: TranscodeService<LibraryGrpc>,
    pub recorder: Recorder,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(|t| t)
    }

    pub fn with(configure: impl FnOnce(Transcoder) -> Transcoder) -> Self {
        let grpc = LibraryGrpc::new();
        let recorder = grpc.recorder.clone();
        Self {
            service: configure(transcoder()).into_service(grpc),
            recorder,
        }
    }

    /// The last request the gRPC service received.
    pub fn seen(&self) -> Seen {
        self.recorder
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the service was not called")
    }

    pub fn calls(&self) -> usize {
        self.recorder.lock().unwrap().len()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        read(self.service.clone().oneshot(request).await.unwrap()).await
    }

    pub async fn call(&self, method: Method, uri: &str, body: Option<&str>) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let body = body
            .map(|b| Body::from(b.to_owned()))
            .unwrap_or_else(Body::empty);
        self.send(builder.body(body).unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: &str) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }
}

pub async fn read(response: Response<Body>) -> Reply {
    let (parts, body) = response.into_parts();
    let bytes: Bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

// === impl RawReply ===

/// A hand-made gRPC reply (data then trailers), for replies tonic would never produce.
pub struct RawBody {
    pub data: Option<Bytes>,
    pub trailers: Option<HeaderMap>,
}

impl http_body::Body for RawBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        )
    }
}

/// A gRPC "service" that answers every call with `make()`.
pub fn raw_grpc(
    make: impl Fn() -> Response<RawBody> + Clone + Send + Sync + 'static,
) -> impl Service<Request<Body>, Response = Response<RawBody>, Error = Infallible, Future = impl Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(move |_request: Request<Body>| {
        let response = make();
        async move { Ok::<_, Infallible>(response) }
    })
}

/// A framed gRPC message.
pub fn frame(message: &DynamicMessage) -> Bytes {
    let payload = message.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(&payload);
    Bytes::from(framed)
}
