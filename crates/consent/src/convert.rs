//! Domain consents → wire messages, and wire enums ⇄ domain enums. What a consent looks like to
//! clients — and inside its `consent.status_changed` event — is decided here, in one place.

use chrono::{DateTime, Utc};
use wekeza_domain::{Consent, ConsentKind, ConsentStatus, ConsentTerms, EventId, Permission};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{money, timestamp};

/// The app a consent is given to, as clients see it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The OAuth2 `client_id`.
    pub id: &'a str,
    /// The display name.
    pub name: &'a str,
}

pub fn status(status: ConsentStatus) -> pb::ConsentStatus {
    match status {
        ConsentStatus::AwaitingAuthorisation => pb::ConsentStatus::AwaitingAuthorisation,
        ConsentStatus::Authorised => pb::ConsentStatus::Authorised,
        ConsentStatus::Rejected => pb::ConsentStatus::Rejected,
        ConsentStatus::Consumed => pb::ConsentStatus::Consumed,
        ConsentStatus::Revoked => pb::ConsentStatus::Revoked,
        ConsentStatus::Expired => pb::ConsentStatus::Expired,
    }
}

pub fn kind(kind: ConsentKind) -> pb::ConsentType {
    match kind {
        ConsentKind::AccountAccess => pb::ConsentType::AccountAccess,
        ConsentKind::Payment => pb::ConsentType::Payment,
        ConsentKind::FundsConfirmation => pb::ConsentType::FundsConfirmation,
    }
}

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

fn debtor_account(number: Option<&String>) -> Option<pb::DebtorAccount> {
    number.map(|number| pb::DebtorAccount {
        account_number: number.clone(),
    })
}

/// The consent as its app (or its customer) sees it.
pub fn consent(consent: &Consent, client: Client<'_>) -> pb::Consent {
    let mut wire = pb::Consent {
        consent_id: consent.id.to_string(),
        r#type: kind(consent.kind()).into(),
        status: status(consent.status).into(),
        permissions: Vec::new(),
        expiration_time: Some(timestamp(consent.expires_at)),
        create_time: Some(timestamp(consent.created_at)),
        status_update_time: Some(timestamp(consent.status_updated_at)),
        client_id: client.id.to_owned(),
        account_ids: consent
            .account_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        payment: None,
        funds_confirmation: None,
        client_name: client.name.to_owned(),
    };
    match &consent.terms {
        ConsentTerms::AccountAccess { permissions } => {
            wire.permissions = permissions
                .iter()
                .map(|p| i32::from(permission(*p)))
                .collect();
        }
        ConsentTerms::Payment(terms) => {
            wire.payment = Some(pb::PaymentDetails {
                instructed_amount: Some(money(terms.amount)),
                creditor: Some(pb::Creditor {
                    name: terms.creditor_name.clone(),
                    account_number: terms.creditor_account.clone(),
                }),
                reference: terms.reference.clone(),
                debtor_account: debtor_account(terms.debtor_account.as_ref()),
            });
        }
        ConsentTerms::FundsConfirmation(terms) => {
            wire.funds_confirmation = Some(pb::FundsConfirmationDetails {
                debtor_account: debtor_account(terms.debtor_account.as_ref()),
                amount: Some(money(terms.amount)),
            });
        }
    }
    wire
}

/// The `consent.status_changed` event envelope for `consent`, which just moved from
/// `previous` (`None` when it was just created).
pub fn status_changed_event(
    id: &EventId,
    consent: &Consent,
    client_id: &str,
    previous: Option<ConsentStatus>,
    now: DateTime<Utc>,
) -> pb::Event {
    pb::Event {
        event_id: id.to_string(),
        r#type: crate::lifecycle::STATUS_CHANGED.to_owned(),
        create_time: Some(timestamp(now)),
        payload: Some(pb::event::Payload::ConsentStatusChanged(
            pb::ConsentStatusChanged {
                consent_id: consent.id.to_string(),
                client_id: client_id.to_owned(),
                consent_type: kind(consent.kind()).into(),
                previous_status: previous
                    .map_or(pb::ConsentStatus::Unspecified, status)
                    .into(),
                status: status(consent.status).into(),
                change_time: Some(timestamp(consent.status_updated_at)),
            },
        )),
    }
}
