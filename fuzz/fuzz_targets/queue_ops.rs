//! `Queue` operations with arbitrary option values (durations, instants, quantities, id and
//! receipt lists, attributes, headers, filters, redrive options) on a mock `Executor` that
//! records every statement and answers with arbitrary rows (of the right column types, as
//! the adapter contract says) or database errors.
//!
//! Invariants:
//! - no operation panics or waits on anything but the executor;
//! - options a reference check finds invalid (durations past `MAX_DELAY`/`MAX_RETENTION`,
//!   quantities and lists outside `1..=MAX_BATCH`, a throttle past `i32::MAX` ms, a message
//!   or headers holding U+0000 or nested more than 127 levels, bad attributes, a zero
//!   redrive chunk or rate) are rejected with `InvalidArgument`/`InvalidMessage` before any
//!   statement runs; empty lists run nothing;
//! - otherwise the first statements run are exactly what the builder makes from the
//!   options converted by hand (milliseconds, instants, counts), so every option value
//!   reaches SQL as the parameter it should be;
//! - every statement run, including those built from the mock's answers (dead-letter
//!   queues, redrive sources), passes the placeholder and identifier checks.

#![no_main]

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arbitrary::Arbitrary;
use async_trait::async_trait;
use libfuzzer_sys::fuzz_target;
use pgmq_core::adapter::{Cell, Column, Executor, Row, SqlType, Statement};
use pgmq_core::chrono::{DateTime, Utc};
use pgmq_core::serde_json::Value;
use pgmq_core::sql::{self, StoredAttributes};
use pgmq_core::{
    CreateOptions, Error, Queue, QueueAttributes, QueueName, ReadOptions, Receipt, RedriveOptions,
    Result, SendOptions, VisibleAt, MAX_BATCH, MAX_DELAY, MAX_RETENTION,
};
use pgmq_fuzz::{check_statement, instant, Json, NameInput};

// ---------------------------------------------------------------------------------------
// Inputs

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Span {
    Millis(u32),
    Secs(u32),
    Any(u64, u32),
}

