//! FIFO message groups: reads that keep each group's messages in order and hand a group to
//! one reader at a time, as the pgmq extension's `read_grouped*` functions do.
//!
//! A message's group is its [`GROUP_HEADER`] header, sent like any other header:
//!
//! ```
//! use pgmq_core::{serde_json::json, SendOptions, GROUP_HEADER};
//!
//! let options = SendOptions::new().headers(json!({ GROUP_HEADER: "customer-42" }));
//! ```
//!
//! and a read asks for grouped delivery with [`ReadOptions::grouped`](crate::ReadOptions::grouped()).
//!
//! # Semantics
//! These are the extension's (1.13), in its terms:
//! - **The group key** is the header's value as text (`headers->>'x-pgmq-group'`): a string
//!   as it is, any other JSON value as its JSON text, so the number `5` and the string `"5"`
//!   are one group, and so are `true` and `"true"`. This library's sends refuse a key that
//!   is neither a string nor `null` ([`Error::InvalidArgument`](crate::Error::InvalidArgument)
//!   `("headers")`, nothing written); messages other clients sent with one are grouped by
//!   its text, as the extension does.
//! - **Messages without a group** (no such header, a JSON `null` value, headers that are not
//!   an object, no headers) all share one group, which the extension names
//!   `_default_fifo_group`: among themselves they are delivered one at a time, in order. (A
//!   message whose header says `"_default_fifo_group"` joins that group too.)
//! - **Order** within a group is `msg_id` order.
//! - **A group is blocked** while its oldest message (lowest `msg_id`) is not visible: in
//!   flight (read, not yet acknowledged, its visibility timeout not passed) or delayed. It
//!   unblocks when that message is deleted or archived, or becomes visible again. A grouped
//!   read hands out a group's messages only from its oldest on, and only while they are
//!   visible, so it never hands out a message while an earlier one of its group is invisible;
//!   all the messages one read takes from a group share one visibility timeout. (Here this
//!   differs from the extension, whose `read_grouped` and `read_grouped_rr` go on past an
//!   invisible message in the middle of a group: one delayed at send, or taken by a plain
//!   read.)
//! - **One reader per group**: two grouped reads never both get messages of one group, even
//!   concurrently, and a later read gets none of a group until the read that holds its
//!   oldest message lets go of it.
//!
//! Groups are served in the order their oldest messages became visible (for messages never
//! read and sent without a delay, that is `msg_id` order, which is how the extension ranks
//! them), as far as a read looks at the front of the queue (see [Cost](#cost)). The list a
//! read returns is in `msg_id` order, as every read's is.
//!
//! # What breaks the guarantees
//! - Plain reads (and `pop`) of the same queue ignore groups: they may take any visible
//!   message, including one behind a group's oldest. Read a grouped queue with grouped reads
//!   only.
//! - Releasing a group's oldest message early (a `set_vt` to now) unblocks the group while
//!   the rest of that read's messages are still held.
//! - `msg_id`s are given out when a send starts, so two transactions sending to one group at
//!   once may commit out of `msg_id` order; a message that commits behind a later one of its
//!   group that was already handed out becomes the group's oldest while that one is in flight.
//!   Send each group's messages from one sender at a time when that matters.
//!
//! # Cost
//! Grouped reads use an index on the group key, `pgmq.q_<name>_fifo_idx`, which
//! [`Queue::create`](crate::Queue::create) makes with a new queue when asked
//! ([`CreateOptions::with_fifo_index`](crate::CreateOptions::with_fifo_index)) and
//! [`Queue::create_fifo_index`](crate::Queue::create_fifo_index) adds to an existing one.
//! It is not made by default: it costs every send and read of the queue one more index
//! entry.
//! A grouped read of a queue without it (or with the extension's GIN index of that name in
//! its place) fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
//! (`"grouped"`) saying so, instead of scanning the queue for every message it looks at.
//! A read looks at the visible messages that became visible first, a window of
//! `2 × qty + 64`, and checks for each whether it is the oldest of its group (one index step
//! each); messages in flight are never walked. When that window holds too few groups that
//! are not blocked (a busy group's backlog fills the front of the queue), the read goes on
//! group by group, one index step each, starting at a random group, until its batch is full;
//! those groups come after the window's, in no particular order. Its cost then grows with
//! the number of blocked groups it passes, never with the number of messages.
//!
/// The header whose value is a message's group, as the pgmq extension names it.
pub const GROUP_HEADER: &str = "x-pgmq-group";

/// How a grouped read fills a batch from the groups that are not blocked. See the
/// [module docs](crate::grouped) for what every strategy shares.
///
/// With groups A (messages A1 A2 A3), B (B1 B2) and C (C1), sent in the order
/// A1 B1 A2 C1 B2 A3, nothing in flight, a read of 4 returns:
///
/// | strategy | messages |
/// |---|---|
/// | [`Oldest`](Self::Oldest) | A1 A2 A3 B1 |
/// | [`RoundRobin`](Self::RoundRobin) | A1 B1 C1 A2 |
/// | [`Heads`](Self::Heads) | A1 B1 C1 |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupOrder {
    /// Fill the batch from the oldest group first: all it has (from its oldest message on,
    /// as long as they are visible), then the next group's, and so on. SQS FIFO's batching;
    /// the extension's `pgmq.read_grouped` (and `read_grouped_with_poll`).
    Oldest,
    /// Interleave the groups: the oldest message of every group first, oldest group first,
    /// then every group's second, and so on. The extension's `pgmq.read_grouped_rr` (and
    /// `read_grouped_rr_with_poll`).
    RoundRobin,
    /// At most one message per group, its oldest: up to `qty` groups at once, for readers
    /// that process groups in parallel. The extension's `pgmq.read_grouped_head` (and
    /// `read_grouped_head_with_poll`).
    Heads,
}
