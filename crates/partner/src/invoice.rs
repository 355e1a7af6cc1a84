//! An app's monthly invoice, computed from its plan history, the plans' terms and its daily
//! overage — a pure function of those, so the same month always gives the same invoice with
//! the same id.
//!
//! The rules, in integer minor units throughout (every line's `quantity × unit_price =
//! amount`, the total is the sum of the amounts):
//! - **Billed days:** the UTC days of the month from the app's creation on; for the running
//!   month, up to today included (a `DRAFT`). A month that has ended is `OPEN`, issued at its
//!   end.
//! - **A day's plan:** the priciest (monthly price) of the plans the app held during the day:
//!   the one at 00:00 UTC (or at its creation) and any it changed to that day. Moving down in
//!   the evening does not make the day cheaper; moving up costs the day at the new price.
//! - **Plan fee:** a plan billed on every day of the month is one line, quantity 1 at the
//!   monthly price. A plan billed on some days is one line, quantity = its days, at the monthly
//!   price ÷ the month's days **rounded down** to the minor unit — so days never cost more than
//!   the month.
//! - **Overage:** a day's overage requests (served above the daily limit, counted by the quota)
//!   are billed at the overage price of the priciest plan held that day that has one. Per plan,
//!   the month's overage requests are billed per **started** 1,000: quantity = ⌈requests ÷
//!   1,000⌉ at the price per 1,000.
//! - **The id:** `inv_` + a ULID whose time is the month's start and whose random part is taken
//!   from SHA-256 of the app id and the month: stable, sortable by month, opaque.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use wekeza_domain::{AppId, DeveloperId, InvoiceId, Money};
use wekeza_store::apps::Plan;
use wekeza_store::plan_changes::PlanChange;
use wekeza_store::plans::PlanTerms;

/// A calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// The month of `day`.
    pub fn of(day: NaiveDate) -> Self {
        Self {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
            .map(|first| Self { first })
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month.
    pub fn next_first_day(self) -> NaiveDate {
        self.first
            .checked_add_months(Months::new(1))
            .unwrap_or(self.first)
    }

    /// The month before.
    pub fn previous(self) -> Self {
        Self {
            first: self
                .first
                .checked_sub_months(Months::new(1))
                .unwrap_or(self.first),
        }
    }

    /// 00:00 UTC of its first day.
    pub fn start(self) -> DateTime<Utc> {
        midnight(self.first)
    }

    /// 00:00 UTC of the next month's first day.
    pub fn end(self) -> DateTime<Utc> {
        midnight(self.next_first_day())
    }

    /// How many days it has.
    pub fn days(self) -> i64 {
        (self.next_first_day() - self.first).num_days()
    }

    /// "November 2026".
    pub fn label(self) -> String {
        self.first.format("%B %Y").to_string()
    }
}

impl fmt::Display for Month {
    /// `YYYY-MM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

/// 00:00 UTC of `day`.
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Where an invoice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// The month is running; the amounts may change.
    Draft,
    /// The month has ended: issued.
    Open,
}

/// One billed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// What is billed.
    pub description: String,
    /// How many units.
    pub quantity: i64,
    /// Price per unit.
    pub unit_price: Money,
    /// `quantity × unit_price`.
    pub amount: Money,
}

/// An app's invoice for one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Stable: derived from the app and the month.
    pub id: InvoiceId,
    /// The app billed.
    pub app_id: AppId,
    /// Its developer, if it has one.
    pub developer_id: Option<DeveloperId>,
    /// The month billed.
    pub month: Month,
    /// The billed items: plan fees, then overage.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' amounts.
    pub total: Money,
    /// Draft or issued.
    pub status: InvoiceStatus,
    /// When it was issued (the month's end); `None` for a draft.
    pub issued_at: Option<DateTime<Utc>>,
}

/// What an invoice is computed from.
#[derive(Debug, Clone)]
pub struct BillingFacts<'a> {
    /// The app.
    pub app_id: &'a AppId,
    /// Its developer.
    pub developer_id: Option<&'a DeveloperId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its plan now.
    pub plan_now: Plan,
    /// Every change of its plan, oldest first.
    pub history: &'a [PlanChange],
    /// The terms of every plan.
    pub terms: &'a BTreeMap<Plan, PlanTerms>,
    /// Requests served above the daily limit, per day (days without are left out).
    pub overage: &'a BTreeMap<NaiveDate, u64>,
}

/// The stable id of `app_id`'s invoice for `month`.
pub fn invoice_id(app_id: &AppId, month: Month) -> InvoiceId {
    let digest = Sha256::new()
        .chain_update(b"wekeza invoice\0")
        .chain_update(app_id.as_str().as_bytes())
        .chain_update(b"\0")
        .chain_update(month.to_string().as_bytes())
        .finalize();
    let mut random = [0u8; 16];
    random.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    InvoiceId::from_parts(month.start(), u128::from_be_bytes(random))
}

