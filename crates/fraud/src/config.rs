//! The fraud configuration: one [`FraudConfig`] the server embeds in its own (as `[fraud]`),
//! every field with a default, unknown fields refused. [`FraudConfig::validate`] checks it
//! before anything is built.
//!
//! ```toml
//! [fraud]
//! sandbox = true
//! policy = { step_up_threshold = 40, reject_threshold = 70 }
//! external = { addr = "http://fraud.bank.internal:50051", deadline_ms = 300, fallback = "step_up_with_rules" }
//!
//! [fraud.rules.unusual_hour]
//! start = "00:00"
//! end = "05:00"
//! utc_offset_minutes = 180
//!
//! [[fraud.rules.velocity_sum]]
//! window_minutes = 1440
//! max_sum = { amount = "500000.00", currency = "KES" }
//! points = 25
//! ```
//!
//! A rule whose `points` are 0 is off.

use std::time::Duration;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use wekeza_domain::{Currency, Money};

use crate::Error;
use crate::blocklist::IpNetwork;
use crate::policy::{FallbackPolicy, Policy};

/// Everything the fraud checks can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FraudConfig {
    /// Whether the sandbox magic values ([`crate::sandbox`]) are live. The server sets it only
    /// for `WEKEZA_ENV=sandbox`; off by default so production never honours them.
    pub sandbox: bool,
    /// Score thresholds.
    pub policy: Policy,
    /// The embedded rules.
    pub rules: RulesConfig,
    /// The bank's fraud system, if any.
    pub external: ExternalConfig,
}

impl FraudConfig {
    /// Refuses settings that cannot work (thresholds out of order, empty windows, an IP
    /// blocklist entry that is not an address or CIDR block, …).
    pub fn validate(&self) -> Result<(), Error> {
        if self.policy.step_up_threshold > self.policy.reject_threshold {
            return Err(invalid(
                "policy.step_up_threshold must not exceed policy.reject_threshold",
            ));
        }
        self.rules.validate()?;
        self.external.validate()
    }
}

/// The embedded rules. Each adds its points when it fires; the score is their sum, capped at
/// 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// The amount against the customer's own debits.
    pub amount_anomaly: AmountAnomalyRule,
    /// How many debits per window (each window fires on its own).
    pub velocity_count: Vec<CountWindow>,
    /// How much money per window, in the window's currency.
    pub velocity_sum: Vec<SumWindow>,
    /// A creditor account the customer has never paid.
    pub new_payee: NewPayeeRule,
    /// The local time of the request.
    pub unusual_hour: UnusualHourRule,
    /// The IP address and user agent the app reported for the customer.
    pub device: DeviceRule,
    /// Creditors the bank refuses to pay.
    pub creditor_blocklist: CreditorBlocklistRule,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            amount_anomaly: AmountAnomalyRule::default(),
            velocity_count: default_velocity_count(),
            velocity_sum: default_velocity_sum(),
            new_payee: NewPayeeRule::default(),
            unusual_hour: UnusualHourRule::default(),
            device: DeviceRule::default(),
            creditor_blocklist: CreditorBlocklistRule::default(),
        }
    }
}

impl RulesConfig {
    fn validate(&self) -> Result<(), Error> {
        let anomaly = &self.amount_anomaly;
        if anomaly.lookback_days == 0
            || anomaly.min_history == 0
            || anomaly.median_multiple_percent == 0
            || anomaly.p95_multiple_percent == 0
        {
            return Err(invalid(
                "rules.amount_anomaly: lookback_days, min_history and the multiples must be positive",
            ));
        }
        let windows = self
            .velocity_count
            .iter()
            .map(|w| w.window_minutes)
            .chain(self.velocity_sum.iter().map(|w| w.window_minutes));
        for minutes in windows {
            if minutes == 0 {
                return Err(invalid("rules.velocity_*: window_minutes must be positive"));
            }
        }
        if self.unusual_hour.offset().is_none() {
            return Err(invalid(
                "rules.unusual_hour.utc_offset_minutes must be within ±14 hours",
            ));
        }
        for entry in &self.device.ip_blocklist {
            IpNetwork::parse(entry).ok_or_else(|| {
                invalid(format!(
                    "rules.device.ip_blocklist: `{entry}` is neither an IP address nor a CIDR block"
                ))
            })?;
        }
        Ok(())
    }

