//! The OpenAPI 3.1 document, derived from the same descriptors as the routes: one operation per
//! binding, parameters from the path template and the unbound fields, request and response
//! schemas in the proto3 JSON mapping, descriptions from the proto comments, and one
//! problem+json error response shared by every operation.
//!
//! Security is the caller's: it supplies the security schemes and a hook that derives each
//! operation's requirements from the rpc (e.g. from its own method options).

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor,
};
use serde_json::{Map, Value, json};

use crate::problem::PROBLEM_JSON;
use crate::request::{has_behavior, is_leaf, is_required, is_scalar_wkt};
use crate::routes::{Body, Route, RouteTable};
use crate::template::Segment;

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

/// `google.api.FieldBehavior` values the schemas reflect.
const OUTPUT_ONLY: i32 = 3;
const INPUT_ONLY: i32 = 4;

/// Nested messages are flattened into dotted query parameters down to this depth.
const MAX_QUERY_DEPTH: usize = 4;

const PROBLEM_REF: &str = "#/components/responses/Problem";

/// Builds the document.
pub(crate) fn generate(table: &RouteTable, pool: &DescriptorPool, info: &OpenApiInfo) -> Value {
    let mut generator = Generator {
        comments: Comments::new(pool),
        behavior: table.field_behavior.clone(),
        schemas: BTreeMap::new(),
        pending: Vec::new(),
    };
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
            if let Some(text) = generator
                .comments
                .get(service.parent_file().name(), service.path())
            {
                tag["description"] = Value::String(text);
            }
            tag
        });
        let (path, mut parameters) = generator.path_parameters(route);
        let path = same_shape_path(&mut shapes, path, &mut parameters);
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
        parameters.extend(generator.query_parameters(route));
        let operation_id = unique_id(&mut operation_ids, route);
        let mut operation = Map::new();
        operation.insert("operationId".into(), Value::String(operation_id));
        operation.insert("tags".into(), json!([service.name()]));
        if let Some(text) = generator
            .comments
            .get(route.rpc.parent_file().name(), route.rpc.path())
        {
            let summary = text
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .replace('\n', " ");
            let summary = summary.trim().to_owned();
            if summary != text {
                operation.insert("description".into(), Value::String(text));
            }
            operation.insert("summary".into(), Value::String(summary));
        }
        if route
            .rpc
            .method_descriptor_proto()
            .options
            .as_ref()
            .and_then(|o| o.deprecated)
            == Some(true)
        {
            operation.insert("deprecated".into(), Value::Bool(true));
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(body) = generator.request_body(route) {
            operation.insert("requestBody".into(), body);
        }
        let response_schema = match &route.response_body {
            Some(field) => generator.field_schema(field),
            None => generator.message_ref(&route.rpc.output()),
        };
        operation.insert(
            "responses".into(),
            json!({
                "200": {
                    "description": "OK",
                    "content": { "application/json": { "schema": response_schema } },
                },
                "default": { "$ref": PROBLEM_REF },
            }),
        );
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
    generator.drain();

    let mut schemas: Map<String, Value> = generator.schemas.into_iter().collect();
    schemas.insert("Problem".into(), problem_schema());
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
            "schemas": schemas,
            "responses": {
                "Problem": {
                    "description": "An error, as RFC 9457 problem details.",
                    "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } },
                },
            },
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

/// OpenAPI treats `/v1/{a}` and `/v1/{b}` as the same path, which may not appear twice: a path
/// shaped like an earlier one takes its key, and its path parameters take that key's names in
/// order (the REST request is the same; each parameter's description names its field).
fn same_shape_path(
    shapes: &mut HashMap<String, String>,
    path: String,
    parameters: &mut [Value],
) -> String {
    let shape = |p: &str| {
        let mut out = String::new();
        let mut in_param = false;
        for c in p.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    };
    let key = shapes
        .entry(shape(&path))
        .or_insert_with(|| path.clone())
        .clone();
    if key != path {
        let names = key
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split('}').next());
        let path_parameters = parameters.iter_mut().filter(|p| p["in"] == "path");
        for (parameter, name) in path_parameters.zip(names) {
            let field = parameter["name"].as_str().unwrap_or_default().to_owned();
            if field != name {
                let note = format!("Binds field `{field}`.");
                let description = parameter["description"].as_str().unwrap_or_default();
                parameter["description"] = Value::String(join_text(&note, description));
                parameter["name"] = Value::String(name.to_owned());
            }
        }
    }
    key
}

