use chrono::Duration;
use chrono_tz::Tz;

use super::*;
use crate::config::model::{Buyer, EpcSettings, Group};
use crate::config::money::{Currency, Money};
use crate::routing::caps::CapSpec;
use crate::routing::decision::GroupMode;

const USD: Currency = Currency::USD;

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// b0 (New York) and b1 (UTC) in group g0 (Los Angeles); b2 (UTC) alone.
pub(crate) fn config() -> Config {
    let mut b0 = Buyer::basic("b0", USD);
    b0.tz = chrono_tz::America::New_York;
    let b1 = Buyer::basic("b1", USD);
    let b2 = Buyer::basic("b2", USD);
    let g0 = Group {
        id: Id::new("g0"),
        mode: GroupMode::Simultaneous,
        members: vec![0, 1],
        tz: chrono_tz::America::Los_Angeles,
        caps: CapSpec::default(),
        paused: false,
        route_by: None,
    };
    let epc = EpcSettings {
        window: Duration::days(7),
        prior: Money::zero(USD),
        prior_calls: 10,
    };
    Config::new(USD, Tz::UTC, epc, vec![b0, b1, b2], vec![g0], vec![])
}

fn counter(u: &Usage, window: Window, metric: Metric) -> Option<Counter> {
    u.window(window).get(metric)
}

#[test]
fn counts_once_per_call_buyer_and_kind() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T15:00:00Z");
    assert!(l.count(&c, "call-1", 0, Count::Attempt, now));
    assert!(!l.count(&c, "call-1", 0, Count::Attempt, now), "repeat");
    assert!(l.count(&c, "call-1", 1, Count::Attempt, now), "other buyer");
    assert!(l.count(&c, "call-2", 0, Count::Attempt, now), "other call");
    assert!(
        l.count(&c, "call-1", 0, Count::Connection, now),
        "other kind"
    );
    assert!(l.count(&c, "call-1", 0, Count::Revenue(700), now));
    let before = l.snapshot().clone();
    assert!(!l.count(&c, "call-1", 0, Count::Revenue(900), now));
    assert_eq!(l.snapshot(), &before, "a repeat changes nothing");
    assert_eq!(
        l.totals(0),
        Totals {
            attempts: 2,
            connections: 1,
            conversions: 0,
            revenue: 700
        }
    );
    assert!(
        !l.count(&c, "call-1", 9, Count::Attempt, now),
        "unknown buyer"
    );
    assert_eq!(l.totals(9), Totals::default());
}

#[test]
fn every_count_goes_to_the_groups_in_their_zone() {
    let c = config();
    let mut l = Ledger::new(&c);
    // 03:30 UTC: 22:30 the day before in New York, 19:30 the day before in Los Angeles.
    let now = t("2026-11-25T03:30:00Z");
    l.count(&c, "a", 0, Count::Conversion, now);
    l.count(&c, "b", 1, Count::Conversion, now);
    l.count(&c, "c", 2, Count::Conversion, now);
    let s = l.snapshot();
    let day = |u: &Usage| counter(u, Window::Daily, Metric::Conversions).unwrap();
    let b0 = s.buyer("b0").unwrap();
    assert_eq!(day(b0).value, 1);
    assert_eq!(
        day(b0).since,
        Some(t("2026-11-24T05:00:00Z")),
        "NY midnight"
    );
    assert_eq!(
        day(s.buyer("b1").unwrap()).since,
        Some(t("2026-11-25T00:00:00Z"))
    );
    let g0 = s.group("g0").unwrap();
    assert_eq!(day(g0).value, 2, "b0 and b1, not b2");
    assert_eq!(
        day(g0).since,
        Some(t("2026-11-24T08:00:00Z")),
        "LA midnight"
    );
    assert_eq!(
        counter(g0, Window::Total, Metric::Conversions)
            .unwrap()
            .value,
        2
    );
    assert_eq!(
        counter(g0, Window::Total, Metric::Conversions)
            .unwrap()
            .since,
        None
    );
    assert!(s.groups.len() == 1 && s.buyers.len() == 3);
}

