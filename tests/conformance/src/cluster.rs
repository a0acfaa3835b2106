//! [`LocalCluster`]: a throwaway Postgres cluster from local binaries, in a temporary
//! directory, that a test can restart (the torture run crashes it mid-run) and that is
//! stopped, its directory removed, when it is dropped or the process exits.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Postgres cluster of our own, started with `initdb` and `pg_ctl` from the newest local
/// installation (on `PATH` or under `/usr/lib/postgresql`).
///
/// Postgres refuses to run as root, so as root the cluster runs as the `postgres` system
/// user. A supervisor shell stops the server and removes the directory when our end of its
/// stdin closes: when this value is dropped, or however this process exits.
#[derive(Debug)]
pub struct LocalCluster {
    url: String,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    supervisor: Child,
}

impl LocalCluster {
    /// Initialises and starts a cluster listening on 127.0.0.1 at a free port, with trust
    /// authentication for `postgres`, and `settings` passed as `-c name=value`.
    ///
    /// # Errors
    /// No local binaries, root without a `postgres` user, or `initdb`/start failures; the
    /// message says which, with the server's log where there is one.
    pub fn start(settings: &[(&str, &str)]) -> Result<Self, String> {
        let bin =
            bin_dir().ok_or("initdb and pg_ctl not found on PATH or in /usr/lib/postgresql")?;
        let as_postgres = is_root();
        if as_postgres && !user_exists("postgres") {
            return Err("running as root, and Postgres refuses root; no 'postgres' system user to run it as".into());
        }
        let dir = std::env::temp_dir().join(format!(
            "pgmq-rs-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if as_postgres {
            let chown = Command::new("chown").arg("postgres").arg(&dir).status();
            if !chown.map(|s| s.success()).unwrap_or(false) {
                return Err(format!("cannot chown {} to postgres", dir.display()));
            }
        }
        let data = dir.join("data");
        let initdb = format!(
            "{} -D {} -A trust -U postgres -E UTF8 --no-sync >{} 2>&1",
            quote(&bin.join("initdb")),
            quote(&data),
            quote(&dir.join("initdb.log"))
        );
        if !shell(&initdb, as_postgres)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        {
            let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("initdb failed: {log}"));
        }
        let port = free_port()?;
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.display()
        );
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let pg_ctl = quote(&bin.join("pg_ctl"));
        let (data, log) = (quote(&data), quote(&dir.join("postgres.log")));
        let supervise = format!(
            "{pg_ctl} -D {data} -l {log} -o {opts} -w -t 60 start >/dev/null 2>&1; read _; \
             {pg_ctl} -D {data} -m immediate -w stop >/dev/null 2>&1; rm -rf {dir}",
            opts = quote(Path::new(&options)),
            dir = quote(&dir),
        );
        let supervisor = shell(&supervise, as_postgres)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        let cluster = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            port,
            as_postgres,
            supervisor,
        };
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// The `postgres://` URL of the cluster's `postgres` database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Crashes the server (`pg_ctl restart -m immediate`: every backend killed, crash
    /// recovery on start) and waits until it accepts connections again. Returns how long
    /// it was down.
    ///
    /// # Errors
    /// When `pg_ctl` fails or the server does not come back within 60 s.
    pub fn crash_restart(&self) -> Result<Duration, String> {
        let began = Instant::now();
        let restart = format!(
            "{} -D {} -l {} -m immediate -w -t 60 restart >/dev/null 2>&1",
            quote(&self.bin.join("pg_ctl")),
            quote(&self.dir.join("data")),
            quote(&self.dir.join("postgres.log")),
        );
        let ok = shell(&restart, self.as_postgres)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(format!("pg_ctl restart failed: {}", self.log_tail()));
        }
        self.wait_ready(Duration::from_secs(60))?;
        Ok(began.elapsed())
    }

    fn wait_ready(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let isready = self.bin.join("pg_isready");
        let port = self.port.to_string();
        while Instant::now() < deadline {
            let ready = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
                .status();
            match ready {
                Ok(s) if s.success() => return Ok(()),
                Err(e)
                    if e.kind() == ErrorKind::NotFound
                        && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() =>
                {
                    // No pg_isready: the port answering is the best sign we have.
                    std::thread::sleep(Duration::from_millis(300));
                    return Ok(());
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "postgres did not become ready in {within:?}: {}",
            self.log_tail()
        ))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // Closing stdin lets the supervisor stop the server and remove the directory.
        drop(self.supervisor.stdin.take());
        let _ = self.supervisor.wait();
    }
}

fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
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

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .args(["-u", name])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// A shell command, run as `postgres` when we are root.
fn shell(script: &str, as_postgres: bool) -> Command {
    let mut c = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]);
        c.arg("sh");
        c
    } else {
        Command::new("sh")
    };
    c.args(["-c", script]);
    c
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
