//! The customer's HTML pages: sign-in, second factor, consent screen, and the error page, as
//! askama templates (`templates/`, checked at compile time; every value is HTML-escaped unless
//! a template says otherwise, and none does). Server-rendered, self-contained (inline style, no
//! script, no external asset), accessible (a language, one `h1` per page, every control
//! labelled, errors announced with `role="alert"`).
//!
//! This module turns domain values into what the pages show (texts, labels); the templates own
//! the markup.

use askama::Template;
use wekeza_domain::{Consent, ConsentTerms, Permission};
use wekeza_ledger::Account;

/// The sign-in form.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignIn<'a> {
    /// The app's display name.
    pub(crate) app_name: &'a str,
    /// The session's CSRF token.
    pub(crate) csrf: &'a str,
    /// The username to show again after a failed attempt.
    pub(crate) username: &'a str,
    /// A problem with the previous submission.
    pub(crate) error: Option<&'a str>,
}

/// The one-time-password form.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub(crate) struct SecondFactor<'a> {
    /// The session's CSRF token.
    pub(crate) csrf: &'a str,
    /// A problem with the previous submission.
    pub(crate) error: Option<&'a str>,
}

/// A page that ends the flow: what went wrong, and what to do.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    /// The heading (and the window's title).
    pub(crate) title: &'a str,
    /// What happened and what to do.
    pub(crate) message: &'a str,
}

/// The consent screen: what the app asks for, the accounts to choose, Approve and Deny.
#[derive(Template)]
#[template(path = "consent_screen.html")]
pub(crate) struct ConsentScreen<'a> {
    app_name: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
    asks: Asks<'a>,
    /// When the consent expires, for people.
    until: String,
    accounts: Vec<AccountChoice<'a>>,
}

/// What the app asks the customer for.
enum Asks<'a> {
    /// Account access: what it would see.
    Access(Vec<&'static str>),
    /// A payment: from one account.
    Payment {
        amount: String,
        creditor_name: &'a str,
        creditor_account: &'a str,
        reference: &'a str,
    },
    /// A funds check: on one account.
    Funds { amount: String },
}

impl Asks<'_> {
    /// The heading of the accounts to choose.
    fn legend(&self) -> &'static str {
        match self {
            Self::Access(_) => "Accounts to share",
            Self::Payment { .. } => "Pay from",
            Self::Funds { .. } => "Account to check",
        }
    }

    /// Several accounts for account access (checkboxes); one for the others (radio buttons).
    fn control(&self) -> &'static str {
        match self {
            Self::Access(_) => "checkbox",
            Self::Payment { .. } | Self::Funds { .. } => "radio",
        }
    }
}

/// One account the customer may choose.
struct AccountChoice<'a> {
    id: &'a str,
    /// Nickname, currency and the last digits of the number.
    label: String,
    /// Pre-selected: every account for account access, the first otherwise.
    checked: bool,
}

impl<'a> ConsentScreen<'a> {
    /// The screen for `consent` of the app `app_name`, offering `accounts` (for payments: those
    /// that can pay), with `error` about the previous submission.
    pub(crate) fn new(
        app_name: &'a str,
        csrf: &'a str,
        consent: &'a Consent,
        accounts: &'a [Account],
        error: Option<&'a str>,
    ) -> Self {
        let asks = match &consent.terms {
            ConsentTerms::AccountAccess { permissions } => Asks::Access(
                permissions
                    .iter()
                    .map(|permission| permission_text(*permission))
                    .collect(),
            ),
            ConsentTerms::Payment(terms) => Asks::Payment {
                amount: terms.amount.to_string(),
                creditor_name: &terms.creditor_name,
                creditor_account: &terms.creditor_account,
                reference: &terms.reference,
            },
            ConsentTerms::FundsConfirmation(terms) => Asks::Funds {
                amount: terms.amount.to_string(),
            },
        };
        let all_checked = matches!(asks, Asks::Access(_));
        let accounts = accounts
            .iter()
            .enumerate()
            .map(|(index, account)| AccountChoice {
                id: account.id.as_str(),
                label: account_label(account),
                checked: all_checked || index == 0,
            })
            .collect();
        Self {
            app_name,
            csrf,
            error,
            asks,
            until: consent
                .expires_at
                .format("%-d %B %Y, %H:%M UTC")
                .to_string(),
            accounts,
        }
    }
}

fn permission_text(permission: Permission) -> &'static str {
    match permission {
        Permission::ReadAccounts => "Your accounts: their names, types and currencies",
        Permission::ReadAccountsDetail => "Your account numbers and holder names",
        Permission::ReadBalances => "Your balances",
        Permission::ReadTransactions => "Your transactions",
        Permission::ReadCustomerProfile => "Your name, email, phone number and address",
    }
}