#[test]
fn all_windows_are_stamped_with_their_start() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T15:30:00Z"); // Wednesday 10:30 in New York
    l.count(&c, "a", 0, Count::Revenue(1250), now);
    let u = l.snapshot().buyer("b0").unwrap();
    let since = |w| counter(u, w, Metric::Revenue).unwrap().since;
    assert_eq!(since(Window::Hourly), Some(t("2026-11-25T15:00:00Z")));
    assert_eq!(since(Window::Daily), Some(t("2026-11-25T05:00:00Z")));
    assert_eq!(since(Window::Weekly), Some(t("2026-11-23T05:00:00Z")));
    assert_eq!(since(Window::Monthly), Some(t("2026-11-01T04:00:00Z")));
    for w in Window::ALL {
        assert_eq!(counter(u, w, Metric::Revenue).unwrap().value, 1250, "{w:?}");
        assert_eq!(counter(u, w, Metric::Attempts), None);
    }
}

#[test]
fn daily_rolls_over_at_local_midnight_on_a_dst_day() {
    // 2026-03-08 is 23 hours long in New York: midnight 05:00Z, the next midnight 04:00Z.
    let c = config();
    let mut l = Ledger::new(&c);
    let daily = |l: &Ledger| {
        counter(
            l.snapshot().buyer("b0").unwrap(),
            Window::Daily,
            Metric::Attempts,
        )
        .unwrap()
    };
    l.count(&c, "a", 0, Count::Attempt, t("2026-03-08T05:00:00Z"));
    l.count(&c, "b", 0, Count::Attempt, t("2026-03-09T03:59:59Z"));
    assert_eq!(daily(&l).value, 2, "still the 8th locally");
    assert_eq!(daily(&l).since, Some(t("2026-03-08T05:00:00Z")));
    l.count(&c, "c", 0, Count::Attempt, t("2026-03-09T04:00:00Z"));
    assert_eq!(daily(&l).value, 1, "the 9th began at 04:00Z");
    assert_eq!(daily(&l).since, Some(t("2026-03-09T04:00:00Z")));
    let total = counter(
        l.snapshot().buyer("b0").unwrap(),
        Window::Total,
        Metric::Attempts,
    );
    assert_eq!(total.unwrap().value, 3);
    // Hourly: 01:59 EST → 03:00 EDT is one hour later in UTC and a new window.
    l.count(&c, "d", 0, Count::Attempt, t("2026-03-09T06:59:00Z"));
    let h = |l: &Ledger| {
        counter(
            l.snapshot().buyer("b0").unwrap(),
            Window::Hourly,
            Metric::Attempts,
        )
        .unwrap()
    };
    assert_eq!(h(&l).since, Some(t("2026-03-09T06:00:00Z")));
    l.count(&c, "e", 0, Count::Attempt, t("2026-03-09T07:00:00Z"));
    assert_eq!(h(&l).value, 1);
}

#[test]
fn out_of_order_event_joins_the_newer_window() {
    let c = config();
    let mut l = Ledger::new(&c);
    l.count(&c, "a", 2, Count::Attempt, t("2026-11-25T10:00:00Z"));
    l.count(&c, "b", 2, Count::Attempt, t("2026-11-25T09:59:59Z"));
    let h = counter(
        l.snapshot().buyer("b2").unwrap(),
        Window::Hourly,
        Metric::Attempts,
    )
    .unwrap();
    assert_eq!(h.value, 2);
    assert_eq!(h.since, Some(t("2026-11-25T10:00:00Z")));
}

#[test]
fn routing_reads_a_stale_counter_as_zero() {
    let c = config();
    let mut l = Ledger::new(&c);
    l.count(&c, "a", 2, Count::Connection, t("2026-11-25T10:00:00Z"));
    let u = l.snapshot().buyer("b2").unwrap();
    let tomorrow = Some(t("2026-11-26T00:00:00Z"));
    assert_eq!(u.used(Window::Daily, Metric::Connections, tomorrow), 0);
    assert_eq!(
        u.used(
            Window::Daily,
            Metric::Connections,
            Some(t("2026-11-25T00:00:00Z"))
        ),
        1
    );
}

#[test]
fn concurrency_moves_with_legs_and_never_goes_negative() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    assert!(
        !l.count(&c, "w", 0, Count::LegDown, now),
        "no LegUp on that call"
    );
    assert_eq!(l.concurrency(0), 0);
    assert!(l.count(&c, "x", 0, Count::LegUp, now));
    assert!(!l.count(&c, "x", 0, Count::LegUp, now));
    assert!(l.count(&c, "y", 0, Count::LegUp, now));
    assert!(l.count(&c, "y", 1, Count::LegUp, now));
    assert_eq!((l.concurrency(0), l.concurrency(1)), (2, 1));
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 3);
    assert!(l.count(&c, "x", 0, Count::LegDown, now));
    assert!(!l.count(&c, "x", 0, Count::LegDown, now));
    assert_eq!(l.concurrency(0), 1);
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 2);
    assert_eq!(l.concurrency(2), 0);
    assert_eq!(l.concurrency(99), 0);
}

