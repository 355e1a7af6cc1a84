//! The audit trail's storage: append-only records, each chained to the one before it by its
//! hash, appended a batch at a time under the lock of the chain's head; the walk that verifies
//! the chain; the reads of its export.
//!
//! # The chain
//!
//! Records are numbered 1, 2, 3, … (`seq`, no gaps). Each holds `prev_hash`, the hash of the
//! record before (64 zeros, [`GENESIS`], before the first), and
//!
//! ```text
//! hash = hex(SHA-256(prev_hash ‖ canonical bytes))
//! ```
//!
//! where `prev_hash` is its 64 lower-case hex characters (ASCII) and the **canonical bytes**
//! are the UTF-8 JSON text of the record's document
//! `{"action","appId","customerId","details","kind","occurredAt","seq"}` written with no
//! whitespace, object keys sorted by their UTF-8 bytes at every level, strings escaped as
//! RFC 8259 requires and no more (`"` `\` and control characters; `\b \f \n \r \t`, others
//! `\u00xx`), integers in decimal, `null` for an absent app or customer, and `occurredAt` as
//! RFC 3339 UTC with exactly six fractional digits (`2026-11-01T09:30:00.000000Z`). Details
//! hold only texts, integers and lists of texts, so this is also the RFC 8785 (JCS) form. An
//! exported line ([`AuditRecord::to_json`]) is that document plus `prevHash` and `hash`: an
//! auditor re-verifies an export by removing those two, canonicalising, and hashing.
//!
//! The `audit_chain` row holds the last `seq` and `hash`, so that deleting the newest records is
//! seen too.
//!
//! # One chain, several processes
//!
//! An [`Appender`] opens a transaction whose first statement updates the chain's head row.
//! On PostgreSQL that takes the row's lock — other appenders, in this process or another, wait
//! for the commit and then read the new head (`READ COMMITTED` gives each statement a fresh
//! snapshot); on SQLite it takes the database's write lock at the start of the transaction, so
//! no appender ever reads a head another is about to move. The lock is held for one batch's
//! inserts, a few milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use wekeza_domain::{AuditEvent, Detail};

use crate::entity::{audit_chain, audit_records};
use crate::{Error, Result};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The id of the chain's one head row.
const HEAD: i32 = 1;

/// Rows per `INSERT`: well under SQLite's limit of bound values per statement.
const INSERT_CHUNK: usize = 500;

/// Rows read per query by the verifier and the export.
pub const PAGE: u64 = 1_000;

/// A stored record, as it is in the table (a tampered row is read as it stands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its place in the chain.
    pub seq: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// `api_call`, `consent`, `token`, `fraud`, `operator`, `trail`.
    pub kind: String,
    /// What happened.
    pub action: String,
    /// The app it concerns.
    pub app_id: Option<String>,
    /// The customer it concerns.
    pub customer_id: Option<String>,
    /// The details as stored (a JSON object's text).
    pub details: String,
    /// The hash of the record before.
    pub prev_hash: String,
    /// Its own hash.
    pub hash: String,
}

impl AuditRecord {
    /// The record's document, whose canonical bytes are hashed: everything but the hashes.
    /// `None` when the stored details are not JSON (a tampered row).
    fn document(&self) -> Option<Map<String, Value>> {
        let details: Value = serde_json::from_str(&self.details).ok()?;
        let mut document = Map::new();
        document.insert("seq".into(), self.seq.into());
        document.insert("occurredAt".into(), timestamp(self.occurred_at).into());
        document.insert("kind".into(), self.kind.clone().into());
        document.insert("action".into(), self.action.clone().into());
        document.insert("appId".into(), self.app_id.clone().into());
        document.insert("customerId".into(), self.customer_id.clone().into());
        document.insert("details".into(), details);
        Some(document)
    }

    /// The hash its content and `prev_hash` call for; `None` when the details are not JSON.
    fn expected_hash(&self) -> Option<String> {
        let document = self.document()?;
        Some(chain_hash(&self.prev_hash, &Value::Object(document)))
    }

    /// The exported form: the document plus `prevHash` and `hash`. Details that are not JSON
    /// (a tampered row) are exported as their text.
    pub fn to_json(&self) -> Value {
        let mut document = self.document().unwrap_or_else(|| {
            let mut raw = Map::new();
            raw.insert("seq".into(), self.seq.into());
            raw.insert("details".into(), self.details.clone().into());
            raw
        });
        document.insert("prevHash".into(), self.prev_hash.clone().into());
        document.insert("hash".into(), self.hash.clone().into());
        Value::Object(document)
    }
}

