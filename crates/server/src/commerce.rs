//! The operators' commands over plans and billing (`wekeza plans`, `wekeza apps plan`,
//! `wekeza billing export`): the plans' terms listed and changed, an app moved to a plan, and
//! every app's invoice of a month exported for the bank's billing system.
//!
//! The export has one invoice per app that existed in the month (the running month's as a
//! draft). Money is a decimal string made from integer minor units (`"16935.45"`), never a
//! float, with its ISO 4217 currency beside it. CSV: a header row, then one row per invoice
//! line repeating the invoice's columns (RFC 4180 quoting); JSON: `{"month", "invoices": [...]}`
//! with the lines nested.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use wekeza_domain::{AppId, Money};
use wekeza_partner::billing;
use wekeza_partner::invoice::{Invoice, InvoiceStatus, Month};
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::Plan;
use wekeza_store::plans::PlanTerms;

/// How `wekeza billing export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header row, then a row per invoice line.
    Csv,
    /// One JSON document.
    Json,
}

/// The changes `wekeza plans set` makes; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct TermChanges {
    /// Requests per UTC day; 0: no limit.
    pub daily_limit: Option<u64>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Burst above the per-minute rate.
    pub burst: Option<u32>,
    /// Monthly price, a decimal in the plan's currency (`"25000.00"`).
    pub monthly_price: Option<String>,
    /// Price per 1,000 requests above the daily limit (`"50.00"`), or `none` to refuse them.
    pub overage_price: Option<String>,
}

fn plan_named(name: &str) -> anyhow::Result<Plan> {
    Plan::from_id(name)
        .with_context(|| format!("unknown plan {name:?}: free, startup or enterprise"))
}

fn price(money: Money) -> String {
    // Prices are never negative; `abs_decimal` is the wire form of minor units.
    money.abs_decimal()
}

/// The plans as a table, or as JSON.
pub async fn list_plans(db: &DatabaseConnection, json: bool) -> anyhow::Result<String> {
    let plans = wekeza_store::plans::list(db).await?;
    if json {
        let plans: Vec<Value> = plans.iter().map(plan_json).collect();
        return Ok(serde_json::to_string_pretty(&plans)?);
    }
    let mut out = format!(
        "{:<12} {:>12} {:>8} {:>7} {:>14} {:>14}\n",
        "plan", "daily limit", "per min", "burst", "monthly", "overage/1000"
    );
    for terms in &plans {
        let _ = writeln!(
            out,
            "{:<12} {:>12} {:>8} {:>7} {:>14} {:>14}",
            terms.plan.id(),
            terms
                .daily_request_limit
                .map_or_else(|| "none".to_owned(), |limit| limit.to_string()),
            terms.requests_per_minute,
            terms.burst,
            format!(
                "{} {}",
                price(terms.monthly_price),
                terms.monthly_price.currency()
            ),
            terms
                .overage_price_per_thousand
                .map_or_else(|| "refused".to_owned(), price),
        );
    }
    Ok(out)
}

fn plan_json(terms: &PlanTerms) -> Value {
    json!({
        "planId": terms.plan.id(),
        "name": terms.name,
        "dailyRequestLimit": terms.daily_request_limit.unwrap_or(0),
        "requestsPerMinute": terms.requests_per_minute,
        "burst": terms.burst,
        "currency": terms.monthly_price.currency().code(),
        "monthlyPrice": price(terms.monthly_price),
        "overagePricePerThousand": terms.overage_price_per_thousand.map(price),
    })
}

