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

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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
/// Keeps the throwaway cluster's supervisor (and its stdin pipe) alive for the process.
static KEEP_ALIVE: Mutex<Vec<Child>> = Mutex::new(Vec::new());

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

fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// A shell command, run as `postgres` when we are root.
fn shell(script: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn local_cluster() -> Result<String, String> {
    let bin = bin_dir().ok_or("initdb and postgres not found on PATH or in /usr/lib/postgresql")?;
    let as_postgres = is_root();
    if as_postgres {
        let has_user = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !has_user {
            return Err("running as root, and Postgres refuses root; no 'postgres' system user to run it as".into());
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "pgmq-rs-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if as_postgres {
        let status = Command::new("chown")
            .args(["postgres", &dir.display().to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("cannot chown {} to postgres", dir.display()));
        }
    }
    let data = dir.join("data");
    let initdb = format!(
        "{} -D {} -A trust -U postgres -E UTF8 --no-sync >{} 2>&1",
        sh_quote(&bin.join("initdb")),
        sh_quote(&data),
        sh_quote(&dir.join("initdb.log"))
    );
    let status = shell(&initdb, as_postgres)
        .status()
        .map_err(|e| format!("initdb: {e}"))?;
    if !status.success() {
        let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("initdb failed: {log}"));
    }
    let port = free_port()?;
    // The supervisor stops Postgres and removes the directory when our end of its stdin
    // closes, which happens however this process exits.
    let supervise = format!(
        "{pg} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
         >{log} 2>&1 & pid=$!; read _; kill -INT $pid; wait $pid; rm -rf {dir}",
        pg = sh_quote(&bin.join("postgres")),
        data = sh_quote(&data),
        dir = sh_quote(&dir),
        log = sh_quote(&dir.join("postgres.log")),
    );
    let child = shell(&supervise, as_postgres)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    KEEP_ALIVE
        .lock()
        .map_err(|_| "harness lock poisoned".to_owned())?
        .push(child);
    wait_ready(&bin, port, &dir)?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn wait_ready(bin: &Path, port: u16, dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let isready = bin.join("pg_isready");
    while Instant::now() < deadline {
        let ready = Command::new(&isready)
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
            ])
            .status();
        match ready {
            Ok(s) if s.success() => return Ok(()),
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() =>
            {
                // No pg_isready: the port answering is the best sign we have.
                std::thread::sleep(Duration::from_millis(300));
                return Ok(());
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
    Err(format!("postgres did not become ready in 30 s: {log}"))
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
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let userinfo = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}127.0.0.1:1{tail}")
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
