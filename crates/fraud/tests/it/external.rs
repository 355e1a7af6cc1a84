//! The external path: a real gRPC `RiskAssessmentService` answering allow, step-up, reject or
//! no decision; stalling past the deadline; failing; or not there at all — and each fallback
//! policy.

use std::time::{Duration, Instant};

use tonic::Code;
use wekeza_fraud::{
    Assessment, Decision, FallbackPolicy, FraudConfig, PaymentAttempt, Source, build_assessor,
    codes, sandbox,
};
use wekeza_proto::wekeza::fraud::v1::RiskDecision;

use crate::support::{Behaviour, FraudSystem, MemoryHistory, answer, attempt, kes, noon};

/// A deadline no healthy local call misses, even on a loaded test machine.
const GENEROUS_MS: u64 = 5_000;

async fn assess(config: &FraudConfig, attempt: &PaymentAttempt) -> Assessment {
    build_assessor(config)
        .unwrap()
        .assess(attempt, &MemoryHistory::usual(), noon())
        .await
}

#[tokio::test]
async fn each_decision_of_the_fraud_system_stands() {
    for (wire, decision) in [
        (RiskDecision::Allow, Decision::Allow),
        (RiskDecision::StepUp, Decision::StepUp),
        (RiskDecision::Reject, Decision::Reject),
    ] {
        // Scores that disagree with our policy: the system's decision wins.
        let system = FraudSystem::start(Behaviour::Answer(answer(wire, 55))).await;
        let assessment = assess(&system.config(GENEROUS_MS), &attempt()).await;
        assert_eq!(assessment.decision, decision, "{wire:?}");
        assert_eq!(assessment.score, 55);
        assert_eq!(assessment.source, Source::External);
        assert_eq!(
            assessment.external_assessment_id.as_deref(),
            Some("fa_0001")
        );
        assert!(assessment.has_reason("MULE_NETWORK"));
        assert_eq!(system.seen().len(), 1);
    }
}

#[tokio::test]
async fn the_request_carries_the_payment_and_the_deadline() {
    let system = FraudSystem::start(Behaviour::Answer(answer(RiskDecision::Allow, 3))).await;
    let payment = attempt();
    assess(&system.config(GENEROUS_MS), &payment).await;

    let seen = system.seen();
    let [call] = seen.as_slice() else {
        panic!("one call expected, got {seen:?}");
    };
    let request = &call.request;
    assert_eq!(request.payment_id, payment.payment_id.to_string());
    assert_eq!(request.consent_id, payment.consent_id.to_string());
    assert_eq!(request.customer_id, payment.customer_id.to_string());
    assert_eq!(
        request.debtor_account_id,
        payment.debtor_account_id.to_string()
    );
    let amount = request.amount.as_ref().unwrap();
    assert_eq!(
        (amount.amount.as_str(), amount.currency.as_str()),
        ("1000.00", "KES")
    );
    assert_eq!(request.creditor_name, "Jane Wanjiru");
    assert_eq!(
        request.creditor_account_number,
        payment.creditor.account_number
    );
    assert_eq!(request.client_id, payment.client_id.to_string());
    assert_eq!(request.customer_ip_address, "196.201.214.10");
    assert_eq!(request.user_agent, payment.user_agent.clone().unwrap());
    assert_eq!(request.device_id, "dev-android-7");
    assert_eq!(request.reference, "March rent");
    let time = request.request_time.unwrap();
    assert_eq!((time.seconds, time.nanos), (noon().timestamp(), 0));
    // The deadline travels as `grpc-timeout` (tonic writes it in its own unit, e.g. `5000000u`).
    assert!(call.grpc_timeout.is_some(), "no grpc-timeout header");

    let mut bare = attempt();
    bare.customer_ip = None;
    bare.user_agent = None;
    bare.device_id = None;
    assess(&system.config(GENEROUS_MS), &bare).await;
    let request = &system.seen()[1].request;
    assert_eq!(
        (
            request.customer_ip_address.as_str(),
            request.user_agent.as_str(),
            request.device_id.as_str()
        ),
        ("", "", ""),
        "unknown is empty on the wire"
    );
}

#[tokio::test]
async fn no_decision_is_a_rejection() {
    let system = FraudSystem::start(Behaviour::Answer(answer(RiskDecision::Unspecified, 0))).await;
    let assessment = assess(&system.config(GENEROUS_MS), &attempt()).await;
    assert_eq!(assessment.decision, Decision::Reject);
    assert_eq!(assessment.source, Source::External);
    assert!(assessment.has_reason(codes::EXTERNAL_DECISION_UNSPECIFIED));
}

