//! What core hands an adapter: a [`Statement`] to run, and the [`Cell`]s it expects back.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};

/// One SQL statement built by core: its text, its bind parameters and the columns it returns.
///
/// Adapters bind [`params`](Self::params) in order as `$1, $2, …`, run
/// [`sql`](Self::sql), and decode each result column by its [`SqlType`] into a [`Cell`].
/// Every parameter placeholder in the text carries a cast, so the server can infer its type
/// when preparing.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// Bind parameters, `$1` first.
    pub params: Vec<Param>,
    /// The result columns, in order; empty for a statement whose rows are not read.
    pub columns: &'static [SqlType],
    /// Whether the driver should prepare and cache this statement on its connection.
    /// `false` for one-off DDL.
    pub persistent: bool,
}

impl Statement {
    pub(crate) fn new(sql: String, columns: &'static [SqlType]) -> Self {
        Self {
            sql,
            params: Vec::new(),
            columns,
            persistent: true,
        }
    }

    pub(crate) fn bind(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }

    pub(crate) fn one_off(mut self) -> Self {
        self.persistent = false;
        self
    }
}

/// A bind parameter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Param {
    /// `bigint`
    Int8(i64),
    /// `text`
    Text(String),
    /// `timestamptz`, possibly `NULL`
    Timestamptz(Option<DateTime<Utc>>),
    /// `jsonb`, possibly `NULL`
    Jsonb(Option<Value>),
    /// `jsonb[]`
    JsonbArray(Vec<Value>),
    /// `bigint[]`
    Int8Array(Vec<i64>),
}

/// The Postgres type of a result column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// `boolean`
    Bool,
    /// `integer`
    Int4,
    /// `bigint`
    Int8,
    /// `text`
    Text,
    /// `timestamptz`
    Timestamptz,
    /// `jsonb`
    Jsonb,
}

/// One decoded result value. Any column may be `NULL`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Cell {
    /// SQL `NULL`
    Null,
    /// `boolean`
    Bool(bool),
    /// `integer`
    Int4(i32),
    /// `bigint`
    Int8(i64),
    /// `text`
    Text(String),
    /// `timestamptz`
    Timestamptz(DateTime<Utc>),
    /// `jsonb`
    Jsonb(Value),
}

/// One result row: a cell per column of [`Statement::columns`].
pub type Row = Vec<Cell>;

/// Reads cells off a row in order, checking each against the type core expects.
pub(crate) struct Cells(std::vec::IntoIter<Cell>);

impl Cells {
    pub(crate) fn new(row: Row) -> Self {
        Self(row.into_iter())
    }

    fn next(&mut self, want: &str) -> Result<Cell> {
        self.0.next().ok_or_else(|| Error::Decode {
            reason: format!("row ended before its {want} column"),
            source: None,
        })
    }

    fn mismatch<T>(want: &str, got: Cell) -> Result<T> {
        Err(Error::Decode {
            reason: format!("expected {want}, got {got:?}"),
            source: None,
        })
    }

    pub(crate) fn int8(&mut self) -> Result<i64> {
        match self.next("bigint")? {
            Cell::Int8(v) => Ok(v),
            other => Self::mismatch("bigint", other),
        }
    }

    pub(crate) fn int4(&mut self) -> Result<i32> {
        match self.next("integer")? {
            Cell::Int4(v) => Ok(v),
            other => Self::mismatch("integer", other),
        }
    }

    pub(crate) fn opt_int4(&mut self) -> Result<Option<i32>> {
        match self.next("integer")? {
            Cell::Int4(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch("integer", other),
        }
    }

    pub(crate) fn boolean(&mut self) -> Result<bool> {
        match self.next("boolean")? {
            Cell::Bool(v) => Ok(v),
            other => Self::mismatch("boolean", other),
        }
    }

    pub(crate) fn text(&mut self) -> Result<String> {
        match self.next("text")? {
            Cell::Text(v) => Ok(v),
            other => Self::mismatch("text", other),
        }
    }

    pub(crate) fn timestamp(&mut self) -> Result<DateTime<Utc>> {
        match self.next("timestamptz")? {
            Cell::Timestamptz(v) => Ok(v),
            other => Self::mismatch("timestamptz", other),
        }
    }

    pub(crate) fn opt_timestamp(&mut self) -> Result<Option<DateTime<Utc>>> {
        match self.next("timestamptz")? {
            Cell::Timestamptz(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch("timestamptz", other),
        }
    }

    pub(crate) fn opt_json(&mut self) -> Result<Option<Value>> {
        match self.next("jsonb")? {
            Cell::Jsonb(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch("jsonb", other),
        }
    }
}
