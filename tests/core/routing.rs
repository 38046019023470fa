//! Property tests for the routing invariants.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use parkway::config::{Buyer, Config, Currency, Entry, EpcSettings, Money, Router};
use parkway::routing::caps::{CapSpec, Limits, Pacing, SlotCaps};
use parkway::routing::usage::{Counter, Metric, Usage};
use parkway::routing::{
    Algorithm, CallerFields, Reason, SplitMix64, Tokens, UsageSnapshot, Window, decide,
};

const USD: Currency = Currency::USD;

fn epc() -> EpcSettings {
    EpcSettings {
        window: Duration::days(7),
        prior: Money::new(1000, USD),
        prior_calls: 10,
    }
}

fn tokens() -> Tokens {
    Tokens::new(
        [("campaign", "auto")],
        CallerFields {
            number: Some("+13105550100".into()),
            ..Default::default()
        },
    )
}

/// One generated buyer: tier, weight, bid, caps and what it has used.
#[derive(Debug, Clone)]
struct Gen {
    tier: u32,
    weight: u32,
    bid: i64,
    daily_conn: Option<i64>,
    hourly_att: Option<i64>,
    concurrency: Option<i64>,
    slot_hourly_att: Option<i64>,
    even: bool,
    used_daily_conn: i64,
    used_hourly_att: i64,
    used_conc: u32,
}

fn gen_buyer() -> impl Strategy<Value = Gen> {
    (
        (0u32..3, 1u32..10, 0i64..5000),
        (
            proptest::option::of(0i64..6),
            proptest::option::of(0i64..6),
            proptest::option::of(0i64..4),
            proptest::option::of(0i64..6),
            any::<bool>(),
        ),
        (0i64..7, 0i64..7, 0u32..5),
    )
        .prop_map(
            |((tier, weight, bid), (dc, ha, cc, sh, even), (udc, uha, uc))| Gen {
                tier,
                weight,
                bid,
                daily_conn: dc,
                hourly_att: ha,
                concurrency: cc,
                slot_hourly_att: sh,
                even,
                used_daily_conn: udc,
                used_hourly_att: uha,
                used_conc: uc,
            },
        )
}

fn build(gens: &[Gen], alg: Algorithm, tz: Tz) -> (Config, UsageSnapshot) {
    let mut buyers = Vec::new();
    let mut usage = UsageSnapshot::default();
    for (i, g) in gens.iter().enumerate() {
        let id = format!("b{i:02}");
        let mut b = Buyer::basic(&id, USD);
        b.tz = tz;
        b.tier = g.tier;
        b.weight = g.weight;
        b.bid = Money::new(g.bid, USD);
        let mut caps = CapSpec {
            concurrency: g.concurrency,
            pacing: if g.even { Pacing::Even } else { Pacing::Asap },
            ..Default::default()
        };
        caps.limits_mut(Window::Daily).connections = g.daily_conn;
        caps.limits_mut(Window::Hourly).attempts = g.hourly_att;
        if let Some(l) = g.slot_hourly_att {
            caps.slots.push(SlotCaps {
                start: 6,
                end: 18,
                hourly: Limits {
                    attempts: Some(l),
                    ..Default::default()
                },
                concurrency: None,
            });
        }
        b.caps = caps;
        buyers.push(b);
        let mut u = Usage {
            concurrency: g.used_conc,
            ..Default::default()
        };
        u.daily.connections = Some(Counter::from(g.used_daily_conn));
        u.hourly.attempts = Some(Counter::from(g.used_hourly_att));
        usage.set_buyer(id, u);
    }
    let entries = (0..buyers.len()).map(Entry::Buyer).collect();
    let router = Router::basic("r", alg, entries);
    (
        Config::new(USD, tz, epc(), buyers, Vec::new(), vec![router]),
        usage,
    )
}

