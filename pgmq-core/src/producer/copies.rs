//! Answering every sender of a failed batch: [`Error`] is not `Clone`, so each sender gets
//! an error of the same variant with the same fields, sharing the driver's error.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::error::{BoxError, Error};

/// A driver error shared by every sender of a failed batch: its text, `Debug` and chain.
#[derive(Clone)]
struct Shared(Arc<dyn StdError + Send + Sync>);

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl StdError for Shared {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

impl Shared {
    fn new(source: BoxError) -> Self {
        Self(Arc::from(source))
    }

    fn boxed(&self) -> BoxError {
        Box::new(self.clone())
    }
}

/// Makes as many equivalent errors as a batch has senders (`Error` is not `Clone`): the same
/// variant and fields, with a driver's error shared as the `source`.
pub(super) fn copies(error: Error) -> Box<dyn Fn() -> Error + Send> {
    match error {
        Error::InvalidQueueName { name, reason } => Box::new(move || Error::InvalidQueueName {
            name: name.clone(),
            reason: reason.clone(),
        }),
        Error::InvalidArgument { argument, reason } => Box::new(move || Error::InvalidArgument {
            argument,
            reason: reason.clone(),
        }),
        Error::QueueNotFound { queue } => Box::new(move || Error::QueueNotFound {
            queue: queue.clone(),
        }),
        Error::InvalidMessage { index, reason } => Box::new(move || Error::InvalidMessage {
            index,
            reason: reason.clone(),
        }),
        Error::MessageTooLarge { index, size, limit } => {
            Box::new(move || Error::MessageTooLarge { index, size, limit })
        }
        Error::InvalidAttributes { queue, reason } => Box::new(move || Error::InvalidAttributes {
            queue: queue.clone(),
            reason: reason.clone(),
        }),
        Error::Connection { source } => {
            let s = Shared::new(source);
            Box::new(move || Error::Connection { source: s.boxed() })
        }
        Error::PoolTimeout { source } => {
            let s = Shared::new(source);
            Box::new(move || Error::PoolTimeout { source: s.boxed() })
        }
        Error::Database { kind, code, source } => {
            let s = Shared::new(source);
            Box::new(move || Error::Database {
                kind,
                code: code.clone(),
                source: s.boxed(),
            })
        }
        Error::Driver { source } => {
            let s = Shared::new(source);
            Box::new(move || Error::Driver { source: s.boxed() })
        }
        Error::Unsupported { operation } => Box::new(move || Error::Unsupported { operation }),
        Error::PartmanUnavailable { reason } => Box::new(move || Error::PartmanUnavailable {
            reason: reason.clone(),
        }),
        Error::Decode { reason, source } => {
            let s = source.map(Shared::new);
            Box::new(move || Error::Decode {
                reason: reason.clone(),
                source: s.as_ref().map(Shared::boxed),
            })
        }
        // A batch of JSON values neither serializes nor deserializes; should a backend say
        // so anyway, every sender gets it as the source of a driver error.
        other @ (Error::Serialize { .. } | Error::Deserialize { .. }) => {
            let s = Shared(Arc::new(other));
            Box::new(move || Error::Driver { source: s.boxed() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DbErrorKind;

    #[test]
    fn copies_keep_the_variant_the_fields_and_the_source_text() {
        let copy = copies(Error::from_database("40001", "could not serialize access"));
        for _ in 0..3 {
            match copy() {
                e @ Error::Database {
                    kind: DbErrorKind::SerializationFailure,
                    ..
                } => {
                    assert_eq!(e.sqlstate(), Some("40001"));
                    assert!(e.is_retryable());
                    let source = e.source().expect("a source").to_string();
                    assert_eq!(source, "could not serialize access");
                }
                other => panic!("got {other:?}"),
            }
        }
        let copy = copies(Error::Connection {
            source: "connection reset".into(),
        });
        assert!(
            matches!(copy(), Error::Connection { source } if source.to_string() == "connection reset")
        );
        let copy = copies(Error::QueueNotFound { queue: "q".into() });
        assert!(matches!(copy(), Error::QueueNotFound { queue } if queue == "q"));
    }
}
