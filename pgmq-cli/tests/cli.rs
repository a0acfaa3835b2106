//! The `pgmq` binary, run as an operator runs it, against a real Postgres (the conformance
//! harness finds one: `DATABASE_URL`, else local binaries, else Docker). Every test works on
//! queues of its own, so they run in parallel.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use pgmq_conformance::{harness, unique_queue_name};
use pgmq_core::serde_json::{self, json, Value};
use predicates::prelude::*;

fn url() -> String {
    harness::database_url().expect("a Postgres to test against")
}

/// `pgmq` with the test database, and with backtraces asked for, to prove none is printed.
fn pgmq() -> Command {
    let mut cmd = Command::cargo_bin("pgmq").expect("the pgmq binary");
    cmd.env("DATABASE_URL", url())
        .env("RUST_BACKTRACE", "1")
        .timeout(Duration::from_secs(60));
    cmd
}

/// Runs `pgmq --json ARGS`, which must succeed, and parses what it printed.
fn json_of(args: &[&str]) -> Value {
    let out = pgmq().arg("--json").args(args).assert().success();
    serde_json::from_slice(&out.get_output().stdout).expect("stdout is JSON")
}

/// A new queue, created with the binary.
fn fresh(tag: &str) -> String {
    let name = unique_queue_name(tag).to_string();
    pgmq().args(["create", &name]).assert().success();
    name
}

fn drop_queue(name: &str) {
    pgmq().args(["drop", name, "--yes"]).assert().success();
}

fn metric(queue: &str, field: &str) -> i64 {
    json_of(&["metrics", queue])[field]
        .as_i64()
        .expect("a count")
}

/// Asserts that `cmd` fails with one line on stderr, `error: …` containing `needle`, and no
/// panic or backtrace; returns what it printed on stdout.
fn fails_with(cmd: &mut Command, needle: &str) -> String {
    let out = cmd.assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: ") && lines[0].contains(needle),
        "expected one line `error: …{needle}…`, got {stderr:?}"
    );
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

#[test]
fn create_list_and_drop() {
    let name = fresh("cli_list");
    let listed = json_of(&["list"]);
    let names: Vec<&str> = (listed.as_array().expect("an array").iter())
        .filter_map(|q| q["queue_name"].as_str())
        .collect();
    assert!(names.contains(&name.as_str()));
    pgmq()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("QUEUE").and(predicate::str::contains(name.as_str())));
    pgmq()
        .args(["drop", &name, "--yes"])
        .assert()
        .success()
        .stdout(format!("dropped queue {name:?}\n"));
    fails_with(pgmq().args(["peek", &name]), "does not exist");
}

/// Asserts that `cmd` asked on stderr, was refused, and said so in one `error:` line.
fn refused(cmd: &mut Command) {
    let out = cmd.assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        matches!(&lines[..], [question, error]
            if question.trim_end().ends_with("? [y/N]") && error.starts_with("error: not confirmed")),
        "expected the question, then one error line, got {stderr:?}"
    );
}

