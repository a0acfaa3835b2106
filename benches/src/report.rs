//! One measurement per workload × system, printed as a table and written as JSON/Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::runs::Bench;

/// What a measurement is in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    MsgsPerS,
    LatencyUs,
    /// Statements the database ran per minute (lower is better).
    QueriesPerMin,
}

/// One result row.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Measurement {
    pub(crate) workload: String,
    pub(crate) system: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) msgs_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) latency_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queries_per_min: Option<f64>,
    /// This system's figure over the pgmq crate's (higher is better for both units: for
    /// latency it is the crate's latency over ours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vs_pgmq_crate: Option<f64>,
    /// The same over pgbench running our statements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vs_pgbench: Option<f64>,
    pub(crate) note: String,
}

impl Measurement {
    pub(crate) fn new(workload: &str, system: &str, unit: Unit, value: f64, note: String) -> Self {
        let figure = |u: Unit| (unit == u).then_some(value);
        Self {
            workload: workload.into(),
            system: system.into(),
            msgs_per_s: figure(Unit::MsgsPerS),
            latency_us: figure(Unit::LatencyUs),
            queries_per_min: figure(Unit::QueriesPerMin),
            vs_pgmq_crate: None,
            vs_pgbench: None,
            note,
        }
    }

    fn value(&self) -> f64 {
        self.msgs_per_s
            .or(self.latency_us)
            .or(self.queries_per_min)
            .unwrap_or(f64::NAN)
    }

    /// How many times better than `other` (throughput: ours/theirs; latency and queries:
    /// theirs/ours).
    fn ratio_to(&self, other: &Measurement) -> f64 {
        match (self.msgs_per_s, self.latency_us.or(self.queries_per_min)) {
            (Some(v), _) => v / other.value(),
            (_, Some(v)) => other.value() / v,
            _ => f64::NAN,
        }
    }
}

impl Bench {
    /// Prints one figure and keeps it for the table.
    pub(crate) fn record(
        &mut self,
        workload: &str,
        system: &str,
        unit: Unit,
        value: f64,
        note: &str,
    ) {
        let unit_name = match unit {
            Unit::MsgsPerS => "msgs/s",
            Unit::LatencyUs => "µs",
            Unit::QueriesPerMin => "queries/min",
        };
        println!("  {workload:<10} {system:<22} {value:>12.1} {unit_name}");
        self.results
            .push(Measurement::new(workload, system, unit, value, note.into()));
    }
}

pub(crate) const PGMQ_CRATE: &str = "pgmq-crate";
pub(crate) const PGBENCH: &str = "pgbench";

/// Fills in the ratios to the pgmq crate and to pgbench within each workload.
pub(crate) fn add_ratios(results: &mut [Measurement]) {
    let by_key: BTreeMap<(String, String), Measurement> = results
        .iter()
        .map(|m| ((m.workload.clone(), m.system.clone()), m.clone()))
        .collect();
    for m in results.iter_mut() {
        if m.system == PGMQ_CRATE || m.system == PGBENCH {
            continue;
        }
        if let Some(base) = by_key.get(&(m.workload.clone(), PGMQ_CRATE.into())) {
            m.vs_pgmq_crate = Some(m.ratio_to(base));
        }
        if let Some(base) = by_key.get(&(m.workload.clone(), PGBENCH.into())) {
            m.vs_pgbench = Some(m.ratio_to(base));
        }
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

fn fmt_figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
}

/// The results as a Markdown table; the queries/min column only when a row has one.
pub(crate) fn table(results: &[Measurement]) -> String {
    let queries = results.iter().any(|m| m.queries_per_min.is_some());
    let (head, rule) = if queries {
        (" queries/min |", "---:|")
    } else {
        ("", "")
    };
    let mut out = format!(
        "| workload | system | msgs/s | latency µs |{head} vs pgmq crate | vs pgbench | note |\n\
         |---|---|---:|---:|{rule}---:|---:|---|\n",
    );
    for m in results {
        let q = if queries {
            format!(" {} |", fmt_figure(m.queries_per_min))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |{q} {} | {} | {} |",
            m.workload,
            m.system,
            fmt_figure(m.msgs_per_s),
            fmt_figure(m.latency_us),
            fmt_ratio(m.vs_pgmq_crate),
            fmt_ratio(m.vs_pgbench),
            m.note
        );
    }
    out
}
