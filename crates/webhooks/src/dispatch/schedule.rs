//! The retry schedule: after the n-th failed attempt of a delivery, how long until the next,
//! with jitter so that deliveries failing together do not return together; none once the
//! schedule is exhausted (the delivery is then a dead letter).

use std::time::Duration;

use rand::Rng;

/// How far an actual delay may stray from the schedule's, either way: a fifth.
const JITTER: f64 = 0.2;

/// The delays between attempts: the first attempt is immediate, the second `delays[0]` after
/// the first failure, and so on; `delays.len() + 1` attempts in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// A schedule of these delays.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    /// The delay before the next attempt after `failures` failed attempts (1 after the first
    /// failure), jittered; `None` when no attempt is left.
    pub fn after_failures(&self, failures: usize) -> Option<Duration> {
        let planned = *self.delays.get(failures.checked_sub(1)?)?;
        let factor = rand::rng().random_range((1.0 - JITTER)..=(1.0 + JITTER));
        Some(planned.mul_f64(factor))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_within_the_jitter_then_ends() {
        let schedule = RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(300)]);
        for _ in 0..100 {
            let first = schedule.after_failures(1).unwrap();
            assert!((4.0..=6.0).contains(&first.as_secs_f64()), "{first:?}");
            let second = schedule.after_failures(2).unwrap();
            assert!(
                (240.0..=360.0).contains(&second.as_secs_f64()),
                "{second:?}"
            );
        }
        assert_eq!(schedule.after_failures(3), None);
        assert_eq!(schedule.after_failures(0), None);
    }
}
