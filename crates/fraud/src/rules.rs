//! The embedded rules engine, the default [`RiskAssessor`]: every rule looks at the payment (and,
//! for some, the customer's history) and adds its points when it fires; the score is the sum,
//! capped at 100, and the [`Policy`] turns it into a decision.
//!
//! | Rule                 | Codes                                                   | Needs history |
//! |----------------------|---------------------------------------------------------|---------------|
//! | amount anomaly       | `AMOUNT_ANOMALY`                                        | debits        |
//! | velocity             | `VELOCITY_COUNT`, `VELOCITY_SUM` (one per window fired) | debits        |
//! | new payee            | `NEW_PAYEE`                                             | paid before?  |
//! | unusual hour         | `UNUSUAL_HOUR`                                          |               |
//! | device / IP signals  | `IP_MISSING`, `IP_MALFORMED`, `IP_BLOCKLISTED`, `USER_AGENT_MISSING`, `USER_AGENT_SUSPICIOUS` | |
//! | creditor blocklist   | `CREDITOR_BLOCKLISTED`                                  |               |
//!
//! When the history cannot be read the history rules are skipped, `HISTORY_UNAVAILABLE` is
//! noted and the decision is at least a step-up: a blind engine does not wave payments through.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use wekeza_domain::Money;

use crate::blocklist::{CreditorBlocklist, IpNetwork};
use crate::config::{
    AmountAnomalyRule, CountWindow, FraudConfig, RulesConfig, SumWindow, UnusualHourRule,
};
use crate::history::{PastDebit, RiskHistory};
use crate::model::{
    Assessment, Creditor, Decision, MAX_SCORE, PaymentAttempt, RiskReason, Source, codes,
};
use crate::policy::Policy;
use crate::{Error, RiskAssessor, sandbox};

/// The embedded rules engine, compiled from a validated [`FraudConfig`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RulesEngine {
    /// Whether sandbox magic values are honoured.
    sandbox: bool,
    /// Score → decision.
    policy: Policy,
    /// The rules' settings.
    rules: RulesConfig,
    /// `rules.device.ip_blocklist`, parsed once.
    ip_blocklist: Vec<IpNetwork>,
    /// `rules.creditor_blocklist`, in normal form.
    creditor_blocklist: CreditorBlocklist,
    /// `rules.device.suspicious_user_agents`, lower-cased once.
    suspicious_user_agents: Vec<String>,
}

// === impl RulesEngine ===

impl RulesEngine {
    /// Validates `config` and compiles its rules.
    pub fn new(config: &FraudConfig) -> Result<Self, Error> {
        config.validate()?;
        let device = &config.rules.device;
        Ok(Self {
            sandbox: config.sandbox,
            policy: config.policy,
            rules: config.rules.clone(),
            ip_blocklist: device
                .ip_blocklist
                .iter()
                .filter_map(|entry| IpNetwork::parse(entry))
                .collect(),
            creditor_blocklist: CreditorBlocklist::new(
                &config.rules.creditor_blocklist.account_numbers,
                &config.rules.creditor_blocklist.names,
            ),
            suspicious_user_agents: device
                .suspicious_user_agents
                .iter()
                .map(|fragment| fragment.to_lowercase())
                .filter(|fragment| !fragment.is_empty())
                .collect(),
        })
    }

    /// The policy scores are decided by.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The forced outcome of a sandbox magic value, when the sandbox is on and one matches.
    pub(crate) fn sandbox_outcome(&self, attempt: &PaymentAttempt) -> Option<Assessment> {
        if !self.sandbox {
            return None;
        }
        sandbox::fraud_assessment(attempt.amount, &attempt.creditor.name, self.policy)
    }

