//! Config errors: what is wrong, and where (file, line, column).

use std::fmt;
use std::path::PathBuf;

use super::money::MoneyError;
use crate::routing::suppression::SuppressionError;

/// One thing wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// TOML syntax, a wrong type or an unknown key (as the TOML parser words it).
    #[error("{0}")]
    Toml(String),
    #[error("unknown time zone `{0}` (use an IANA name such as \"America/New_York\")")]
    UnknownTimeZone(String),
    #[error("bad regex `{pattern}`: {message}")]
    BadRegex { pattern: String, message: String },
    #[error("`{op}` compares numbers, but `{value}` is not a number")]
    NotANumber { op: String, value: String },
    #[error("unknown filter operator `{0}` (use ==, !=, =~, >, <, in, not_in, exists)")]
    UnknownOp(String),
    #[error("operator `{op}` needs {needs}")]
    BadFilterValue { op: String, needs: &'static str },
    #[error("duplicate id `{id}`: already used by a {first_kind} at line {first_line}")]
    DuplicateId {
        id: String,
        first_kind: &'static str,
        first_line: usize,
    },
    #[error("group `{group}` names buyer `{buyer}`, which is not defined")]
    MissingBuyer { group: String, buyer: String },
    #[error("router `{router}` names {kind} `{id}`, which is not defined")]
    MissingMember {
        router: String,
        kind: &'static str,
        id: String,
    },
    #[error("buyer `{buyer}` is reached more than once in router `{router}`")]
    RepeatedBuyer { router: String, buyer: String },
    #[error("schedule hour {0} is not an hour 0–23")]
    SlotOutOfRange(i64),
    #[error("hour range end {end} must be 1–24 and after its start {start}")]
    BadHourRange { start: i64, end: i64 },
    #[error("an hour range is written [start, end], got {0} number(s)")]
    HourRangeShape(usize),
    #[error("cap `{what}` is negative ({value})")]
    NegativeCap { what: String, value: String },
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error(
        "cap slot {start}–{end} overlaps slot {other_start}–{other_end}: an hour takes the first \
         slot that covers it, so this one would never apply there"
    )]
    OverlappingSlots {
        start: u8,
        end: u8,
        other_start: u8,
        other_end: u8,
    },
    #[error("destination cannot be dialled: {0}")]
    Destination(String),
    /// A value the call driver puts in every `bridge` that FreeSWITCH could not be sent.
    #[error("calls could never be dialled: {0}")]
    Undialable(String),
    #[error("token type: {0}")]
    TokenType(String),
    #[error(
        "whisper template names token `{token}`, which is never spoken: give it a type \
         ([tokens.{token}] type = \"number\", \"digits\" or \"one_of\"; free text needs \
         type = \"text\" with speak = true)"
    )]
    Unspeakable { token: String },
    /// `[freeswitch]` settings the event socket client could not use.
    #[error("[freeswitch] {0}")]
    FreeSwitch(String),
    #[error("whisper: {0}")]
    Whisper(String),
    #[error(
        "whisper template names token `{token}`, which no call is known to carry (built-in \
         tokens, `[whisper] tokens`, router match variables and filter tokens are)"
    )]
    UnknownToken { token: String },
    #[error("bad duration `{0}` (write e.g. \"45s\", \"15m\", \"24h\", \"7d\")")]
    BadDuration(String),
    #[error("{what} must be {range}, got {value}")]
    OutOfRange {
        what: &'static str,
        range: &'static str,
        value: i64,
    },
    #[error("{0}")]
    Shape(&'static str),
    #[error("suppression list {path}: {source}")]
    Suppression {
        path: PathBuf,
        source: SuppressionError,
    },
}

/// A [`ConfigError`] with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no position (an unreadable file).
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub error: ConfigError,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.error)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.error
            )
        }
    }
}

/// Every problem found in a config (all semantic problems are collected, not just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in text.bytes().enumerate().take(at) {
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = text
        .get(line_start..at)
        .map_or(at - line_start, |s| s.chars().count())
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 3), "é is one column");
        assert_eq!(line_col(t, 999), (3, 1));
    }
}
