//! Caps and pacing, for a buyer or for a group (whose caps its members share).
//!
//! A cap is a limit on a metric (attempts, connections, conversions, revenue) over a window
//! (hourly, daily, weekly, monthly, total), or a limit on concurrent calls. A buyer at or over a
//! limit (`used >= limit`) is left out: one more call could take it past. Windows reset in the
//! zone of the buyer (or group) that owns the cap; see [`super::zonetime`].
//!
//! Time slots override the defaults by local hour of day: the first slot whose `start..end` hours
//! contain the current local hour replaces, metric by metric, the hourly limits it names, and the
//! concurrency limit if it sets one.
//!
//! Pacing `even` spreads every effective hourly limit over the hour: at minute `m` (0–59) at most
//! `ceil(limit × (m+1) / 60)` may have been used, so a 30-an-hour buyer takes at most one call
//! in the first minute and fifteen by the half hour. Pacing `asap` (the default) lets the hour fill as
//! fast as calls come.

use serde::{Deserialize, Serialize};

use super::decision::{Reason, Scope};
use super::usage::{Counter, Metric, PerMetric, Usage, counted};
use super::zonetime::{Window, ZoneNow};

/// Limits per counted metric (`None` = no limit); revenue in minor units.
pub type Limits = PerMetric<i64>;

impl Limits {
    pub fn is_empty(&self) -> bool {
        Metric::COUNTED.iter().all(|m| self.get(*m).is_none())
    }

    /// `self`, with every limit `over` sets replacing ours.
    fn overridden_by(&self, over: &Limits) -> Limits {
        let mut out = *self;
        for m in Metric::COUNTED {
            if let Some(l) = over.get(m) {
                out.set(m, Some(l));
            }
        }
        out
    }
}

/// Caps that apply during local hours `start..end` (end exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlotCaps {
    pub start: u8,
    pub end: u8,
    pub hourly: Limits,
    pub concurrency: Option<i64>,
}

/// How an hourly cap is spent over the hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pacing {
    /// As fast as calls come.
    #[default]
    Asap,
    /// Spread evenly over the hour.
    Even,
}

/// All caps of one buyer or group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CapSpec {
    /// Indexed like [`Window::ALL`].
    pub windows: [Limits; 5],
    pub concurrency: Option<i64>,
    pub slots: Vec<SlotCaps>,
    pub pacing: Pacing,
}

impl CapSpec {
    pub fn limits(&self, window: Window) -> &Limits {
        &self.windows[window as usize]
    }

