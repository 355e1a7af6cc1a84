//! Domain consents → wire messages: what a consent looks like to its app and its customer is
//! decided here, in one place (the lifecycle enums' wire forms are `wekeza_rpc::wire`'s).

use wekeza_domain::{Consent, ConsentTerms};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{consent_kind, consent_status, money, permission, timestamp};

/// The app a consent is given to, as clients see it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The OAuth2 `client_id`.
    pub id: &'a str,
    /// The display name.
    pub name: &'a str,
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
        r#type: consent_kind(consent.kind()).into(),
        status: consent_status(consent.status).into(),
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
