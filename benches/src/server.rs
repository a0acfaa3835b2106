//! The benchmark's Postgres: by default a throwaway cluster of its own, configured as users
//! run Postgres (durable commits, autovacuum on at its stock thresholds), so the figures never
//! come from a CI-tuned server.

use pgmq_conformance::LocalCluster;

use crate::system::Res;

/// The settings the harness's own cluster runs with. Everything else is the server's default
/// (autovacuum's thresholds, cost limits and naptime included).
pub(crate) const SETTINGS: &[(&str, &str)] = &[
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
    ("autovacuum", "on"),
    ("shared_buffers", "256MB"),
    // W5 runs 64 consumers and 4 producers per system, plus the harness' own pools.
    ("max_connections", "300"),
];

/// The server to benchmark: `url` if given (`--database-url`), else a cluster of our own
/// (kept alive by the returned value), else the test harness' server (`DATABASE_URL` or
/// testcontainers) with a warning that its settings are not the benchmark's.
pub(crate) fn choose(url: Option<&str>) -> Res<(Option<LocalCluster>, String)> {
    if let Some(url) = url {
        return Ok((None, url.to_owned()));
    }
    match LocalCluster::start(SETTINGS) {
        Ok(cluster) => {
            let url = cluster.url().to_owned();
            Ok((Some(cluster), url))
        }
        Err(why) => {
            eprintln!(
                "pgmq-bench: cannot start a cluster of its own ({why}); using the test server, \
                 whose settings may not be production-like (see the settings line)"
            );
            Ok((None, pgmq_conformance::harness::database_url()?))
        }
    }
}

/// The settings that decide what a benchmark measures, read from the server it ran on.
pub(crate) async fn settings(pool: &sqlx::PgPool) -> Res<String> {
    let (autovacuum, fsync, commit, buffers, version): (String, String, String, String, String) =
        sqlx::query_as(
            "SELECT current_setting('autovacuum'), current_setting('fsync'), \
                    current_setting('synchronous_commit'), current_setting('shared_buffers'), \
                    current_setting('server_version')",
        )
        .fetch_one(pool)
        .await?;
    Ok(format!(
        "autovacuum={autovacuum} fsync={fsync} synchronous_commit={commit} \
         shared_buffers={buffers} server_version={version}"
    ))
}
