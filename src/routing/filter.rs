//! Token filters: every filter of a buyer must hold on the call's tokens.
//!
//! Operators: `==`, `!=` (exact, case-sensitive string comparison), `=~` (regex search, anchor it
//! with `^…$` for a whole-value match), `>`, `<` (numeric: the token is parsed as a decimal number;
//! a token that is not a number fails), `in`, `not_in` (exact membership in a list), `exists` (the
//! token is present and not empty).
//!
//! **A missing token fails the filter**, except for `!=` and `not_in`, which hold when the token is
//! missing (a call without a `state` is "not in CA, TX"). An operator writing `state != "CA"` to
//! exclude California therefore still receives calls with an unknown state; add `state exists` to
//! require one.

use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::tokens::{TokenKey, Tokens};
use super::zonetime::ZoneNow;

/// A filter operator, written as in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "=~")]
    Matches,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not_in")]
    NotIn,
    #[serde(rename = "exists")]
    Exists,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "=~" => Op::Matches,
            ">" => Op::Gt,
            "<" => Op::Lt,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Matches => "=~",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Exists => "exists",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The compiled right-hand side of a filter.
#[derive(Debug, Clone)]
pub enum Test {
    Eq(String),
    Ne(String),
    Matches(Regex),
    Gt(f64),
    Lt(f64),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
}

/// One filter: `token op value`.
#[derive(Debug, Clone)]
pub struct Filter {
    pub token: Arc<str>,
    /// `token`, resolved.
    pub key: TokenKey,
    pub test: Test,
    /// The expected value as the operator wrote it, for reasons and explain output.
    pub expected: Arc<str>,
}

impl Filter {
    pub fn new(token: &str, test: Test) -> Filter {
        let expected = match &test {
            Test::Eq(s) | Test::Ne(s) => s.clone(),
            Test::Matches(r) => r.as_str().to_string(),
            Test::Gt(n) | Test::Lt(n) => n.to_string(),
            Test::In(v) | Test::NotIn(v) => v.join(","),
            Test::Exists => String::new(),
        };
        Filter {
            token: Arc::from(token),
            key: TokenKey::of(token),
            test,
            expected: Arc::from(expected),
        }
    }

    pub fn op(&self) -> Op {
        match self.test {
            Test::Eq(_) => Op::Eq,
            Test::Ne(_) => Op::Ne,
            Test::Matches(_) => Op::Matches,
            Test::Gt(_) => Op::Gt,
            Test::Lt(_) => Op::Lt,
            Test::In(_) => Op::In,
            Test::NotIn(_) => Op::NotIn,
            Test::Exists => Op::Exists,
        }
    }

    /// Does the filter hold for this token value (`None` = the token is missing)?
    pub fn holds(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            return matches!(self.test, Test::Ne(_) | Test::NotIn(_));
        };
        match &self.test {
            Test::Eq(e) => v == e,
            Test::Ne(e) => v != e,
            Test::Matches(r) => r.is_match(v),
            Test::Gt(n) => parse_number(v).is_some_and(|x| x > *n),
            Test::Lt(n) => parse_number(v).is_some_and(|x| x < *n),
            Test::In(list) => list.iter().any(|e| e == v),
            Test::NotIn(list) => !list.iter().any(|e| e == v),
            Test::Exists => !v.is_empty(),
        }
    }
}

/// A token value read as a number for `>` / `<` (not money: filters compare call data such as ages
/// or scores).
fn parse_number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The value of a token for one buyer: the zone's time tokens first, then the call's tokens.
pub fn token_value<'a>(tokens: &'a Tokens, zone: &'a ZoneNow, name: &str) -> Option<&'a str> {
    keyed_value(tokens, zone, TokenKey::of(name), name)
}

/// [`token_value`] with the name already resolved.
pub fn keyed_value<'a>(
    tokens: &'a Tokens,
    zone: &'a ZoneNow,
    key: TokenKey,
    name: &str,
) -> Option<&'a str> {
    match key {
        TokenKey::LocalHour => zone.hour_text(),
        TokenKey::LocalTime => zone.time_text(),
        TokenKey::LocalWeekday => zone.weekday_text(),
        _ => tokens.get_keyed(key, name),
    }
}

