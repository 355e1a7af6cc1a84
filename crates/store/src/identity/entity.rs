//! The sea-orm entities of the identity tables.

use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};

/// `signing_keys`: the keys the platform signs its tokens with.
pub mod signing_keys {
    use sea_orm::entity::prelude::*;

    /// One key pair.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        /// The key id (`kid`) tokens name it by.
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        /// The JWS algorithm, e.g. `ES256`.
        pub algorithm: String,
        /// The private key, in the format its prefix names (e.g. `pkcs8:<base64>`).
        #[sea_orm(column_type = "Text")]
        pub private_key: String,
        /// The public key as a JWK (JSON), as published in the JWKS.
        #[sea_orm(column_type = "Text")]
        pub public_jwk: String,
        /// When it was created.
        pub created_at: DateTimeUtc,
        /// When a newer key replaced it for signing; it stays published a while after.
        pub retired_at: Option<DateTimeUtc>,
    }

    /// Never prints the private key.
    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("signing_keys::Model")
                .field("kid", &self.kid)
                .field("algorithm", &self.algorithm)
                .field("created_at", &self.created_at)
                .field("retired_at", &self.retired_at)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `revoked_tokens`: access tokens revoked before their expiry, by `jti`.
pub mod revoked_tokens {
    use sea_orm::entity::prelude::*;

    /// One revoked token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "revoked_tokens")]
    pub struct Model {
        /// The token's `jti`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        /// The client it was issued to.
        pub client_id: String,
        /// When the token expires; the row is useless after that.
        pub expires_at: DateTimeUtc,
        /// When it was revoked.
        pub revoked_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `used_jtis`: single-use JWT ids already presented.
pub mod used_jtis {
    use sea_orm::entity::prelude::*;

    /// One used id.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "used_jtis")]
    pub struct Model {
        /// SHA-256 (hex) of the id's namespace and value, e.g. `dpop`, the key and the `jti`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// When the JWT carrying it expires; the row is useless after that.
        pub expires_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `authorization_codes`: codes of the authorization-code flow, by the SHA-256 of the code.
pub mod authorization_codes {
    use sea_orm::entity::prelude::*;

    /// One code and what it was issued for.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorization_codes")]
    pub struct Model {
        /// SHA-256 (hex) of the code; the code itself is never stored.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        /// The client it was issued to.
        pub client_id: String,
        /// The consent it was issued for (`cns_…`); `None` for a sign-in alone (`openid`).
        pub consent_id: Option<String>,
        /// The customer who authorised (`cus_…`).
        pub customer_id: String,
        /// The accounts bound while authorising, a JSON array of `acc_…`.
        #[sea_orm(column_type = "Text")]
        pub account_ids: String,
        /// The scopes granted, space-separated.
        pub scope: String,
        /// The redirect URI of the authorization request: the token request must repeat it.
        #[sea_orm(column_type = "Text")]
        pub redirect_uri: String,
        /// The PKCE S256 code challenge.
        pub code_challenge: String,
        /// The OpenID Connect nonce, copied into the ID token.
        #[sea_orm(column_type = "Text", nullable)]
        pub nonce: Option<String>,
        /// When it was issued.
        pub created_at: DateTimeUtc,
        /// When it stops being redeemable.
        pub expires_at: DateTimeUtc,
        /// When it was redeemed; a second redemption is a replay.
        pub redeemed_at: Option<DateTimeUtc>,
        /// The token family its redemption started (see `refresh_tokens.grant_id`).
        pub grant_id: Option<String>,
        /// The authentication context the customer passed for it, e.g. a payment's step-up.
        #[sea_orm(column_type = "Text", nullable)]
        pub acr: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `refresh_tokens`: refresh tokens, by the SHA-256 of the token, in families (`grant_id`).
pub mod refresh_tokens {
    use sea_orm::entity::prelude::*;

    /// One refresh token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        /// SHA-256 (hex) of the token; the token itself is never stored.
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// The family: every token descending from one authorization code.
        pub grant_id: String,
        /// The client it was issued to.
        pub client_id: String,
        /// The consent it is bound to (`cns_…`).
        pub consent_id: String,
        /// The customer (`cus_…`).
        pub customer_id: String,
        /// The scopes granted, space-separated.
        pub scope: String,
        /// The `jti` of the access token issued together with it, revoked with the family.
        pub access_jti: String,
        /// When that access token expires.
        pub access_expires_at: DateTimeUtc,
        /// When it was issued.
        pub created_at: DateTimeUtc,
        /// When it stops being usable.
        pub expires_at: DateTimeUtc,
        /// When it was exchanged for its successor; presenting it again is a replay.
        pub rotated_at: Option<DateTimeUtc>,
        /// When its family was revoked.
        pub revoked_at: Option<DateTimeUtc>,
        /// The DPoP key (JWK SHA-256 thumbprint) the family is bound to; `None` for Bearer.
        pub jkt: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Where a customer's browser session of an authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SignInStage {
    /// Waiting for username and password.
    #[sea_orm(string_value = "password")]
    Password,
    /// Signed in with the password; waiting for the one-time password.
    #[sea_orm(string_value = "second_factor")]
    SecondFactor,
    /// Authenticated; waiting for the decision on the consent screen.
    #[sea_orm(string_value = "consent")]
    Consent,
    /// Sent to the upstream OpenID provider (federated sign-in); waiting for its answer.
    #[sea_orm(string_value = "upstream")]
    Upstream,
    /// Decided (or given up after too many failures): the session is over.
    #[sea_orm(string_value = "done")]
    Done,
}

/// `authorization_requests`: pushed authorization requests (RFC 9126) and the browser session
/// that carries one through sign-in and the consent screen.
pub mod authorization_requests {
    use sea_orm::entity::prelude::*;