/// The month an invoice id names (whose it is, only recomputing it tells).
pub fn month_of(id: &InvoiceId) -> Option<Month> {
    let ulid = id.as_str().strip_prefix(InvoiceId::PREFIX)?;
    let millis = ulid::Ulid::from_string(ulid).ok()?.timestamp_ms();
    let at = DateTime::<Utc>::from_timestamp_millis(i64::try_from(millis).ok()?)?;
    Some(Month::of(at.date_naive()))
}

/// The plan held at `at`.
fn plan_at(facts: &BillingFacts<'_>, at: DateTime<Utc>) -> Plan {
    if let Some(last) = facts
        .history
        .iter()
        .rev()
        .find(|change| change.changed_at <= at)
    {
        return last.plan;
    }
    facts
        .history
        .first()
        .map_or(facts.plan_now, |first| first.previous)
}

/// The plans held during `day` (from `from`, the day's start or the app's creation).
fn plans_held(facts: &BillingFacts<'_>, day: NaiveDate, from: DateTime<Utc>) -> Vec<Plan> {
    let end = midnight(day.checked_add_days(Days::new(1)).unwrap_or(day));
    let mut plans = vec![plan_at(facts, from)];
    plans.extend(
        facts
            .history
            .iter()
            .filter(|change| change.changed_at > from && change.changed_at < end)
            .map(|change| change.plan),
    );
    plans
}

/// The priciest of `plans` (by monthly price; on a tie, the later in [`Plan::ALL`]) among
/// those `eligible` says yes to.
fn priciest(
    plans: &[Plan],
    terms: &BTreeMap<Plan, PlanTerms>,
    eligible: impl Fn(&PlanTerms) -> bool,
) -> Option<Plan> {
    plans
        .iter()
        .filter_map(|plan| terms.get(plan).map(|terms| (*plan, terms)))
        .filter(|(_, terms)| eligible(terms))
        .max_by_key(|(plan, terms)| (terms.monthly_price.minor(), *plan))
        .map(|(plan, _)| plan)
}

fn line(description: String, quantity: i64, unit_price: Money) -> InvoiceLine {
    InvoiceLine {
        description,
        quantity,
        unit_price,
        amount: Money::from_minor(
            quantity.saturating_mul(unit_price.minor()),
            unit_price.currency(),
        ),
    }
}

/// Why no invoice could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// A plan the app held has no terms.
    #[error("no terms for the plan {0}")]
    NoTerms(&'static str),
    /// The plans' prices are in different currencies.
    #[error("the plans' prices are in different currencies")]
    MixedCurrencies,
}

