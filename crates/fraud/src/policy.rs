//! Turning a score into a [`Decision`] ([`Policy`]), and what to decide when the bank's fraud
//! system fails ([`FallbackPolicy`]).

use serde::{Deserialize, Serialize};

use crate::model::Decision;

/// Score thresholds: `score < step_up_threshold` allows, `score < reject_threshold` asks for a
/// step-up, anything higher rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The lowest score that needs a step-up (default 40: two or three mild signals together).
    pub step_up_threshold: u8,
    /// The lowest score that is rejected (default 70). Above 100 no score rejects.
    pub reject_threshold: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            step_up_threshold: 40,
            reject_threshold: 70,
        }
    }
}

impl Policy {
    /// The decision for `score`.
    pub fn decide(self, score: u8) -> Decision {
        if score < self.step_up_threshold {
            Decision::Allow
        } else if score < self.reject_threshold {
            Decision::StepUp
        } else {
            Decision::Reject
        }
    }
}

/// What to decide when the bank's fraud system times out, is unavailable or fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackPolicy {
    /// The rules engine decides, but never weaker than a step-up: the customer proves it is
    /// them while the bank's system is blind. The default.
    #[default]
    StepUpWithRules,
    /// The rules engine decides alone (it may allow).
    AllowWithRules,
    /// Every payment is rejected until the bank's system answers again.
    Reject,
}

impl FallbackPolicy {
    /// The decision under this policy, given the rules engine's.
    pub fn apply(self, rules_decision: Decision) -> Decision {
        match self {
            Self::StepUpWithRules => rules_decision.max(Decision::StepUp),
            Self::AllowWithRules => rules_decision,
            Self::Reject => Decision::Reject,
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::inconsistent_digit_grouping,
    reason = "tests fail loudly; amounts in minor units read as shillings_cents (1_000_00 is KES 1,000.00)"
)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_lower_bounds() {
        let policy = Policy::default();
        assert_eq!(policy.decide(0), Decision::Allow);
        assert_eq!(policy.decide(39), Decision::Allow);
        assert_eq!(policy.decide(40), Decision::StepUp);
        assert_eq!(policy.decide(69), Decision::StepUp);
        assert_eq!(policy.decide(70), Decision::Reject);
        assert_eq!(policy.decide(100), Decision::Reject);
    }

    #[test]
    fn custom_thresholds() {
        let policy = Policy {
            step_up_threshold: 10,
            reject_threshold: 11,
        };
        assert_eq!(policy.decide(9), Decision::Allow);
        assert_eq!(policy.decide(10), Decision::StepUp);
        assert_eq!(policy.decide(11), Decision::Reject);

        let never_reject = Policy {
            step_up_threshold: 50,
            reject_threshold: 101,
        };
        assert_eq!(never_reject.decide(100), Decision::StepUp);

        let no_step_up = Policy {
            step_up_threshold: 60,
            reject_threshold: 60,
        };
        assert_eq!(no_step_up.decide(59), Decision::Allow);
        assert_eq!(no_step_up.decide(60), Decision::Reject);
    }

    #[test]
    fn fallback_policies() {
        use Decision::*;
        for (policy, expected) in [
            (FallbackPolicy::StepUpWithRules, [StepUp, StepUp, Reject]),
            (FallbackPolicy::AllowWithRules, [Allow, StepUp, Reject]),
            (FallbackPolicy::Reject, [Reject, Reject, Reject]),
        ] {
            let got = [Allow, StepUp, Reject].map(|rules| policy.apply(rules));
            assert_eq!(got, expected, "{policy:?}");
        }
    }
}
