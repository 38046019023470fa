//! Properties of billing: the ledger against a plain model, payouts against their formula, and
//! conversions against their rule.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use parkway::billing::{Count, Ledger, TalkFacts, evaluate, payout};
use parkway::config::model::{
    Buyer, Config, ConversionRule, EpcSettings, Group, Payout, PayoutBasis,
};
use parkway::config::money::{Currency, Money};
use parkway::routing::caps::CapSpec;
use parkway::routing::usage::Metric;
use parkway::routing::zonetime::{Window, ZoneNow};
use parkway::routing::{GroupMode, Id};

const USD: Currency = Currency::USD;
const BUYERS: usize = 3;
/// Every counted kind; revenue takes its event's amount.
const KINDS: [Count; 6] = [
    Count::Attempt,
    Count::Connection,
    Count::Conversion,
    Count::Revenue(0),
    Count::LegUp,
    Count::LegDown,
];

/// The kind, whatever a revenue's amount: the ledger counts each kind once per key.
fn kind_name(c: Count) -> &'static str {
    match c {
        Count::Attempt => "attempt",
        Count::Connection => "connection",
        Count::Conversion => "conversion",
        Count::Revenue(_) => "revenue",
        Count::LegUp => "leg_up",
        Count::LegDown => "leg_down",
    }
}

/// b0 New York, b1 Lord Howe (half-hour DST), b2 UTC; g0 = {b0, b1} in Los Angeles, g1 = {b1, b2}
/// in Sao Paulo.
fn config() -> Config {
    let zones = [
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
        Tz::UTC,
    ];
    let buyers = zones
        .iter()
        .enumerate()
        .map(|(i, tz)| {
            let mut b = Buyer::basic(&format!("b{i}"), USD);
            b.tz = *tz;
            b
        })
        .collect();
    let group = |id: &str, members: Vec<usize>, tz: Tz| Group {
        id: Id::new(id),
        mode: GroupMode::Simultaneous,
        members,
        tz,
        caps: CapSpec::default(),
        paused: false,
        route_by: None,
    };
    let groups = vec![
        group("g0", vec![0, 1], chrono_tz::America::Los_Angeles),
        group("g1", vec![1, 2], chrono_tz::America::Sao_Paulo),
    ];
    let epc = EpcSettings {
        window: Duration::days(7),
        prior: Money::zero(USD),
        prior_calls: 10,
    };
    Config::new(USD, Tz::UTC, epc, buyers, groups, vec![])
}

#[derive(Debug, Clone)]
struct Event {
    call: String,
    buyer: usize,
    kind: Count,
    amount: i64,
    at: DateTime<Utc>,
}

/// Events in time order (steps of up to 3 hours, so windows roll over), starting anywhere in 2026.
fn events() -> impl Strategy<Value = Vec<Event>> {
    let start = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    (
        0..365 * 86_400i64,
        prop::collection::vec(
            (
                0..6usize,
                0..BUYERS,
                0..KINDS.len(),
                0..100_000i64,
                0..3 * 3600i64,
            ),
            0..120,
        ),
    )
        .prop_map(move |(offset, raw)| {
            let mut at = DateTime::from_timestamp(start + offset, 0).unwrap();
            raw.into_iter()
                .map(|(call, buyer, kind, amount, step)| {
                    at += Duration::seconds(step);
                    Event {
                        call: format!("call-{call}"),
                        buyer,
                        kind: match KINDS[kind] {
                            Count::Revenue(_) => Count::Revenue(amount),
                            other => other,
                        },
                        amount,
                        at,
                    }
                })
                .collect()
        })
}

fn run(ledger: &mut Ledger, config: &Config, events: &[Event]) -> Vec<bool> {
    events
        .iter()
        .map(|e| ledger.count(config, &e.call, e.buyer, e.kind, e.at))
        .collect()
}

