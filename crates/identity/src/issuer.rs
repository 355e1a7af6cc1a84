//! The issuer: the authorization server's identifier (`iss` of every token, the `aud` of every
//! access token) and the public base URL its endpoints — and the API, for DPoP's `htu` — are
//! reached at.

use std::fmt;
use std::net::SocketAddr;

use http::Uri;

use crate::Error;

/// Path of the OpenID Connect discovery document.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Path of the RFC 8414 authorization-server metadata (same document).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Path of the JWKS.
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Path of the introspection endpoint (RFC 7662).
pub const INTROSPECTION_PATH: &str = "/oauth2/introspect";
/// Path of the revocation endpoint (RFC 7009).
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
/// Path of the pushed authorization request endpoint (RFC 9126).
pub const PAR_PATH: &str = "/oauth2/par";
/// Path of the backchannel authentication endpoint (OpenID CIBA Core 1.0, poll mode).
pub const BACKCHANNEL_AUTHENTICATION_PATH: &str = "/oauth2/bc-authorize";
/// Path of the UserInfo endpoint (OpenID Connect Core §5.3).
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
/// Path of the dynamic client registration endpoint (RFC 7591).
pub const REGISTRATION_PATH: &str = "/oauth2/register";
/// Path of the authorization endpoint, where the customer's browser arrives.
pub const AUTHORIZATION_PATH: &str = "/oauth2/authorize";
/// Path the sign-in form posts to.
pub const SIGN_IN_PATH: &str = "/oauth2/authorize/sign-in";
/// Path the one-time-password form posts to.
pub const SECOND_FACTOR_PATH: &str = "/oauth2/authorize/second-factor";
/// Path the consent screen's decision posts to.
pub const DECISION_PATH: &str = "/oauth2/authorize/decision";
/// Path the upstream OpenID provider sends the customer back to (federated sign-in).
pub const UPSTREAM_CALLBACK_PATH: &str = "/oauth2/authorize/upstream-callback";

/// A checked issuer URL: `http` or `https`, a host, no query or fragment, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Checks `text` as an issuer URL.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("issuer `{text}`: {why}"));
        let uri: Uri = text.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("must start with http:// or https://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        if text.contains('?') || text.contains('#') {
            return Err(bad("must not have a query or fragment"));
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }

    /// The issuer of a server whose public listener is bound at `addr`: `http://<addr>`.
    pub fn for_listener(addr: SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }

    /// The issuer URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The public URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An HTTP URL reduced for comparison (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3): query and
/// fragment dropped, scheme and host lower-cased, the scheme's default port removed, an empty
/// path made `/`. `None` if it is not an absolute http(s) URL.
pub(crate) fn normalize_url(text: &str) -> Option<String> {
    let without_fragment = text.split('#').next().unwrap_or(text);
    let without_query = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    let uri: Uri = without_query.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = match (scheme.as_str(), uri.port_u16()) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => String::new(),
        (_, Some(port)) => format!(":{port}"),
    };
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    Some(format!("{scheme}://{host}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_checked_and_trimmed() {
        let issuer = Issuer::parse("https://bank.example/").map(|i| i.url(TOKEN_PATH));
        assert_eq!(
            issuer.ok().as_deref(),
            Some("https://bank.example/oauth2/token")
        );
        for bad in [
            "",
            "bank.example",
            "ftp://bank.example",
            "https://b.example/?x=1",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
        let listener = SocketAddr::from(([127, 0, 0, 1], 8080));
        assert_eq!(
            Issuer::for_listener(listener).as_str(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn urls_normalize_for_comparison() {
        assert_eq!(
            normalize_url("HTTPS://Bank.Example:443/v1/accounts?page=2#x").as_deref(),
            Some("https://bank.example/v1/accounts")
        );
        assert_eq!(
            normalize_url("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(normalize_url("/v1/accounts"), None);
    }
}
