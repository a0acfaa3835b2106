//! Storage parameters for queues that churn: what [`create`](crate::Queue::create) sets on a
//! queue's tables and [`set_storage`](crate::Queue::set_storage) changes, checked and
//! rendered here before any SQL.
//!
//! A busy queue makes dead rows as fast as it moves messages: one insert per send, one
//! update per read (not a HOT update: `vt` is indexed) and one delete per acknowledgement.
//! Postgres' stock autovacuum waits for 20 % of a table to be dead and then works slowly
//! (cost-limited), so on a queue table, which is small but rewritten over and over, it falls
//! behind and claims slow down as they step over dead index entries. See `docs/churn.md`.

use crate::error::{Error, Result};
use crate::sql::StorageActions;

/// A value of a storage parameter, rendered by pgmq-rs (never caller text) into the
/// `ALTER TABLE … SET (…)` statement.
///
/// Which kind a parameter takes is checked before any SQL: integer parameters take
/// [`Int`](Self::Int), real ones (scale factors, `autovacuum_vacuum_cost_delay`) take
/// [`Real`](Self::Real) or `Int`, boolean ones take [`Bool`](Self::Bool), and
/// `vacuum_index_cleanup` takes `Bool` or [`Auto`](Self::Auto). Ranges are Postgres' to
/// check: a value out of range fails with its error (SQLSTATE `22023`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum StorageValue {
    /// An integer.
    Int(i64),
    /// A real number (finite).
    Real(f64),
    /// `true` or `false` (`on`/`off` for `vacuum_index_cleanup`).
    Bool(bool),
    /// `auto`, for `vacuum_index_cleanup`.
    Auto,
}

impl PartialEq for StorageValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a == b,
            // Bitwise, so that equality is an equivalence (`Eq`), NaN included.
            (Self::Real(a), Self::Real(b)) => a.to_bits() == b.to_bits(),
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Auto, Self::Auto) => true,
            _ => false,
        }
    }
}

impl Eq for StorageValue {}

impl From<i64> for StorageValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<i32> for StorageValue {
    fn from(v: i32) -> Self {
        Self::Int(v.into())
    }
}

impl From<u32> for StorageValue {
    fn from(v: u32) -> Self {
        Self::Int(v.into())
    }
}

impl From<f64> for StorageValue {
    fn from(v: f64) -> Self {
        Self::Real(v)
    }
}

impl From<bool> for StorageValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// The storage parameters [`StorageParams::churn`] sets on a queue table. The one place these
/// values live; each line says why.
///
/// A queue table holds few live rows and turns all of them over quickly, so every threshold
/// here is an absolute number of rows instead of a fraction of the table: the table's size
/// says nothing about how much of it is dead.
///
/// These make autovacuum vacuum and analyze the table on every visit, and finish quickly.
/// They cannot make it visit more often than `autovacuum_naptime` (a server setting, 1
/// minute by default): measured in W10 at 3,500 messages/s, dead rows still reached about
/// 390,000 between visits with these alone, against about 21,000 with the
/// [`Worker`](crate::Worker)'s own vacuum (`docs/churn.md`).
pub const CHURN_QUEUE_TABLE: &[(&str, StorageValue)] = &[
    // No fraction: a table of 1000 live rows with 2 million dead ones is still "small", and
    // the stock 20 % waits for the dead rows to be a fifth of everything.
    ("autovacuum_vacuum_scale_factor", StorageValue::Int(0)),
    // Vacuum after this many dead rows (updates by reads, deletes by acknowledgements): a
    // busy queue passes it within a second, so autovacuum vacuums it on every visit.
    ("autovacuum_vacuum_threshold", StorageValue::Int(1000)),
    // Never sleep between pages: the table is small and hot, and a cost-limited vacuum on it
    // falls behind the rows being deleted while it sleeps.
    ("autovacuum_vacuum_cost_delay", StorageValue::Int(0)),
    // Sends alone also trigger a vacuum after a fixed count: a queue filling up (consumers
    // behind) makes inserts but few dead rows, and vacuuming them in small steps sets hint
    // bits and freezes pages before a backlog's first reads or a large freeze must do it.
    (
        "autovacuum_vacuum_insert_scale_factor",
        StorageValue::Int(0),
    ),
    // ... after this many inserted rows.
    (
        "autovacuum_vacuum_insert_threshold",
        StorageValue::Int(1000),
    ),
    // Keep the planner's statistics current on a table whose size swings between empty and
    // full: analyze after a fixed count of changed rows, not a fraction of the table.
    ("autovacuum_analyze_scale_factor", StorageValue::Int(0)),
    // ... after this many inserted, updated or deleted rows.
    ("autovacuum_analyze_threshold", StorageValue::Int(1000)),
];