#[test]
fn a_leg_down_before_its_up_keeps_the_leg_down() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    assert!(!l.count(&c, "x", 2, Count::LegDown, now));
    assert!(!l.count(&c, "x", 2, Count::LegUp, now), "the leg is over");
    assert!(!l.count(&c, "x", 2, Count::LegDown, now));
    assert_eq!(l.concurrency(2), 0);
}

#[test]
fn finishing_a_call_puts_its_legs_down() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "x", 0, Count::LegUp, now);
    l.count(&c, "x", 1, Count::LegUp, now);
    l.count(&c, "x", 1, Count::LegDown, now);
    l.finish_call("x", now);
    assert_eq!((l.concurrency(0), l.concurrency(1)), (0, 0));
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 0);
    assert!(!l.count(&c, "x", 0, Count::LegDown, now), "already down");
    l.finish_call("x", now);
    l.finish_call("never-seen", now);
    assert_eq!(l.concurrency(0), 0);
}

#[test]
fn prune_drops_keys_after_keep() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "x", 0, Count::Attempt, now);
    l.count(&c, "y", 0, Count::Attempt, now);
    l.finish_call("x", now);
    l.prune(now + Duration::minutes(59));
    assert_eq!(l.calls_held(), 2);
    assert!(
        !l.count(&c, "x", 0, Count::Attempt, now),
        "still deduplicated"
    );
    l.prune(now + Duration::hours(1));
    assert_eq!(l.calls_held(), 1, "y is live");
    assert_eq!(l.finished.len(), 0);
    assert!(
        l.count(&c, "x", 0, Count::Attempt, now),
        "keys gone: counts again"
    );
}

#[test]
fn a_leg_up_after_the_finish_goes_down_with_the_keys() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "x", 0, Count::Attempt, now);
    l.finish_call("x", now);
    assert!(
        l.count(&c, "x", 0, Count::LegUp, now),
        "a late event still counts"
    );
    assert_eq!(l.concurrency(0), 1);
    l.prune(now + Duration::hours(1));
    assert_eq!((l.calls_held(), l.concurrency(0)), (0, 0));
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 0);
}

#[test]
fn prune_forgets_calls_never_finished() {
    let c = config();
    let mut l = Ledger::new(&c).with_retention(Duration::minutes(5), Duration::hours(2));
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "lost", 0, Count::LegUp, now);
    l.prune(now); // first sweep
    l.count(&c, "live", 1, Count::LegUp, now + Duration::hours(2));
    l.prune(now + Duration::hours(2));
    assert_eq!(l.calls_held(), 1, "the lost call is forgotten");
    assert_eq!(l.concurrency(0), 0, "and its leg put down");
    assert_eq!(l.concurrency(1), 1);
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 1);
}

#[test]
fn memory_stays_bounded_under_steady_load() {
    let c = config();
    let mut l = Ledger::new(&c).with_retention(Duration::seconds(60), Duration::hours(1));
    let start = t("2026-11-25T10:00:00Z");
    // 10,000 live calls, each lasting 100 s; one new call per 10 ms.
    for i in 0..200_000i64 {
        let now = start + Duration::milliseconds(i * 10);
        let call = format!("c{i}");
        l.count(&c, &call, (i % 3) as usize, Count::LegUp, now);
        if i >= 10_000 {
            let old = format!("c{}", i - 10_000);
            let b = ((i - 10_000) % 3) as usize;
            l.count(&c, &old, b, Count::LegDown, now);
            l.finish_call(&old, now);
        }
        if i % 100 == 0 {
            l.prune(now);
        }
    }
    // Live 10,000 plus 60 s of finished calls (6,000), plus up to one prune interval.
    assert!(l.calls_held() <= 16_200, "{}", l.calls_held());
    assert!(l.finished.len() <= 6_200);
    let up: u32 = (0..3).map(|b| l.concurrency(b)).sum();
    assert_eq!(up, 10_000);
}