fn alg() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Tier),
        Just(Algorithm::Revenue),
        Just(Algorithm::Epc)
    ]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // Any minute of 2026.
    (0i64..(365 * 24 * 60))
        .prop_map(|m| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m))
}

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(chrono_tz::America::New_York),
        Just(chrono_tz::Australia::Lord_Howe),
        Just(chrono_tz::Asia::Kolkata),
        Just(chrono_tz::UTC),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// No buyer at or over any cap (or ahead of its pacing) is ever in the plan, and every buyer is
    /// either planned or left out with a reason.
    #[test]
    fn never_plans_a_buyer_at_its_cap(
        gens in proptest::collection::vec(gen_buyer(), 1..16),
        alg in alg(),
        tz in zone(),
        at in instant(),
        seed in any::<u64>(),
    ) {
        let (config, usage) = build(&gens, alg, tz);
        let d = decide(&config.routers[0], &config, &tokens(), &usage, at, &mut SplitMix64::new(seed));
        let planned = d.planned_buyers();
        prop_assert_eq!(planned.len() + d.left_out.len(), gens.len());
        let local_hour = {
            use chrono::Timelike;
            at.with_timezone(&tz).hour() as u8
        };
        for id in planned {
            let i: usize = id[1..].parse().unwrap();
            let g = &gens[i];
            if let Some(l) = g.daily_conn { prop_assert!(g.used_daily_conn < l, "{} daily", id); }
            let hourly = if (6..18).contains(&local_hour) { g.slot_hourly_att.or(g.hourly_att) } else { g.hourly_att };
            if let Some(l) = hourly { prop_assert!(g.used_hourly_att < l, "{} hourly", id); }
            if let Some(l) = g.concurrency { prop_assert!(i64::from(g.used_conc) < l, "{} concurrency", id); }
        }
        for l in &d.left_out {
            let is_cap = matches!(l.reason, Reason::OverCap { .. } | Reason::Paced { .. });
            prop_assert!(is_cap, "{:?}", l.reason);
        }
    }

    /// The same inputs and seed give the same plan.
    #[test]
    fn same_inputs_same_seed_same_plan(
        gens in proptest::collection::vec(gen_buyer(), 1..16),
        alg in alg(),
        at in instant(),
        seed in any::<u64>(),
    ) {
        let (config, usage) = build(&gens, alg, chrono_tz::America::Chicago);
        let r = &config.routers[0];
        let a = decide(r, &config, &tokens(), &usage, at, &mut SplitMix64::new(seed));
        let b = decide(r, &config, &tokens(), &usage, at, &mut SplitMix64::new(seed));
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// Over 100,000 draws, the share of first places inside a tier is within 1 percentage point of
    /// weight / total weight.
    #[test]
    fn weighted_first_place_matches_shares(
        weights in proptest::collection::vec(1u32..20, 2..6),
        seed in any::<u64>(),
    ) {
        let gens: Vec<Gen> = weights.iter().map(|&w| Gen {
            tier: 1, weight: w, bid: 0, daily_conn: None, hourly_att: None, concurrency: None,
            slot_hourly_att: None, even: false, used_daily_conn: 0, used_hourly_att: 0, used_conc: 0,
        }).collect();
        let (config, usage) = build(&gens, Algorithm::Tier, chrono_tz::UTC);
        let r = &config.routers[0];
        let t = tokens();
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let mut rng = SplitMix64::new(seed);
        let mut firsts = vec![0u32; weights.len()];
        const DRAWS: u32 = 100_000;
        for _ in 0..DRAWS {
            let d = decide(r, &config, &t, &usage, at, &mut rng);
            let first: usize = d.plan[0].id()[1..].parse().unwrap();
            firsts[first] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let want = f64::from(w) / f64::from(total);
            let got = f64::from(firsts[i]) / f64::from(DRAWS);
            prop_assert!((got - want).abs() < 0.01, "buyer {} weight {}: share {} want {}", i, w, got, want);
        }
    }
}

/// Local date of `t` in `tz`.
fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// The first instant (to the second) in `[lo, hi]` where `pred` turns true; `pred` must be
/// monotone. Written independently of the engine's window code, to check it.
fn first_true(
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    pred: impl Fn(DateTime<Utc>) -> bool,
) -> DateTime<Utc> {
    let (mut lo, mut hi) = (lo.timestamp(), hi.timestamp());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(DateTime::from_timestamp(mid, 0).unwrap()) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    DateTime::from_timestamp(lo, 0).unwrap()
}

/// Checks that a cap on `window` with a counter stamped at the window's start blocks the buyer
/// until exactly the next local boundary, and that `resets_at` names that boundary.
fn check_reset(
    tz: Tz,
    t: DateTime<Utc>,
    window: Window,
    key: impl Fn(NaiveDate) -> (i32, u32, u32),
) -> Result<(), TestCaseError> {
    let k = key(local_date(tz, t));
    let span = Duration::days(33);
    let start = first_true(t - span, t, |x| key(local_date(tz, x)) >= k);
    let end = first_true(t, t + span, |x| key(local_date(tz, x)) > k);
    let mut b = Buyer::basic("b", USD);
    b.tz = tz;
    b.caps.limits_mut(window).set(Metric::Connections, Some(5));
    let config = Config::new(
        USD,
        tz,
        epc(),
        vec![b],
        Vec::new(),
        vec![Router::basic("r", Algorithm::Tier, vec![Entry::Buyer(0)])],
    );
    let mut usage = UsageSnapshot::default();
    let mut u = Usage::default();
    u.window_mut(window).set(
        Metric::Connections,
        Some(Counter {
            value: 5,
            since: Some(start),
        }),
    );
    usage.set_buyer("b", u);
    let r = &config.routers[0];
    let run = |at| decide(r, &config, &tokens(), &usage, at, &mut SplitMix64::new(1));
    let blocked = run(t);
    match blocked.reason_for("b") {
        Some(Reason::OverCap {
            resets_at: Some(reset),
            ..
        }) => {
            prop_assert_eq!(
                reset.with_timezone(&Utc),
                end,
                "resets_at in {} at {}",
                tz,
                t
            );
        }
        other => prop_assert!(false, "expected over cap at {}, got {:?}", t, other),
    }
    prop_assert!(
        run(end - Duration::seconds(1)).reason_for("b").is_some(),
        "still blocked 1s before {}",
        end
    );
    prop_assert!(run(end).plan.len() == 1, "reset at {} in {}", end, tz);
    Ok(())
}

