//! The torture run (see the `pgmq-torture` crate docs). CI runs the bounded size; for the
//! full run: `PGMQ_TORTURE=full cargo test -p pgmq-torture --release -- --nocapture`.

use pgmq_torture::{run, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_doubled_or_held_twice_under_faults() {
    let config = Config::from_env();
    let report = match run(config).await {
        Ok(report) => report,
        Err(why) => panic!("the torture run could not start: {why}"),
    };
    eprintln!("{report}");
    assert!(report.kills > 0, "no fault was injected:\n{report}");
    assert!(
        report.is_clean(),
        "the torture run broke a guarantee:\n{report}"
    );
}
