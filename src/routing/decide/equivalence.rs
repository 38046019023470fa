//! The hot-view decision against the reference pipeline: on generated configs (filters of every
//! operator, shared and `local_*` filters, zones, schedules, simple and slotted/paced caps, stamped
//! counters, groups, pauses, suppression, duplicates, all three algorithms) both give the same
//! `Decision` and consume the same random draws.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;

use super::{Decider, decide_with, reference};
use crate::config::{Buyer, Config, Currency, EpcSettings, Group, Money};
use crate::config::{Entry, Router};
use crate::routing::caps::{Limits, Pacing, SlotCaps};
use crate::routing::decision::{Algorithm, GroupMode, Id};
use crate::routing::duplicate::{
    DuplicateAction, DuplicateRule, DuplicateScope, InMemoryDuplicates, PastCall,
};
use crate::routing::filter::{Filter, Test};
use crate::routing::hot::HotView;
use crate::routing::rng::SplitMix64;
use crate::routing::schedule::Schedule;
use crate::routing::suppression::SuppressionList;
use crate::routing::tokens::{CallerFields, Tokens};
use crate::routing::usage::{Counter, EpcBucket, Metric, Usage, UsageSnapshot};
use crate::routing::zonetime::Window;

const USD: Currency = Currency::USD;
const CALLER: u64 = 13105550100;

fn pick<T: Clone>(r: &mut SplitMix64, xs: &[T]) -> T {
    xs[(r.next_u64() % xs.len() as u64) as usize].clone()
}

fn chance(r: &mut SplitMix64, percent: u64) -> bool {
    r.next_u64() % 100 < percent
}

fn filter(r: &mut SplitMix64) -> Filter {
    let s = |v: &str| v.to_string();
    match r.next_u64() % 14 {
        0 => Filter::new("state", Test::In(vec![s("CA"), s("TX")])),
        1 => Filter::new("state", Test::In(vec![s("CA,TX")])),
        2 => Filter::new("state", Test::NotIn(vec![s("NY")])),
        3 => Filter::new(
            "campaign",
            Test::Matches(Regex::new("^(auto|home)$").unwrap()),
        ),
        4 => Filter::new("campaign", Test::Matches(Regex::new("solar").unwrap())),
        5 => Filter::new("age", Test::Gt(25.0)),
        6 => Filter::new("age", Test::Lt(30.0)),
        7 => Filter::new("local_hour", Test::Eq(s("10"))),
        8 => Filter::new("local_weekday", Test::In(vec![s("wed"), s("thu")])),
        9 => Filter::new("local_time", Test::Gt(0.0)),
        10 => Filter::new("missing", Test::Ne(s("x"))),
        11 => Filter::new("missing", Test::Exists),
        12 => Filter::new("caller_id_number", Test::Exists),
        _ => Filter::new("campaign", Test::Eq(s("auto"))),
    }
}

fn schedule(r: &mut SplitMix64) -> Schedule {
    let mut s = Schedule::closed();
    match r.next_u64() % 4 {
        0 => return Schedule::always(),
        1 => (0..6).for_each(|d| s.open(d, 8, 20)),
        2 => (0..5).for_each(|d| s.open(d, 9, 17)),
        _ => {}
    }
    s
}

fn caps(r: &mut SplitMix64, c: &mut crate::routing::caps::CapSpec) {
    for _ in 0..r.next_u64() % 4 {
        let w = pick(r, &Window::ALL);
        let m = pick(r, &Metric::COUNTED);
        c.limits_mut(w).set(m, Some((r.next_u64() % 8) as i64));
    }
    if chance(r, 40) {
        c.concurrency = Some((r.next_u64() % 4) as i64);
    }
    if chance(r, 20) {
        c.slots.push(SlotCaps {
            start: 6,
            end: 12,
            hourly: Limits {
                attempts: Some((r.next_u64() % 6) as i64),
                ..Default::default()
            },
            concurrency: chance(r, 50).then_some(1),
        });
    }
    if chance(r, 20) {
        c.pacing = Pacing::Even;
    }
}

fn usage(r: &mut SplitMix64, now: DateTime<Utc>) -> Usage {
    let mut u = Usage {
        concurrency: (r.next_u64() % 4) as u32,
        ..Default::default()
    };
    for _ in 0..r.next_u64() % 5 {
        let w = pick(r, &Window::ALL);
        let m = pick(r, &Metric::COUNTED);
        let since = match r.next_u64() % 3 {
            0 => None,
            1 => Some(now - Duration::hours(30)),
            _ => Some(now - Duration::minutes(5)),
        };
        u.window_mut(w).set(
            m,
            Some(Counter {
                value: (r.next_u64() % 9) as i64,
                since,
            }),
        );
    }
    if chance(r, 50) {
        u.epc.push(EpcBucket {
            start: now - Duration::days((r.next_u64() % 10) as i64),
            calls: r.next_u64() % 50,
            earnings: (r.next_u64() % 90_000) as i64,
        });
    }
    u
}

