//! What the fuzz targets share: input shapes for queue names and JSON, and the checks every
//! built statement must pass.

use arbitrary::Arbitrary;
use pgmq_core::adapter::Statement;
use pgmq_core::chrono::{DateTime, Utc};
use pgmq_core::serde_json::{Map, Number, Value};

/// Postgres' longest identifier (NAMEDATALEN - 1); longer ones are silently truncated.
pub const MAX_IDENTIFIER: usize = 63;

/// A queue name: raw text (any UTF-8), or bytes mapped onto the name alphabet so that most
/// inputs are accepted names, of every length and case.
#[derive(Arbitrary, Debug)]
pub enum NameInput {
    Raw(String),
    Alphabet(Vec<u8>),
}

impl NameInput {
    pub fn text(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        match self {
            Self::Raw(s) => s.clone(),
            Self::Alphabet(bytes) => bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect(),
        }
    }
}

/// Any JSON value.
#[derive(Arbitrary, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::value).collect()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// An instant, when its seconds and nanoseconds make one.
pub fn instant(at: Option<(i64, u32)>) -> Option<DateTime<Utc>> {
    at.and_then(|(secs, nanos)| DateTime::from_timestamp(secs, nanos))
}

/// Whether `$n` occurs at `at` of `sql` as a whole placeholder (not the start of `$n0`).
fn whole(sql: &str, at: usize, len: usize) -> bool {
    !sql[at + len..].starts_with(|c: char| c.is_ascii_digit())
}

/// Placeholders and quoted identifiers of any statement core builds:
/// - in a prepared statement, every `$n` up to the parameter count is used, each use cast to
///   its parameter's type, and no higher `$n` appears; one-off DDL binds nothing;
/// - double quotes pair up, and every quoted identifier is lower-case `[a-z0-9_.]` and at
///   most [`MAX_IDENTIFIER`] bytes.
pub fn check_statement(st: &Statement) {
    let sql = &st.sql;
    if st.persistent {
        for (i, param) in st.params.iter().enumerate() {
            let bare = format!("${}", i + 1);
            let uses = sql
                .match_indices(&bare)
                .filter(|(at, _)| whole(sql, *at, bare.len()))
                .count();
            assert!(uses > 0, "{bare} is bound but unused in {sql}");
            let cast = format!("{bare}::{}", param.type_name());
            let cast_uses = sql
                .match_indices(&cast)
                .filter(|(at, _)| {
                    !sql[at + cast.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '[')
                })
                .count();
            assert_eq!(cast_uses, uses, "uncast or miscast {bare} in {sql}");
        }
        let next = format!("${}", st.params.len() + 1);
        let unbound = sql
            .match_indices(&next)
            .any(|(at, _)| whole(sql, at, next.len()));
        assert!(!unbound, "{next} is unbound in {sql}");
    } else {
        assert!(st.params.is_empty(), "one-off DDL binds {:?}", st.params);
    }
    let quoted: Vec<&str> = sql.split('"').collect();
    assert!(quoted.len() % 2 == 1, "unpaired double quote in {sql}");
    for ident in quoted.iter().skip(1).step_by(2) {
        assert!(
            ident.len() <= MAX_IDENTIFIER,
            "quoted identifier {ident:?} is longer than {MAX_IDENTIFIER} bytes"
        );
        assert!(
            ident
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'),
            "quoted identifier {ident:?} is not lower-case [a-z0-9_.]"
        );
    }
}