/// `GetBook`, else `BookService_GetBook`, else `BookService_GetBook_2`, …
fn unique_id(taken: &mut HashSet<String>, route: &Route) -> String {
    let name = route.rpc.name();
    let qualified = format!("{}_{name}", route.rpc.parent_service().name());
    let mut candidate = name.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = if n == 2 {
            qualified.clone()
        } else {
            format!("{qualified}_{}", n - 1)
        };
    }
    taken.insert(candidate.clone());
    candidate
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail", "reason"],
        "properties": {
            "type": { "type": "string", "format": "uri", "description": "Identifies the kind of problem; one per reason." },
            "title": { "type": "string", "description": "The HTTP status's reason phrase." },
            "status": { "type": "integer", "description": "The HTTP status code." },
            "detail": { "type": "string", "description": "What went wrong, for a developer." },
            "reason": { "type": "string", "description": "Stable machine-readable reason (UPPER_SNAKE_CASE)." },
            "requestId": { "type": "string", "description": "The request id, for support." },
            "errors": {
                "type": "array",
                "description": "Field-level problems.",
                "items": {
                    "type": "object",
                    "required": ["field", "description"],
                    "properties": {
                        "field": { "type": "string", "description": "Dotted path of the field (proto names)." },
                        "description": { "type": "string" },
                        "reason": { "type": "string" },
                    },
                },
            },
        },
    })
}

/// Leading (else trailing) comments of every element, by file and source path.
struct Comments {
    by_location: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut by_location = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            for location in &info.location {
                let text = location
                    .leading_comments
                    .as_deref()
                    .or(location.trailing_comments.as_deref())
                    .map(clean_comment)
                    .filter(|t| !t.is_empty());
                if let Some(text) = text {
                    by_location.insert((file.name().to_owned(), location.path.clone()), text);
                }
            }
        }
        Self { by_location }
    }

    fn get(&self, file: &str, path: &[i32]) -> Option<String> {
        self.by_location
            .get(&(file.to_owned(), path.to_vec()))
            .cloned()
    }
}

/// Strips the common indentation and surrounding blank lines of a proto comment.
fn clean_comment(raw: &str) -> String {
    let lines: Vec<&str> = raw.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    text.join("\n").trim().to_owned()
}