/// The storage parameters [`StorageParams::churn`] sets on a queue's archive. The one place
/// these values live; each line says why.
///
/// An archive only grows (rows are inserted, and removed only by
/// [`trim_archive`](crate::Queue::trim_archive)), so stock autovacuum suits it apart from
/// inserts: their default trigger (20 % of the table) comes later and later as the archive
/// grows, and each run then has more pages to freeze at once.
pub const CHURN_ARCHIVE: &[(&str, StorageValue)] = &[
    // Vacuum an archive after 5 % of it was inserted (plus the stock 1000 rows), so freezing
    // happens in small steps instead of one large anti-wraparound vacuum.
    (
        "autovacuum_vacuum_insert_scale_factor",
        StorageValue::Real(0.05),
    ),
];

/// What Postgres accepts for a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Bool,
    /// `vacuum_index_cleanup`: `auto`, `on` or `off`.
    Ternary,
}

/// The heap storage parameters (Postgres 13 to 17) [`StorageParams`] accepts, and their kinds.
const PARAMETERS: &[(&str, Kind)] = &[
    ("fillfactor", Kind::Int),
    ("toast_tuple_target", Kind::Int),
    ("parallel_workers", Kind::Int),
    ("autovacuum_enabled", Kind::Bool),
    ("vacuum_index_cleanup", Kind::Ternary),
    ("vacuum_truncate", Kind::Bool),
    ("autovacuum_vacuum_threshold", Kind::Int),
    ("autovacuum_vacuum_scale_factor", Kind::Real),
    ("autovacuum_vacuum_insert_threshold", Kind::Int),
    ("autovacuum_vacuum_insert_scale_factor", Kind::Real),
    ("autovacuum_analyze_threshold", Kind::Int),
    ("autovacuum_analyze_scale_factor", Kind::Real),
    ("autovacuum_vacuum_cost_delay", Kind::Real),
    ("autovacuum_vacuum_cost_limit", Kind::Int),
    ("autovacuum_freeze_min_age", Kind::Int),
    ("autovacuum_freeze_max_age", Kind::Int),
    ("autovacuum_freeze_table_age", Kind::Int),
    ("autovacuum_multixact_freeze_min_age", Kind::Int),
    ("autovacuum_multixact_freeze_max_age", Kind::Int),
    ("autovacuum_multixact_freeze_table_age", Kind::Int),
    ("log_autovacuum_min_duration", Kind::Int),
    ("user_catalog_table", Kind::Bool),
];

/// One table's parameters, in order: a value to set, or `None` to reset to the default.
type Settings = Vec<(String, Option<StorageValue>)>;

