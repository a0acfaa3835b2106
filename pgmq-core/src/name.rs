//! [`QueueName`]: the one validated identifier that reaches SQL.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The name of a queue, validated once and stored lower-case.
///
/// A valid name has 1 to [`QueueName::MAX_LEN`] characters, only ASCII letters, digits and
/// `_`, and does not start with a digit. These are the pgmq extension's rules, so the tables
/// `pgmq.q_<name>` and `pgmq.a_<name>` and their sequences and indexes fit in Postgres'
/// 63-byte identifiers. Names compare case-insensitively, as the extension's do:
/// `Orders` and `orders` are the same queue.
///
/// Every operation takes a `&QueueName`, so a hostile or malformed name is rejected before
/// any SQL is built.
///
/// ```
/// use pgmq_core::QueueName;
///
/// let name = QueueName::new("Orders_2026")?;
/// assert_eq!(name.as_str(), "orders_2026");
/// assert!(QueueName::new("a;drop table x").is_err());
/// assert!(QueueName::new("9lives").is_err());
/// # Ok::<(), pgmq_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(Box<str>);

impl QueueName {
    /// The longest name the pgmq extension accepts.
    pub const MAX_LEN: usize = 47;

    /// Validates `name` and returns it lower-cased.
    ///
    /// # Errors
    /// [`Error::InvalidQueueName`], saying which rule the name breaks.
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        let raw = name.as_ref();
        let fail = |reason: String| Error::InvalidQueueName {
            name: raw.to_owned(),
            reason,
        };
        if raw.is_empty() {
            return Err(fail("the name is empty".into()));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(fail(format!(
                "it contains {bad:?}; only ASCII letters, digits and '_' are allowed"
            )));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(fail(format!(
                "it is {} characters long; the limit is {}",
                raw.len(),
                Self::MAX_LEN
            )));
        }
        if raw.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(fail("it starts with a digit".into()));
        }
        Ok(Self(raw.to_ascii_lowercase().into_boxed_str()))
    }

    /// The validated, lower-case name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for QueueName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for QueueName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<&str> for QueueName {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for QueueName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::new(s)
    }
}

/// Serialized as its (lower-case) string.
impl serde::Serialize for QueueName {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserialized from a string, validated as [`QueueName::new`] does.
impl<'de> serde::Deserialize<'de> for QueueName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> String {
        match QueueName::new(name) {
            Err(Error::InvalidQueueName { reason, .. }) => reason,
            other => panic!("{name:?} was not rejected: {other:?}"),
        }
    }

    #[test]
    fn accepts_the_extension_alphabet_and_lowercases() {
        assert_eq!(QueueName::new("My_Queue1").unwrap().as_str(), "my_queue1");
        assert_eq!(QueueName::new("_x").unwrap().as_str(), "_x");
        let longest = "a".repeat(QueueName::MAX_LEN);
        assert_eq!(QueueName::new(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn rejects_each_rule_with_its_reason() {
        assert!(reason("").contains("empty"));
        assert!(reason(&"a".repeat(48)).contains("limit is 47"));
        assert!(reason("1abc").contains("digit"));
        assert!(reason("a;drop table x").contains("';'"));
        assert!(reason("a\"b").contains("'\"'"));
        assert!(reason("a'b").contains("'\\''"));
        assert!(reason("café").contains("'é'"));
        assert!(reason("a-b").contains("'-'"));
    }
}
