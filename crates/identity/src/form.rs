//! The `application/x-www-form-urlencoded` bodies of the OAuth2 endpoints (RFC 6749 §3.2): a
//! parameter given twice is refused, and one given without a value counts as absent.

use std::collections::HashMap;

use http::{HeaderMap, header};

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
        for (name, value) in form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(Error::InvalidRequest(format!(
                    "the parameter `{name}` is given more than once"
                )));
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

/// Decodes one form-urlencoded component (`%41` → `A`, `+` → space), as client ids and secrets
/// in HTTP Basic are (RFC 6749 §2.3.1). `None` if it holds `&` or `=` unencoded.
pub(crate) fn decode_component(text: &str) -> Option<String> {
    if text.contains(['&', '=']) {
        return None;
    }
    match form_urlencoded::parse(text.as_bytes()).next() {
        Some((name, _)) => Some(name.into_owned()),
        None => Some(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
        assert!(Form::parse(&form_headers(), b"a=1&a=2").is_err());
        assert!(Form::parse(&HeaderMap::new(), b"a=1").is_err());
    }

    #[test]
    fn decodes_basic_components() {
        assert_eq!(decode_component("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(decode_component("plain-_.~").as_deref(), Some("plain-_.~"));
        assert_eq!(decode_component("a=b"), None);
    }
}
