//! Single use of JWT ids, and the purge of rows nobody needs any more.
//!
//! The ids themselves are kept in the database (`wekeza_store::identity::used_jtis`), so a
//! replay is refused by whichever instance it reaches. Rows of expired JWTs — used ids and
//! revocations alike — expired refresh tokens, and authorization codes a while after their
//! expiry are purged at most once per [`PURGE_EVERY`], by the first request that finds the
//! purge due: no background task to start or stop.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use wekeza_store::DatabaseConnection;
use wekeza_store::identity::{
    authorization_codes, authorization_requests, refresh_tokens, revoked_tokens, used_jtis,
};

use crate::Error;
use crate::grants::CODE_RETENTION;
use crate::signin::SESSION_TTL;

/// How often expired rows are purged.
const PURGE_EVERY: Duration = Duration::minutes(10);

/// The single-use ids.
#[derive(Debug)]
pub(crate) struct Replays {
    db: DatabaseConnection,
    /// Unix seconds of the last purge (0: never).
    last_purge: AtomicI64,
}

impl Replays {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            last_purge: AtomicI64::new(0),
        }
    }

    /// Records `jti` in `namespace` until `expires_at`; `false` if it was already used.
    pub(crate) async fn first_use(
        &self,
        namespace: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        self.purge_if_due(now).await?;
        Ok(used_jtis::first_use(&self.db, namespace, jti, expires_at).await?)
    }

    async fn purge_if_due(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let last = self.last_purge.load(Ordering::Relaxed);
        let due = now.timestamp() - last >= PURGE_EVERY.num_seconds();
        // One caller wins the purge; the others go on.
        if !due
            || self
                .last_purge
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        let ids = used_jtis::purge_expired(&self.db, now).await?;
        let revocations = revoked_tokens::purge_expired(&self.db, now).await?;
        let codes = authorization_codes::purge_expired(&self.db, now - CODE_RETENTION).await?;
        let refresh_tokens = refresh_tokens::purge_expired(&self.db, now).await?;
        let requests = authorization_requests::purge_expired(&self.db, now - SESSION_TTL).await?;
        if ids + revocations + codes + refresh_tokens + requests > 0 {
            tracing::debug!(
                ids,
                revocations,
                codes,
                refresh_tokens,
                requests,
                "purged expired single-use ids, revocations, codes and refresh tokens"
            );
        }
        Ok(())
    }
}
