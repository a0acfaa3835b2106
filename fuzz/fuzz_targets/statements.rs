//! Every statement builder of `pgmq_core::sql` on arbitrary queue names, quantities,
//! durations, instants, ids, receipts, attribute values, messages, headers and filters.
//!
//! Invariants, for every builder:
//! - it never panics;
//! - names: the statement built for an accepted name is exactly the statement built for a
//!   marker name with the marker replaced by the validated (lower-case) name, in the SQL
//!   text and in text parameters, and nowhere else (so a name reaches SQL only in its
//!   validated form, only where the builder puts a name, and changes nothing else);
//! - data: the SQL text does not depend on the data at all (messages, headers, filters,
//!   quantities, durations, instants, ids, receipts): it is the text built from neutral
//!   values, except for the notification throttle, which is interpolated as an integer;
//!   every value given is bound as a parameter;
//! - placeholders: in a prepared statement every `$n` up to the parameter count is used,
//!   always with the cast of its parameter's type, and no higher `$n` appears; one-off DDL
//!   binds nothing;
//! - identifiers: double quotes pair up, every quoted identifier and every identifier
//!   Postgres derives from a queue name (sequence, primary key, indexes) fits in 63 bytes.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgmq_core::adapter::{Param, Statement};
use pgmq_core::serde_json::Value;
use pgmq_core::sql::{self, StoredAttributes};
use pgmq_core::{QueueName, Receipt};
use pgmq_fuzz::{check_statement, instant, Json, NameInput, MAX_IDENTIFIER};

/// Names the templates are built with; none occurs in any builder's fixed text.
const MARKERS: [&str; 3] = ["fuzzmarkera", "fuzzmarkerb", "fuzzmarkerc"];

