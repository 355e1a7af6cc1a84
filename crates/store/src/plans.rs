//! Usage plans: the terms of Free, Startup and Enterprise (daily request limit, rate limit and
//! burst, monthly and overage prices in integer minor units), read by the gateway's limits and
//! by billing, edited by operators.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryOrder, Set};
use wekeza_domain::{Currency, Money};

use crate::entity::enums::Plan;
use crate::entity::plans::{self, Column, Entity};
use crate::{Error, Result};

/// A plan's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTerms {
    /// Which plan.
    pub plan: Plan,
    /// Display name.
    pub name: String,
    /// What the plan is for.
    pub description: String,
    /// Requests per UTC day included; `None`: no fixed limit.
    pub daily_request_limit: Option<u64>,
    /// The sustained rate limit, requests per minute (at least 1).
    pub requests_per_minute: u32,
    /// Requests an app may make at once above the sustained rate.
    pub burst: u32,
    /// Price per month.
    pub monthly_price: Money,
    /// Price per 1,000 requests above the daily limit; `None`: those requests are refused.
    pub overage_price_per_thousand: Option<Money>,
}

/// Every plan, cheapest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<PlanTerms>> {
    Entity::find()
        .order_by_asc(Column::SortOrder)
        .all(db)
        .await?
        .into_iter()
        .map(PlanTerms::try_from)
        .collect()
}

/// The terms of `plan`.
pub async fn get(db: &impl ConnectionTrait, plan: Plan) -> Result<PlanTerms> {
    Entity::find_by_id(plan.id())
        .one(db)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("plans: no row for {}", plan.id())))
        .and_then(PlanTerms::try_from)
}

/// Replaces the limits and prices of `terms.plan` (its name and description too).
pub async fn update(db: &impl ConnectionTrait, terms: &PlanTerms) -> Result<()> {
    let Some(row) = Entity::find_by_id(terms.plan.id()).one(db).await? else {
        return Err(Error::Corrupt(format!(
            "plans: no row for {}",
            terms.plan.id()
        )));
    };
    let mut row = row.into_active_model();
    row.name = Set(terms.name.clone());
    row.description = Set(terms.description.clone());
    row.daily_request_limit = Set(terms
        .daily_request_limit
        .map_or(0, |limit| i64::try_from(limit).unwrap_or(i64::MAX)));
    row.requests_per_minute = Set(i32::try_from(terms.requests_per_minute).unwrap_or(i32::MAX));
    row.burst = Set(i32::try_from(terms.burst).unwrap_or(i32::MAX));
    row.currency = Set(terms.monthly_price.currency().code().to_owned());
    row.monthly_price_minor = Set(terms.monthly_price.minor());
    row.overage_price_per_thousand_minor =
        Set(terms.overage_price_per_thousand.map(|price| price.minor()));
    row.update(db).await?;
    Ok(())
}

impl TryFrom<plans::Model> for PlanTerms {
    type Error = Error;

    fn try_from(row: plans::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("plans.{what} of {}", row.id));
        let plan = Plan::from_id(&row.id).ok_or_else(|| corrupt("id"))?;
        let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
        Ok(Self {
            plan,
            daily_request_limit: u64::try_from(row.daily_request_limit)
                .map_err(|_| corrupt("daily_request_limit"))
                .map(|limit| (limit > 0).then_some(limit))?,
            requests_per_minute: u32::try_from(row.requests_per_minute)
                .ok()
                .filter(|rate| *rate > 0)
                .ok_or_else(|| corrupt("requests_per_minute"))?,
            burst: u32::try_from(row.burst).map_err(|_| corrupt("burst"))?,
            monthly_price: Money::from_minor(row.monthly_price_minor, currency),
            overage_price_per_thousand: row
                .overage_price_per_thousand_minor
                .map(|minor| Money::from_minor(minor, currency)),
            name: row.name,
            description: row.description,
        })
    }
}
