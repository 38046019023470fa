//! Suppression lists: caller numbers a buyer (or a whole router) must not receive.
//!
//! A list is a text file of one number per line; blank lines and lines starting with `#` are
//! skipped, and anything after a number's digits such as `,note` is not allowed (a malformed line is
//! an error naming the line, so a broken export is noticed). Numbers are normalised to E.164-style
//! digits: punctuation and a leading `+` are dropped, and a 10-digit NANP number gets its country
//! code `1`. They are stored as `u64` in a hash set: millions load in well under a second and a
//! lookup is O(1).

use std::sync::Arc;

use parkway_esl::fasthash::FxHashSet;

/// Why a suppression list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error("line {line}: `{text}` is not a phone number")]
    BadNumber { line: usize, text: String },
}

/// Most digits an E.164 number has.
pub const MAX_DIGITS: usize = 15;

/// Normalises a phone number to its digits as a `u64` (`+1 (310) 555-0100` → 13105550100); 10-digit
/// numbers are taken as NANP and get the leading 1. `None` when it has no digits, more than 15, or
/// letters.
pub fn normalize(number: &str) -> Option<u64> {
    let mut value: u64 = 0;
    let mut digits = 0usize;
    for (i, b) in number.bytes().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > MAX_DIGITS {
                    return None;
                }
                value = value * 10 + u64::from(b - b'0');
            }
            b'+' if i == 0 => {}
            b' ' | b'-' | b'(' | b')' | b'.' | b'\t' => {}
            _ => return None,
        }
    }
    match digits {
        0 => None,
        10 => Some(10_000_000_000 + value),
        _ => Some(value),
    }
}

/// A named set of suppressed numbers.
#[derive(Debug, Clone, Default)]
pub struct SuppressionList {
    pub name: Arc<str>,
    numbers: FxHashSet<u64>,
}

impl SuppressionList {
    /// Parses the text of a list file.
    pub fn parse(name: &str, text: &str) -> Result<SuppressionList, SuppressionError> {
        let mut numbers = FxHashSet::default();
        numbers.reserve(text.len() / 12);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match normalize(line) {
                Some(n) => {
                    numbers.insert(n);
                }
                None => {
                    return Err(SuppressionError::BadNumber {
                        line: i + 1,
                        text: line.chars().take(40).collect(),
                    });
                }
            }
        }
        Ok(SuppressionList {
            name: Arc::from(name),
            numbers,
        })
    }

    pub fn from_numbers(name: &str, numbers: impl IntoIterator<Item = u64>) -> SuppressionList {
        SuppressionList {
            name: Arc::from(name),
            numbers: numbers.into_iter().collect(),
        }
    }

    pub fn contains(&self, normalized: u64) -> bool {
        self.numbers.contains(&normalized)
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_numbers() {
        assert_eq!(normalize("+1 (310) 555-0100"), Some(13_105_550_100));
        assert_eq!(normalize("3105550100"), Some(13_105_550_100));
        assert_eq!(normalize("13105550100"), Some(13_105_550_100));
        assert_eq!(normalize("+442071234567"), Some(442_071_234_567));
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("abc"), None);
        assert_eq!(normalize("1234567890123456"), None);
        assert_eq!(normalize("31+05550100"), None);
    }

    #[test]
    fn parses_a_list() {
        let l = SuppressionList::parse("dnc", "# do not call\n+1 310 555 0100\n\n2125550100\n")
            .unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.contains(13_105_550_100));
        assert!(l.contains(normalize("212-555-0100").unwrap()));
        assert!(!l.contains(13_105_550_101));
        assert_eq!(&*l.name, "dnc");
    }

    #[test]
    fn bad_line_is_named() {
        let e = SuppressionList::parse("x", "2125550100\nnot a number\n").unwrap_err();
        assert_eq!(
            e,
            SuppressionError::BadNumber {
                line: 2,
                text: "not a number".into()
            }
        );
    }
}
