//! One-time codes accepted once (RFC 6238 §5.2): per customer, the latest time step whose code
//! completed a sign-in. A code of that step — replayed in another session — or of an earlier one
//! is refused; [`accept`] is one conditional upsert, so of two concurrent uses of a code one
//! wins.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::entity::second_factor_steps::{ActiveModel, Column, Entity, Model};
use crate::Result;

/// Records that `customer_id` passed the second factor with the code of time step `step`;
/// `false` (nothing written) when a code of that step or a later one was accepted before.
pub async fn accept(db: &impl ConnectionTrait, customer_id: &str, step: i64) -> Result<bool> {
    let row = Model {
        customer_id: customer_id.to_owned(),
        last_step: step,
    };
    let written = Entity::insert(ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_column(Column::LastStep)
                .action_and_where(Expr::col((Entity, Column::LastStep)).lt(step))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(written == 1)
}
