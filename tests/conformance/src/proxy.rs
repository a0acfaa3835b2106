//! A TCP proxy in front of the test's Postgres whose connections can be silenced: bytes stop
//! flowing both ways while both sockets stay open, as when a NAT gateway or load balancer
//! forgets a connection without telling either end. Neither the client nor the server sees
//! an error; only a round trip that never completes gives it away.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How much of what a client sends each link keeps, to find the link by (a listening
/// connection's `LISTEN` comes early and is short).
const KEPT: usize = 64 * 1024;

/// One client connection and its connection to the server.
struct Link {
    /// The first [`KEPT`] bytes the client sent.
    sent: Arc<Mutex<Vec<u8>>>,
    silenced: Arc<AtomicBool>,
}

/// The proxy; dropping it closes every connection it made.
pub struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<Link>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Proxy {
    /// A proxy on a free local port, forwarding each connection to the host and port of
    /// `url` (a `postgres://` URL; port 5432 when it names none).
    ///
    /// # Panics
    /// When it cannot bind a local port or `url` names no host.
    pub async fn start(url: &str) -> Self {
        let upstream = upstream_of(url);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let links: Arc<Mutex<Vec<Link>>> = Arc::default();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (links, tasks) = (Arc::clone(&links), Arc::clone(&tasks));
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let link = Link {
                        sent: Arc::default(),
                        silenced: Arc::default(),
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let up = forward(
                        client_read,
                        server_write,
                        Some(Arc::clone(&link.sent)),
                        Arc::clone(&link.silenced),
                    );
                    let down = forward(server_read, client_write, None, Arc::clone(&link.silenced));
                    lock(&links).push(link);
                    let mut tasks = lock(&tasks);
                    tasks.push(tokio::spawn(up));
                    tasks.push(tokio::spawn(down));
                }
            })
        };
        lock(&tasks).push(accept);
        Self { addr, links, tasks }
    }

    /// `url` pointed at this proxy, keeping its user, database and parameters.
    pub fn url(&self, url: &str) -> String {
        crate::harness::url_at(url, &self.addr.to_string())
    }

    /// Silences every connection whose client has sent `text` so far; how many it silenced.
    pub fn silence(&self, text: &str) -> usize {
        let needle = text.as_bytes();
        let mut silenced = 0;
        for link in lock(&self.links).iter() {
            let sent = lock(&link.sent);
            if sent.windows(needle.len()).any(|w| w == needle) {
                link.silenced.store(true, Ordering::SeqCst);
                silenced += 1;
            }
        }
        silenced
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Copies `from` to `to` until either end closes; once silenced, drops what arrives and
/// keeps both sockets open (until the proxy is dropped). Keeps the first [`KEPT`] bytes in
/// `keep`.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    keep: Option<Arc<Mutex<Vec<u8>>>>,
    silenced: Arc<AtomicBool>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silenced.load(Ordering::SeqCst) {
            // Hold both halves: the other end must see no close either.
            let _held = (from, to);
            return std::future::pending().await;
        }
        if let Some(keep) = &keep {
            let mut kept = lock(keep);
            let room = KEPT.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `host:port` of a `postgres://` URL.
fn upstream_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    assert!(!host_port.is_empty(), "the test URL names no host: {url}");
    if host_port.ends_with(']') || !host_port.contains(':') {
        format!("{host_port}:5432")
    } else {
        host_port.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::upstream_of;

    #[test]
    fn the_upstream_is_the_urls_host_and_port() {
        assert_eq!(
            upstream_of("postgres://u:p@127.0.0.1:5499/db?x=1"),
            "127.0.0.1:5499"
        );
        assert_eq!(upstream_of("postgres://u@localhost/db"), "localhost:5432");
        assert_eq!(upstream_of("postgresql://[::1]:6000/db"), "[::1]:6000");
    }
}