    pub fn limits_mut(&mut self, window: Window) -> &mut Limits {
        &mut self.windows[window as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.windows.iter().all(Limits::is_empty)
            && self.concurrency.is_none()
            && self.slots.is_empty()
    }

    fn slot(&self, hour: u8) -> Option<&SlotCaps> {
        self.slots.iter().find(|s| s.start <= hour && hour < s.end)
    }

    /// Whether the caps are a fixed list of rules (no time slots, pacing `asap`): the decision's
    /// fast path lays them out once per config ([`CapSpec::rules`]) and checks them with
    /// [`check_rules`], as [`CapSpec::check`] does.
    pub fn is_fixed(&self) -> bool {
        self.slots.is_empty() && self.pacing == Pacing::Asap
    }

    /// The window limits as rules, in the order they are checked: windows in [`Window::ALL`]
    /// order, metrics in [`Metric::COUNTED`] order; `hourly`, when given, replaces the hourly
    /// limits (a time slot's override).
    pub fn rules<'a>(&'a self, hourly: Option<&'a Limits>) -> impl Iterator<Item = CapRule> + 'a {
        Window::ALL.into_iter().flat_map(move |window| {
            let limits = match (window, hourly) {
                (Window::Hourly, Some(h)) => h,
                _ => self.limits(window),
            };
            Metric::COUNTED.into_iter().filter_map(move |metric| {
                Some(CapRule {
                    window,
                    metric,
                    limit: limits.get(metric)?,
                })
            })
        })
    }

    /// `Err(reason)` when the owner is at or over a cap, or ahead of its pacing.
    pub fn check(
        &self,
        usage: Option<&Usage>,
        zone: &ZoneNow,
        scope: &Scope,
    ) -> Result<(), Reason> {
        if self.is_empty() {
            return Ok(());
        }
        let owned;
        let usage = match usage {
            Some(u) => u,
            None => {
                owned = Usage::default();
                &owned
            }
        };
        let slot = self.slot(zone.hour);
        let concurrency = slot.and_then(|s| s.concurrency).or(self.concurrency);
        let hourly = match slot {
            Some(s) => self.limits(Window::Hourly).overridden_by(&s.hourly),
            None => *self.limits(Window::Hourly),
        };
        // At most one rule per window and metric: laid out on the stack, as the fast path
        // lays its rules out once per config.
        let mut rules = [CapRule {
            window: Window::Hourly,
            metric: Metric::Attempts,
            limit: 0,
        }; MAX_RULES];
        let mut n = 0;
        for rule in self.rules(Some(&hourly)) {
            if let Some(slot) = rules.get_mut(n) {
                *slot = rule;
                n += 1;
            }
        }
        let rules = &rules[..n];
        check_rules(
            scope,
            concurrency,
            usage.concurrency,
            rules,
            |_, rule| usage.window(rule.window).get(rule.metric),
            zone,
        )?;

        if self.pacing == Pacing::Even {
            for metric in Metric::COUNTED {
                let Some(limit) = hourly.get(metric) else {
                    continue;
                };
                let used =
                    usage.used_with(Window::Hourly, metric, || zone.bounds(Window::Hourly).start);
                let allowed_now = paced_allowance(limit, zone.minute);
                if used >= allowed_now {
                    return Err(Reason::Paced {
                        scope: scope.clone(),
                        metric,
                        used,
                        allowed_now,
                    });
                }
            }
        }
        Ok(())
    }
}

/// One limit: `used(window, metric) >= limit` leaves the owner out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapRule {
    pub window: Window,
    pub metric: Metric,
    pub limit: i64,
}

/// Window limits one owner can have: one per window and counted metric.
const MAX_RULES: usize = Window::ALL.len() * Metric::COUNTED.len();

/// The one cap test, which every path checks through: the concurrency (`calls up` against
/// `concurrency`) first, then each rule in order with its counter (`counter(k, rule)` is the
/// counter rule `k` compares); the first at or over its limit leaves the owner out, with the reason and
/// when the window resets in the owner's zone.
pub fn check_rules(
    scope: &Scope,
    concurrency: Option<i64>,
    up: u32,
    rules: &[CapRule],
    counter: impl Fn(usize, &CapRule) -> Option<Counter>,
    zone: &ZoneNow,
) -> Result<(), Reason> {
    if let Some(limit) = concurrency {
        let used = i64::from(up);
        if used >= limit {
            return Err(Reason::OverCap {
                scope: scope.clone(),
                metric: Metric::Concurrency,
                window: None,
                used,
                limit,
                resets_at: None,
            });
        }
    }
    for (k, rule) in rules.iter().enumerate() {
        let used = counted(counter(k, rule), || zone.bounds(rule.window).start);
        if used >= rule.limit {
            return Err(Reason::OverCap {
                scope: scope.clone(),
                metric: rule.metric,
                window: Some(rule.window),
                used,
                limit: rule.limit,
                resets_at: zone.resets_at(rule.window),
            });
        }
    }
    Ok(())
}

