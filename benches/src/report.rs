//! One measurement per workload × system, printed as a table and written as JSON/Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// What a measurement is in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    MsgsPerS,
    LatencyUs,
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
        let (msgs_per_s, latency_us) = match unit {
            Unit::MsgsPerS => (Some(value), None),
            Unit::LatencyUs => (None, Some(value)),
        };
        Self {
            workload: workload.into(),
            system: system.into(),
            msgs_per_s,
            latency_us,
            vs_pgmq_crate: None,
            vs_pgbench: None,
            note,
        }
    }

    fn value(&self) -> f64 {
        self.msgs_per_s.or(self.latency_us).unwrap_or(f64::NAN)
    }

    /// How many times better than `other` (throughput: ours/theirs; latency: theirs/ours).
    fn ratio_to(&self, other: &Measurement) -> f64 {
        match (self.msgs_per_s, self.latency_us) {
            (Some(v), _) => v / other.value(),
            (_, Some(v)) => other.value() / v,
            _ => f64::NAN,
        }
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

/// The results as a Markdown table.
pub(crate) fn table(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| workload | system | msgs/s | latency µs | vs pgmq crate | vs pgbench | note |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for m in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.workload,
            m.system,
            m.msgs_per_s
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            m.latency_us
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            fmt_ratio(m.vs_pgmq_crate),
            fmt_ratio(m.vs_pgbench),
            m.note
        );
    }
    out
}