    /// Runs every rule (no sandbox magic) and decides by the policy.
    pub(crate) async fn score(
        &self,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Assessment {
        let mut reasons = Vec::new();
        let mut floor = Decision::Allow;
        match self.history_facts(attempt, history, now).await {
            Ok(facts) => {
                reasons.extend(self.history_rules(attempt, &facts, now));
            }
            Err(error) => {
                tracing::warn!(payment_id = %attempt.payment_id, %error, "risk history unavailable; history rules skipped");
                reasons.push(RiskReason::new(
                    codes::HISTORY_UNAVAILABLE,
                    "the customer's history could not be read: amount, velocity and new-payee rules skipped; step-up required",
                    0,
                ));
                floor = Decision::StepUp;
            }
        }
        reasons.extend(self.context_rules(attempt));
        // Most significant first; equal points keep rule order (the sort is stable).
        reasons.sort_by_key(|reason| std::cmp::Reverse(reason.points));
        let total: u32 = reasons.iter().map(|reason| u32::from(reason.points)).sum();
        let score = u8::try_from(total.min(u32::from(MAX_SCORE))).unwrap_or(MAX_SCORE);
        Assessment {
            score,
            decision: self.policy.decide(score).max(floor),
            reasons,
            source: Source::Rules,
            external_assessment_id: None,
        }
    }

    /// Asks the history only what an enabled rule needs, in one query per question.
    async fn history_facts(
        &self,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Result<HistoryFacts, Error> {
        let minutes = self.rules.history_minutes();
        let debits = if minutes > 0 {
            history
                .debits_since(&attempt.customer_id, window_start(now, minutes))
                .await?
        } else {
            Vec::new()
        };
        let paid_before = if self.rules.new_payee.points > 0 {
            Some(
                history
                    .has_paid_creditor(&attempt.customer_id, &attempt.creditor.account_number)
                    .await?,
            )
        } else {
            None
        };
        Ok(HistoryFacts {
            debits,
            paid_before,
        })
    }

    fn history_rules(
        &self,
        attempt: &PaymentAttempt,
        facts: &HistoryFacts,
        now: DateTime<Utc>,
    ) -> Vec<RiskReason> {
        let mut reasons = Vec::new();
        reasons.extend(amount_anomaly(
            &self.rules.amount_anomaly,
            attempt.amount,
            &facts.debits,
            now,
        ));
        reasons.extend(velocity_count(
            &self.rules.velocity_count,
            &facts.debits,
            now,
        ));
        reasons.extend(velocity_sum(
            &self.rules.velocity_sum,
            attempt.amount,
            &facts.debits,
            now,
        ));
        if let Some(false) = facts.paid_before {
            reasons.push(RiskReason::new(
                codes::NEW_PAYEE,
                "the customer has never paid this creditor account",
                self.rules.new_payee.points,
            ));
        }
        reasons
    }

    /// The rules that need nothing but the payment.
    fn context_rules(&self, attempt: &PaymentAttempt) -> Vec<RiskReason> {
        let mut reasons = Vec::new();
        reasons.extend(unusual_hour(&self.rules.unusual_hour, attempt.at));
        reasons.extend(self.ip_signals(attempt.customer_ip.as_deref()));
        reasons.extend(self.user_agent_signals(attempt.user_agent.as_deref()));
        reasons.extend(self.creditor_blocklisted(&attempt.creditor));
        reasons.retain(|reason| reason.points > 0);
        reasons
    }

    fn ip_signals(&self, ip: Option<&str>) -> Option<RiskReason> {
        let device = &self.rules.device;
        let Some(text) = ip.map(str::trim).filter(|text| !text.is_empty()) else {
            return Some(RiskReason::new(
                codes::IP_MISSING,
                "no customer IP address was reported",
                device.ip_missing_points,
            ));
        };
        let Ok(addr) = text.parse::<IpAddr>() else {
            return Some(RiskReason::new(
                codes::IP_MALFORMED,
                "the reported customer IP address is not an IP address",
                device.ip_malformed_points,
            ));
        };
        self.ip_blocklist
            .iter()
            .any(|network| network.contains(addr))
            .then(|| {
                RiskReason::new(
                    codes::IP_BLOCKLISTED,
                    format!("customer IP address {addr} is on the blocklist"),
                    device.ip_blocklisted_points,
                )
            })
    }

    fn user_agent_signals(&self, user_agent: Option<&str>) -> Option<RiskReason> {
        let device = &self.rules.device;
        let Some(user_agent) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
            return Some(RiskReason::new(
                codes::USER_AGENT_MISSING,
                "no customer user agent was reported",
                device.user_agent_missing_points,
            ));
        };
        let lower = user_agent.to_lowercase();
        let fragment = self
            .suspicious_user_agents
            .iter()
            .find(|fragment| lower.contains(fragment.as_str()))?;
        Some(RiskReason::new(
            codes::USER_AGENT_SUSPICIOUS,
            format!("the user agent looks automated (contains `{fragment}`)"),
            device.user_agent_suspicious_points,
        ))
    }

    fn creditor_blocklisted(&self, creditor: &Creditor) -> Option<RiskReason> {
        let matched = self
            .creditor_blocklist
            .matches(&creditor.account_number, &creditor.name)?;
        Some(RiskReason::new(
            codes::CREDITOR_BLOCKLISTED,
            format!("the creditor's {matched} is on the blocklist"),
            self.rules.creditor_blocklist.points,
        ))
    }
}

#[async_trait]
impl RiskAssessor for RulesEngine {
    async fn assess(
        &self,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Assessment {
        let assessment = match self.sandbox_outcome(attempt) {
            Some(forced) => forced,
            None => self.score(attempt, history, now).await,
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

// === the rules that are pure functions ===

/// What the history said, for the rules that need it.
struct HistoryFacts {
    /// Debits since the start of the longest enabled window.
    debits: Vec<PastDebit>,
    /// Whether the creditor account was paid before; `None` when the rule is off.
    paid_before: Option<bool>,
}

/// `now` minus `minutes`, saturating at the earliest representable instant.
fn window_start(now: DateTime<Utc>, minutes: u64) -> DateTime<Utc> {
    i64::try_from(minutes)
        .ok()
        .and_then(TimeDelta::try_minutes)
        .and_then(|window| now.checked_sub_signed(window))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The debits at or after `now - minutes`.
fn within(
    debits: &[PastDebit],
    now: DateTime<Utc>,
    minutes: u64,
) -> impl Iterator<Item = &PastDebit> {
    let start = window_start(now, minutes);
    debits.iter().filter(move |debit| debit.at >= start)
}

fn amount_anomaly(
    rule: &AmountAnomalyRule,
    amount: Money,
    debits: &[PastDebit],
    now: DateTime<Utc>,
) -> Option<RiskReason> {
    if rule.points == 0 {
        return None;
    }
    let mut usual: Vec<i64> = within(debits, now, u64::from(rule.lookback_days) * 24 * 60)
        .filter(|debit| debit.amount.currency() == amount.currency())
        .map(|debit| debit.amount.minor().abs())
        .collect();
    if usual.len() < usize::try_from(rule.min_history).unwrap_or(usize::MAX) {
        return None;
    }
    usual.sort_unstable();
    let median = percentile(&usual, 50)?;
    let p95 = percentile(&usual, 95)?;
    // amount > median × m% ⇔ amount × 100 > median × m (in i128: no overflow, no float).
    let above = |reference: i64, percent: u32| {
        i128::from(amount.minor()) * 100 > i128::from(reference) * i128::from(percent)
    };
    if !(above(median, rule.median_multiple_percent) && above(p95, rule.p95_multiple_percent)) {
        return None;
    }
    let currency = amount.currency();
    Some(RiskReason::new(
        codes::AMOUNT_ANOMALY,
        format!(
            "{amount} is above {}% of the median ({}) and {}% of the 95th percentile ({}) of the customer's {} debits in {} days",
            rule.median_multiple_percent,
            Money::from_minor(median, currency),
            rule.p95_multiple_percent,
            Money::from_minor(p95, currency),
            usual.len(),
            rule.lookback_days,
        ),
        rule.points,
    ))
}

/// The nearest-rank `p`th percentile of `sorted` (ascending, non-empty).
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn velocity_count(
    windows: &[CountWindow],
    debits: &[PastDebit],
    now: DateTime<Utc>,
) -> Vec<RiskReason> {
    windows
        .iter()
        .filter(|window| window.points > 0)
        .filter_map(|window| {
            let earlier = within(debits, now, u64::from(window.window_minutes)).count();
            let with_this = u64::try_from(earlier).unwrap_or(u64::MAX).saturating_add(1);
            (with_this > u64::from(window.max_count)).then(|| {
                RiskReason::new(
                    codes::VELOCITY_COUNT,
                    format!(
                        "{with_this} debits in {} minutes, this one included (limit {})",
                        window.window_minutes, window.max_count
                    ),
                    window.points,
                )
            })
        })
        .collect()
}

fn velocity_sum(
    windows: &[SumWindow],
    amount: Money,
    debits: &[PastDebit],
    now: DateTime<Utc>,
) -> Vec<RiskReason> {
    let currency = amount.currency();
    windows
        .iter()
        .filter(|window| window.points > 0 && window.max_sum.currency() == currency)
        .filter_map(|window| {
            let total: i128 = within(debits, now, u64::from(window.window_minutes))
                .filter(|debit| debit.amount.currency() == currency)
                .map(|debit| i128::from(debit.amount.minor().abs()))
                .sum::<i128>()
                + i128::from(amount.minor());
            (total > i128::from(window.max_sum.minor())).then(|| {
                let shown = i64::try_from(total).map_or_else(
                    |_| "more than the platform represents".to_owned(),
                    |minor| Money::from_minor(minor, currency).to_string(),
                );
                RiskReason::new(
                    codes::VELOCITY_SUM,
                    format!(
                        "{shown} debited in {} minutes, this payment included (limit {})",
                        window.window_minutes, window.max_sum
                    ),
                    window.points,
                )
            })
        })
        .collect()
}

fn unusual_hour(rule: &UnusualHourRule, at: DateTime<Utc>) -> Option<RiskReason> {
    let offset = rule.offset()?;
    let local = at.with_timezone(&offset).time();
    let inside = if rule.start <= rule.end {
        rule.start <= local && local < rule.end
    } else {
        local >= rule.start || local < rule.end
    };
    inside.then(|| {
        RiskReason::new(
            codes::UNUSUAL_HOUR,
            format!(
                "requested at {} local time (UTC{offset}), within {}–{}",
                local.format("%H:%M"),
                rule.start.format("%H:%M"),
                rule.end.format("%H:%M")
            ),
            rule.points,
        )
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::inconsistent_digit_grouping,
    reason = "tests fail loudly; amounts in minor units read as shillings_cents (1_000_00 is KES 1,000.00)"
)]
mod tests {
    use std::collections::HashSet;

    use chrono::{NaiveTime, TimeZone};
    use wekeza_domain::{AccountId, AppId, ConsentId, Currency, CustomerId, PaymentId};

    use super::*;

    /// 2026-03-10 12:00 UTC, 15:00 in Nairobi: an ordinary afternoon.
    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Kes)
    }

    /// A payment with nothing suspicious about it, to a creditor paid before.
    fn attempt() -> PaymentAttempt {
        PaymentAttempt {
            payment_id: PaymentId::new_random(noon()),
            consent_id: ConsentId::new_random(noon()),
            customer_id: CustomerId::new_random(noon()),
            debtor_account_id: AccountId::new_random(noon()),
            amount: kes(1_000_00),
            creditor: Creditor {
                name: "Jane Wanjiru".into(),
                account_number: "0011223344".into(),
            },
            reference: "rent".into(),
            client_id: AppId::new_random(noon()),
            customer_ip: Some("196.201.214.10".into()),
            user_agent: Some("Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile".into()),
            device_id: Some("device-1".into()),
            at: noon(),
        }
    }

    fn debit(minor: i64, ago: TimeDelta) -> PastDebit {
        PastDebit {
            amount: kes(minor),
            at: noon() - ago,
            creditor_account_number: Some("0011223344".into()),
        }
    }

    #[derive(Default)]
    struct History {
        debits: Vec<PastDebit>,
        paid: HashSet<String>,
        broken: bool,
    }

    impl History {
        fn usual() -> Self {
            Self {
                paid: HashSet::from(["0011223344".to_owned()]),
                ..Self::default()
            }
        }
    }

    #[async_trait]
    impl RiskHistory for History {
        async fn debits_since(
            &self,
            _: &wekeza_domain::CustomerId,
            since: DateTime<Utc>,
        ) -> Result<Vec<PastDebit>, Error> {
            if self.broken {
                return Err(Error::HistoryUnavailable("database down".into()));
            }
            Ok(self
                .debits
                .iter()
                .filter(|d| d.at >= since)
                .cloned()
                .collect())
        }

        async fn has_paid_creditor(
            &self,
            _: &wekeza_domain::CustomerId,
            account: &str,
        ) -> Result<bool, Error> {
            if self.broken {
                return Err(Error::HistoryUnavailable("database down".into()));
            }
            Ok(self.paid.contains(account))
        }
    }

    fn engine(config: &FraudConfig) -> RulesEngine {
        RulesEngine::new(config).unwrap()
    }

    async fn assess_with(
        config: &FraudConfig,
        attempt: &PaymentAttempt,
        history: &History,
    ) -> Assessment {
        engine(config).assess(attempt, history, noon()).await
    }

    fn codes_of(assessment: &Assessment) -> Vec<&str> {
        assessment.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[tokio::test]
    async fn an_ordinary_payment_is_allowed_with_no_reasons() {
        let assessment = assess_with(&FraudConfig::default(), &attempt(), &History::usual()).await;
        assert_eq!(assessment.score, 0);
        assert_eq!(assessment.decision, Decision::Allow);
        assert_eq!(assessment.source, Source::Rules);
        assert!(assessment.reasons.is_empty(), "{:?}", assessment.reasons);
    }

    // === amount anomaly ===

    fn five_usual_debits() -> Vec<PastDebit> {
        [800_00, 900_00, 1_000_00, 1_100_00, 1_200_00]
            .into_iter()
            .enumerate()
            .map(|(i, minor)| debit(minor, TimeDelta::days(i64::try_from(i).unwrap() * 10 + 1)))
            .collect()
    }

    #[test]
    fn amount_anomaly_fires_far_above_the_usual() {
        let rule = AmountAnomalyRule::default();
        // median 1,000.00, p95 1,200.00: the bar is max(5,000.00, 1,800.00).
        let reason = amount_anomaly(&rule, kes(5_000_01), &five_usual_debits(), noon()).unwrap();
        assert_eq!(
            (reason.code.as_str(), reason.points),
            (codes::AMOUNT_ANOMALY, 35)
        );
        assert!(
            reason.description.contains("1000.00 KES"),
            "{}",
            reason.description
        );
        assert_eq!(
            amount_anomaly(&rule, kes(5_000_00), &five_usual_debits(), noon()),
            None
        );
    }

    #[test]
    fn amount_anomaly_respects_the_95th_percentile() {
        let rule = AmountAnomalyRule::default();
        // A rent-sized debit among small ones: median 1,000.00, p95 40,000.00.
        let mut debits = five_usual_debits();
        debits.push(debit(40_000_00, TimeDelta::days(30)));
        assert_eq!(amount_anomaly(&rule, kes(40_000_00), &debits, noon()), None);
        assert!(amount_anomaly(&rule, kes(60_000_01), &debits, noon()).is_some());
    }

    #[test]
    fn amount_anomaly_is_silent_without_enough_history() {
        let rule = AmountAnomalyRule::default();
        let four = &five_usual_debits()[..4];
        assert_eq!(amount_anomaly(&rule, kes(1_000_000_00), four, noon()), None);
        // Older than the lookback, or in another currency: not history for this payment.
        let mut stale = five_usual_debits();
        stale[0].at = noon() - TimeDelta::days(91);
        assert_eq!(
            amount_anomaly(&rule, kes(1_000_000_00), &stale, noon()),
            None
        );
        let mut dollars = five_usual_debits();
        dollars[0].amount = Money::from_minor(800_00, Currency::Usd);
        assert_eq!(
            amount_anomaly(&rule, kes(1_000_000_00), &dollars, noon()),
            None
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[5], 50), Some(5));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 50), Some(3));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 95), Some(5));
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 95), Some(95));
        assert_eq!(percentile(&[], 50), None);
    }

    #[tokio::test]
    async fn amount_anomaly_through_the_engine() {
        let history = History {
            debits: five_usual_debits(),
            ..History::usual()
        };
        let mut big = attempt();
        big.amount = kes(10_000_00);
        let assessment = assess_with(&FraudConfig::default(), &big, &history).await;
        assert_eq!(codes_of(&assessment), [codes::AMOUNT_ANOMALY]);
        assert_eq!(
            (assessment.score, assessment.decision),
            (35, Decision::Allow)
        );
    }

    // === velocity ===

    #[test]
    fn velocity_count_fires_beyond_the_limit() {
        let windows = [CountWindow {
            window_minutes: 60,
            max_count: 3,
            points: 25,
        }];
        let two: Vec<_> = (1..=2)
            .map(|m| debit(100, TimeDelta::minutes(m * 10)))
            .collect();
        assert!(
            velocity_count(&windows, &two, noon()).is_empty(),
            "third in the hour is fine"
        );
        let three: Vec<_> = (1..=3)
            .map(|m| debit(100, TimeDelta::minutes(m * 10)))
            .collect();
        let reasons = velocity_count(&windows, &three, noon());
        assert_eq!(reasons.len(), 1);
        assert_eq!(
            (reasons[0].code.as_str(), reasons[0].points),
            (codes::VELOCITY_COUNT, 25)
        );
        // Outside the window they do not count.
        let old: Vec<_> = (1..=3)
            .map(|m| debit(100, TimeDelta::minutes(60 + m)))
            .collect();
        assert!(velocity_count(&windows, &old, noon()).is_empty());
    }

    #[test]
    fn each_velocity_window_fires_on_its_own() {
        let windows = [
            CountWindow {
                window_minutes: 60,
                max_count: 2,
                points: 20,
            },
            CountWindow {
                window_minutes: 24 * 60,
                max_count: 3,
                points: 30,
            },
        ];
        let debits = vec![
            debit(100, TimeDelta::minutes(5)),
            debit(100, TimeDelta::minutes(10)),
            debit(100, TimeDelta::hours(5)),
        ];
        let points: Vec<u8> = velocity_count(&windows, &debits, noon())
            .iter()
            .map(|r| r.points)
            .collect();
        assert_eq!(points, [20, 30]);
    }

    #[test]
    fn velocity_sum_fires_beyond_the_limit_in_its_currency() {
        let windows = [SumWindow {
            window_minutes: 24 * 60,
            max_sum: kes(10_000_00),
            points: 25,
        }];
        let debits = vec![
            debit(6_000_00, TimeDelta::hours(2)),
            debit(3_000_00, TimeDelta::hours(3)),
        ];
        assert!(
            velocity_sum(&windows, kes(1_000_00), &debits, noon()).is_empty(),
            "exactly the limit"
        );
        let reasons = velocity_sum(&windows, kes(1_000_01), &debits, noon());
        assert_eq!(reasons.len(), 1);
        assert_eq!(
            (reasons[0].code.as_str(), reasons[0].points),
            (codes::VELOCITY_SUM, 25)
        );
        // A USD payment is not summed by a KES window; USD debits do not count towards it.
        let usd = Money::from_minor(1_000_000_00, Currency::Usd);
        assert!(velocity_sum(&windows, usd, &debits, noon()).is_empty());
        let mut mixed = debits.clone();
        mixed.push(PastDebit {
            amount: usd,
            ..debit(0, TimeDelta::hours(1))
        });
        assert!(velocity_sum(&windows, kes(1_000_00), &mixed, noon()).is_empty());
        // Yesterday's debits are outside the window.
        let old = vec![debit(9_999_00, TimeDelta::hours(25))];
        assert!(velocity_sum(&windows, kes(1_000_00), &old, noon()).is_empty());
    }

    #[tokio::test]
    async fn velocity_through_the_engine() {
        let history = History {
            debits: (1..=5)
                .map(|m| debit(100_000_00, TimeDelta::minutes(m)))
                .collect(),
            ..History::usual()
        };
        let assessment = assess_with(&FraudConfig::default(), &attempt(), &history).await;
        // Six in the hour (limit 5) and KES 501,000.00 in the day (limit 500,000.00).
        assert_eq!(
            codes_of(&assessment),
            [codes::VELOCITY_COUNT, codes::VELOCITY_SUM]
        );
        assert_eq!(
            (assessment.score, assessment.decision),
            (50, Decision::StepUp)
        );
    }

    // === new payee ===

    #[tokio::test]
    async fn new_payee_fires_for_a_creditor_never_paid() {
        let assessment =
            assess_with(&FraudConfig::default(), &attempt(), &History::default()).await;
        assert_eq!(codes_of(&assessment), [codes::NEW_PAYEE]);
        assert_eq!(
            (assessment.score, assessment.decision),
            (15, Decision::Allow)
        );

        let known = assess_with(&FraudConfig::default(), &attempt(), &History::usual()).await;
        assert!(!known.has_reason(codes::NEW_PAYEE));
    }

    #[tokio::test]
    async fn rules_with_zero_points_are_off_and_their_questions_unasked() {
        let mut config = FraudConfig::default();
        config.rules.new_payee.points = 0;
        config.rules.amount_anomaly.points = 0;
        config.rules.velocity_count.clear();
        config.rules.velocity_sum.clear();
        config.rules.unusual_hour.points = 0;
        config.rules.device.ip_missing_points = 0;
        config.rules.device.user_agent_missing_points = 0;
        let mut bare = attempt();
        bare.customer_ip = None;
        bare.user_agent = None;
        bare.at = Utc.with_ymd_and_hms(2026, 3, 10, 0, 30, 0).unwrap();
        // A broken history is never asked, so it does not force a step-up.
        let history = History {
            broken: true,
            ..History::default()
        };
        let assessment = assess_with(&config, &bare, &history).await;
        assert!(assessment.reasons.is_empty(), "{:?}", assessment.reasons);
        assert_eq!(assessment.decision, Decision::Allow);
    }

    // === unusual hour ===

    fn at_utc(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, hour, minute, 0).unwrap()
    }

    #[test]
    fn unusual_hour_in_east_africa_time() {
        let rule = UnusualHourRule::default();
        // 00:00–05:00 EAT is 21:00–02:00 UTC.
        assert!(
            unusual_hour(&rule, at_utc(21, 0)).is_some(),
            "00:00 EAT, inclusive"
        );
        assert!(unusual_hour(&rule, at_utc(1, 59)).is_some(), "04:59 EAT");
        assert!(
            unusual_hour(&rule, at_utc(2, 0)).is_none(),
            "05:00 EAT, exclusive"
        );
        assert!(unusual_hour(&rule, at_utc(20, 59)).is_none(), "23:59 EAT");
        assert!(unusual_hour(&rule, noon()).is_none());
        let reason = unusual_hour(&rule, at_utc(23, 30)).unwrap();
        assert_eq!(
            (reason.code.as_str(), reason.points),
            (codes::UNUSUAL_HOUR, 10)
        );
        assert!(
            reason.description.contains("02:30"),
            "{}",
            reason.description
        );
    }

    #[test]
    fn unusual_hour_window_may_wrap_midnight() {
        let rule = UnusualHourRule {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
            utc_offset_minutes: 0,
            points: 10,
        };
        assert!(unusual_hour(&rule, at_utc(22, 0)).is_some());
        assert!(unusual_hour(&rule, at_utc(3, 0)).is_some());
        assert!(unusual_hour(&rule, at_utc(21, 59)).is_none());
        assert!(unusual_hour(&rule, at_utc(5, 0)).is_none());
        let empty = UnusualHourRule {
            end: rule.start,
            ..rule
        };
        assert!(unusual_hour(&empty, at_utc(22, 0)).is_none());
    }

    #[tokio::test]
    async fn unusual_hour_through_the_engine() {
        let mut late = attempt();
        late.at = at_utc(23, 0);
        let assessment = assess_with(&FraudConfig::default(), &late, &History::usual()).await;
        assert_eq!(codes_of(&assessment), [codes::UNUSUAL_HOUR]);
    }

    // === device and IP signals ===

    async fn device_codes(
        config: &FraudConfig,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Vec<String> {
        let mut payment = attempt();
        payment.customer_ip = ip.map(str::to_owned);
        payment.user_agent = user_agent.map(str::to_owned);
        let assessment = assess_with(config, &payment, &History::usual()).await;
        assessment.reasons.iter().map(|r| r.code.clone()).collect()
    }

    #[tokio::test]
    async fn ip_missing_or_malformed() {
        let config = FraudConfig::default();
        let browser = Some("Mozilla/5.0 Firefox/128.0");
        assert_eq!(
            device_codes(&config, None, browser).await,
            [codes::IP_MISSING]
        );
        assert_eq!(
            device_codes(&config, Some("  "), browser).await,
            [codes::IP_MISSING]
        );
        assert_eq!(
            device_codes(&config, Some("1.2.3.4:80"), browser).await,
            [codes::IP_MALFORMED]
        );
        assert!(
            device_codes(&config, Some("2001:db8::7"), browser)
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn ip_blocklist_exact_and_cidr() {
        let mut config = FraudConfig::default();
        config.rules.device.ip_blocklist = vec!["203.0.113.7".into(), "198.51.100.0/24".into()];
        let browser = Some("Mozilla/5.0 Firefox/128.0");
        for blocked in ["203.0.113.7", "198.51.100.200", "::ffff:198.51.100.1"] {
            assert_eq!(
                device_codes(&config, Some(blocked), browser).await,
                [codes::IP_BLOCKLISTED],
                "{blocked}"
            );
        }
        assert!(
            device_codes(&config, Some("203.0.113.8"), browser)
                .await
                .is_empty()
        );

        let mut payment = attempt();
        payment.customer_ip = Some("203.0.113.7".into());
        let assessment = assess_with(&config, &payment, &History::usual()).await;
        assert_eq!(
            (assessment.score, assessment.decision),
            (70, Decision::Reject)
        );
    }

    #[tokio::test]
    async fn user_agent_missing_or_suspicious() {
        let config = FraudConfig::default();
        let ip = Some("196.201.214.10");
        assert_eq!(
            device_codes(&config, ip, None).await,
            [codes::USER_AGENT_MISSING]
        );
        assert_eq!(
            device_codes(&config, ip, Some("")).await,
            [codes::USER_AGENT_MISSING]
        );
        for automated in [
            "curl/8.5.0",
            "python-requests/2.31",
            "Mozilla/5.0 HeadlessChrome/120.0",
        ] {
            assert_eq!(
                device_codes(&config, ip, Some(automated)).await,
                [codes::USER_AGENT_SUSPICIOUS],
                "{automated}"
            );
        }
        assert!(
            device_codes(&config, ip, Some("Mozilla/5.0 Safari/605.1.15"))
                .await
                .is_empty()
        );

        let mut custom = FraudConfig::default();
        custom.rules.device.suspicious_user_agents = vec!["EvilBrowser".into()];
        assert_eq!(
            device_codes(&custom, ip, Some("evilbrowser/1.0")).await,
            [codes::USER_AGENT_SUSPICIOUS]
        );
        assert!(
            device_codes(&custom, ip, Some("curl/8.5.0"))
                .await
                .is_empty()
        );
    }

    // === creditor blocklist ===

    #[tokio::test]
    async fn creditor_blocklist_by_account_number_or_name() {
        let mut config = FraudConfig::default();
        config.rules.creditor_blocklist.account_numbers = vec!["0011-2233-44".into()];
        config.rules.creditor_blocklist.names = vec!["Mule Holdings".into()];

        let by_number = assess_with(&config, &attempt(), &History::usual()).await;
        assert_eq!(codes_of(&by_number), [codes::CREDITOR_BLOCKLISTED]);
        assert_eq!(
            (by_number.score, by_number.decision),
            (100, Decision::Reject)
        );

        let mut by_name = attempt();
        by_name.creditor = Creditor {
            name: "mule holdings".into(),
            account_number: "999".into(),
        };
        let history = History {
            paid: HashSet::from(["999".to_owned()]),
            ..History::default()
        };
        let assessment = assess_with(&config, &by_name, &history).await;
        assert_eq!(codes_of(&assessment), [codes::CREDITOR_BLOCKLISTED]);

        let clean = assess_with(&FraudConfig::default(), &attempt(), &History::usual()).await;
        assert!(!clean.has_reason(codes::CREDITOR_BLOCKLISTED));
    }

    // === scoring and policy ===

    #[tokio::test]
    async fn points_add_up_and_the_score_is_capped() {
        let mut config = FraudConfig::default();
        config.rules.creditor_blocklist.names = vec!["Jane Wanjiru".into()];
        let mut payment = attempt();
        payment.customer_ip = None;
        payment.user_agent = Some("curl/8.5.0".into());
        payment.at = at_utc(23, 0);
        let assessment = assess_with(&config, &payment, &History::default()).await;
        // 100 + 20 + 15 + 10 + 10 = 155, capped.
        assert_eq!(assessment.score, 100);
        assert_eq!(
            codes_of(&assessment),
            [
                codes::CREDITOR_BLOCKLISTED,
                codes::USER_AGENT_SUSPICIOUS,
                codes::NEW_PAYEE,
                codes::UNUSUAL_HOUR,
                codes::IP_MISSING,
            ],
            "most significant first"
        );
    }

    #[tokio::test]
    async fn each_policy_outcome_from_the_rules() {
        let config = FraudConfig {
            policy: Policy {
                step_up_threshold: 25,
                reject_threshold: 35,
            },
            ..FraudConfig::default()
        };
        let history = History::default(); // a new payee: 15 points
        let mut payment = attempt();
        assert_eq!(
            assess_with(&config, &payment, &history).await.decision,
            Decision::Allow
        );
        payment.customer_ip = None; // +10 = 25
        let step_up = assess_with(&config, &payment, &history).await;
        assert_eq!((step_up.score, step_up.decision), (25, Decision::StepUp));
        payment.user_agent = None; // +10 = 35
        let reject = assess_with(&config, &payment, &history).await;
        assert_eq!((reject.score, reject.decision), (35, Decision::Reject));
    }

    #[tokio::test]
    async fn an_unreadable_history_forces_at_least_a_step_up() {
        let history = History {
            broken: true,
            ..History::default()
        };
        let assessment = assess_with(&FraudConfig::default(), &attempt(), &history).await;
        assert_eq!(assessment.decision, Decision::StepUp);
        assert_eq!(assessment.score, 0);
        assert_eq!(codes_of(&assessment), [codes::HISTORY_UNAVAILABLE]);

        let mut config = FraudConfig::default();
        config.rules.creditor_blocklist.names = vec!["Jane Wanjiru".into()];
        let still_rejected = assess_with(&config, &attempt(), &history).await;
        assert_eq!(still_rejected.decision, Decision::Reject);
    }

    // === sandbox magic ===

    #[tokio::test]
    async fn magic_values_force_outcomes_in_the_sandbox_only() {
        let sandbox = FraudConfig {
            sandbox: true,
            ..FraudConfig::default()
        };
        let production = FraudConfig::default();
        let cases = [
            (
                Money::parse(sandbox::FRAUD_REJECT_AMOUNT, "KES").unwrap(),
                "Jane Wanjiru",
                Decision::Reject,
                codes::SANDBOX_MAGIC_FRAUD,
            ),
            (
                kes(10_00),
                sandbox::FRAUD_REJECT_CREDITOR_NAME,
                Decision::Reject,
                codes::SANDBOX_MAGIC_FRAUD,
            ),
            (
                Money::parse(sandbox::STEP_UP_AMOUNT, "USD").unwrap(),
                "Jane Wanjiru",
                Decision::StepUp,
                codes::SANDBOX_MAGIC_STEP_UP,
            ),
        ];
        for (amount, name, decision, code) in cases {
            let mut payment = attempt();
            payment.amount = amount;
            payment.creditor.name = name.into();
            let forced = assess_with(&sandbox, &payment, &History::usual()).await;
            assert_eq!(forced.decision, decision, "{amount} {name}");
            assert_eq!(forced.source, Source::SandboxMagic);
            assert_eq!(codes_of(&forced), [code]);

            let inert = assess_with(&production, &payment, &History::usual()).await;
            assert_eq!(
                inert.decision,
                Decision::Allow,
                "{amount} {name} outside the sandbox"
            );
            assert_eq!(inert.source, Source::Rules);
            assert!(inert.reasons.is_empty());
        }
    }

    #[tokio::test]
    async fn magic_overrides_the_rules_and_payment_service_values_are_not_fraud() {
        let mut config = FraudConfig {
            sandbox: true,
            ..FraudConfig::default()
        };
        config.rules.creditor_blocklist.names = vec!["Jane Wanjiru".into()];
        let mut payment = attempt();
        payment.amount = Money::parse(sandbox::STEP_UP_AMOUNT, "KES").unwrap();
        let forced = assess_with(&config, &payment, &History::usual()).await;
        assert_eq!(
            forced.decision,
            Decision::StepUp,
            "regardless of the blocklist"
        );

        let sandbox = FraudConfig {
            sandbox: true,
            ..FraudConfig::default()
        };
        for decimal in [
            sandbox::INSUFFICIENT_FUNDS_AMOUNT,
            sandbox::SETTLEMENT_FAILURE_AMOUNT,
            sandbox::HELD_FOR_SIMULATION_AMOUNT,
        ] {
            payment.amount = Money::parse(decimal, "KES").unwrap();
            let assessment = assess_with(&sandbox, &payment, &History::usual()).await;
            assert_eq!(
                (assessment.decision, assessment.source),
                (Decision::Allow, Source::Rules),
                "{decimal}"
            );
        }
    }
}
