//! Core's parameters as tokio-postgres values.

use pgmq_core::adapter::Param;
use pgmq_core::{Error, Result};
use tokio_postgres::types::{ToSql, Type};

/// A value ready to bind, with the Postgres type it is sent as.
pub(crate) type Bound = (Box<dyn ToSql + Sync + Send>, Type);

/// Converts every parameter, `$1` first.
pub(crate) fn params(params: Vec<Param>) -> Result<Vec<Bound>> {
    params.into_iter().map(param).collect()
}

fn param(param: Param) -> Result<Bound> {
    Ok(match param {
        Param::Int8(v) => (Box::new(v), Type::INT8),
        Param::NullableInt8(v) => (Box::new(v), Type::INT8),
        Param::Text(v) => (Box::new(v), Type::TEXT),
        Param::Timestamptz(v) => (Box::new(v), Type::TIMESTAMPTZ),
        Param::Jsonb(v) => (Box::new(v), Type::JSONB),
        Param::JsonbArray(v) => (Box::new(v), Type::JSONB_ARRAY),
        Param::Int8Array(v) => (Box::new(v), Type::INT8_ARRAY),
        other => {
            return Err(Error::Driver {
                source: format!(
                    "pgmq-tokio-postgres cannot bind {other:?}; upgrade pgmq-tokio-postgres"
                )
                .into(),
            })
        }
    })
}
