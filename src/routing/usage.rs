//! What buyers and groups have used so far: the counters caps are checked against.
//!
//! The store fills a [`UsageSnapshot`] before each decision; tests and `parkway explain --usage`
//! read it from JSON:
//!
//! ```json
//! { "buyers": { "b1": { "daily": { "connections": 20, "revenue": { "value": 12500, "since": "2026-11-25T05:00:00Z" } },
//!                       "concurrency": 2,
//!                       "epc": [ { "start": "2026-11-24T00:00:00Z", "calls": 40, "earnings": 52000 } ] } },
//!   "groups": { "g1": { "hourly": { "attempts": 9 } } } }
//! ```
//!
//! A counter is a number, or `{ value, since }` where `since` is the start of the window instance
//! it counts. A counter whose `since` is before the start of the current window (in the buyer's zone)
//! belongs to a window that has reset and counts as 0, so a snapshot taken before midnight is never
//! read as today's. Revenue and EPC earnings are integer minor units of the config's currency.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::zonetime::Window;
use parkway_esl::fasthash::FxHashMap;

/// A counted metric (concurrency is separate: it is a level, not a count over a window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Attempts,
    Connections,
    Conversions,
    /// Revenue in minor units.
    Revenue,
    /// Calls up right now.
    Concurrency,
}

impl Metric {
    /// The four counted metrics, in the order caps check them.
    pub const COUNTED: [Metric; 4] = [
        Metric::Attempts,
        Metric::Connections,
        Metric::Conversions,
        Metric::Revenue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Attempts => "attempts",
            Metric::Connections => "connections",
            Metric::Conversions => "conversions",
            Metric::Revenue => "revenue",
            Metric::Concurrency => "concurrency",
        }
    }
}

/// One counter value, optionally stamped with the start of the window instance it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CounterRepr")]
pub struct Counter {
    pub value: i64,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CounterRepr {
    Plain(i64),
    Stamped {
        value: i64,
        since: Option<DateTime<Utc>>,
    },
}

impl From<CounterRepr> for Counter {
    fn from(r: CounterRepr) -> Counter {
        match r {
            CounterRepr::Plain(value) => Counter { value, since: None },
            CounterRepr::Stamped { value, since } => Counter { value, since },
        }
    }
}

impl From<i64> for Counter {
    fn from(value: i64) -> Counter {
        Counter { value, since: None }
    }
}

/// One optional value per counted metric: the counters of a window here, the limits of a window
/// in [`super::caps::Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerMetric<T> {
    pub attempts: Option<T>,
    pub connections: Option<T>,
    pub conversions: Option<T>,
    pub revenue: Option<T>,
}

/// Nothing set (no bound on `T`, unlike a derived `Default`).
impl<T> Default for PerMetric<T> {
    fn default() -> Self {
        PerMetric {
            attempts: None,
            connections: None,
            conversions: None,
            revenue: None,
        }
    }
}

impl<T: Copy> PerMetric<T> {
    /// The value for `metric` (concurrency is not counted per window: always `None`).
    pub fn get(&self, metric: Metric) -> Option<T> {
        match metric {
            Metric::Attempts => self.attempts,
            Metric::Connections => self.connections,
            Metric::Conversions => self.conversions,
            Metric::Revenue => self.revenue,
            Metric::Concurrency => None,
        }
    }

    /// Sets the value for `metric` (ignored for concurrency).
    pub fn set(&mut self, metric: Metric, value: Option<T>) {
        let slot = match metric {
            Metric::Attempts => &mut self.attempts,
            Metric::Connections => &mut self.connections,
            Metric::Conversions => &mut self.conversions,
            Metric::Revenue => &mut self.revenue,
            Metric::Concurrency => return,
        };
        *slot = value;
    }
}

/// The counters of one window.
pub type Counters = PerMetric<Counter>;

/// Earnings and calls of one period (a day, say), for EPC ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpcBucket {
    pub start: DateTime<Utc>,
    pub calls: u64,
    /// Minor units.
    pub earnings: i64,
}

/// Usage of one buyer or group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Usage {
    pub hourly: Counters,
    pub daily: Counters,
    pub weekly: Counters,
    pub monthly: Counters,
    pub total: Counters,
    pub concurrency: u32,
    pub epc: Vec<EpcBucket>,
}

impl Usage {
    pub fn window(&self, window: Window) -> &Counters {
        match window {
            Window::Hourly => &self.hourly,
            Window::Daily => &self.daily,
            Window::Weekly => &self.weekly,
            Window::Monthly => &self.monthly,
            Window::Total => &self.total,
        }
    }

