//! Journals and their postings: inserted together, and wiped together with the customers and
//! accounts when an operator reseeds the sandbox (`wekeza sandbox reset`).

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait,
    IntoActiveModel, Iterable, QueryFilter, QueryOrder,
};

use crate::Result;
use crate::entity::{accounts, consents, customers, holds, journals, payments, postings};

/// Bind parameters per statement; below SQLite's limit (32 766) and PostgreSQL's (65 535).
const MAX_PARAMETERS: usize = 30_000;

/// The journal recorded for the business event `external_reference` (e.g. a payment's
/// settlement), with its postings in id order, if one was posted.
pub async fn find_by_external_reference(
    db: &impl ConnectionTrait,
    external_reference: &str,
) -> Result<Option<(journals::Model, Vec<postings::Model>)>> {
    let Some(journal) = journals::Entity::find()
        .filter(journals::Column::ExternalReference.eq(external_reference))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let postings = postings::Entity::find()
        .filter(postings::Column::JournalId.eq(journal.id.as_str()))
        .order_by_asc(postings::Column::Id)
        .all(db)
        .await?;
    Ok(Some((journal, postings)))
}

/// Inserts one journal and its postings. Run it inside the transaction that also moves the
/// accounts' balances ([`crate::accounts::apply_delta`]).
pub async fn insert(
    db: &impl ConnectionTrait,
    journal: journals::Model,
    postings: Vec<postings::Model>,
) -> Result<()> {
    insert_many(db, [journal], postings).await
}

/// Inserts journals, then postings, in as few statements as the parameter limits allow.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    journals: impl IntoIterator<Item = journals::Model>,
    postings: impl IntoIterator<Item = postings::Model>,
) -> Result<()> {
    insert_chunked::<journals::ActiveModel, _>(db, journals).await?;
    insert_chunked::<postings::ActiveModel, _>(db, postings).await
}

/// Deletes every hold, payment, consent, posting, journal, account and customer: the operator's
/// reseed of the whole sandbox (`wekeza sandbox reset`; an app's own `ResetSandbox` touches
/// only its own data). Run it in a transaction with the seed that follows. Tables added later
/// that refer to accounts or customers must be emptied first.
pub async fn wipe_ledger(db: &impl ConnectionTrait) -> Result<()> {
    holds::Entity::delete_many().exec(db).await?;
    payments::Entity::delete_many().exec(db).await?;
    consents::Entity::delete_many().exec(db).await?;
    postings::Entity::delete_many().exec(db).await?;
    journals::Entity::delete_many().exec(db).await?;
    accounts::Entity::delete_many().exec(db).await?;
    customers::Entity::delete_many().exec(db).await?;
    Ok(())
}

/// Inserts rows of one table in multi-row statements of at most [`MAX_PARAMETERS`] parameters.
pub(crate) async fn insert_chunked<A, M>(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = M>,
) -> Result<()>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    M: IntoActiveModel<A>,
{
    let columns = <A::Entity as EntityTrait>::Column::iter().count().max(1);
    let rows_per_statement = (MAX_PARAMETERS / columns).max(1);
    let mut chunk: Vec<A> = Vec::with_capacity(rows_per_statement);
    for row in rows {
        chunk.push(row.into_active_model());
        if chunk.len() == rows_per_statement {
            A::Entity::insert_many(std::mem::take(&mut chunk))
                .exec_without_returning(db)
                .await?;
        }
    }
    if !chunk.is_empty() {
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