/// One call of one builder. Names first in each variant, in the order they are given to the
/// builder.
#[derive(Arbitrary, Debug)]
enum Op {
    Send {
        q: NameInput,
        message: Json,
        millis: Option<i64>,
        at: Option<(i64, u32)>,
        headers: Option<Json>,
    },
    SendBatch {
        q: NameInput,
        messages: Vec<Json>,
        millis: Option<i64>,
        at: Option<(i64, u32)>,
        headers: Option<Json>,
    },
    Oversized {
        q: NameInput,
        messages: Vec<Json>,
    },
    Read {
        q: NameInput,
        vt: Option<i64>,
        qty: i64,
        filter: Option<Json>,
    },
    Pop {
        q: NameInput,
        qty: i64,
    },
    DeadLetters {
        q: NameInput,
        window: i64,
    },
    Peek {
        q: NameInput,
        qty: i64,
    },
    Attributes {
        q: NameInput,
    },
    SetAttributes {
        q: NameInput,
        vt: Option<i64>,
        delay: Option<i64>,
        size: Option<i64>,
        retention: Option<i64>,
        dead_letter: Option<(i64, NameInput)>,
    },
    TrimArchive {
        q: NameInput,
        chunk: i64,
    },
    DeadLetter {
        q: NameInput,
        dlq: NameInput,
        ids: Vec<i64>,
    },
    OldestSource {
        dlq: NameInput,
    },
    Redrive {
        dlq: NameInput,
        to: NameInput,
        source: Option<NameInput>,
        limit: i64,
    },
    SetVt {
        q: NameInput,
        ids: Vec<i64>,
        millis: i64,
        at: Option<(i64, u32)>,
    },
    SetVtFenced {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
        millis: i64,
        at: Option<(i64, u32)>,
    },
    Delete {
        q: NameInput,
        ids: Vec<i64>,
    },
    DeleteFenced {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
    },
    Archive {
        q: NameInput,
        ids: Vec<i64>,
    },
    ArchiveFenced {
        q: NameInput,
        receipts: Vec<(i64, i32)>,
    },
    ReadArchive {
        q: NameInput,
        ids: Vec<i64>,
    },
    Create {
        q: NameInput,
        unlogged: bool,
        throttle_ms: Option<i32>,
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
    EnableNotify {
        q: NameInput,
        throttle_ms: i32,
    },
    DisableNotify {
        q: NameInput,
    },
    Readiness {
        q: NameInput,
    },
    /// The builders without arguments.
    Fixed,
}

impl Op {
    fn names(&self) -> Vec<&NameInput> {
        match self {
            Self::SetAttributes { q, dead_letter, .. } => {
                let mut names = vec![q];
                names.extend(dead_letter.as_ref().map(|(_, d)| d));
                names
            }
            Self::DeadLetter { q, dlq, .. } => vec![q, dlq],
            Self::Redrive {
                dlq, to, source, ..
            } => {
                let mut names = vec![dlq, to];
                names.extend(source.as_ref());
                names
            }
            Self::Send { q, .. }
            | Self::SendBatch { q, .. }
            | Self::Oversized { q, .. }
            | Self::Read { q, .. }
            | Self::Pop { q, .. }
            | Self::DeadLetters { q, .. }
            | Self::Peek { q, .. }
            | Self::Attributes { q }
            | Self::TrimArchive { q, .. }
            | Self::SetVt { q, .. }
            | Self::SetVtFenced { q, .. }
            | Self::Delete { q, .. }
            | Self::DeleteFenced { q, .. }
            | Self::Archive { q, .. }
            | Self::ArchiveFenced { q, .. }
            | Self::ReadArchive { q, .. }
            | Self::Create { q, .. }
            | Self::DropQueue { q }
            | Self::Purge { q }
            | Self::Metrics { q }
            | Self::EnableNotify { q, .. }
            | Self::DisableNotify { q }
            | Self::Readiness { q }
            | Self::OldestSource { dlq: q } => vec![q],
            Self::Fixed => vec![],
        }
    }
}

/// Whether [`build`] uses the input's data, or neutral values in its place.
#[derive(Clone, Copy, PartialEq)]
enum Data {
    Given,
    Neutral,
}

/// The statements `op` builds for `names` (in [`Op::names`] order), and the parameters the
/// data must have been bound as.
fn build(op: &Op, names: &[QueueName], data: Data) -> (Vec<Statement>, Vec<Param>) {
    let given = data == Data::Given;
    let json = |j: &Json| if given { j.value() } else { Value::Null };
    let opt_json = |j: &Option<Json>| j.as_ref().filter(|_| given).map(|j| j.value());
    let jsons = |js: &Vec<Json>| {
        if given {
            js.iter().map(Json::value).collect()
        } else {
            Vec::new()
        }
    };
    let int = |i: i64| if given { i } else { 0 };
    let opt_int = |i: Option<i64>| i.filter(|_| given);
    let at = |a: Option<(i64, u32)>| instant(a).filter(|_| given);
    let ids = |v: &Vec<i64>| if given { v.clone() } else { Vec::new() };
    let receipts = |v: &Vec<(i64, i32)>| -> Vec<Receipt> {
        if given {
            v.iter().map(|&(id, ct)| Receipt::new(id, ct)).collect()
        } else {
            Vec::new()
        }
    };
    let receipt_params = |r: &[Receipt]| {
        vec![
            Param::Int8Array(r.iter().map(|r| r.msg_id).collect()),
            Param::Int8Array(r.iter().map(|r| i64::from(r.read_ct)).collect()),
        ]
    };
    let q = &names.first().cloned().unwrap_or_else(|| marker(0));
    let one = |st: Statement, bound: Vec<Param>| (vec![st], bound);
    match op {
        Op::Send {
            message,
            millis,
            at: a,
            headers,
            ..
        } => {
            let (m, ms, t, h) = (json(message), opt_int(*millis), at(*a), opt_json(headers));
            let bound = vec![
                Param::Jsonb(Some(m.clone())),
                Param::NullableInt8(ms),
                Param::Timestamptz(t),
                Param::Jsonb(h.clone()),
            ];
            one(sql::send(q, m, (ms, t), h), bound)
        }
        Op::SendBatch {
            messages,
            millis,
            at: a,
            headers,
            ..
        } => {
            let (m, ms, t, h) = (jsons(messages), opt_int(*millis), at(*a), opt_json(headers));
            let bound = vec![
                Param::JsonbArray(m.clone()),
                Param::NullableInt8(ms),
                Param::Timestamptz(t),
                Param::Jsonb(h.clone()),
            ];
            one(sql::send_batch(q, m, (ms, t), h), bound)
        }
        Op::Oversized { messages, .. } => {
            let m = jsons(messages);
            one(sql::oversized(q, m.clone()), vec![Param::JsonbArray(m)])
        }
        Op::Read {
            vt, qty, filter, ..
        } => {
            let (vt, qty, f) = (opt_int(*vt), int(*qty), opt_json(filter));
            let bound = vec![
                Param::NullableInt8(vt),
                Param::Int8(qty),
                Param::Jsonb(f.clone()),
            ];
            one(sql::read(q, vt, qty, f), bound)
        }
        Op::Pop { qty, .. } => one(sql::pop(q, int(*qty)), vec![Param::Int8(int(*qty))]),
        Op::DeadLetters { window, .. } => one(
            sql::dead_letters(q, int(*window)),
            vec![Param::Int8(int(*window))],
        ),
        Op::Peek { qty, .. } => one(sql::peek(q, int(*qty)), vec![Param::Int8(int(*qty))]),
        Op::Attributes { .. } => one(sql::attributes(q), vec![]),
        Op::SetAttributes {
            vt,
            delay,
            size,
            retention,
            dead_letter,
            ..
        } => {
            let values = StoredAttributes {
                default_vt_ms: opt_int(*vt),
                default_delay_ms: opt_int(*delay),
                max_message_bytes: opt_int(*size),
                archive_retention_ms: opt_int(*retention),
                dead_letter: dead_letter
                    .as_ref()
                    .map(|(max, _)| (int(*max), names[1].clone())),
            };
            let bound = vec![
                Param::NullableInt8(values.default_vt_ms),
                Param::NullableInt8(values.default_delay_ms),
                Param::NullableInt8(values.max_message_bytes),
                Param::NullableInt8(values.archive_retention_ms),
                Param::NullableInt8(values.dead_letter.as_ref().map(|(max, _)| *max)),
            ];
            (sql::set_attributes(q, values).to_vec(), bound)
        }
        Op::TrimArchive { chunk, .. } => one(
            sql::trim_archive(q, int(*chunk)),
            vec![Param::Int8(int(*chunk))],
        ),
        Op::DeadLetter { ids: i, .. } => one(
            sql::dead_letter(q, &names[1], ids(i)),
            vec![Param::Int8Array(ids(i))],
        ),
        Op::OldestSource { .. } => one(sql::oldest_source(q), vec![]),
        Op::Redrive { limit, .. } => one(
            sql::redrive(q, &names[1], names.get(2), int(*limit)),
            vec![Param::Int8(int(*limit))],
        ),
        Op::SetVt {
            ids: i,
            millis,
            at: a,
            ..
        } => {
            let bound = vec![
                Param::Int8Array(ids(i)),
                Param::Int8(int(*millis)),
                Param::Timestamptz(at(*a)),
            ];
            one(sql::set_vt(q, ids(i), (int(*millis), at(*a))), bound)
        }
        Op::SetVtFenced {
            receipts: r,
            millis,
            at: a,
            ..
        } => {
            let r = receipts(r);
            let mut bound = receipt_params(&r);
            bound.extend([Param::Int8(int(*millis)), Param::Timestamptz(at(*a))]);
            one(sql::set_vt_fenced(q, r, (int(*millis), at(*a))), bound)
        }
        Op::Delete { ids: i, .. } => one(sql::delete(q, ids(i)), vec![Param::Int8Array(ids(i))]),
        Op::DeleteFenced { receipts: r, .. } => {
            let r = receipts(r);
            let bound = receipt_params(&r);
            one(sql::delete_fenced(q, r), bound)
        }
        Op::Archive { ids: i, .. } => one(sql::archive(q, ids(i)), vec![Param::Int8Array(ids(i))]),
        Op::ArchiveFenced { receipts: r, .. } => {
            let r = receipts(r);
            let bound = receipt_params(&r);
            one(sql::archive_fenced(q, r), bound)
        }
        Op::ReadArchive { ids: i, .. } => {
            one(sql::read_archive(q, ids(i)), vec![Param::Int8Array(ids(i))])
        }
        // The throttle is interpolated into the DDL text: always the given one.
        Op::Create {
            unlogged,
            throttle_ms,
            ..
        } => one(sql::create(q, *unlogged, *throttle_ms, false, None), vec![]),
        Op::DropQueue { .. } => {
            let sql::DropQueue { lock, exists, drop } = sql::drop_queue(q);
            (vec![lock, exists, drop], vec![])
        }
        Op::Purge { .. } => one(sql::purge(q), vec![]),
        Op::Metrics { .. } => one(sql::metrics(q), vec![]),
        Op::EnableNotify { throttle_ms, .. } => one(sql::enable_notify(q, *throttle_ms), vec![]),
        Op::DisableNotify { .. } => one(sql::disable_notify(q), vec![]),
        Op::Readiness { .. } => one(sql::readiness(q), vec![]),
        Op::Fixed => (
            vec![
                sql::install(),
                sql::installed(),
                sql::list_queues(),
                sql::metrics_all(),
            ],
            vec![],
        ),
    }
}

fn marker(i: usize) -> QueueName {
    QueueName::new(MARKERS[i]).expect("markers are valid names")
}

/// `template` with each marker replaced by its name, in one pass (a name may itself look
/// like a marker).
fn substitute(template: &str, names: &[QueueName]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (i, name) in names.iter().enumerate() {
            if let Some(after) = rest.strip_prefix(MARKERS[i]) {
                out.push_str(name.as_str());
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The statement `template` (built for marker names) would be for `names`.
fn for_names(template: &Statement, names: &[QueueName]) -> Statement {
    let mut st = template.clone();
    st.sql = substitute(&st.sql, names);
    for p in &mut st.params {
        if let Param::Text(t) = p {
            *t = substitute(t, names);
        }
    }
    st
}

/// The identifiers Postgres derives from a queue's tables, which the statements (and the
/// extension's functions) then name, must not be truncated.
fn check_derived_identifiers(name: &QueueName) {
    for derived in [
        format!("q_{name}"),
        format!("a_{name}"),
        format!("q_{name}_pkey"),
        format!("a_{name}_pkey"),
        format!("q_{name}_msg_id_seq"),
        format!("q_{name}_vt_idx"),
        format!("archived_at_idx_{name}"),
    ] {
        assert!(derived.len() <= MAX_IDENTIFIER, "{derived} is too long");
    }
}

fuzz_target!(|op: Op| {
    let mut names = Vec::new();
    for input in op.names() {
        let raw = input.text();
        match QueueName::new(&raw) {
            Ok(name) => names.push(name),
            // Builders only take validated names: nothing to build.
            Err(_) => return,
        }
    }
    let markers: Vec<QueueName> = (0..names.len()).map(marker).collect();
    names.iter().for_each(check_derived_identifiers);

    let (built, bound) = build(&op, &names, Data::Given);
    let (templates, _) = build(&op, &markers, Data::Given);
    let (neutral, _) = build(&op, &markers, Data::Neutral);
    assert_eq!(built.len(), templates.len());
    assert_eq!(built.len(), neutral.len());

    for ((st, template), neutral) in built.iter().zip(&templates).zip(&neutral) {
        check_statement(st);
        check_statement(template);
        assert_eq!(
            st,
            &for_names(template, &names),
            "the name changed more than the name in\n{template:#?}"
        );
        assert_eq!(
            st.sql,
            substitute(&neutral.sql, &names),
            "the SQL text depends on the data"
        );
    }
    // The data travels as parameters (of the statement that acts; the lock of
    // set_attributes binds only its key).
    let params: Vec<&Param> = built.iter().flat_map(|st| &st.params).collect();
    for p in &bound {
        assert!(params.contains(&p), "{p:?} is not bound in {built:#?}");
    }
});
