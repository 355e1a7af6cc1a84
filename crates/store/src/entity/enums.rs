//! The string-backed enums stored in the tables. The strings are the stored values and must
//! never change; the Rust names may.

use sea_orm::entity::prelude::*;

/// Whether a customer (and its accounts) is a person or a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum CustomerKind {
    /// A person.
    #[sea_orm(string_value = "personal")]
    Personal,
    /// A business.
    #[sea_orm(string_value = "business")]
    Business,
}

/// Who an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AccountOwner {
    /// A customer; the account may not go below its overdraft limit.
    #[sea_orm(string_value = "customer")]
    Customer,
    /// The bank itself (clearing, settlement, equity): the other leg of customer postings.
    #[sea_orm(string_value = "internal")]
    Internal,
}

/// The product an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AccountSubtype {
    /// Current (checking) account.
    #[sea_orm(string_value = "current_account")]
    CurrentAccount,
    /// Savings account.
    #[sea_orm(string_value = "savings")]
    Savings,
}

/// Whether an account can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AccountStatus {
    /// Open.
    #[sea_orm(string_value = "enabled")]
    Enabled,
    /// Blocked.
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

/// What kind of business event a journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum JournalKind {
    /// Balances brought forward when an account was loaded into the ledger.
    #[sea_orm(string_value = "opening")]
    Opening,
    /// A bank transfer (EFT, PesaLink, in-bank), salary and rent included.
    #[sea_orm(string_value = "transfer")]
    Transfer,
    /// Money moved between a customer's own accounts.
    #[sea_orm(string_value = "internal_transfer")]
    InternalTransfer,
    /// A card purchase or refund.
    #[sea_orm(string_value = "card")]
    Card,
    /// A mobile-money movement (M-Pesa send, paybill, till, airtime).
    #[sea_orm(string_value = "mobile_money")]
    MobileMoney,
    /// A bill paid to a utility or service provider.
    #[sea_orm(string_value = "bill_payment")]
    BillPayment,
    /// A foreign-exchange conversion between a customer's accounts.
    #[sea_orm(string_value = "fx")]
    Fx,
    /// A bank fee or interest.
    #[sea_orm(string_value = "fee")]
    Fee,
    /// A payment initiated through the open-banking API.
    #[sea_orm(string_value = "payment")]
    Payment,
    /// The reversal of another journal (a sandbox reset taking back an app's payments).
    #[sea_orm(string_value = "reversal")]
    Reversal,
}

/// Whether a posting is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PostingStatus {
    /// Booked: part of the booked balance.
    #[sea_orm(string_value = "booked")]
    Booked,
    /// Pending.
    #[sea_orm(string_value = "pending")]
    Pending,
}

/// The environment an app lives in; decides its API-key prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AppEnvironment {
    /// The sandbox: test data, test users.
    #[default]
    #[sea_orm(string_value = "sandbox")]
    Sandbox,
    /// Production: real customers.
    #[sea_orm(string_value = "production")]
    Production,
}

/// Whether an app may call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AppStatus {
    /// May call.
    #[sea_orm(string_value = "active")]
    Active,
    /// Blocked by the bank.
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// How an app authenticates at the token endpoint (RFC 8414 names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client secret.
    #[default]
    #[sea_orm(string_value = "client_secret_basic")]
    ClientSecretBasic,
    /// The client secret in the form body.
    #[sea_orm(string_value = "client_secret_post")]
    ClientSecretPost,
    /// A JWT signed with a key from the app's JWKS (RFC 7523).
    #[sea_orm(string_value = "private_key_jwt")]
    PrivateKeyJwt,
}

/// An app's commercial plan; decides its quotas. Ordered as listed: cheapest first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Plan {
    /// Free tier.
    #[default]
    #[sea_orm(string_value = "free")]
    Free,
    /// Startup tier.
    #[sea_orm(string_value = "startup")]
    Startup,
    /// Enterprise tier.
    #[sea_orm(string_value = "enterprise")]
    Enterprise,
}

impl Plan {
    /// Every plan, cheapest first.
    pub const ALL: [Self; 3] = [Self::Free, Self::Startup, Self::Enterprise];

    /// The plan's id on the wire and in storage: `free`, `startup` or `enterprise`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Startup => "startup",
            Self::Enterprise => "enterprise",
        }
    }

    /// The plan named `id`, if there is one.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|plan| plan.id() == id)
    }
}

impl AppEnvironment {
    /// The stored name: `sandbox` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Production => "production",
        }
    }
}

/// What a consent allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ConsentKind {
    /// Read account data.
    #[sea_orm(string_value = "account_access")]
    AccountAccess,
    /// Make one payment.
    #[sea_orm(string_value = "payment")]
    Payment,
    /// Ask whether an account holds an amount.
    #[sea_orm(string_value = "funds_confirmation")]
    FundsConfirmation,
}

/// Where a consent is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ConsentStatus {
    /// Created; the customer has not decided yet.
    #[sea_orm(string_value = "awaiting_authorisation")]
    AwaitingAuthorisation,
    /// Authorised by the customer.
    #[sea_orm(string_value = "authorised")]
    Authorised,
    /// Refused by the customer.
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Used by its payment.
    #[sea_orm(string_value = "consumed")]
    Consumed,
    /// Revoked by the app or the customer.
    #[sea_orm(string_value = "revoked")]
    Revoked,
    /// Past its expiration time.
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// Where a payment is in its lifecycle (the rejection reason has a column of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PaymentStatus {
    /// Received, funds on hold.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Accepted; being posted.
    #[sea_orm(string_value = "accepted_settlement_in_process")]
    AcceptedSettlementInProcess,
    /// Posted.
    #[sea_orm(string_value = "accepted_settlement_completed")]
    AcceptedSettlementCompleted,
    /// Refused; `status_reason` says why.
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

/// Whether a funds hold still reserves its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum HoldStatus {
    /// Reserves its amount: counted in the account's `held_minor`.
    #[sea_orm(string_value = "active")]
    Active,
    /// Turned into a posted debit.
    #[sea_orm(string_value = "settled")]
    Settled,
    /// Given back without a posting.
    #[sea_orm(string_value = "released")]
    Released,
}

/// Where a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The endpoint answered 2xx. Final.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// The last attempt failed; another is due.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Every attempt of the schedule failed; no more are made unless retried.
    #[sea_orm(string_value = "dead_lettered")]
    DeadLettered,
}

/// Why a webhook delivery exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DeliveryOrigin {
    /// An event from the event stream, for a subscribed endpoint.
    #[sea_orm(string_value = "event")]
    Event,
    /// An event delivered again by `ReplayEvents`.
    #[sea_orm(string_value = "replay")]
    Replay,
    /// A test event of `SendTestEvent`: sent even to a disabled or unsubscribed endpoint.
    #[sea_orm(string_value = "test")]
    Test,
}