/// `at` truncated to the microseconds both databases keep.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// RFC 3339, UTC, six fractional digits.
fn timestamp(at: DateTime<Utc>) -> String {
    to_micros(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `hex(SHA-256(prev_hash ‖ canonical(document)))`.
fn chain_hash(prev_hash: &str, document: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(document, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// Writes `value` as canonical JSON: compact, keys sorted by their bytes at every level.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The details of an event as a JSON object.
fn details_json(event: &AuditEvent) -> Value {
    Value::Object(
        event
            .details
            .iter()
            .map(|(name, detail)| {
                let value = match detail {
                    Detail::Text(text) => Value::from(text.as_str()),
                    Detail::Integer(number) => Value::from(*number),
                    Detail::List(texts) => Value::from(texts.clone()),
                };
                (name.clone(), value)
            })
            .collect(),
    )
}

/// One batch being appended: a transaction holding the chain's lock.
#[derive(Debug)]
pub struct Appender {
    txn: DatabaseTransaction,
    last_seq: i64,
    last_hash: String,
}

/// Opens a batch: begins a transaction and locks the chain's head (see the module doc).
pub async fn begin(db: &DatabaseConnection) -> Result<Appender> {
    let txn = db.begin().await?;
    // A write first: the row lock on PostgreSQL, the write lock on SQLite.
    audit_chain::Entity::update_many()
        .col_expr(
            audit_chain::Column::LastSeq,
            Expr::col(audit_chain::Column::LastSeq),
        )
        .filter(audit_chain::Column::Id.eq(HEAD))
        .exec(&txn)
        .await?;
    let head = audit_chain::Entity::find_by_id(HEAD)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Corrupt("audit_chain has no head row".into()))?;
    Ok(Appender {
        txn,
        last_seq: head.last_seq,
        last_hash: head.last_hash,
    })
}

impl Appender {
    /// The batch's transaction, for what must change with it (the outbox events it took).
    pub fn transaction(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Appends `events` to the chain, in order.
    pub async fn append(&mut self, events: &[AuditEvent]) -> Result<()> {
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let record = AuditRecord {
                seq: self.last_seq + 1,
                occurred_at: to_micros(event.occurred_at),
                kind: event.kind.as_str().to_owned(),
                action: event.action.clone(),
                app_id: event.app_id.as_ref().map(ToString::to_string),
                customer_id: event.customer_id.as_ref().map(ToString::to_string),
                details: details_json(event).to_string(),
                prev_hash: self.last_hash.clone(),
                hash: String::new(),
            };
            let hash = record
                .expected_hash()
                .ok_or_else(|| Error::Corrupt("audit details are not JSON".into()))?;
            self.last_seq = record.seq;
            self.last_hash.clone_from(&hash);
            rows.push(audit_records::ActiveModel {
                seq: ActiveValue::Set(record.seq),
                occurred_at: ActiveValue::Set(record.occurred_at),
                kind: ActiveValue::Set(record.kind),
                action: ActiveValue::Set(record.action),
                app_id: ActiveValue::Set(record.app_id),
                customer_id: ActiveValue::Set(record.customer_id),
                details: ActiveValue::Set(record.details),
                prev_hash: ActiveValue::Set(record.prev_hash),
                hash: ActiveValue::Set(hash),
            });
        }
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(INSERT_CHUNK));
            audit_records::Entity::insert_many(std::mem::replace(&mut rows, rest))
                .exec_without_returning(&self.txn)
                .await?;
        }
        Ok(())
    }

    /// Moves the head to the last record appended and commits; answers the last `seq`.
    pub async fn commit(self) -> Result<i64> {
        audit_chain::Entity::update_many()
            .col_expr(audit_chain::Column::LastSeq, Expr::value(self.last_seq))
            .col_expr(
                audit_chain::Column::LastHash,
                Expr::value(self.last_hash.clone()),
            )
            .filter(audit_chain::Column::Id.eq(HEAD))
            .exec(&self.txn)
            .await?;
        self.txn.commit().await?;
        Ok(self.last_seq)
    }
}

/// Appends `events` in one transaction; answers the last `seq`.
pub async fn append(db: &DatabaseConnection, events: &[AuditEvent]) -> Result<i64> {
    let mut appender = begin(db).await?;
    appender.append(events).await?;
    appender.commit().await
}

/// The first thing wrong with the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The record's content no longer matches its hash: a field was changed.
    ContentChanged {
        /// The record.
        seq: i64,
    },
    /// The record's `prev_hash` is not the hash of the record before it: the record before
    /// was changed and re-hashed, or this one's link was edited.
    LinkBroken {
        /// The record.
        seq: i64,
    },
    /// Records are missing: deleted.
    Missing {
        /// The first missing `seq`.
        from: i64,
        /// The last missing `seq`.
        to: i64,
    },
    /// The head names a last hash no record has: the last record was replaced.
    HeadMismatch {
        /// The head's last `seq`.
        seq: i64,
    },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ContentChanged { seq } => write!(
                f,
                "record {seq}: content changed (its hash does not match its content)"
            ),
            Self::LinkBroken { seq } => write!(
                f,
                "record {seq}: link broken (its prev_hash is not the hash of record {})",
                seq - 1
            ),
            Self::Missing { from, to } if from == to => write!(f, "record {from}: missing"),
            Self::Missing { from, to } => write!(f, "records {from} to {to}: missing"),
            Self::HeadMismatch { seq } => write!(
                f,
                "record {seq}: the chain's head names another hash (the last record was replaced)"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// The first broken link, if any.
    pub first_break: Option<Break>,
}

/// Walks the chain from the first record to the head as it was when the walk began (records
/// appended meanwhile are left for the next walk) and names the first broken link.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Verification> {
    let head = audit_chain::Entity::find_by_id(HEAD)
        .one(db)
        .await?
        .ok_or_else(|| Error::Corrupt("audit_chain has no head row".into()))?;
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_owned();
    let mut records = 0;
    loop {
        let page = audit_records::Entity::find()
            .filter(audit_records::Column::Seq.gte(expected_seq))
            .filter(audit_records::Column::Seq.lte(head.last_seq))
            .order_by_asc(audit_records::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last().map(|row| row.seq) else {
            break;
        };
        for row in page {
            let record = from_row(row);
            records += 1;
            let found = if record.seq != expected_seq {
                Some(Break::Missing {
                    from: expected_seq,
                    to: record.seq - 1,
                })
            } else if record.prev_hash != prev_hash {
                Some(Break::LinkBroken { seq: record.seq })
            } else if record.expected_hash().as_ref() != Some(&record.hash) {
                Some(Break::ContentChanged { seq: record.seq })
            } else {
                None
            };
            if found.is_some() {
                return Ok(Verification {
                    records,
                    first_break: found,
                });
            }
            expected_seq = record.seq + 1;
            prev_hash = record.hash;
        }
        if last >= head.last_seq {
            break;
        }
    }
    let first_break = if expected_seq <= head.last_seq {
        Some(Break::Missing {
            from: expected_seq,
            to: head.last_seq,
        })
    } else if prev_hash != head.last_hash {
        Some(Break::HeadMismatch { seq: head.last_seq })
    } else {
        None
    };
    Ok(Verification {
        records,
        first_break,
    })
}

/// Up to `limit` records that happened at or after `since`, in chain order, after the record
/// `after_seq` (the previous page's last; 0 for the first page).
pub async fn since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
    after_seq: i64,
    limit: u64,
) -> Result<Vec<AuditRecord>> {
    Ok(audit_records::Entity::find()
        .filter(audit_records::Column::OccurredAt.gte(since))
        .filter(audit_records::Column::Seq.gt(after_seq))
        .order_by_asc(audit_records::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect())
}

fn from_row(row: audit_records::Model) -> AuditRecord {
    AuditRecord {
        seq: row.seq,
        occurred_at: row.occurred_at,
        kind: row.kind,
        action: row.action,
        app_id: row.app_id,
        customer_id: row.customer_id,
        details: row.details,
        prev_hash: row.prev_hash,
        hash: row.hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_has_no_whitespace() {
        let value = serde_json::json!({
            "seq": 2,
            "b": {"z": [1, "x\n\"y\""], "a": null},
            "a": "é",
        });
        let mut out = String::new();
        write_canonical(&value, &mut out);
        assert_eq!(
            out,
            r#"{"a":"é","b":{"a":null,"z":[1,"x\n\"y\""]},"seq":2}"#
        );
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_every_field() {
        let record = AuditRecord {
            seq: 1,
            occurred_at: DateTime::from_timestamp_micros(1_793_525_400_000_001).unwrap_or_default(),
            kind: "api_call".into(),
            action: "POST /oauth2/token".into(),
            app_id: Some("app_1".into()),
            customer_id: None,
            details: r#"{"httpStatus":200}"#.into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        let canonical = concat!(
            r#"{"action":"POST /oauth2/token","appId":"app_1","customerId":null,"#,
            r#""details":{"httpStatus":200},"kind":"api_call","#,
            r#""occurredAt":"2026-11-01T09:30:00.000001Z","seq":1}"#
        );
        let mut hasher = Sha256::new();
        hasher.update(GENESIS.as_bytes());
        hasher.update(canonical.as_bytes());
        assert_eq!(record.expected_hash(), Some(hex::encode(hasher.finalize())));
        let changed = AuditRecord {
            app_id: Some("app_2".into()),
            ..record.clone()
        };
        assert_ne!(changed.expected_hash(), record.expected_hash());
        let relinked = AuditRecord {
            prev_hash: "1".repeat(64),
            ..record.clone()
        };
        assert_ne!(relinked.expected_hash(), record.expected_hash());
    }
}
