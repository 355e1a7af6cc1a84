//! The expiry scheduler: writes down, as EXPIRED, the consents awaiting authorisation or
//! authorised whose expiration time has passed, each with its `consent.status_changed` event.
//!
//! Use-time enforcement does not wait for it — the domain treats such a consent as expired from
//! its expiration time on ([`wekeza_domain::Consent::status_at`]) — so the sweep only makes the
//! stored status and the event stream catch up. Each expiry goes through
//! [`record::consent_transition`] in its own transaction; a consent another request changed
//! first (authorised, revoked, …) is skipped, not an error, and the next sweep looks again.
//!
//! The event keeps the type `consent.status_changed` (status EXPIRED): the contract promises
//! that every consent change, expiry included, is emitted under that type, and webhook
//! endpoints subscribe by type.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use wekeza_domain::{AppId, Clock, Consent};
use wekeza_events::record::{self, StatusWrite};
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::{DatabaseConnection, TransactionTrait, apps, consents};

use crate::Error;

/// How many overdue consents one query reads; a sweep repeats it while batches come back full.
const BATCH: u64 = 100;

/// Expires overdue consents, once ([`ExpirySweeper::sweep_once`]) or on a schedule
/// ([`ExpirySweeper::run`]).
#[derive(Debug, Clone)]
pub struct ExpirySweeper {
    /// Where consents and the outbox live.
    db: DatabaseConnection,
    /// The time of each scheduled sweep (tests sweep at a time of their choosing instead).
    clock: Arc<dyn Clock>,
}

/// What became of one overdue consent.
enum Outcome {
    /// Written down as EXPIRED, with its event.
    Expired,
    /// Changed by another request first, or its app is gone: left for the next sweep.
    Skipped,
}

impl ExpirySweeper {
    /// A sweeper over `db`, reading the time of scheduled sweeps from `clock`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Expires every consent awaiting authorisation or authorised whose expiration time is at
    /// or before `now`; answers how many it expired.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_once(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        // Consents of one app share its client id; look each app up once per sweep.
        let mut client_ids: HashMap<AppId, Option<String>> = HashMap::new();
        let mut expired = 0;
        loop {
            let batch = consents::expiry_due(&self.db, now, BATCH).await?;
            let full = batch.len() as u64 == BATCH;
            let mut progressed = 0;
            for consent in batch {
                let client_id = match client_ids.get(&consent.app_id) {
                    Some(client_id) => client_id.clone(),
                    None => {
                        let client_id = apps::find(&self.db, &consent.app_id)
                            .await?
                            .map(|app| app.client_id);
                        client_ids.insert(consent.app_id.clone(), client_id.clone());
                        client_id
                    }
                };
                let Some(client_id) = client_id else {
                    tracing::warn!(consent_id = %consent.id, "consent of unknown app not expired");
                    continue;
                };
                if let Outcome::Expired = self.expire(consent, &client_id, now).await? {
                    progressed += 1;
                }
            }
            expired += progressed;
            // A batch of nothing but skipped consents would come back the same: stop there.
            if !full || progressed == 0 {
                return Ok(expired);
            }
        }
    }

    /// Sweeps at start (catching up on what expired while nothing ran), then every `every`,
    /// until `stop` is cancelled; a failed sweep is retried with backoff.
    pub async fn run(self, stop: CancellationToken, every: Duration) {
        run_every("consent expiry", stop, Schedule::every(every), || async {
            let count = self.sweep_once(self.clock.now()).await?;
            if count > 0 {
                tracing::info!(count, "consents expired");
            }
            Ok::<(), Error>(())
        })
        .await;
    }

    /// Writes down that `consent` expired, with its event, in one transaction.
    async fn expire(
        &self,
        consent: Consent,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, Error> {
        let expired = consent.clone().expire(now)?;
        let txn = self.db.begin().await?;
        if record::consent_transition(&txn, &consent, &expired, client_id, now).await?
            == StatusWrite::Conflict
        {
            // Dropping the transaction rolls it back; nothing was written anyway.
            return Ok(Outcome::Skipped);
        }
        txn.commit().await?;
        tracing::debug!(consent_id = %expired.id, "consent expired");
        Ok(Outcome::Expired)
    }
}
