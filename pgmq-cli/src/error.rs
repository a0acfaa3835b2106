//! How a command fails: one line on stderr (`error: …`) and an exit code, never a panic.

use std::error::Error as StdError;
use std::io;
use std::process::ExitCode;

use pgmq_core::{DbErrorKind, Error};

/// A failed command: what to tell the operator, and the exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    /// `None`: nothing to say (the reader of stdout went away).
    message: Option<String>,
    code: u8,
}

impl CliError {
    /// A failure with `message`, exit code 1.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            code: 1,
        }
    }

    /// A usage error (exit code 2, as clap's own).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            ..Self::new(message)
        }
    }

    /// Adds what happened before the failure, e.g. how many messages were already sent.
    pub(crate) fn and(mut self, what_happened: impl AsRef<str>) -> Self {
        if let Some(message) = &mut self.message {
            message.push_str("; ");
            message.push_str(what_happened.as_ref());
        }
        self
    }

    /// Prints the one line on stderr and gives the exit code.
    pub(crate) fn report(self) -> ExitCode {
        if let Some(message) = self.message {
            eprintln!("error: {message}");
        }
        ExitCode::from(self.code)
    }
}

impl From<Error> for CliError {
    fn from(err: Error) -> Self {
        let hint = match &err {
            // metrics and metrics_all need this library's objects, which only `create` (or
            // `install`) makes: say so rather than quote a missing function.
            Error::Database {
                kind: DbErrorKind::UndefinedFunction,
                ..
            } => "; pgmq-rs is not installed in this database (`pgmq create` installs it)",
            _ => "",
        };
        let text = postgres_message(&err).unwrap_or_else(|| one_line(&err));
        Self::new(format!("{text}{hint}"))
    }
}

/// What Postgres said, with its SQLSTATE, for an error the server reported (connecting or in
/// a statement): `role "x" does not exist (SQLSTATE 28000)`. The driver's own rendering adds
/// the line of Postgres' C source that raised it, which only misleads an operator.
fn postgres_message(err: &Error) -> Option<String> {
    let source = StdError::source(err)?;
    match source.downcast_ref::<sqlx::Error>()? {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| format!(" (SQLSTATE {c})"));
            Some(format!(
                "{}{}",
                flatten(db.message()),
                code.unwrap_or_default()
            ))
        }
        _ => None,
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // `pgmq peek q | head -1`: the reader has all it wanted.
            return Self {
                message: None,
                code: 0,
            };
        }
        Self::new(format!("writing output: {}", one_line(&err)))
    }
}

/// `err` and its sources on one line, each source that repeats what came before left out.
pub(crate) fn one_line(err: &(dyn StdError + 'static)) -> String {
    let mut line = flatten(&err.to_string());
    let mut source = err.source();
    while let Some(cause) = source {
        let text = flatten(&cause.to_string());
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// A message on one line: line breaks (a Postgres DETAIL, say) become `; `.
fn flatten(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_error_and_its_source_make_one_line() {
        let err = Error::Connection {
            source: "connection refused\n(os error 111)".into(),
        };
        assert_eq!(
            one_line(&err),
            "connection to Postgres failed or was lost: connection refused; (os error 111)"
        );
    }

    #[test]
    fn an_unknown_queue_reads_as_core_says_it() {
        let err = CliError::from(Error::QueueNotFound { queue: "x".into() });
        assert_eq!(err.message.as_deref(), Some("queue \"x\" does not exist"));
        assert_eq!(err.code, 1);
    }
}
