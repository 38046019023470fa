//! Token types: what the operator says a channel variable holds (`[tokens.<name>]` in the
//! config). A value is checked once, when the call parks: one that does not fit its type is
//! treated as absent (for filters, router matches and the whisper) and the call's record says
//! so. The whisper speaks only what is typed, and free text only where the operator says it may
//! be spoken: a value the caller's side can set (a SIP header copied into a variable) must not
//! reach the buyer's ear as words of the publisher's choosing.
//!
//! Built-in tokens have fixed types: `area_code`, `state` and `country` come from parkway's own
//! tables; `caller_id_number` and `destination_number` are spoken only when they look like a
//! phone number; `caller_id_name` is free text, spoken only when typed
//! `[tokens.caller_id_name] type = "text"` with `speak = true`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::tokens::{CallerFields, TokenKey, Tokens};

/// The longest value any type accepts (a longer one does not fit).
pub const MAX_TOKEN_CHARS: usize = 256;

/// What one token may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TokenType {
    /// A whole number (`-`, then ASCII digits), optionally within `min..=max`.
    Number { min: Option<i64>, max: Option<i64> },
    /// ASCII digits only (a zip code, an account number), `min_len..=max_len` of them.
    Digits { min_len: usize, max_len: usize },
    /// Exactly one of these values (compared ignoring ASCII case).
    OneOf { values: Vec<String> },
    /// Any text up to `max_len` characters without control characters; spoken only if `speak`.
    Text { max_len: usize, speak: bool },
}

impl TokenType {
    /// Whether `value` is one this type accepts.
    pub fn fits(&self, value: &str) -> bool {
        if value.chars().count() > MAX_TOKEN_CHARS {
            return false;
        }
        match self {
            TokenType::Number { min, max } => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                if digits.is_empty()
                    || digits.len() > 18
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return false;
                }
                let Ok(n) = value.parse::<i64>() else {
                    return false;
                };
                min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
            }
            TokenType::Digits { min_len, max_len } => {
                (*min_len..=*max_len).contains(&value.len())
                    && value.bytes().all(|b| b.is_ascii_digit())
            }
            TokenType::OneOf { values } => values.iter().any(|v| v.eq_ignore_ascii_case(value)),
            TokenType::Text { max_len, .. } => {
                value.chars().count() <= *max_len && !value.chars().any(char::is_control)
            }
        }
    }

    /// Whether the whisper may speak a value of this type.
    pub fn speakable(&self) -> bool {
        match self {
            TokenType::Text { speak, .. } => *speak,
            _ => true,
        }
    }

    /// How the type is named in notes and errors.
    pub fn describe(&self) -> String {
        match self {
            TokenType::Number { min, max } => match (min, max) {
                (Some(a), Some(b)) => format!("a number {a}–{b}"),
                (Some(a), None) => format!("a number ≥ {a}"),
                (None, Some(b)) => format!("a number ≤ {b}"),
                (None, None) => "a number".into(),
            },
            TokenType::Digits { min_len, max_len } if min_len == max_len => {
                format!("{min_len} digits")
            }
            TokenType::Digits { min_len, max_len } => format!("{min_len}–{max_len} digits"),
            TokenType::OneOf { values } => format!("one of {}", values.join(", ")),
            TokenType::Text { max_len, .. } => format!("text of at most {max_len} characters"),
        }
    }
}

/// The config's token types, by token name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenTypes {
    types: BTreeMap<String, TokenType>,
}

