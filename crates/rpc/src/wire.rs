//! Conversions between domain values and the contracts' shared wire types: money as a decimal
//! string plus currency, time as `google.protobuf.Timestamp` (UTC), and the lifecycle enums
//! (consent status and type, permissions, payment status) that services, the gateway's access
//! policy and the event catalogue all speak, and a payment as its app sees it (the payment
//! service and the sandbox's `SimulatePaymentStatus` answer it). Each mapping is written once,
//! here.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use wekeza_domain::{ConsentKind, ConsentStatus, Money, Payment, PaymentStatus, Permission};
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

/// A consent status on the wire.
pub fn consent_status(status: ConsentStatus) -> pb::ConsentStatus {
    match status {
        ConsentStatus::AwaitingAuthorisation => pb::ConsentStatus::AwaitingAuthorisation,
        ConsentStatus::Authorised => pb::ConsentStatus::Authorised,
        ConsentStatus::Rejected => pb::ConsentStatus::Rejected,
        ConsentStatus::Consumed => pb::ConsentStatus::Consumed,
        ConsentStatus::Revoked => pb::ConsentStatus::Revoked,
        ConsentStatus::Expired => pb::ConsentStatus::Expired,
    }
}

/// A consent's type on the wire.
pub fn consent_kind(kind: ConsentKind) -> pb::ConsentType {
    match kind {
        ConsentKind::AccountAccess => pb::ConsentType::AccountAccess,
        ConsentKind::Payment => pb::ConsentType::Payment,
        ConsentKind::FundsConfirmation => pb::ConsentType::FundsConfirmation,
    }
}

/// A data permission on the wire.
pub fn permission(permission: Permission) -> pb::Permission {
    match permission {
        Permission::ReadAccounts => pb::Permission::ReadAccounts,
        Permission::ReadAccountsDetail => pb::Permission::ReadAccountsDetail,
        Permission::ReadBalances => pb::Permission::ReadBalances,
        Permission::ReadTransactions => pb::Permission::ReadTransactions,
        Permission::ReadCustomerProfile => pb::Permission::ReadCustomerProfile,
    }
}

/// A wire permission as a domain one; `None` for UNSPECIFIED and unknown values.
pub fn parse_permission(value: i32) -> Option<Permission> {
    Some(match pb::Permission::try_from(value).ok()? {
        pb::Permission::Unspecified => return None,
        pb::Permission::ReadAccounts => Permission::ReadAccounts,
        pb::Permission::ReadAccountsDetail => Permission::ReadAccountsDetail,
        pb::Permission::ReadBalances => Permission::ReadBalances,
        pb::Permission::ReadTransactions => Permission::ReadTransactions,
        pb::Permission::ReadCustomerProfile => Permission::ReadCustomerProfile,
    })
}

/// A payment status on the wire (a rejection's reason travels separately, see
/// [`payment_status_reason`]).
pub fn payment_status(status: PaymentStatus) -> pb::PaymentStatus {
    match status {
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::AcceptedSettlementInProcess => {
            pb::PaymentStatus::AcceptedSettlementInProcess
        }
        PaymentStatus::AcceptedSettlementCompleted => {
            pb::PaymentStatus::AcceptedSettlementCompleted
        }
        PaymentStatus::Rejected { .. } => pb::PaymentStatus::Rejected,
    }
}

/// Why a payment has its status (the reason code of a rejection), or empty.
pub fn payment_status_reason(status: PaymentStatus) -> String {
    status
        .reason()
        .map(|reason| reason.code().to_owned())
        .unwrap_or_default()
}

/// A payment as its app sees it.
pub fn payment(payment: &Payment) -> pb::Payment {
    pb::Payment {
        payment_id: payment.id.to_string(),
        consent_id: payment.consent_id.to_string(),
        status: payment_status(payment.status).into(),
        status_reason: payment_status_reason(payment.status),
        instructed_amount: Some(money(payment.amount)),
        creditor: Some(pb::Creditor {
            name: payment.creditor.name.clone(),
            account_number: payment.creditor.account_number.clone(),
        }),
        debtor_account_id: payment.debtor_account_id.to_string(),
        reference: payment.reference.clone(),
        create_time: Some(timestamp(payment.created_at)),
        status_update_time: Some(timestamp(payment.status_updated_at)),
    }
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
