//! `[tokens.<name>]`: the type of a channel variable the dialplan sets (see
//! [`crate::routing::token_types`]). A whisper template may name only tokens it can speak: a
//! typed variable (free text only with `speak = true`) or a built-in.

use std::collections::BTreeMap;

use super::build::Builder;
use super::error::ConfigError;
use super::raw::{RawConfig, RawTokenType, S};
use crate::routing::token_types::{MAX_TOKEN_CHARS, TokenType, TokenTypes};
use crate::routing::tokens::TokenKey;

impl Builder<'_> {
    pub(super) fn token_types(&mut self, raw: &RawConfig) -> TokenTypes {
        let mut types = BTreeMap::new();
        for (name, t) in &raw.tokens {
            if let Some(ty) = self.token_type(name, t) {
                types.insert(name.clone(), ty);
            }
        }
        TokenTypes::new(types)
    }

    fn token_type(&mut self, name: &str, t: &S<RawTokenType>) -> Option<TokenType> {
        let r = t.get_ref();
        if !matches!(
            TokenKey::of(name),
            TokenKey::Variable | TokenKey::CallerName
        ) {
            self.problem(
                t.span(),
                ConfigError::TokenType(format!(
                    "`{name}` is a built-in token: its type is fixed (only channel variables and \
                     caller_id_name take a type)"
                )),
            );
            return None;
        }
        let kind = r.kind.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "number" => &["min", "max"],
            "digits" => &["length", "min_len", "max_len"],
            "one_of" => &["values"],
            "text" => &["max_len", "speak"],
            _ => {
                self.problem(
                    r.kind.span(),
                    ConfigError::TokenType(format!(
                        "type {kind:?} is not one of number, digits, one_of, text"
                    )),
                );
                return None;
            }
        };
        let given = [
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("length", r.length.is_some()),
            ("min_len", r.min_len.is_some()),
            ("max_len", r.max_len.is_some()),
            ("values", r.values.is_some()),
            ("speak", r.speak.is_some()),
        ];
        for (key, _) in given.iter().filter(|(k, set)| *set && !allowed.contains(k)) {
            self.problem(
                t.span(),
                ConfigError::TokenType(format!("`{key}` does not go with type {kind:?}")),
            );
        }
        let max_chars = MAX_TOKEN_CHARS as i64;
        let len = |v: &Option<S<i64>>, what: &'static str, b: &mut Self| {
            v.as_ref().and_then(|v| {
                b.int(v, what, "1–256", |x| (1..=max_chars).contains(&x))
                    .map(|x| x as usize)
            })
        };
        let ty = match kind {
            "number" => {
                if let (Some(a), Some(b)) = (r.min, r.max)
                    && a > b
                {
                    self.problem(
                        t.span(),
                        ConfigError::TokenType(format!("min {a} is above max {b}")),
                    );
                }
                TokenType::Number {
                    min: r.min,
                    max: r.max,
                }
            }
            "digits" => {
                let length = len(&r.length, "length", self);
                let min_len = len(&r.min_len, "min_len", self);
                let max_len = len(&r.max_len, "max_len", self);
                let (lo, hi) = match length {
                    Some(n) => (n, n),
                    None => (min_len.unwrap_or(1), max_len.unwrap_or(MAX_TOKEN_CHARS)),
                };
                if lo > hi {
                    self.problem(
                        t.span(),
                        ConfigError::TokenType(format!("min_len {lo} is above max_len {hi}")),
                    );
                }
                TokenType::Digits {
                    min_len: lo,
                    max_len: hi,
                }
            }
            "one_of" => {
                let values = r.values.clone().unwrap_or_default();
                if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                    self.problem(
                        t.span(),
                        ConfigError::TokenType(
                            "one_of needs `values`, a list of non-empty strings".into(),
                        ),
                    );
                }
                TokenType::OneOf { values }
            }
            _ => TokenType::Text {
                max_len: len(&r.max_len, "max_len", self).unwrap_or(MAX_TOKEN_CHARS),
                speak: r.speak.unwrap_or(false),
            },
        };
        Some(ty)
    }
}