#[tokio::test]
async fn a_slow_fraud_system_times_out_into_the_fallback() {
    let system = FraudSystem::start(Behaviour::Slow(
        Duration::from_secs(2),
        answer(RiskDecision::Allow, 0),
    ))
    .await;
    let config = system.config(100);
    let assessor = build_assessor(&config).unwrap();
    let started = Instant::now();
    let assessment = assessor
        .assess(&attempt(), &MemoryHistory::usual(), noon())
        .await;
    let waited = started.elapsed();

    assert!(
        waited >= Duration::from_millis(100),
        "gave up early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(1),
        "waited for the slow answer: {waited:?}"
    );
    assert_eq!(assessment.source, Source::FallbackAfterExternalFailure);
    assert_eq!(assessment.reasons[0].code, codes::EXTERNAL_TIMEOUT);
    // The rules see nothing wrong, but the default fallback never allows outright.
    assert_eq!(assessment.score, 0);
    assert_eq!(assessment.decision, Decision::StepUp);
    assert_eq!(assessment.external_assessment_id, None);
    assert_eq!(system.seen().len(), 1, "the call was made");
}

#[tokio::test]
async fn a_peer_that_never_speaks_http2_times_out() {
    // The kernel accepts the connection; nobody ever answers the HTTP/2 handshake.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = FraudConfig::default();
    config.external.addr = Some(format!("http://{}", silent.local_addr().unwrap()));
    config.external.deadline_ms = 100;
    let started = Instant::now();
    let assessment = assess(&config, &attempt()).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(assessment.source, Source::FallbackAfterExternalFailure);
    assert_eq!(assessment.reasons[0].code, codes::EXTERNAL_TIMEOUT);
    assert_eq!(assessment.decision, Decision::StepUp);
    drop(silent);
}

#[tokio::test]
async fn unavailable_falls_back() {
    let system = FraudSystem::start(Behaviour::Fail(Code::Unavailable)).await;
    let assessment = assess(&system.config(GENEROUS_MS), &attempt()).await;
    assert_eq!(assessment.source, Source::FallbackAfterExternalFailure);
    assert_eq!(assessment.reasons[0].code, codes::EXTERNAL_UNAVAILABLE);
    assert_eq!(assessment.decision, Decision::StepUp);
}

#[tokio::test]
async fn deadline_exceeded_from_the_server_counts_as_a_timeout() {
    let system = FraudSystem::start(Behaviour::Fail(Code::DeadlineExceeded)).await;
    let assessment = assess(&system.config(GENEROUS_MS), &attempt()).await;
    assert_eq!(assessment.reasons[0].code, codes::EXTERNAL_TIMEOUT);
    assert_eq!(assessment.decision, Decision::StepUp);
}

#[tokio::test]
async fn any_other_error_falls_back() {
    for code in [Code::Internal, Code::Unimplemented, Code::PermissionDenied] {
        let system = FraudSystem::start(Behaviour::Fail(code)).await;
        let assessment = assess(&system.config(GENEROUS_MS), &attempt()).await;
        assert_eq!(
            assessment.source,
            Source::FallbackAfterExternalFailure,
            "{code:?}"
        );
        assert_eq!(
            assessment.reasons[0].code,
            codes::EXTERNAL_ERROR,
            "{code:?}"
        );
        assert_eq!(assessment.decision, Decision::StepUp, "{code:?}");
    }
}

#[tokio::test]
async fn nothing_listening_falls_back_as_unavailable() {
    let vacant = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let mut config = FraudConfig::default();
    config.external.addr = Some(format!("http://{vacant}"));
    config.external.deadline_ms = GENEROUS_MS;
    let started = Instant::now();
    let assessment = assess(&config, &attempt()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a refused connection is not a wait"
    );
    assert_eq!(assessment.source, Source::FallbackAfterExternalFailure);
    assert_eq!(assessment.reasons[0].code, codes::EXTERNAL_UNAVAILABLE);
    assert_eq!(assessment.decision, Decision::StepUp);
}

