//! Building the gRPC request message from a REST request: the JSON body (proto3 JSON mapping),
//! then query parameters, then path variables (which win), then the check that every
//! `(google.api.field_behavior) = REQUIRED` field is set.
//!
//! Every failure is a [`Rejection`] (400, or 415 for a body not declared
//! `Content-Type: application/json`): bad input never panics and never reaches a service.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::StatusCode;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use serde_json::error::Category;

use crate::descriptor::{Requirements, is_leaf, is_scalar_wkt};
use crate::problem::Rejection;
use crate::routes::{Body, Route};
use crate::template::{Capture, SplitPath};

/// The parts of a REST request the message is built from.
pub(crate) struct RestRequest<'a> {
    pub(crate) path: &'a SplitPath<'a>,
    pub(crate) captures: &'a [Capture],
    pub(crate) query: Option<&'a str>,
    pub(crate) content_type: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
}

/// Builds the request message for `route`; see the module doc for the merge order.
pub(crate) fn build(
    route: &Route,
    requirements: &Requirements,
    rest: &RestRequest<'_>,
) -> Result<DynamicMessage, Rejection> {
    let input = route.rpc.input();
    let mut message = body_message(route, &input, rest)?;
    if let Some(query) = rest.query {
        apply_query(route, &input, &mut message, query)?;
    }
    for (i, (capture, chain)) in rest.captures.iter().zip(&route.path_fields).enumerate() {
        let name = field_path_text(chain);
        let raw = route.template.decode(i, rest.path, *capture).map_err(|e| {
            Rejection::invalid(format!("path variable `{name}`: {e}"))
                .with_error(&name, e.to_string())
        })?;
        let Some(leaf) = chain.last() else { continue };
        let value = parse_leaf(leaf, &raw).map_err(|e| {
            Rejection::invalid(format!("path variable `{name}`: {e}")).with_error(&name, e)
        })?;
        set_chain(&mut message, chain, value)
            .map_err(|e| Rejection::invalid(e).with_error(&name, "cannot be set"))?;
    }
    if let Some(index) = route.required {
        let missing = requirements.missing(index, &message);
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|m| m.field.as_str()).collect();
            let mut rejection = Rejection::new(
                StatusCode::BAD_REQUEST,
                "MISSING_FIELD",
                format!("required fields are missing: {}", names.join(", ")),
            );
            rejection.errors = missing;
            return Err(rejection);
        }
    }
    Ok(message)
}

fn field_path_text(chain: &[FieldDescriptor]) -> String {
    let names: Vec<&str> = chain.iter().map(FieldDescriptor::name).collect();
    names.join(".")
}

fn deserialize_options() -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(true)
}

fn body_message(
    route: &Route,
    input: &MessageDescriptor,
    rest: &RestRequest<'_>,
) -> Result<DynamicMessage, Rejection> {
    let body = rest.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DynamicMessage::new(input.clone()));
    }
    if matches!(route.body, Body::None) {
        return Err(Rejection::invalid(format!(
            "`{} {}` takes no request body",
            route.info.method, route.info.path
        )));
    }
    if !rest.content_type.is_some_and(is_json) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body must be declared Content-Type: application/json",
        ));
    }
    match &route.body {
        Body::Field(field) => {
            let mut message = DynamicMessage::new(input.clone());
            let value = match field.kind() {
                Kind::Message(field_type) if !field.is_list() && !field.is_map() => {
                    Value::Message(decode_json(field_type, body)?)
                }
                _ => {
                    // A scalar, repeated or map body: decode `{ "<field>": <body> }` instead.
                    let value: serde_json::Value =
                        serde_json::from_slice(body).map_err(json_rejection)?;
                    let mut wrapper = serde_json::Map::new();
                    wrapper.insert(field.name().to_owned(), value);
                    let decoded = DynamicMessage::deserialize_with_options(
                        input.clone(),
                        serde_json::Value::Object(wrapper),
                        &deserialize_options(),
                    )
                    .map_err(json_rejection)?;
                    decoded.get_field(field).into_owned()
                }
            };
            message.set_field(field, value);
            Ok(message)
        }
        _ => decode_json(input.clone(), body),
    }
}