    use super::SignInStage;

    /// One request.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorization_requests")]
    pub struct Model {
        /// SHA-256 (hex) of the `request_uri`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_uri_hash: String,
        /// The client that pushed it.
        pub client_id: String,
        /// The consent to decide (`cns_…`); `None` for a sign-in alone (`openid`).
        pub consent_id: Option<String>,
        /// Where the authorization response goes.
        #[sea_orm(column_type = "Text")]
        pub redirect_uri: String,
        /// The PKCE S256 challenge.
        pub code_challenge: String,
        /// The scopes asked for, space-separated.
        pub scope: String,
        /// The client's `state`, echoed in the response.
        #[sea_orm(column_type = "Text", nullable)]
        pub state: Option<String>,
        /// The OpenID Connect nonce.
        #[sea_orm(column_type = "Text", nullable)]
        pub nonce: Option<String>,
        /// When it was pushed.
        pub created_at: DateTimeUtc,
        /// When the `request_uri` stops being usable.
        pub expires_at: DateTimeUtc,
        /// SHA-256 (hex) of the session cookie, once a browser used the `request_uri` (which
        /// is then spent).
        #[sea_orm(unique)]
        pub session_hash: Option<String>,
        /// When the session ends.
        pub session_expires_at: Option<DateTimeUtc>,
        /// SHA-256 (hex) of the session's CSRF token.
        pub csrf_hash: Option<String>,
        /// Where the session stands.
        pub stage: Option<SignInStage>,
        /// The customer who signed in (`cus_…`).
        pub customer_id: Option<String>,
        /// Failed passwords and one-time passwords in this session.
        pub failed_attempts: i32,
        /// The authentication context asked for (`acr_values`), e.g. a payment's step-up.
        #[sea_orm(column_type = "Text", nullable)]
        pub acr: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `second_factor_steps`: per customer, the latest time step whose one-time code was accepted.
pub mod second_factor_steps {
    use sea_orm::entity::prelude::*;

    /// One customer's latest accepted step.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "second_factor_steps")]
    pub struct Model {
        /// The customer (`cus_…`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        /// The RFC 6238 time step (`T`, seconds since the epoch / step length) of the code.
        pub last_step: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `backchannel_requests`: decoupled (CIBA poll mode) authentication requests, by the SHA-256
/// of their `auth_req_id`.
pub mod backchannel_requests {
    use sea_orm::entity::prelude::*;

    /// One backchannel authentication request and where it stands.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "backchannel_requests")]
    pub struct Model {
        /// SHA-256 (hex) of the `auth_req_id`; the id itself is never stored.
        #[sea_orm(primary_key, auto_increment = false)]
        pub auth_req_id_hash: String,
        /// The client that asked.
        pub client_id: String,
        /// The consent to authorise (`cns_…`).
        pub consent_id: String,
        /// The customer named by the `login_hint` (`cus_…`): only they may decide.
        pub customer_id: String,
        /// The accounts bound when the customer approved, a JSON array of `acc_…`.
        #[sea_orm(column_type = "Text", nullable)]
        pub account_ids: Option<String>,
        /// The scopes requested, space-separated.
        pub scope: String,
        /// The `binding_message` shown on the customer's device.
        #[sea_orm(column_type = "Text", nullable)]
        pub binding_message: Option<String>,
        /// `pending`, `approved`, `denied` or `redeemed` (see `BackchannelStatus`).
        pub status: String,
        /// When it was made.
        pub created_at: DateTimeUtc,
        /// When it stops being decidable or redeemable.
        pub expires_at: DateTimeUtc,
        /// The least number of seconds between two polls of the token endpoint.
        pub interval_seconds: i32,
        /// The last poll of the token endpoint, for `slow_down`.
        pub last_poll_at: Option<DateTimeUtc>,
        /// When the customer decided.
        pub decided_at: Option<DateTimeUtc>,
        /// When the tokens were issued; a second redemption is refused.
        pub redeemed_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registration_tokens`: initial access tokens of dynamic client registration (RFC 7591), by
/// the SHA-256 of the token.
pub mod registration_tokens {
    use sea_orm::entity::prelude::*;

    use crate::entity::enums::AppEnvironment;

    /// One initial access token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registration_tokens")]
    pub struct Model {
        /// SHA-256 (hex) of the token; the token itself is never stored.
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// The environment of the clients it registers.
        pub environment: AppEnvironment,
        /// When the operator created it.
        pub created_at: DateTimeUtc,
        /// When it stops registering clients.
        pub expires_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
