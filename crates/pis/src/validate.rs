//! `CreatePaymentRequest` against its consent. The payment is the consent's: the request's
//! optional fields only repeat it. A field that does not parse is INVALID_REQUEST; a field that
//! parses but differs from the consent is CONSENT_MISMATCH. Every wrong field is reported at
//! once, as a field path (the proto field names) and what is wrong with it. The texts are
//! compared as the consent stored them: under the platform's text rule, NFC-normalised.

use wekeza_domain::text::{self, TextKind};
use wekeza_domain::{Money, PaymentTerms};
use wekeza_proto::v1 as pb;

use crate::Error;

/// Checks that what the request repeats of the payment equals the consent's `terms`.
pub fn matches_consent(
    request: &pb::CreatePaymentRequest,
    terms: &PaymentTerms,
) -> Result<(), Error> {
    let mut malformed = Vec::new();
    let mut mismatched = Vec::new();
    let mut differs = |field: &str, what: &str| {
        mismatched.push((field.to_owned(), format!("must equal the consent's {what}")));
    };
    if let Some(wire) = &request.instructed_amount {
        match Money::parse(&wire.amount, &wire.currency) {
            Ok(amount) if amount == terms.amount => {}
            Ok(_) => differs("instructed_amount", "instructed amount"),
            Err(error) => malformed.push(("instructed_amount".to_owned(), error.to_string())),
        }
    }
    // The consent's texts were stored under the text rule (NFC): the request's are compared in
    // the same form.
    let mut shown = |field: &str, text: &str| match text::clean(text, TextKind::Displayed) {
        Ok(clean) => Some(clean),
        Err(error) => {
            malformed.push((field.to_owned(), error.to_string()));
            None
        }
    };
    let creditor_name = request
        .creditor
        .as_ref()
        .and_then(|creditor| shown("creditor.name", &creditor.name));
    let reference = shown("reference", &request.reference);
    if let Some(creditor) = &request.creditor {
        if creditor_name.is_some_and(|name| name != terms.creditor_name) {
            differs("creditor.name", "creditor name");
        }
        if creditor.account_number != terms.creditor_account {
            differs("creditor.account_number", "creditor account number");
        }
    }
    if reference.is_some_and(|reference| !reference.is_empty() && reference != terms.reference) {
        differs("reference", "reference");
    }
    if !malformed.is_empty() {
        return Err(Error::InvalidRequest(malformed));
    }
    if !mismatched.is_empty() {
        return Err(Error::ConsentMismatch(mismatched));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wekeza_domain::Currency;

    fn terms() -> PaymentTerms {
        PaymentTerms {
            amount: Money::from_minor(150_000, Currency::Kes),
            creditor_name: "Jane Doe".into(),
            creditor_account: "01100012345".into(),
            reference: "Invoice 42".into(),
            debtor_account: None,
        }
    }

    fn request(
        amount: &str,
        name: &str,
        account: &str,
        reference: &str,
    ) -> pb::CreatePaymentRequest {
        pb::CreatePaymentRequest {
            consent_id: "cns_x".into(),
            instructed_amount: Some(pb::Money {
                amount: amount.into(),
                currency: "KES".into(),
            }),
            creditor: Some(pb::Creditor {
                name: name.into(),
                account_number: account.into(),
            }),
            reference: reference.into(),
        }
    }

    fn fields(result: Result<(), Error>) -> (&'static str, Vec<String>) {
        match result {
            Ok(()) => ("ok", Vec::new()),
            Err(Error::InvalidRequest(v)) => ("invalid", v.into_iter().map(|(f, _)| f).collect()),
            Err(Error::ConsentMismatch(v)) => ("mismatch", v.into_iter().map(|(f, _)| f).collect()),
            Err(other) => unreachable!("{other:?}"),
        }
    }

    #[test]
    fn a_request_naming_only_the_consent_matches() {
        let bare = pb::CreatePaymentRequest {
            consent_id: "cns_x".into(),
            ..Default::default()
        };
        assert_eq!(fields(matches_consent(&bare, &terms())).0, "ok");
    }

    #[test]
    fn repeated_fields_must_equal_the_consent() {
        let same = request("1500.0", "Jane Doe", "01100012345", "Invoice 42");
        assert_eq!(
            fields(matches_consent(&same, &terms())).0,
            "ok",
            "amounts compare as numbers"
        );
        let other = request("1500.01", "Jane Roe", "01100012346", "Invoice 43");
        assert_eq!(
            fields(matches_consent(&other, &terms())),
            (
                "mismatch",
                vec![
                    "instructed_amount".to_owned(),
                    "creditor.name".to_owned(),
                    "creditor.account_number".to_owned(),
                    "reference".to_owned()
                ]
            )
        );
        let mut currency = same.clone();
        currency.instructed_amount = Some(pb::Money {
            amount: "1500.00".into(),
            currency: "USD".into(),
        });
        assert_eq!(fields(matches_consent(&currency, &terms())).0, "mismatch");
    }

    #[test]
    fn a_malformed_amount_is_an_invalid_request() {
        let bad = request("15,00", "Jane Roe", "01100012345", "");
        assert_eq!(
            fields(matches_consent(&bad, &terms())),
            ("invalid", vec!["instructed_amount".to_owned()])
        );
    }

    #[test]
    fn texts_compare_normalised_and_follow_the_text_rule() {
        let mut terms = terms();
        terms.creditor_name = "Jos\u{e9}".into();
        let decomposed = request("1500.00", "Jose\u{301}", "01100012345", "Invoice 42");
        assert_eq!(fields(matches_consent(&decomposed, &terms)).0, "ok");
        let controls = request(
            "1500.00",
            "Jos\u{e9}\u{202E}",
            "01100012345",
            "Invoice\0 42",
        );
        assert_eq!(
            fields(matches_consent(&controls, &terms)),
            (
                "invalid",
                vec!["creditor.name".to_owned(), "reference".to_owned()]
            )
        );
    }
}
