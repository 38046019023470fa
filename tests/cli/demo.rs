//! `parkway demo --calls 500 --seed 1`: the summary adds up, no buyer goes over a cap, and the
//! same seed gives the same summary.

use std::process::Command;

use parkway::config;
use parkway::routing::Metric;
use parkway::routing::zonetime::Window;
use serde_json::Value;

fn demo(seed: u64) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args([
            "demo",
            "--calls",
            "500",
            "--seed",
            &seed.to_string(),
            "--json",
        ])
        .output()
        .expect("parkway runs");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

fn n(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn demo_summary_adds_up_stays_under_caps_and_repeats_with_its_seed() {
    let first = demo(1);
    let again = demo(1);
    assert_eq!(first, again, "same seed, same summary");

    assert_eq!(n(&first, "placed"), 500);
    assert_eq!(
        n(&first, "placed"),
        n(&first, "calls") + n(&first, "unrouted")
    );
    assert_eq!(
        n(&first, "calls"),
        n(&first, "connected")
            + n(&first, "fallback")
            + n(&first, "abandoned")
            + n(&first, "failed"),
        "every call ends one way"
    );
    let buyers = first["buyers"].as_array().expect("buyers");
    let routers = first["routers"].as_array().expect("routers");
    let sum = |rows: &[Value], key: &str| rows.iter().map(|r| n(r, key)).sum::<i64>();
    assert_eq!(
        n(&first, "revenue"),
        sum(buyers, "revenue"),
        "revenue = Σ payouts"
    );
    assert_eq!(n(&first, "revenue"), sum(routers, "revenue"));
    assert_eq!(n(&first, "connected"), sum(buyers, "connected"));
    assert_eq!(n(&first, "connected"), sum(routers, "connected"));
    assert_eq!(n(&first, "converted"), sum(buyers, "converted"));
    assert_eq!(n(&first, "calls"), sum(routers, "calls"));
    assert!(n(&first, "connected") > 0 && n(&first, "converted") > 0);
    assert!(n(&first, "fallback") > 0, "the example's caps are reached");

    // The run spans minutes inside one hour of every zone: all-time totals are also the hourly,
    // daily, weekly and monthly counts, and none may pass its cap.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml");
    let cfg = config::load(&path).expect("example config");
    for b in &cfg.buyers {
        let row = buyers
            .iter()
            .find(|r| r["id"] == b.id.as_str())
            .expect("a row per buyer");
        for window in [
            Window::Hourly,
            Window::Daily,
            Window::Weekly,
            Window::Monthly,
            Window::Total,
        ] {
            let limits = b.caps.limits(window);
            for (metric, key) in [
                (Metric::Attempts, "attempts"),
                (Metric::Connections, "connected"),
                (Metric::Conversions, "converted"),
                (Metric::Revenue, "revenue"),
            ] {
                if let Some(limit) = limits.get(metric) {
                    assert!(
                        n(row, key) <= limit,
                        "{} over its {window:?} {key} cap: {} > {limit}",
                        b.id,
                        n(row, key)
                    );
                }
            }
        }
    }
    for g in &cfg.groups {
        let members: Vec<&Value> = g
            .members
            .iter()
            .map(|&m| {
                buyers
                    .iter()
                    .find(|r| r["id"] == cfg.buyers[m].id.as_str())
                    .expect("member row")
            })
            .collect();
        if let Some(limit) = g.caps.limits(Window::Daily).get(Metric::Connections) {
            let used: i64 = members.iter().map(|r| n(r, "connected")).sum();
            assert!(
                used <= limit,
                "group {} over its daily connections cap",
                g.id
            );
        }
    }
    assert_ne!(demo(2), first, "another seed, other calls");
}
