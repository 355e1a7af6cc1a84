//! Background workers: the one loop behind the outbox relay, the consent expiry sweeper and
//! the settlement worker.
//!
//! A worker runs a *round* at start (catching up on whatever a crash or a stop left behind),
//! then again after each period — or earlier when its [`Schedule`] has a wake-up signal that
//! fires — until it is told to stop. A failed round is logged and retried after an exponential,
//! jittered backoff (starting at the period, capped at [`MAX_BACKOFF`] or the period if
//! longer), so a database or broker outage is not hammered; the first successful round resets
//! it.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The longest a failing worker waits between rounds (unless its period is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// When a worker runs its next round.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The pause after a successful round.
    period: Duration,
    /// Ends the pause early, e.g. when a payment was just created.
    wake: Option<Arc<Notify>>,
}

impl Schedule {
    /// A round every `period`.
    pub fn every(period: Duration) -> Self {
        Self { period, wake: None }
    }

    /// Also a round as soon as `wake` is notified.
    pub fn or_when(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.period)
            .with_max_delay(MAX_BACKOFF.max(self.period))
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// Waits `pause`, or less if woken; `false` when `stop` was cancelled meanwhile.
    async fn pause(&self, stop: &CancellationToken, pause: Duration) -> bool {
        let woken = async {
            match &self.wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => false,
            () = woken => true,
            () = tokio::time::sleep(pause) => true,
        }
    }
}

/// Runs `round` on `schedule` until `stop` is cancelled; `name` identifies the worker in logs.
pub async fn run_every<F, Fut, E>(
    name: &'static str,
    stop: CancellationToken,
    schedule: Schedule,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut backoff = schedule.backoff();
    loop {
        if stop.is_cancelled() {
            return;
        }
        let pause = match round().await {
            Ok(()) => {
                backoff = schedule.backoff();
                schedule.period
            }
            Err(error) => {
                let retry_in = backoff.next().unwrap_or(MAX_BACKOFF);
                tracing::warn!(worker = name, %error, ?retry_in, "worker round failed; retrying");
                retry_in
            }
        };
        if !schedule.pause(&stop, pause).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn rounds_repeat_on_the_period_and_back_off_on_failure_until_stopped() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let counter = rounds.clone();
        let worker = tokio::spawn(run_every(
            "test",
            stop.clone(),
            Schedule::every(Duration::from_secs(1)),
            move || {
                let round = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Rounds 1 to 3 fail: the worker waits longer each time.
                    if (1..=3).contains(&round) {
                        Err("down")
                    } else {
                        Ok(())
                    }
                }
            },
        ));
        // Round 0 at start, round 1 after 1 s; then backoff ≥ 1 s, ≥ 2 s, ≥ 4 s (jitter adds).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let after_a_minute = rounds.load(Ordering::SeqCst);
        assert!(
            (5..=60).contains(&after_a_minute),
            "{after_a_minute} rounds"
        );
        stop.cancel();
        assert!(worker.await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_runs_a_round_before_the_period_is_over() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let counter = rounds.clone();
        let worker = tokio::spawn(run_every(
            "test",
            stop.clone(),
            Schedule::every(Duration::from_secs(3600)).or_when(wake.clone()),
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok::<(), &str>(()) }
            },
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 1);
        wake.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
        stop.cancel();
        assert!(worker.await.is_ok());
    }
}
