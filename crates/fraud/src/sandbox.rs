//! Sandbox magic values: amounts and creditor names that force an outcome, so developers can
//! walk every path of a payment without real fraud or a real shortage of funds (as Plaid's
//! sandbox does). Every magic value of the platform is in [`MAGIC_VALUES`], including the
//! three the payments act on (insufficient funds, settlement failure, held for simulation), so
//! the README lists one table.
//!
//! | Trigger                          | Outcome                               | Reason code                        | Acted on by     |
//! |----------------------------------|---------------------------------------|------------------------------------|-----------------|
//! | amount `13.13` (any currency)    | payment rejected, `FRAUD_SUSPECTED`   | `SANDBOX_MAGIC_FRAUD`              | fraud           |
//! | creditor name `Fraudster Ltd`    | payment rejected, `FRAUD_SUSPECTED`   | `SANDBOX_MAGIC_FRAUD`              | fraud           |
//! | amount `42.42`                   | step-up authentication required       | `SANDBOX_MAGIC_STEP_UP`            | fraud           |
//! | amount `99.99`                   | refused, `INSUFFICIENT_FUNDS`         | `SANDBOX_MAGIC_INSUFFICIENT_FUNDS` | payment service |
//! | amount `66.66`                   | accepted, then settlement fails (`REJECTED`) | `SANDBOX_MAGIC_SETTLEMENT_FAILURE` | payment service |
//! | amount `77.77`                   | accepted, then held `PENDING` until `SimulatePaymentStatus` moves it | `SANDBOX_MAGIC_HELD_FOR_SIMULATION` | settlement, sandbox service |
//!
//! Amounts match the decimal amount exactly, whatever the currency; names match ignoring case
//! and repeated spaces. Magic values act only when the sandbox is on (`FraudConfig::sandbox`),
//! and then regardless of the rules, the policy and the bank's fraud system (which is not
//! asked). When several match, the first row wins: fraud before funds.

use wekeza_domain::Money;

use crate::blocklist::normal_name;
use crate::model::{Assessment, Decision, MAX_SCORE, RiskReason, Source, codes};
use crate::policy::Policy;

/// The amount that makes the fraud checks reject a payment.
pub const FRAUD_REJECT_AMOUNT: &str = "13.13";
/// The creditor name that makes the fraud checks reject a payment.
pub const FRAUD_REJECT_CREDITOR_NAME: &str = "Fraudster Ltd";
/// The amount that makes the fraud checks ask for a step-up.
pub const STEP_UP_AMOUNT: &str = "42.42";
/// The amount the payment service refuses for insufficient funds.
pub const INSUFFICIENT_FUNDS_AMOUNT: &str = "99.99";
/// The amount whose settlement the payment service fails.
pub const SETTLEMENT_FAILURE_AMOUNT: &str = "66.66";
/// The amount whose payment settlement leaves alone, for the sandbox's `SimulatePaymentStatus`
/// to move step by step.
pub const HELD_FOR_SIMULATION_AMOUNT: &str = "77.77";

/// What sets a magic value off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The payment's decimal amount, e.g. `"13.13"`, in any currency.
    Amount(&'static str),
    /// The creditor's name, ignoring case and repeated spaces.
    CreditorName(&'static str),
}

impl Trigger {
    /// Whether a payment of `amount` to `creditor_name` sets it off.
    pub fn matches(self, amount: Money, creditor_name: &str) -> bool {
        match self {
            Self::Amount(decimal) => !amount.is_negative() && amount.abs_decimal() == decimal,
            Self::CreditorName(name) => normal_name(creditor_name) == normal_name(name),
        }
    }
}

/// What a magic value forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagicOutcome {
    /// The fraud checks reject the payment.
    FraudReject,
    /// The fraud checks ask for a step-up.
    FraudStepUp,
    /// The payment service refuses the payment for insufficient funds.
    InsufficientFunds,
    /// The payment service accepts the payment, then its settlement fails.
    SettlementFailure,
    /// The payment service accepts the payment and settlement never moves it: only the
    /// sandbox's `SimulatePaymentStatus` does.
    HeldForSimulation,
}

impl MagicOutcome {
    /// The fraud decision it forces, if it is a fraud outcome.
    pub fn fraud_decision(self) -> Option<Decision> {
        match self {
            Self::FraudReject => Some(Decision::Reject),
            Self::FraudStepUp => Some(Decision::StepUp),
            Self::InsufficientFunds | Self::SettlementFailure | Self::HeldForSimulation => None,
        }
    }
}