/// The Postgres storage parameters of a queue's table and, separately, of its archive: what
/// [`CreateOptions::storage`](crate::CreateOptions::storage) gives a new queue and
/// [`Queue::set_storage`](crate::Queue::set_storage) applies to an existing one.
///
/// Two ordered lists of parameters, one per table. Each entry sets a parameter
/// (`ALTER TABLE … SET (name = value)`) or resets it to the server's default (`RESET
/// (name)`); a parameter not listed is left as the table has it.
///
/// # Checked before any SQL
/// A parameter must be one of the heap storage parameters of Postgres 13–17: `fillfactor`,
/// `toast_tuple_target`, `parallel_workers`, `autovacuum_enabled`, `vacuum_index_cleanup`,
/// `vacuum_truncate`, `user_catalog_table`, and `autovacuum_` followed by
/// `vacuum_threshold`, `vacuum_scale_factor`, `vacuum_insert_threshold`,
/// `vacuum_insert_scale_factor`, `analyze_threshold`, `analyze_scale_factor`,
/// `vacuum_cost_delay`, `vacuum_cost_limit`, `freeze_min_age`, `freeze_max_age`,
/// `freeze_table_age`, `multixact_freeze_min_age`, `multixact_freeze_max_age`,
/// `multixact_freeze_table_age`; and `log_autovacuum_min_duration`. Names are lower case, as
/// Postgres spells them. Its value must be of the parameter's kind (see [`StorageValue`]).
/// Anything else is [`Error::InvalidArgument`] (`"storage parameter"`, naming the parameter)
/// and nothing is changed. The statement names only parameters from that list and values
/// pgmq-rs renders itself, never caller text.
///
/// ```
/// use pgmq_core::StorageParams;
///
/// // The defaults for a busy queue, with a lower fill factor on the queue table (room for
/// // each read's update on the same page) and no insert-triggered vacuum on the archive.
/// let params = StorageParams::churn()
///     .queue_table("fillfactor", 90)
///     .reset_archive("autovacuum_vacuum_insert_scale_factor");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageParams {
    queue_table: Settings,
    archive: Settings,
}

impl StorageParams {
    /// The defaults for a busy queue: [`CHURN_QUEUE_TABLE`] on the queue table and
    /// [`CHURN_ARCHIVE`] on the archive. What [`CreateOptions`](crate::CreateOptions) gives
    /// a new queue unless told otherwise.
    pub fn churn() -> Self {
        let own = |list: &[(&str, StorageValue)]| {
            list.iter()
                .map(|(name, value)| ((*name).to_owned(), Some(*value)))
                .collect()
        };
        Self {
            queue_table: own(CHURN_QUEUE_TABLE),
            archive: own(CHURN_ARCHIVE),
        }
    }

    /// No parameters: applied, it leaves both tables as they are (the server's defaults for
    /// a new queue).
    pub fn server_defaults() -> Self {
        Self::default()
    }

    /// Sets `param` to `value` on the queue table, replacing an earlier entry for it.
    pub fn queue_table(mut self, param: impl Into<String>, value: impl Into<StorageValue>) -> Self {
        put(&mut self.queue_table, param.into(), Some(value.into()));
        self
    }

    /// Sets `param` to `value` on the archive, replacing an earlier entry for it.
    pub fn archive(mut self, param: impl Into<String>, value: impl Into<StorageValue>) -> Self {
        put(&mut self.archive, param.into(), Some(value.into()));
        self
    }

    /// Resets `param` on the queue table to the server's default (`RESET (param)`),
    /// replacing an earlier entry for it.
    pub fn reset_queue_table(mut self, param: impl Into<String>) -> Self {
        put(&mut self.queue_table, param.into(), None);
        self
    }

    /// Resets `param` on the archive to the server's default (`RESET (param)`), replacing an
    /// earlier entry for it.
    pub fn reset_archive(mut self, param: impl Into<String>) -> Self {
        put(&mut self.archive, param.into(), None);
        self
    }

    /// The queue table's entries, in order: `Some(value)` sets, `None` resets.
    pub fn queue_table_params(&self) -> &[(String, Option<StorageValue>)] {
        &self.queue_table
    }

    /// The archive's entries, in order: `Some(value)` sets, `None` resets.
    pub fn archive_params(&self) -> &[(String, Option<StorageValue>)] {
        &self.archive
    }

