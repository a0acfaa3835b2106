//! The conformance suite every pgmq-rs backend must pass, run against a real Postgres.
//!
//! Each check in [`cases`] is a plain `pub async fn` named after the behaviour it proves. The
//! [`conformance_tests!`] macro expands all of them into `#[test]` functions for one backend,
//! so a backend's whole `tests/conformance.rs` is one macro call:
//!
//! ```text
//! pgmq_conformance::conformance_tests! {
//!     queue: |url: String| async move { MyQueue::connect(&url).await },
//!     transactions: |url: String| async move { MyTxBackend::connect(&url).await },
//! }
//! ```
//!
//! `queue` turns a database URL into a `pgmq_core::Result` of anything that implements
//! [`Queue`]; `transactions` into a `Result` of a [`TransactionalBackend`]. Connecting must
//! report an unreachable server as `Error::Connection` (a case checks it), and connections
//! made from a URL must honour its `options` parameter (a case sets `statement_timeout`
//! through it). The URL comes from [`harness::database_url`]
//! (`DATABASE_URL`, else a throwaway local cluster, else testcontainers). Every case works on
//! its own uniquely named queue, so the suite runs in parallel.

mod blocking;
pub mod cases;
pub mod harness;

pub use blocking::SpawnBlocking;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use pgmq_core::{Queue, QueueName};

/// A backend that can run queue operations inside the caller's own transaction.
#[async_trait]
pub trait TransactionalBackend: Send + Sync {
    /// A queue outside any transaction (e.g. on a pool), to look at committed state.
    fn queue(&self) -> &dyn Queue;

    /// Begins a transaction and returns a queue bound to it.
    async fn begin(&self) -> pgmq_core::Result<Box<dyn TransactionQueue + '_>>;
}

/// A queue bound to an open transaction.
#[async_trait]
pub trait TransactionQueue: Send + Sync {
    /// The queue, inside the transaction.
    fn queue(&self) -> &dyn Queue;

    /// Commits.
    async fn commit(self: Box<Self>) -> pgmq_core::Result<()>;

    /// Rolls back.
    async fn rollback(self: Box<Self>) -> pgmq_core::Result<()>;
}

/// A queue name no other test in any process is using: `<tag>_<unique suffix>`.
pub fn unique_queue_name(tag: &str) -> QueueName {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let suffix = format!("{:x}{:x}{n:x}", std::process::id(), nanos);
    let room = QueueName::MAX_LEN - suffix.len() - 1;
    let tag: String = tag.chars().take(room).collect();
    QueueName::new(format!("{tag}_{suffix}")).expect("generated names are valid")
}

/// Creates a queue under a fresh [`unique_queue_name`] on `queue` and returns its name; panics
/// (failing the test) if it cannot.
pub async fn fresh_queue(queue: &dyn Queue, tag: &str) -> QueueName {
    let name = unique_queue_name(tag);
    queue
        .create(&name, pgmq_core::CreateOptions::new())
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    name
}

/// Runs a future to completion on a fresh runtime; the macro's tests call this.
#[doc(hidden)]
pub fn __run<F: Future<Output = ()>>(future: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future);
}

/// The database URL for a test, or a panic that explains how to provide one.
#[doc(hidden)]
pub fn __url() -> String {
    match harness::database_url() {
        Ok(url) => url,
        Err(e) => panic!("{e}"),
    }
}

#[doc(hidden)]
pub use tokio as __tokio;