/// One magic value: a row of the table in the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MagicValue {
    /// What sets it off.
    pub trigger: Trigger,
    /// What it forces.
    pub outcome: MagicOutcome,
    /// The reason code written to the audit trail.
    pub code: &'static str,
    /// What a developer sees, for the README.
    pub effect: &'static str,
}

/// Every magic value, in precedence order.
pub const MAGIC_VALUES: &[MagicValue] = &[
    MagicValue {
        trigger: Trigger::Amount(FRAUD_REJECT_AMOUNT),
        outcome: MagicOutcome::FraudReject,
        code: codes::SANDBOX_MAGIC_FRAUD,
        effect: "the payment is rejected with FRAUD_SUSPECTED",
    },
    MagicValue {
        trigger: Trigger::CreditorName(FRAUD_REJECT_CREDITOR_NAME),
        outcome: MagicOutcome::FraudReject,
        code: codes::SANDBOX_MAGIC_FRAUD,
        effect: "the payment is rejected with FRAUD_SUSPECTED",
    },
    MagicValue {
        trigger: Trigger::Amount(STEP_UP_AMOUNT),
        outcome: MagicOutcome::FraudStepUp,
        code: codes::SANDBOX_MAGIC_STEP_UP,
        effect: "the customer must pass a step-up authentication first",
    },
    MagicValue {
        trigger: Trigger::Amount(INSUFFICIENT_FUNDS_AMOUNT),
        outcome: MagicOutcome::InsufficientFunds,
        code: codes::SANDBOX_MAGIC_INSUFFICIENT_FUNDS,
        effect: "the payment is refused with INSUFFICIENT_FUNDS",
    },
    MagicValue {
        trigger: Trigger::Amount(SETTLEMENT_FAILURE_AMOUNT),
        outcome: MagicOutcome::SettlementFailure,
        code: codes::SANDBOX_MAGIC_SETTLEMENT_FAILURE,
        effect: "the payment is accepted, then its settlement fails and it ends REJECTED",
    },
    MagicValue {
        trigger: Trigger::Amount(HELD_FOR_SIMULATION_AMOUNT),
        outcome: MagicOutcome::HeldForSimulation,
        code: codes::SANDBOX_MAGIC_HELD_FOR_SIMULATION,
        effect: "the payment is accepted and stays PENDING until SimulatePaymentStatus moves it",
    },
];

/// Whether settlement leaves a payment of `amount` to `creditor_name` to the sandbox's
/// `SimulatePaymentStatus` (callers check that the sandbox is on).
pub fn held_for_simulation(amount: Money, creditor_name: &str) -> bool {
    find(amount, creditor_name)
        .is_some_and(|magic| magic.outcome == MagicOutcome::HeldForSimulation)
}

/// The first magic value a payment of `amount` to `creditor_name` sets off. Callers check that
/// the sandbox is on.
pub fn find(amount: Money, creditor_name: &str) -> Option<&'static MagicValue> {
    MAGIC_VALUES
        .iter()
        .find(|magic| magic.trigger.matches(amount, creditor_name))
}

