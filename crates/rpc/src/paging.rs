//! Pagination: `page_size` (default 50, at most 500) and opaque page tokens.
//!
//! A token names the last item of the previous page and a fingerprint of the query that issued
//! it, so a token replayed against another query (other account, other filters) is refused
//! instead of silently returning the wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use wekeza_domain::Reason;

use crate::status::ApiError;

/// Page size when the request leaves it at zero.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page; larger requests are served this many.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items to return.
    pub size: u32,
    /// The key after which to continue, if this is not the first page.
    pub after: Option<String>,
    fingerprint: String,
}

/// The decoded form of a page token.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PageToken {
    /// Last key of the previous page.
    k: String,
    /// Fingerprint of the query.
    q: String,
}

fn fingerprint(query: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in query {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex_prefix(&hash.finalize())
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl PageRequest {
    /// Validates `page_size` and `page_token` for the query described by `query` (every
    /// parameter that shapes the result, e.g. the rpc name, account id and filters).
    pub fn parse(page_size: u32, page_token: &str, query: &[&str]) -> Result<Self, ApiError> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let fingerprint = fingerprint(query);
        let after = if page_token.is_empty() {
            None
        } else {
            let token = URL_SAFE_NO_PAD
                .decode(page_token)
                .ok()
                .and_then(|json| serde_json::from_slice::<PageToken>(&json).ok())
                .filter(|token| token.q == fingerprint)
                .ok_or_else(|| {
                    ApiError::new(
                        Reason::InvalidPageToken,
                        "page_token was not issued for this query",
                    )
                })?;
            Some(token.k)
        };
        Ok(Self {
            size,
            after,
            fingerprint,
        })
    }

    /// How many items to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> u32 {
        self.size + 1
    }

    /// Trims a fetched batch to the page and returns the token for the next page (empty on the
    /// last page). `key` gives an item's keyset key.
    pub fn finish<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        let size = self.size as usize;
        if items.len() <= size {
            return String::new();
        }
        items.truncate(size);
        let Some(last) = items.last() else {
            return String::new();
        };
        let token = PageToken {
            k: key(last),
            q: self.fingerprint.clone(),
        };
        serde_json::to_vec(&token)
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_and_clamp() {
        assert_eq!(PageRequest::parse(0, "", &["q"]).map(|p| p.size), Ok(50));
        assert_eq!(
            PageRequest::parse(9000, "", &["q"]).map(|p| p.size),
            Ok(500)
        );
        assert_eq!(PageRequest::parse(7, "", &["q"]).map(|p| p.size), Ok(7));
    }

    #[test]
    fn tokens_round_trip_only_for_their_query() {
        let page = PageRequest::parse(2, "", &["list", "acc_1"]).unwrap_or_else(|e| {
            unreachable!("{e}");
        });
        let mut items = vec!["a", "b", "c"];
        let token = page.finish(&mut items, |s| (*s).to_owned());
        assert_eq!(items, ["a", "b"]);
        let next = PageRequest::parse(2, &token, &["list", "acc_1"]).map(|p| p.after);
        assert_eq!(next, Ok(Some("b".to_owned())));
        let other = PageRequest::parse(2, &token, &["list", "acc_2"]).map_err(|e| e.reason());
        assert_eq!(other, Err(Reason::InvalidPageToken));
        let garbage = PageRequest::parse(2, "!!", &["list"]).map_err(|e| e.reason());
        assert_eq!(garbage, Err(Reason::InvalidPageToken));
        let mut last = vec!["x"];
        assert_eq!(page.finish(&mut last, |s| (*s).to_owned()), "");
    }
}