/// Expands every conformance case into a `#[test]` for one backend. See the crate docs.
#[macro_export]
macro_rules! conformance_tests {
    (queue: $queue:expr, transactions: $tx:expr $(,)?) => {
        $crate::__queue_cases!($queue;
            queue_name_accepts_valid_names_and_lowercases,
            queue_name_rejects_hostile_and_malformed_names,
            queue_names_are_case_insensitive,
            install_is_idempotent_and_concurrent,
            create_is_idempotent,
            create_concurrently_from_many_tasks_succeeds,
            create_unlogged_marks_the_queue_unlogged,
            list_queues_includes_a_created_queue,
            drop_queue_returns_whether_it_existed,
            drop_queue_of_unknown_queue_returns_false,
            purge_returns_the_count_and_empties_the_queue,
            purge_of_unknown_queue_is_queue_not_found,
            send_returns_increasing_ids,
            send_to_unknown_queue_is_queue_not_found,
            send_round_trips_every_json_shape,
            send_with_headers_round_trips_them,
            send_with_delay_in_seconds_hides_the_message_until_due,
            send_with_delay_until_a_timestamp_hides_the_message_until_due,
            send_with_negative_delay_is_rejected_and_writes_nothing,
            send_of_nul_character_is_rejected_and_writes_nothing,
            send_batch_returns_ids_in_input_order,
            send_batch_applies_delay_and_headers_to_every_message,
            send_batch_of_nothing_returns_nothing_without_touching_the_database,
            send_batch_above_the_maximum_is_rejected_and_writes_nothing,
            send_batch_with_one_unserializable_message_writes_nothing,
            read_of_empty_queue_returns_nothing,
            read_returns_the_oldest_visible_message_first,
            read_hides_the_message_and_counts_the_read,
            read_after_visibility_expiry_redelivers_with_read_ct_2,
            read_returns_at_most_the_quantity_asked,
            read_with_zero_quantity_is_rejected,
            read_with_quantity_above_the_maximum_is_rejected,
            read_with_negative_visibility_timeout_is_rejected,
            read_with_filter_returns_only_matching_messages,
            read_with_wait_returns_a_message_sent_while_waiting,
            read_with_wait_returns_empty_after_the_wait,
            read_of_unknown_queue_is_queue_not_found,
            read_as_wrong_type_names_the_message_and_keeps_it,
            concurrent_readers_never_get_the_same_message,
            pop_returns_and_removes_messages,
            pop_of_empty_queue_returns_nothing,
            pop_json_claims_and_deletes_atomically,
            pop_as_wrong_type_keeps_the_message,
            set_vt_in_seconds_hides_the_message,
            set_vt_to_a_timestamp_makes_the_message_visible,
            set_vt_batch_returns_only_existing_messages,
            set_vt_with_negative_seconds_is_rejected,
            delete_returns_whether_it_acted,
            delete_batch_returns_only_the_ids_removed,
            archive_keeps_the_row_with_archived_at,
            archive_batch_returns_only_the_ids_archived,
            acknowledging_more_ids_than_the_maximum_is_rejected,
            metrics_report_lengths_ages_and_totals,
            metrics_of_an_empty_queue_have_no_ages,
            metrics_all_includes_every_queue,
            metrics_of_unknown_queue_is_queue_not_found,
        );
        $crate::__tx_cases!($tx;
            send_in_a_rolled_back_transaction_never_appears,
            send_in_a_committed_transaction_appears,
            delete_in_a_rolled_back_transaction_leaves_the_message,
            archive_in_a_committed_transaction_takes_effect,
        );

        #[test]
        fn unreachable_postgres_is_a_connection_error() {
            $crate::__run(async {
                $crate::cases::unreachable_postgres_is_a_connection_error($crate::__url(), $queue)
                    .await;
            });
        }

        #[test]
        fn statement_timeout_is_query_canceled() {
            $crate::__run(async {
                let url = $crate::__url();
                let backend = ($tx)(url.clone()).await.expect("connect the backend");
                $crate::cases::statement_timeout_is_query_canceled(&backend, url, $queue).await;
            });
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __queue_cases {
    ($queue:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::__run(async {
                    let backend = ($queue)($crate::__url()).await.expect("connect the backend");
                    $crate::cases::$case(&backend).await;
                });
            }
        )*
        /// How many conformance cases this backend runs.
        #[allow(dead_code)]
        const CONFORMANCE_QUEUE_CASES: usize = [$(stringify!($case)),*].len();
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tx_cases {
    ($tx:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::__run(async {
                    let backend = ($tx)($crate::__url()).await.expect("connect the backend");
                    $crate::cases::$case(&backend).await;
                });
            }
        )*
    };
}