/// Whether a body declared `content_type` is JSON: `application/json`, with parameters or
/// not (`; charset=utf-8`). Nothing else is, not even another `+json` type: a body that does
/// not say it is JSON (no `Content-Type`, `application/grpc-web+json`, a form) is not read as
/// JSON.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/json")
}

fn decode_json(descriptor: MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Rejection> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        &mut deserializer,
        &deserialize_options(),
    )
    .map_err(json_rejection)?;
    deserializer.end().map_err(json_rejection)?;
    Ok(message)
}

/// Sorts a JSON error into MALFORMED_BODY (not JSON), UNKNOWN_FIELD or INVALID_REQUEST (JSON of
/// the wrong shape or type).
fn json_rejection(error: serde_json::Error) -> Rejection {
    match error.classify() {
        Category::Data => {
            let text = error.to_string();
            let unknown = text
                .strip_prefix("unrecognized field name '")
                .and_then(|rest| rest.split_once('\''))
                .map(|(name, _)| name.to_owned());
            match unknown {
                Some(name) => Rejection::new(
                    StatusCode::BAD_REQUEST,
                    "UNKNOWN_FIELD",
                    format!("unknown field `{name}`"),
                )
                .with_error(name, "unknown field"),
                None => Rejection::invalid(format!("invalid request body: {text}")),
            }
        }
        Category::Syntax | Category::Eof | Category::Io => Rejection::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_BODY",
            format!("the request body is not valid JSON: {error}"),
        ),
    }
}

fn apply_query(
    route: &Route,
    input: &MessageDescriptor,
    message: &mut DynamicMessage,
    query: &str,
) -> Result<(), Rejection> {
    let mut seen: Vec<Vec<u32>> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decode(raw_key).ok_or_else(|| {
            Rejection::invalid("a query parameter name is not valid percent-encoding")
        })?;
        let value = form_decode(raw_value).ok_or_else(|| {
            Rejection::invalid(format!(
                "query parameter `{key}` is not valid percent-encoding"
            ))
            .with_error(&key, "invalid percent-encoding")
        })?;
        let chain = resolve_query_key(input, &key)?;
        let numbers: Vec<u32> = chain.iter().map(FieldDescriptor::number).collect();
        if matches!(route.body, Body::Whole) || route.bound.iter().any(|b| numbers.starts_with(b)) {
            return Err(Rejection::invalid(format!(
                "query parameter `{key}` is not allowed: the field is bound by the path or the body"
            ))
            .with_error(&key, "bound by the path or the body"));
        }
        let Some(leaf) = chain.last() else { continue };
        if !leaf.is_list() {
            if seen.contains(&numbers) {
                return Err(
                    Rejection::invalid(format!("query parameter `{key}` is given twice"))
                        .with_error(&key, "not a repeated field"),
                );
            }
            seen.push(numbers);
        }
        let parsed = parse_leaf(leaf, &value).map_err(|e| {
            Rejection::invalid(format!("query parameter `{key}`: {e}")).with_error(&key, e)
        })?;
        if let Some(oneof) = leaf.containing_oneof().filter(|o| !o.is_synthetic()) {
            let parent = parent_of(message, &chain);
            if let Some(other) = oneof
                .fields()
                .find(|f| f != leaf && parent.is_some_and(|p| p.has_field(f)))
            {
                return Err(Rejection::invalid(format!(
                    "query parameter `{key}`: `{}` of the same oneof is already set",
                    other.name()
                ))
                .with_error(&key, "another field of the oneof is set"));
            }
        }
        set_chain(message, &chain, parsed)
            .map_err(|e| Rejection::invalid(e).with_error(&key, "cannot be set"))?;
    }
    Ok(())
}

/// The message holding the chain's last field, if the chain's parents are set.
fn parent_of<'m>(
    message: &'m DynamicMessage,
    chain: &[FieldDescriptor],
) -> Option<&'m DynamicMessage> {
    let mut current = message;
    for field in chain
        .split_last()
        .map(|(_, parents)| parents)
        .unwrap_or_default()
    {
        if !current.has_field(field) {
            return None;
        }
        current = match current.get_field(field) {
            std::borrow::Cow::Borrowed(Value::Message(m)) => m,
            _ => return None,
        };
    }
    Some(current)
}

