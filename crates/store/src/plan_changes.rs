//! Moving an app to another usage plan, and the history of its plans that invoices prorate by.
//!
//! A change writes the app's plan and a history row (`app_plan_changes`, with the plan before
//! and after) in one transaction. The plan an app held at any instant follows from the two: the
//! plan of the last change at or before it, else the plan before the first change after it,
//! else the app's plan today.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use wekeza_domain::AppId;

use crate::Result;
use crate::apps::{self, App};
use crate::entity::app_plan_changes::{self, Column, Entity};
use crate::entity::apps as app_rows;
use crate::entity::enums::Plan;

/// One change of an app's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChange {
    /// When it took effect.
    pub changed_at: DateTime<Utc>,
    /// The plan before.
    pub previous: Plan,
    /// The plan after.
    pub plan: Plan,
}

/// Moves `app_id` to `plan` as of `now`; the app as it is then, or `None` if there is no such
/// app. Moving an app to the plan it is on changes nothing and writes no history.
pub async fn change<C>(
    db: &C,
    app_id: &AppId,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<Option<App>>
where
    C: ConnectionTrait + TransactionTrait,
{
    loop {
        let Some(app) = apps::find(db, app_id).await? else {
            return Ok(None);
        };
        if app.plan == plan {
            return Ok(Some(app));
        }
        // The conditional write first: a concurrent change makes it match nothing (and we read
        // again), and on SQLite the transaction takes the write lock at once.
        let txn = db.begin().await?;
        let updated = app_rows::Entity::update_many()
            .col_expr(app_rows::Column::Plan, Expr::value(plan))
            .filter(app_rows::Column::Id.eq(app_id.as_str()))
            .filter(app_rows::Column::Plan.eq(app.plan))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            txn.rollback().await?;
            continue;
        }
        Entity::insert(app_plan_changes::ActiveModel {
            app_id: sea_orm::Set(app_id.to_string()),
            changed_at: sea_orm::Set(now),
            previous_plan: sea_orm::Set(app.plan),
            plan: sea_orm::Set(plan),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        let mut app = app;
        app.plan = plan;
        return Ok(Some(app));
    }
}

/// Every change of `app_id`'s plan, oldest first.
pub async fn history(db: &impl ConnectionTrait, app_id: &AppId) -> Result<Vec<PlanChange>> {
    Ok(Entity::find()
        .filter(Column::AppId.eq(app_id.as_str()))
        .order_by_asc(Column::ChangedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| PlanChange {
            changed_at: row.changed_at,
            previous: row.previous_plan,
            plan: row.plan,
        })
        .collect())
}