#[test]
fn epc_buckets_by_utc_day_and_expire() {
    let c = config(); // EPC window 7 days: buckets younger than 8 days are kept.
    let mut l = Ledger::new(&c);
    let day0 = t("2026-11-10T23:00:00Z");
    l.count(&c, "a", 2, Count::Connection, day0);
    l.count(&c, "a", 2, Count::Revenue(500), day0);
    l.count(&c, "b", 2, Count::Connection, day0 + Duration::hours(2));
    l.count(&c, "b", 2, Count::Attempt, day0 + Duration::hours(2));
    let epc = &l.snapshot().buyer("b2").unwrap().epc;
    assert_eq!(
        epc,
        &vec![
            EpcBucket {
                start: t("2026-11-10T00:00:00Z"),
                calls: 1,
                earnings: 500
            },
            EpcBucket {
                start: t("2026-11-11T00:00:00Z"),
                calls: 1,
                earnings: 0
            }
        ]
    );
    assert!(l.snapshot().group("g0").is_none(), "groups have no EPC");
    l.count(&c, "c", 2, Count::Revenue(100), t("2026-11-18T00:00:00Z"));
    let starts: Vec<_> = l
        .snapshot()
        .buyer("b2")
        .unwrap()
        .epc
        .iter()
        .map(|b| b.start)
        .collect();
    assert_eq!(
        starts,
        vec![t("2026-11-11T00:00:00Z"), t("2026-11-18T00:00:00Z")],
        "the 10th is 8 days old"
    );
}

#[test]
fn revenue_adds_amounts_and_saturates() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "a", 1, Count::Revenue(i64::MAX - 1), now);
    l.count(&c, "b", 1, Count::Revenue(5), now);
    assert_eq!(l.totals(1).revenue, i64::MAX);
    let g = l.snapshot().group("g0").unwrap();
    assert_eq!(
        counter(g, Window::Daily, Metric::Revenue).unwrap().value,
        i64::MAX
    );
}

#[test]
fn totals_serialize() {
    let tot = Totals {
        attempts: 3,
        connections: 2,
        conversions: 1,
        revenue: 1250,
    };
    assert_eq!(
        serde_json::to_string(&tot).unwrap(),
        r#"{"attempts":3,"connections":2,"conversions":1,"revenue":1250}"#
    );
}

#[test]
fn rebind_follows_buyers_by_id() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T10:00:00Z");
    l.count(&c, "x", 0, Count::LegUp, now);
    l.count(&c, "x", 0, Count::Revenue(300), now);
    l.count(&c, "y", 2, Count::LegUp, now);
    l.count(&c, "z", 1, Count::LegUp, now);
    // Reload: b1 is gone, b2 comes first and joins g0, b0 second.
    let mut d = config();
    let b0 = d.buyers[0].clone();
    let b2 = d.buyers[2].clone();
    d.buyers = vec![b2, b0];
    d.groups[0].members = vec![0, 1];
    d.reindex();
    l.rebind(&d);
    assert_eq!(l.totals(1).revenue, 300, "b0's totals moved to index 1");
    assert_eq!((l.concurrency(0), l.concurrency(1)), (1, 1));
    assert_eq!(
        l.snapshot().group("g0").unwrap().concurrency,
        2,
        "b2 and b0 now"
    );
    assert!(
        !l.count(&d, "x", 1, Count::Revenue(300), now),
        "keys moved too"
    );
    assert!(l.count(&d, "x", 1, Count::LegDown, now));
    assert!(l.count(&d, "y", 0, Count::LegDown, now));
    assert_eq!(l.snapshot().group("g0").unwrap().concurrency, 0);
    assert_eq!(
        l.snapshot().buyer("b1").unwrap().concurrency,
        0,
        "gone: legs dropped"
    );
    let revenue = counter(
        l.snapshot().buyer("b0").unwrap(),
        Window::Daily,
        Metric::Revenue,
    );
    assert_eq!(
        revenue.unwrap().value,
        300,
        "the snapshot is keyed by id and stays"
    );
}

fn used(l: &Ledger, id: &str, window: Window, metric: Metric) -> i64 {
    l.snapshot()
        .buyer(id)
        .and_then(|u| counter(u, window, metric))
        .map_or(0, |c| c.value)
}

fn used_group(l: &Ledger, id: &str, window: Window, metric: Metric) -> i64 {
    l.snapshot()
        .group(id)
        .and_then(|u| counter(u, window, metric))
        .map_or(0, |c| c.value)
}

