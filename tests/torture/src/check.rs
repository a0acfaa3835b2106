//! The end checks: replay the ledger against what the database holds.

use std::collections::{BTreeMap, HashMap, HashSet};

use pgmq_core::{QueueName, Receipt};

use crate::ledger::{Book, Claim};

/// What the database holds at the end.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// The archive: message id → (read count when archived, producer, sequence number).
    pub(crate) archived: HashMap<i64, (i32, u32, u64)>,
    /// Messages still in the queue table.
    pub(crate) remaining: u64,
}

/// Reads the queue's archive and what is left in its table.
pub(crate) async fn stored(
    client: &tokio_postgres::Client,
    name: &QueueName,
) -> Result<Stored, tokio_postgres::Error> {
    let mut out = Stored::default();
    let archive = format!(
        "SELECT msg_id, read_ct, (message->>'producer')::int, (message->>'n')::bigint \
         FROM pgmq.a_{name}"
    );
    for row in client.query(&archive, &[]).await? {
        let (id, read_ct, producer, n): (i64, i32, i32, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let key = (
            u32::try_from(producer).unwrap_or(u32::MAX),
            u64::try_from(n).unwrap_or(u64::MAX),
        );
        out.archived.insert(id, (read_ct, key.0, key.1));
    }
    let left: i64 = client
        .query_one(&format!("SELECT count(*) FROM pgmq.q_{name}"), &[])
        .await?
        .get(0);
    out.remaining = u64::try_from(left).unwrap_or_default();
    Ok(out)
}

/// The verdict.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Sends answered with an id.
    pub(crate) sent: u64,
    /// Of those, archived (acknowledged).
    pub(crate) acked: u64,
    /// Answered sends not in the archive, plus messages left in the queue.
    pub(crate) lost: u64,
    /// Messages acknowledged more than once, handed out again after their acknowledgement,
    /// archived under a read other than the one acknowledged, or stored twice.
    pub(crate) double: u64,
    /// Reads of a message while an earlier claim on it was still within its visibility time.
    pub(crate) overlaps: u64,
    /// Archived messages no answered send accounts for (sends whose answer was lost).
    pub(crate) unanswered_stored: u64,
    /// A few examples of what broke, for the report.
    pub(crate) examples: Vec<String>,
}

/// Checks the run: `ids` are the answered sends.
pub(crate) fn check(book: &Book, ids: &HashMap<i64, (u32, u64)>, stored: &Stored) -> Verdict {
    let mut v = Verdict {
        sent: ids.len() as u64,
        ..Verdict::default()
    };
    let note = |v: &mut Verdict, what: String| {
        if v.examples.len() < 10 {
            v.examples.push(what);
        }
    };
    for (id, key) in ids {
        match stored.archived.get(id) {
            Some((_, p, n)) if (*p, *n) == *key => v.acked += 1,
            Some(other) => {
                v.double += 1;
                note(
                    &mut v,
                    format!("message {id} archived with payload {other:?}, sent as {key:?}"),
                );
            }
            None => {
                v.lost += 1;
                note(
                    &mut v,
                    format!("message {id} {key:?} was sent and never archived"),
                );
            }
        }
    }
    v.lost += stored.remaining;
    v.unanswered_stored = stored
        .archived
        .keys()
        .filter(|id| !ids.contains_key(id))
        .count() as u64;
    let mut payloads = HashSet::new();
    for (id, (_, p, n)) in &stored.archived {
        if !payloads.insert((*p, *n)) {
            v.double += 1;
            note(
                &mut v,
                format!("payload ({p}, {n}) stored twice (again as {id})"),
            );
        }
    }
    for (id, acts) in &book.acts {
        if *acts > 1 {
            v.double += 1;
            note(&mut v, format!("message {id} acknowledged {acts} times"));
        }
    }
    let mut by_message: HashMap<i64, BTreeMap<i32, &Claim>> = HashMap::new();
    for (r, claim) in &book.claims {
        by_message
            .entry(r.msg_id)
            .or_default()
            .insert(r.read_ct, claim);
    }
    for (id, claims) in &by_message {
        let archived_at = stored.archived.get(id).map(|(read_ct, ..)| *read_ct);
        for (read_ct, claim) in claims {
            if claim.reads > 1 {
                v.double += 1;
                note(
                    &mut v,
                    format!(
                        "{:?} was handed out {} times",
                        Receipt::new(*id, *read_ct),
                        claim.reads
                    ),
                );
            }
            if claim.acked.is_some() && archived_at != Some(*read_ct) {
                v.double += 1;
                note(
                    &mut v,
                    format!(
                        "{:?} acted but the archive says read {archived_at:?}",
                        Receipt::new(*id, *read_ct)
                    ),
                );
            }
            if archived_at.is_some_and(|a| *read_ct > a) {
                v.double += 1;
                note(
                    &mut v,
                    format!("message {id} read for the {read_ct}th time after it was archived"),
                );
            }
            if let Some(next) = claims.get(&(read_ct + 1)) {
                if next.read_at < claim.deadline {
                    v.overlaps += 1;
                    note(
                        &mut v,
                        format!(
                            "message {id}: read {} at {} while read {read_ct} held it until {}; \
                             read {read_ct}: {:?}; read {}: {:?}",
                            read_ct + 1,
                            next.read_at,
                            claim.deadline,
                            claim.history,
                            read_ct + 1,
                            next.history
                        ),
                    );
                }
            }
        }
    }
    v
}
