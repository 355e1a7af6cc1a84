//! Outbox retention: published events are kept [`OUTBOX_RETENTION`] — long enough for a
//! webhook replay (30 days back at most) and for the in-process bus's recovery at start-up —
//! then deleted, a batch at a time, so the outbox does not grow without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wekeza_domain::Clock;
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::{DatabaseConnection, outbox};

/// How long a published event stays in the outbox: a day more than a webhook replay may reach
/// back.
pub const OUTBOX_RETENTION: chrono::Duration = chrono::Duration::days(31);

/// Events deleted per statement: short statements, so the relay and the writers never wait
/// long behind a prune.
const BATCH: u64 = 1_000;

/// Deletes published events past [`OUTBOX_RETENTION`].
#[derive(Debug, Clone)]
pub struct OutboxPruner {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl OutboxPruner {
    /// A pruner of `db`'s outbox, telling time by `clock`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Deletes every published event older than the retention; answers how many.
    pub async fn prune(&self) -> Result<u64, wekeza_store::Error> {
        let before = self.clock.now() - OUTBOX_RETENTION;
        let mut deleted = 0;
        loop {
            let batch = outbox::prune_published(&self.db, before, BATCH).await?;
            deleted += batch;
            if batch < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// Prunes now and then every `every` until `stop` is cancelled; a failed round (the
    /// database down) is retried with backoff.
    pub async fn run(self, stop: CancellationToken, every: Duration) {
        run_every("outbox retention", stop, Schedule::every(every), || async {
            let deleted = self.prune().await?;
            if deleted > 0 {
                tracing::info!(
                    deleted,
                    "pruned published outbox events past their retention"
                );
            }
            Ok::<(), wekeza_store::Error>(())
        })
        .await;
    }
}
