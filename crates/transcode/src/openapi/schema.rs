//! The schemas of the document: the proto3 JSON mapping of every message and enum an operation
//! references, written once each as a component (`#/components/schemas/<full proto name>`),
//! the well-known types inline, and the problem+json error shared by every operation.

use std::collections::BTreeMap;

use prost_reflect::{
    EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
};
use serde_json::{Map, Value, json};

use super::comments::{Comments, join_text};
use crate::descriptor::{has_behavior, is_required, is_scalar_wkt};
use crate::problem::PROBLEM_JSON;

/// `google.api.FieldBehavior` values the schemas reflect.
const OUTPUT_ONLY: i32 = 3;
const INPUT_ONLY: i32 = 4;

/// The shared error response every operation refers to.
pub(super) const PROBLEM_REF: &str = "#/components/responses/Problem";

/// Either kind of schema component.
enum Named {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

/// The components written so far and the types still to write; also what the operations ask
/// about fields (their comments, their `google.api.field_behavior`).
pub(super) struct Schemas {
    comments: Comments,
    behavior: Option<ExtensionDescriptor>,
    /// Components by full proto name.
    components: BTreeMap<String, Value>,
    /// Referenced types whose component is not written yet.
    pending: Vec<Named>,
}

impl Schemas {
    /// No components yet; descriptions from `comments`, field behaviours read through
    /// `behavior` (the `google.api.field_behavior` extension, if the pool has it).
    pub(super) fn new(comments: Comments, behavior: Option<ExtensionDescriptor>) -> Self {
        Self {
            comments,
            behavior,
            components: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    /// The proto comments, for descriptions outside the schemas (tags, operations).
    pub(super) fn comments(&self) -> &Comments {
        &self.comments
    }

    /// The `google.api.field_behavior` extension, if the pool has it.
    pub(super) fn behavior(&self) -> Option<&ExtensionDescriptor> {
        self.behavior.as_ref()
    }

    /// True when `field` is `(google.api.field_behavior) = REQUIRED`.
    pub(super) fn is_required(&self, field: &FieldDescriptor) -> bool {
        is_required(field, self.behavior())
    }

    /// The comment of a field, as a description.
    pub(super) fn field_comment(&self, field: &FieldDescriptor) -> Option<String> {
        self.comments.get(field.parent_file().name(), field.path())
    }

    /// The schema of a message: its fields as JSON (lowerCamelCase) properties, without the
    /// top-level fields numbered in `skip`.
    pub(super) fn message_schema(&mut self, message: &MessageDescriptor, skip: &[u32]) -> Value {
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
            if has_behavior(&field, self.behavior(), OUTPUT_ONLY) {
                schema["readOnly"] = Value::Bool(true);
            }
            if has_behavior(&field, self.behavior(), INPUT_ONLY) {
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
            if self.is_required(&field) {
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
    pub(super) fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
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
    pub(super) fn kind_schema(&mut self, field: &FieldDescriptor) -> Value {
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
                if !self.components.contains_key(enumeration.full_name()) {
                    self.pending.push(Named::Enum(enumeration));
                }
                json!({ "$ref": reference })
            }
            Kind::Message(message) => self.message_ref(&message),
        }
    }

    /// A well-known type's inline schema, or a `$ref` to the message's component.
    pub(super) fn message_ref(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = wkt_schema(message.full_name()) {
            return schema;
        }
        if !self.components.contains_key(message.full_name()) {
            self.pending.push(Named::Message(message.clone()));
        }
        json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) })
    }

    /// Writes the component of every referenced type (which may reference more).
    fn drain(&mut self) {
        while let Some(named) = self.pending.pop() {
            match named {
                Named::Message(message) => {
                    if self.components.contains_key(message.full_name()) {
                        continue;
                    }
                    // Placeholder first: recursive messages reference themselves.
                    self.components
                        .insert(message.full_name().to_owned(), Value::Null);
                    let schema = self.message_schema(&message, &[]);
                    self.components
                        .insert(message.full_name().to_owned(), schema);
                }
                Named::Enum(enumeration) => {
                    if self.components.contains_key(enumeration.full_name()) {
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
                    self.components
                        .insert(enumeration.full_name().to_owned(), schema);
                }
            }
        }
    }

    /// Every component: the referenced types (written now, with what they reference in turn)
    /// and `Problem`.
    pub(super) fn into_components(mut self) -> Map<String, Value> {
        self.drain();
        let mut components: Map<String, Value> = self.components.into_iter().collect();
        components.insert("Problem".into(), problem_schema());
        components
    }
}

/// The `Problem` response component: problem+json with the `Problem` schema.
pub(super) fn problem_response() -> Value {
    json!({
        "description": "An error, as RFC 9457 problem details.",
        "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } },
    })
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

/// Well-known types that are neither scalars nor worth flattening into query parameters.
pub(super) fn is_special_wkt(full_name: &str) -> bool {
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