/// Days around DST changes (and the month ends next to them) in the zones that make it hard.
fn dst_instant() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
    let days: Vec<(Tz, (i32, u32, u32))> = vec![
        (chrono_tz::America::New_York, (2026, 3, 8)),
        (chrono_tz::America::New_York, (2026, 11, 1)),
        (chrono_tz::America::New_York, (2026, 10, 31)),
        (chrono_tz::Australia::Lord_Howe, (2026, 4, 5)),
        (chrono_tz::Australia::Lord_Howe, (2026, 10, 4)),
        (chrono_tz::Australia::Lord_Howe, (2026, 9, 30)),
        (chrono_tz::America::Sao_Paulo, (2018, 11, 4)),
        (chrono_tz::America::Sao_Paulo, (2019, 2, 16)),
        (chrono_tz::America::New_York, (2026, 2, 28)),
        (chrono_tz::America::New_York, (2028, 2, 29)),
        (chrono_tz::America::New_York, (2026, 12, 31)),
    ];
    (proptest::sample::select(days), -36i64 * 60..36 * 60).prop_map(|((tz, (y, m, d)), mins)| {
        let noon = Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
        (tz, noon + Duration::minutes(mins))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A daily cap resets at local midnight in the buyer's zone, on DST-change days too.
    #[test]
    fn daily_cap_resets_at_local_midnight((tz, t) in dst_instant()) {
        check_reset(tz, t, Window::Daily, |d| (d.year(), d.ordinal(), 0))?;
    }

    /// A monthly cap resets at 00:00 local on the 1st, across month ends and DST changes.
    #[test]
    fn monthly_cap_resets_on_the_first((tz, t) in dst_instant()) {
        check_reset(tz, t, Window::Monthly, |d| (d.year(), d.month(), 0))?;
    }

    /// A weekly cap resets on Monday 00:00 local.
    #[test]
    fn weekly_cap_resets_on_monday((tz, t) in dst_instant()) {
        check_reset(tz, t, Window::Weekly, |d| {
            let w = d.iso_week();
            (w.year(), w.week(), 0)
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Validation never panics on a damaged config: splice random text into the example.
    #[test]
    fn damaged_config_never_panics(
        at in 0usize..12_000,
        cut in 0usize..40,
        insert in "[ -~\n]{0,40}",
    ) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let boundary = |mut i: usize| {
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = boundary(at);
        let end = boundary(start + cut);
        let damaged = format!("{}{}{}", &text[..start], insert, &text[end..]);
        let reader = |_: &std::path::Path| Ok::<String, std::io::Error>("2125550100\n".into());
        let _ = parkway::config::parse(&damaged, &path, &reader);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Group caps are shared: when the group is at or over its cap no member is planned, each is
    /// left out with the group's reason; under it, every member is in the group's step.
    #[test]
    fn group_caps_bind_every_member(
        members in 1usize..6,
        limit in 0i64..5,
        used in 0i64..7,
        concurrency_limit in proptest::option::of(0i64..3),
        live in 0u32..4,
        simultaneous in any::<bool>(),
        seed in any::<u64>(),
        at in instant(),
    ) {
        use parkway::config::Group;
        use parkway::routing::{GroupMode, Id, Scope};
        let tz = chrono_tz::America::New_York;
        let buyers: Vec<Buyer> = (0..members).map(|i| {
            let mut b = Buyer::basic(&format!("m{i}"), USD);
            b.tz = tz;
            b
        }).collect();
        let mut caps = CapSpec { concurrency: concurrency_limit, ..Default::default() };
        caps.limits_mut(Window::Daily).attempts = Some(limit);
        let group = Group {
            id: Id::new("g"),
            mode: if simultaneous { GroupMode::Simultaneous } else { GroupMode::Sequential },
            members: (0..members).collect(),
            tz,
            caps,
            paused: false,
            route_by: None,
        };
        let config = Config::new(USD, tz, epc(), buyers, vec![group],
            vec![Router::basic("r", Algorithm::Tier, vec![Entry::Group(0)])]);
        let mut usage = UsageSnapshot::default();
        let mut u = Usage { concurrency: live, ..Default::default() };
        u.daily.attempts = Some(Counter::from(used));
        usage.set_group("g", u);
        let d = decide(&config.routers[0], &config, &tokens(), &usage, at, &mut SplitMix64::new(seed));
        let over = used >= limit || concurrency_limit.is_some_and(|c| i64::from(live) >= c);
        if over {
            prop_assert!(d.plan.is_empty());
            prop_assert_eq!(d.left_out.len(), members);
            for l in &d.left_out {
                let by_group = matches!(&l.reason, Reason::OverCap { scope: Scope::Group(g), .. } if g.as_str() == "g");
                prop_assert!(by_group, "{:?}", l.reason);
            }
        } else {
            prop_assert_eq!(d.plan.len(), 1);
            prop_assert_eq!(d.planned_buyers().len(), members);
        }
    }
}