fn account_label(account: &Account) -> String {
    let digits = account.account_number.len();
    let last = &account.account_number[digits.saturating_sub(4)..];
    format!(
        "{} ({}, ending {last})",
        account.nickname,
        account.currency.code()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::DateTime;
    use wekeza_domain::{AccountId, AppId, ConsentId, Currency, CustomerId, Money, PaymentTerms};
    use wekeza_ledger::{AccountStatus, AccountSubtype, CustomerKind};

    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let html = SignIn {
            app_name: "<script>'&'",
            csrf: "c\"srf",
            username: "bob",
            error: Some("Wrong"),
        }
        .render()
        .unwrap_or_default();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;&#39;&#38;&#39;"), "{html}");
        assert!(html.contains("name=\"csrf\" value=\"c&#34;srf\""), "{html}");
        assert!(
            html.contains("<p class=\"error\" role=\"alert\">Wrong</p>"),
            "{html}"
        );
        assert!(html.contains("<title>Sign in · Wekeza</title>"), "{html}");
    }

    #[test]
    fn error_pages_escape_their_text() {
        let html = ErrorPage {
            title: "A & B",
            message: "<b>no</b>",
        }
        .render()
        .unwrap_or_default();
        assert!(html.contains("<h1>A &#38; B</h1>"), "{html}");
        assert!(
            html.contains("<p role=\"alert\">&#60;b&#62;no&#60;/b&#62;</p>"),
            "{html}"
        );
    }

    fn account(nickname: &str, number: &str) -> Account {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Account {
            id: AccountId::new_random(at),
            customer_id: CustomerId::new_random(at),
            kind: CustomerKind::Personal,
            subtype: AccountSubtype::CurrentAccount,
            currency: Currency::Kes,
            nickname: nickname.into(),
            status: AccountStatus::Enabled,
            account_number: number.into(),
            holder_name: "Jane Doe".into(),
            opened_at: at,
            overdraft_limit: Money::from_minor(0, Currency::Kes),
            is_primary: false,
        }
    }

    fn consent(terms: ConsentTerms) -> Consent {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Consent::new(
            ConsentId::new_random(at),
            AppId::new_random(at),
            terms,
            at,
            at,
        )
    }

    #[test]
    fn the_consent_screen_offers_the_accounts() {
        let accounts = [account("Main <1>", "0110001234"), account("Spare", "77")];
        let access = consent(ConsentTerms::AccountAccess {
            permissions: BTreeSet::from([Permission::ReadBalances]),
        });
        let html = ConsentScreen::new("Budget & Co", "tok", &access, &accounts, None)
            .render()
            .unwrap_or_default();
        assert!(
            html.contains("<h1>Review Budget &#38; Co's request</h1>"),
            "{html}"
        );
        assert!(html.contains("<li>Your balances</li>"), "{html}");
        assert!(
            html.contains("<p>Until 15 January 2027, 08:00 UTC.</p>"),
            "{html}"
        );
        assert!(
            html.contains("<legend>Accounts to share</legend>"),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                "<div><input type=\"checkbox\" id=\"account-0\" name=\"account_id\" value=\"{}\" \
                 checked><label for=\"account-0\" style=\"display:inline\">Main &#60;1&#62; \
                 (KES, ending 1234)</label></div>",
                accounts[0].id.as_str()
            )),
            "{html}"
        );
        assert!(
            html.contains("id=\"account-1\" name=\"account_id\""),
            "{html}"
        );
        assert!(!html.contains("role=\"alert\""), "{html}");

        let payment = consent(ConsentTerms::Payment(PaymentTerms {
            amount: Money::from_minor(7_500, Currency::Kes),
            creditor_name: "Jane Doe".into(),
            creditor_account: "01100012345".into(),
            reference: "Rent".into(),
            debtor_account: None,
        }));
        let html = ConsentScreen::new(
            "App",
            "tok",
            &payment,
            &accounts,
            Some("Choose an account."),
        )
        .render()
        .unwrap_or_default();
        assert!(
            html.contains("<dt>To</dt><dd>Jane Doe (01100012345)</dd>"),
            "{html}"
        );
        assert!(html.contains("<legend>Pay from</legend>"), "{html}");
        assert!(html.contains("type=\"radio\" id=\"account-0\""), "{html}");
        assert_eq!(html.matches(" checked>").count(), 1, "{html}");
        assert!(
            html.contains("role=\"alert\">Choose an account.</p>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
                 <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>"
            ),
            "{html}"
        );
    }
}
