//! Decision tests: concrete configs, concrete plans.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::*;
use crate::config::{self, Config};
use crate::routing::decision::{GroupMode, Id};
use crate::routing::duplicate::{InMemoryDuplicates, PastCall};
use crate::routing::explain::{describe, render};
use crate::routing::rng::SplitMix64;
use crate::routing::tokens::CallerFields;
use crate::routing::usage::{Counter, EpcBucket, Metric, Usage};
use crate::routing::zonetime::Window;

fn lists(p: &Path) -> std::io::Result<String> {
    match p.file_name().and_then(|n| n.to_str()) {
        Some("dnc.txt") => Ok("+1 212 555 0199\n".into()),
        Some("b2.txt") => Ok("3105550100\n".into()),
        _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing")),
    }
}

fn cfg(text: &str) -> Config {
    config::parse(text, Path::new("t.toml"), &lists).unwrap_or_else(|e| panic!("{e}"))
}

fn now(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Wednesday 2026-11-25 10:30 in New York.
const WED_1030_NY: &str = "2026-11-25T15:30:00Z";

fn call(caller: &str, vars: &[(&str, &str)]) -> Tokens {
    Tokens::new(
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        CallerFields {
            number: Some(caller.into()),
            ..Default::default()
        },
    )
}

fn run(
    c: &Config,
    router: &str,
    tokens: &Tokens,
    usage: &UsageSnapshot,
    at: &str,
    seed: u64,
) -> Decision {
    let mut rng = SplitMix64::new(seed);
    decide(
        c.router(router).unwrap(),
        c,
        tokens,
        usage,
        now(at),
        &mut rng,
    )
}

fn plan_ids(d: &Decision) -> Vec<String> {
    d.plan
        .iter()
        .map(|s| match s {
            Step::Buyer { id, .. } => id.to_string(),
            Step::Group { id, members, .. } => {
                let m: Vec<&str> = members.iter().map(Id::as_str).collect();
                format!("{id}[{}]", m.join(","))
            }
        })
        .collect()
}

fn buyers_toml(specs: &[(&str, u32, u32, &str)]) -> String {
    let mut s = String::from("timezone = \"America/New_York\"\n");
    for (id, tier, weight, bid) in specs {
        s.push_str(&format!(
            "[[buyer]]\nid = \"{id}\"\ndestination = {{ sip = \"sip:{id}@x\" }}\ntier = {tier}\nweight = {weight}\nbid = \"{bid}\"\n\n"
        ));
    }
    s
}

fn router_toml(id: &str, alg: &str, buyers: &[&str], groups: &[&str]) -> String {
    let q = |v: &[&str]| {
        v.iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[[router]]\nid = \"{id}\"\nmatch = {{ destination = \"1\" }}\nbuyers = [{}]\ngroups = [{}]\nalgorithm = \"{alg}\"\n\n",
        q(buyers),
        q(groups)
    )
}

#[test]
fn revenue_orders_by_bid_then_id() {
    let c = cfg(&(buyers_toml(&[
        ("a", 1, 1, "10.00"),
        ("b", 1, 1, "25.00"),
        ("c", 2, 1, "25.00"),
        ("d", 1, 1, "5.50"),
    ]) + &router_toml("r", "revenue", &["a", "b", "c", "d"], &[])));
    let d = run(
        &c,
        "r",
        &call("2125550100", &[]),
        &UsageSnapshot::default(),
        WED_1030_NY,
        0,
    );
    assert_eq!(plan_ids(&d), ["b", "c", "a", "d"]);
    assert!(d.left_out.is_empty());
}

#[test]
fn tier_orders_tiers_and_shuffles_inside_by_seed() {
    let c = cfg(&(buyers_toml(&[
        ("a", 1, 1, "0"),
        ("b", 1, 5, "0"),
        ("c", 2, 1, "0"),
        ("d", 0, 1, "0"),
        ("e", 2, 1, "0"),
    ]) + &router_toml("r", "tier", &["a", "b", "c", "d", "e"], &[])));
    let t = call("2125550100", &[]);
    let u = UsageSnapshot::default();
    let mut seen_first_in_tier1 = std::collections::HashSet::new();
    for seed in 0..50 {
        let d = run(&c, "r", &t, &u, WED_1030_NY, seed);
        let ids = plan_ids(&d);
        assert_eq!(ids[0], "d", "tier 0 first");
        let mut t1 = ids[1..3].to_vec();
        t1.sort();
        assert_eq!(t1, ["a", "b"]);
        let mut t2 = ids[3..].to_vec();
        t2.sort();
        assert_eq!(t2, ["c", "e"]);
        seen_first_in_tier1.insert(ids[1].clone());
        assert_eq!(
            d,
            run(&c, "r", &t, &u, WED_1030_NY, seed),
            "same seed, same plan"
        );
    }
    assert_eq!(
        seen_first_in_tier1.len(),
        2,
        "both tier-1 buyers lead sometimes"
    );
    // One concrete plan pinned, so a change in the draw order is noticed.
    assert_eq!(
        plan_ids(&run(&c, "r", &t, &u, WED_1030_NY, 7)),
        ["d", "b", "a", "c", "e"]
    );
}

#[test]
fn epc_uses_trailing_window_and_prior() {
    let text = buyers_toml(&[
        ("new", 1, 1, "0"),
        ("good", 1, 1, "0"),
        ("bad", 1, 1, "0"),
        ("old", 1, 1, "0"),
    ]) + "[epc]\nwindow = \"7d\"\nprior = \"10.00\"\nprior_calls = 10\n\n"
        + &router_toml("r", "epc", &["new", "good", "bad", "old"], &[]);
    let c = cfg(&text);
    let mut u = UsageSnapshot::default();
    let bucket = |start: &str, calls, earnings| EpcBucket {
        start: now(start),
        calls,
        earnings,
    };
    u.set_buyer(
        "good",
        Usage {
            epc: vec![bucket("2026-11-24T00:00:00Z", 100, 200_000)], // (200000+10000)/110 = 19.09
            ..Default::default()
        },
    );
    u.set_buyer(
        "bad",
        Usage {
            epc: vec![bucket("2026-11-24T00:00:00Z", 100, 10_000)], // 20000/110 = 1.81
            ..Default::default()
        },
    );
    u.set_buyer(
        "old",
        Usage {
            // Great history, but outside the 7-day window: counts as no history (the prior).
            epc: vec![bucket("2026-11-01T00:00:00Z", 100, 900_000)],
            ..Default::default()
        },
    );
    let d = run(&c, "r", &call("2125550100", &[]), &u, WED_1030_NY, 0);
    assert_eq!(plan_ids(&d), ["good", "new", "old", "bad"]);
    let Step::Buyer { rank, .. } = &d.plan[0] else {
        panic!()
    };
    assert_eq!(rank.epc, 1909);
}

const FULL: &str = r#"
currency = "USD"
timezone = "America/New_York"

[[buyer]]
id = "open"
destination = { sip = "sip:open@x" }
bid = "10.00"

[[buyer]]
id = "paused"
destination = { sip = "sip:p@x" }
paused = true

[[buyer]]
id = "tx-only"
destination = { sip = "sip:tx@x" }
filters = [{ token = "state", op = "==", value = "TX" }]

[[buyer]]
id = "night"
destination = { sip = "sip:n@x" }
timezone = "America/Chicago"
[buyer.hours]
all = [[18, 24]]

[[buyer]]
id = "capped"
destination = { sip = "sip:c@x" }
[buyer.caps]
daily = { connections = 20 }

[[buyer]]
id = "paced"
destination = { sip = "sip:pc@x" }
[buyer.caps]
pacing = "even"
hourly = { connections = 60 }

[[buyer]]
id = "b2"
destination = { sip = "sip:b2@x" }
suppress = ["b2.txt"]

[[buyer]]
id = "dup"
destination = { sip = "sip:d@x" }
duplicate = { scope = "router", window = "24h", action = "reroute" }

[[buyer]]
id = "dup-nopay"
destination = { sip = "sip:dn@x" }
duplicate = { scope = "router", window = "24h", action = "no-pay" }

[[buyer]]
id = "m1"
destination = { sip = "sip:m1@x" }
bid = "50.00"

[[buyer]]
id = "m2"
destination = { sip = "sip:m2@x" }
bid = "5.00"

[[buyer]]
id = "m3"
destination = { sip = "sip:m3@x" }
bid = "7.00"

[[group]]
id = "g-sim"
members = ["m2", "m1"]
mode = "simultaneous"

[[group]]
id = "g-capped"
members = ["m3"]
mode = "sequential"
[group.caps]
daily = { attempts = 3 }

[[router]]
id = "r"
match = { destination = "18005550100" }
buyers = ["open", "paused", "tx-only", "night", "capped", "paced", "b2", "dup", "dup-nopay"]
groups = ["g-sim", "g-capped"]
algorithm = "revenue"

[[router]]
id = "dnc"
match = { destination = "18005550101" }
buyers = ["open"]
algorithm = "tier"
suppress = ["dnc.txt"]
"#;

fn full_usage() -> UsageSnapshot {
    let mut u = UsageSnapshot::default();
    let mut capped = Usage::default();
    capped.daily.connections = Some(Counter::from(20));
    u.set_buyer("capped", capped);
    let mut paced = Usage::default();
    paced.hourly.connections = Some(Counter::from(31)); // minute 30: allowance 31
    u.set_buyer("paced", paced);
    let mut g = Usage::default();
    g.daily.attempts = Some(Counter::from(3));
    u.set_group("g-capped", g);
    u
}

#[test]
fn every_reason_with_concrete_plan() {
    let c = cfg(FULL);
    let caller = "+1 310 555 0100"; // CA, on b2's list
    let dups = InMemoryDuplicates {
        calls: vec![PastCall {
            caller: 13_105_550_100,
            buyer: "someone-else".into(),
            router: "r".into(),
            at: now("2026-11-25T09:00:00Z"),
        }],
    };
    let mut rng = SplitMix64::new(1);
    let d = decide_with(
        c.router("r").unwrap(),
        &c,
        &call(caller, &[]),
        &full_usage(),
        now(WED_1030_NY),
        &mut rng,
        &dups,
    );
    assert_eq!(
        plan_ids(&d),
        ["g-sim[m1,m2]", "open", "dup-nopay"],
        "group ranked by its best member's bid; members by bid"
    );
    let Step::Group { mode, rank, .. } = &d.plan[0] else {
        panic!()
    };
    assert_eq!((*mode, rank.bid), (GroupMode::Simultaneous, 5000));

    let reason = |id: &str| {
        describe(
            d.reason_for(id)
                .unwrap_or_else(|| panic!("{id} not left out")),
            c.currency,
        )
    };
    assert_eq!(reason("paused"), "paused");
    assert_eq!(
        reason("tx-only"),
        "token mismatch: wants state == TX, call has state=CA"
    );
    assert_eq!(
        reason("night"),
        "outside hours: opens 2026-11-25T18:00:00-06:00"
    );
    assert_eq!(
        reason("capped"),
        "over cap: daily connections 20/20, resets 2026-11-26T00:00:00-05:00"
    );
    assert_eq!(
        reason("paced"),
        "paced: hourly connections 31 used, 31 allowed so far this hour"
    );
    assert_eq!(reason("b2"), "suppressed: caller is on list b2.txt");
    assert!(
        reason("dup")
            .starts_with("duplicate caller (Router scope): called 2026-11-25T04:00:00-05:00")
    );
    assert_eq!(
        reason("m3"),
        "over cap (group g-capped): daily attempts 3/3, resets 2026-11-26T00:00:00-05:00"
    );
    assert_eq!(d.left_out.len(), 8);
    assert!(matches!(
        d.reason_for("m3"),
        Some(Reason::OverCap { scope: Scope::Group(g), metric: Metric::Attempts, window: Some(Window::Daily), .. }) if &**g == "g-capped"
    ));

    let text = render(&d, c.currency);
    assert!(
        text.contains("1. group g-sim (Simultaneous): m1, m2"),
        "{text}"
    );
    assert!(
        text.contains("  capped   over cap: daily connections 20/20"),
        "{text}"
    );
}

#[test]
fn missing_token_fails_but_not_for_ne() {
    let text = r#"
[[buyer]]
id = "needs"
destination = { sip = "sip:a@x" }
filters = [{ token = "campaign", op = "==", value = "auto" }]
[[buyer]]
id = "ne"
destination = { sip = "sip:b@x" }
filters = [{ token = "campaign", op = "!=", value = "auto" }, { token = "campaign", op = "not_in", value = ["x"] }]
[[router]]
id = "r"
match = { destination = "1" }
buyers = ["needs", "ne"]
algorithm = "revenue"
"#;
    let c = cfg(text);
    let d = run(
        &c,
        "r",
        &call("2125550100", &[]),
        &UsageSnapshot::default(),
        WED_1030_NY,
        0,
    );
    assert_eq!(plan_ids(&d), ["ne"]);
    assert_eq!(
        d.reason_for("needs"),
        Some(&Reason::TokenMismatch {
            token: "campaign".into(),
            op: crate::routing::filter::Op::Eq,
            expected: "auto".into(),
            actual: None
        })
    );
}

#[test]
fn router_suppression_leaves_everyone_out() {
    let c = cfg(FULL);
    let d = run(
        &c,
        "dnc",
        &call("212-555-0199", &[]),
        &UsageSnapshot::default(),
        WED_1030_NY,
        0,
    );
    assert!(d.plan.is_empty());
    assert_eq!(
        d.reason_for("open"),
        Some(&Reason::Suppressed {
            list: "dnc.txt".into()
        })
    );
    let ok = run(
        &c,
        "dnc",
        &call("212-555-0198", &[]),
        &UsageSnapshot::default(),
        WED_1030_NY,
        0,
    );
    assert_eq!(plan_ids(&ok), ["open"]);
}

#[test]
fn paused_group_pauses_members_and_group_route_by() {
    let text = buyers_toml(&[
        ("a", 1, 1, "1.00"),
        ("b", 1, 1, "9.00"),
        ("c", 0, 1, "2.00"),
        ("x", 3, 1, "0"),
    ]) + "[[group]]\nid = \"seq\"\nmembers = [\"a\", \"b\"]\nmode = \"sequential\"\nroute_by = \"revenue\"\n\n"
        + "[[group]]\nid = \"off\"\nmembers = [\"c\"]\nmode = \"simultaneous\"\npaused = true\n\n"
        + &router_toml("r", "tier", &["x"], &["seq", "off"]);
    let c = cfg(&text);
    let d = run(
        &c,
        "r",
        &call("2125550100", &[]),
        &UsageSnapshot::default(),
        WED_1030_NY,
        3,
    );
    assert_eq!(
        plan_ids(&d),
        ["seq[b,a]", "x"],
        "members by bid inside a tier router"
    );
    assert_eq!(
        d.reason_for("c"),
        Some(&Reason::Paused {
            by: Scope::Group(Id::new("off"))
        })
    );
}

#[test]
fn decision_serialises_to_json() {
    let c = cfg(FULL);
    let d = run(
        &c,
        "r",
        &call("2125550100", &[]),
        &full_usage(),
        WED_1030_NY,
        0,
    );
    let v: serde_json::Value = serde_json::to_value(&d).unwrap();
    assert_eq!(v["router"], "r");
    assert_eq!(v["algorithm"], "revenue");
    assert_eq!(v["plan"][0]["step"], "group");
    assert_eq!(v["plan"][0]["members"][0], "m1");
    let capped = v["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["buyer"] == "capped")
        .unwrap();
    assert_eq!(capped["reason"], "over_cap");
    assert_eq!(capped["window"], "daily");
    assert_eq!(capped["metric"], "connections");
    assert_eq!(capped["resets_at"], "2026-11-26T00:00:00-05:00");
    assert_eq!(capped["scope"]["kind"], "buyer");
}

#[test]
fn router_for_matches_destination_and_variable() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml");
    let c = config::load(&path).unwrap();
    let t = Tokens::new(
        [("campaign", "home")],
        CallerFields {
            destination: Some("+1 (888) 555-0100".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        c.router_for(&t).unwrap().id.as_str(),
        "solar-revenue",
        "first match wins"
    );
    let t = call("2125550100", &[("campaign", "home")]);
    assert_eq!(c.router_for(&t).unwrap().id.as_str(), "home-epc");
    assert!(c.router_for(&call("2125550100", &[])).is_none());
}

#[test]
fn usage_of_an_earlier_day_is_not_counted() {
    let c = cfg(FULL);
    let mut u = full_usage();
    u.buyers.get_mut("capped").unwrap().daily.connections = Some(Counter {
        value: 20,
        since: Some(now("2026-11-24T05:00:00Z")),
    });
    u.buyers
        .get_mut("capped")
        .unwrap()
        .window_mut(Window::Daily);
    let d = run(&c, "r", &call("2125550100", &[]), &u, WED_1030_NY, 0);
    assert!(d.reason_for("capped").is_none());
}
