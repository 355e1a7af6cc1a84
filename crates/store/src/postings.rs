//! Postings: an account's statement, newest first, filtered by booking time and keyset-paged
//! by id (ids are ULIDs of the booking time, so id order is time order).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::{AccountId, TransactionId};

use crate::Result;
use crate::entity::postings::{self, Column, Entity};

/// Which of an account's postings to list, newest id first.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostingFilter<'a> {
    /// Booked at or after.
    pub from_booking_time: Option<DateTime<Utc>>,
    /// Booked strictly before.
    pub to_booking_time: Option<DateTime<Utc>>,
    /// Only ids strictly below this one (the previous page's last id).
    pub before_id: Option<&'a TransactionId>,
    /// At most this many rows.
    pub limit: u64,
}

/// The account's postings matching `filter`, by id descending (newest first).
pub async fn list_for_account(
    db: &impl ConnectionTrait,
    account: &AccountId,
    filter: PostingFilter<'_>,
) -> Result<Vec<postings::Model>> {
    let mut select = Entity::find().filter(Column::AccountId.eq(account.as_str()));
    if let Some(from) = filter.from_booking_time {
        select = select.filter(Column::BookingTime.gte(from));
    }
    if let Some(to) = filter.to_booking_time {
        select = select.filter(Column::BookingTime.lt(to));
    }
    if let Some(before) = filter.before_id {
        select = select.filter(Column::Id.lt(before.as_str()));
    }
    Ok(select
        .order_by_desc(Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?)
}
