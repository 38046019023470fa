//! The current window instances of one zone, cached: routing's `zonetime` computes them, this only
//! remembers them until `now` leaves them, so a count pays for time zone arithmetic about once an
//! hour per buyer and group instead of on every event.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::routing::zonetime::{Window, ZoneNow};

/// The windows that reset (`total` never does), in the order of [`WindowStarts::starts`].
pub const RESETTING: [Window; 4] = [
    Window::Hourly,
    Window::Daily,
    Window::Weekly,
    Window::Monthly,
];

/// Cached `[start, end)` of the current hourly, daily, weekly and monthly window of one zone.
#[derive(Debug, Clone)]
pub struct WindowStarts {
    tz: Tz,
    spans: [Option<(DateTime<Utc>, DateTime<Utc>)>; 4],
}

impl WindowStarts {
    pub fn new(tz: Tz) -> WindowStarts {
        WindowStarts {
            tz,
            spans: [None; 4],
        }
    }

    /// The start of each window in [`RESETTING`] that `now` is in, in `tz` (a new zone, after a
    /// config change, drops the cache).
    pub fn starts(&mut self, tz: Tz, now: DateTime<Utc>) -> [DateTime<Utc>; 4] {
        if tz != self.tz {
            *self = WindowStarts::new(tz);
        }
        let mut zone: Option<ZoneNow> = None;
        let mut out = [now; 4];
        for (i, window) in RESETTING.into_iter().enumerate() {
            let span = match self.spans[i] {
                Some((start, end)) if start <= now && now < end => (start, end),
                _ => {
                    let z = zone.get_or_insert_with(|| ZoneNow::new(tz, now));
                    let b = z.bounds(window);
                    let start = b.start.unwrap_or(now);
                    // Bounds always have an end for these windows; without one, recompute next time.
                    let end = b.end.unwrap_or(now);
                    self.spans[i] = Some((start, end));
                    (start, end)
                }
            };
            out[i] = span.0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cached_starts_match_zonetime_across_a_dst_day() {
        let tz = chrono_tz::America::New_York;
        let mut w = WindowStarts::new(tz);
        let mut now = t("2026-03-07T00:00:00Z");
        while now < t("2026-03-10T00:00:00Z") {
            let z = ZoneNow::new(tz, now);
            let expect = RESETTING.map(|win| z.bounds(win).start.unwrap());
            assert_eq!(w.starts(tz, now), expect, "{now}");
            now += chrono::Duration::minutes(17);
        }
    }

    #[test]
    fn a_new_zone_drops_the_cache() {
        let now = t("2026-11-25T15:30:00Z");
        let mut w = WindowStarts::new(Tz::UTC);
        assert_eq!(w.starts(Tz::UTC, now)[1], t("2026-11-25T00:00:00Z"));
        let ny = chrono_tz::America::New_York;
        assert_eq!(w.starts(ny, now)[1], t("2026-11-25T05:00:00Z"));
    }
}
