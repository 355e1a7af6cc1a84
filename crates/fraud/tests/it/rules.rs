//! The rules engine through the public API: [`build_assessor`] without an external address,
//! a history over several rules, and the sandbox table as the README will list it.

use chrono::TimeDelta;
use wekeza_fraud::{
    Decision, FraudConfig, PastDebit, Source, build_assessor, codes,
    sandbox::{self, MAGIC_VALUES, MagicOutcome, Trigger},
};

use crate::support::{KNOWN_CREDITOR, MemoryHistory, attempt, kes, noon};

#[tokio::test]
async fn without_an_address_the_rules_decide() {
    let mut config = FraudConfig::default();
    config.external.addr = Some(String::new());
    let assessor = build_assessor(&config).unwrap();
    let assessment = assessor
        .assess(&attempt(), &MemoryHistory::usual(), noon())
        .await;
    assert_eq!(
        (assessment.score, assessment.decision, assessment.source),
        (0, Decision::Allow, Source::Rules)
    );
}

#[tokio::test]
async fn a_takeover_pattern_is_rejected() {
    // A customer who pays about KES 1,000 a week suddenly sends KES 150,000 to a new payee
    // at 02:00 from a script, after four payments in the last hour.
    let mut debits: Vec<PastDebit> = (1..=8)
        .map(|week| PastDebit {
            amount: kes("1000.00"),
            at: noon() - TimeDelta::weeks(week),
            creditor_account_number: Some(KNOWN_CREDITOR.into()),
        })
        .collect();
    debits.extend((1..=5).map(|minutes| PastDebit {
        amount: kes("500.00"),
        at: noon() - TimeDelta::minutes(minutes * 5),
        creditor_account_number: Some("9999".into()),
    }));
    let history = MemoryHistory {
        debits,
        ..MemoryHistory::usual()
    };
    let mut payment = attempt();
    payment.amount = kes("150000.00");
    payment.creditor.account_number = "5566778899".into();
    payment.user_agent = Some("python-requests/2.32".into());
    payment.at = noon() - TimeDelta::hours(10); // 02:00 UTC = 05:00 EAT: just outside
    let assessor = build_assessor(&FraudConfig::default()).unwrap();
    let assessment = assessor.assess(&payment, &history, noon()).await;
    assert_eq!(assessment.decision, Decision::Reject, "{assessment:?}");
    for code in [
        codes::AMOUNT_ANOMALY,
        codes::VELOCITY_COUNT,
        codes::NEW_PAYEE,
        codes::USER_AGENT_SUSPICIOUS,
    ] {
        assert!(
            assessment.has_reason(code),
            "{code} missing: {assessment:?}"
        );
    }
    assert!(!assessment.has_reason(codes::UNUSUAL_HOUR));
    assert_eq!(assessment.score, 95, "35 + 25 + 20 + 15");
}

#[test]
fn the_magic_table_lists_every_value() {
    let rows: Vec<(Trigger, MagicOutcome, &str)> = MAGIC_VALUES
        .iter()
        .map(|magic| (magic.trigger, magic.outcome, magic.code))
        .collect();
    assert_eq!(
        rows,
        [
            (
                Trigger::Amount("13.13"),
                MagicOutcome::FraudReject,
                codes::SANDBOX_MAGIC_FRAUD
            ),
            (
                Trigger::CreditorName("Fraudster Ltd"),
                MagicOutcome::FraudReject,
                codes::SANDBOX_MAGIC_FRAUD
            ),
            (
                Trigger::Amount("42.42"),
                MagicOutcome::FraudStepUp,
                codes::SANDBOX_MAGIC_STEP_UP
            ),
            (
                Trigger::Amount("99.99"),
                MagicOutcome::InsufficientFunds,
                codes::SANDBOX_MAGIC_INSUFFICIENT_FUNDS
            ),
            (
                Trigger::Amount("66.66"),
                MagicOutcome::SettlementFailure,
                codes::SANDBOX_MAGIC_SETTLEMENT_FAILURE
            ),
            (
                Trigger::Amount("77.77"),
                MagicOutcome::HeldForSimulation,
                codes::SANDBOX_MAGIC_HELD_FOR_SIMULATION
            ),
        ]
    );
    assert_eq!(
        sandbox::find(kes(sandbox::INSUFFICIENT_FUNDS_AMOUNT), "Jane").map(|m| m.outcome),
        Some(MagicOutcome::InsufficientFunds)
    );
    assert_eq!(
        sandbox::find(kes(sandbox::SETTLEMENT_FAILURE_AMOUNT), "Jane").map(|m| m.outcome),
        Some(MagicOutcome::SettlementFailure)
    );
    assert!(sandbox::held_for_simulation(
        kes(sandbox::HELD_FOR_SIMULATION_AMOUNT),
        "Jane"
    ));
    assert!(!sandbox::held_for_simulation(kes("77.70"), "Jane"));
}
