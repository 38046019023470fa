//! Local time in a buyer's zone, and the cap windows that reset there.
//!
//! Windows reset on local wall-clock boundaries: hourly at the top of the local hour, daily at local
//! midnight, weekly on Monday 00:00 local, monthly on the 1st at 00:00 local; `total` never resets.
//! Wall-clock boundaries that do not exist (a DST gap, such as a midnight skipped by
//! America/Sao_Paulo in 2018 or the 30-minute gap of Australia/Lord_Howe) resolve to the first instant
//! after the gap; boundaries that happen twice (a fall-back) resolve to the first occurrence for days,
//! weeks and months, and to the occurrence the current instant is in for hours.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset,
    TimeZone, Timelike, Utc,
};
use std::cell::OnceCell;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A cap window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Total,
}

impl Window {
    pub const ALL: [Window; 5] = [
        Window::Hourly,
        Window::Daily,
        Window::Weekly,
        Window::Monthly,
        Window::Total,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Window::Hourly => "hourly",
            Window::Daily => "daily",
            Window::Weekly => "weekly",
            Window::Monthly => "monthly",
            Window::Total => "total",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Start (inclusive) and end (exclusive, = when it resets) of the current instance of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// `now` seen from one zone: computed once per zone per decision and shared by its buyers.
///
/// Only the local wall time is computed up front; window bounds and their display form are
/// computed on first use and cached, so a decision pays for the time zone arithmetic it needs
/// (a zone whose buyers have no stamped counters and are under their caps needs none).
#[derive(Debug, Clone)]
pub struct ZoneNow {
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub local: NaiveDateTime,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    pub hour: u8,
    pub minute: u8,
    /// `HH:MM`, also the source of the `local_hour` token text.
    time_text: [u8; 5],
    bounds: [OnceCell<Bounds>; 5],
    shown_end: [OnceCell<Option<DateTime<FixedOffset>>>; 5],
}

impl ZoneNow {
    pub fn new(tz: Tz, now: DateTime<Utc>) -> ZoneNow {
        let local = now.with_timezone(&tz).naive_local();
        let (hour, minute) = (local.hour() as u8, local.minute() as u8);
        let digit = |n: u8| b'0' + n % 10;
        ZoneNow {
            tz,
            now,
            local,
            weekday: local.date().weekday().num_days_from_monday() as u8,
            hour,
            minute,
            time_text: [
                digit(hour / 10),
                digit(hour),
                b':',
                digit(minute / 10),
                digit(minute),
            ],
            bounds: Default::default(),
            shown_end: Default::default(),
        }
    }

    /// The per-zone time tokens: `local_hour`, `local_time`, `local_weekday`.
    pub fn token(&self, name: &str) -> Option<&str> {
        match name {
            "local_hour" => self.hour_text(),
            "local_time" => std::str::from_utf8(&self.time_text).ok(),
            "local_weekday" => self.weekday_text(),
            _ => None,
        }
    }

    /// `local_hour` without a leading zero (`7`, `14`).
    pub fn hour_text(&self) -> Option<&str> {
        let skip = usize::from(self.hour < 10);
        std::str::from_utf8(&self.time_text[skip..2]).ok()
    }

    pub fn time_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.time_text).ok()
    }

    pub fn weekday_text(&self) -> Option<&str> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        DAYS.get(usize::from(self.weekday)).copied()
    }

    pub fn bounds(&self, window: Window) -> Bounds {
        *self.bounds[window.index()].get_or_init(|| self.compute(window))
    }

    /// When the current instance of `window` ends, shown with the zone's offset then.
    pub fn resets_at(&self, window: Window) -> Option<DateTime<FixedOffset>> {
        *self.shown_end[window.index()]
            .get_or_init(|| self.bounds(window).end.map(|t| in_zone(self.tz, t)))
    }

    fn compute(&self, window: Window) -> Bounds {
        let tz = self.tz;
        let date = self.local.date();
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default();
        let span = |a: NaiveDateTime, b: NaiveDateTime| Bounds {
            start: Some(earliest_at_or_after(tz, a)),
            end: Some(earliest_at_or_after(tz, b)),
        };
        match window {
            Window::Hourly => {
                let top = midnight(date) + Duration::hours(i64::from(self.hour));
                hour_bounds(tz, self.now, top)
            }
            Window::Daily => span(midnight(date), midnight(date) + Duration::days(1)),
            Window::Weekly => {
                let monday = midnight(
                    date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
                );
                span(monday, monday + Duration::days(7))
            }
            Window::Monthly => {
                let first = date.with_day(1).unwrap_or(date);
                let next = if date.month() == 12 {
                    NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
                }
                .unwrap_or(date);
                span(midnight(first), midnight(next))
            }
            Window::Total => Bounds {
                start: None,
                end: None,
            },
        }
    }

    /// A UTC instant shown with this zone's offset at that instant.
    pub fn show(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        in_zone(self.tz, t)
    }
}

/// `t` with the offset `tz` has at `t`.
pub fn in_zone(tz: Tz, t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let local = t.with_timezone(&tz);
    local.with_timezone(&local.offset().fix())
}

/// The instants a local wall time maps to: one normally, two in a fall-back, and in a gap the first
/// instant after the gap.
fn candidates(tz: Tz, naive: NaiveDateTime) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), None),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            (a.min(b), Some(a.max(b)))
        }
        LocalResult::None => (after_gap(tz, naive), None),
    }
}

/// The earliest instant whose local time is `naive`, or the first instant after the gap `naive` falls
/// in.
pub fn earliest_at_or_after(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    candidates(tz, naive).0
}