fn world(seed: u64, now: DateTime<Utc>) -> (Config, UsageSnapshot, InMemoryDuplicates) {
    let mut r = SplitMix64::new(seed);
    let zones = [
        chrono_tz::America::New_York,
        chrono_tz::America::Los_Angeles,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::UTC,
    ];
    let dnc = Arc::new(SuppressionList::from_numbers("dnc", [CALLER]));
    let other = Arc::new(SuppressionList::from_numbers("other", [12125550199]));
    let mut snapshot = UsageSnapshot::default();
    let mut dups = InMemoryDuplicates::default();
    let n = 1 + (r.next_u64() % 40) as usize;
    let mut buyers = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("b{i:02}");
        let mut b = Buyer::basic(&id, USD);
        b.tz = pick(&mut r, &zones);
        b.tier = (r.next_u64() % 3) as u32;
        b.weight = 1 + (r.next_u64() % 5) as u32;
        b.bid = Money::new((r.next_u64() % 4) as i64 * 100, USD);
        b.paused = chance(&mut r, 5);
        for _ in 0..r.next_u64() % 3 {
            b.filters.push(filter(&mut r));
        }
        b.schedule = schedule(&mut r);
        if chance(&mut r, 70) {
            caps(&mut r, &mut b.caps);
        }
        if chance(&mut r, 10) {
            b.suppress.push(pick(&mut r, &[dnc.clone(), other.clone()]));
        }
        if chance(&mut r, 10) {
            b.duplicate = Some(DuplicateRule {
                scope: pick(
                    &mut r,
                    &[
                        DuplicateScope::Buyer,
                        DuplicateScope::Router,
                        DuplicateScope::Any,
                    ],
                ),
                window_secs: 3600,
                action: pick(&mut r, &[DuplicateAction::Reroute, DuplicateAction::NoPay]),
            });
            dups.calls.push(PastCall {
                caller: CALLER,
                buyer: id.clone(),
                router: "r".into(),
                at: now - Duration::minutes(10),
            });
        }
        if chance(&mut r, 80) {
            snapshot.set_buyer(id.clone(), usage(&mut r, now));
        }
        buyers.push(b);
    }
    let mut groups = Vec::new();
    let mut entries = Vec::new();
    let mut i = 0;
    while i < n {
        if chance(&mut r, 20) && i + 1 < n {
            let size = 2 + (r.next_u64() % 3) as usize;
            let members: Vec<usize> = (i..(i + size).min(n)).collect();
            i += members.len();
            let gid = format!("g{}", groups.len());
            let mut g = Group {
                id: Id::new(&gid),
                mode: pick(&mut r, &[GroupMode::Simultaneous, GroupMode::Sequential]),
                members,
                tz: pick(
                    &mut r,
                    &[chrono_tz::Europe::Paris, chrono_tz::America::New_York],
                ),
                caps: Default::default(),
                paused: chance(&mut r, 10),
                route_by: pick(
                    &mut r,
                    &[None, Some(Algorithm::Revenue), Some(Algorithm::Epc)],
                ),
            };
            if chance(&mut r, 50) {
                caps(&mut r, &mut g.caps);
                snapshot.set_group(gid, usage(&mut r, now));
            }
            entries.push(Entry::Group(groups.len()));
            groups.push(g);
        } else {
            entries.push(Entry::Buyer(i));
            i += 1;
        }
    }
    let alg = pick(
        &mut r,
        &[Algorithm::Tier, Algorithm::Revenue, Algorithm::Epc],
    );
    let mut router = Router::basic("r", alg, entries);
    if chance(&mut r, 5) {
        router.suppress.push(dnc);
    }
    let epc = EpcSettings {
        window: Duration::days(7),
        prior: Money::new(1000, USD),
        prior_calls: 10,
    };
    let config = Config::new(
        USD,
        chrono_tz::America::New_York,
        epc,
        buyers,
        groups,
        vec![router],
    );
    (config, snapshot, dups)
}

fn tokens(seed: u64) -> Tokens {
    let mut r = SplitMix64::new(seed);
    let campaign = pick(&mut r, &["auto", "solar", "home"]);
    let age = pick(&mut r, &["41", "19", "old"]);
    let number = pick(&mut r, &["+13105550100", "+12125550100", "+18005550100"]);
    Tokens::new(
        [("campaign", campaign), ("age", age)],
        CallerFields {
            number: Some(number.into()),
            ..Default::default()
        },
    )
}