    pub fn window_mut(&mut self, window: Window) -> &mut Counters {
        match window {
            Window::Hourly => &mut self.hourly,
            Window::Daily => &mut self.daily,
            Window::Weekly => &mut self.weekly,
            Window::Monthly => &mut self.monthly,
            Window::Total => &mut self.total,
        }
    }

    /// The count of `metric` in the current instance of `window`, which started at `start`
    /// (`None` for `total`). Counters stamped before `start` have reset and read as 0.
    pub fn used(&self, window: Window, metric: Metric, start: Option<DateTime<Utc>>) -> i64 {
        self.used_with(window, metric, || start)
    }

    /// [`Usage::used`] with the window start computed only when a counter carries a stamp.
    pub fn used_with(
        &self,
        window: Window,
        metric: Metric,
        start: impl FnOnce() -> Option<DateTime<Utc>>,
    ) -> i64 {
        counted(self.window(window).get(metric), start)
    }

    /// Earnings (minor units) and calls in the buckets that start at or after `cutoff`.
    pub fn epc_since(&self, cutoff: DateTime<Utc>) -> (i64, u64) {
        self.epc
            .iter()
            .filter(|b| b.start >= cutoff)
            .fold((0i64, 0u64), |(e, c), b| {
                (e.saturating_add(b.earnings), c.saturating_add(b.calls))
            })
    }
}

/// What a counter counts in the current window instance, which started at `start()` (`None` =
/// never resets): 0 for a missing counter or one stamped before the start.
pub fn counted(counter: Option<Counter>, start: impl FnOnce() -> Option<DateTime<Utc>>) -> i64 {
    match counter {
        None => 0,
        Some(c) => match c.since {
            Some(since) if start().is_some_and(|s| since < s) => 0,
            _ => c.value,
        },
    }
}

/// Usage of every buyer and group, keyed by id. Missing entries mean nothing used yet.
///
/// Entries are boxed so the hash table stays small (a bucket is a key and a pointer, not a whole
/// `Usage`): a decision probes it once per capped buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSnapshot {
    pub buyers: FxHashMap<String, Box<Usage>>,
    pub groups: FxHashMap<String, Box<Usage>>,
}

impl UsageSnapshot {
    pub fn set_buyer(&mut self, id: impl Into<String>, usage: Usage) {
        self.buyers.insert(id.into(), Box::new(usage));
    }

    pub fn set_group(&mut self, id: impl Into<String>, usage: Usage) {
        self.groups.insert(id.into(), Box::new(usage));
    }

    pub fn buyer(&self, id: &str) -> Option<&Usage> {
        self.buyers.get(id).map(|b| &**b)
    }

    pub fn group(&self, id: &str) -> Option<&Usage> {
        self.groups.get(id).map(|b| &**b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_stamped_counters() {
        let json = r#"{ "buyers": { "b1": {
            "daily": { "connections": 20, "revenue": { "value": 12500, "since": "2026-11-25T05:00:00Z" } },
            "concurrency": 2,
            "epc": [ { "start": "2026-11-24T00:00:00Z", "calls": 40, "earnings": 52000 } ] } } }"#;
        let snap: UsageSnapshot = serde_json::from_str(json).unwrap();
        let u = snap.buyer("b1").unwrap();
        let start: DateTime<Utc> = "2026-11-25T05:00:00Z".parse().unwrap();
        assert_eq!(u.used(Window::Daily, Metric::Connections, Some(start)), 20);
        assert_eq!(u.used(Window::Daily, Metric::Revenue, Some(start)), 12500);
        assert_eq!(u.used(Window::Hourly, Metric::Attempts, Some(start)), 0);
        assert_eq!(u.concurrency, 2);
        let later: DateTime<Utc> = "2026-11-26T05:00:00Z".parse().unwrap();
        assert_eq!(
            u.used(Window::Daily, Metric::Revenue, Some(later)),
            0,
            "stale counter reads as 0"
        );
        assert_eq!(
            u.epc_since("2026-11-20T00:00:00Z".parse().unwrap()),
            (52000, 40)
        );
        assert_eq!(u.epc_since("2026-11-25T00:00:00Z".parse().unwrap()), (0, 0));
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(serde_json::from_str::<UsageSnapshot>(r#"{"buyer": {}}"#).is_err());
        assert!(serde_json::from_str::<Usage>(r#"{"daily": {"calls": 1}}"#).is_err());
    }
}
