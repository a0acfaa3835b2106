//! diesel rows into core's cells.

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::pg::{Pg, PgValue};
use diesel::row::{Field, NamedRow};
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Text, Timestamptz};
use pgmq_core::adapter::{Cell, Column, Row, SqlType};
use pgmq_core::{Error, Result};

/// Type OIDs of the column types core's statements return.
mod oid {
    pub(super) const BOOL: u32 = 16;
    pub(super) const INT8: u32 = 20;
    pub(super) const INT4: u32 = 23;
    pub(super) const TEXT: u32 = 25;
    pub(super) const VARCHAR: u32 = 1043;
    pub(super) const TIMESTAMPTZ: u32 = 1184;
    pub(super) const JSONB: u32 = 3802;
}

/// A result row of any shape. `sql_query` results are read by name into a
/// [`QueryableByName`] type; this one instead takes every column in order and decodes it by
/// the type Postgres reports, because the shape is only known at run time (from
/// [`Statement::columns`](pgmq_core::Statement::columns)).
pub(crate) struct AnyRow(Vec<Cell>);

impl QueryableByName<Pg> for AnyRow {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        (0..row.field_count())
            .map(|i| {
                let field = diesel::row::Row::get(row, i).ok_or("column vanished")?;
                field.value().map_or(Ok(Cell::Null), cell)
            })
            .collect::<deserialize::Result<_>>()
            .map(Self)
    }
}

fn cell(value: PgValue<'_>) -> deserialize::Result<Cell> {
    Ok(match value.get_oid().get() {
        oid::BOOL => Cell::Bool(<bool as FromSql<Bool, Pg>>::from_sql(value)?),
        oid::INT4 => Cell::Int4(<i32 as FromSql<Integer, Pg>>::from_sql(value)?),
        oid::INT8 => Cell::Int8(<i64 as FromSql<BigInt, Pg>>::from_sql(value)?),
        oid::TEXT | oid::VARCHAR => Cell::Text(<String as FromSql<Text, Pg>>::from_sql(value)?),
        oid::TIMESTAMPTZ => Cell::Timestamptz(
            <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(value)?,
        ),
        oid::JSONB => Cell::Jsonb(<serde_json::Value as FromSql<Jsonb, Pg>>::from_sql(value)?),
        other => return Err(format!("unsupported column type (type oid {other})").into()),
    })
}

/// Whether `cell` may stand in a column of type `ty`.
fn fits(ty: SqlType, cell: &Cell) -> Result<bool> {
    Ok(match ty {
        SqlType::Bool => matches!(cell, Cell::Null | Cell::Bool(_)),
        SqlType::Int4 => matches!(cell, Cell::Null | Cell::Int4(_)),
        SqlType::Int8 => matches!(cell, Cell::Null | Cell::Int8(_)),
        SqlType::Text => matches!(cell, Cell::Null | Cell::Text(_)),
        SqlType::Timestamptz => matches!(cell, Cell::Null | Cell::Timestamptz(_)),
        SqlType::Jsonb => matches!(cell, Cell::Null | Cell::Jsonb(_)),
        other => {
            return Err(Error::Decode {
                reason: format!("pgmq-diesel cannot decode {other:?}; upgrade pgmq-diesel"),
                source: None,
            })
        }
    })
}

/// Checks every row against the statement's column types and hands back its cells.
pub(crate) fn rows(rows: Vec<AnyRow>, columns: &[Column]) -> Result<Vec<Row>> {
    rows.into_iter()
        .map(|AnyRow(cells)| {
            if cells.len() != columns.len() {
                return Err(Error::Decode {
                    reason: format!("expected {} columns, got {}", columns.len(), cells.len()),
                    source: None,
                });
            }
            for (column, cell) in columns.iter().zip(&cells) {
                if !fits(column.ty, cell)? {
                    return Err(Error::Decode {
                        reason: format!(
                            "column {}: expected {:?}, got {cell:?}",
                            column.name, column.ty
                        ),
                        source: None,
                    });
                }
            }
            Ok(cells)
        })
        .collect()
}
