//! Assertions shared by the test modules.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts a status has `code` and carries `reason` as its ErrorInfo reason.
#[track_caller]
pub fn assert_reason(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    let details = status.get_error_details();
    let actual = details.error_info().map(|info| info.reason.clone());
    assert_eq!(actual.as_deref(), Some(reason), "{status:?}");
}

/// The fields a status's `google.rpc.BadRequest` names, in order.
pub fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The path of a test tool `make test` installs into `.tools/venv/bin` (grpcurl, schemathesis,
/// python with openapi-spec-validator): from `env_var` when set, else the bundled one. A missing
/// tool fails the test — it is never skipped.
pub fn tool(env_var: &str, name: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| {
        let bundled = format!(
            "{}/../../.tools/venv/bin/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(
            std::path::Path::new(&bundled).exists(),
            "{name} is not installed: run `make test` (it installs the test tools into .tools/)"
        );
        bundled
    })
}

/// Runs a tool to completion off the async runtime (the server under test keeps serving).
pub async fn run_tool(program: String, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap()
}

/// A Wekeza server the tests talk to over HTTP: the in-process [`TestServer`], or the `wekeza`
/// binary running as its own process ([`crate::process::ServerProcess`]).
pub trait Api {
    /// `http://127.0.0.1:<port>` of its public listener.
    fn base_url(&self) -> &str;
    /// The client to call it with.
    fn http(&self) -> &reqwest::Client;
}

impl Api for wekeza_testkit::TestServer {
    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// A REST route of the served services, with its rpc's descriptor and `(access)` policy.
pub struct RestRoute {
    /// The route as the transcoder serves it.
    pub route: wekeza_transcode::RouteInfo,
    /// The rpc it calls.
    pub rpc: prost_reflect::MethodDescriptor,
    /// The rpc's access policy (every served rpc has one).
    pub policy: wekeza_gateway::policy::RpcPolicy,
}

impl RestRoute {
    /// The path's variables (`{consent_id}`, `{endpoint.endpoint_id}`, `{name=…}`), in order.
    pub fn variables(&self) -> Vec<&str> {
        self.route
            .path
            .split('{')
            .skip(1)
            .filter_map(|part| part.split(['}', '=']).next())
            .collect()
    }

    /// The path and query of a request carrying every REQUIRED field, the path's variables
    /// given by `value`, and its JSON body (when the route takes one). `body: "*"` takes the
    /// whole message; `body: "<field>"` that field, the other fields going to the query.
    pub fn request(&self, value: impl Fn(&str) -> String) -> (String, Option<serde_json::Value>) {
        let variables = self.variables();
        let top: Vec<&str> = variables
            .iter()
            .filter_map(|variable| variable.split('.').next())
            .collect();
        let path = fill_path(&self.route.path, value);
        let mut body = required_body(&self.rpc.input(), &top);
        let Some(field) = self.route.body.as_deref() else {
            // No body: the REQUIRED fields go to the query.
            let fields = body.as_object().unwrap();
            if fields.is_empty() {
                return (path, None);
            }
            return (format!("{path}?{}", query(fields)), None);
        };
        if field == "*" {
            return (path, Some(body));
        }
        let fields = body.as_object_mut().unwrap();
        let json_name = self
            .rpc
            .input()
            .get_field_by_name(field)
            .unwrap()
            .json_name()
            .to_owned();
        let inner = fields
            .remove(&json_name)
            .unwrap_or_else(|| serde_json::json!({}));
        if fields.is_empty() {
            return (path, Some(inner));
        }
        (format!("{path}?{}", query(fields)), Some(inner))
    }
}

/// `fields` (strings) as a query string.
fn query(fields: &serde_json::Map<String, serde_json::Value>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned())),
        )
        .finish()
}

/// Every REST route of the services the server serves.
pub fn rest_routes() -> Vec<RestRoute> {
    let access = wekeza_gateway::policy::AccessTable::from_descriptors(
        wekeza_proto::FILE_DESCRIPTOR_SET,
        true,
    )
    .unwrap();
    let transcoder = wekeza_server::rest::transcoder(&wekeza_server::app::SERVED).unwrap();
    transcoder
        .routes()
        .map(|route| {
            let (service, method) = route.rpc.rsplit_once('.').unwrap();
            let rpc = transcoder
                .pool()
                .get_service_by_name(service)
                .and_then(|service| service.methods().find(|m| m.name() == method))
                .unwrap();
            let policy = access
                .get(&format!("/{service}/{method}"))
                .flatten()
                .unwrap_or_else(|| panic!("{} has no access policy", route.rpc))
                .clone();
            RestRoute {
                route: route.clone(),
                rpc,
                policy,
            }
        })
        .collect()
}

/// `google.api.field_behavior`'s REQUIRED.
const REQUIRED: i32 = 2;

/// A JSON body holding every REQUIRED field of `message` not bound in the path, with a
/// well-formed placeholder, so that a request is judged on its credentials or its ids, not its
/// shape (the transcoder checks REQUIRED fields before the call reaches the policy).
pub fn required_body(
    message: &prost_reflect::MessageDescriptor,
    in_path: &[&str],
) -> serde_json::Value {
    use prost_reflect::Kind;
    use serde_json::json;
    let behavior = message
        .parent_pool()
        .get_extension_by_name("google.api.field_behavior")
        .unwrap();
    let mut body = serde_json::Map::new();
    for field in message.fields() {
        let options = field.options();
        let required = options
            .get_extension(&behavior)
            .as_list()
            .is_some_and(|list| list.iter().any(|v| v.as_enum_number() == Some(REQUIRED)));
        if !required || in_path.contains(&field.name()) {
            continue;
        }
        let value = match field.kind() {
            Kind::Enum(kind) => json!(kind.values().nth(1).unwrap().name()),
            Kind::Message(inner) => match inner.full_name() {
                "google.protobuf.Timestamp" => json!("2026-01-01T00:00:00Z"),
                "google.protobuf.FieldMask" => json!("description"),
                _ => required_body(&inner, &[]),
            },
            Kind::String => json!("x"),
            Kind::Bool => json!(true),
            _ => json!(1),
        };
        let value = if field.is_list() {
            json!([value])
        } else {
            value
        };
        body.insert(field.json_name().to_owned(), value);
    }
    serde_json::Value::Object(body)
}

/// `template` with every `{variable}` (or `{variable=pattern}`) replaced by `value(variable)`,
/// percent-encoded.
pub fn fill_path(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        path.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let variable = rest[start + 1..end].split('=').next().unwrap();
        path.extend(url::form_urlencoded::byte_serialize(
            value(variable).as_bytes(),
        ));
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    path
}