impl Span {
    fn duration(self) -> Duration {
        match self {
            Self::Millis(ms) => Duration::from_millis(u64::from(ms)),
            Self::Secs(s) => Duration::from_secs(u64::from(s)),
            Self::Any(secs, nanos) => Duration::new(secs, nanos % 1_000_000_000),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum When {
    After(Span),
    At(i64, u32),
}

impl When {
    fn visible_at(self) -> VisibleAt {
        match self {
            Self::After(span) => VisibleAt::After(span.duration()),
            Self::At(secs, nanos) => {
                VisibleAt::At(instant(Some((secs, nanos))).unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Attrs {
    default_vt: Option<Span>,
    default_delay: Option<Span>,
    max_message_bytes: Option<u64>,
    archive_retention: Option<Span>,
    dead_letter: Option<(NameInput, u32)>,
}

#[derive(Arbitrary, Debug)]
enum Call {
    Install,
    ListQueues,
    MetricsAll,
    Create {
        q: NameInput,
        unlogged: bool,
        notify: Option<Span>,
        attributes: Option<Attrs>,
    },
    DropQueue {
        q: NameInput,
    },
    Purge {
        q: NameInput,
    },
    Metrics {
        q: NameInput,
    },
    Attributes {
        q: NameInput,
    },
    TrimArchive {
        q: NameInput,
    },
    DisableNotify {
        q: NameInput,
    },
    Readiness {
        q: NameInput,
    },
    Send {
        q: NameInput,
        message: Json,
        delay: Option<When>,
        headers: Option<Json>,
    },
    SendBatch {
        q: NameInput,
        messages: Vec<Json>,
        over_limit: bool,
        delay: Option<When>,
        headers: Option<Json>,
    },
    Read {
        q: NameInput,
        vt: Option<Span>,
        qty: u16,
        filter: Option<Json>,
    },
    Pop {
        q: NameInput,
        qty: u16,
    },
    Peek {
        q: NameInput,
        qty: u16,
    },
    SetVt {
        q: NameInput,
        ids: Vec<i64>,
        over_limit: bool,
        vt: When,
    },
    Delete {
        q: NameInput,
        ids: Vec<i64>,
        over_limit: bool,
    },
    Archive {
        q: NameInput,
        ids: Vec<i64>,
        over_limit: bool,
    },
    ReadArchive {
        q: NameInput,
        ids: Vec<i64>,
        over_limit: bool,
    },
    DeleteReceipts {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
        over_limit: bool,
    },
    ArchiveReceipts {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
        over_limit: bool,
    },
    SetVtReceipts {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
        over_limit: bool,
        vt: When,
    },
    SetAttributes {
        q: NameInput,
        attributes: Attrs,
    },
    Redrive {
        dlq: NameInput,
        to: Option<NameInput>,
        max: Option<u64>,
        per_second: Option<u32>,
        chunk: u16,
    },
    EnableNotify {
        q: NameInput,
        throttle: Span,
    },
}

/// What the mock answers to one statement.
#[derive(Arbitrary, Debug)]
enum Answer {
    Rows(Vec<Vec<CellInput>>),
    Fail(Failure),
}

#[derive(Arbitrary, Debug)]
enum Failure {
    UndefinedTable,
    UndefinedFunction,
    Serialization,
    Other,
}

#[derive(Arbitrary, Debug)]
enum CellInput {
    Null,
    Bool(bool),
    Int(i64),
    Text(NameInput),
    Time(i64, u32),
    Json(Json),
}

#[derive(Arbitrary, Debug)]
struct Input {
    call: Call,
    answers: Vec<Answer>,
}

// ---------------------------------------------------------------------------------------
// The mock executor

/// Answers from the input, then empty results; records every call.
struct Mock {
    answers: Mutex<VecDeque<Answer>>,
    calls: Mutex<Vec<Vec<Statement>>>,
}

impl Mock {
    fn answer(&self, columns: &[Column]) -> Result<Vec<Row>> {
        let answer = self.answers.lock().expect("no panics").pop_front();
        match answer {
            None => Ok(Vec::new()),
            Some(Answer::Fail(f)) => {
                let code = match f {
                    Failure::UndefinedTable => "42P01",
                    Failure::UndefinedFunction => "42883",
                    Failure::Serialization => "40001",
                    Failure::Other => "XX000",
                };
                Err(Error::from_database(code, "mock failure"))
            }
            Some(Answer::Rows(rows)) => Ok(rows
                .iter()
                .map(|row| {
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| row.get(i).map_or(Cell::Null, |cell| typed(cell, c.ty)))
                        .collect()
                })
                .collect()),
        }
    }
}

/// A cell of the column's type (an adapter decodes by type), or `NULL`.
fn typed(cell: &CellInput, ty: SqlType) -> Cell {
    match (cell, ty) {
        (CellInput::Bool(b), SqlType::Bool) => Cell::Bool(*b),
        (CellInput::Int(i), SqlType::Int8) => Cell::Int8(*i),
        (CellInput::Int(i), SqlType::Int4) => Cell::Int4(*i as i32),
        (CellInput::Text(t), SqlType::Text) => Cell::Text(t.text()),
        (CellInput::Time(s, n), SqlType::Timestamptz) => {
            instant(Some((*s, *n))).map_or(Cell::Null, Cell::Timestamptz)
        }
        (CellInput::Json(j), SqlType::Jsonb) => Cell::Jsonb(j.value()),
        _ => Cell::Null,
    }
}

#[async_trait]
impl Executor for Mock {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>> {
        let rows = self.answer(statement.columns);
        self.calls.lock().expect("no panics").push(vec![statement]);
        rows
    }

    async fn query_atomic(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let answers: Result<Vec<_>> = statements.iter().map(|s| self.answer(s.columns)).collect();
        self.calls.lock().expect("no panics").push(statements);
        answers
    }

    async fn sleep(&self, _: Duration) {}
}

/// Runs `f` to completion: the mock never waits, so neither may the operation.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the operation waited on something other than the executor"),
    }
}

// ---------------------------------------------------------------------------------------
// The reference: what must be rejected, and what must run first

enum Expect {
    /// Rejected before any statement.
    Invalid,
    /// Nothing to do: `Ok` without a statement.
    Nothing,
    /// The first executor call runs exactly these.
    First(Vec<Statement>),
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).expect("checked against a limit first")
}

/// How deep arrays and objects may nest in a message or headers: serde_json, which every
/// adapter reads `jsonb` back with, refuses 128 levels.
const MAX_DEPTH: usize = 127;

/// What `jsonb` can store and a read can decode: no U+0000 in a string or key, and at most
/// [`MAX_DEPTH`] levels of nesting.
fn storable(v: &Value) -> bool {
    fn at(v: &Value, depth: usize) -> bool {
        match v {
            Value::String(s) => !s.contains('\0'),
            Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => false,
            Value::Array(items) => items.iter().all(|v| at(v, depth + 1)),
            Value::Object(map) => map
                .iter()
                .all(|(k, v)| !k.contains('\0') && at(v, depth + 1)),
            _ => true,
        }
    }
    at(v, 0)
}

fn qty_ok(qty: usize) -> bool {
    (1..=MAX_BATCH).contains(&qty)
}

/// `(ms, at)` of a visibility, if within the limit.
fn visible(vt: VisibleAt) -> Option<(i64, Option<DateTime<Utc>>)> {
    match vt {
        VisibleAt::After(d) if d <= MAX_DELAY => Some((millis(d), None)),
        VisibleAt::After(_) => None,
        VisibleAt::At(t) => Some((0, Some(t))),
    }
}

/// A send's `(ms, at)`, if within the limit.
fn delay(d: Option<VisibleAt>) -> Option<(Option<i64>, Option<DateTime<Utc>>)> {
    match d {
        None => Some((None, None)),
        Some(VisibleAt::After(d)) if d <= MAX_DELAY => Some((Some(millis(d)), None)),
        Some(VisibleAt::After(_)) => None,
        Some(VisibleAt::At(t)) => Some((None, Some(t))),
    }
}

fn throttle(d: Duration) -> Option<i32> {
    i32::try_from(d.as_millis()).ok()
}

/// The attributes to set and what they are stored as, if valid; `Err` for an invalid
/// dead-letter queue name (nothing to call then).
fn attributes(
    q: &QueueName,
    a: &Attrs,
) -> std::result::Result<(QueueAttributes, Option<StoredAttributes>), ()> {
    let mut attrs = QueueAttributes::new();
    let dur = |s: Option<Span>| s.map(Span::duration);
    let (vt, delay, retention) = (
        dur(a.default_vt),
        dur(a.default_delay),
        dur(a.archive_retention),
    );
    if let Some(d) = vt {
        attrs = attrs.default_vt(d);
    }
    if let Some(d) = delay {
        attrs = attrs.default_delay(d);
    }
    if let Some(d) = retention {
        attrs = attrs.archive_retention(d);
    }
    if let Some(n) = a.max_message_bytes {
        attrs = attrs.max_message_bytes(n);
    }
    let mut dead_letter = None;
    if let Some((name, count)) = &a.dead_letter {
        let dlq = QueueName::new(name.text()).map_err(drop)?;
        attrs = attrs.dead_letter(dlq.clone(), *count);
        dead_letter = Some((dlq, *count));
    }
    let valid = vt.is_none_or(|d| d <= MAX_DELAY)
        && delay.is_none_or(|d| d <= MAX_DELAY)
        && retention.is_none_or(|d| d <= MAX_RETENTION)
        && a.max_message_bytes
            .is_none_or(|n| n > 0 && i64::try_from(n).is_ok())
        && dead_letter
            .as_ref()
            .is_none_or(|(dlq, count)| *count > 0 && dlq != q);
    let stored = valid.then(|| StoredAttributes {
        default_vt_ms: vt.map(millis),
        default_delay_ms: delay.map(millis),
        max_message_bytes: a.max_message_bytes.map(|n| n as i64),
        archive_retention_ms: retention.map(millis),
        dead_letter: dead_letter.map(|(dlq, count)| (i64::from(count), dlq)),
    });
    Ok((attrs, stored))
}

/// `items`, or more than [`MAX_BATCH`] of them when `over_limit`.
fn sized<T: Clone>(mut items: Vec<T>, over_limit: bool, filler: T) -> Vec<T> {
    if over_limit {
        items.resize(MAX_BATCH + 1 + items.len() % 3, filler);
    }
    items
}

fn first(st: Statement) -> Expect {
    Expect::First(vec![st])
}

/// The expectation for a list operation: too long, empty, or `build`'s statement.
fn list<T>(items: &[T], build: impl FnOnce() -> Statement) -> Expect {
    if items.len() > MAX_BATCH {
        Expect::Invalid
    } else if items.is_empty() {
        Expect::Nothing
    } else {
        first(build())
    }
}

/// The receipts a fenced statement binds: a receipt with `read_ct` below 1 proves no read,
/// so it is answered stale without being bound.
fn from_reads(r: &[Receipt]) -> Vec<Receipt> {
    r.iter().copied().filter(|r| r.read_ct > 0).collect()
}

fn receipts(r: &[(i64, i32)], over_limit: bool) -> Vec<Receipt> {
    let r = r.iter().map(|&(id, ct)| Receipt::new(id, ct)).collect();
    sized(r, over_limit, Receipt::new(0, 0))
}

/// Runs the call on `mock`; returns its outcome and what the reference expects. `None`: a
/// name was rejected, so there is nothing to call.
fn run(call: &Call, mock: &Mock) -> Option<(Result<()>, Expect)> {
    let name = |n: &NameInput| QueueName::new(n.text()).ok();
    Some(match call {
        Call::Install => (block_on(mock.install()), first(sql::install())),
        Call::ListQueues => (
            block_on(mock.list_queues()).map(drop),
            first(sql::list_queues()),
        ),
        Call::MetricsAll => (
            block_on(mock.metrics_all()).map(drop),
            first(sql::metrics_all()),
        ),
        Call::Create {
            q,
            unlogged,
            notify,
            attributes: attrs,
        } => {
            let q = name(q)?;
            let mut options = match notify {
                Some(span) => CreateOptions::new().notify_insert(span.duration()),
                None => CreateOptions::new().without_notify_insert(),
            };
            options.unlogged = *unlogged;
            // Storage parameters are pinned by core's own tests; this target checks the rest.
            options = options.without_storage_tuning();
            let ms = notify.map(|s| throttle(s.duration()));
            let stored = match attrs {
                Some(a) => {
                    let (attrs, stored) = attributes(&q, a).ok()?;
                    options = options.attributes(attrs);
                    Some(stored)
                }
                None => None,
            };
            let expect = match (ms, stored) {
                (Some(None), _) | (_, Some(None)) => Expect::Invalid,
                (ms, stored) => {
                    let mut sts = vec![sql::create(&q, *unlogged, ms.flatten(), false, None)];
                    if let Some(Some(values)) = stored {
                        sts.extend(sql::set_attributes(&q, values));
                    }
                    Expect::First(sts)
                }
            };
            (block_on(mock.create(&q, options)), expect)
        }
        Call::DropQueue { q } => {
            let q = name(q)?;
            let sql::DropQueue { lock, exists, drop } = sql::drop_queue(&q);
            (
                block_on(mock.drop_queue(&q)).map(|_| ()),
                Expect::First(vec![lock, exists, drop]),
            )
        }
        Call::Purge { q } => {
            let q = name(q)?;
            (block_on(mock.purge(&q)).map(drop), first(sql::purge(&q)))
        }
        Call::Metrics { q } => {
            let q = name(q)?;
            (
                block_on(mock.metrics(&q)).map(drop),
                first(sql::metrics(&q)),
            )
        }
        Call::Attributes { q } => {
            let q = name(q)?;
            (
                block_on(mock.attributes(&q)).map(drop),
                first(sql::attributes(&q)),
            )
        }
        Call::TrimArchive { q } => {
            let q = name(q)?;
            (
                block_on(mock.trim_archive(&q)).map(drop),
                first(sql::attributes(&q)),
            )
        }
        Call::DisableNotify { q } => {
            let q = name(q)?;
            (
                block_on(mock.disable_notify_insert(&q)),
                first(sql::disable_notify(&q)),
            )
        }
        Call::Readiness { q } => {
            let q = name(q)?;
            (
                block_on(mock.readiness(&q)).map(drop),
                first(sql::readiness(&q)),
            )
        }
        Call::Send {
            q,
            message,
            delay: d,
            headers,
        } => {
            let q = name(q)?;
            let (message, headers) = (message.value(), headers.as_ref().map(Json::value));
            let d = d.map(When::visible_at);
            let mut options = SendOptions::new();
            if let Some(d) = d {
                options = options.delay(d);
            }
            if let Some(h) = &headers {
                options = options.headers(h.clone());
            }
            let headers_ok = headers.as_ref().is_none_or(storable);
            let expect = match delay(d) {
                Some(params) if storable(&message) && headers_ok => {
                    first(sql::send(&q, message.clone(), params, headers))
                }
                _ => Expect::Invalid,
            };
            (
                block_on(mock.send_json(&q, message, options)).map(drop),
                expect,
            )
        }
        Call::SendBatch {
            q,
            messages,
            over_limit,
            delay: d,
            headers,
        } => {
            let q = name(q)?;
            let messages = sized(
                messages.iter().map(Json::value).collect(),
                *over_limit,
                Value::Null,
            );
            let headers = headers.as_ref().map(Json::value);
            let d = d.map(When::visible_at);
            let mut options = SendOptions::new();
            if let Some(d) = d {
                options = options.delay(d);
            }
            if let Some(h) = &headers {
                options = options.headers(h.clone());
            }
            let headers_ok = headers.as_ref().is_none_or(storable);
            let expect = match delay(d) {
                None => Expect::Invalid,
                Some(_) if !headers_ok => Expect::Invalid,
                Some(_) if messages.len() > MAX_BATCH => Expect::Invalid,
                Some(_) if messages.is_empty() => Expect::Nothing,
                Some(_) if !messages.iter().all(storable) => Expect::Invalid,
                Some(params) => first(sql::send_batch(&q, messages.clone(), params, headers)),
            };
            (
                block_on(mock.send_batch_json(&q, messages, options)).map(drop),
                expect,
            )
        }
        Call::Read { q, vt, qty, filter } => {
            let q = name(q)?;
            let vt = vt.map(Span::duration);
            let qty = usize::from(*qty);
            let filter = filter.as_ref().map(Json::value);
            let mut options = ReadOptions::new().qty(qty);
            if let Some(vt) = vt {
                options = options.vt(vt);
            }
            options.filter = filter.clone();
            let expect = if vt.is_some_and(|d| d > MAX_DELAY) || !qty_ok(qty) {
                Expect::Invalid
            } else {
                first(sql::read(&q, vt.map(millis), qty as i64, filter))
            };
            (block_on(mock.read_json(&q, options)).map(drop), expect)
        }
        Call::Pop { q, qty } => {
            let q = name(q)?;
            let qty = usize::from(*qty);
            let expect = if qty_ok(qty) {
                first(sql::pop(&q, qty as i64))
            } else {
                Expect::Invalid
            };
            (block_on(mock.pop_json(&q, qty)).map(drop), expect)
        }
        Call::Peek { q, qty } => {
            let q = name(q)?;
            let qty = usize::from(*qty);
            let expect = if qty_ok(qty) {
                first(sql::peek(&q, qty as i64))
            } else {
                Expect::Invalid
            };
            (block_on(mock.peek(&q, qty)).map(drop), expect)
        }
        Call::SetVt {
            q,
            ids,
            over_limit,
            vt,
        } => {
            let q = name(q)?;
            let ids = sized(ids.clone(), *over_limit, 0);
            let vt = vt.visible_at();
            let expect = match visible(vt) {
                None => Expect::Invalid,
                Some(params) => list(&ids, || sql::set_vt(&q, ids.clone(), params)),
            };
            (block_on(mock.set_vt_batch(&q, &ids, vt)).map(drop), expect)
        }
        Call::Delete { q, ids, over_limit } => {
            let q = name(q)?;
            let ids = sized(ids.clone(), *over_limit, 0);
            let expect = list(&ids, || sql::delete(&q, ids.clone()));
            (block_on(mock.delete_batch(&q, &ids)).map(drop), expect)
        }
        Call::Archive { q, ids, over_limit } => {
            let q = name(q)?;
            let ids = sized(ids.clone(), *over_limit, 0);
            let expect = list(&ids, || sql::archive(&q, ids.clone()));
            (block_on(mock.archive_batch(&q, &ids)).map(drop), expect)
        }
        Call::ReadArchive { q, ids, over_limit } => {
            let q = name(q)?;
            let ids = sized(ids.clone(), *over_limit, 0);
            let expect = list(&ids, || sql::read_archive(&q, ids.clone()));
            (block_on(mock.read_archive(&q, &ids)).map(drop), expect)
        }
        Call::DeleteReceipts {
            q,
            receipts: r,
            over_limit,
        } => {
            let q = name(q)?;
            let r = receipts(r, *over_limit);
            let expect = list(&r, || sql::delete_fenced(&q, from_reads(&r)));
            (block_on(mock.delete_receipts(&q, &r)).map(drop), expect)
        }
        Call::ArchiveReceipts {
            q,
            receipts: r,
            over_limit,
        } => {
            let q = name(q)?;
            let r = receipts(r, *over_limit);
            let expect = list(&r, || sql::archive_fenced(&q, from_reads(&r)));
            (block_on(mock.archive_receipts(&q, &r)).map(drop), expect)
        }
        Call::SetVtReceipts {
            q,
            receipts: r,
            over_limit,
            vt,
        } => {
            let q = name(q)?;
            let r = receipts(r, *over_limit);
            let vt = vt.visible_at();
            let expect = match visible(vt) {
                None => Expect::Invalid,
                Some(params) => list(&r, || sql::set_vt_fenced(&q, from_reads(&r), params)),
            };
            (block_on(mock.set_vt_receipts(&q, &r, vt)).map(drop), expect)
        }
        Call::SetAttributes { q, attributes: a } => {
            let q = name(q)?;
            let (attrs, stored) = attributes(&q, a).ok()?;
            let expect = match stored {
                None => Expect::Invalid,
                Some(values) => Expect::First(sql::set_attributes(&q, values).to_vec()),
            };
            (block_on(mock.set_attributes(&q, attrs)), expect)
        }
        Call::Redrive {
            dlq,
            to,
            max,
            per_second,
            chunk,
        } => {
            let dlq = name(dlq)?;
            let mut options = RedriveOptions::new().chunk(usize::from(*chunk));
            if let Some(to) = to {
                options = options.to(name(to)?);
            }
            if let Some(max) = max {
                options = options.max(*max);
            }
            if let Some(rate) = per_second {
                options = options.per_second(*rate);
            }
            let expect = if !qty_ok(usize::from(*chunk)) || *per_second == Some(0) {
                Expect::Invalid
            } else {
                first(sql::oldest_source(&dlq))
            };
            (block_on(mock.redrive(&dlq, options)).map(drop), expect)
        }
        Call::EnableNotify { q, throttle: t } => {
            let q = name(q)?;
            let expect = match throttle(t.duration()) {
                Some(ms) => first(sql::enable_notify(&q, ms)),
                None => Expect::Invalid,
            };
            (
                block_on(mock.enable_notify_insert(&q, t.duration())),
                expect,
            )
        }
    })
}

fuzz_target!(|input: Input| {
    let mock = Mock {
        answers: Mutex::new(input.answers.into()),
        calls: Mutex::new(Vec::new()),
    };
    let Some((result, expect)) = run(&input.call, &mock) else {
        return;
    };
    let calls = mock.calls.into_inner().expect("no panics");
    for st in calls.iter().flatten() {
        check_statement(st);
    }
    match expect {
        Expect::Invalid => {
            assert!(
                matches!(
                    result,
                    Err(Error::InvalidArgument { .. } | Error::InvalidMessage { .. })
                ),
                "{:?} was not rejected as invalid: {result:?}",
                input.call
            );
            assert!(calls.is_empty(), "an invalid call ran {calls:#?}");
        }
        Expect::Nothing => {
            assert!(result.is_ok(), "{:?} failed: {result:?}", input.call);
            assert!(calls.is_empty(), "a call with nothing to do ran {calls:#?}");
        }
        Expect::First(expected) => {
            let first = calls
                .first()
                .unwrap_or_else(|| panic!("{:?} ran nothing and answered {result:?}", input.call));
            assert_eq!(first, &expected, "the first statements of {:?}", input.call);
        }
    }
});