    /// How far back the history rules look, in minutes: one query covers them all.
    pub(crate) fn history_minutes(&self) -> u64 {
        let anomaly = if self.amount_anomaly.points > 0 {
            u64::from(self.amount_anomaly.lookback_days) * 24 * 60
        } else {
            0
        };
        self.velocity_count
            .iter()
            .filter(|w| w.points > 0)
            .map(|w| u64::from(w.window_minutes))
            .chain(
                self.velocity_sum
                    .iter()
                    .filter(|w| w.points > 0)
                    .map(|w| u64::from(w.window_minutes)),
            )
            .fold(anomaly, u64::max)
    }
}

/// Fires when the amount is far above what the customer usually pays: above both
/// `median_multiple_percent`% of the median and `p95_multiple_percent`% of the 95th percentile
/// of their debits over the last `lookback_days` days, in the payment's currency. Silent with
/// fewer than `min_history` such debits: a new customer has no "usual".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmountAnomalyRule {
    /// Days of history compared against (default 90).
    pub lookback_days: u32,
    /// Debits needed before the rule speaks (default 5).
    pub min_history: u32,
    /// The amount must exceed this percentage of the median (default 500, five times).
    pub median_multiple_percent: u32,
    /// … and this percentage of the 95th percentile (default 150), so a customer who pays rent
    /// monthly is not flagged for paying it.
    pub p95_multiple_percent: u32,
    /// Points added (default 35).
    pub points: u8,
}

impl Default for AmountAnomalyRule {
    fn default() -> Self {
        Self {
            lookback_days: 90,
            min_history: 5,
            median_multiple_percent: 500,
            p95_multiple_percent: 150,
            points: 35,
        }
    }
}

/// Fires when this payment would be more than `max_count` debits within the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountWindow {
    /// The window, ending now.
    pub window_minutes: u32,
    /// Debits allowed in it, this payment included.
    pub max_count: u32,
    /// Points added.
    pub points: u8,
}

/// Fires when this payment would take the window's debits in `max_sum`'s currency above it.
/// Payments in other currencies are not summed by this window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumWindow {
    /// The window, ending now.
    pub window_minutes: u32,
    /// The most that may be debited in it, this payment included.
    #[serde(with = "wire_money")]
    pub max_sum: Money,
    /// Points added.
    pub points: u8,
}

/// Default count windows: more than 5 payments an hour, more than 20 a day.
fn default_velocity_count() -> Vec<CountWindow> {
    vec![
        CountWindow {
            window_minutes: 60,
            max_count: 5,
            points: 25,
        },
        CountWindow {
            window_minutes: 24 * 60,
            max_count: 20,
            points: 25,
        },
    ]
}

/// Default sum window: more than KES 500,000.00 a day.
fn default_velocity_sum() -> Vec<SumWindow> {
    vec![SumWindow {
        window_minutes: 24 * 60,
        max_sum: Money::from_minor(50_000_000, Currency::Kes), // 500,000.00
        points: 25,
    }]
}

/// Fires when the customer has never paid the creditor's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewPayeeRule {
    /// Points added (default 15).
    pub points: u8,
}

impl Default for NewPayeeRule {
    fn default() -> Self {
        Self { points: 15 }
    }
}

/// Fires when the request's local time is in `[start, end)`. The window may wrap midnight
/// (`22:00`–`05:00`); `start == end` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnusualHourRule {
    /// Local start, inclusive (default `00:00`).
    pub start: NaiveTime,
    /// Local end, exclusive (default `05:00`).
    pub end: NaiveTime,
    /// The customers' time zone as an offset from UTC (default 180: EAT, UTC+3).
    pub utc_offset_minutes: i32,
    /// Points added (default 10).
    pub points: u8,
}

