//! [`conformance_tests!`](crate::conformance_tests): the one list of cases, expanded into
//! tests for one backend. Only `$crate::` paths inside, so it works from any crate.

/// Expands every conformance case into a `#[test]` for one backend. See the crate docs.
///
/// Three keys, in this order, each a factory or `unsupported("why")`:
/// - `queue`: `|url: String| async { … }` to a `pgmq_core::Result` of a [`Queue`](pgmq_core::Queue)
///   that is `'static` (the batching producer's cases own it, as an `Arc<dyn Queue>`);
/// - `pool`: `|url: String, wait: Duration| async { … }` to a `Result` of a `Queue` on a pool
///   of exactly one connection that waits at most `wait` for it;
/// - `transactions`: `|url: String| async { … }` to a `Result` of a
///   [`TransactionalBackend`](crate::TransactionalBackend).
///
/// Cases that need a capability declared `unsupported` are still generated, as ignored tests
/// whose reason is the one given, so they show as skipped, never as passed.
#[macro_export]
macro_rules! conformance_tests {
    (queue: $queue:expr, pool: $($rest:tt)*) => {
        $crate::__conformance_parse! { [$queue] pool: $($rest)* }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_parse {
    ([$queue:expr] pool: unsupported($why:literal), $($rest:tt)*) => {
        $crate::__conformance_parse! { [$queue] [none($why)] $($rest)* }
    };
    ([$queue:expr] pool: $pool:expr, $($rest:tt)*) => {
        $crate::__conformance_parse! { [$queue] [some($pool)] $($rest)* }
    };
    ([$queue:expr] [$($pool:tt)*] transactions: unsupported($why:literal) $(,)?) => {
        $crate::__conformance_expand! { [$queue] [$($pool)*] [none($why)] }
    };
    ([$queue:expr] [$($pool:tt)*] transactions: $tx:expr $(,)?) => {
        $crate::__conformance_expand! { [$queue] [$($pool)*] [some($tx)] }
    };
}

/// The case list. A generated test checks it against the `pub async fn`s of `src/cases`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_expand {
    ([$queue:expr] [$($pool:tt)*] [$($tx:tt)*]) => {
        $crate::__queue_cases!($queue;
            queue_name_accepts_valid_names_and_lowercases,
            queue_name_rejects_hostile_and_malformed_names,
            queue_names_are_case_insensitive,
            queue_name_corpus_is_rejected_or_makes_a_safe_identifier,
            a_name_clashing_with_another_queues_objects_fails_and_harms_nothing,
            a_queue_created_after_one_named_like_its_sequence_keeps_its_metrics,
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
            send_with_delay_above_the_maximum_is_rejected_and_writes_nothing,
            send_of_nul_character_is_rejected_and_writes_nothing,
            send_batch_returns_ids_in_input_order,
            send_batch_applies_delay_and_headers_to_every_message,
            send_batch_of_nothing_returns_nothing_without_touching_the_database,
            send_batch_above_the_maximum_is_rejected_and_writes_nothing,
            send_batch_with_one_unserializable_message_writes_nothing,
            a_message_nested_deeper_than_a_read_decodes_is_rejected_and_nothing_written,
            hostile_strings_round_trip_and_a_nul_anywhere_is_rejected,
            a_message_of_exactly_the_maximum_size_is_accepted_and_one_byte_more_is_not,
            read_of_empty_queue_returns_nothing,
            read_returns_the_oldest_visible_message_first,
            read_hides_the_message_and_counts_the_read,
            read_after_visibility_expiry_redelivers_with_read_ct_2,
            read_returns_at_most_the_quantity_asked,
            read_with_zero_quantity_is_rejected,
            read_with_quantity_above_the_maximum_is_rejected,
            read_with_visibility_timeout_above_the_maximum_is_rejected,
            read_with_a_wait_above_the_maximum_is_rejected,
            read_with_filter_returns_only_matching_messages,
            read_with_wait_returns_a_message_sent_while_waiting,
            read_with_wait_returns_empty_after_the_wait,
            read_of_unknown_queue_is_queue_not_found,
            read_as_wrong_type_names_the_message_and_keeps_it,
            concurrent_readers_never_get_the_same_message,
            peek_returns_visible_messages_in_read_order_without_claiming_them,
            peek_skips_delayed_and_in_flight_messages,
            peek_shows_a_message_past_its_receive_count_without_moving_it,
            peek_of_unknown_queue_is_queue_not_found,
            peek_with_quantity_outside_the_limits_is_rejected,
            pop_returns_and_removes_messages,
            pop_of_empty_queue_returns_nothing,
            pop_json_claims_and_deletes_atomically,
            pop_as_wrong_type_keeps_the_message,
            set_vt_in_seconds_hides_the_message,
            set_vt_to_a_timestamp_makes_the_message_visible,
            set_vt_batch_returns_only_existing_messages,
            set_vt_above_the_maximum_is_rejected,
            delete_returns_whether_it_acted,
            delete_batch_returns_only_the_ids_removed,
            archive_keeps_the_row_with_archived_at,
            archive_batch_returns_only_the_ids_archived,
            acknowledging_more_ids_than_the_maximum_is_rejected,
            a_read_message_carries_its_receipt,
            delete_with_a_fresh_receipt_acts,
            archive_with_a_fresh_receipt_acts,
            set_vt_with_a_receipt_extends_and_keeps_the_receipt_valid,
            a_receipt_still_acts_after_its_timeout_if_nobody_read_the_message,
            a_receipt_goes_stale_once_the_message_is_read_again,
            a_receipt_for_a_missing_message_is_stale_not_an_error,
            delete_receipts_answers_each_receipt_in_input_order,
            archive_receipts_answers_each_receipt_in_input_order,
            set_vt_receipts_answers_each_receipt_in_input_order,
            a_receipt_round_trips_through_serde_json,
            acknowledging_more_receipts_than_the_maximum_is_rejected,
            receipts_on_an_unknown_queue_are_queue_not_found,
            forged_receipts_are_stale_and_change_nothing,
            a_receipt_from_another_queue_is_stale_and_leaves_both_queues_alone,
            metrics_report_lengths_ages_and_totals,
            metrics_of_an_empty_queue_have_no_ages,
            metrics_all_includes_every_queue,
            metrics_of_unknown_queue_is_queue_not_found,
            metrics_count_visible_in_flight_and_delayed,
            metrics_report_the_age_of_the_oldest_visible_message,
            metrics_all_returns_every_queue_in_one_call,
            attributes_round_trip_and_start_empty,
            create_with_attributes_sets_them_and_drop_removes_them,
            attributes_of_unknown_queue_is_queue_not_found,
            invalid_attributes_are_rejected_and_change_nothing,
            default_visibility_timeout_applies_when_a_read_gives_none,
            default_delay_applies_when_a_send_gives_none,
            a_message_over_the_maximum_size_is_rejected_and_nothing_written,
            trim_archive_deletes_only_what_is_older_than_the_retention,
            a_message_is_dead_lettered_on_the_read_that_exceeds_the_count,
            a_read_that_dead_letters_still_returns_the_next_message,
            concurrent_readers_at_the_threshold_never_get_a_dead_letter,
            redrive_moves_dead_letters_back_to_their_sources,
            redrive_interrupted_halfway_then_resumed_loses_and_duplicates_nothing,
            redrive_to_a_named_queue_honours_the_rate,
            redrive_bad_input_is_rejected_and_moves_nothing,
            a_waiting_read_wakes_soon_after_a_send,
            many_waiting_reads_each_get_one_of_a_batch,
            a_waiting_read_wakes_when_a_delayed_message_becomes_visible,
            a_subscription_wakes_on_a_send_to_its_queue,
            readiness_reports_the_next_message_and_the_notifications,
            a_queue_without_notifications_is_polled,
            a_throttled_send_still_reaches_a_waiting_reader,
            a_reader_arriving_inside_the_throttle_window_gets_a_silent_send,
            a_reader_looks_again_when_the_throttle_window_closes,
            notification_settings_reject_bad_input,
            a_typed_read_with_a_wait_gets_a_later_send,
            grouped_reads_fill_a_batch_as_the_extension_does,
            a_group_is_blocked_while_its_oldest_message_is_in_flight,
            messages_without_a_group_share_one_group_as_in_the_extension,
            a_filtered_grouped_read_serves_a_group_only_from_its_oldest_message,
            grouped_read_bad_input_is_rejected,
            create_fifo_index_is_idempotent_and_needs_the_queue,
            concurrent_grouped_readers_never_share_a_group,
            a_waiting_grouped_read_wakes_on_a_send,
            a_grouped_read_dead_letters_instead_of_handing_out,
            topic_bindings_round_trip_through_bind_list_and_unbind,
            send_topic_reaches_exactly_the_matching_queues,
            a_key_no_binding_matches_sends_nothing_and_returns_zero,
            send_batch_topic_delivers_every_message_to_every_matching_queue,
            test_routing_agrees_with_send_topic_and_the_pattern_matcher,
            bind_topic_to_an_unknown_queue_is_queue_not_found,
            dropping_a_queue_drops_its_bindings,
            send_topic_applies_each_queues_default_delay_and_size_limit,
            bad_routing_input_is_rejected_before_sql_and_writes_nothing,
            a_send_by_topic_wakes_each_reached_queues_subscribers,
            a_queue_partitioned_by_id_works_across_partitions,
            a_queue_partitioned_by_time_works,
            a_waiting_read_on_a_partitioned_queue_wakes_on_a_send,
            partition_maintenance_adds_partitions_ahead_and_drops_old_ones,
            dropping_a_partitioned_queue_clears_its_partman_configuration,
            bad_partition_settings_are_rejected_and_create_nothing,
            convert_archive_partitioned_partitions_a_plain_archive,
            create_tunes_a_new_queues_tables_for_churn,
            create_with_custom_or_no_storage_tuning_gives_the_tables_exactly_that,
            set_storage_tunes_an_existing_queue_idempotently_and_keeps_its_messages,
            bad_storage_parameters_are_rejected_and_change_nothing,
            vacuum_runs_on_a_queue_with_dead_rows,
            a_partitioned_queue_gets_its_storage_parameters_on_every_partition,
        );
        $crate::__owned_cases!($queue;
            batching_producer_gives_each_concurrent_sender_its_own_id,
            batching_producer_keeps_send_order_within_each_batch,
            batching_producer_sends_many_messages_in_few_statements,
            batching_producer_fails_only_the_sender_of_a_nul_message,
            batching_producer_fails_only_the_senders_of_oversized_messages,
            batching_producer_to_unknown_queue_fails_every_sender,
            batching_producer_flushes_when_its_last_handle_is_dropped,
            batching_producer_rejects_invalid_options,
            headers_that_cannot_be_stored_are_rejected_and_nothing_written,
            worker_processes_each_message_once_and_coalesces_its_acks,
            a_grouped_worker_handles_each_group_in_order_one_at_a_time,
            worker_retries_a_failed_message_after_its_backoff,
            worker_survives_a_panicking_handler_and_retries_its_message,
            worker_heartbeats_keep_a_slow_handlers_claim,
            worker_shutdown_waits_for_handlers_in_flight_and_acks_them,
            worker_runs_at_most_concurrency_handlers_and_reads_ahead_a_bounded_few,
            worker_shutdown_handles_messages_read_ahead,
            worker_aborts_handlers_past_the_grace_period_and_releases_them,
            worker_leaves_an_always_failing_message_to_the_dead_letter_queue,
            worker_rejects_invalid_options_and_unknown_queues,
            worker_messages_hands_out_each_message_once_and_waits_when_empty,
            worker_archives_acknowledged_messages_when_asked,
            worker_wakes_on_a_send_to_its_idle_queue,
            worker_vacuums_its_queue_table_every_n_messages,
        );
        $crate::__tx_cases!([$($tx)*];
            send_in_a_rolled_back_transaction_never_appears,
            send_in_a_committed_transaction_appears,
            delete_in_a_rolled_back_transaction_leaves_the_message,
            archive_in_a_committed_transaction_takes_effect,
            keyword_names_round_trip_in_a_transaction,
            a_rejected_send_leaves_the_callers_transaction_usable,
            send_topic_in_a_rolled_back_transaction_writes_nothing,
            vacuum_inside_a_transaction_is_the_databases_25001,
            sends_to_two_queues_in_opposite_orders_do_not_deadlock,
        );

        #[test]
        fn unreachable_postgres_is_a_connection_error() {
            $crate::__run(async {
                $crate::cases::unreachable_postgres_is_a_connection_error($crate::__url(), $queue)
                    .await;
            });
        }

        $crate::__with_tx!([$($tx)*] statement_timeout_is_query_canceled |backend| {
            $crate::cases::statement_timeout_is_query_canceled(&backend, $crate::__url(), $queue)
                .await;
        });

        $crate::__pool_case!([$($pool)*] [$($tx)*]);

        /// The cases above are every `pub async fn` of the suite: none forgotten, none extra.
        #[test]
        fn conformance_case_list_is_complete() {
            $crate::__check_case_list(&[
                "unreachable_postgres_is_a_connection_error",
                "statement_timeout_is_query_canceled",
                "an_exhausted_pool_is_a_pool_timeout",
            ], &[__QUEUE_CASES, __OWNED_CASES, __TX_CASES]);
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
        const __QUEUE_CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

/// Cases that own the backend, as `Arc<dyn Queue>` (the batching producer's background task
/// holds its queue), so the `queue` factory's value must be `'static`.
#[doc(hidden)]
#[macro_export]
macro_rules! __owned_cases {
    ($queue:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::__run(async {
                    let backend = ($queue)($crate::__url()).await.expect("connect the backend");
                    $crate::cases::$case(::std::sync::Arc::new(backend)).await;
                });
            }
        )*
        const __OWNED_CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tx_cases {
    ($tx:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_tx!($tx $case |backend| {
                $crate::cases::$case(&backend).await;
            });
        )*
        const __TX_CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

/// One test that needs a transactional backend: run with it, or ignored with the reason.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_tx {
    ([some($tx:expr)] $case:ident |$backend:ident| $body:block) => {
        #[test]
        fn $case() {
            $crate::__run(async {
                let $backend = ($tx)($crate::__url()).await.expect("connect the backend");
                $body
            });
        }
    };
    ([none($why:literal)] $case:ident |$backend:ident| $body:block) => {
        #[test]
        #[ignore = $why]
        fn $case() {
            panic!(concat!("skipped: the backend has no transactions: ", $why));
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __pool_case {
    ([some($pool:expr)] [some($tx:expr)]) => {
        #[test]
        fn an_exhausted_pool_is_a_pool_timeout() {
            $crate::__run(async {
                let backend = ($tx)($crate::__url()).await.expect("connect the backend");
                $crate::cases::an_exhausted_pool_is_a_pool_timeout(
                    &backend,
                    $crate::__url(),
                    $pool,
                )
                .await;
            });
        }
    };
    ([none($why:literal)] [$($tx:tt)*]) => {
        #[test]
        #[ignore = $why]
        fn an_exhausted_pool_is_a_pool_timeout() {
            panic!(concat!("skipped: the backend has no pool: ", $why));
        }
    };
    ([some($pool:expr)] [none($why:literal)]) => {
        #[test]
        #[ignore = $why]
        fn an_exhausted_pool_is_a_pool_timeout() {
            panic!(concat!(
                "skipped: this case holds a lock in a transaction: ",
                $why
            ));
        }
    };
}

/// Expands every check of [`listening`](crate::listening) into a `#[tokio::test]` for one
/// backend, so each adapter lists none of them by hand.
///
/// - `queue`: an expression that is a future of the backend's pool-backed queue (with its
///   listener), e.g. `queue()`;
/// - `sql`: a closure from `&` that queue to a [`listening::Sql`](crate::listening::Sql)
///   running text on a connection of the test's own;
/// - `connect` (optional): a function from a URL and a
///   [`Liveness`](pgmq_core::adapter::Liveness) to a future of that queue made on the URL,
///   its listening connection checked as that says, for the checks of quiet listening
///   connections
///   ([`a_silently_dropped_listening_connection_is_replaced`](crate::listening::a_silently_dropped_listening_connection_is_replaced),
///   [`a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one`](crate::listening::a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one),
///   [`a_worker_recovers_from_a_silently_dropped_listening_connection`](crate::listening::a_worker_recovers_from_a_silently_dropped_listening_connection),
///   [`a_queue_nobody_waits_on_is_let_go_of`](crate::listening::a_queue_nobody_waits_on_is_let_go_of),
///   [`a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on`](crate::listening::a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on),
///   and
///   [`a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once`](crate::listening::a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once));
///   without it, those checks are generated ignored.
#[macro_export]
macro_rules! listening_tests {
    (queue: $queue:expr, sql: $sql:expr, connect: $connect:expr $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_silently_dropped_listening_connection_is_replaced() {
            $crate::listening::a_silently_dropped_listening_connection_is_replaced(
                $crate::__url(),
                $connect,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once() {
            $crate::listening::a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once(
                $crate::__url(),
                $connect,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_worker_recovers_from_a_silently_dropped_listening_connection() {
            $crate::listening::a_worker_recovers_from_a_silently_dropped_listening_connection(
                $crate::__url(),
                $connect,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one() {
            $crate::listening::a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one(
                $crate::__url(),
                $connect,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on() {
            $crate::listening::a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on(
                $crate::__url(),
                $connect,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_queue_nobody_waits_on_is_let_go_of() {
            let raw = ($sql)(&$queue.await);
            $crate::listening::a_queue_nobody_waits_on_is_let_go_of(
                $crate::__url(),
                $connect,
                raw,
            )
            .await;
        }

        $crate::listening_tests!(@all [$queue] [$sql]);
    };
    (queue: $queue:expr, sql: $sql:expr $(,)?) => {
        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_silently_dropped_listening_connection_is_replaced() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_connection_that_cannot_be_checked_is_kept_and_wakes_its_readers_once() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_worker_recovers_from_a_silently_dropped_listening_connection() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_new_queue_on_a_silently_dropped_listening_connection_gets_a_new_one() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_queue_nobody_waits_on_is_let_go_of() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        #[test]
        #[ignore = "pass `connect:` to listening_tests! to run it"]
        fn a_connection_that_cannot_unlisten_is_closed_once_nothing_is_waited_on() {
            panic!("skipped: no `connect:` given to listening_tests!");
        }

        $crate::listening_tests!(@all [$queue] [$sql]);
    };
    (@all [$queue:expr] [$sql:expr]) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn parked_readers_run_no_statements() {
            $crate::listening::parked_readers_run_no_statements($queue.await).await;
        }

        $crate::listening_tests! {
            @with_sql [$queue] [$sql]
            a_plain_insert_wakes_a_waiting_reader,
            waiting_readers_recover_when_the_listener_is_killed,
            a_send_late_in_the_throttle_window_notifies_for_the_next,
            a_send_late_in_the_throttle_window_skips_a_held_row,
            a_throttled_queue_without_its_throttle_row_still_notifies,
            a_send_in_a_snapshot_older_than_the_throttle_row_commits_and_notifies,
            enabling_notifications_while_a_send_waits_for_the_row_does_not_deadlock,
            a_waiting_read_ends_at_its_deadline_while_the_readers_ahead_are_stuck,
            a_wake_dropped_before_its_read_goes_to_another_reader,
            a_send_after_the_throttle_row_is_reset_notifies,
            waiting_on_another_queue_keeps_the_listening_connection,
            a_send_behind_a_held_throttle_row_waits_briefly_then_notifies,
            queues_subscribed_at_once_share_one_listening_connection,
            serializable_sends_add_no_serialization_failure,
        }
    };
    (@with_sql [$queue:expr] [$sql:expr] $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let q = $queue.await;
                let raw = ($sql)(&q);
                $crate::listening::$check(q, raw).await;
            }
        )+
    };
}
