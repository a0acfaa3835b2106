//! Core's statements as diesel queries.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz, Untyped};
use diesel::{PgConnection, QueryResult, RunQueryDsl};
use pgmq_core::adapter::{Param, Statement};
use pgmq_core::{Error, Result};
use serde_json::Value;

/// One of core's statements, ready for a diesel connection.
///
/// The text and binds travel in diesel's own `sql_query(..).into_boxed().bind(..)`. What this
/// wrapper adds is the caching decision: diesel never caches an `sql_query` (it cannot know
/// whether the text was built from user input), but core's statements are a fixed set of
/// texts per queue, so a [`Statement::persistent`] one is safe to prepare once per connection
/// and reuse, as every other adapter does.
pub(crate) struct CoreQuery {
    inner: BoxedSqlQuery<'static, Pg, SqlQuery>,
    persistent: bool,
}

/// Builds the diesel query for `statement`, binding every parameter in order.
pub(crate) fn query(statement: Statement) -> Result<CoreQuery> {
    let mut inner = diesel::sql_query(statement.sql).into_boxed::<Pg>();
    for param in statement.params {
        inner = match param {
            Param::Int8(v) => inner.bind::<BigInt, i64>(v),
            Param::NullableInt8(v) => inner.bind::<Nullable<BigInt>, Option<i64>>(v),
            Param::Text(v) => inner.bind::<Text, String>(v),
            Param::Timestamptz(v) => inner.bind::<Nullable<Timestamptz>, Option<DateTime<Utc>>>(v),
            Param::Jsonb(v) => inner.bind::<Nullable<Jsonb>, Option<Value>>(v),
            Param::JsonbArray(v) => inner.bind::<Array<Jsonb>, Vec<Value>>(v),
            Param::Int8Array(v) => inner.bind::<Array<BigInt>, Vec<i64>>(v),
            other => {
                return Err(Error::Driver {
                    source: format!("pgmq-diesel cannot bind {other:?}; upgrade pgmq-diesel")
                        .into(),
                })
            }
        };
    }
    Ok(CoreQuery {
        inner,
        persistent: statement.persistent,
    })
}

impl QueryFragment<Pg> for CoreQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.inner.walk_ast(pass)
    }

    // Diesel asks this (a public but doc-hidden hook) before looking in its per-connection
    // statement cache. Without the override every statement would be parsed and planned on
    // every call. Cached statements are keyed by their text and bind types.
    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(self.persistent)
    }
}

impl QueryId for CoreQuery {
    type QueryId = ();

    // No static id: diesel then keys its cache by the SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CoreQuery {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for CoreQuery {}
