//! Virtual time. The engine never reads a clock: time is microseconds since the engine started,
//! moved forward only by its caller, and turned into FreeSWITCH's date headers from the wall-clock
//! instant the caller said the run starts at.

use chrono::{DateTime, Utc};

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
    datetime(wall_us).format("%Y-%m-%d %H:%M:%S").to_string()
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
        let mut c = Clock::new(1_000);
        c.now = 5 * SEC;
        assert_eq!(c.wall_us(), 5_001_000);
    }
}