/// Changes the terms of the plan `name`; answers them as they are then (JSON). Running servers
/// apply them at their next metering flush.
pub async fn set_plan(
    db: &DatabaseConnection,
    name: &str,
    changes: TermChanges,
) -> anyhow::Result<String> {
    let plan = plan_named(name)?;
    let mut terms = wekeza_store::plans::get(db, plan).await?;
    let currency = terms.monthly_price.currency().code();
    let money = |what: &str, text: &str| {
        Money::parse(text, currency).with_context(|| format!("{what}: {text:?}"))
    };
    if let Some(limit) = changes.daily_limit {
        terms.daily_request_limit = (limit > 0).then_some(limit);
    }
    if let Some(rate) = changes.requests_per_minute {
        if rate == 0 {
            bail!("--requests-per-minute must be at least 1");
        }
        terms.requests_per_minute = rate;
    }
    if let Some(burst) = changes.burst {
        terms.burst = burst;
    }
    if let Some(monthly) = changes.monthly_price {
        terms.monthly_price = money("--monthly-price", &monthly)?;
    }
    if let Some(overage) = changes.overage_price {
        terms.overage_price_per_thousand = match overage.as_str() {
            "none" => None,
            text => Some(money("--overage-price", text)?),
        };
    }
    wekeza_store::plans::update(db, &terms).await?;
    Ok(serde_json::to_string_pretty(&plan_json(&terms))?)
}

/// Moves the app `app_id` to the plan `name` now.
pub async fn move_app(
    db: &DatabaseConnection,
    app_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let plan = plan_named(name)?;
    let app_id: AppId = app_id
        .parse()
        .with_context(|| format!("app id {app_id:?}"))?;
    let app = wekeza_store::plan_changes::change(db, &app_id, plan, now)
        .await?
        .with_context(|| format!("no app {app_id}"))?;
    Ok(format!("{} is on the {} plan", app.id, app.plan.id()))
}

/// Every app's invoice of `month` as of `now`, written as `format`.
pub async fn export(
    db: &DatabaseConnection,
    month: &str,
    format: ExportFormat,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let month = Month::parse(month).with_context(|| format!("--month {month:?}: YYYY-MM"))?;
    let terms = billing::terms(db).await?;
    let mut invoices = Vec::new();
    for app in wekeza_store::apps::list_all(db).await? {
        if let Some(invoice) = billing::invoice(db, &app, &terms, month, now).await? {
            invoices.push(invoice);
        }
    }
    Ok(match format {
        ExportFormat::Json => serde_json::to_string_pretty(&json!({
            "month": month.to_string(),
            "invoices": invoices.iter().map(invoice_json).collect::<Vec<_>>(),
        }))?,
        ExportFormat::Csv => csv(&invoices),
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status(invoice: &Invoice) -> &'static str {
    match invoice.status {
        InvoiceStatus::Draft => "DRAFT",
        InvoiceStatus::Open => "OPEN",
    }
}

fn invoice_json(invoice: &Invoice) -> Value {
    json!({
        "invoiceId": invoice.id.to_string(),
        "appId": invoice.app_id.to_string(),
        "developerId": invoice.developer_id.as_ref().map(ToString::to_string),
        "periodStart": time(invoice.month.start()),
        "periodEnd": time(invoice.month.end()),
        "status": status(invoice),
        "issueTime": invoice.issued_at.map(time),
        "currency": invoice.total.currency().code(),
        "total": price(invoice.total),
        "lines": invoice.lines.iter().map(|line| json!({
            "description": line.description,
            "quantity": line.quantity,
            "unitPrice": price(line.unit_price),
            "amount": price(line.amount),
        })).collect::<Vec<_>>(),
    })
}

/// The export's CSV columns.
const CSV_HEADER: [&str; 13] = [
    "invoice_id",
    "app_id",
    "developer_id",
    "period_start",
    "period_end",
    "status",
    "currency",
    "total",
    "line",
    "description",
    "quantity",
    "unit_price",
    "amount",
];

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(invoices: &[Invoice]) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    for invoice in invoices {
        for (number, line) in (1..).zip(&invoice.lines) {
            let row = [
                invoice.id.to_string(),
                invoice.app_id.to_string(),
                invoice
                    .developer_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                time(invoice.month.start()),
                time(invoice.month.end()),
                status(invoice).to_owned(),
                invoice.total.currency().code().to_owned(),
                price(invoice.total),
                number.to_string(),
                line.description.clone(),
                line.quantity.to_string(),
                price(line.unit_price),
                price(line.amount),
            ];
            let fields: Vec<String> = row.iter().map(|field| csv_field(field)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("per 1,000"), "\"per 1,000\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
