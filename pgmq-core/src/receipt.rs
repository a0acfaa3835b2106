//! [`Receipt`]s, which fence stale consumers, and the [`Fence`] answer of an operation that
//! takes one.

use serde::{Deserialize, Serialize};

/// Proof of one particular read of a message: its id plus the read count at which this reader
/// got it.
///
/// Every message a read returns carries one ([`Message::receipt`](crate::Message::receipt)).
/// Acknowledging or extending with a receipt
/// ([`delete_receipts`](crate::Queue::delete_receipts),
/// [`archive_receipts`](crate::Queue::archive_receipts),
/// [`set_vt_receipts`](crate::Queue::set_vt_receipts) and their single forms in
/// [`QueueExt`](crate::QueueExt)) acts only if nobody has read the message since: once its
/// visibility timeout has run out and another reader has got it, the message's `read_ct` has
/// moved on, and the first reader's receipt is *stale*. A stale receipt changes nothing and
/// is answered [`Fence::Stale`] (or `None`), never an error; so is a receipt for a message
/// that no longer exists (already acknowledged, popped or purged) or never did.
///
/// The id-only operations (`delete`, `archive`, `set_vt` by `msg_id`) stay, unfenced, for
/// compatibility with the pgmq extension and its clients.
///
/// A receipt is a small `Copy` value and serialises (with serde) as
/// `{"msg_id": …, "read_ct": …}`, so a handler in another process can acknowledge a message
/// it was handed:
///
/// ```
/// use pgmq_core::Receipt;
///
/// let receipt = Receipt::new(42, 1);
/// let wire = serde_json::to_string(&receipt)?;
/// assert_eq!(wire, r#"{"msg_id":42,"read_ct":1}"#);
/// assert_eq!(serde_json::from_str::<Receipt>(&wire)?, receipt);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The message's id.
    pub msg_id: i64,
    /// The message's `read_ct` as this read left it: 1 for the first read, 2 for the second…
    pub read_ct: i32,
}

impl Receipt {
    /// The receipt for message `msg_id` as read for the `read_ct`-th time. Usually taken from
    /// a message with [`Message::receipt`](crate::Message::receipt); build one by hand to
    /// acknowledge a message whose id and read count travelled on their own.
    pub const fn new(msg_id: i64, read_ct: i32) -> Self {
        Self { msg_id, read_ct }
    }
}

impl<T> From<&crate::Message<T>> for Receipt {
    fn from(message: &crate::Message<T>) -> Self {
        message.receipt()
    }
}

/// What a receipt-fenced operation did for one [`Receipt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fence {
    /// The receipt was current: the operation acted on the message.
    Acted,
    /// The receipt was stale: the message has been read again since, or no longer exists
    /// (already acknowledged), or never did. Nothing changed.
    Stale,
}

impl Fence {
    /// Whether the operation acted on the message.
    pub const fn acted(self) -> bool {
        matches!(self, Self::Acted)
    }

    /// Whether the receipt was stale, so nothing changed.
    pub const fn is_stale(self) -> bool {
        matches!(self, Self::Stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_serialises_as_its_two_fields() {
        let r = Receipt::new(7, 3);
        let json = serde_json::to_value(r).expect("serialises");
        assert_eq!(json, serde_json::json!({"msg_id": 7, "read_ct": 3}));
        assert_eq!(serde_json::from_value::<Receipt>(json).expect("parses"), r);
    }

    #[test]
    fn a_fence_says_whether_it_acted() {
        assert!(Fence::Acted.acted() && !Fence::Acted.is_stale());
        assert!(Fence::Stale.is_stale() && !Fence::Stale.acted());
        assert_eq!(
            serde_json::to_value(Fence::Stale).expect("serialises"),
            serde_json::json!("stale")
        );
    }
}
