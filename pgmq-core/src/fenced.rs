//! The receipt-fenced operations behind [`Queue::delete_receipts`],
//! [`Queue::archive_receipts`] and [`Queue::set_vt_receipts`]: validation, the one statement,
//! and mapping what it acted on back to the receipts in input order.
//!
//! [`Queue::delete_receipts`]: crate::Queue::delete_receipts
//! [`Queue::archive_receipts`]: crate::Queue::archive_receipts
//! [`Queue::set_vt_receipts`]: crate::Queue::set_vt_receipts

use std::collections::{HashMap, HashSet};

use crate::adapter::{Executor, Statement};
use crate::decode::{self, Cells, Rows};
use crate::error::{Error, Result};
use crate::name::QueueName;
use crate::options::{VisibleAt, MAX_BATCH};
use crate::receipt::{Fence, Receipt};
use crate::run::on;
use crate::sql;
use crate::types::Message;

/// At most [`MAX_BATCH`] receipts in one call.
fn check(receipts: &[Receipt]) -> Result<()> {
    if receipts.len() > MAX_BATCH {
        return Err(Error::invalid(
            "receipt list",
            format!(
                "{} receipts is more than the limit of {MAX_BATCH}",
                receipts.len()
            ),
        ));
    }
    Ok(())
}

/// The statement `build` makes for `receipts`, run on `queue` and decoded by `decode`. No
/// receipts, no query.
async fn by_receipts<E, T>(
    executor: &E,
    queue: &QueueName,
    receipts: &[Receipt],
    build: impl Fn(Vec<Receipt>) -> Statement + Send + Sync,
    decode: fn(Rows) -> Result<Vec<T>>,
) -> Result<Vec<T>>
where
    E: Executor + ?Sized,
{
    check(receipts)?;
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    // A read leaves `read_ct` at 1 or more, and a message nobody has read has 0, so a
    // receipt below 1 proves no read: it stays out of the statement and is answered stale.
    // The statement still runs, so a missing queue is still `QueueNotFound`.
    let from_reads: Vec<Receipt> = receipts.iter().copied().filter(|r| r.read_ct > 0).collect();
    decode(on(executor, queue, || build(from_reads.clone())).await?)
}

/// Rows of [`sql::RECEIPTS`]: what a fenced delete or archive acted on.
fn acted_on(rows: Rows) -> Result<Vec<Receipt>> {
    let Rows { rows, columns } = rows;
    rows.into_iter()
        .map(|row| {
            let mut c = Cells::new(row, columns);
            Ok(Receipt::new(c.int8("msg_id")?, c.int4("read_ct")?))
        })
        .collect()
}

/// For each receipt asked, in order, whether the statement acted on it.
fn fences(asked: &[Receipt], acted: &[Receipt]) -> Vec<Fence> {
    let acted: HashSet<&Receipt> = acted.iter().collect();
    asked
        .iter()
        .map(|r| {
            if acted.contains(r) {
                Fence::Acted
            } else {
                Fence::Stale
            }
        })
        .collect()
}

/// Deletes (or, with `archive`, archives) the messages whose receipts are current; one
/// [`Fence`] per receipt, in input order.
pub(crate) async fn acknowledge<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    receipts: &[Receipt],
    archive: bool,
) -> Result<Vec<Fence>> {
    let build = |r| {
        if archive {
            sql::archive_fenced(queue, r)
        } else {
            sql::delete_fenced(queue, r)
        }
    };
    let acted = by_receipts(executor, queue, receipts, build, acted_on).await?;
    Ok(fences(receipts, &acted))
}

/// Moves the visibility of the messages whose receipts are current; the updated message per
/// receipt, in input order, `None` where it was stale.
pub(crate) async fn set_vt<E: Executor + ?Sized>(
    executor: &E,
    queue: &QueueName,
    receipts: &[Receipt],
    vt: VisibleAt,
) -> Result<Vec<Option<Message>>> {
    let vt = vt.to_params("visibility timeout")?;
    let build = |r| sql::set_vt_fenced(queue, r, vt);
    let updated = by_receipts(executor, queue, receipts, build, decode::messages).await?;
    let by_receipt: HashMap<Receipt, Message> =
        updated.into_iter().map(|m| (m.receipt(), m)).collect();
    Ok(receipts
        .iter()
        .map(|r| by_receipt.get(r).cloned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_answer_each_receipt_in_input_order() {
        let asked = [
            Receipt::new(3, 1),
            Receipt::new(1, 2),
            Receipt::new(1, 1),
            Receipt::new(3, 1),
        ];
        let acted = [Receipt::new(1, 2), Receipt::new(3, 1)];
        assert_eq!(
            fences(&asked, &acted),
            [Fence::Acted, Fence::Acted, Fence::Stale, Fence::Acted]
        );
    }

    #[test]
    fn more_receipts_than_the_maximum_are_rejected() {
        let many = vec![Receipt::new(1, 1); MAX_BATCH + 1];
        assert!(matches!(
            check(&many),
            Err(Error::InvalidArgument {
                argument: "receipt list",
                ..
            })
        ));
        assert!(check(&many[..MAX_BATCH]).is_ok());
    }
}