impl Default for UnusualHourRule {
    fn default() -> Self {
        Self {
            start: NaiveTime::MIN,
            end: FIVE_AM,
            utc_offset_minutes: 180,
            points: 10,
        }
    }
}

const FIVE_AM: NaiveTime = match NaiveTime::from_hms_opt(5, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

impl UnusualHourRule {
    /// The configured offset, if it is a real one (time zones span UTC−12 to UTC+14).
    pub(crate) fn offset(&self) -> Option<chrono::FixedOffset> {
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return None;
        }
        chrono::FixedOffset::east_opt(self.utc_offset_minutes * 60)
    }
}

/// Signals from the customer's IP address and user agent, as the app reported them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceRule {
    /// Points when no IP address was reported (default 10).
    pub ip_missing_points: u8,
    /// Points when the reported IP address is not one (default 15).
    pub ip_malformed_points: u8,
    /// Addresses (`203.0.113.7`) and CIDR blocks (`198.51.100.0/24`, `2001:db8::/32`) whose
    /// customers are refused (default none).
    pub ip_blocklist: Vec<String>,
    /// Points when the address is on the blocklist (default 70: rejected on its own).
    pub ip_blocklisted_points: u8,
    /// Points when no user agent was reported (default 10).
    pub user_agent_missing_points: u8,
    /// Case-insensitive fragments of user agents that are scripts or headless browsers.
    pub suspicious_user_agents: Vec<String>,
    /// Points when the user agent contains one of them (default 20).
    pub user_agent_suspicious_points: u8,
}

impl Default for DeviceRule {
    fn default() -> Self {
        Self {
            ip_missing_points: 10,
            ip_malformed_points: 15,
            ip_blocklist: Vec::new(),
            ip_blocklisted_points: 70,
            user_agent_missing_points: 10,
            suspicious_user_agents: [
                "curl/",
                "wget/",
                "python-requests",
                "python-urllib",
                "go-http-client",
                "libwww-perl",
                "scrapy",
                "headlesschrome",
                "phantomjs",
                "sqlmap",
            ]
            .map(str::to_owned)
            .to_vec(),
            user_agent_suspicious_points: 20,
        }
    }
}

/// Creditors the bank refuses to pay: account numbers (spaces and dashes ignored) and names
/// (case and repeated spaces ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditorBlocklistRule {
    /// Blocked account numbers (default none).
    pub account_numbers: Vec<String>,
    /// Blocked names (default none).
    pub names: Vec<String>,
    /// Points added (default 100: rejected on its own).
    pub points: u8,
}

impl Default for CreditorBlocklistRule {
    fn default() -> Self {
        Self {
            account_numbers: Vec::new(),
            names: Vec::new(),
            points: 100,
        }
    }
}

/// The bank's fraud system, reached over `wekeza.fraud.v1` (`WEKEZA_FRAUD_ADDR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalConfig {
    /// Its gRPC address, e.g. `http://fraud.bank.internal:50051`; unset (the default) means the
    /// embedded rules engine decides alone.
    pub addr: Option<String>,
    /// How long a payment waits for its answer, connecting included (default 300 ms).
    pub deadline_ms: u64,
    /// What to decide when it does not answer in time or fails (default
    /// `step_up_with_rules`).
    pub fallback: FallbackPolicy,
}

impl Default for ExternalConfig {
    fn default() -> Self {
        Self {
            addr: None,
            deadline_ms: 300,
            fallback: FallbackPolicy::default(),
        }
    }
}

impl ExternalConfig {
    /// The address, unless unset or blank (an empty `WEKEZA_FRAUD_ADDR` means "none").
    pub fn addr(&self) -> Option<&str> {
        self.addr
            .as_deref()
            .map(str::trim)
            .filter(|addr| !addr.is_empty())
    }

    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.deadline_ms == 0 {
            return Err(invalid("external.deadline_ms must be positive"));
        }
        if let Some(addr) = self.addr() {
            tonic::transport::Endpoint::from_shared(addr.to_owned())
                .map_err(|_| invalid(format!("external.addr `{addr}` is not a URI")))?;
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig(message.into())
}

/// Money in config files as on the wire: `{ amount = "500000.00", currency = "KES" }`.
mod wire_money {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
    use wekeza_domain::Money;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wire {
        amount: String,
        currency: String,
    }

