//! The client of the bank's fraud system: [`ExternalRiskAssessor`] asks
//! `wekeza.fraud.v1.RiskAssessmentService/AssessPayment` about each payment, within a deadline,
//! and falls back to the rules engine under the configured [`FallbackPolicy`] when the system
//! times out, cannot be reached or fails.
//!
//! The deadline is enforced twice: as the gRPC `grpc-timeout` (so the fraud system can give up
//! too) and by [`tokio::time::timeout`] around the whole call, connecting included, so a black-holed
//! address cannot hold a payment longer than the deadline.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use wekeza_proto::wekeza::fraud::v1::{
    AssessPaymentRequest, AssessPaymentResponse, RiskDecision,
    risk_assessment_service_client::RiskAssessmentServiceClient,
};
use wekeza_proto::wekeza::openbanking::v1 as wire;

use crate::config::{ExternalConfig, FraudConfig};
use crate::history::RiskHistory;
use crate::model::{Assessment, Decision, MAX_SCORE, PaymentAttempt, RiskReason, Source, codes};
use crate::policy::FallbackPolicy;
use crate::rules::RulesEngine;
use crate::{Error, RiskAssessor};

/// Asks the bank's fraud system; falls back to the rules engine when it fails. Cheap to clone
/// (the channel is shared).
#[derive(Debug, Clone)]
pub struct ExternalRiskAssessor {
    /// The generated client over one shared channel.
    client: RiskAssessmentServiceClient<Channel>,
    /// How long one payment waits for the answer.
    deadline: Duration,
    /// What to decide when no usable answer comes.
    fallback: FallbackPolicy,
    /// Scores the payment when falling back; also holds the sandbox switch.
    rules: RulesEngine,
}

impl ExternalRiskAssessor {
    /// A client of the system at `config.external.addr`. Connects lazily, on the first payment,
    /// so the platform starts while the fraud system is down (the fallback covers it). Must be
    /// called inside a Tokio runtime.
    pub fn connect_lazy(config: &FraudConfig) -> Result<Self, Error> {
        let rules = RulesEngine::new(config)?;
        let addr = config
            .external
            .addr()
            .ok_or_else(|| Error::InvalidConfig("external.addr is not set".into()))?;
        let endpoint = Endpoint::from_shared(addr.to_owned())
            .map_err(|_| Error::InvalidConfig(format!("external.addr `{addr}` is not a URI")))?
            .connect_timeout(config.external.deadline());
        Ok(Self::new(endpoint.connect_lazy(), &config.external, rules))
    }

    /// A client over an existing `channel` (e.g. one with TLS set up by the server).
    pub fn new(channel: Channel, config: &ExternalConfig, rules: RulesEngine) -> Self {
        Self {
            client: RiskAssessmentServiceClient::new(channel),
            deadline: config.deadline(),
            fallback: config.fallback,
            rules,
        }
    }

    /// One call to the fraud system, bounded by the deadline.
    async fn ask(&self, attempt: &PaymentAttempt) -> Result<AssessPaymentResponse, Failure> {
        let mut request = tonic::Request::new(to_request(attempt));
        request.set_timeout(self.deadline);
        let mut client = self.client.clone();
        match tokio::time::timeout(self.deadline, client.assess_payment(request)).await {
            Err(_elapsed) => Err(Failure::Timeout),
            Ok(Err(status)) => Err(match status.code() {
                // tonic's own `grpc-timeout` enforcement answers CANCELLED ("Timeout expired"),
                // and the caller cancelling is this deadline: nothing else here cancels.
                Code::DeadlineExceeded | Code::Cancelled => Failure::Timeout,
                Code::Unavailable => Failure::Unavailable,
                other => Failure::Error(other),
            }),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }

    /// The rules engine's assessment under the fallback policy, noting why.
    async fn fall_back(
        &self,
        failure: Failure,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Assessment {
        tracing::warn!(
            payment_id = %attempt.payment_id,
            failure = failure.code(),
            fallback = ?self.fallback,
            "fraud system gave no answer; falling back"
        );
        let mut assessment = self.rules.score(attempt, history, now).await;
        assessment.decision = self.fallback.apply(assessment.decision);
        assessment.source = Source::FallbackAfterExternalFailure;
        let description = format!(
            "{} (deadline {} ms); decided by the fallback policy {:?}",
            failure.describe(),
            self.deadline.as_millis(),
            self.fallback
        );
        assessment
            .reasons
            .insert(0, RiskReason::new(failure.code(), description, 0));
        assessment
    }
}

#[async_trait]
impl RiskAssessor for ExternalRiskAssessor {
    async fn assess(
        &self,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Assessment {
        // Sandbox magic wins without asking: developers test paths, not the bank's system.
        if let Some(forced) = self.rules.sandbox_outcome(attempt) {
            return forced;
        }
        let assessment = match self.ask(attempt).await {
            Ok(response) => from_response(response),
            Err(failure) => self.fall_back(failure, attempt, history, now).await,
        };
        tracing::debug!(
            payment_id = %attempt.payment_id,
            score = assessment.score,
            decision = assessment.decision.as_str(),
            source = assessment.source.as_str(),
            "payment assessed"
        );
        assessment
    }
}

/// Why the fraud system gave no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No answer within the deadline (ours, tonic's `CANCELLED` for it, or the server's
    /// `DEADLINE_EXCEEDED`).
    Timeout,
    /// Not reachable, or it said `UNAVAILABLE`.
    Unavailable,
    /// Any other gRPC error.
    Error(Code),
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Self::Timeout => codes::EXTERNAL_TIMEOUT,
            Self::Unavailable => codes::EXTERNAL_UNAVAILABLE,
            Self::Error(_) => codes::EXTERNAL_ERROR,
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Timeout => "the fraud system did not answer in time".to_owned(),
            Self::Unavailable => "the fraud system is unavailable".to_owned(),
            Self::Error(code) => format!("the fraud system failed with {code:?}"),
        }
    }
}

