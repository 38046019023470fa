//! Validation of the rule-shaped values of a buyer or group: token filters, open hours, caps,
//! and the conversion and payout rules billing reads. Split from `build.rs` along that seam.

use regex::Regex;

use super::build::Builder;
use super::error::ConfigError;
use super::model::{ConversionRule, Payout, PayoutBasis};
use super::money::Money;
use super::raw::*;
use crate::routing::caps::{CapSpec, Limits, SlotCaps};
use crate::routing::filter::{Filter, Op, Test};
use crate::routing::schedule::Schedule;
use crate::routing::usage::Metric;
use crate::routing::zonetime::Window;

impl Builder<'_> {
    pub(super) fn filter(&mut self, f: &S<RawFilter>) -> Option<Filter> {
        let r = f.get_ref();
        let Some(op) = Op::parse(r.op.get_ref()) else {
            self.problem(r.op.span(), ConfigError::UnknownOp(r.op.get_ref().clone()));
            return None;
        };
        let span = r.value.as_ref().map_or(f.span(), |v| v.span());
        let value = r.value.as_ref().map(|v| v.get_ref());
        let bad = |b: &mut Self, needs| {
            b.problem(
                span.clone(),
                ConfigError::BadFilterValue {
                    op: op.to_string(),
                    needs,
                },
            );
            None
        };
        let scalar = |v: Option<&toml::Value>| match v {
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(toml::Value::Integer(i)) => Some(i.to_string()),
            Some(toml::Value::Float(x)) => Some(x.to_string()),
            Some(toml::Value::Boolean(b)) => Some(b.to_string()),
            _ => None,
        };
        let test = match op {
            Op::Eq | Op::Ne => match scalar(value) {
                Some(s) if op == Op::Eq => Test::Eq(s),
                Some(s) => Test::Ne(s),
                None => return bad(self, "a single value"),
            },
            Op::Matches => match value {
                Some(toml::Value::String(p)) => match Regex::new(p) {
                    Ok(re) => Test::Matches(re),
                    Err(e) => {
                        self.problem(
                            span,
                            ConfigError::BadRegex {
                                pattern: p.clone(),
                                message: e.to_string().lines().last().unwrap_or("").to_string(),
                            },
                        );
                        return None;
                    }
                },
                _ => return bad(self, "a regex string"),
            },
            Op::Gt | Op::Lt => {
                let n = match value {
                    Some(toml::Value::Integer(i)) => Some(*i as f64),
                    Some(toml::Value::Float(x)) if x.is_finite() => Some(*x),
                    Some(toml::Value::String(s)) => {
                        s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
                    }
                    _ => None,
                };
                match n {
                    Some(n) if op == Op::Gt => Test::Gt(n),
                    Some(n) => Test::Lt(n),
                    None => {
                        let shown = value.map_or_else(|| "nothing".to_string(), |v| v.to_string());
                        self.problem(
                            span,
                            ConfigError::NotANumber {
                                op: op.to_string(),
                                value: shown,
                            },
                        );
                        return None;
                    }
                }
            }
            Op::In | Op::NotIn => match value {
                Some(toml::Value::Array(items)) => {
                    let list: Option<Vec<String>> = items.iter().map(|i| scalar(Some(i))).collect();
                    match list {
                        Some(l) if op == Op::In => Test::In(l),
                        Some(l) => Test::NotIn(l),
                        None => return bad(self, "a list of values"),
                    }
                }
                _ => return bad(self, "a list of values"),
            },
            Op::Exists => match value {
                None => Test::Exists,
                Some(_) => return bad(self, "no value"),
            },
        };
        Some(Filter::new(r.token.get_ref(), test))
    }

    pub(super) fn hour_ranges(&mut self, ranges: &[S<Vec<S<i64>>>]) -> Vec<(u8, u8)> {
        let mut out = Vec::new();
        for r in ranges {
            let v = r.get_ref();
            if v.len() != 2 {
                self.problem(r.span(), ConfigError::HourRangeShape(v.len()));
                continue;
            }
            let (s, e) = (&v[0], &v[1]);
            let mut ok = true;
            if !(0..=23).contains(s.get_ref()) {
                self.problem(s.span(), ConfigError::SlotOutOfRange(*s.get_ref()));
                ok = false;
            }
            if !(1..=24).contains(e.get_ref()) || e.get_ref() <= s.get_ref() {
                self.problem(
                    e.span(),
                    ConfigError::BadHourRange {
                        start: *s.get_ref(),
                        end: *e.get_ref(),
                    },
                );
                ok = false;
            }
            if ok {
                out.push((*s.get_ref() as u8, *e.get_ref() as u8));
            }
        }
        out
    }

    pub(super) fn hours(&mut self, h: &RawHours) -> Schedule {
        let mut sched = Schedule::closed();
        if let Some(all) = &h.all {
            for (s, e) in self.hour_ranges(all) {
                for d in 0..7 {
                    sched.open(d, s, e);
                }
            }
        }
        let days = [&h.mon, &h.tue, &h.wed, &h.thu, &h.fri, &h.sat, &h.sun];
        for (d, ranges) in days.into_iter().enumerate() {
            if let Some(ranges) = ranges {
                sched.clear_day(d);
                for (s, e) in self.hour_ranges(ranges) {
                    sched.open(d, s, e);
                }
            }
        }
        sched
    }

    pub(super) fn count(&mut self, v: &S<i64>, what: String) -> Option<i64> {
        if *v.get_ref() < 0 {
            self.problem(
                v.span(),
                ConfigError::NegativeCap {
                    what,
                    value: v.get_ref().to_string(),
                },
            );
            None
        } else {
            Some(*v.get_ref())
        }
    }

    pub(super) fn limits(&mut self, l: &RawLimits, window: &str) -> Limits {
        let mut out = Limits::default();
        for (metric, v) in [
            (Metric::Attempts, &l.attempts),
            (Metric::Connections, &l.connections),
            (Metric::Conversions, &l.conversions),
        ] {
            if let Some(v) = v {
                out.set(metric, self.count(v, format!("{window}.{}", metric.name())));
            }
        }
        if let Some(r) = &l.revenue {
            match Money::parse(&r.get_ref().0, self.currency) {
                Ok(m) if m.minor < 0 => self.problem(
                    r.span(),
                    ConfigError::NegativeCap {
                        what: format!("{window}.revenue"),
                        value: r.get_ref().0.clone(),
                    },
                ),
                Ok(m) => out.revenue = Some(m.minor),
                Err(e) => self.problem(r.span(), e.into()),
            }
        }
        out
    }

    pub(super) fn caps(&mut self, c: &RawCaps) -> CapSpec {
        let mut spec = CapSpec {
            pacing: c.pacing.unwrap_or_default(),
            ..Default::default()
        };
        if let Some(v) = &c.concurrency {
            spec.concurrency = self.count(v, "concurrency".into());
        }
        for (window, l) in [
            (Window::Hourly, &c.hourly),
            (Window::Daily, &c.daily),
            (Window::Weekly, &c.weekly),
            (Window::Monthly, &c.monthly),
            (Window::Total, &c.total),
        ] {
            if let Some(l) = l {
                *spec.limits_mut(window) = self.limits(l, window.name());
            }
        }
        for slot in &c.slot {
            let ranges = self.hour_ranges(std::slice::from_ref(&slot.hours));
            let hourly = slot
                .hourly
                .as_ref()
                .map(|l| self.limits(l, "slot.hourly"))
                .unwrap_or_default();
            let concurrency = slot
                .concurrency
                .as_ref()
                .and_then(|v| self.count(v, "slot.concurrency".into()));
            if let Some(&(start, end)) = ranges.first() {
                // The first slot covering an hour wins, so an overlapping one would never apply.
                if let Some(other) = spec.slots.iter().find(|s| start < s.end && s.start < end) {
                    self.problem(
                        slot.hours.span(),
                        ConfigError::OverlappingSlots {
                            start,
                            end,
                            other_start: other.start,
                            other_end: other.end,
                        },
                    );
                    continue;
                }
                spec.slots.push(SlotCaps {
                    start,
                    end,
                    hourly,
                    concurrency,
                });
            }
        }
        spec
    }

    pub(super) fn conversion(&mut self, c: &S<RawConversion>) -> ConversionRule {
        let r = c.get_ref();
        let seconds = r.talk_seconds.as_ref().and_then(|s| {
            self.int(s, "talk_seconds", "1–86400", |x| {
                (1..=86_400).contains(&x)
            })
            .map(|x| x as u32)
        });
        let digit = r.digit.as_ref().and_then(|d| {
            let mut chars = d.get_ref().chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) if ch.is_ascii_digit() || ch == '*' || ch == '#' => Some(ch),
                _ => {
                    self.problem(
                        d.span(),
                        ConfigError::Shape("digit must be one of 0-9, * or #"),
                    );
                    None
                }
            }
        });
        let fallback = ConversionRule::TalkTime { seconds: 90 };
        match (seconds, digit, &r.when) {
            (Some(seconds), None, None) => ConversionRule::TalkTime { seconds },
            (None, Some(digit), None) => ConversionRule::Keypress { digit },
            (Some(seconds), Some(digit), Some(w)) => match w.get_ref().as_str() {
                "any" => ConversionRule::Any { seconds, digit },
                "all" => ConversionRule::All { seconds, digit },
                _ => {
                    self.problem(
                        w.span(),
                        ConfigError::Shape("when must be \"any\" or \"all\""),
                    );
                    fallback
                }
            },
            (Some(_), Some(_), None) => {
                self.problem(
                    c.span(),
                    ConfigError::Shape(
                        "a conversion with both talk_seconds and digit needs when = \"any\" or \"all\"",
                    ),
                );
                fallback
            }
            (Some(_), None, Some(w)) | (None, Some(_), Some(w)) => {
                self.problem(
                    w.span(),
                    ConfigError::Shape(
                        "when = \"any\" / \"all\" needs both talk_seconds and digit",
                    ),
                );
                fallback
            }
            _ if r.talk_seconds.is_none() && r.digit.is_none() => {
                self.problem(
                    c.span(),
                    ConfigError::Shape("a conversion needs talk_seconds, digit, or both"),
                );
                fallback
            }
            _ => fallback, // a part was invalid and already reported
        }
    }

    pub(super) fn payout(&mut self, p: &RawPayout) -> Option<Payout> {
        let per = match p.per.get_ref().as_str() {
            "call" => PayoutBasis::Call,
            "minute" => PayoutBasis::Minute,
            "conversion" => PayoutBasis::Conversion,
            _ => {
                self.problem(
                    p.per.span(),
                    ConfigError::Shape("payout per must be \"call\", \"minute\" or \"conversion\""),
                );
                return None;
            }
        };
        let amount = self.money(&p.amount)?;
        Some(Payout { per, amount })
    }
}
