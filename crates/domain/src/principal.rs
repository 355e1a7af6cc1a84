//! Who is calling. The gateway establishes a [`Principal`] (from a token, later also an API key)
//! and puts it in the request extensions; services read it first thing in every handler and
//! never look at credentials themselves.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

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
    /// When the customer passed a step-up authentication ([`STEP_UP_ACR`]) for the token's
    /// consent, if the token comes from one.
    pub step_up_at: Option<DateTime<Utc>>,
}

/// The authentication context (`acr`) of a step-up: the customer signed in again, both factors,
/// to confirm a payment the fraud checks challenged. Asked for with `acr_values` on an
/// authorization request for the payment's (authorised) consent; carried by the tokens it
/// yields.
pub const STEP_UP_ACR: &str = "urn:wekeza:acr:step-up";

/// How long a step-up vouches for its consent's payment.
pub const STEP_UP_MAX_AGE: Duration = Duration::minutes(5);

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
