//! What the descriptors say about fields, independent of any one request: which fields a path
//! or query value can set (scalars and the scalar well-known types), which carry a
//! `google.api.field_behavior`, and the precomputed table of REQUIRED fields every input message
//! must have set ([`Requirements`]).
//!
//! Route building, request building and the OpenAPI generator all ask these questions, so they
//! live here, below all three.

use std::collections::HashMap;

use prost_reflect::{
    DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value,
};

use crate::problem::FieldError;

/// `google.api.FieldBehavior.REQUIRED`.
const REQUIRED: i32 = 2;

/// Well-known types whose JSON form is a string or a scalar, so a path or query value can set
/// them (`from_booking_time=2026-01-01T00:00:00Z`).
pub(crate) fn is_scalar_wkt(full_name: &str) -> bool {
    matches!(
        full_name,
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// True when a path or query value can set `field` (ignoring repetition).
pub(crate) fn is_leaf(field: &FieldDescriptor) -> bool {
    match field.kind() {
        Kind::Message(message) => is_scalar_wkt(message.full_name()),
        _ => true,
    }
}

/// True when `field` carries `(google.api.field_behavior) = REQUIRED`.
pub(crate) fn is_required(field: &FieldDescriptor, behavior: Option<&ExtensionDescriptor>) -> bool {
    has_behavior(field, behavior, REQUIRED)
}

/// True when `field` carries the given `google.api.FieldBehavior` number.
pub(crate) fn has_behavior(
    field: &FieldDescriptor,
    behavior: Option<&ExtensionDescriptor>,
    wanted: i32,
) -> bool {
    let Some(behavior) = behavior else {
        return false;
    };
    let options = field.options();
    if !options.has_extension(behavior) {
        return false;
    }
    match options.get_extension(behavior).as_ref() {
        Value::List(values) => values.iter().any(|v| v.as_enum_number() == Some(wanted)),
        Value::EnumNumber(n) => *n == wanted,
        _ => false,
    }
}

/// The REQUIRED fields of one message type, and the message fields to descend into.
#[derive(Debug, Default)]
struct MessageRequirements {
    required: Vec<FieldDescriptor>,
    /// Message-typed fields (singular, repeated or map values) whose type has requirements.
    nested: Vec<(FieldDescriptor, usize)>,
}

/// REQUIRED-field checks for every input message, precomputed so a request walks indexes, not
/// names. Only message types that (transitively) contain a REQUIRED field get an entry.
#[derive(Debug, Default)]
pub(crate) struct Requirements {
    messages: Vec<MessageRequirements>,
}

/// The message type a field holds, looking through maps to their value.
fn message_of(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(message) if field.is_map() => match message.map_entry_value_field().kind() {
            Kind::Message(value) => Some(value),
            _ => None,
        },
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

impl Requirements {
    /// Builds the table for `roots` (route input types); returns it with the index of every
    /// message type that has an entry, by full name (used once per route at build time).
    pub(crate) fn build(
        roots: impl Iterator<Item = MessageDescriptor>,
        behavior: Option<&ExtensionDescriptor>,
    ) -> (Self, HashMap<String, usize>) {
        // Every message reachable from the roots.
        let mut reachable: Vec<MessageDescriptor> = Vec::new();
        let mut stack: Vec<MessageDescriptor> = roots.collect();
        while let Some(message) = stack.pop() {
            if reachable.contains(&message) {
                continue;
            }
            stack.extend(message.fields().filter_map(|f| message_of(&f)));
            reachable.push(message);
        }
        // Fixed point: a message needs checking if it has a REQUIRED field or a field whose
        // type needs checking.
        let mut needs: Vec<bool> = reachable
            .iter()
            .map(|m| m.fields().any(|f| is_required(&f, behavior)))
            .collect();
        loop {
            let mut changed = false;
            for (i, message) in reachable.iter().enumerate() {
                if needs[i] {
                    continue;
                }
                let child_needs = message
                    .fields()
                    .filter_map(|f| message_of(&f))
                    .any(|child| {
                        reachable
                            .iter()
                            .position(|m| *m == child)
                            .is_some_and(|j| needs[j])
                    });
                if child_needs {
                    needs[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut index = HashMap::new();
        let kept: Vec<&MessageDescriptor> = reachable
            .iter()
            .zip(&needs)
            .filter_map(|(m, needed)| needed.then_some(m))
            .collect();
        for (i, message) in kept.iter().enumerate() {
            index.insert(message.full_name().to_owned(), i);
        }
        let messages = kept
            .iter()
            .map(|message| MessageRequirements {
                required: message
                    .fields()
                    .filter(|f| is_required(f, behavior))
                    .collect(),
                nested: message
                    .fields()
                    .filter_map(|f| {
                        let child = message_of(&f)?;
                        let at = index.get(child.full_name())?;
                        Some((f, *at))
                    })
                    .collect(),
            })
            .collect();
        (Self { messages }, index)
    }

    /// Every REQUIRED field left unset in `message` (of the type at `index`), as field paths.
    pub(crate) fn missing(&self, index: usize, message: &DynamicMessage) -> Vec<FieldError> {
        let mut missing = Vec::new();
        self.walk(index, message, "", &mut missing);
        missing
    }

    fn walk(
        &self,
        index: usize,
        message: &DynamicMessage,
        prefix: &str,
        out: &mut Vec<FieldError>,
    ) {
        let Some(entry) = self.messages.get(index) else {
            return;
        };
        for field in &entry.required {
            if !message.has_field(field) {
                out.push(FieldError::new(
                    format!("{prefix}{}", field.name()),
                    "required field is missing",
                ));
            }
        }
        for (field, child) in &entry.nested {
            if !message.has_field(field) {
                continue;
            }
            let name = field.name();
            match message.get_field(field).as_ref() {
                Value::Message(m) => self.walk(*child, m, &format!("{prefix}{name}."), out),
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(m) = item.as_message() {
                            self.walk(*child, m, &format!("{prefix}{name}[{i}]."), out);
                        }
                    }
                }
                Value::Map(entries) => {
                    for (key, item) in entries {
                        if let Some(m) = item.as_message() {
                            let key = map_key_text(key);
                            self.walk(*child, m, &format!("{prefix}{name}[{key}]."), out);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn map_key_text(key: &prost_reflect::MapKey) -> String {
    use prost_reflect::MapKey;
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}