/// The invoice of `month` as of `now`; `None` for a month before the app's creation or after
/// the running one.
pub fn compute(
    facts: &BillingFacts<'_>,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Option<Invoice>, InvoiceError> {
    let today = now.date_naive();
    let created = facts.created_at.date_naive();
    let running = Month::of(today) == month;
    if month > Month::of(today) || month.next_first_day() <= created {
        return Ok(None);
    }
    let first = month.first_day().max(created);
    let last = if running {
        today
    } else {
        month.next_first_day().pred_opt().unwrap_or(first)
    };
    let mut plan_days: BTreeMap<Plan, i64> = BTreeMap::new();
    let mut overage: BTreeMap<Plan, u64> = BTreeMap::new();
    for day in first.iter_days().take_while(|day| *day <= last) {
        let from = midnight(day).max(facts.created_at);
        let held = plans_held(facts, day, from);
        let billed = priciest(&held, facts.terms, |_| true)
            .ok_or_else(|| InvoiceError::NoTerms(held.first().map_or("?", |plan| plan.id())))?;
        *plan_days.entry(billed).or_default() += 1;
        let requests = facts.overage.get(&day).copied().unwrap_or(0);
        if requests > 0
            && let Some(plan) = priciest(&held, facts.terms, |terms| {
                terms.overage_price_per_thousand.is_some()
            })
        {
            *overage.entry(plan).or_default() += requests;
        }
    }
    let mut lines = Vec::new();
    for plan in Plan::ALL {
        let (Some(days), Some(terms)) = (plan_days.get(&plan), facts.terms.get(&plan)) else {
            continue;
        };
        let monthly = terms.monthly_price;
        lines.push(if *days == month.days() {
            line(
                format!("{} plan, {}", terms.name, month.label()),
                1,
                monthly,
            )
        } else {
            let per_day = Money::from_minor(monthly.minor() / month.days(), monthly.currency());
            line(
                format!(
                    "{} plan, {days} of {} days of {} (per day)",
                    terms.name,
                    month.days(),
                    month.label()
                ),
                *days,
                per_day,
            )
        });
    }
    for plan in Plan::ALL {
        let (Some(requests), Some(terms)) = (overage.get(&plan), facts.terms.get(&plan)) else {
            continue;
        };
        let Some(price) = terms.overage_price_per_thousand else {
            continue;
        };
        let thousands = i64::try_from(requests.div_ceil(1_000)).unwrap_or(i64::MAX);
        lines.push(line(
            format!(
                "{} overage, {requests} requests above the daily limit (per started 1,000)",
                terms.name
            ),
            thousands,
            price,
        ));
    }
    let currency = lines
        .first()
        .map(|line| line.amount.currency())
        .or_else(|| {
            facts
                .terms
                .values()
                .next()
                .map(|terms| terms.monthly_price.currency())
        })
        .ok_or(InvoiceError::NoTerms(facts.plan_now.id()))?;
    if lines.iter().any(|line| line.amount.currency() != currency) {
        return Err(InvoiceError::MixedCurrencies);
    }
    let total = Money::from_minor(
        lines
            .iter()
            .fold(0i64, |sum, line| sum.saturating_add(line.amount.minor())),
        currency,
    );
    Ok(Some(Invoice {
        id: invoice_id(facts.app_id, month),
        app_id: facts.app_id.clone(),
        developer_id: facts.developer_id.cloned(),
        month,
        lines,
        total,
        status: if running {
            InvoiceStatus::Draft
        } else {
            InvoiceStatus::Open
        },
        issued_at: (!running).then(|| month.end()),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use chrono::TimeZone;
    use wekeza_domain::Currency;

    use super::*;

    fn terms() -> BTreeMap<Plan, PlanTerms> {
        let kes = |minor| Money::from_minor(minor, Currency::Kes);
        let plan = |plan: Plan, name: &str, limit, monthly, overage: Option<i64>| PlanTerms {
            plan,
            name: name.to_owned(),
            description: String::new(),
            daily_request_limit: limit,
            requests_per_minute: 1_000,
            burst: 100,
            monthly_price: kes(monthly),
            overage_price_per_thousand: overage.map(kes),
        };
        BTreeMap::from([
            (Plan::Free, plan(Plan::Free, "Free", Some(1_000), 0, None)),
            (
                Plan::Startup,
                plan(
                    Plan::Startup,
                    "Startup",
                    Some(50_000),
                    2_500_000,
                    Some(5_000),
                ),
            ),
            (
                Plan::Enterprise,
                plan(Plan::Enterprise, "Enterprise", None, 0, None),
            ),
        ])
    }

    #[test]
    fn months_parse_and_count_their_days() {
        let month = Month::parse("2026-02").unwrap();
        assert_eq!(month.days(), 28);
        assert_eq!(month.to_string(), "2026-02");
        assert_eq!(month.label(), "February 2026");
        assert_eq!(month.previous().to_string(), "2026-01");
        assert!(Month::parse("2026-13").is_none());
        assert!(Month::parse("26-01").is_none());
    }

    #[test]
    fn the_id_is_stable_and_names_its_month() {
        let app: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
        let month = Month::parse("2026-11").unwrap();
        assert_eq!(invoice_id(&app, month), invoice_id(&app, month));
        assert_ne!(invoice_id(&app, month), invoice_id(&app, month.previous()));
        assert_eq!(month_of(&invoice_id(&app, month)), Some(month));
    }

    #[test]
    fn a_whole_month_on_one_plan_is_the_monthly_price() {
        let app: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
        let terms = terms();
        let facts = BillingFacts {
            app_id: &app,
            developer_id: None,
            created_at: Utc.with_ymd_and_hms(2026, 10, 3, 8, 0, 0).unwrap(),
            plan_now: Plan::Startup,
            history: &[],
            terms: &terms,
            overage: &BTreeMap::from([(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), 1)]),
        };
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
        let invoice = compute(&facts, Month::parse("2026-11").unwrap(), now)
            .unwrap()
            .unwrap();
        assert_eq!(invoice.status, InvoiceStatus::Open);
        assert_eq!(invoice.lines.len(), 2);
        assert_eq!(invoice.lines[0].quantity, 1);
        assert_eq!(invoice.lines[0].amount.minor(), 2_500_000);
        // One overage request is a started thousand.
        assert_eq!(invoice.lines[1].quantity, 1);
        assert_eq!(invoice.total.minor(), 2_505_000);
        // October: created on the 3rd, 29 of 31 days at ⌊2,500,000 / 31⌋ = 80,645.
        let october = compute(&facts, Month::parse("2026-10").unwrap(), now)
            .unwrap()
            .unwrap();
        assert_eq!(october.lines[0].quantity, 29);
        assert_eq!(october.lines[0].unit_price.minor(), 80_645);
        assert_eq!(october.total.minor(), 29 * 80_645);
        // Before its creation, and after the running month: nothing.
        assert!(
            compute(&facts, Month::parse("2026-09").unwrap(), now)
                .unwrap()
                .is_none()
        );
        assert!(
            compute(&facts, Month::parse("2027-01").unwrap(), now)
                .unwrap()
                .is_none()
        );
    }
}
