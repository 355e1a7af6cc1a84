//! Who is calling. The gateway establishes a [`Principal`] (from a token, later also an API key)
//! and puts it in the request extensions; services read it first thing in every handler and
//! never look at credentials themselves.

use std::collections::BTreeSet;

use crate::id::{AccountId, AppId, ConsentId, CustomerId};
use crate::scope::{Permission, Scope};

/// The consent a customer-bound token acts under: which accounts and what on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentGrant {
    /// The consent's id.
    pub consent_id: ConsentId,
    /// The accounts the customer chose while authorising.
    pub account_ids: BTreeSet<AccountId>,
    /// What the app may read on them.
    pub permissions: BTreeSet<Permission>,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The app (OAuth2 client) making the call.
    pub app_id: AppId,
    /// The scopes of its token.
    pub scopes: BTreeSet<Scope>,
    /// The customer the token acts for, if any (authorization-code tokens).
    pub customer_id: Option<CustomerId>,
    /// The consent the token is bound to, if any.
    pub consent: Option<ConsentGrant>,
}

impl Principal {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the token's consent grants `permission`.
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.consent
            .as_ref()
            .is_some_and(|consent| consent.permissions.contains(&permission))
    }
}
