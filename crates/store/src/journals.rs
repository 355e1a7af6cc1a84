//! Journals and their postings: inserted together, and wiped together with the customers and
//! accounts when the sandbox is reset.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Iterable,
};

use crate::Result;
use crate::entity::{accounts, consents, customers, journals, postings};

/// Bind parameters per statement; below SQLite's limit (32 766) and PostgreSQL's (65 535).
const MAX_PARAMETERS: usize = 30_000;

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

/// Deletes every consent, posting, journal, account and customer: the sandbox's reset. Run it
/// in a transaction with the seed that follows. Tables added later that refer to accounts or
/// customers must be emptied first.
pub async fn wipe_ledger(db: &impl ConnectionTrait) -> Result<()> {
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