/// What the ledger should accept: each (call, buyer, kind) once; a LegDown only after a LegUp,
/// a LegUp only before any LegDown (every one of them is remembered, accepted or not).
fn accepted(events: &[Event]) -> Vec<bool> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .map(|e| {
            let key = |k: Count| (e.call.clone(), e.buyer, kind_name(k));
            let has = |seen: &BTreeSet<_>, k| seen.contains(&key(k));
            let ok = !has(&seen, e.kind)
                && match e.kind {
                    Count::LegDown => has(&seen, Count::LegUp),
                    Count::LegUp => !has(&seen, Count::LegDown),
                    Count::Attempt | Count::Connection | Count::Conversion | Count::Revenue(_) => {
                        true
                    }
                };
            seen.insert(key(e.kind));
            ok
        })
        .collect()
}

fn metric(kind: Count) -> Option<Metric> {
    match kind {
        Count::Attempt => Some(Metric::Attempts),
        Count::Connection => Some(Metric::Connections),
        Count::Conversion => Some(Metric::Conversions),
        Count::Revenue(_) => Some(Metric::Revenue),
        Count::LegUp | Count::LegDown => None,
    }
}

fn value(kind: Count) -> i64 {
    match kind {
        Count::Revenue(amount) => amount,
        Count::Attempt | Count::Connection | Count::Conversion | Count::LegUp | Count::LegDown => 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn counting_twice_equals_counting_once(events in events()) {
        let c = config();
        let mut once = Ledger::new(&c);
        run(&mut once, &c, &events);
        let mut twice = Ledger::new(&c);
        run(&mut twice, &c, &events);
        let again = run(&mut twice, &c, &events);
        prop_assert!(again.iter().all(|changed| !changed));
        prop_assert_eq!(once.snapshot(), twice.snapshot());
        for b in 0..BUYERS {
            prop_assert_eq!(once.totals(b), twice.totals(b));
            prop_assert_eq!(once.concurrency(b), twice.concurrency(b));
        }
    }

    #[test]
    fn accepts_exactly_what_the_model_accepts(events in events()) {
        let c = config();
        let mut l = Ledger::new(&c);
        prop_assert_eq!(run(&mut l, &c, &events), accepted(&events));
    }

    #[test]
    fn revenue_is_the_sum_of_amounts(events in events()) {
        let c = config();
        let mut l = Ledger::new(&c);
        run(&mut l, &c, &events);
        let ok = accepted(&events);
        let mut per_buyer = [0i64; BUYERS];
        for (e, _) in events.iter().zip(&ok).filter(|(e, ok)| **ok && matches!(e.kind, Count::Revenue(_))) {
            per_buyer[e.buyer] += e.amount;
        }
        let snap = l.snapshot();
        let total = |u: Option<&parkway::routing::usage::Usage>| {
            u.map_or(0, |u| u.used(Window::Total, Metric::Revenue, None))
        };
        for (b, expect) in per_buyer.iter().enumerate() {
            prop_assert_eq!(l.totals(b).revenue, *expect);
            prop_assert_eq!(total(snap.buyer(&format!("b{b}"))), *expect);
            let earned: i64 = snap.buyer(&format!("b{b}")).map_or(0, |u| u.epc.iter().map(|x| x.earnings).sum());
            prop_assert!(earned <= *expect, "EPC keeps at most the recent days");
        }
        prop_assert_eq!(total(snap.group("g0")), per_buyer[0] + per_buyer[1]);
        prop_assert_eq!(total(snap.group("g1")), per_buyer[1] + per_buyer[2]);
    }

    #[test]
    fn concurrency_is_ups_minus_downs(events in events()) {
        let c = config();
        let mut l = Ledger::new(&c);
        let ok = accepted(&events);
        let mut level = [0i64; BUYERS];
        for (e, ok) in events.iter().zip(&ok) {
            l.count(&c, &e.call, e.buyer, e.kind, e.at);
            if *ok && e.kind == Count::LegUp { level[e.buyer] += 1; }
            if *ok && e.kind == Count::LegDown { level[e.buyer] -= 1; }
            prop_assert!(level[e.buyer] >= 0);
            prop_assert_eq!(i64::from(l.concurrency(e.buyer)), level[e.buyer]);
        }
        let group = |l: &Ledger, id: &str| l.snapshot().group(id).map_or(0, |u| u.concurrency);
        prop_assert_eq!(i64::from(group(&l, "g0")), level[0] + level[1]);
        prop_assert_eq!(i64::from(group(&l, "g1")), level[1] + level[2]);
        // Finishing every call puts every leg down.
        let end = events.last().map_or(DateTime::UNIX_EPOCH, |e| e.at);
        for call in events.iter().map(|e| &e.call).collect::<BTreeSet<_>>() {
            l.finish_call(call, end);
        }
        for b in 0..BUYERS {
            prop_assert_eq!(l.concurrency(b), 0);
        }
        prop_assert_eq!((group(&l, "g0"), group(&l, "g1")), (0, 0));
        // An hour later their keys are gone.
        l.prune(end + Duration::hours(1));
        prop_assert_eq!(l.calls_held(), 0);
    }

    /// Every window's counter, read the way routing reads it at the last event, counts exactly the
    /// accepted events since that window's start in the buyer's (or group's) zone.
    #[test]
    fn windows_count_the_current_instance(events in events()) {
        let c = config();
        let mut l = Ledger::new(&c);
        run(&mut l, &c, &events);
        let Some(last) = events.last() else { return Ok(()) };
        let ok = accepted(&events);
        let owners: Vec<(String, Tz, Vec<usize>, bool)> = c.buyers.iter().enumerate()
            .map(|(i, b)| (b.id.to_string(), b.tz, vec![i], true))
            .chain(c.groups.iter().map(|g| (g.id.to_string(), g.tz, g.members.clone(), false)))
            .collect();
        for (id, tz, members, is_buyer) in owners {
            let zone = ZoneNow::new(tz, last.at);
            let usage = if is_buyer { l.snapshot().buyer(&id) } else { l.snapshot().group(&id) };
            for window in Window::ALL {
                let start = zone.bounds(window).start;
                let mut expect: BTreeMap<&str, i64> = BTreeMap::new();
                for (e, _) in events.iter().zip(&ok).filter(|(e, ok)| {
                    **ok && members.contains(&e.buyer) && start.is_none_or(|s| e.at >= s)
                }) {
                    if let Some(m) = metric(e.kind) {
                        *expect.entry(m.name()).or_default() += value(e.kind);
                    }
                }
                for m in Metric::COUNTED {
                    let got = usage.map_or(0, |u| u.used(window, m, start));
                    prop_assert_eq!(got, expect.get(m.name()).copied().unwrap_or(0),
                        "{} {:?} {:?} at {}", id, window, m, last.at);
                }
            }
        }
    }

    #[test]
    fn per_minute_payout_is_amount_times_started_minutes(
        amount in 0..i64::MAX,
        secs in any::<u64>(),
        connected in any::<bool>(),
        converted in any::<bool>(),
    ) {
        let p = Payout { per: PayoutBasis::Minute, amount: Money::new(amount, USD) };
        let got = payout(Some(&p), connected, secs, converted, USD);
        let exact = i128::from(amount) * i128::from(secs.div_ceil(60));
        let expect = if connected { exact.min(i128::from(i64::MAX)) as i64 } else { 0 };
        prop_assert_eq!(got, Money::new(expect, USD));
    }

    #[test]
    fn conversion_follows_its_rule(
        seconds in 0..300u32,
        talk in 0..400u64,
        digits in prop::collection::vec(prop::sample::select(vec!['0', '1', '5', '9', '*', '#']), 0..6),
        digit in prop::sample::select(vec!['1', '9', '#']),
    ) {
        let facts = TalkFacts { talk_secs: talk, digits: digits.clone() };
        let talked = talk >= u64::from(seconds);
        let pressed = digits.contains(&digit);
        let cases = [
            (ConversionRule::TalkTime { seconds }, talked),
            (ConversionRule::Keypress { digit }, pressed),
            (ConversionRule::Any { seconds, digit }, talked || pressed),
            (ConversionRule::All { seconds, digit }, talked && pressed),
        ];
        for (rule, expect) in cases {
            let c = evaluate(&rule, &facts);
            prop_assert_eq!(c.converted, expect, "{:?}", rule);
            prop_assert_eq!(c.by.is_some(), expect);
        }
    }
}
