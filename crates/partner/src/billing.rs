//! Invoices from storage: an app's plan history, the plans' terms and its daily overage read
//! from the store, handed to [`invoice::compute`](crate::invoice::compute). Used by the
//! service and by `wekeza billing export`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use wekeza_store::ConnectionTrait;
use wekeza_store::apps::{App, Plan};
use wekeza_store::plans::PlanTerms;

use crate::Error;
use crate::invoice::{self, BillingFacts, Invoice, Month};

/// The terms of every plan, by plan.
pub async fn terms(db: &impl ConnectionTrait) -> Result<BTreeMap<Plan, PlanTerms>, Error> {
    Ok(wekeza_store::plans::list(db)
        .await?
        .into_iter()
        .map(|terms| (terms.plan, terms))
        .collect())
}

/// `app`'s invoice of `month` as of `now` (priced at `terms`); `None` for a month before its
/// creation or after the running one.
pub async fn invoice(
    db: &impl ConnectionTrait,
    app: &App,
    terms: &BTreeMap<Plan, PlanTerms>,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Option<Invoice>, Error> {
    if month > Month::of(now.date_naive()) || month.next_first_day() <= app.created_at.date_naive()
    {
        return Ok(None);
    }
    let history = wekeza_store::plan_changes::history(db, &app.id).await?;
    let overage = wekeza_store::usage::days(db, &app.id, month.first_day(), month.next_first_day())
        .await?
        .into_iter()
        .filter(|day| day.quota.overage > 0)
        .map(|day| (day.day, day.quota.overage))
        .collect();
    let facts = BillingFacts {
        app_id: &app.id,
        developer_id: app.developer_id.as_ref(),
        created_at: app.created_at,
        plan_now: app.plan,
        history: &history,
        terms,
        overage: &overage,
    };
    Ok(invoice::compute(&facts, month, now)?)
}

/// `app`'s invoices as of `now`, newest first, starting with the month before `before` (or
/// with the running month), at most `limit`.
pub async fn invoices(
    db: &impl ConnectionTrait,
    app: &App,
    before: Option<Month>,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Invoice>, Error> {
    let terms = terms(db).await?;
    let created = Month::of(app.created_at.date_naive());
    let mut month = before.map_or_else(|| Month::of(now.date_naive()), Month::previous);
    let mut found = Vec::new();
    while found.len() < limit && month >= created {
        if let Some(invoice) = invoice(db, app, &terms, month, now).await? {
            found.push(invoice);
        }
        month = month.previous();
    }
    Ok(found)
}
