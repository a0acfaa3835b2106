//! Interoperability with the pgmq Postgres extension 1.13, on every backend.
//!
//! The extension is installed the way its Rust crate installs it without `CREATE EXTENSION`:
//! `pgmq::install::install_sql_from_embedded` runs the `pgmq.sql` embedded in the `pgmq`
//! crate (feature `install-sql-embedded`, already a dependency of this harness) on a fresh
//! database made for each check and dropped after it. The checks call the extension's SQL
//! functions with plain SQL, as clients in other languages do, and this library through
//! `Arc<dyn pgmq_core::Queue>` on sqlx, tokio-postgres and diesel-async. Partitioned queues
//! are checked only where the server offers pg_partman (otherwise a note goes to stderr).
//!
//! ```text
//! cargo test -p pgmq-bench --test interop
//! ```

mod extension;
mod extension_queues;
mod fixture;
mod install_order;
mod notifications;
mod our_queues;
mod topics;

use extension_queues::extension_queues_work_through_this_library;
use install_order::{
    the_extension_installs_over_this_library, this_library_installs_over_the_extension,
};
use notifications::{
    extension_notifications_wake_our_waiting_readers, our_notifications_reach_a_plain_listen,
};
use our_queues::our_queues_work_through_the_extension_functions;
use topics::{topics_route_across_both_extension_first, topics_route_across_both_library_first};

/// One `#[tokio::test]` per check, in a module named after the backend.
macro_rules! on_backend {
    ($module:ident, $backend:ident: $($check:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    $crate::fixture::run($crate::fixture::Backend::$backend, super::$check).await;
                }
            )+
        }
    };
}

macro_rules! on_every_backend {
    ($($check:ident),+ $(,)?) => {
        on_backend!(on_sqlx, Sqlx: $($check),+);
        on_backend!(on_tokio_postgres, TokioPostgres: $($check),+);
        on_backend!(on_diesel, Diesel: $($check),+);
    };
}

on_every_backend!(
    our_queues_work_through_the_extension_functions,
    extension_queues_work_through_this_library,
    this_library_installs_over_the_extension,
    the_extension_installs_over_this_library,
    extension_notifications_wake_our_waiting_readers,
    our_notifications_reach_a_plain_listen,
    topics_route_across_both_extension_first,
    topics_route_across_both_library_first,
);
