//! Arguments, the fresh database, and pool settings shared by every system.

use sqlx::postgres::PgPoolOptions;

use crate::system::Res;
use crate::workloads::Sizes;

/// What the command line asked for.
pub(crate) struct Args {
    pub(crate) mode: &'static str,
    pub(crate) sizes: Sizes,
    pub(crate) url: Option<String>,
    pub(crate) out: String,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) systems: Option<Vec<String>>,
    pub(crate) write_md: bool,
    /// Create W1–W6's queues without insert notifications (`--quiet`), to compare with a
    /// build from before they existed.
    pub(crate) quiet: bool,
    /// How W1–W6's queues are made (`--queues plain|unlogged|partitioned`).
    pub(crate) layout: Layout,
    /// W8's and W9's producer and worker settings.
    pub(crate) tuning: crate::batching::Tuning,
}

/// The table layout of the queues W1–W6 run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Plain,
    Unlogged,
    /// pg_partman-managed, by message id, one partition per million messages (so a run
    /// never outgrows the partitions made ahead): the cost of the layout itself.
    Partitioned,
}

impl Args {
    pub(crate) fn parse() -> Res<Self> {
        let mut a = Self {
            mode: "full",
            sizes: Sizes::full(),
            url: None,
            out: "bench-results".into(),
            only: None,
            systems: None,
            write_md: false,
            quiet: false,
            layout: Layout::Plain,
            tuning: crate::batching::Tuning::default(),
        };
        let list = |v: Option<String>, flag: &str| -> Res<Vec<String>> {
            let v = v.ok_or(format!("{flag} needs a value"))?;
            Ok(v.split(',').map(|w| w.trim().to_owned()).collect())
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => (a.mode, a.sizes) = ("quick", Sizes::quick()),
                "--tiny" => (a.mode, a.sizes) = ("tiny", Sizes::tiny()),
                "--database-url" => a.url = Some(it.next().ok_or("--database-url needs a value")?),
                "--out" => a.out = it.next().ok_or("--out needs a value")?,
                "--only" => {
                    let ws = list(it.next(), "--only")?;
                    a.only = Some(ws.into_iter().map(|w| w.to_uppercase()).collect());
                }
                "--soak-secs" => {
                    a.sizes.w10_secs = it.next().ok_or("--soak-secs needs a value")?.parse()?;
                }
                "--soak-rate" => {
                    a.sizes.w10_rate = it.next().ok_or("--soak-rate needs a value")?.parse()?;
                }
                "--producer-window-us" => {
                    let us = it
                        .next()
                        .ok_or("--producer-window-us needs a value")?
                        .parse()?;
                    a.tuning.producer = a
                        .tuning
                        .producer
                        .window(std::time::Duration::from_micros(us));
                }
                "--producer-batches" => {
                    let n = it
                        .next()
                        .ok_or("--producer-batches needs a value")?
                        .parse()?;
                    a.tuning.producer = a.tuning.producer.max_in_flight_batches(n);
                }
                "--read-ahead" => {
                    a.tuning.read_ahead =
                        Some(it.next().ok_or("--read-ahead needs a value")?.parse()?);
                }
                "--systems" => a.systems = Some(list(it.next(), "--systems")?),
                "--write-md" => a.write_md = true,
                "--quiet" => a.quiet = true,
                "--queues" => {
                    a.layout = match it.next().as_deref() {
                        Some("plain") => Layout::Plain,
                        Some("unlogged") => Layout::Unlogged,
                        Some("partitioned") => Layout::Partitioned,
                        other => {
                            return Err(format!(
                                "--queues takes plain, unlogged or partitioned, not {other:?}"
                            )
                            .into())
                        }
                    }
                }
                other => {
                    return Err(format!("unknown argument {other:?}; see the crate docs").into())
                }
            }
        }
        Ok(a)
    }

    /// Whether workload `w` was named in `--only` (for the runs that only run when asked).
    pub(crate) fn named(&self, w: &str) -> bool {
        self.only
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x.eq_ignore_ascii_case(w)))
    }

    /// Whether workload `w` (e.g. `W5`, `W2-receipt`; any case) is to run.
    pub(crate) fn workload(&self, w: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x.eq_ignore_ascii_case(w)))
    }

    /// Whether system `s` (a backend name, `pgmq-crate` or `pgbench`) is to run.
    pub(crate) fn system(&self, s: &str) -> bool {
        self.systems
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == s))
    }
}

/// The sqlx pool settings for every sqlx pool in the run, ours and the pgmq crate's alike:
/// no ping before each use. (sqlx still pings each connection when it goes back to the pool.)
pub(crate) fn pool_options(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Drops and creates database `name` (a plain identifier) on the server of `url`; returns
/// its URL.
pub(crate) async fn fresh_database(url: &str, name: &str) -> Res<String> {
    let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&admin)
        .await?;
    let create = format!("CREATE DATABASE {name}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(with_database(url, name))
}
