//! Customers: look-ups by id and by sign-in name, and bulk insertion for the sandbox seed.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use wekeza_domain::CustomerId;

use crate::Result;
use crate::entity::customers::{self, Column, Entity};

/// The customer with this id, if any.
pub async fn find(db: &impl ConnectionTrait, id: &CustomerId) -> Result<Option<customers::Model>> {
    Ok(Entity::find_by_id(id.as_str()).one(db).await?)
}

/// The customer with this sign-in name, if any (names are matched exactly).
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<customers::Model>> {
    Ok(Entity::find()
        .filter(Column::Username.eq(username))
        .one(db)
        .await?)
}

/// Whether there is no customer at all (a fresh database, before the sandbox seed).
pub async fn is_empty(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(Entity::find().one(db).await?.is_none())
}

/// Inserts customers as they are, in one statement per chunk.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = customers::Model>,
) -> Result<()> {
    crate::journals::insert_chunked::<customers::ActiveModel, _>(db, rows).await
}
