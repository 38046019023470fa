//! Business hours: a 7×24 grid of open hours in the buyer's own time zone.
//!
//! A schedule is either one list of hour ranges for every day, or one per weekday (days without an
//! entry are closed unless an every-day entry covers them). Hours are local wall-clock hours, so a
//! buyer open 09–17 in America/Chicago is open 09–17 Chicago time all year, across DST changes. A
//! buyer without a schedule is always open.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Timelike};
use serde::Serialize;

use super::zonetime::{ZoneNow, earliest_at_or_after, in_zone};

/// Open hours per weekday (index 0 = Monday), bit `h` set = open during local hour `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Schedule {
    days: [u32; 7],
}

const ALL_HOURS: u32 = (1 << 24) - 1;

impl Schedule {
    /// Open all week.
    pub fn always() -> Schedule {
        Schedule {
            days: [ALL_HOURS; 7],
        }
    }

    /// Closed all week (add hours with [`Schedule::open`]).
    pub fn closed() -> Schedule {
        Schedule { days: [0; 7] }
    }

    /// Opens local hours `start..end` (end exclusive, `end` ≤ 24) on `weekday` (0 = Monday).
    pub fn open(&mut self, weekday: usize, start: u8, end: u8) {
        if let Some(day) = self.days.get_mut(weekday) {
            for h in start..end.min(24) {
                *day |= 1 << h;
            }
        }
    }

    /// Replaces a weekday's hours (a per-day entry overrides the every-day one).
    pub fn clear_day(&mut self, weekday: usize) {
        if let Some(day) = self.days.get_mut(weekday) {
            *day = 0;
        }
    }

    pub fn is_open_at(&self, weekday: u8, hour: u8) -> bool {
        self.days
            .get(usize::from(weekday))
            .is_some_and(|d| d & (1 << hour) != 0)
    }

    pub fn is_open(&self, zone: &ZoneNow) -> bool {
        self.is_open_at(zone.weekday, zone.hour)
    }

    pub fn is_always_open(&self) -> bool {
        self.days.iter().all(|d| *d == ALL_HOURS)
    }

    /// When the buyer next opens, in its zone; `None` when the grid has no open hour at all. Looks at
    /// most one week (plus an hour) ahead; an open hour that falls into a DST gap opens when the gap
    /// ends.
    pub fn next_open(&self, zone: &ZoneNow) -> Option<DateTime<FixedOffset>> {
        if self.days.iter().all(|d| *d == 0) {
            return None;
        }
        let top = zone
            .local
            .with_minute(0)?
            .with_second(0)?
            .with_nanosecond(0)?;
        for h in 1..=(7 * 24 + 1) {
            let t = top + Duration::hours(h);
            let wd = t.weekday().num_days_from_monday() as u8;
            if self.is_open_at(wd, t.hour() as u8) {
                let at = earliest_at_or_after(zone.tz, t);
                if at > zone.now {
                    return Some(in_zone(zone.tz, at));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn zone(tz: chrono_tz::Tz, s: &str) -> ZoneNow {
        ZoneNow::new(tz, s.parse::<DateTime<Utc>>().unwrap())
    }

    fn weekdays_9_to_17() -> Schedule {
        let mut s = Schedule::closed();
        for d in 0..5 {
            s.open(d, 9, 17);
        }
        s
    }

    #[test]
    fn every_day_schedule() {
        let mut s = Schedule::closed();
        for d in 0..7 {
            s.open(d, 8, 20);
        }
        let ny = chrono_tz::America::New_York;
        assert!(s.is_open(&zone(ny, "2026-11-29T13:00:00Z")), "Sunday 08:00");
        assert!(
            !s.is_open(&zone(ny, "2026-11-29T12:59:00Z")),
            "Sunday 07:59"
        );
        assert!(
            !s.is_open(&zone(ny, "2026-11-30T01:00:00Z")),
            "Sunday 20:00"
        );
        assert!(Schedule::always().is_open(&zone(ny, "2026-11-30T01:00:00Z")));
        assert!(Schedule::always().is_always_open());
    }

    #[test]
    fn per_weekday_schedule_and_next_open() {
        let s = weekdays_9_to_17();
        let chi = chrono_tz::America::Chicago;
        // Friday 2026-11-27 17:30 CST: closed until Monday 09:00 CST.
        let z = zone(chi, "2026-11-27T23:30:00Z");
        assert!(!s.is_open(&z));
        assert_eq!(
            s.next_open(&z).unwrap().to_rfc3339(),
            "2026-11-30T09:00:00-06:00"
        );
        // Wednesday 10:00 CST is open.
        assert!(s.is_open(&zone(chi, "2026-11-25T16:00:00Z")));
        assert_eq!(Schedule::closed().next_open(&z), None);
    }

    #[test]
    fn hours_follow_local_time_across_dst() {
        let s = weekdays_9_to_17();
        let ny = chrono_tz::America::New_York;
        // 13:00Z is 09:00 EDT in July, 08:00 EST in December.
        assert!(s.is_open(&zone(ny, "2026-07-15T13:00:00Z")));
        assert!(!s.is_open(&zone(ny, "2026-12-16T13:00:00Z")));
    }

    #[test]
    fn open_hour_inside_a_gap_opens_after_it() {
        // America/New_York 2026-03-08: 02:00 does not exist. Open only at 02:00 on Sundays.
        let mut s = Schedule::closed();
        s.open(6, 2, 3);
        let z = zone(chrono_tz::America::New_York, "2026-03-08T05:30:00Z"); // 00:30 EST
        assert_eq!(
            s.next_open(&z).unwrap().to_rfc3339(),
            "2026-03-08T03:00:00-04:00"
        );
    }
}
