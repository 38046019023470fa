//! Virtual time. The engine never reads a clock: time is microseconds since the engine started,
//! moved forward only by its caller, and turned into FreeSWITCH's date headers from the wall-clock
//! instant the caller said the run starts at.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Microseconds of virtual time since the engine started.
pub type Micros = u64;

pub const MS: Micros = 1_000;
pub const SEC: Micros = 1_000_000;

/// Maps virtual time to wall-clock microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall-clock microseconds at virtual time 0.
    pub epoch_us: u64,
    /// The current virtual time.
    pub now: Micros,
}

impl Clock {
    pub fn new(epoch_us: u64) -> Clock {
        Clock { epoch_us, now: 0 }
    }

    /// Wall-clock microseconds of the current instant (`Event-Date-Timestamp`).
    pub fn wall_us(&self) -> u64 {
        self.epoch_us + self.now
    }
}

fn datetime(wall_us: u64) -> DateTime<Utc> {
    i64::try_from(wall_us)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .unwrap_or_default()
}

/// `Event-Date-Local` and the `*_stamp` variables: `2026-11-24 11:56:28` (the simulated switch
/// runs in UTC).
pub fn date_local(wall_us: u64) -> String {
    let mut out = String::with_capacity(19);
    push_date_local(&mut out, wall_us);
    out
}

/// [`date_local`] appended to `out` (what `%Y-%m-%d %H:%M:%S` gives, without parsing a format
/// string each time: reporting channels write several).
pub fn push_date_local(out: &mut String, wall_us: u64) {
    let t = datetime(wall_us);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&t.format("%Y-%m-%d %H:%M:%S").to_string());
        return;
    }
    let two = |out: &mut String, n: u32| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    let year = year as u32;
    two(out, year / 100);
    two(out, year % 100);
    out.push('-');
    two(out, t.month());
    out.push('-');
    two(out, t.day());
    out.push(' ');
    two(out, t.hour());
    out.push(':');
    two(out, t.minute());
    out.push(':');
    two(out, t.second());
}

/// `Event-Date-GMT`: `Tue, 24 Nov 2026 11:56:28 GMT`.
pub fn date_gmt(wall_us: u64) -> String {
    datetime(wall_us)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_captures() {
        // Event-Date-Timestamp 1795521388556515 of inbound_plain's CHANNEL_CREATE.
        assert_eq!(date_local(1_795_521_388_556_515), "2026-11-24 11:56:28");
        assert_eq!(
            date_gmt(1_795_521_388_556_515),
            "Tue, 24 Nov 2026 11:56:28 GMT"
        );
        for us in [
            0,
            1,
            999_999,
            1_795_521_388_556_515,
            253_402_300_799_999_999,
        ] {
            let chrono = datetime(us).format("%Y-%m-%d %H:%M:%S").to_string();
            assert_eq!(date_local(us), chrono);
        }
        let mut c = Clock::new(1_000);
        c.now = 5 * SEC;
        assert_eq!(c.wall_us(), 5_001_000);
    }
}