/// Either kind of schema component.
enum Named {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

struct Generator {
    comments: Comments,
    behavior: Option<ExtensionDescriptor>,
    /// Components by full proto name.
    schemas: BTreeMap<String, Value>,
    /// Referenced types whose component is not written yet.
    pending: Vec<Named>,
}

impl Generator {
    /// The OpenAPI path (`{field}` per variable, `:verb` kept) and its path parameters.
    fn path_parameters(&mut self, route: &Route) -> (String, Vec<Value>) {
        let template = &route.template;
        let mut path = String::new();
        let mut parameters = Vec::new();
        let mut index = 0;
        let mut wildcard = 0;
        while index < template.segments.len() {
            path.push('/');
            if let Some((var_index, var)) = template
                .variables
                .iter()
                .enumerate()
                .find(|(_, v)| v.start == index)
            {
                let name = var.field_path.join(".");
                path.push_str(&format!("{{{name}}}"));
                let spans = &template.segments[var.start..var.end];
                let mut schema = route
                    .path_fields
                    .get(var_index)
                    .and_then(|chain| chain.last())
                    .map(|leaf| self.kind_schema(leaf))
                    .unwrap_or_else(|| json!({ "type": "string" }));
                let mut description = route
                    .path_fields
                    .get(var_index)
                    .and_then(|chain| chain.last())
                    .and_then(|leaf| self.field_comment(leaf))
                    .unwrap_or_default();
                if spans != [Segment::Single] {
                    if spans != [Segment::Multi] {
                        let pattern: Vec<String> = spans
                            .iter()
                            .map(|s| match s {
                                Segment::Literal(l) => regex_escape(l),
                                Segment::Single => "[^/]+".into(),
                                Segment::Multi => ".*".into(),
                            })
                            .collect();
                        schema["pattern"] = Value::String(format!("^{}$", pattern.join("/")));
                    }
                    let shape: Vec<String> = spans
                        .iter()
                        .map(|s| match s {
                            Segment::Literal(l) => l.clone(),
                            Segment::Single => "*".into(),
                            Segment::Multi => "**".into(),
                        })
                        .collect();
                    let note = format!(
                        "Spans several path segments (`{}`): send its `/` unencoded.",
                        shape.join("/")
                    );
                    description = join_text(&description, &note);
                }
                let mut parameter = json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": schema,
                });
                if !description.is_empty() {
                    parameter["description"] = Value::String(description);
                }
                parameters.push(parameter);
                index = var.end;
                continue;
            }
            match &template.segments[index] {
                Segment::Literal(literal) => path.push_str(literal),
                wildcard_segment => {
                    wildcard += 1;
                    let name = format!("wildcard{wildcard}");
                    path.push_str(&format!("{{{name}}}"));
                    let note = if *wildcard_segment == Segment::Multi {
                        "Any remaining path segments (not bound to a field)."
                    } else {
                        "Any single path segment (not bound to a field)."
                    };
                    parameters.push(json!({
                        "name": name, "in": "path", "required": true,
                        "schema": { "type": "string" }, "description": note,
                    }));
                }
            }
            index += 1;
        }
        if let Some(verb) = &template.verb {
            path.push(':');
            path.push_str(verb);
        }
        (path, parameters)
    }

    /// Query parameters: every leaf field not bound by the path or the body, nested messages
    /// flattened with dots. None when the body takes the whole message.
    fn query_parameters(&mut self, route: &Route) -> Vec<Value> {
        if matches!(route.body, Body::Whole) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut stack = Vec::new();
        self.flatten_query(
            route,
            &route.rpc.input(),
            "",
            &[],
            true,
            &mut stack,
            &mut out,
        );
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn flatten_query(
        &mut self,
        route: &Route,
        message: &MessageDescriptor,
        prefix: &str,
        numbers: &[u32],
        parents_required: bool,
        stack: &mut Vec<String>,
        out: &mut Vec<Value>,
    ) {
        if stack.len() >= MAX_QUERY_DEPTH || stack.iter().any(|m| m == message.full_name()) {
            return;
        }
        stack.push(message.full_name().to_owned());
        for field in message.fields() {
            let mut chain = numbers.to_vec();
            chain.push(field.number());
            if field.is_map() || route.bound.iter().any(|b| chain.starts_with(b)) {
                continue;
            }
            let name = format!("{prefix}{}", field.json_name());
            let required = parents_required && is_required(&field, self.behavior.as_ref());
            if is_leaf(&field) {
                let item = self.kind_schema(&field);
                let schema = if field.is_list() {
                    json!({ "type": "array", "items": item })
                } else {
                    item
                };
                let mut parameter = json!({ "name": name, "in": "query", "schema": schema });
                if required {
                    parameter["required"] = Value::Bool(true);
                }
                if let Some(text) = self.field_comment(&field) {
                    parameter["description"] = Value::String(text);
                }
                out.push(parameter);
            } else if let Kind::Message(child) = field.kind()
                && !field.is_list()
                && !is_special_wkt(child.full_name())
            {
                self.flatten_query(
                    route,
                    &child,
                    &format!("{name}."),
                    &chain,
                    required,
                    stack,
                    out,
                );
            }
        }
        stack.pop();
    }

    fn request_body(&mut self, route: &Route) -> Option<Value> {
        let (schema, required) = match &route.body {
            Body::None => return None,
            Body::Field(field) => (
                self.field_schema(field),
                is_required(field, self.behavior.as_ref()),
            ),
            Body::Whole => {
                let input = route.rpc.input();
                let bound: Vec<u32> = route
                    .bound
                    .iter()
                    .filter(|chain| chain.len() == 1)
                    .filter_map(|chain| chain.first().copied())
                    .collect();
                let required = input.fields().any(|f| {
                    !bound.contains(&f.number()) && is_required(&f, self.behavior.as_ref())
                });
                let schema = if bound.is_empty() {
                    self.message_ref(&input)
                } else {
                    self.message_schema(&input, &bound)
                };
                (schema, required)
            }
        };
        Some(json!({
            "required": required,
            "content": { "application/json": { "schema": schema } },
        }))
    }

    fn field_comment(&self, field: &FieldDescriptor) -> Option<String> {
        self.comments.get(field.parent_file().name(), field.path())
    }

    /// The schema of a message: its fields as JSON (lowerCamelCase) properties, without the
    /// top-level fields numbered in `skip`.
    fn message_schema(&mut self, message: &MessageDescriptor, skip: &[u32]) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            if skip.contains(&field.number()) {
                continue;
            }
            let mut schema = self.field_schema(&field);
            let mut description = self.field_comment(&field).unwrap_or_default();
            if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
                let members: Vec<String> = oneof
                    .fields()
                    .map(|f| format!("`{}`", f.json_name()))
                    .collect();
                description = join_text(
                    &description,
                    &format!(
                        "Part of oneof `{}`: at most one of {} is set.",
                        oneof.name(),
                        members.join(", ")
                    ),
                );
            }
            if !description.is_empty() {
                schema["description"] = Value::String(description);
            }
            if has_behavior(&field, self.behavior.as_ref(), OUTPUT_ONLY) {
                schema["readOnly"] = Value::Bool(true);
            }
            if has_behavior(&field, self.behavior.as_ref(), INPUT_ONLY) {
                schema["writeOnly"] = Value::Bool(true);
            }
            if field
                .field_descriptor_proto()
                .options
                .as_ref()
                .and_then(|o| o.deprecated)
                == Some(true)
            {
                schema["deprecated"] = Value::Bool(true);
            }
            if is_required(&field, self.behavior.as_ref()) {
                required.push(Value::String(field.json_name().to_owned()));
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if let Some(text) = self
            .comments
            .get(message.parent_file().name(), message.path())
        {
            schema["description"] = Value::String(text);
        }
        schema
    }

    /// The schema of a field: repeated → array, map → object with `additionalProperties`.
    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let value = self.kind_schema(&entry.map_entry_value_field());
            return json!({ "type": "object", "additionalProperties": value });
        }
        let item = self.kind_schema(field);
        if field.is_list() {
            json!({ "type": "array", "items": item })
        } else {
            item
        }
    }

    /// The schema of one value of the field's type (proto3 JSON mapping).
    fn kind_schema(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Double => json!({ "type": "number", "format": "double" }),
            Kind::Float => json!({ "type": "number", "format": "float" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "uint32", "minimum": 0 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" })
            }
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => {
                json!({ "type": "string", "format": "byte", "contentEncoding": "base64" })
            }
            Kind::Enum(enumeration) if enumeration.full_name() == "google.protobuf.NullValue" => {
                json!({ "type": "null" })
            }
            Kind::Enum(enumeration) => {
                let reference = format!("#/components/schemas/{}", enumeration.full_name());
                if !self.schemas.contains_key(enumeration.full_name()) {
                    self.pending.push(Named::Enum(enumeration));
                }
                json!({ "$ref": reference })
            }
            Kind::Message(message) => self.message_ref(&message),
        }
    }

    /// A well-known type's inline schema, or a `$ref` to the message's component.
    fn message_ref(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = wkt_schema(message.full_name()) {
            return schema;
        }
        if !self.schemas.contains_key(message.full_name()) {
            self.pending.push(Named::Message(message.clone()));
        }
        json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) })
    }

    /// Writes the component of every referenced type (which may reference more).
    fn drain(&mut self) {
        while let Some(named) = self.pending.pop() {
            match named {
                Named::Message(message) => {
                    if self.schemas.contains_key(message.full_name()) {
                        continue;
                    }
                    // Placeholder first: recursive messages reference themselves.
                    self.schemas
                        .insert(message.full_name().to_owned(), Value::Null);
                    let schema = self.message_schema(&message, &[]);
                    self.schemas.insert(message.full_name().to_owned(), schema);
                }
                Named::Enum(enumeration) => {
                    if self.schemas.contains_key(enumeration.full_name()) {
                        continue;
                    }
                    let names: Vec<String> =
                        enumeration.values().map(|v| v.name().to_owned()).collect();
                    let mut schema = json!({ "type": "string", "enum": names });
                    let mut description = self
                        .comments
                        .get(enumeration.parent_file().name(), enumeration.path())
                        .unwrap_or_default();
                    let documented: Vec<String> = enumeration
                        .values()
                        .filter_map(|v| {
                            let text = self.comments.get(v.parent_file().name(), v.path())?;
                            Some(format!("- `{}`: {}", v.name(), text.replace('\n', " ")))
                        })
                        .collect();
                    if !documented.is_empty() {
                        description = join_text(&description, &documented.join("\n"));
                    }
                    if !description.is_empty() {
                        schema["description"] = Value::String(description);
                    }
                    self.schemas
                        .insert(enumeration.full_name().to_owned(), schema);
                }
            }
        }
    }
}