    pub(super) fn serialize<S: Serializer>(
        money: &Money,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Wire {
            amount: money.abs_decimal(),
            currency: money.currency().code().to_owned(),
        }
        .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Money, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        Money::parse(&wire.amount, &wire.currency).map_err(D::Error::custom)
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
    fn defaults_are_valid_and_round_trip_through_toml() {
        let config = FraudConfig::default();
        assert!(config.validate().is_ok());
        let text = toml::to_string(&config).unwrap();
        let back: FraudConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        assert_eq!(toml::from_str::<FraudConfig>("").unwrap(), config);
    }

    #[test]
    fn deserializes_a_partial_config() {
        let config: FraudConfig = toml::from_str(
            r#"
            sandbox = true
            policy = { step_up_threshold = 30, reject_threshold = 80 }
            external = { addr = "http://127.0.0.1:50051", deadline_ms = 100, fallback = "reject" }

            [rules.unusual_hour]
            start = "22:30"
            end = "05:00"
            utc_offset_minutes = 0

            [rules.device]
            ip_blocklist = ["203.0.113.7", "198.51.100.0/24"]

            [[rules.velocity_sum]]
            window_minutes = 60
            max_sum = { amount = "1000.50", currency = "USD" }
            points = 40
            "#,
        )
        .unwrap();
        assert!(config.validate().is_ok());
        assert!(config.sandbox);
        assert_eq!(config.policy.step_up_threshold, 30);
        assert_eq!(config.external.fallback, FallbackPolicy::Reject);
        assert_eq!(config.external.deadline(), Duration::from_millis(100));
        assert_eq!(
            config.rules.unusual_hour.start,
            NaiveTime::from_hms_opt(22, 30, 0).unwrap()
        );
        assert_eq!(
            config.rules.unusual_hour.points, 10,
            "unset fields keep their default"
        );
        assert_eq!(
            config.rules.velocity_sum[0].max_sum,
            Money::from_minor(1000_50, Currency::Usd)
        );
        assert_eq!(config.rules.velocity_count, default_velocity_count());
    }

    #[test]
    fn refuses_unknown_fields_and_bad_money() {
        assert!(toml::from_str::<FraudConfig>("sandboxx = true").is_err());
        assert!(toml::from_str::<FraudConfig>("[rules.new_payee]\npoint = 3").is_err());
        assert!(
            toml::from_str::<FraudConfig>(
                "[[rules.velocity_sum]]\nwindow_minutes = 1\npoints = 1\nmax_sum = { amount = \"1.5.0\", currency = \"KES\" }"
            )
            .is_err()
        );
    }

    #[test]
    fn validation_refuses_what_cannot_work() {
        let mut config = FraudConfig::default();
        config.policy.step_up_threshold = 80;
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.rules.device.ip_blocklist = vec!["10.0.0.0/33".into()];
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.rules.unusual_hour.utc_offset_minutes = 15 * 60;
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.rules.velocity_count[0].window_minutes = 0;
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.rules.amount_anomaly.min_history = 0;
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.external.deadline_ms = 0;
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.external.addr = Some("not a uri".into());
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));

        let mut config = FraudConfig::default();
        config.external.addr = Some(" ".into());
        assert!(config.validate().is_ok(), "blank means unset");
        assert_eq!(config.external.addr(), None);
    }

    #[test]
    fn history_window_covers_every_enabled_rule() {
        let mut rules = RulesConfig::default();
        assert_eq!(rules.history_minutes(), 90 * 24 * 60);
        rules.amount_anomaly.points = 0;
        assert_eq!(rules.history_minutes(), 24 * 60);
        rules.velocity_count[1].points = 0;
        rules.velocity_sum.clear();
        assert_eq!(rules.history_minutes(), 60);
    }
}
