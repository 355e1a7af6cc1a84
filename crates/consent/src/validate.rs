//! `CreateConsentRequest` → the consent's terms and expiration time. Every wrong field is
//! reported at once, as a field path (the proto field names, e.g. `payment.creditor.name`) and
//! what is wrong with it. The texts shown to the customer (creditor name, reference) pass the
//! platform's text rule and are stored NFC-normalised.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use prost_types::Timestamp;
use wekeza_domain::consent::{MAX_STANDING_CONSENT_VALIDITY, PAYMENT_CONSENT_VALIDITY};
use wekeza_domain::text::{self, TextKind};
use wekeza_domain::{
    ConsentKind, ConsentTerms, FundsConfirmationTerms, Money, PaymentTerms, Permission,
};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{self, parse_timestamp};

use crate::Error;

/// The longest payment reference, in characters (what the creditor's statement shows).
pub const MAX_REFERENCE_CHARS: usize = 140;
/// The longest creditor name, in characters.
pub const MAX_NAME_CHARS: usize = 140;
/// The longest account number (an IBAN has at most 34 characters).
pub const MAX_ACCOUNT_NUMBER_CHARS: usize = 34;

/// What was wrong with a request, field by field.
#[derive(Debug, Default)]
struct Violations(Vec<(String, String)>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    fn finish<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::InvalidRequest(self.0))
        }
    }
}

/// The consent type the request asks for.
pub fn kind(value: i32) -> Result<ConsentKind, Error> {
    let invalid = |description: &str| {
        Error::InvalidRequest(vec![("type".to_owned(), description.to_owned())])
    };
    match pb::ConsentType::try_from(value) {
        Ok(pb::ConsentType::AccountAccess) => Ok(ConsentKind::AccountAccess),
        Ok(pb::ConsentType::Payment) => Ok(ConsentKind::Payment),
        Ok(pb::ConsentType::FundsConfirmation) => Ok(ConsentKind::FundsConfirmation),
        Ok(pb::ConsentType::Unspecified) => Err(invalid("is required")),
        Err(_) => Err(invalid("is not a known consent type")),
    }
}

/// The terms and expiration time of a new consent of `kind`, created at `now`.
pub fn create(
    request: &pb::CreateConsentRequest,
    kind: ConsentKind,
    now: DateTime<Utc>,
) -> Result<(ConsentTerms, DateTime<Utc>), Error> {
    let mut violations = Violations::default();
    let type_name = wire::consent_kind(kind).as_str_name();
    let mut must_be_unset = |field: &str, set: bool| {
        if set {
            violations.add(field, format!("must be unset for {type_name}"));
        }
    };
    must_be_unset(
        "permissions",
        kind != ConsentKind::AccountAccess && !request.permissions.is_empty(),
    );
    must_be_unset(
        "payment",
        kind != ConsentKind::Payment && request.payment.is_some(),
    );
    must_be_unset(
        "funds_confirmation",
        kind != ConsentKind::FundsConfirmation && request.funds_confirmation.is_some(),
    );
    let (terms, validity) = match kind {
        ConsentKind::AccountAccess => (
            Some(ConsentTerms::AccountAccess {
                permissions: permissions(&request.permissions, &mut violations),
            }),
            MAX_STANDING_CONSENT_VALIDITY,
        ),
        ConsentKind::Payment => (
            match &request.payment {
                Some(payment) => Some(ConsentTerms::Payment(payment_terms(
                    payment,
                    &mut violations,
                ))),
                None => {
                    violations.add("payment", format!("is required for {type_name}"));
                    None
                }
            },
            PAYMENT_CONSENT_VALIDITY,
        ),
        ConsentKind::FundsConfirmation => (
            match &request.funds_confirmation {
                Some(funds) => Some(ConsentTerms::FundsConfirmation(FundsConfirmationTerms {
                    amount: amount(
                        "funds_confirmation.amount",
                        funds.amount.as_ref(),
                        &mut violations,
                    ),
                    debtor_account: debtor_account(
                        "funds_confirmation.debtor_account.account_number",
                        funds.debtor_account.as_ref(),
                        &mut violations,
                    ),
                })),
                None => {
                    violations.add("funds_confirmation", format!("is required for {type_name}"));
                    None
                }
            },
            MAX_STANDING_CONSENT_VALIDITY,
        ),
    };
    let expires_at = expiration(
        request.expiration_time.as_ref(),
        now,
        validity,
        &mut violations,
    );
    match terms {
        Some(terms) => violations.finish((terms, expires_at)),
        None => Err(Error::InvalidRequest(violations.0)),
    }
}