/// Well-known types that are neither scalars nor worth flattening into query parameters.
fn is_special_wkt(full_name: &str) -> bool {
    is_scalar_wkt(full_name) || wkt_schema(full_name).is_some()
}

/// Inline schemas of the well-known types (their special JSON forms).
fn wkt_schema(full_name: &str) -> Option<Value> {
    let nullable = |t: &str| json!({ "type": [t, "null"] });
    Some(match full_name {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => json!({
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
            "description": "A duration in seconds with up to nine fractional digits, suffixed `s` (e.g. `1.5s`).",
        }),
        "google.protobuf.FieldMask" => json!({
            "type": "string",
            "description": "Comma-separated field paths (lowerCamelCase).",
        }),
        "google.protobuf.Struct" => json!({ "type": "object", "additionalProperties": true }),
        "google.protobuf.Value" => json!({ "description": "Any JSON value." }),
        "google.protobuf.ListValue" => json!({ "type": "array", "items": {} }),
        "google.protobuf.Empty" => json!({ "type": "object" }),
        "google.protobuf.Any" => json!({
            "type": "object",
            "required": ["@type"],
            "properties": { "@type": { "type": "string" } },
            "additionalProperties": true,
        }),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => nullable("number"),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => nullable("integer"),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "null"], "format": "int64" })
        }
        "google.protobuf.BoolValue" => nullable("boolean"),
        "google.protobuf.StringValue" => nullable("string"),
        "google.protobuf.BytesValue" => json!({ "type": ["string", "null"], "format": "byte" }),
        _ => return None,
    })
}

fn join_text(first: &str, second: &str) -> String {
    if first.is_empty() {
        second.to_owned()
    } else {
        format!("{first}\n\n{second}")
    }
}

fn regex_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
