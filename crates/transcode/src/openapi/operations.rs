//! The operations of the document: one per route binding, with its OpenAPI path (`{field}` per
//! path variable, `:verb` kept), path and query parameters, request body, `200` response and the
//! shared problem+json `default` response. Paths OpenAPI would treat as equal are merged and
//! operation ids kept unique.

use std::collections::{HashMap, HashSet};

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::comments::join_text;
use super::schema::{PROBLEM_REF, Schemas, is_special_wkt};
use crate::descriptor::is_leaf;
use crate::routes::{Body, Route};
use crate::template::Segment;

/// Nested messages are flattened into dotted query parameters down to this depth.
const MAX_QUERY_DEPTH: usize = 4;

/// The operation object of `route` (without `security`, which is the caller's), given its
/// unique id and its path parameters.
pub(super) fn operation(
    schemas: &mut Schemas,
    route: &Route,
    operation_id: String,
    mut parameters: Vec<Value>,
) -> Map<String, Value> {
    parameters.extend(query_parameters(schemas, route));
    let mut operation = Map::new();
    operation.insert("operationId".into(), Value::String(operation_id));
    operation.insert("tags".into(), json!([route.rpc.parent_service().name()]));
    if let Some(text) = schemas
        .comments()
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
    if let Some(body) = request_body(schemas, route) {
        operation.insert("requestBody".into(), body);
    }
    let response_schema = match &route.response_body {
        Some(field) => schemas.field_schema(field),
        None => schemas.message_ref(&route.rpc.output()),
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
    operation
}

/// The OpenAPI path (`{field}` per variable, `:verb` kept) and its path parameters.
pub(super) fn path_parameters(schemas: &mut Schemas, route: &Route) -> (String, Vec<Value>) {
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
                .map(|leaf| schemas.kind_schema(leaf))
                .unwrap_or_else(|| json!({ "type": "string" }));
            let mut description = route
                .path_fields
                .get(var_index)
                .and_then(|chain| chain.last())
                .and_then(|leaf| schemas.field_comment(leaf))
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
pub(super) fn query_parameters(schemas: &mut Schemas, route: &Route) -> Vec<Value> {
    if matches!(route.body, Body::Whole) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut stack = Vec::new();
    flatten_query(
        schemas,
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
    schemas: &mut Schemas,
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
        let required = parents_required && schemas.is_required(&field);
        if is_leaf(&field) {
            let item = schemas.kind_schema(&field);
            let schema = if field.is_list() {
                json!({ "type": "array", "items": item })
            } else {
                item
            };
            let mut parameter = json!({ "name": name, "in": "query", "schema": schema });
            if required {
                parameter["required"] = Value::Bool(true);
            }
            if let Some(text) = schemas.field_comment(&field) {
                parameter["description"] = Value::String(text);
            }
            out.push(parameter);
        } else if let Kind::Message(child) = field.kind()
            && !field.is_list()
            && !is_special_wkt(child.full_name())
        {
            flatten_query(
                schemas,
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

fn request_body(schemas: &mut Schemas, route: &Route) -> Option<Value> {
    let (schema, required) = match &route.body {
        Body::None => return None,
        Body::Field(field) => (schemas.field_schema(field), schemas.is_required(field)),
        Body::Whole => {
            let input = route.rpc.input();
            let bound: Vec<u32> = route
                .bound
                .iter()
                .filter(|chain| chain.len() == 1)
                .filter_map(|chain| chain.first().copied())
                .collect();
            let required = input
                .fields()
                .any(|f| !bound.contains(&f.number()) && schemas.is_required(&f));
            let schema = if bound.is_empty() {
                schemas.message_ref(&input)
            } else {
                schemas.message_schema(&input, &bound)
            };
            (schema, required)
        }
    };
    Some(json!({
        "required": required,
        "content": { "application/json": { "schema": schema } },
    }))
}

/// OpenAPI treats `/v1/{a}` and `/v1/{b}` as the same path, which may not appear twice: a path
/// shaped like an earlier one takes its key, and its path parameters take that key's names in
/// order (the REST request is the same; each parameter's description names its field).
pub(super) fn same_shape_path(
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
pub(super) fn unique_id(taken: &mut HashSet<String>, route: &Route) -> String {
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