/// `ceil(limit × (minute+1) / 60)`, in integers.
pub fn paced_allowance(limit: i64, minute: u8) -> i64 {
    let m = i64::from(minute.min(59)) + 1;
    let num = i128::from(limit) * i128::from(m);
    let q = (num + 59).div_euclid(60);
    i64::try_from(q).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::usage::Counter;
    use chrono::{DateTime, Utc};

    const NY: chrono_tz::Tz = chrono_tz::America::New_York;

    fn zone(s: &str) -> ZoneNow {
        ZoneNow::new(NY, s.parse::<DateTime<Utc>>().unwrap())
    }

    fn usage(window: Window, metric: Metric, value: i64) -> Usage {
        let mut u = Usage::default();
        u.window_mut(window).set(metric, Some(Counter::from(value)));
        u
    }

    fn cap(window: Window, metric: Metric, limit: i64) -> CapSpec {
        let mut c = CapSpec::default();
        c.limits_mut(window).set(metric, Some(limit));
        c
    }

    /// Every metric × window: under the limit passes, at the limit fails with a full reason.
    #[test]
    fn every_metric_and_window() {
        let z = zone("2026-11-25T15:30:00Z"); // Wed 10:30 EST
        let expected_reset = [
            Some("2026-11-25T11:00:00-05:00"),
            Some("2026-11-26T00:00:00-05:00"),
            Some("2026-11-30T00:00:00-05:00"),
            Some("2026-12-01T00:00:00-05:00"),
            None,
        ];
        for (wi, window) in Window::ALL.into_iter().enumerate() {
            for metric in Metric::COUNTED {
                let c = cap(window, metric, 20);
                assert!(
                    c.check(Some(&usage(window, metric, 19)), &z, &Scope::Buyer)
                        .is_ok()
                );
                let err = c
                    .check(Some(&usage(window, metric, 20)), &z, &Scope::Buyer)
                    .unwrap_err();
                let Reason::OverCap {
                    metric: m,
                    window: w,
                    used,
                    limit,
                    resets_at,
                    scope,
                } = err
                else {
                    panic!("{err:?}");
                };
                assert_eq!(
                    (m, w, used, limit, scope),
                    (metric, Some(window), 20, 20, Scope::Buyer)
                );
                assert_eq!(
                    resets_at.map(|t| t.to_rfc3339()).as_deref(),
                    expected_reset[wi]
                );
            }
        }
    }

    #[test]
    fn concurrency_cap() {
        let z = zone("2026-11-25T15:30:00Z");
        let c = CapSpec {
            concurrency: Some(2),
            ..Default::default()
        };
        let mut u = Usage {
            concurrency: 1,
            ..Default::default()
        };
        assert!(c.check(Some(&u), &z, &Scope::Buyer).is_ok());
        u.concurrency = 2;
        assert_eq!(
            c.check(Some(&u), &z, &Scope::Buyer),
            Err(Reason::OverCap {
                scope: Scope::Buyer,
                metric: Metric::Concurrency,
                window: None,
                used: 2,
                limit: 2,
                resets_at: None
            })
        );
        assert!(
            c.check(None, &z, &Scope::Buyer).is_ok(),
            "no usage = nothing used"
        );
    }

    #[test]
    fn zero_cap_blocks_without_usage() {
        let z = zone("2026-11-25T15:30:00Z");
        assert!(
            cap(Window::Daily, Metric::Attempts, 0)
                .check(None, &z, &Scope::Buyer)
                .is_err()
        );
    }

    #[test]
    fn time_slots_override_hourly_and_concurrency() {
        let mut c = cap(Window::Hourly, Metric::Connections, 10);
        c.concurrency = Some(5);
        c.slots.push(SlotCaps {
            start: 9,
            end: 12,
            hourly: Limits {
                connections: Some(3),
                ..Default::default()
            },
            concurrency: Some(1),
        });
        let in_slot = zone("2026-11-25T15:30:00Z"); // 10:30 local
        let out_slot = zone("2026-11-25T18:30:00Z"); // 13:30 local
        let u = usage(Window::Hourly, Metric::Connections, 3);
        assert!(matches!(
            c.check(Some(&u), &in_slot, &Scope::Buyer),
            Err(Reason::OverCap { limit: 3, .. })
        ));
        assert!(c.check(Some(&u), &out_slot, &Scope::Buyer).is_ok());
        let busy = Usage {
            concurrency: 1,
            ..Default::default()
        };
        assert!(matches!(
            c.check(Some(&busy), &in_slot, &Scope::Buyer),
            Err(Reason::OverCap {
                metric: Metric::Concurrency,
                limit: 1,
                ..
            })
        ));
        assert!(c.check(Some(&busy), &out_slot, &Scope::Buyer).is_ok());
    }

    #[test]
    fn group_scope_is_reported() {
        let z = zone("2026-11-25T15:30:00Z");
        let g = Scope::Group(crate::routing::decision::Id::new("g1"));
        let err = cap(Window::Daily, Metric::Conversions, 1)
            .check(Some(&usage(Window::Daily, Metric::Conversions, 1)), &z, &g)
            .unwrap_err();
        assert!(
            matches!(err, Reason::OverCap { scope: Scope::Group(ref id), .. } if &**id == "g1")
        );
    }

    #[test]
    fn stale_counters_reset_at_local_midnight() {
        let c = cap(Window::Daily, Metric::Connections, 5);
        let mut u = Usage::default();
        u.daily.connections = Some(Counter {
            value: 5,
            since: Some("2026-11-25T05:00:00Z".parse().unwrap()),
        });
        assert!(
            c.check(Some(&u), &zone("2026-11-26T04:59:00Z"), &Scope::Buyer)
                .is_err()
        );
        assert!(
            c.check(Some(&u), &zone("2026-11-26T05:00:00Z"), &Scope::Buyer)
                .is_ok()
        );
    }

    #[test]
    fn even_pacing() {
        assert_eq!(paced_allowance(30, 0), 1);
        assert_eq!(paced_allowance(30, 29), 15);
        assert_eq!(paced_allowance(30, 59), 30);
        assert_eq!(paced_allowance(7, 0), 1);
        assert_eq!(paced_allowance(60, 9), 10);
        assert_eq!(paced_allowance(0, 30), 0);
        let mut c = cap(Window::Hourly, Metric::Connections, 30);
        c.pacing = Pacing::Even;
        let at_10 = zone("2026-11-25T15:10:00Z"); // minute 10: allowance ceil(30*11/60) = 6
        assert!(
            c.check(
                Some(&usage(Window::Hourly, Metric::Connections, 5)),
                &at_10,
                &Scope::Buyer
            )
            .is_ok()
        );
        assert_eq!(
            c.check(
                Some(&usage(Window::Hourly, Metric::Connections, 6)),
                &at_10,
                &Scope::Buyer
            ),
            Err(Reason::Paced {
                scope: Scope::Buyer,
                metric: Metric::Connections,
                used: 6,
                allowed_now: 6
            })
        );
        // asap: the same usage passes.
        c.pacing = Pacing::Asap;
        assert!(
            c.check(
                Some(&usage(Window::Hourly, Metric::Connections, 6)),
                &at_10,
                &Scope::Buyer
            )
            .is_ok()
        );
    }

    #[test]
    fn even_pacing_uses_the_slot_limit() {
        let mut c = CapSpec {
            pacing: Pacing::Even,
            ..Default::default()
        };
        c.slots.push(SlotCaps {
            start: 10,
            end: 11,
            hourly: Limits {
                attempts: Some(60),
                ..Default::default()
            },
            concurrency: None,
        });
        let z = zone("2026-11-25T15:04:00Z"); // 10:04 local: allowance 5
        assert!(matches!(
            c.check(
                Some(&usage(Window::Hourly, Metric::Attempts, 5)),
                &z,
                &Scope::Buyer
            ),
            Err(Reason::Paced { allowed_now: 5, .. })
        ));
        assert!(
            c.check(
                Some(&usage(Window::Hourly, Metric::Attempts, 4)),
                &z,
                &Scope::Buyer
            )
            .is_ok()
        );
    }
}