/// Account-access permissions: at least one, each known, and each one's prerequisite included.
fn permissions(wire: &[i32], violations: &mut Violations) -> BTreeSet<Permission> {
    if wire.is_empty() {
        violations.add("permissions", "at least one permission is required");
    }
    let mut permissions = BTreeSet::new();
    for (index, value) in wire.iter().enumerate() {
        match wire::parse_permission(*value) {
            Some(permission) => {
                permissions.insert(permission);
            }
            None => violations.add(format!("permissions[{index}]"), "is not a known permission"),
        }
    }
    for permission in &permissions {
        if let Some(required) = permission.requires()
            && !permissions.contains(&required)
        {
            violations.add(
                "permissions",
                format!(
                    "{} requires {}",
                    wire::permission(*permission).as_str_name(),
                    wire::permission(required).as_str_name()
                ),
            );
        }
    }
    permissions
}

fn payment_terms(payment: &pb::PaymentDetails, violations: &mut Violations) -> PaymentTerms {
    let amount = amount(
        "payment.instructed_amount",
        payment.instructed_amount.as_ref(),
        violations,
    );
    let (creditor_name, creditor_account) = match &payment.creditor {
        Some(creditor) => {
            let name = shown_text("payment.creditor.name", &creditor.name, violations);
            if name.trim().is_empty() {
                violations.add("payment.creditor.name", "is required");
            } else if name.chars().count() > MAX_NAME_CHARS {
                violations.add(
                    "payment.creditor.name",
                    format!("must be at most {MAX_NAME_CHARS} characters"),
                );
            }
            account_number(
                "payment.creditor.account_number",
                &creditor.account_number,
                violations,
            );
            (name, creditor.account_number.clone())
        }
        None => {
            violations.add("payment.creditor", "is required");
            (String::new(), String::new())
        }
    };
    let reference = shown_text("payment.reference", &payment.reference, violations);
    if reference.chars().count() > MAX_REFERENCE_CHARS {
        violations.add(
            "payment.reference",
            format!("must be at most {MAX_REFERENCE_CHARS} characters"),
        );
    }
    PaymentTerms {
        amount,
        creditor_name,
        creditor_account,
        reference,
        debtor_account: debtor_account(
            "payment.debtor_account.account_number",
            payment.debtor_account.as_ref(),
            violations,
        ),
    }
}

/// `text` as the customer will be shown it, under the platform's text rule
/// ([`wekeza_domain::text`]: no control or bidirectional formatting characters, NFC). On a
/// violation the returned value is the text as given, never used: the request is refused.
fn shown_text(field: &str, text: &str, violations: &mut Violations) -> String {
    text::clean(text, TextKind::Displayed).unwrap_or_else(|error| {
        violations.add(field, error.to_string());
        text.to_owned()
    })
}

/// A positive amount in a supported currency. On a violation the returned value is a
/// placeholder that is never used: the request is refused.
fn amount(field: &str, wire: Option<&pb::Money>, violations: &mut Violations) -> Money {
    let placeholder = Money::zero(wekeza_domain::Currency::Kes);
    let Some(wire) = wire else {
        violations.add(field, "is required");
        return placeholder;
    };
    match Money::parse(&wire.amount, &wire.currency) {
        Ok(amount) if amount.minor() > 0 => amount,
        Ok(_) => {
            violations.add(field, "must be greater than zero");
            placeholder
        }
        Err(error) => {
            violations.add(field, error.to_string());
            placeholder
        }
    }
}