/// Resolves `a.b.c` (proto or JSON names) to a chain ending in a leaf field.
fn resolve_query_key(
    input: &MessageDescriptor,
    key: &str,
) -> Result<Vec<FieldDescriptor>, Rejection> {
    let unknown = || {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            "UNKNOWN_FIELD",
            format!("unknown query parameter `{key}`"),
        )
        .with_error(key, "unknown field")
    };
    let not_settable = |why: &str| {
        Rejection::invalid(format!("query parameter `{key}` {why}")).with_error(key, why)
    };
    let mut chain = Vec::new();
    let mut message = input.clone();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = message
            .get_field_by_name(part)
            .or_else(|| message.get_field_by_json_name(part))
            .ok_or_else(unknown)?;
        let last = parts.peek().is_none();
        if field.is_map() {
            return Err(not_settable("is a map and cannot be set from the query"));
        }
        match field.kind() {
            Kind::Message(next)
                if !last && !is_scalar_wkt(next.full_name()) && !field.is_list() =>
            {
                message = next;
            }
            _ if last && is_leaf(&field) => {}
            _ if last => {
                return Err(not_settable(
                    "is a message and cannot be set from the query",
                ));
            }
            _ => return Err(unknown()),
        }
        chain.push(field);
    }
    Ok(chain)
}

/// `application/x-www-form-urlencoded` decoding of one key or value (`+` is a space).
fn form_decode(raw: &str) -> Option<String> {
    if raw.contains('+') {
        crate::template::percent_decode(&raw.replace('+', " "), false).ok()
    } else {
        crate::template::percent_decode(raw, false).ok()
    }
}

/// Sets (or, for a repeated leaf, appends) `value` at `chain`, creating parent messages.
fn set_chain(
    message: &mut DynamicMessage,
    chain: &[FieldDescriptor],
    value: Value,
) -> Result<(), String> {
    let Some((leaf, parents)) = chain.split_last() else {
        return Ok(());
    };
    let mut target = message;
    for field in parents {
        target = target
            .get_field_mut(field)
            .as_message_mut()
            .ok_or_else(|| format!("`{}` is not a message", field.name()))?;
    }
    if leaf.is_list() {
        target
            .get_field_mut(leaf)
            .as_list_mut()
            .ok_or_else(|| format!("`{}` is not a list", leaf.name()))?
            .push(value);
    } else {
        target.set_field(leaf, value);
    }
    Ok(())
}

/// Standard or URL-safe base64, padding optional (proto3 JSON accepts both alphabets).
pub(crate) const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses a path or query value into the value of a leaf field (its proto3 JSON string form).
fn parse_leaf(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    fn number<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, String> {
        raw.parse()
            .map_err(|_| format!("`{raw}` is not a valid {what}"))
    }
    Ok(match field.kind() {
        Kind::Double => Value::F64(number(raw, "number")?),
        Kind::Float => Value::F32(number(raw, "number")?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(number(raw, "32-bit integer")?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(number(raw, "64-bit integer")?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(number(raw, "unsigned 32-bit integer")?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(number(raw, "unsigned 64-bit integer")?),
        Kind::Bool => match raw {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(format!("`{raw}` is not a boolean (true or false)")),
        },
        Kind::String => Value::String(raw.to_owned()),
        Kind::Bytes => Value::Bytes(
            BASE64_STANDARD
                .decode(raw)
                .or_else(|_| BASE64_URL_SAFE.decode(raw))
                .map_err(|_| format!("`{raw}` is not base64"))?
                .into(),
        ),
        Kind::Enum(enumeration) => {
            match enumeration.get_value_by_name(raw) {
                Some(value) => Value::EnumNumber(value.number()),
                None => Value::EnumNumber(raw.parse().map_err(|_| {
                    format!("`{raw}` is not a value of {}", enumeration.full_name())
                })?),
            }
        }
        Kind::Message(message) => {
            let as_string = serde_json::Value::String(raw.to_owned());
            let decoded =
                DynamicMessage::deserialize(message.clone(), as_string).or_else(|first| {
                    // Wrappers of numbers and booleans take the bare JSON literal.
                    match serde_json::from_str::<serde_json::Value>(raw) {
                        Ok(literal) if !literal.is_string() => {
                            DynamicMessage::deserialize(message, literal)
                        }
                        _ => Err(first),
                    }
                });
            Value::Message(decoded.map_err(|e| format!("`{raw}` is not valid: {e}"))?)
        }
    })
}
