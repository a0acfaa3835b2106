//! Ctrl-C for the long-running commands (`redrive`, `metrics --watch`): the first one asks
//! them to stop at the next safe point; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Whether Ctrl-C has been pressed, shared with the task that listens for it.
#[derive(Clone, Debug)]
pub(crate) struct Interrupt {
    pressed: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Interrupt {
    /// Starts listening for Ctrl-C.
    pub(crate) fn on_ctrl_c() -> Self {
        let interrupt = Self {
            pressed: Arc::new(AtomicBool::new(false)),
            notify: Arc::new(Notify::new()),
        };
        let listener = interrupt.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if listener.pressed.swap(true, Ordering::SeqCst) {
                    // The command did not reach a safe point (a statement hangs, say): the
                    // operator insists.
                    eprintln!("error: interrupted twice; stopped at once");
                    std::process::exit(130);
                }
                listener.notify.notify_waiters();
            }
        });
        interrupt
    }

    /// Whether Ctrl-C has been pressed.
    pub(crate) fn pressed(&self) -> bool {
        self.pressed.load(Ordering::SeqCst)
    }

    /// Waits until Ctrl-C is pressed (returns at once if it has been).
    pub(crate) async fn wait(&self) {
        // Created before the check, so a press in between is not missed.
        let notified = self.notify.notified();
        if self.pressed() {
            return;
        }
        notified.await;
    }
}
