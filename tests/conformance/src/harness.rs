//! Finds a Postgres for tests and examples, in this order:
//!
//! 1. `DATABASE_URL`, when set;
//! 2. local Postgres binaries (`initdb`, `postgres`): a throwaway cluster in a temporary
//!    directory, started once per process and stopped (its directory removed) when the
//!    process exits. Postgres refuses to run as root, so as root the cluster runs as the
//!    `postgres` system user when there is one, and this step is skipped when there is not;
//! 3. testcontainers, when Docker is available (feature `testcontainers`, on by default).
//!
//! If none works, [`database_url`] says what each step found and what to set.

use std::sync::{Mutex, OnceLock};

use crate::cluster::LocalCluster;

/// Why no Postgres could be found or started.
#[derive(Debug, Clone)]
pub struct HarnessError(String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

static URL: OnceLock<Result<String, HarnessError>> = OnceLock::new();
/// Keeps the throwaway cluster alive for the process (statics are never dropped; its
/// supervisor stops it when the process exits).
static KEEP_ALIVE: Mutex<Vec<LocalCluster>> = Mutex::new(Vec::new());

/// A connection URL for a Postgres to test against, found once per process.
///
/// Blocks while a throwaway cluster or container starts (a few seconds, the first time).
///
/// # Errors
/// When `DATABASE_URL` is unset and neither local binaries nor Docker could provide a
/// Postgres; the message lists what each step found.
pub fn database_url() -> Result<String, HarnessError> {
    URL.get_or_init(resolve).clone()
}

fn resolve() -> Result<String, HarnessError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    let mut tried = vec!["DATABASE_URL is not set".to_owned()];
    match local_cluster() {
        Ok(url) => return Ok(url),
        Err(why) => tried.push(format!("local Postgres binaries: {why}")),
    }
    match container() {
        Ok(url) => return Ok(url),
        Err(why) => tried.push(format!("testcontainers: {why}")),
    }
    Err(HarnessError(format!(
        "no Postgres to test against. Set DATABASE_URL=postgres://user:password@host:port/db \
         (any Postgres 14+), install Postgres binaries (initdb on PATH or under \
         /usr/lib/postgresql), or start Docker. Tried: {}",
        tried.join("; ")
    )))
}

/// The throwaway cluster's settings: durability off, since test data is disposable.
const TEST_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "200"),
];

fn local_cluster() -> Result<String, String> {
    let cluster = LocalCluster::start(TEST_SETTINGS)?;
    let url = cluster.url().to_owned();
    KEEP_ALIVE
        .lock()
        .map_err(|_| "harness lock poisoned".to_owned())?
        .push(cluster);
    Ok(url)
}

#[cfg(feature = "testcontainers")]
fn container() -> Result<String, String> {
    use testcontainers_modules::postgres::Postgres;
    use testcontainers_modules::testcontainers::runners::SyncRunner;

    static CONTAINER: OnceLock<Mutex<Vec<Box<dyn std::any::Any + Send>>>> = OnceLock::new();
    let node = Postgres::default()
        .start()
        .map_err(|e| format!("could not start a container (is Docker running?): {e}"))?;
    let host = node.get_host().map_err(|e| e.to_string())?;
    let port = node.get_host_port_ipv4(5432).map_err(|e| e.to_string())?;
    let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
    CONTAINER
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .map_err(|_| "harness lock poisoned".to_owned())?
        .push(Box::new(node));
    Ok(url)
}

#[cfg(not(feature = "testcontainers"))]
fn container() -> Result<String, String> {
    Err("the `testcontainers` feature of pgmq-conformance is off".into())
}

/// `url` (a `postgres://` URL) pointed at a port where nothing listens (127.0.0.1:1),
/// keeping its user, database and parameters.
pub fn unreachable_url(url: &str) -> String {
    url_at(url, "127.0.0.1:1")
}

/// `url` (a `postgres://` URL) pointed at `host_port`, keeping its user, database and
/// parameters.
pub fn url_at(url: &str, host_port: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let userinfo = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{host_port}{tail}")
}

/// `url` (a `postgres://` URL) with a server-side `statement_timeout` of `millis` for every
/// connection made from it, through the standard `options` parameter.
pub fn statement_timeout_url(url: &str, millis: u64) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20statement_timeout%3D{millis}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_keeping_user_database_and_parameters() {
        let url = "postgres://app:secret@db.internal:6543/orders?sslmode=disable";
        assert_eq!(
            unreachable_url(url),
            "postgres://app:secret@127.0.0.1:1/orders?sslmode=disable"
        );
        assert_eq!(
            unreachable_url("postgresql://h/db"),
            "postgresql://127.0.0.1:1/db"
        );
        assert_eq!(
            statement_timeout_url(url, 50),
            "postgres://app:secret@db.internal:6543/orders?sslmode=disable&options=-c%20statement_timeout%3D50"
        );
        assert_eq!(
            statement_timeout_url("postgres://h/db", 5),
            "postgres://h/db?options=-c%20statement_timeout%3D5"
        );
    }
}