#[test]
fn drop_and_purge_ask_first_and_change_nothing_unless_confirmed() {
    let name = fresh("cli_confirm");
    pgmq().args(["send", &name, "1"]).assert().success();
    pgmq().args(["send", &name, "2"]).assert().success();
    refused(pgmq().args(["drop", &name]).write_stdin("n\n"));
    refused(pgmq().args(["purge", &name]).write_stdin(""));
    assert_eq!(
        metric(&name, "queue_length"),
        2,
        "a refused purge or drop acted"
    );
    pgmq()
        .args(["purge", &name])
        .write_stdin("y\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("purged 2 messages"));
    assert_eq!(metric(&name, "queue_length"), 0);
    assert_eq!(json_of(&["purge", &name, "--yes"])["purged"], 0);
    pgmq()
        .args(["drop", &name])
        .write_stdin("yes\n")
        .assert()
        .success();
    fails_with(pgmq().args(["drop", &name, "--yes"]), "does not exist");
}

#[test]
fn send_then_peek_shows_the_message_without_claiming_it() {
    let name = fresh("cli_peek");
    let sent = json_of(&["send", &name, r#"{"job":7}"#, "--header", "trace=t-1"]);
    let id = sent["msg_id"].as_i64().expect("msg_id");
    for _ in 0..2 {
        let peeked = json_of(&["peek", &name]);
        let m = &peeked.as_array().expect("an array")[0];
        assert_eq!(m["msg_id"], id);
        assert_eq!(m["read_ct"], 0, "peek counted a read");
        assert_eq!(m["message"], json!({"job": 7}));
        assert_eq!(m["headers"], json!({"trace": "t-1"}));
    }
    assert_eq!(metric(&name, "queue_in_flight_length"), 0, "peek hid it");
    pgmq()
        .args(["peek", &name, "-n", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#"{"job":7}"#).and(predicate::str::contains("READ_CT")));
    let read = json_of(&["read", &name, "--vt", "30"]);
    assert_eq!(
        read[0]["read_ct"], 1,
        "a read after peeks is the first read"
    );
    drop_queue(&name);
}

#[test]
fn send_json_lines_from_stdin_in_batches_with_a_delay() {
    let name = fresh("cli_lines");
    let lines: String = (0..250).map(|i| format!("{{\"n\":{i}}}\n\n")).collect();
    let sent = pgmq()
        .args(["--json", "send", &name, "--batch-size", "100"])
        .write_stdin(lines)
        .assert()
        .success();
    let sent: Value = serde_json::from_slice(&sent.get_output().stdout).expect("JSON");
    assert_eq!(sent["sent"], 250);
    let peeked = json_of(&["peek", &name, "-n", "2"]);
    assert_eq!(peeked[0]["message"], json!({"n": 0}));
    assert_eq!(peeked[1]["message"], json!({"n": 1}));
    pgmq()
        .args(["send", &name, "-", "--delay", "60"])
        .write_stdin("\"later\"\n")
        .assert()
        .success()
        .stdout("sent 1 message to queue ".to_owned() + &format!("{name:?}\n"));
    assert_eq!(metric(&name, "queue_delayed_length"), 1);
    assert_eq!(metric(&name, "queue_visible_length"), 250);
    drop_queue(&name);
}

#[test]
fn read_prints_receipts_and_ack_with_one_deletes_the_message() {
    let name = fresh("cli_ack");
    pgmq().args(["send", &name, r#""work""#]).assert().success();
    let read = pgmq()
        .args(["read", &name, "--vt", "30"])
        .assert()
        .success();
    let table = String::from_utf8_lossy(&read.get_output().stdout).into_owned();
    let receipt = table
        .lines()
        .nth(1)
        .and_then(|row| row.split_whitespace().next())
        .expect("a row with a receipt")
        .to_owned();
    assert!(receipt.ends_with(":1"), "receipt {receipt:?} in {table}");
    pgmq()
        .args(["ack", &name, &receipt])
        .assert()
        .success()
        .stdout(format!("{receipt} deleted\n"));
    assert_eq!(metric(&name, "queue_length"), 0);
    drop_queue(&name);
}

#[test]
fn a_stale_receipt_fails_and_changes_nothing() {
    let name = fresh("cli_stale");
    pgmq().args(["send", &name, "1"]).assert().success();
    let first = json_of(&["read", &name, "--vt", "0.2"]);
    let stale = first[0]["receipt"].as_str().expect("receipt").to_owned();
    std::thread::sleep(Duration::from_millis(500));
    let second = json_of(&["read", &name, "--vt", "30"]);
    let current = second[0]["receipt"].as_str().expect("receipt").to_owned();
    assert!(current.ends_with(":2"));
    let printed = fails_with(pgmq().args(["ack", &name, &stale]), "1 message not deleted");
    assert_eq!(printed, format!("{stale} stale\n"));
    assert_eq!(metric(&name, "queue_length"), 1, "a stale receipt acted");
    fails_with(pgmq().args(["nack", &name, &stale]), "not visible");
    pgmq()
        .args(["ack", &name, &current, "--archive"])
        .assert()
        .success();
    assert_eq!(metric(&name, "queue_length"), 0);
    drop_queue(&name);
}

#[test]
fn nack_makes_messages_visible_again_by_receipt_or_id() {
    let name = fresh("cli_nack");
    pgmq().args(["send", &name, "1"]).assert().success();
    let read = json_of(&["read", &name, "--vt", "60"]);
    let (receipt, id) = (
        read[0]["receipt"].as_str().expect("receipt"),
        &read[0]["msg_id"],
    );
    assert_eq!(json_of(&["peek", &name]), json!([]), "in flight yet peeked");
    pgmq().args(["nack", &name, receipt]).assert().success();
    let peeked = json_of(&["peek", &name]);
    assert_eq!(
        (&peeked[0]["msg_id"], &peeked[0]["read_ct"]),
        (id, &json!(1))
    );
    json_of(&["read", &name, "--vt", "60"]);
    let id = id.to_string();
    pgmq().args(["nack", &name, &id]).assert().success();
    assert_eq!(metric(&name, "queue_visible_length"), 1);
    pgmq().args(["ack", &name, &id]).assert().success();
    fails_with(pgmq().args(["ack", &name, &id]), "not deleted");
    drop_queue(&name);
}

#[test]
fn attributes_round_trip_and_apply() {
    let name = fresh("cli_attrs");
    let set = [
        "attributes",
        &name,
        "--set",
        "default_vt=45",
        "max_message_bytes=20",
    ];
    let attrs = json_of(&set);
    assert_eq!(
        (&attrs["default_vt"], &attrs["max_message_bytes"]),
        (&json!(45), &json!(20))
    );
    let attrs = json_of(&["attributes", &name, "--set", "default_vt="]);
    assert_eq!(
        (&attrs["default_vt"], &attrs["max_message_bytes"]),
        (&Value::Null, &json!(20))
    );
    let long = format!("\"{}\"", "x".repeat(40));
    fails_with(pgmq().args(["send", &name, &long]), "maximum of 20");
    fails_with(
        pgmq().args(["attributes", &name, "--set", "colour=red"]),
        "unknown attribute",
    );
    fails_with(
        pgmq().args(["attributes", &name, "--set", "max_receive_count=3"]),
        "needs both",
    );
    pgmq()
        .args(["attributes", &name])
        .assert()
        .success()
        .stdout(predicate::str::contains("max_message_bytes  20"));
    drop_queue(&name);
}

#[test]
fn redrive_moves_dead_letters_back_to_their_source() {
    let dlq = fresh("cli_dlq");
    let name = fresh("cli_src");
    let policy = [&format!("dead_letter_queue={dlq}"), "max_receive_count=1"];
    pgmq()
        .args(["attributes", &name, "--set"])
        .args(policy)
        .assert()
        .success();
    pgmq()
        .args(["send", &name, "-"])
        .write_stdin("1\n2\n3\n")
        .assert()
        .success();
    let read = json_of(&["read", &name, "--vt", "60", "-n", "3"]);
    let receipts: Vec<&str> = (read.as_array().expect("an array").iter())
        .filter_map(|m| m["receipt"].as_str())
        .collect();
    pgmq()
        .args(["nack", &name])
        .args(&receipts)
        .assert()
        .success();
    assert_eq!(
        json_of(&["read", &name, "--vt", "60", "-n", "3"]),
        json!([])
    );
    assert_eq!(metric(&dlq, "queue_length"), 3, "not dead-lettered");
    pgmq()
        .args(["redrive", &dlq, "--max", "1"])
        .assert()
        .success()
        .stdout(format!(
            "moved 1 message from queue {dlq:?} back to their source queues\n"
        ));
    let moved = json_of(&["redrive", &dlq, "--chunk", "1", "--rate", "100"]);
    assert_eq!(
        (&moved["moved"], &moved["interrupted"]),
        (&json!(2), &json!(false))
    );
    assert_eq!(metric(&dlq, "queue_length"), 0);
    assert_eq!(metric(&name, "queue_visible_length"), 3);
    fails_with(
        pgmq().args(["redrive", &dlq, "--to", "missing_target_q"]),
        "does not exist",
    );
    fails_with(
        pgmq().args(["drop", &dlq, "--yes"]),
        "dead-letter queue of another queue",
    );
    drop_queue(&name);
    drop_queue(&dlq);
}

#[test]
fn metrics_show_the_queue_as_a_table_and_as_json() {
    let name = fresh("cli_metrics");
    pgmq()
        .args(["send", &name, "1", "--delay", "60"])
        .assert()
        .success();
    let all = json_of(&["metrics"]);
    let mine = (all.as_array().expect("an array").iter())
        .find(|m| m["queue_name"] == name.as_str())
        .expect("the queue in metrics_all");
    assert_eq!(mine["queue_delayed_length"], 1);
    assert_eq!(json_of(&["metrics", &name])["queue_length"], 1);
    let columns = [
        "LENGTH",
        "VISIBLE",
        "IN FLIGHT",
        "DELAYED",
        "OLDEST VISIBLE",
        "TOTAL SENT",
    ];
    let mut table = predicate::str::contains(name.as_str()).boxed();
    for c in columns
        .into_iter()
        .chain(["DEAD-LETTER QUEUE", "DLQ LENGTH"])
    {
        table = table.and(predicate::str::contains(c)).boxed();
    }
    pgmq()
        .args(["metrics", &name])
        .assert()
        .success()
        .stdout(table);
    drop_queue(&name);
}

#[test]
fn metrics_watch_prints_one_document_per_refresh_until_ctrl_c() {
    let name = fresh("cli_watch");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pgmq"))
        .args(["--json", "metrics", &name, "--watch", "0.2"])
        .env("DATABASE_URL", url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start pgmq");
    let stdout = child.stdout.take().expect("stdout");
    let docs: Vec<Value> = BufReader::new(stdout)
        .lines()
        .take(2)
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("a JSON line"))
        .collect();
    assert!(
        docs.iter().all(|d| d["queue_name"] == name.as_str()),
        "{docs:?}"
    );
    let pid = child.id().to_string();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .expect("send SIGINT");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Ctrl-C did not stop it"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "Ctrl-C should end a watch cleanly: {status}"
    );
    drop_queue(&name);
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let name = fresh("cli_bad");
    fails_with(
        pgmq().args(["--database-url", "not a url", "list"]),
        "invalid database URL",
    );
    let bad_port = "postgres://postgres@127.0.0.1:notaport/postgres";
    fails_with(
        pgmq().args(["--database-url", bad_port, "list"]),
        "invalid database URL",
    );
    let unreachable = "postgres://postgres@127.0.0.1:1/postgres";
    fails_with(
        pgmq().args(["--database-url", unreachable, "list"]),
        "connection",
    );
    fails_with(pgmq().env_remove("DATABASE_URL").arg("list"), "no database");
    for args in [
        &["peek", "no_such_queue_cli"][..],
        &["read", "no_such_queue_cli", "--vt", "1"],
        &["send", "no_such_queue_cli", "1"],
        &["metrics", "no_such_queue_cli"],
        &["purge", "no_such_queue_cli", "--yes"],
        &["attributes", "no_such_queue_cli"],
        &["redrive", "no_such_queue_cli"],
    ] {
        fails_with(
            pgmq().args(args),
            "queue \"no_such_queue_cli\" does not exist",
        );
    }
    fails_with(
        pgmq().args(["peek", "bad-name"]),
        "invalid queue name \"bad-name\"",
    );
    fails_with(pgmq().args(["create", "9lives"]), "starts with a digit");
    fails_with(
        pgmq().args(["send", &name, "{oops"]),
        "invalid JSON message",
    );
    fails_with(
        pgmq().args(["send", &name]).write_stdin("1\n{oops\n3\n"),
        "invalid JSON on line 2",
    );
    assert_eq!(
        metric(&name, "queue_length"),
        1,
        "only the line before the bad one is sent"
    );
    fails_with(pgmq().args(["peek", &name, "-n", "0"]), "invalid quantity");
    pgmq()
        .args(["ack", &name, "x:y"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("neither a receipt"));
    drop_queue(&name);
}
