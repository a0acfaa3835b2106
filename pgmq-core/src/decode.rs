//! Turning the rows an adapter returns into the crate's types. Every column is read by the
//! name the statement's column list gives it, so a statement and its decoder cannot drift
//! apart unnoticed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{Cell, Column, Row};
use crate::error::{Error, Result};
use crate::listen::Readiness;
use crate::types::{ArchivedMessage, Message, QueueInfo, QueueMetrics};

/// Reads a row's cells in order, checking each one's column name and type.
pub(crate) struct Cells {
    cells: std::vec::IntoIter<Cell>,
    columns: std::slice::Iter<'static, Column>,
}

fn decode_error(reason: String) -> Error {
    Error::Decode {
        reason,
        source: None,
    }
}

impl Cells {
    pub(crate) fn new(row: Row, columns: &'static [Column]) -> Self {
        Self {
            cells: row.into_iter(),
            columns: columns.iter(),
        }
    }

    fn next(&mut self, name: &str) -> Result<Cell> {
        match self.columns.next() {
            Some(c) if c.name == name => {}
            Some(c) => {
                return Err(decode_error(format!(
                    "expected column {name}, the statement returns {} there",
                    c.name
                )))
            }
            None => return Err(decode_error(format!("the statement returns no {name}"))),
        }
        self.cells
            .next()
            .ok_or_else(|| decode_error(format!("row ended before its {name} column")))
    }

    fn mismatch<T>(name: &str, want: &str, got: Cell) -> Result<T> {
        Err(decode_error(format!(
            "{name}: expected {want}, got {got:?}"
        )))
    }

    pub(crate) fn int8(&mut self, name: &str) -> Result<i64> {
        match self.next(name)? {
            Cell::Int8(v) => Ok(v),
            other => Self::mismatch(name, "bigint", other),
        }
    }

    pub(crate) fn int4(&mut self, name: &str) -> Result<i32> {
        match self.next(name)? {
            Cell::Int4(v) => Ok(v),
            other => Self::mismatch(name, "integer", other),
        }
    }