fn account_number(field: &str, number: &str, violations: &mut Violations) {
    if number.is_empty() {
        violations.add(field, "is required");
    } else if number.len() > MAX_ACCOUNT_NUMBER_CHARS
        || !number.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        violations.add(
            field,
            format!("must be 1 to {MAX_ACCOUNT_NUMBER_CHARS} letters and digits"),
        );
    }
}

fn debtor_account(
    field: &str,
    wire: Option<&pb::DebtorAccount>,
    violations: &mut Violations,
) -> Option<String> {
    let wire = wire?;
    account_number(field, &wire.account_number, violations);
    Some(wire.account_number.clone())
}

/// The requested expiration time — in the future and at most `validity` away — or, when none
/// is asked for, `now + validity`.
fn expiration(
    wire: Option<&Timestamp>,
    now: DateTime<Utc>,
    validity: TimeDelta,
    violations: &mut Violations,
) -> DateTime<Utc> {
    const FIELD: &str = "expiration_time";
    let latest = now + validity;
    let Some(wire) = wire else {
        return latest;
    };
    match parse_timestamp(FIELD, wire) {
        Ok(at) if at <= now => violations.add(FIELD, "must be in the future"),
        Ok(at) if at > latest => violations.add(
            FIELD,
            format!("must be at most {} from now", describe(validity)),
        ),
        Ok(at) => return at,
        Err(_) => violations.add(FIELD, "is not a valid timestamp"),
    }
    latest
}

