//! OAuth2 scopes an app may hold and the consent permissions a customer may grant.

use std::fmt;
use std::str::FromStr;

/// An OAuth2 scope of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Create account-access consents (app) / read consented account data (customer token).
    AccountsRead,
    /// Create payment consents (app) / initiate the consented payment (customer token).
    PaymentsInitiate,
    /// Read the consenting customer's profile.
    CustomersProfileRead,
    /// Manage the app's webhook endpoints.
    WebhooksManage,
    /// OpenID Connect sign-in.
    OpenId,
}

impl Scope {
    /// Every scope, in a stable order.
    pub const ALL: [Scope; 5] = [
        Scope::AccountsRead,
        Scope::PaymentsInitiate,
        Scope::CustomersProfileRead,
        Scope::WebhooksManage,
        Scope::OpenId,
    ];

    /// The scope's wire name, e.g. `accounts.read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountsRead => "accounts.read",
            Self::PaymentsInitiate => "payments.initiate",
            Self::CustomersProfileRead => "customers.profile.read",
            Self::WebhooksManage => "webhooks.manage",
            Self::OpenId => "openid",
        }
    }

    /// Parses a list separated by spaces and/or commas, refusing unknown scopes.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, UnknownScope> {
        let mut scopes: Vec<Scope> = text
            .split([' ', ','])
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }
}

/// A scope name the platform does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| UnknownScope(text.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an account-access consent lets an app read (UK Open Banking style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Basic account data.
    ReadAccounts,
    /// Account identification (number, holder name).
    ReadAccountsDetail,
    /// Balances.
    ReadBalances,
    /// Transactions.
    ReadTransactions,
    /// The customer's profile.
    ReadCustomerProfile,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 5] = [
        Permission::ReadAccounts,
        Permission::ReadAccountsDetail,
        Permission::ReadBalances,
        Permission::ReadTransactions,
        Permission::ReadCustomerProfile,
    ];

    /// The permission this one is only granted together with: account details, balances and
    /// transactions are read on accounts the app may list, so they need `READ_ACCOUNTS`.
    pub fn requires(self) -> Option<Permission> {
        match self {
            Self::ReadAccountsDetail | Self::ReadBalances | Self::ReadTransactions => {
                Some(Self::ReadAccounts)
            }
            Self::ReadAccounts | Self::ReadCustomerProfile => None,
        }
    }

    /// The stored name, e.g. `READ_BALANCES`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadAccounts => "READ_ACCOUNTS",
            Self::ReadAccountsDetail => "READ_ACCOUNTS_DETAIL",
            Self::ReadBalances => "READ_BALANCES",
            Self::ReadTransactions => "READ_TRANSACTIONS",
            Self::ReadCustomerProfile => "READ_CUSTOMER_PROFILE",
        }
    }
}

impl FromStr for Permission {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, UnknownScope> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.as_str() == text)
            .ok_or_else(|| UnknownScope(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_or_comma_separated_lists() {
        assert_eq!(
            Scope::parse_list("payments.initiate, accounts.read accounts.read"),
            Ok(vec![Scope::AccountsRead, Scope::PaymentsInitiate])
        );
        assert_eq!(
            Scope::parse_list("accounts.write"),
            Err(UnknownScope("accounts.write".into()))
        );
        for permission in Permission::ALL {
            assert_eq!(permission.as_str().parse(), Ok(permission));
        }
    }
}