    pub(crate) fn opt_int4(&mut self, name: &str) -> Result<Option<i32>> {
        match self.next(name)? {
            Cell::Int4(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch(name, "integer", other),
        }
    }

    pub(crate) fn opt_int8(&mut self, name: &str) -> Result<Option<i64>> {
        match self.next(name)? {
            Cell::Int8(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch(name, "bigint", other),
        }
    }

    pub(crate) fn opt_text(&mut self, name: &str) -> Result<Option<String>> {
        match self.next(name)? {
            Cell::Text(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch(name, "text", other),
        }
    }

    pub(crate) fn boolean(&mut self, name: &str) -> Result<bool> {
        match self.next(name)? {
            Cell::Bool(v) => Ok(v),
            other => Self::mismatch(name, "boolean", other),
        }
    }

    pub(crate) fn text(&mut self, name: &str) -> Result<String> {
        match self.next(name)? {
            Cell::Text(v) => Ok(v),
            other => Self::mismatch(name, "text", other),
        }
    }

    pub(crate) fn timestamp(&mut self, name: &str) -> Result<DateTime<Utc>> {
        match self.next(name)? {
            Cell::Timestamptz(v) => Ok(v),
            other => Self::mismatch(name, "timestamptz", other),
        }
    }

    pub(crate) fn opt_timestamp(&mut self, name: &str) -> Result<Option<DateTime<Utc>>> {
        match self.next(name)? {
            Cell::Timestamptz(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch(name, "timestamptz", other),
        }
    }

    pub(crate) fn opt_json(&mut self, name: &str) -> Result<Option<Value>> {
        match self.next(name)? {
            Cell::Jsonb(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Self::mismatch(name, "jsonb", other),
        }
    }
}

/// A statement's rows, with the column list they follow.
pub(crate) struct Rows {
    pub(crate) rows: Vec<Row>,
    pub(crate) columns: &'static [Column],
}

impl Rows {
    /// The cells of the one row the statement returns, or a decode error.
    pub(crate) fn single(self) -> Result<Cells> {
        let n = self.rows.len();
        let row = self
            .rows
            .into_iter()
            .next()
            .filter(|_| n == 1)
            .ok_or_else(|| decode_error(format!("expected one row, got {n}")))?;
        Ok(Cells::new(row, self.columns))
    }

    /// Each row's cells.
    pub(crate) fn each(self) -> impl Iterator<Item = Cells> {
        let columns = self.columns;
        self.rows.into_iter().map(move |r| Cells::new(r, columns))
    }
}

/// Reads the message columns ([`sql::MESSAGE`](crate::sql::MESSAGE)) off the front of a row.
fn take_message(c: &mut Cells) -> Result<Message> {
    Ok(Message::new(
        c.int8("msg_id")?,
        c.int4("read_ct")?,
        c.timestamp("enqueued_at")?,
        c.opt_timestamp("last_read_at")?,
        c.timestamp("vt")?,
        c.opt_json("message")?.unwrap_or(Value::Null),
        c.opt_json("headers")?,
    ))
}

/// Message rows, in `msg_id` order.
pub(crate) fn messages(rows: Rows) -> Result<Vec<Message>> {
    let mut out = messages_in_row_order(rows)?;
    out.sort_by_key(|m| m.msg_id);
    Ok(out)
}

/// Message rows, in the statement's order (a peek's is the order a read would claim them).
pub(crate) fn messages_in_row_order(rows: Rows) -> Result<Vec<Message>> {
    rows.each().map(|mut c| take_message(&mut c)).collect()
}

/// Archive rows: the message columns, then `archived_at`.
pub(crate) fn archived(rows: Rows) -> Result<Vec<ArchivedMessage>> {
    rows.each()
        .map(|mut c| {
            let message = take_message(&mut c)?;
            Ok(ArchivedMessage::new(message, c.timestamp("archived_at")?))
        })
        .collect()
}

/// Id rows, ascending.
pub(crate) fn ids(rows: Rows) -> Result<Vec<i64>> {
    let mut ids = rows
        .each()
        .map(|mut c| c.int8("msg_id"))
        .collect::<Result<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Metrics rows, one per queue, in the statement's order.
pub(crate) fn metrics(rows: Rows) -> Result<Vec<QueueMetrics>> {
    rows.each()
        .map(|mut c| {
            let mut m = QueueMetrics::new(
                c.text("queue_name")?,
                c.int8("queue_length")?,
                c.int8("queue_visible_length")?,
                c.opt_int4("newest_msg_age_sec")?,
                c.opt_int4("oldest_msg_age_sec")?,
                c.int8("total_messages")?,
                c.timestamp("scrape_time")?,
            )
            .with_counts(
                c.int8("queue_in_flight_length")?,
                c.int8("queue_delayed_length")?,
            )
            .with_oldest_visible_age(c.opt_int4("oldest_visible_msg_age_sec")?);
            // Set field by field: a dead-letter queue whose table is gone has no length.
            m.dead_letter_queue = c.opt_text("dead_letter_queue")?;
            m.dead_letter_queue_length = c.opt_int8("dead_letter_queue_length")?;
            Ok(m)
        })
        .collect()
}

pub(crate) fn queue_infos(rows: Rows) -> Result<Vec<QueueInfo>> {
    rows.each()
        .map(|mut c| {
            Ok(QueueInfo::new(
                c.text("queue_name")?,
                c.timestamp("created_at")?,
                c.boolean("is_partitioned")?,
                c.boolean("is_unlogged")?,
            ))
        })
        .collect()
}

/// The one row of [`sql::readiness`](crate::sql::readiness).
pub(crate) fn readiness(rows: Rows) -> Result<Readiness> {
    let mut c = rows.single()?;
    let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    Ok(Readiness {
        next_visible: c.opt_int8("next_visible_ms")?.map(millis),
        notifies: c.boolean("notifies")?,
        throttle: c
            .opt_int4("throttle_ms")?
            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        throttle_window: c.opt_int8("window_ms")?.map(millis),
        suppressed_in_flight: c.boolean("suppressed")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::SqlType;
    use crate::sql;

    static SWAPPED: &[Column] = &[
        Column::new("read_ct", SqlType::Int4),
        Column::new("msg_id", SqlType::Int8),
    ];

    #[test]
    fn a_column_out_of_place_is_a_decode_error_not_a_wrong_value() {
        let row = vec![Cell::Int4(1), Cell::Int8(7)];
        let rows = Rows {
            rows: vec![row],
            columns: SWAPPED,
        };
        let err = ids(rows).expect_err("columns swapped");
        assert!(
            matches!(&err, Error::Decode { reason, .. } if reason.contains("expected column msg_id")),
            "{err:?}"
        );
    }

    #[test]
    fn a_message_row_decodes_by_the_message_column_list() {
        let now = Utc::now();
        let row = vec![
            Cell::Int8(7),
            Cell::Int4(2),
            Cell::Timestamptz(now),
            Cell::Null,
            Cell::Timestamptz(now),
            Cell::Jsonb(Value::Bool(true)),
            Cell::Null,
        ];
        let rows = Rows {
            rows: vec![row],
            columns: sql::MESSAGE,
        };
        let got = messages(rows).expect("decodes");
        assert_eq!((got[0].msg_id, got[0].read_ct), (7, 2));
        assert_eq!(got[0].message, Value::Bool(true));
        assert_eq!(got[0].last_read_at, None);
    }
}
