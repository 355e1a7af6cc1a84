//! The OpenAPI 3.1 document, derived from the same descriptors as the routes: one operation per
//! binding, parameters from the path template and the unbound fields, request and response
//! schemas in the proto3 JSON mapping, descriptions from the proto comments, and one
//! problem+json error response shared by every operation.
//!
//! Security is the caller's: it supplies the security schemes and a hook that derives each
//! operation's requirements from the rpc (e.g. from its own method options).
//!
//! # Layout
//! - this module: [`OpenApiInfo`] and the document's assembly (tags, paths, components).
//! - `operations`: one operation per binding — path, parameters, request body, responses.
//! - `schema`: the components — messages and enums in the proto3 JSON mapping, the
//!   well-known types, `Problem`.
//! - `comments`: proto comments → descriptions.

mod comments;
mod operations;
mod schema;

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{DescriptorPool, MethodDescriptor};
use serde_json::{Map, Value, json};

use crate::routes::{Route, RouteTable};
use comments::Comments;
use schema::Schemas;

/// One OpenAPI security requirement: scheme name → scopes.
pub type SecurityRequirement = BTreeMap<String, Vec<String>>;

type SecurityHook = Box<dyn Fn(&MethodDescriptor) -> Vec<SecurityRequirement> + Send + Sync>;

/// What the document says about the API as a whole, and how operations are secured.
pub struct OpenApiInfo {
    title: String,
    version: String,
    description: Option<String>,
    servers: Vec<String>,
    security_schemes: Map<String, Value>,
    security: Option<SecurityHook>,
}

impl std::fmt::Debug for OpenApiInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApiInfo")
            .field("title", &self.title)
            .field("version", &self.version)
            .field("servers", &self.servers)
            .field("security_schemes", &self.security_schemes)
            .finish_non_exhaustive()
    }
}

impl OpenApiInfo {
    /// `info.title` and `info.version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            description: None,
            servers: Vec::new(),
            security_schemes: Map::new(),
            security: None,
        }
    }

    /// `info.description` (CommonMark).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a server URL.
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }

    /// Adds `components.securitySchemes[name]` (an OpenAPI Security Scheme Object).
    pub fn security_scheme(mut self, name: impl Into<String>, scheme: Value) -> Self {
        self.security_schemes.insert(name.into(), scheme);
        self
    }

    /// Derives each operation's `security` from its rpc. An empty list leaves it out.
    pub fn security(
        mut self,
        hook: impl Fn(&MethodDescriptor) -> Vec<SecurityRequirement> + Send + Sync + 'static,
    ) -> Self {
        self.security = Some(Box::new(hook));
        self
    }
}

/// Builds the document.
pub(crate) fn generate(table: &RouteTable, pool: &DescriptorPool, info: &OpenApiInfo) -> Value {
    let mut schemas = Schemas::new(Comments::new(pool), table.field_behavior.clone());
    let mut routes: Vec<&Route> = table.routes.iter().collect();
    routes.sort_by_key(|r| r.declared);

    let mut paths: Map<String, Value> = Map::new();
    let mut operation_ids: HashSet<String> = HashSet::new();
    let mut tags: BTreeMap<String, Value> = BTreeMap::new();
    let mut shapes: HashMap<String, String> = HashMap::new();
    for route in routes {
        let service = route.rpc.parent_service();
        tags.entry(service.name().to_owned()).or_insert_with(|| {
            let mut tag = json!({ "name": service.name() });
            if let Some(text) = schemas
                .comments()
                .get(service.parent_file().name(), service.path())
            {
                tag["description"] = Value::String(text);
            }
            tag
        });
        let (path, mut parameters) = operations::path_parameters(&mut schemas, route);
        let path = operations::same_shape_path(&mut shapes, path, &mut parameters);
        let method = route.info.method.as_str().to_ascii_lowercase();
        let item = paths
            .entry(path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if item.get(&method).is_some() {
            tracing::warn!(
                rpc = %route.info.rpc,
                path = %route.info.path,
                "two bindings render to the same OpenAPI path and method; the later one is left out"
            );
            continue;
        }
        let operation_id = operations::unique_id(&mut operation_ids, route);
        let mut operation = operations::operation(&mut schemas, route, operation_id, parameters);
        if let Some(hook) = &info.security {
            let requirements = hook(&route.rpc);
            if !requirements.is_empty() {
                operation.insert("security".into(), json!(requirements));
            }
        }
        if let Some(item) = item.as_object_mut() {
            item.insert(method, Value::Object(operation));
        }
    }

    let mut info_object = json!({ "title": info.title, "version": info.version });
    if let Some(description) = &info.description {
        info_object["description"] = Value::String(description.clone());
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": info_object,
        "tags": tags.into_values().collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas.into_components(),
            "responses": { "Problem": schema::problem_response() },
        },
    });
    if !info.servers.is_empty() {
        document["servers"] = info
            .servers
            .iter()
            .map(|url| json!({ "url": url }))
            .collect();
    }
    if !info.security_schemes.is_empty() {
        document["components"]["securitySchemes"] = Value::Object(info.security_schemes.clone());
    }
    document
}
