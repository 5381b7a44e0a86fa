//! The append-only audit log: who moved which payment or order from where
//! to where, and why. Rows are written in the transaction of the change.

use crate::schema::audit_log;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who caused a transition (SPEC §4: `user|webhook|sweep|cli|staff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditSource {
    User,
    Webhook,
    Sweep,
    Cli,
    Staff,
}

impl AuditSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSource::User => "user",
            AuditSource::Webhook => "webhook",
            AuditSource::Sweep => "sweep",
            AuditSource::Cli => "cli",
            AuditSource::Staff => "staff",
        }
    }
}

/// The source plus who exactly (an e-mail, an event id, a sweep run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub source: AuditSource,
    pub name: String,
}

impl Actor {
    pub fn new(source: AuditSource, name: impl Into<String>) -> Self {
        Self {
            source,
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Payment(Uuid),
    Order(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: i64,
    pub entity: String,
    pub entity_id: Uuid,
    pub from_status: String,
    pub to_status: String,
    pub source: String,
    pub actor: String,
    pub detail: serde_json::Value,
    pub created_at: time::OffsetDateTime,
}

/// Takes a shared connection so the insert can be pipelined with the
/// change it records.
pub async fn record(
    conn: &AsyncPgConnection,
    entity: Entity,
    from: &str,
    to: &str,
    actor: &Actor,
    detail: &serde_json::Value,
) -> QueryResult<()> {
    let (kind, id) = match entity {
        Entity::Payment(id) => ("payment", id),
        Entity::Order(id) => ("order", id),
    };
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::entity.eq(kind),
            audit_log::entity_id.eq(id),
            audit_log::from_status.eq(from),
            audit_log::to_status.eq(to),
            audit_log::source.eq(actor.source.as_str()),
            audit_log::actor.eq(&actor.name),
            audit_log::detail.eq(detail),
        ))
        .execute(&mut { conn })
        .await
        .map(drop)
}

/// The transitions of one payment or order, oldest first.
pub async fn history(conn: &mut AsyncPgConnection, entity: Entity) -> QueryResult<Vec<AuditEntry>> {
    let (kind, id) = match entity {
        Entity::Payment(id) => ("payment", id),
        Entity::Order(id) => ("order", id),
    };
    audit_log::table
        .filter(audit_log::entity.eq(kind))
        .filter(audit_log::entity_id.eq(id))
        .order(audit_log::id.asc())
        .select(AuditEntry::as_select())
        .load(conn)
        .await
}
