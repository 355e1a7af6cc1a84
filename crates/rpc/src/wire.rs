//! Conversions between domain values and the contracts' shared wire types: money as a decimal
//! string plus currency, time as `google.protobuf.Timestamp` (UTC).

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use wekeza_domain::Money;
use wekeza_proto::v1 as pb;

use crate::status::ApiError;

/// The wire form of an absolute amount: `{"amount":"150.00","currency":"KES"}`.
pub fn money(amount: Money) -> pb::Money {
    pb::Money {
        amount: amount.abs_decimal(),
        currency: amount.currency().code().to_owned(),
    }
}

/// Credit for zero or positive amounts, debit for negative ones.
pub fn indicator(amount: Money) -> pb::CreditDebitIndicator {
    if amount.is_negative() {
        pb::CreditDebitIndicator::Debit
    } else {
        pb::CreditDebitIndicator::Credit
    }
}

/// Parses a wire amount; `field` names it in the error.
pub fn parse_money(field: &str, wire: Option<&pb::Money>) -> Result<Money, ApiError> {
    let wire = wire.ok_or_else(|| ApiError::invalid_field(field, "is required"))?;
    Money::parse(&wire.amount, &wire.currency)
        .map_err(|error| ApiError::invalid_field(field, error.to_string()))
}

/// A UTC instant as a protobuf timestamp.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A protobuf timestamp as a UTC instant; `field` names it in the error.
pub fn parse_timestamp(field: &str, wire: &Timestamp) -> Result<DateTime<Utc>, ApiError> {
    u32::try_from(wire.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(wire.seconds, nanos))
        .ok_or_else(|| ApiError::invalid_field(field, "is not a valid timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wekeza_domain::Currency;

    #[test]
    fn money_and_time_round_trip() {
        let amount = Money::from_minor(-15_050, Currency::Kes);
        let wire = money(amount);
        assert_eq!(
            (wire.amount.as_str(), wire.currency.as_str()),
            ("150.50", "KES")
        );
        assert_eq!(indicator(amount), pb::CreditDebitIndicator::Debit);
        assert_eq!(
            parse_money("amount", Some(&wire)).map(Money::minor),
            Ok(15_050)
        );
        let at = DateTime::from_timestamp(1_800_000_000, 5).unwrap_or_default();
        assert_eq!(parse_timestamp("t", &timestamp(at)), Ok(at));
        let bad = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert!(parse_timestamp("t", &bad).is_err());
    }
}
