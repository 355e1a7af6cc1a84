//! The customer's HTML pages: sign-in, second factor, consent screen, and the error page.
//! Server-rendered, self-contained (inline style, no script, no external asset), accessible
//! (a language, one `h1` per page, every control labelled, errors announced with
//! `role="alert"`). Every value from outside is HTML-escaped.

use std::fmt::Write as _;

use wekeza_domain::{Consent, ConsentTerms, Permission};
use wekeza_ledger::Account;

use crate::issuer::{DECISION_PATH, SECOND_FACTOR_PATH, SIGN_IN_PATH};

/// The page's frame.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Wekeza</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        title = escape(title),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f23}\
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem}\
label{display:block;margin:.75rem 0 .25rem}input[type=text],input[type=password]\
{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin:1rem .5rem 0 0;padding:.6rem 1.2rem;font-size:1rem}\
.error{color:#a40000;font-weight:600}fieldset{margin-top:1rem}";

/// HTML-escapes `text` for element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn alert(error: Option<&str>) -> String {
    error
        .map(|text| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text)))
        .unwrap_or_default()
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// The sign-in form.
pub(crate) fn sign_in(app_name: &str, csrf: &str, username: &str, error: Option<&str>) -> String {
    page(
        "Sign in",
        &format!(
            "<h1>Sign in to your bank</h1><p><strong>{app}</strong> asks for your consent. \
             Sign in to review it; {app} never sees your password.</p>{alert}\
             <form method=\"post\" action=\"{SIGN_IN_PATH}\">{csrf}\
             <label for=\"username\">Username</label>\
             <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" \
             autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input type=\"password\" id=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>",
            app = escape(app_name),
            alert = alert(error),
            csrf = csrf_field(csrf),
            username = escape(username),
        ),
    )
}

/// The one-time-password form.
pub(crate) fn second_factor(csrf: &str, error: Option<&str>) -> String {
    page(
        "Confirm it is you",
        &format!(
            "<h1>Confirm it is you</h1><p>Enter the 6-digit code from your authenticator \
             app.</p>{alert}<form method=\"post\" action=\"{SECOND_FACTOR_PATH}\">{csrf}\
             <label for=\"otp\">One-time code</label>\
             <input type=\"text\" id=\"otp\" name=\"otp\" inputmode=\"numeric\" \
             pattern=\"[0-9]{{6}}\" maxlength=\"6\" autocomplete=\"one-time-code\" required>\
             <button type=\"submit\">Continue</button></form>",
            alert = alert(error),
            csrf = csrf_field(csrf),
        ),
    )
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
    escape(&format!(
        "{} ({}, ending {last})",
        account.nickname,
        account.currency.code()
    ))
}

/// What the consent screen shows and offers.
pub(crate) struct ConsentScreen<'a> {
    /// The app's display name.
    pub(crate) app_name: &'a str,
    /// The session's CSRF token.
    pub(crate) csrf: &'a str,
    /// The consent to decide.
    pub(crate) consent: &'a Consent,
    /// The accounts the customer may choose from (for payments: those that can pay).
    pub(crate) accounts: &'a [Account],
    /// A problem with the previous submission.
    pub(crate) error: Option<&'a str>,
}

/// The consent screen: what the app asks for, the accounts to choose, Approve and Deny.
pub(crate) fn consent_screen(screen: &ConsentScreen<'_>) -> String {
    let app = escape(screen.app_name);
    let mut body = format!("<h1>Review {app}'s request</h1>{}", alert(screen.error));
    let (multiple, legend) = match &screen.consent.terms {
        ConsentTerms::AccountAccess { permissions } => {
            let _ = write!(body, "<p><strong>{app}</strong> wants to see:</p><ul>");
            for permission in permissions {
                let _ = write!(body, "<li>{}</li>", permission_text(*permission));
            }
            body.push_str("</ul>");
            (true, "Accounts to share")
        }
        ConsentTerms::Payment(terms) => {
            let _ = write!(
                body,
                "<p><strong>{app}</strong> wants to make this payment from your account:</p>\
                 <dl><dt>Amount</dt><dd>{}</dd><dt>To</dt><dd>{} ({})</dd>\
                 <dt>Reference</dt><dd>{}</dd></dl>",
                escape(&terms.amount.to_string()),
                escape(&terms.creditor_name),
                escape(&terms.creditor_account),
                escape(&terms.reference),
            );
            (false, "Pay from")
        }
        ConsentTerms::FundsConfirmation(terms) => {
            let _ = write!(
                body,
                "<p><strong>{app}</strong> wants to check, when it needs to, that your \
                 account holds at least <strong>{}</strong>. It does not see your balance.</p>",
                escape(&terms.amount.to_string()),
            );
            (false, "Account to check")
        }
    };
    let _ = write!(
        body,
        "<p>Until {}.</p><form method=\"post\" action=\"{DECISION_PATH}\">{}\
         <fieldset><legend>{legend}</legend>",
        screen.consent.expires_at.format("%-d %B %Y, %H:%M UTC"),
        csrf_field(screen.csrf),
    );
    for (index, account) in screen.accounts.iter().enumerate() {
        let kind = if multiple { "checkbox" } else { "radio" };
        let checked = if multiple || index == 0 {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<div><input type=\"{kind}\" id=\"account-{index}\" name=\"account_id\" \
             value=\"{id}\"{checked}><label for=\"account-{index}\" style=\"display:inline\">\
             {label}</label></div>",
            id = escape(account.id.as_str()),
            label = account_label(account),
        );
    }
    body.push_str(
        "</fieldset><button type=\"submit\" name=\"decision\" value=\"approve\">Approve\
         </button><button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
    );
    page("Review the request", &body)
}

/// A page that ends the flow: what went wrong, and what to do.
pub(crate) fn error(title: &str, message: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1><p role=\"alert\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let html = sign_in("<script>", "c\"srf", "bob", Some("Wrong"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("c&quot;srf"));
        assert!(html.contains("role=\"alert\""));
    }
}
