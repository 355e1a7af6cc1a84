//! The sea-orm entities of the identity tables.

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
