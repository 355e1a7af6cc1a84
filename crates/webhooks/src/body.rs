//! The body of a delivery: the event envelope (`wekeza.openbanking.v1.Event`) in proto3 JSON,
//! written as the REST API writes messages — lowerCamelCase names, enums by name, 64-bit
//! integers as strings, default values left out.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

/// The full name of the envelope message.
const EVENT: &str = "wekeza.openbanking.v1.Event";

/// Why an event could not be written as JSON.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The contracts compiled into the binary lack the envelope (a build defect).
    #[error("the contracts hold no {EVENT}")]
    NoDescriptor,
    /// The stored event does not decode.
    #[error("the event does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// JSON serialisation failed.
    #[error("the event cannot be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The envelope's descriptor, from the contracts compiled into the binary.
static DESCRIPTOR: LazyLock<Option<MessageDescriptor>> = LazyLock::new(|| {
    DescriptorPool::decode(wekeza_proto::FILE_DESCRIPTOR_SET)
        .ok()?
        .get_message_by_name(EVENT)
});

/// The proto3 JSON of the encoded event `payload`.
pub fn json(payload: &[u8]) -> Result<Vec<u8>, BodyError> {
    let descriptor = DESCRIPTOR.clone().ok_or(BodyError::NoDescriptor)?;
    let event = DynamicMessage::decode(descriptor, payload)?;
    let options = SerializeOptions::new()
        .use_proto_field_name(false)
        .stringify_64_bit_integers(true)
        .skip_default_fields(true)
        .use_enum_numbers(false);
    let mut serializer = serde_json::Serializer::new(Vec::with_capacity(512));
    event.serialize_with_options(&mut serializer, &options)?;
    Ok(serializer.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use prost::Message;
    use wekeza_proto::v1 as pb;

    use super::*;

    #[test]
    fn writes_the_envelope_as_the_rest_api_does() {
        let event = pb::Event {
            event_id: "evt_1".into(),
            r#type: "payment.status_changed".into(),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_790_000_000,
                nanos: 0,
            }),
            payload: Some(pb::event::Payload::PaymentStatusChanged(
                pb::PaymentStatusChanged {
                    payment_id: "pay_1".into(),
                    status: pb::PaymentStatus::AcceptedSettlementCompleted.into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&json(&event.encode_to_vec()).unwrap()).unwrap();
        assert_eq!(json["eventId"], "evt_1");
        assert_eq!(json["type"], "payment.status_changed");
        assert_eq!(json["createTime"], "2026-09-21T14:13:20Z");
        assert_eq!(json["paymentStatusChanged"]["paymentId"], "pay_1");
        assert_eq!(
            json["paymentStatusChanged"]["status"],
            "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED"
        );
    }

    #[test]
    fn refuses_bytes_that_are_no_event() {
        assert!(matches!(json(&[0xff, 0xff]), Err(BodyError::Decode(_))));
    }
}
