//! Core's parameters onto an sqlx query.

use pgmq_core::adapter::{Param, Statement};
use pgmq_core::{Error, Result};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::AssertSqlSafe;

/// Builds the sqlx query for `statement`, binding every parameter in order.
pub(crate) fn query(statement: Statement) -> Result<Query<'static, Postgres, PgArguments>> {
    let mut query = sqlx::query(AssertSqlSafe(statement.sql)).persistent(statement.persistent);
    for param in statement.params {
        query = match param {
            Param::Int8(v) => query.bind(v),
            Param::NullableInt8(v) => query.bind(v),
            Param::Text(v) => query.bind(v),
            Param::Timestamptz(v) => query.bind(v),
            Param::Jsonb(v) => query.bind(v),
            Param::JsonbArray(v) => query.bind(v),
            Param::Int8Array(v) => query.bind(v),
            other => {
                return Err(Error::Driver {
                    source: format!("pgmq-sqlx cannot bind {other:?}; upgrade pgmq-sqlx").into(),
                })
            }
        };
    }
    Ok(query)
}