#[test]
fn a_hold_counts_at_once_and_its_real_count_does_not_add_again() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T15:00:00Z");
    assert!(l.hold(&c, "call-1", 0, Metric::Connections, now));
    assert!(
        !l.hold(&c, "call-1", 0, Metric::Connections, now),
        "held once"
    );
    assert_eq!(used(&l, "b0", Window::Daily, Metric::Connections), 1);
    assert_eq!(used_group(&l, "g0", Window::Daily, Metric::Connections), 1);
    assert_eq!(l.totals(0).connections, 0, "totals count what happened");
    assert!(l.count(&c, "call-1", 0, Count::Connection, now));
    assert_eq!(used(&l, "b0", Window::Daily, Metric::Connections), 1);
    assert_eq!(used(&l, "b0", Window::Total, Metric::Connections), 1);
    assert_eq!(used_group(&l, "g0", Window::Hourly, Metric::Connections), 1);
    assert_eq!(l.totals(0).connections, 1);
    assert!(
        !l.hold(&c, "call-1", 0, Metric::Connections, now),
        "already counted"
    );
    assert!(!l.release("call-1", 0, Metric::Connections), "nothing held");
}

#[test]
fn a_released_hold_is_taken_back_but_not_from_a_window_that_reset() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T15:59:00Z");
    l.hold(&c, "call-1", 1, Metric::Conversions, now);
    l.hold(&c, "call-2", 1, Metric::Conversions, now);
    assert_eq!(used(&l, "b1", Window::Hourly, Metric::Conversions), 2);
    assert!(l.release("call-1", 1, Metric::Conversions));
    assert_eq!(used(&l, "b1", Window::Hourly, Metric::Conversions), 1);
    assert_eq!(used_group(&l, "g0", Window::Daily, Metric::Conversions), 1);
    // A new hour: another call's count resets the hourly counter; the old hold is not taken
    // from it.
    let later = t("2026-11-25T16:01:00Z");
    l.count(&c, "call-3", 1, Count::Conversion, later);
    assert_eq!(used(&l, "b1", Window::Hourly, Metric::Conversions), 1);
    l.finish_call("call-2", later);
    assert_eq!(used(&l, "b1", Window::Hourly, Metric::Conversions), 1);
    assert_eq!(used(&l, "b1", Window::Daily, Metric::Conversions), 1);
    assert_eq!(used(&l, "b1", Window::Total, Metric::Conversions), 1);
}

#[test]
fn a_hold_turned_real_after_its_window_reset_counts_in_the_new_window() {
    let c = config();
    let mut l = Ledger::new(&c);
    l.hold(
        &c,
        "call-1",
        2,
        Metric::Connections,
        t("2026-11-25T15:59:00Z"),
    );
    l.count(
        &c,
        "call-1",
        2,
        Count::Connection,
        t("2026-11-25T16:00:30Z"),
    );
    assert_eq!(used(&l, "b2", Window::Hourly, Metric::Connections), 1);
    assert_eq!(used(&l, "b2", Window::Daily, Metric::Connections), 1);
    assert_eq!(used(&l, "b2", Window::Total, Metric::Connections), 1);
}

#[test]
fn a_stale_call_releases_its_holds() {
    let c = config();
    let mut l = Ledger::new(&c);
    let t0 = t("2026-11-25T10:00:00Z");
    l.count(&c, "call-1", 2, Count::LegUp, t0);
    l.hold(&c, "call-1", 2, Metric::Connections, t0);
    assert_eq!(used(&l, "b2", Window::Total, Metric::Connections), 1);
    l.prune(t0 + Duration::hours(25));
    assert_eq!(l.calls_held(), 0);
    assert_eq!(used(&l, "b2", Window::Total, Metric::Connections), 0);
    assert_eq!(l.concurrency(2), 0);
}