/// The forced fraud assessment for a payment, if a fraud magic value matches it. A forced
/// step-up scores the policy's step-up threshold, a forced rejection 100.
pub(crate) fn fraud_assessment(
    amount: Money,
    creditor_name: &str,
    policy: Policy,
) -> Option<Assessment> {
    let (magic, decision) = MAGIC_VALUES.iter().find_map(|magic| {
        let decision = magic.outcome.fraud_decision()?;
        magic
            .trigger
            .matches(amount, creditor_name)
            .then_some((magic, decision))
    })?;
    let score = match decision {
        Decision::Reject => MAX_SCORE,
        Decision::StepUp | Decision::Allow => policy.step_up_threshold.min(MAX_SCORE),
    };
    let description = match magic.trigger {
        Trigger::Amount(decimal) => format!("sandbox magic amount {decimal}: {}", magic.effect),
        Trigger::CreditorName(name) => format!("sandbox magic creditor `{name}`: {}", magic.effect),
    };
    Some(Assessment {
        score,
        decision,
        reasons: vec![RiskReason::new(magic.code, description, score)],
        source: Source::SandboxMagic,
        external_assessment_id: None,
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::inconsistent_digit_grouping,
    reason = "tests fail loudly; amounts in minor units read as shillings_cents (1_000_00 is KES 1,000.00)"
)]
mod tests {
    use wekeza_domain::Currency;

    use super::*;

    fn kes(decimal: &str) -> Money {
        Money::parse(decimal, "KES").unwrap()
    }

    #[test]
    fn every_magic_value_is_found_in_any_currency() {
        for magic in MAGIC_VALUES {
            let (amount, name) = match magic.trigger {
                Trigger::Amount(decimal) => (decimal, "Jane Doe"),
                Trigger::CreditorName(name) => ("10.00", name),
            };
            for currency in ["KES", "USD", "EUR", "GBP"] {
                let amount = Money::parse(amount, currency).unwrap();
                assert_eq!(find(amount, name), Some(magic), "{magic:?} in {currency}");
            }
        }
    }

    #[test]
    fn near_misses_are_not_magic() {
        for decimal in [
            "13.12", "13.14", "131.30", "1.31", "42.40", "99.98", "66.67", "77.78", "10.00",
        ] {
            assert_eq!(find(kes(decimal), "Jane Doe"), None, "{decimal}");
        }
        assert_eq!(
            find(Money::from_minor(-1313, Currency::Kes), "Jane Doe"),
            None
        );
        assert_eq!(find(kes("10.00"), "Fraudster Ltd."), None);
        assert_eq!(find(kes("10.00"), "Fraudsters Ltd"), None);
    }

    #[test]
    fn names_ignore_case_and_spacing() {
        let found = find(kes("10.00"), "  fraudster   LTD ").map(|m| m.outcome);
        assert_eq!(found, Some(MagicOutcome::FraudReject));
    }

    #[test]
    fn fraud_comes_before_funds() {
        let found = find(kes(INSUFFICIENT_FUNDS_AMOUNT), FRAUD_REJECT_CREDITOR_NAME);
        assert_eq!(found.map(|m| m.outcome), Some(MagicOutcome::FraudReject));
        let forced = fraud_assessment(
            kes(STEP_UP_AMOUNT),
            FRAUD_REJECT_CREDITOR_NAME,
            Policy::default(),
        );
        assert_eq!(forced.map(|a| a.decision), Some(Decision::Reject));
    }

    #[test]
    fn fraud_assessments_for_fraud_values_only() {
        let policy = Policy::default();
        let reject = fraud_assessment(kes(FRAUD_REJECT_AMOUNT), "Jane Doe", policy).unwrap();
        assert_eq!((reject.score, reject.decision), (100, Decision::Reject));
        assert_eq!(reject.source, Source::SandboxMagic);
        assert!(reject.has_reason(codes::SANDBOX_MAGIC_FRAUD));

        let by_name = fraud_assessment(kes("1.00"), FRAUD_REJECT_CREDITOR_NAME, policy).unwrap();
        assert_eq!(by_name.decision, Decision::Reject);
        assert!(by_name.has_reason(codes::SANDBOX_MAGIC_FRAUD));

        let step_up = fraud_assessment(kes(STEP_UP_AMOUNT), "Jane Doe", policy).unwrap();
        assert_eq!((step_up.score, step_up.decision), (40, Decision::StepUp));
        assert!(step_up.has_reason(codes::SANDBOX_MAGIC_STEP_UP));

        for decimal in [
            INSUFFICIENT_FUNDS_AMOUNT,
            SETTLEMENT_FAILURE_AMOUNT,
            HELD_FOR_SIMULATION_AMOUNT,
            "10.00",
        ] {
            assert_eq!(
                fraud_assessment(kes(decimal), "Jane Doe", policy),
                None,
                "{decimal}"
            );
        }
    }

    #[test]
    fn codes_match_outcomes() {
        for magic in MAGIC_VALUES {
            let expected = match magic.outcome {
                MagicOutcome::FraudReject => codes::SANDBOX_MAGIC_FRAUD,
                MagicOutcome::FraudStepUp => codes::SANDBOX_MAGIC_STEP_UP,
                MagicOutcome::InsufficientFunds => codes::SANDBOX_MAGIC_INSUFFICIENT_FUNDS,
                MagicOutcome::SettlementFailure => codes::SANDBOX_MAGIC_SETTLEMENT_FAILURE,
                MagicOutcome::HeldForSimulation => codes::SANDBOX_MAGIC_HELD_FOR_SIMULATION,
            };
            assert_eq!(magic.code, expected);
        }
    }
}