/// The first filter that fails, with the value it saw.
pub fn first_failure<'f>(
    filters: &'f [Filter],
    tokens: &Tokens,
    zone: &ZoneNow,
) -> Option<(&'f Filter, Option<String>)> {
    for f in filters {
        let v = keyed_value(tokens, zone, f.key, &f.token);
        if !f.holds(v) {
            return Some((f, v.map(str::to_string)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::tokens::CallerFields;
    use chrono::{DateTime, Utc};

    fn f(token: &str, test: Test) -> Filter {
        Filter::new(token, test)
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn equality() {
        assert!(f("a", Test::Eq(s("x"))).holds(Some("x")));
        assert!(!f("a", Test::Eq(s("x"))).holds(Some("X")));
        assert!(!f("a", Test::Eq(s("x"))).holds(None));
        assert!(f("a", Test::Ne(s("x"))).holds(Some("y")));
        assert!(!f("a", Test::Ne(s("x"))).holds(Some("x")));
        assert!(f("a", Test::Ne(s("x"))).holds(None), "missing holds for !=");
    }

    #[test]
    fn regex() {
        let r = f("a", Test::Matches(Regex::new("^auto|home$").unwrap()));
        assert!(r.holds(Some("auto-insurance")));
        assert!(r.holds(Some("my home")));
        assert!(!r.holds(Some("life")));
        assert!(!r.holds(None));
    }

    #[test]
    fn numeric() {
        let gt = f("age", Test::Gt(64.0));
        assert!(gt.holds(Some("65")));
        assert!(gt.holds(Some(" 64.5 ")));
        assert!(!gt.holds(Some("64")));
        assert!(!gt.holds(Some("sixty")), "not a number fails");
        assert!(!gt.holds(None));
        let lt = f("age", Test::Lt(18.0));
        assert!(lt.holds(Some("17")));
        assert!(lt.holds(Some("-1")));
        assert!(!lt.holds(Some("18")));
        assert!(!lt.holds(Some("NaN")));
    }

    #[test]
    fn lists() {
        let inn = f("state", Test::In(vec![s("CA"), s("TX")]));
        assert!(inn.holds(Some("TX")));
        assert!(!inn.holds(Some("NY")));
        assert!(!inn.holds(None));
        let not_in = f("state", Test::NotIn(vec![s("CA"), s("TX")]));
        assert!(not_in.holds(Some("NY")));
        assert!(!not_in.holds(Some("CA")));
        assert!(not_in.holds(None), "missing holds for not_in");
    }

    #[test]
    fn exists() {
        let e = f("campaign", Test::Exists);
        assert!(e.holds(Some("x")));
        assert!(!e.holds(Some("")));
        assert!(!e.holds(None));
    }

    #[test]
    fn first_failure_reports_actual_and_time_tokens() {
        let now: DateTime<Utc> = "2026-11-25T15:30:00Z".parse().unwrap();
        let zone = ZoneNow::new(chrono_tz::America::Los_Angeles, now);
        let tokens = Tokens::new(
            [("campaign", "solar")],
            CallerFields {
                number: Some("3105550100".into()),
                ..Default::default()
            },
        );
        let filters = vec![
            f("state", Test::Eq(s("CA"))),
            f("local_hour", Test::Eq(s("7"))),
            f("campaign", Test::Eq(s("auto"))),
        ];
        let (bad, actual) = first_failure(&filters, &tokens, &zone).unwrap();
        assert_eq!(&*bad.token, "campaign");
        assert_eq!(actual.as_deref(), Some("solar"));
        assert_eq!(bad.op(), Op::Eq);
        assert!(first_failure(&filters[..2], &tokens, &zone).is_none());
        assert_eq!(token_value(&tokens, &zone, "local_weekday"), Some("wed"));
        assert_eq!(token_value(&tokens, &zone, "local_time"), Some("07:30"));
    }
}