    /// Whether there is nothing to apply to either table.
    pub fn is_empty(&self) -> bool {
        self.queue_table.is_empty() && self.archive.is_empty()
    }

    /// Checks every entry and renders the `ALTER TABLE` actions of each table.
    pub(crate) fn actions(&self) -> Result<StorageActions> {
        Ok(StorageActions {
            queue_table: actions(&self.queue_table)?,
            archive: actions(&self.archive)?,
        })
    }
}

/// Replaces `name`'s entry in place, or appends one.
fn put(list: &mut Settings, name: String, value: Option<StorageValue>) {
    match list.iter_mut().find(|(n, _)| *n == name) {
        Some(entry) => entry.1 = value,
        None => list.push((name, value)),
    }
}

fn actions(list: &Settings) -> Result<String> {
    let mut set = Vec::new();
    let mut reset = Vec::new();
    for (name, value) in list {
        let (known, kind) = PARAMETERS
            .iter()
            .find(|(p, _)| p == name)
            .copied()
            .ok_or_else(|| {
                Error::invalid(
                    "storage parameter",
                    format!(
                        "{name:?} is not a heap storage parameter pgmq-rs accepts (one of {})",
                        PARAMETERS
                            .iter()
                            .map(|(p, _)| *p)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        match value {
            None => reset.push(known.to_owned()),
            Some(value) => set.push(format!("{known} = {}", render(known, kind, *value)?)),
        }
    }
    let mut parts = Vec::new();
    if !set.is_empty() {
        parts.push(format!("SET ({})", set.join(", ")));
    }
    if !reset.is_empty() {
        parts.push(format!("RESET ({})", reset.join(", ")));
    }
    Ok(parts.join(", "))
}

/// `value` as SQL text for the parameter `name` of `kind`.
fn render(name: &'static str, kind: Kind, value: StorageValue) -> Result<String> {
    let wrong = |want: &str| {
        Error::invalid(
            "storage parameter",
            format!("{name} takes {want}, not {value:?}"),
        )
    };
    match (kind, value) {
        (Kind::Int | Kind::Real, StorageValue::Int(v)) => Ok(v.to_string()),
        (Kind::Real, StorageValue::Real(v)) if v.is_finite() => Ok(v.to_string()),
        (Kind::Real, StorageValue::Real(_)) => Err(wrong("a finite number")),
        (Kind::Bool | Kind::Ternary, StorageValue::Bool(v)) => Ok(v.to_string()),
        (Kind::Ternary, StorageValue::Auto) => Ok("auto".to_owned()),
        (Kind::Int, _) => Err(wrong("an integer")),
        (Kind::Real, _) => Err(wrong("a number")),
        (Kind::Bool, _) => Err(wrong("a boolean")),
        (Kind::Ternary, _) => Err(wrong("a boolean or auto")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(result: Result<StorageActions>) -> String {
        match result {
            Err(Error::InvalidArgument { argument, reason }) => {
                assert_eq!(argument, "storage parameter");
                reason
            }
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn churn_renders_every_default_in_one_set_per_table() {
        let a = StorageParams::churn().actions().expect("valid");
        assert_eq!(
            a.queue_table,
            "SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, \
             autovacuum_vacuum_cost_delay = 0, autovacuum_vacuum_insert_scale_factor = 0, \
             autovacuum_vacuum_insert_threshold = 1000, autovacuum_analyze_scale_factor = 0, \
             autovacuum_analyze_threshold = 1000)"
        );
        assert_eq!(
            a.archive,
            "SET (autovacuum_vacuum_insert_scale_factor = 0.05)"
        );
        assert_eq!(
            StorageParams::server_defaults().actions().expect("valid"),
            StorageActions::default()
        );
    }

    #[test]
    fn builders_replace_in_place_and_resets_come_after_sets() {
        let p = StorageParams::server_defaults()
            .queue_table("fillfactor", 90)
            .queue_table("autovacuum_vacuum_threshold", 50)
            .queue_table("fillfactor", 80)
            .reset_queue_table("autovacuum_enabled")
            .queue_table("vacuum_index_cleanup", StorageValue::Auto)
            .archive("autovacuum_vacuum_cost_delay", 2.5)
            .reset_archive("autovacuum_vacuum_cost_delay");
        assert_eq!(p.queue_table_params().len(), 4);
        assert_eq!(
            p.archive_params(),
            &[("autovacuum_vacuum_cost_delay".to_owned(), None)]
        );
        let a = p.actions().expect("valid");
        assert_eq!(
            a.queue_table,
            "SET (fillfactor = 80, autovacuum_vacuum_threshold = 50, \
             vacuum_index_cleanup = auto), RESET (autovacuum_enabled)"
        );
        assert_eq!(a.archive, "RESET (autovacuum_vacuum_cost_delay)");
    }

    #[test]
    fn every_accepted_parameter_renders_without_quotes_or_percent_signs() {
        for (name, kind) in PARAMETERS {
            let value = match kind {
                Kind::Int => StorageValue::Int(-1),
                Kind::Real => StorageValue::Real(0.125),
                Kind::Bool => StorageValue::Bool(false),
                Kind::Ternary => StorageValue::Auto,
            };
            let a = StorageParams::server_defaults()
                .queue_table(*name, value)
                .actions()
                .expect("valid");
            assert!(a.queue_table.starts_with(&format!("SET ({name} = ")));
            assert!(!a.queue_table.contains(['\'', '%', ';', '"']), "{a:?}");
        }
    }

    #[test]
    fn unknown_names_and_wrong_kinds_are_rejected_naming_the_parameter() {
        for name in [
            "FillFactor",
            "fillfactor = 10); DROP TABLE pgmq.meta; --",
            "toast.autovacuum_enabled",
            "",
        ] {
            let reason = invalid(StorageParams::server_defaults().archive(name, 10).actions());
            assert!(reason.contains(&format!("{name:?}")), "{reason}");
        }
        let reason = invalid(
            StorageParams::churn()
                .reset_queue_table("no_such_thing")
                .actions(),
        );
        assert!(reason.contains("no_such_thing"), "{reason}");
        for (name, value) in [
            ("fillfactor", StorageValue::Real(0.5)),
            ("fillfactor", StorageValue::Bool(true)),
            ("autovacuum_enabled", StorageValue::Int(1)),
            ("vacuum_truncate", StorageValue::Auto),
            (
                "autovacuum_vacuum_scale_factor",
                StorageValue::Real(f64::NAN),
            ),
            (
                "autovacuum_vacuum_scale_factor",
                StorageValue::Real(f64::INFINITY),
            ),
            ("vacuum_index_cleanup", StorageValue::Int(0)),
        ] {
            let reason = invalid(
                StorageParams::server_defaults()
                    .queue_table(name, value)
                    .actions(),
            );
            assert!(reason.starts_with(name), "{reason}");
        }
    }

    #[test]
    fn reals_render_in_plain_decimal_and_integers_are_accepted_for_reals() {
        let a = StorageParams::server_defaults()
            .queue_table("autovacuum_vacuum_scale_factor", 1e-7)
            .queue_table("autovacuum_analyze_scale_factor", 2)
            .queue_table("autovacuum_vacuum_cost_delay", 1e20)
            .actions()
            .expect("valid");
        assert_eq!(
            a.queue_table,
            "SET (autovacuum_vacuum_scale_factor = 0.0000001, \
             autovacuum_analyze_scale_factor = 2, \
             autovacuum_vacuum_cost_delay = 100000000000000000000)"
        );
    }

    #[test]
    fn equality_is_an_equivalence_even_for_nan() {
        let nan = StorageParams::server_defaults().queue_table("fillfactor", f64::NAN);
        assert_eq!(nan, nan.clone());
        assert_ne!(StorageValue::Int(1), StorageValue::Real(1.0));
    }
}