#[test]
fn hot_view_decides_like_the_reference() {
    let times = [
        "2026-11-25T15:30:00Z",
        "2026-11-28T03:10:00Z",
        "2026-10-03T15:45:00Z",
        "2026-03-08T07:59:00Z",
    ];
    for seed in 0..400u64 {
        let now: DateTime<Utc> = times[(seed % 4) as usize].parse().unwrap();
        let (config, snapshot, dups) = world(seed, now);
        let t = tokens(seed);
        let router = &config.routers[0];
        let view = HotView::new(&config.buyers);
        let resolved = snapshot.resolve(&view);
        for draw in 0..3 {
            let mut a = SplitMix64::new(seed * 7 + draw);
            let mut b = a.clone();
            let mut c = a.clone();
            let fast = decide_with(router, &config, &t, &snapshot, now, &mut a, &dups);
            let slow = reference::decide_with(router, &config, &t, &snapshot, now, &mut b, &dups);
            let res = Decider::new(&config, &view)
                .decide_resolved(router, &t, &resolved, now, &mut c, &dups);
            assert_eq!(fast, slow, "seed {seed} draw {draw}");
            assert_eq!(res, slow, "resolved, seed {seed} draw {draw}");
            let next = b.next_u64();
            assert_eq!(a.next_u64(), next, "same draws, seed {seed}");
            assert_eq!(c.next_u64(), next, "same draws (resolved), seed {seed}");
        }
    }
}

#[test]
fn a_view_built_before_the_config_was_edited_is_not_used() {
    let now: DateTime<Utc> = "2026-11-25T15:30:00Z".parse().unwrap();
    let (mut config, snapshot, dups) = world(3, now);
    let before = HotView::new(&config.buyers);
    config.buyers.push(Buyer::basic("late", USD));
    config.routers[0]
        .entries
        .push(Entry::Buyer(config.buyers.len() - 1));
    let t = tokens(3);
    let router = &config.routers[0];
    let fast = Decider::new(&config, &before).decide(
        router,
        &t,
        &snapshot,
        now,
        &mut SplitMix64::new(1),
        &dups,
    );
    let slow = reference::decide_with(
        router,
        &config,
        &t,
        &snapshot,
        now,
        &mut SplitMix64::new(1),
        &dups,
    );
    assert_eq!(fast, slow);
}

#[test]
fn usage_resolved_for_another_config_is_read_as_a_snapshot() {
    let now: DateTime<Utc> = "2026-11-25T15:30:00Z".parse().unwrap();
    for seed in 0..40 {
        let (config, snapshot, dups) = world(seed, now);
        let (other, _, _) = world(seed + 1000, now);
        let other_view = HotView::new(&other.buyers);
        let stale = snapshot.resolve(&other_view);
        let t = tokens(seed);
        let router = &config.routers[0];
        let view = HotView::new(&config.buyers);
        let got = Decider::new(&config, &view).decide_resolved(
            router,
            &t,
            &stale,
            now,
            &mut SplitMix64::new(9),
            &dups,
        );
        let want = reference::decide_with(
            router,
            &config,
            &t,
            &snapshot,
            now,
            &mut SplitMix64::new(9),
            &dups,
        );
        assert_eq!(got, want, "seed {seed}");
    }
}

/// One decider, reused across configs' calls with different tokens, times and seeds, decides each
/// call as if it were the first.
#[test]
fn a_reused_decider_decides_each_call_afresh() {
    let times = ["2026-11-25T15:30:00Z", "2026-11-28T03:10:00Z"];
    for seed in 0..60u64 {
        let now0: DateTime<Utc> = times[0].parse().unwrap();
        let (config, snapshot, dups) = world(seed, now0);
        let view = HotView::new(&config.buyers);
        let resolved = snapshot.resolve(&view);
        let mut decider = Decider::new(&config, &view);
        let router = &config.routers[0];
        for call in 0..6u64 {
            let now: DateTime<Utc> = times[(call % 2) as usize].parse().unwrap();
            let t = tokens(seed + call);
            let mut a = SplitMix64::new(call);
            let got = if call % 3 == 0 {
                decider.decide(router, &t, &snapshot, now, &mut a, &dups)
            } else {
                decider.decide_resolved(router, &t, &resolved, now, &mut a, &dups)
            };
            let want = reference::decide_with(
                router,
                &config,
                &t,
                &snapshot,
                now,
                &mut SplitMix64::new(call),
                &dups,
            );
            assert_eq!(got, want, "seed {seed} call {call}");
        }
    }
}