/// The payment in the contract's terms.
fn to_request(attempt: &PaymentAttempt) -> AssessPaymentRequest {
    AssessPaymentRequest {
        payment_id: attempt.payment_id.to_string(),
        customer_id: attempt.customer_id.to_string(),
        debtor_account_id: attempt.debtor_account_id.to_string(),
        amount: Some(wire::Money {
            amount: attempt.amount.abs_decimal(),
            currency: attempt.amount.currency().code().to_owned(),
        }),
        creditor_name: attempt.creditor.name.clone(),
        creditor_account_number: attempt.creditor.account_number.clone(),
        client_id: attempt.client_id.to_string(),
        customer_ip_address: attempt.customer_ip.clone().unwrap_or_default(),
        user_agent: attempt.user_agent.clone().unwrap_or_default(),
        device_id: attempt.device_id.clone().unwrap_or_default(),
        request_time: Some(prost_types::Timestamp {
            seconds: attempt.at.timestamp(),
            nanos: i32::try_from(attempt.at.timestamp_subsec_nanos()).unwrap_or(0),
        }),
        consent_id: attempt.consent_id.to_string(),
        reference: attempt.reference.clone(),
    }
}

/// The fraud system's answer as an [`Assessment`]. Its decision stands (the score is only
/// clamped into 0–100); no decision, or one this platform does not know, is a rejection, as
/// the contract says.
fn from_response(response: AssessPaymentResponse) -> Assessment {
    let mut reasons: Vec<RiskReason> = response
        .reasons
        .into_iter()
        .map(|reason| RiskReason {
            code: reason.code,
            description: reason.description,
            points: 0,
        })
        .collect();
    let decision = match RiskDecision::try_from(response.decision) {
        Ok(RiskDecision::Allow) => Decision::Allow,
        Ok(RiskDecision::StepUp) => Decision::StepUp,
        Ok(RiskDecision::Reject) => Decision::Reject,
        Ok(RiskDecision::Unspecified) | Err(_) => {
            reasons.insert(
                0,
                RiskReason::new(
                    codes::EXTERNAL_DECISION_UNSPECIFIED,
                    format!(
                        "the fraud system sent decision {}, which is no decision; rejected as the contract says",
                        response.decision
                    ),
                    0,
                ),
            );
            Decision::Reject
        }
    };
    let score = u8::try_from(response.score.clamp(0, i32::from(MAX_SCORE))).unwrap_or(MAX_SCORE);
    Assessment {
        score,
        decision,
        reasons,
        source: Source::External,
        external_assessment_id: Some(response.assessment_id).filter(|id| !id.is_empty()),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::inconsistent_digit_grouping,
    reason = "tests fail loudly; amounts in minor units read as shillings_cents (1_000_00 is KES 1,000.00)"
)]
mod tests {
    use wekeza_proto::wekeza::fraud::v1::RiskReason as WireReason;

    use super::*;

    fn response(score: i32, decision: i32) -> AssessPaymentResponse {
        AssessPaymentResponse {
            score,
            decision,
            reasons: vec![WireReason {
                code: "NEW_CREDITOR".into(),
                description: "first payment to this creditor".into(),
            }],
            assessment_id: "fa_123".into(),
        }
    }

    #[test]
    fn maps_each_decision() {
        for (wire, decision) in [
            (RiskDecision::Allow, Decision::Allow),
            (RiskDecision::StepUp, Decision::StepUp),
            (RiskDecision::Reject, Decision::Reject),
        ] {
            let assessment = from_response(response(42, wire as i32));
            assert_eq!(assessment.decision, decision);
            assert_eq!(assessment.score, 42);
            assert_eq!(assessment.source, Source::External);
            assert_eq!(assessment.external_assessment_id.as_deref(), Some("fa_123"));
            assert_eq!(assessment.reasons.len(), 1);
            assert_eq!(assessment.reasons[0].code, "NEW_CREDITOR");
            assert_eq!(assessment.reasons[0].points, 0);
        }
    }

    #[test]
    fn no_decision_or_an_unknown_one_rejects() {
        for unknown in [RiskDecision::Unspecified as i32, 7, -1] {
            let assessment = from_response(response(5, unknown));
            assert_eq!(assessment.decision, Decision::Reject, "{unknown}");
            assert!(assessment.has_reason(codes::EXTERNAL_DECISION_UNSPECIFIED));
        }
    }

    #[test]
    fn scores_are_clamped_and_empty_ids_dropped() {
        let mut high = response(250, RiskDecision::Reject as i32);
        high.assessment_id.clear();
        let assessment = from_response(high);
        assert_eq!(assessment.score, 100);
        assert_eq!(assessment.external_assessment_id, None);
        assert_eq!(
            from_response(response(-3, RiskDecision::Allow as i32)).score,
            0
        );
    }

    #[test]
    fn failures_have_codes() {
        assert_eq!(Failure::Timeout.code(), codes::EXTERNAL_TIMEOUT);
        assert_eq!(Failure::Unavailable.code(), codes::EXTERNAL_UNAVAILABLE);
        assert_eq!(Failure::Error(Code::Internal).code(), codes::EXTERNAL_ERROR);
    }
}