#[tokio::test]
async fn each_fallback_policy() {
    let system = FraudSystem::start(Behaviour::Fail(Code::Unavailable)).await;
    let history = MemoryHistory::usual();

    // The rules allow this payment; the rules reject one to a blocklisted creditor.
    let mut blocked = attempt();
    blocked.creditor.name = "Mule Holdings".into();
    for (fallback, ordinary, rejected_by_rules) in [
        (
            FallbackPolicy::StepUpWithRules,
            Decision::StepUp,
            Decision::Reject,
        ),
        (
            FallbackPolicy::AllowWithRules,
            Decision::Allow,
            Decision::Reject,
        ),
        (FallbackPolicy::Reject, Decision::Reject, Decision::Reject),
    ] {
        let mut config = system.config(GENEROUS_MS);
        config.external.fallback = fallback;
        config.rules.creditor_blocklist.names = vec!["Mule Holdings".into()];
        let assessor = build_assessor(&config).unwrap();

        let allowed = assessor.assess(&attempt(), &history, noon()).await;
        assert_eq!(allowed.decision, ordinary, "{fallback:?}");
        assert_eq!(allowed.source, Source::FallbackAfterExternalFailure);

        let rejected = assessor.assess(&blocked, &history, noon()).await;
        assert_eq!(rejected.decision, rejected_by_rules, "{fallback:?}");
        assert!(
            rejected.has_reason(codes::CREDITOR_BLOCKLISTED),
            "the rules ran: {rejected:?}"
        );
        assert_eq!(rejected.score, 100);
    }
}

#[tokio::test]
async fn the_fallback_keeps_the_rules_reasons() {
    let system = FraudSystem::start(Behaviour::Fail(Code::Unavailable)).await;
    let mut config = system.config(GENEROUS_MS);
    config.external.fallback = FallbackPolicy::AllowWithRules;
    let mut payment = attempt();
    payment.customer_ip = None;
    payment.user_agent = Some("curl/8.5.0".into());
    payment.creditor.account_number = "5566778899".into(); // never paid: +15
    let assessment = assess(&config, &payment).await;
    // 20 + 15 + 10 = 45: a step-up by the rules themselves.
    assert_eq!(
        (assessment.score, assessment.decision),
        (45, Decision::StepUp)
    );
    let codes_seen: Vec<&str> = assessment.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes_seen,
        [
            codes::EXTERNAL_UNAVAILABLE,
            codes::USER_AGENT_SUSPICIOUS,
            codes::NEW_PAYEE,
            codes::IP_MISSING
        ]
    );
}

#[tokio::test]
async fn sandbox_magic_wins_without_asking_the_fraud_system() {
    let system = FraudSystem::start(Behaviour::Answer(answer(RiskDecision::Allow, 0))).await;
    let mut config = system.config(GENEROUS_MS);
    config.sandbox = true;
    let cases = [
        (
            kes(sandbox::FRAUD_REJECT_AMOUNT),
            "Jane Wanjiru",
            Decision::Reject,
        ),
        (
            kes("10.00"),
            sandbox::FRAUD_REJECT_CREDITOR_NAME,
            Decision::Reject,
        ),
        (
            kes(sandbox::STEP_UP_AMOUNT),
            "Jane Wanjiru",
            Decision::StepUp,
        ),
    ];
    for (amount, name, decision) in cases {
        let mut payment = attempt();
        payment.amount = amount;
        payment.creditor.name = name.into();
        let assessment = assess(&config, &payment).await;
        assert_eq!(
            (assessment.decision, assessment.source),
            (decision, Source::SandboxMagic)
        );
    }
    assert!(system.seen().is_empty(), "the fraud system was asked");

    // The payment service's magic amounts are not fraud's business: the system is asked.
    for decimal in [
        sandbox::INSUFFICIENT_FUNDS_AMOUNT,
        sandbox::SETTLEMENT_FAILURE_AMOUNT,
        sandbox::HELD_FOR_SIMULATION_AMOUNT,
    ] {
        let mut payment = attempt();
        payment.amount = kes(decimal);
        let assessment = assess(&config, &payment).await;
        assert_eq!(
            (assessment.decision, assessment.source),
            (Decision::Allow, Source::External)
        );
    }

    // Outside the sandbox a magic amount is an amount like any other.
    config.sandbox = false;
    let mut payment = attempt();
    payment.amount = kes(sandbox::FRAUD_REJECT_AMOUNT);
    let assessment = assess(&config, &payment).await;
    assert_eq!(
        (assessment.decision, assessment.source),
        (Decision::Allow, Source::External)
    );
    assert_eq!(system.seen().len(), 4);
}