fn describe(span: TimeDelta) -> String {
    if span.num_days() > 0 && span == TimeDelta::days(span.num_days()) {
        format!("{} days", span.num_days())
    } else {
        format!("{} minutes", span.num_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wekeza_rpc::wire::timestamp;

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn fields(result: Result<(ConsentTerms, DateTime<Utc>), Error>) -> Vec<String> {
        match result {
            Err(Error::InvalidRequest(violations)) => {
                violations.into_iter().map(|(field, _)| field).collect()
            }
            other => vec![format!("not a violation: {other:?}")],
        }
    }

    fn access(permissions: &[pb::Permission]) -> pb::CreateConsentRequest {
        pb::CreateConsentRequest {
            r#type: pb::ConsentType::AccountAccess.into(),
            permissions: permissions.iter().map(|p| i32::from(*p)).collect(),
            ..Default::default()
        }
    }

    fn payment() -> pb::CreateConsentRequest {
        pb::CreateConsentRequest {
            r#type: pb::ConsentType::Payment.into(),
            payment: Some(pb::PaymentDetails {
                instructed_amount: Some(pb::Money {
                    amount: "1500.00".into(),
                    currency: "KES".into(),
                }),
                creditor: Some(pb::Creditor {
                    name: "Jane Doe".into(),
                    account_number: "01100012345".into(),
                }),
                reference: "Invoice 42".into(),
                debtor_account: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn account_access_defaults_to_the_longest_validity() {
        let request = access(&[pb::Permission::ReadAccounts, pb::Permission::ReadBalances]);
        let created = create(&request, ConsentKind::AccountAccess, now());
        let Ok((ConsentTerms::AccountAccess { permissions }, expires_at)) = created else {
            unreachable!("{created:?}");
        };
        assert_eq!(
            permissions,
            BTreeSet::from([Permission::ReadAccounts, Permission::ReadBalances])
        );
        assert_eq!(expires_at, now() + MAX_STANDING_CONSENT_VALIDITY);
    }

    #[test]
    fn account_access_needs_known_permissions_with_their_prerequisites() {
        assert_eq!(
            fields(create(&access(&[]), ConsentKind::AccountAccess, now())),
            ["permissions"]
        );
        let mut unknown = access(&[pb::Permission::ReadAccounts]);
        unknown.permissions.push(99);
        assert_eq!(
            fields(create(&unknown, ConsentKind::AccountAccess, now())),
            ["permissions[1]"]
        );
        for dependent in [
            pb::Permission::ReadAccountsDetail,
            pb::Permission::ReadBalances,
            pb::Permission::ReadTransactions,
        ] {
            assert_eq!(
                fields(create(
                    &access(&[dependent]),
                    ConsentKind::AccountAccess,
                    now()
                )),
                ["permissions"],
                "{dependent:?}"
            );
        }
        assert!(
            create(
                &access(&[pb::Permission::ReadCustomerProfile]),
                ConsentKind::AccountAccess,
                now()
            )
            .is_ok()
        );
    }

    #[test]
    fn expiration_must_be_future_and_within_the_validity() {
        let mut request = access(&[pb::Permission::ReadAccounts]);
        for (at, ok) in [
            (now(), false),
            (now() + TimeDelta::seconds(1), true),
            (now() + MAX_STANDING_CONSENT_VALIDITY, true),
            (
                now() + MAX_STANDING_CONSENT_VALIDITY + TimeDelta::seconds(1),
                false,
            ),
        ] {
            request.expiration_time = Some(timestamp(at));
            let created = create(&request, ConsentKind::AccountAccess, now());
            assert_eq!(
                created.as_ref().map(|(_, e)| *e).ok(),
                ok.then_some(at),
                "{at}"
            );
        }
        let mut payment = payment();
        payment.expiration_time = Some(timestamp(now() + TimeDelta::minutes(11)));
        assert_eq!(
            fields(create(&payment, ConsentKind::Payment, now())),
            ["expiration_time"]
        );
        payment.expiration_time = None;
        let created = create(&payment, ConsentKind::Payment, now());
        assert_eq!(
            created.map(|(_, e)| e).ok(),
            Some(now() + PAYMENT_CONSENT_VALIDITY)
        );
    }

    #[test]
    fn payments_report_every_wrong_field() {
        let mut request = payment();
        if let Some(details) = request.payment.as_mut() {
            details.instructed_amount = Some(pb::Money {
                amount: "0.00".into(),
                currency: "KES".into(),
            });
            details.creditor = Some(pb::Creditor {
                name: " ".into(),
                account_number: "01-100".into(),
            });
            details.reference = "x".repeat(MAX_REFERENCE_CHARS + 1);
        }
        request.permissions = vec![pb::Permission::ReadAccounts.into()];
        assert_eq!(
            fields(create(&request, ConsentKind::Payment, now())),
            [
                "permissions",
                "payment.instructed_amount",
                "payment.creditor.name",
                "payment.creditor.account_number",
                "payment.reference"
            ]
        );
        let mut unsupported = payment();
        if let Some(details) = unsupported.payment.as_mut() {
            details.instructed_amount = Some(pb::Money {
                amount: "10.00".into(),
                currency: "XYZ".into(),
            });
            details.creditor = None;
        }
        assert_eq!(
            fields(create(&unsupported, ConsentKind::Payment, now())),
            ["payment.instructed_amount", "payment.creditor"]
        );
        let missing = pb::CreateConsentRequest {
            r#type: pb::ConsentType::Payment.into(),
            ..Default::default()
        };
        assert_eq!(
            fields(create(&missing, ConsentKind::Payment, now())),
            ["payment"]
        );
        assert!(matches!(
            kind(pb::ConsentType::Unspecified.into()),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(kind(42), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn shown_texts_follow_the_text_rule_and_are_stored_normalised() {
        let mut request = payment();
        if let Some(details) = request.payment.as_mut() {
            details.creditor = Some(pb::Creditor {
                name: "Jane\u{202E}eoD".into(),
                account_number: "01100012345".into(),
            });
            details.reference = "Invoice\0 42".into();
        }
        assert_eq!(
            fields(create(&request, ConsentKind::Payment, now())),
            ["payment.creditor.name", "payment.reference"]
        );
        if let Some(details) = request.payment.as_mut() {
            details.creditor = Some(pb::Creditor {
                name: "Jose\u{301}".into(),
                account_number: "01100012345".into(),
            });
            details.reference = "Caf\u{65}\u{301}".into();
        }
        let created = create(&request, ConsentKind::Payment, now());
        let Ok((ConsentTerms::Payment(terms), _)) = created else {
            unreachable!("{created:?}");
        };
        assert_eq!(terms.creditor_name, "Jos\u{e9}");
        assert_eq!(terms.reference, "Caf\u{e9}");
    }
}
