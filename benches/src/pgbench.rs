//! pgbench running pgmq-rs's own statements (`-M prepared`): the limit for one client.

use std::path::PathBuf;
use std::process::Command;

use pgmq_core::adapter::{Param, Statement};
use pgmq_core::{sql, QueueName, Receipt};
use serde_json::Value;

use crate::system::{Payload, Res};

/// Finds `pgbench` on PATH or under /usr/lib/postgresql.
pub(crate) fn find() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

fn array_literal<T: ToString>(items: impl IntoIterator<Item = T>, quote: bool) -> String {
    let parts: Vec<String> = items
        .into_iter()
        .map(|i| {
            let s = i.to_string();
            if quote {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                s
            }
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// A pgbench script for one statement: `$n` becomes `:<prefix>n` (a prepared-statement
/// parameter, its value passed with `-D`), or a literal `NULL`; `overrides` replace a
/// parameter with script text (e.g. a variable set by `\gset`).
pub(crate) struct Script {
    pub(crate) text: String,
    pub(crate) vars: Vec<(String, String)>,
}

impl Script {
    pub(crate) fn new() -> Self {
        Self {
            text: String::new(),
            vars: Vec::new(),
        }
    }

    pub(crate) fn add(
        &mut self,
        st: &Statement,
        prefix: &str,
        overrides: &[(usize, &str)],
        gset: bool,
    ) {
        let mut sql = st.sql.clone();
        for (i, p) in st.params.iter().enumerate().rev() {
            let n = i + 1;
            let with = if let Some((_, text)) = overrides.iter().find(|(k, _)| *k == n) {
                (*text).to_owned()
            } else {
                let value = match p {
                    Param::Int8(v) => Some(v.to_string()),
                    Param::NullableInt8(v) => v.map(|v| v.to_string()),
                    Param::Text(v) => Some(v.clone()),
                    Param::Timestamptz(v) => v.map(|t| t.to_rfc3339()),
                    Param::Jsonb(v) => v.as_ref().map(Value::to_string),
                    Param::JsonbArray(v) => Some(array_literal(v, true)),
                    Param::Int8Array(v) => Some(array_literal(v, false)),
                    _ => None,
                };
                match value {
                    Some(v) => {
                        let var = format!("{prefix}{n}");
                        self.vars.push((var.clone(), v));
                        format!(":{var}")
                    }
                    None => "NULL".into(),
                }
            };
            sql = sql.replace(&format!("${n}"), &with);
        }
        // pgbench reads one statement per line unless it ends in a semicolon.
        let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        self.text.push_str(&one_line);
        self.text.push_str(if gset { " \\gset\n" } else { ";\n" });
    }
}

/// Runs `script` `transactions` times on one connection; returns transactions per second.
pub(crate) fn run(bin: &PathBuf, url: &str, script: &Script, transactions: usize) -> Res<f64> {
    run_clients(bin, url, script, transactions, 1)
}

/// Runs `script` `transactions` times on each of `clients` connections at once (as many
/// pgbench threads as the machine has cores, at most one per client); returns transactions
/// per second, all clients together.
pub(crate) fn run_clients(
    bin: &PathBuf,
    url: &str,
    script: &Script,
    transactions: usize,
    clients: usize,
) -> Res<f64> {
    let dir = std::env::temp_dir().join(format!("pgmq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("script.sql");
    std::fs::write(&file, &script.text)?;
    let mut cmd = Command::new(bin);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(clients.max(1));
    cmd.args(["-n", "-M", "prepared"])
        .arg("-c")
        .arg(clients.max(1).to_string())
        .arg("-j")
        .arg(threads.to_string())
        .arg("-t")
        .arg(transactions.to_string())
        .arg("-f")
        .arg(&file);
    for (k, v) in &script.vars {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    let out = cmd.arg(url).output()?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok());
    match tps {
        Some(tps) if out.status.success() => Ok(tps),
        _ => Err(format!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )
        .into()),
    }
}

fn payload_json(i: u64) -> Res<Value> {
    Ok(serde_json::to_value(Payload::new(i))?)
}

/// W1: our single send.
pub(crate) fn w1(q: &QueueName) -> Res<Script> {
    let mut s = Script::new();
    s.add(
        &sql::send(q, payload_json(1)?, (None, None), None),
        "s",
        &[],
        false,
    );
    Ok(s)
}

/// W2: our read of one, then our delete of the id it returned.
pub(crate) fn w2(q: &QueueName) -> Res<Script> {
    let mut s = Script::new();
    s.add(&sql::read(q, Some(30_000), 1, None), "r", &[], true);
    s.add(
        &sql::delete(q, vec![0]),
        "d",
        &[(1, "ARRAY[:msg_id]")],
        false,
    );
    Ok(s)
}

/// W2-receipt: our read of one, then our fenced delete of it with the receipt it returned
/// (the id and read count, both set by `\gset`).
pub(crate) fn w2_receipt(q: &QueueName) -> Res<Script> {
    let mut s = Script::new();
    s.add(&sql::read(q, Some(30_000), 1, None), "r", &[], true);
    s.add(
        &sql::delete_fenced(q, vec![Receipt::new(0, 0)]),
        "d",
        &[(1, "ARRAY[:msg_id]"), (2, "ARRAY[:read_ct]")],
        false,
    );
    Ok(s)
}

/// W3: our batch send of 100.
pub(crate) fn w3(q: &QueueName) -> Res<Script> {
    let batch = (0..100).map(payload_json).collect::<Res<Vec<_>>>()?;
    let mut s = Script::new();
    s.add(
        &sql::send_batch(q, batch, (None, None), None),
        "b",
        &[],
        false,
    );
    Ok(s)
}

/// W4: our read of 100 (its ids gathered into one array), then our archive of them.
pub(crate) fn w4(q: &QueueName) -> Res<Script> {
    let mut read = sql::read(q, Some(30_000), 100, None);
    // Same claim and update; only the ids are folded into one row for \gset.
    read.sql = read.sql.replacen("\nUPDATE ", ",\nr AS (UPDATE ", 1)
        + ") SELECT array_agg(msg_id)::text AS ids FROM r";
    let mut s = Script::new();
    s.add(&read, "r", &[], true);
    s.add(&sql::archive(q, vec![0]), "a", &[(1, ":ids")], false);
    Ok(s)
}
