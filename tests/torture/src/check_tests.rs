//! The end checks catch what they are for: each broken guarantee, written into a ledger by
//! hand, is counted; a clean history is not.

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use pgmq_core::Receipt;

use crate::check::{check, Stored};
use crate::ledger::{Book, Claim};

fn at(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(1_800_000_000_000 + ms)
        .single()
        .unwrap_or_default()
}

fn claim(read: i64, until: i64, acked: bool) -> Claim {
    Claim {
        read_at: at(read),
        deadline: at(until),
        set_at: at(read),
        history: Vec::new(),
        reads: 1,
        acked: acked.then(|| (at(until), at(until) - Duration::milliseconds(1))),
    }
}

/// Message 1 read twice (the first read expired at 1000 ms, the second came at 1500 ms and
/// was acknowledged); message 2 read once and acknowledged.
fn clean() -> (Book, HashMap<i64, (u32, u64)>, Stored) {
    let mut book = Book::default();
    book.claims
        .insert(Receipt::new(1, 1), claim(0, 1000, false));
    book.claims
        .insert(Receipt::new(1, 2), claim(1500, 1600, true));
    book.claims.insert(Receipt::new(2, 1), claim(10, 20, true));
    book.acts.extend([(1, 1), (2, 1)]);
    let ids = HashMap::from([(1, (0, 0)), (2, (0, 1))]);
    let mut stored = Stored::default();
    stored.archived.extend([(1, (2, 0, 0)), (2, (1, 0, 1))]);
    (book, ids, stored)
}

#[test]
fn a_clean_history_passes() {
    let (book, ids, stored) = clean();
    let v = check(&book, &ids, &stored);
    assert_eq!(
        (v.sent, v.acked, v.lost, v.double, v.overlaps),
        (2, 2, 0, 0, 0)
    );
}

#[test]
fn a_read_within_an_earlier_claim_is_an_overlap() {
    let (mut book, ids, stored) = clean();
    // The first claim was extended past the second read.
    book.claims
        .insert(Receipt::new(1, 1), claim(0, 1501, false));
    let v = check(&book, &ids, &stored);
    assert_eq!(v.overlaps, 1, "{:?}", v.examples);
}

#[test]
fn a_missing_message_is_lost_and_leftovers_count() {
    let (book, ids, mut stored) = clean();
    stored.archived.remove(&2);
    stored.remaining = 3;
    let v = check(&book, &ids, &stored);
    assert_eq!((v.acked, v.lost), (1, 4));
}

#[test]
fn acting_twice_or_reading_after_the_ack_is_double() {
    let (mut book, ids, stored) = clean();
    book.acts.insert(2, 2);
    book.claims.insert(Receipt::new(2, 2), claim(30, 40, false));
    let v = check(&book, &ids, &stored);
    assert_eq!(v.double, 2, "{:?}", v.examples);
}

#[test]
fn a_payload_stored_twice_is_double() {
    let (book, ids, mut stored) = clean();
    stored.archived.insert(3, (1, 0, 1));
    let v = check(&book, &ids, &stored);
    assert_eq!((v.double, v.unanswered_stored), (1, 1), "{:?}", v.examples);
}