#[test]
fn every_leg_dialled_is_an_attempt_but_a_call_connects_a_buyer_once() {
    let c = config();
    let mut l = Ledger::new(&c);
    let now = t("2026-11-25T15:00:00Z");
    // b1 dialled in step 1 (leg-a, no answer) and again in step 2 (leg-b, connects).
    for leg in ["leg-a", "leg-b"] {
        assert!(l.count_leg(&c, "call-1", leg, 1, Count::Attempt, now));
        assert!(l.count_leg(&c, "call-1", leg, 1, Count::LegUp, now));
        // Replayed events of the same leg count nothing.
        assert!(!l.count_leg(&c, "call-1", leg, 1, Count::Attempt, now));
        assert!(!l.count_leg(&c, "call-1", leg, 1, Count::LegUp, now));
    }
    assert_eq!(l.concurrency(1), 2, "both legs up");
    assert_eq!(
        counter(&l.snapshot().groups["g0"], Window::Total, Metric::Attempts).map(|c| c.value),
        Some(2),
        "the group counts both attempts too"
    );
    assert!(l.count_leg(&c, "call-1", "leg-a", 1, Count::LegDown, now));
    assert!(!l.count_leg(&c, "call-1", "leg-a", 1, Count::LegDown, now));
    assert_eq!(l.concurrency(1), 1);
    // Connections, conversions and revenue stay once per (call, buyer), whichever leg.
    assert!(l.count_leg(&c, "call-1", "leg-b", 1, Count::Connection, now));
    assert!(!l.count_leg(&c, "call-1", "leg-a", 1, Count::Connection, now));
    assert!(!l.count(&c, "call-1", 1, Count::Connection, now));
    assert!(l.count_leg(&c, "call-1", "leg-b", 1, Count::Revenue(500), now));
    assert!(!l.count_leg(&c, "call-1", "leg-a", 1, Count::Revenue(500), now));
    assert_eq!(
        l.totals(1),
        Totals {
            attempts: 2,
            connections: 1,
            conversions: 0,
            revenue: 500
        }
    );
    // Finishing the call puts the leg still up down.
    l.finish_call("call-1", now);
    assert_eq!(l.concurrency(1), 0);
}

mod revenue_holds {
    use super::*;
    use proptest::prelude::*;

    /// Revenue counted and held today for b1 (the snapshot routing reads).
    fn daily_revenue(l: &Ledger, c: &Config) -> i64 {
        l.snapshot()
            .buyer(&c.buyers[1].id)
            .and_then(|u| u.window(Window::Daily).get(Metric::Revenue))
            .map_or(0, |c| c.value)
    }

    proptest! {
        /// Calls are admitted while the revenue counted and held is below the cap (as routing
        /// admits them), each holding its expected payout until its outcome. However many are
        /// in flight, the revenue counted never passes the cap by a whole payout.
        #[test]
        fn a_revenue_cap_never_overshoots_with_calls_in_flight(
            ops in proptest::collection::vec((0u8..3, 0usize..64, any::<bool>()), 1..400),
            amount in 1i64..5_000,
            cap in 1i64..50_000,
        ) {
            let c = config();
            let mut l = Ledger::new(&c);
            let now = t("2026-11-25T15:00:00Z");
            let mut in_flight: Vec<String> = Vec::new();
            let mut next = 0;
            for (op, pick, pays) in ops {
                match op {
                    0 | 1 if daily_revenue(&l, &c) < cap => {
                        let call = format!("call-{next}");
                        next += 1;
                        prop_assert!(l.hold_amount(&c, &call, 1, Metric::Revenue, amount, now));
                        in_flight.push(call);
                    }
                    0 | 1 => {}
                    _ if !in_flight.is_empty() => {
                        let call = in_flight.swap_remove(pick % in_flight.len());
                        if pays {
                            l.count(&c, &call, 1, Count::Revenue(amount), now);
                        }
                        l.finish_call(&call, now);
                    }
                    _ => {}
                }
                prop_assert!(daily_revenue(&l, &c) < cap + amount, "counted and held");
            }
            for call in in_flight.drain(..) {
                l.finish_call(&call, now);
            }
            let counted = l.totals(1).revenue;
            prop_assert!(counted < cap + amount, "counted {} cap {} payout {}", counted, cap, amount);
            prop_assert_eq!(daily_revenue(&l, &c), counted, "every hold released or counted");
        }
    }

    #[test]
    fn a_revenue_hold_is_replaced_by_the_real_payout() {
        let c = config();
        let mut l = Ledger::new(&c);
        let now = t("2026-11-25T15:00:00Z");
        assert!(l.hold_amount(&c, "x", 1, Metric::Revenue, 1000, now));
        assert_eq!(daily_revenue(&l, &c), 1000);
        // Per minute: three minutes were paid where one was held.
        assert!(l.count(&c, "x", 1, Count::Revenue(3000), now));
        assert_eq!(daily_revenue(&l, &c), 3000);
        l.finish_call("x", now);
        assert_eq!(daily_revenue(&l, &c), 3000);
        assert!(l.hold_amount(&c, "y", 1, Metric::Revenue, 1000, now));
        l.finish_call("y", now);
        assert_eq!(daily_revenue(&l, &c), 3000, "no payout: the hold goes");
    }
}
