//! sqlx rows into core's cells.

use chrono::{DateTime, Utc};
use pgmq_core::adapter::{Cell, Column, Row, SqlType};
use pgmq_core::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

/// Decodes column `i` of `row` as `ty`.
fn cell(row: &PgRow, i: usize, ty: SqlType) -> Result<Cell> {
    fn get<'r, T>(row: &'r PgRow, i: usize) -> Result<Option<T>>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        row.try_get::<Option<T>, _>(i).map_err(|e| Error::Decode {
            reason: format!("column {i}"),
            source: Some(Box::new(e)),
        })
    }
    let value = match ty {
        SqlType::Bool => get::<bool>(row, i)?.map(Cell::Bool),
        SqlType::Int4 => get::<i32>(row, i)?.map(Cell::Int4),
        SqlType::Int8 => get::<i64>(row, i)?.map(Cell::Int8),
        SqlType::Text => get::<String>(row, i)?.map(Cell::Text),
        SqlType::Timestamptz => get::<DateTime<Utc>>(row, i)?.map(Cell::Timestamptz),
        SqlType::Jsonb => get::<serde_json::Value>(row, i)?.map(Cell::Jsonb),
        other => {
            return Err(Error::Decode {
                reason: format!("pgmq-sqlx cannot decode {other:?}; upgrade pgmq-sqlx"),
                source: None,
            })
        }
    };
    Ok(value.unwrap_or(Cell::Null))
}

/// Decodes every row by the statement's column types.
pub(crate) fn rows(rows: Vec<PgRow>, columns: &[Column]) -> Result<Vec<Row>> {
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .enumerate()
                .map(|(i, column)| cell(row, i, column.ty))
                .collect()
        })
        .collect()
}
