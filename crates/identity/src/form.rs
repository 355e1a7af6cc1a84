//! `application/x-www-form-urlencoded`, the one place the crate reads it (with
//! `serde_html_form`):
//!
//! - [`Form`]: the bodies of the OAuth2 endpoints (RFC 6749 §3.2). A parameter given twice is
//!   refused (§3.1), and one given without a value counts as absent. Every value passes the
//!   platform's text rule ([`parameter`]: no control characters, NFC) or the request is
//!   `invalid_request`. A thin wrapper rather than
//!   typed structs: each endpoint checks its parameters in an order that decides which error a
//!   bad request gets, and some are read by several steps (client authentication, the grant).
//! - [`typed`]: the sign-in pages' forms and queries, into typed structs.
//! - [`decode_component`]: one form-encoded component, as HTTP Basic carries client ids.
//! - [`with_query`]: the other way round, parameters added to a redirect's URL.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use wekeza_domain::text::{self, TextKind};

use crate::Error;

/// A parsed form body.
#[derive(Debug, Default)]
pub(crate) struct Form {
    params: HashMap<String, String>,
}

impl Form {
    /// Parses `body`, which `headers` must declare as a form.
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, Error> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| {
                media
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Error::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in pairs(body) {
            if value.is_empty() {
                continue;
            }
            let value = parameter(&name, &value)?;
            match params.entry(name) {
                Entry::Vacant(entry) => {
                    entry.insert(value);
                }
                Entry::Occupied(entry) => {
                    return Err(Error::InvalidRequest(format!(
                        "the parameter `{}` is given more than once",
                        entry.key()
                    )));
                }
            }
        }
        Ok(Self { params })
    }

    /// The parameter's value, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The parameter's value, or `invalid_request`.
    pub(crate) fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name)
            .ok_or_else(|| Error::InvalidRequest(format!("the parameter `{name}` is required")))
    }
}

/// The value of the parameter `name` under the platform's text rule (one line, no control
/// characters, NFC: [`wekeza_domain::text`]), or `invalid_request` naming it.
pub(crate) fn parameter(name: &str, value: &str) -> Result<String, Error> {
    text::clean(value, TextKind::Line).map_err(|error| {
        Error::InvalidRequest(format!("the parameter `{}` {error}", name.escape_debug()))
    })
}

/// Every name and value of `body`, in order, repeats kept.
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    // A list of string pairs accepts every input: bytes that are not UTF-8 are replaced.
    serde_html_form::from_bytes(body).unwrap_or_default()
}

/// A form or query of the sign-in pages as `T`, whose fields default when absent; `T`'s
/// default (no CSRF token, no session) if it does not fit, e.g. a single field given twice.
pub(crate) fn typed<T: DeserializeOwned + Default>(encoded: &[u8]) -> T {
    serde_html_form::from_bytes(encoded).unwrap_or_default()
}

/// Decodes one form-urlencoded component (`%41` → `A`, `+` → space), as client ids and secrets
/// in HTTP Basic are (RFC 6749 §2.3.1). `None` if it holds `&` or `=` unencoded.
pub(crate) fn decode_component(text: &str) -> Option<String> {
    if text.contains(['&', '=']) {
        return None;
    }
    Some(
        pairs(text.as_bytes())
            .into_iter()
            .next()
            .map(|(name, _)| name)
            .unwrap_or_default(),
    )
}

/// `url` with `params` form-encoded into its query, after the query it may already have.
pub(crate) fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde::Deserialize;

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        headers
    }

    #[test]
    fn parses_forms_refusing_repeats() {
        let form = Form::parse(
            &form_headers(),
            b"grant_type=client_credentials&scope=a+b&x=",
        )
        .unwrap_or_default();
        assert_eq!(form.get("scope"), Some("a b"));
        assert_eq!(form.get("x"), None);
        assert!(form.require("x").is_err());
        let repeated = Form::parse(&form_headers(), b"a=1&b=&a=2");
        assert!(
            matches!(&repeated, Err(Error::InvalidRequest(message)) if message.contains("`a`")),
            "{repeated:?}"
        );
        assert!(Form::parse(&form_headers(), b"a=1&a=").is_ok());
        assert!(Form::parse(&HeaderMap::new(), b"a=1").is_err());
    }

    #[test]
    fn values_follow_the_text_rule() {
        for body in [&b"client_id=app_%00x"[..], b"state=a%0Ab", b"nonce=%C2%85"] {
            let refused = Form::parse(&form_headers(), body);
            assert!(
                matches!(&refused, Err(Error::InvalidRequest(message)) if message.contains("control")),
                "{refused:?}"
            );
        }
        let form = Form::parse(&form_headers(), b"state=e%CC%81").unwrap_or_default();
        assert_eq!(form.get("state"), Some("\u{e9}"), "NFC");
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Choice {
        csrf: String,
        account_id: Vec<String>,
    }

    #[test]
    fn reads_page_forms_into_structs() {
        assert_eq!(
            typed::<Choice>(b"csrf=t%2B1&account_id=a&other=x&account_id=b"),
            Choice {
                csrf: "t+1".into(),
                account_id: vec!["a".into(), "b".into()],
            }
        );
        assert_eq!(typed::<Choice>(b"csrf=1&csrf=2"), Choice::default());
        assert_eq!(typed::<Choice>(b"\xff=\xfe"), Choice::default());
    }

    #[test]
    fn appends_queries() {
        assert_eq!(
            with_query(
                "https://app.example/cb",
                &[("code", "a b"), ("iss", "https://x/")]
            ),
            "https://app.example/cb?code=a+b&iss=https%3A%2F%2Fx%2F"
        );
        assert_eq!(
            with_query("https://app.example/cb?tab=1", &[("state", "&")]),
            "https://app.example/cb?tab=1&state=%26"
        );
    }

    #[test]
    fn decodes_basic_components() {
        assert_eq!(decode_component("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(decode_component("plain-_.~").as_deref(), Some("plain-_.~"));
        assert_eq!(decode_component("").as_deref(), Some(""));
        assert_eq!(decode_component("a=b"), None);
    }
}