/// First valid instant after the gap containing `naive`. Transitions happen on whole minutes, so a
/// coarse 15-minute walk followed by a minute walk finds it exactly. The walk is bounded (48 h covers
/// the largest gap on record, Samoa's skipped day in 2011); past the bound the wall time is read as
/// UTC, which cannot happen with tzdb data.
fn after_gap(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let valid = |n: NaiveDateTime| match tz.from_local_datetime(&n) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => None,
    };
    const COARSE: i64 = 15;
    for step in 1..=(48 * 60 / COARSE) {
        let probe = naive + Duration::minutes(step * COARSE);
        if valid(probe).is_some() {
            for m in ((step - 1) * COARSE + 1)..=(step * COARSE) {
                if let Some(t) = valid(naive + Duration::minutes(m)) {
                    return t;
                }
            }
        }
    }
    naive.and_utc()
}

/// Bounds of the current local hour: starts at the latest occurrence of the top of the hour not
/// after `now`, ends at the next boundary after `now`.
fn hour_bounds(tz: Tz, now: DateTime<Utc>, hour_naive: NaiveDateTime) -> Bounds {
    let (a, b) = candidates(tz, hour_naive);
    let start = match b {
        Some(b) if b <= now => b,
        _ => a,
    };
    let (na, nb) = candidates(tz, hour_naive + Duration::hours(1));
    let mut end = na;
    for c in [Some(a), b, nb].into_iter().flatten() {
        if c > now && c < end {
            end = c;
        }
    }
    Bounds {
        start: Some(start.min(now)),
        end: Some(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn new_york_daily_and_weekly() {
        let z = ZoneNow::new(chrono_tz::America::New_York, utc("2026-11-25T15:30:00Z"));
        assert_eq!(z.hour, 10);
        assert_eq!(z.minute, 30);
        assert_eq!(z.weekday, 2); // Wednesday
        let d = z.bounds(Window::Daily);
        assert_eq!(d.start, Some(utc("2026-11-25T05:00:00Z")));
        assert_eq!(d.end, Some(utc("2026-11-26T05:00:00Z")));
        let w = z.bounds(Window::Weekly);
        assert_eq!(w.start, Some(utc("2026-11-23T05:00:00Z")));
        assert_eq!(w.end, Some(utc("2026-11-30T05:00:00Z")));
        let m = z.bounds(Window::Monthly);
        assert_eq!(
            m.start,
            Some(utc("2026-11-01T04:00:00Z")),
            "Nov 1 was still EDT"
        );
        assert_eq!(m.end, Some(utc("2026-12-01T05:00:00Z")));
        let h = z.bounds(Window::Hourly);
        assert_eq!(h.start, Some(utc("2026-11-25T15:00:00Z")));
        assert_eq!(h.end, Some(utc("2026-11-25T16:00:00Z")));
        assert_eq!(z.bounds(Window::Total).end, None);
    }

    #[test]
    fn spring_forward_day_is_23_hours() {
        let z = ZoneNow::new(chrono_tz::America::New_York, utc("2026-03-08T12:00:00Z"));
        let d = z.bounds(Window::Daily);
        assert_eq!(d.start, Some(utc("2026-03-08T05:00:00Z")));
        assert_eq!(d.end, Some(utc("2026-03-09T04:00:00Z")));
    }

    #[test]
    fn fall_back_hour_repeats() {
        // 2026-11-01 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) are both local hour 1.
        let tz = chrono_tz::America::New_York;
        let first = ZoneNow::new(tz, utc("2026-11-01T05:30:00Z")).bounds(Window::Hourly);
        assert_eq!(first.start, Some(utc("2026-11-01T05:00:00Z")));
        assert_eq!(first.end, Some(utc("2026-11-01T06:00:00Z")));
        let second = ZoneNow::new(tz, utc("2026-11-01T06:30:00Z")).bounds(Window::Hourly);
        assert_eq!(second.start, Some(utc("2026-11-01T06:00:00Z")));
        assert_eq!(second.end, Some(utc("2026-11-01T07:00:00Z")));
    }

    #[test]
    fn sao_paulo_missing_midnight() {
        // 2018-11-04: clocks jumped from 00:00 to 01:00 in America/Sao_Paulo.
        let tz = chrono_tz::America::Sao_Paulo;
        let z = ZoneNow::new(tz, utc("2018-11-04T12:00:00Z"));
        let d = z.bounds(Window::Daily);
        assert_eq!(d.start, Some(utc("2018-11-04T03:00:00Z")), "01:00 -02:00");
        // The previous day ends when the new one starts.
        let y = ZoneNow::new(tz, utc("2018-11-03T12:00:00Z")).bounds(Window::Daily);
        assert_eq!(y.end, d.start);
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // 2026-10-04 02:00 local (+10:30) jumps to 02:30 (+11:00).
        let tz = chrono_tz::Australia::Lord_Howe;
        let z = ZoneNow::new(tz, utc("2026-10-03T15:45:00Z")); // 02:45 +11:00
        assert_eq!(z.hour, 2);
        let h = z.bounds(Window::Hourly);
        assert_eq!(h.start, Some(utc("2026-10-03T15:30:00Z")), "02:30 +11:00");
        assert_eq!(h.end, Some(utc("2026-10-03T16:00:00Z")));
        let d = z.bounds(Window::Daily);
        assert_eq!(
            d.start,
            Some(utc("2026-10-03T13:30:00Z")),
            "midnight +10:30"
        );
        assert_eq!(d.end, Some(utc("2026-10-04T13:00:00Z")), "midnight +11:00");
    }

    #[test]
    fn shows_in_zone() {
        let s = in_zone(chrono_tz::America::New_York, utc("2026-11-26T05:00:00Z"));
        assert_eq!(s.to_rfc3339(), "2026-11-26T00:00:00-05:00");
    }
}