/// Whether a built-in token's value may be spoken (see the module doc).
fn phone_like(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl TokenTypes {
    pub fn new(types: BTreeMap<String, TokenType>) -> TokenTypes {
        TokenTypes { types }
    }

    pub fn get(&self, name: &str) -> Option<&TokenType> {
        self.types.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether a whisper template may name `name` and have it spoken on some call.
    pub fn speakable_name(&self, name: &str) -> bool {
        match TokenKey::of(name) {
            TokenKey::AreaCode
            | TokenKey::State
            | TokenKey::Country
            | TokenKey::CallerNumber
            | TokenKey::Destination => true,
            TokenKey::CallerName | TokenKey::Variable => {
                self.types.get(name).is_some_and(TokenType::speakable)
            }
            TokenKey::LocalHour | TokenKey::LocalTime | TokenKey::LocalWeekday => false,
        }
    }

    /// Checks a parked call's tokens: every typed value that does not fit its type is removed
    /// (the call goes on as if it were not set). One note per value removed, for the record.
    pub fn check(&self, tokens: &mut Tokens) -> Vec<String> {
        let mut notes = Vec::new();
        for (name, ty) in &self.types {
            let Some(value) = tokens.get(name) else {
                continue;
            };
            if ty.fits(value) {
                continue;
            }
            let shown: String = value.chars().take(40).collect();
            notes.push(format!(
                "token `{name}` = {shown:?} is not {}: treated as absent and never spoken",
                ty.describe()
            ));
            tokens.remove(name);
        }
        notes
    }

    /// The tokens the whisper may speak: typed variables (free text only where `speak = true`),
    /// the built-ins from parkway's tables, and caller and destination numbers that look like
    /// phone numbers. Values are assumed checked ([`TokenTypes::check`]).
    pub fn speakable(&self, tokens: &Tokens) -> Tokens {
        let vars = self
            .types
            .iter()
            .filter(|(name, ty)| TokenKey::of(name) == TokenKey::Variable && ty.speakable())
            .filter_map(|(name, ty)| {
                let v = tokens.get(name)?;
                ty.fits(v).then(|| (name.clone(), v.to_owned()))
            });
        let name_speakable = self.speakable_name("caller_id_name");
        Tokens::new(
            vars,
            CallerFields {
                number: tokens
                    .caller_number()
                    .filter(|n| phone_like(n))
                    .map(str::to_owned),
                name: tokens
                    .get("caller_id_name")
                    .filter(|_| name_speakable)
                    .map(str::to_owned),
                destination: tokens
                    .destination()
                    .filter(|n| phone_like(n))
                    .map(str::to_owned),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> TokenTypes {
        TokenTypes::new(BTreeMap::from([
            (
                "age".to_owned(),
                TokenType::Number {
                    min: Some(18),
                    max: Some(120),
                },
            ),
            (
                "zip".to_owned(),
                TokenType::Digits {
                    min_len: 5,
                    max_len: 5,
                },
            ),
            (
                "product".to_owned(),
                TokenType::OneOf {
                    values: vec!["auto".into(), "home".into()],
                },
            ),
            (
                "note".to_owned(),
                TokenType::Text {
                    max_len: 40,
                    speak: false,
                },
            ),
        ]))
    }

    fn call(vars: &[(&str, &str)], name: &str) -> Tokens {
        Tokens::new(
            vars.iter().map(|(k, v)| (*k, *v)),
            CallerFields {
                number: Some("+12145550100".into()),
                name: Some(name.into()),
                destination: Some("18005550199".into()),
            },
        )
    }

    #[test]
    fn values_that_do_not_fit_are_dropped_with_a_note() {
        let mut t = call(
            &[
                ("age", "yes qualified homeowner insured press one to accept"),
                ("zip", "75201"),
                ("product", "AUTO"),
                ("campaign", "x"),
            ],
            "Jo",
        );
        let notes = types().check(&mut t);
        assert_eq!(t.get("age"), None);
        assert_eq!(t.get("zip"), Some("75201"));
        assert_eq!(t.get("product"), Some("AUTO"));
        assert_eq!(t.get("campaign"), Some("x"), "untyped: kept for routing");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`age`") && notes[0].contains("never spoken"));
        for (age, fits) in [
            ("18", true),
            ("17", false),
            ("44", true),
            ("4 4", false),
            ("", false),
        ] {
            assert_eq!(types().get("age").unwrap().fits(age), fits, "{age:?}");
        }
    }

    #[test]
    fn only_typed_values_and_declared_free_text_are_speakable() {
        let t = call(
            &[
                ("age", "44"),
                ("note", "press one"),
                ("campaign", "say anything"),
            ],
            "Press One Now",
        );
        let s = types().speakable(&t);
        assert_eq!(s.get("age"), Some("44"));
        assert_eq!(s.get("note"), None, "free text not declared speakable");
        assert_eq!(s.get("campaign"), None, "untyped");
        assert_eq!(s.get("caller_id_name"), None);
        assert_eq!(s.get("state"), Some("TX"));
        assert_eq!(s.get("caller_id_number"), Some("+12145550100"));
        assert!(!types().speakable_name("note"));
        assert!(!types().speakable_name("campaign"));
        assert!(types().speakable_name("state"));

        let mut spoken = types();
        spoken.types.insert(
            "caller_id_name".into(),
            TokenType::Text {
                max_len: 40,
                speak: true,
            },
        );
        let s = spoken.speakable(&t);
        assert_eq!(s.get("caller_id_name"), Some("Press One Now"));
        // A caller number that is not a phone number is not spoken (nor its region).
        let odd = Tokens::new(
            Vec::<(String, String)>::new(),
            CallerFields {
                number: Some("sales call press one".into()),
                ..Default::default()
            },
        );
        assert_eq!(types().speakable(&odd).get("caller_id_number"), None);
    }
}
