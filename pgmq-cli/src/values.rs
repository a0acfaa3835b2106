//! Parsers for argument values: seconds, `KEY=VALUE` pairs, receipts and ids.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use pgmq_core::Receipt;

/// Seconds, whole or decimal (`30`, `0.5`), as a `Duration`.
pub(crate) fn secs(text: &str) -> Result<Duration, String> {
    let n: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(n).map_err(|_| format!("{text:?} is not a number of seconds ≥ 0"))
}

/// Seconds, more than 0.
pub(crate) fn positive_secs(text: &str) -> Result<Duration, String> {
    match secs(text)? {
        d if d.is_zero() => Err("must be more than 0 seconds".into()),
        d => Ok(d),
    }
}

/// `KEY=VALUE`, the value possibly empty.
pub(crate) fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// Seconds as an operator reads them: `30s`, `1.5s`.
pub(crate) fn show_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Seconds as a JSON number: whole when they are whole.
pub(crate) fn json_secs(d: Duration) -> pgmq_core::serde_json::Value {
    if d.subsec_nanos() == 0 {
        d.as_secs().into()
    } else {
        d.as_secs_f64().into()
    }
}

/// A message named on the command line: a receipt (`ID:READ_CT`, fenced) or a bare id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MessageRef {
    /// Acts only if nobody has read the message since this read.
    Receipt(Receipt),
    /// Acts whoever read the message last.
    Id(i64),
}

impl FromStr for MessageRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is neither a receipt (ID:READ_CT) nor a message id");
        match text.split_once(':') {
            Some((id, read_ct)) => {
                let id = id.parse().map_err(|_| bad())?;
                let read_ct = read_ct.parse().map_err(|_| bad())?;
                Ok(Self::Receipt(Receipt::new(id, read_ct)))
            }
            None => text.parse().map(Self::Id).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Receipt(r) => write!(f, "{}", receipt(*r)),
            Self::Id(id) => write!(f, "{id}"),
        }
    }
}

/// A receipt as the CLI prints and accepts it: `ID:READ_CT`.
pub(crate) fn receipt(r: Receipt) -> String {
    format!("{}:{}", r.msg_id, r.read_ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_whole_or_decimal_and_never_negative() {
        assert_eq!(secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(secs("0.5"), Ok(Duration::from_millis(500)));
        assert!(secs("-1").is_err());
        assert!(secs("soon").is_err());
        assert!(positive_secs("0").is_err());
        assert_eq!(show_secs(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn receipts_and_ids_parse_and_print_alike() {
        let r: MessageRef = "42:3".parse().expect("receipt");
        assert_eq!(r, MessageRef::Receipt(Receipt::new(42, 3)));
        assert_eq!(r.to_string(), "42:3");
        assert_eq!("7".parse::<MessageRef>(), Ok(MessageRef::Id(7)));
        assert!("7:".parse::<MessageRef>().is_err());
        assert!("x".parse::<MessageRef>().is_err());
    }

    #[test]
    fn key_values_may_have_empty_values() {
        assert_eq!(key_value("a=1"), Ok(("a".into(), "1".into())));
        assert_eq!(key_value("a="), Ok(("a".into(), String::new())));
        assert!(key_value("=1").is_err());
        assert!(key_value("a").is_err());
    }
}
