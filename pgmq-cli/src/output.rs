//! What the commands print: aligned tables for people, JSON for programs. Everything goes
//! through a locked stdout as `std::io::Write`, so a closed pipe is an error to handle (see
//! `CliError`), not a panic as with `println!`.

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use pgmq_core::chrono::{DateTime, SecondsFormat, Utc};
use pgmq_core::serde_json::{self, Value};

use crate::error::CliError;

/// Where a command prints, and how.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    /// JSON for programs, instead of tables and sentences for people.
    pub(crate) json: bool,
}

impl Out {
    /// `text` and a line break.
    pub(crate) fn line(&self, text: impl AsRef<str>) -> Result<(), CliError> {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{}", text.as_ref())?;
        stdout.flush()?;
        Ok(())
    }

    /// `value`, pretty-printed.
    pub(crate) fn json(&self, value: &Value) -> Result<(), CliError> {
        self.line(serde_json::to_string_pretty(value).unwrap_or_default())
    }

    /// `value` on one line (JSON lines, for `--watch`).
    pub(crate) fn json_line(&self, value: &Value) -> Result<(), CliError> {
        self.line(value.to_string())
    }

    /// Clears the terminal and moves to its top, when stdout is one (for `--watch`).
    pub(crate) fn clear_screen(&self) -> Result<(), CliError> {
        if io::stdout().is_terminal() {
            let mut stdout = io::stdout().lock();
            write!(stdout, "\x1b[2J\x1b[H")?;
        }
        Ok(())
    }

    /// A progress bar on stderr for `len` items (a spinner counting them without a length);
    /// hidden with `--json` and when stderr is not a terminal.
    pub(crate) fn progress(&self, len: Option<u64>, what: &str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let (bar, template) = match len {
            Some(len) => (
                ProgressBar::new(len),
                format!("{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}} left)"),
            ),
            None => (
                ProgressBar::new_spinner(),
                format!("{{spinner}} {{pos}} {what} ({{per_sec}})"),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar
    }
}

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// An aligned text table with a header row.
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Self {
        Self {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, one cell per column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, columns two spaces apart, without trailing spaces.
    pub(crate) fn render(&self) -> String {
        let width = |i: usize, header: &str| {
            self.rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or_default()
        };
        let widths: Vec<usize> = (self.columns.iter().enumerate())
            .map(|(i, (h, _))| width(i, h))
            .collect();
        let headers: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let mut text = String::new();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, ((_, align), w)) in self.columns.iter().zip(&widths).enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text.pop();
        text
    }
}

/// `1 message`, `2 messages`.
pub(crate) fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// An instant as an operator reads it: `2026-11-26T02:35:55Z`.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An age in seconds, short: `42s`, `3m05s`, `2h10m`, `4d03h`; `-` for none.
pub(crate) fn age(secs: Option<i32>) -> String {
    let Some(s) = secs else {
        return "-".into();
    };
    let s = i64::from(s.max(0));
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// JSON on one line, cut to `max` characters (with `…`) for a table cell; `-` for none.
pub(crate) fn snippet(value: Option<&Value>, max: usize) -> String {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return "-".into();
    };
    let text = value.to_string();
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use pgmq_core::serde_json::json;

    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut t = Table::new(&[("QUEUE", Align::Left), ("LENGTH", Align::Right)]);
        t.row(vec!["jobs".into(), "7".into()]);
        t.row(vec!["emails_long".into(), "1200".into()]);
        assert_eq!(
            t.render(),
            "QUEUE        LENGTH\njobs              7\nemails_long    1200"
        );
    }

    #[test]
    fn ages_and_snippets_are_short() {
        assert_eq!(age(None), "-");
        assert_eq!(age(Some(59)), "59s");
        assert_eq!(age(Some(185)), "3m05s");
        assert_eq!(age(Some(7800)), "2h10m");
        assert_eq!(age(Some(97200)), "1d03h");
        assert_eq!(snippet(Some(&json!({"a": 1})), 20), r#"{"a":1}"#);
        assert_eq!(snippet(Some(&json!("abcdefgh")), 5), "\"abc…");
        assert_eq!(snippet(None, 5), "-");
    }
}
