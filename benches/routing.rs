//! Routing benchmarks: decisions per second and latency percentiles with 10 … 10,000 buyers on one
//! router (mixed filters, schedules and caps), and loading a 1,000,000-number suppression list.
//!
//! Run: `cargo bench --bench routing`. The custom loop prints p50/p99 per size first (criterion
//! reports means, not tails), then criterion measures the mean time per decision.
//!
//! Two paths are measured, both on the config's `HotView` built once (as the switchboard holds
//! it): a fresh `Decider` per call on the id-keyed `UsageSnapshot` (one map lookup per capped
//! buyer, fresh working memory per call: the switchboard's path), and a `Decider` kept per config
//! (reusing its working memory) on the same snapshot resolved once against the view
//! (`UsageSnapshot::resolve`, timed on its own). Both build the whole plan and every reason in
//! every decision.

#![allow(clippy::disallowed_methods, reason = "a benchmark times itself")]

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use criterion::{BenchmarkId, Criterion, Throughput};
use regex::Regex;

use parkway::config::{Buyer, Config, Currency, Entry, EpcSettings, Money, Router};
use parkway::routing::filter::{Filter, Test};
use parkway::routing::hot::HotView;
use parkway::routing::schedule::Schedule;
use parkway::routing::suppression::SuppressionList;
use parkway::routing::usage::{Counter, Usage};
use parkway::routing::{
    Algorithm, CallerFields, Decider, NoDuplicates, SplitMix64, Tokens, UsageSnapshot, Window,
    decide,
};

const USD: Currency = Currency::USD;
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// A router over `n` buyers: a quarter with a state filter, a quarter with a campaign regex, a
/// quarter with a numeric filter; half with business hours in one of four US zones; most with
/// daily/hourly caps and some at them; tiers 0–3 and weights 1–10.
// Each buyer compiles its own regex, as a loaded config does (not one shared program).
#[allow(clippy::regex_creation_in_loops)]
fn world(n: usize) -> (Config, UsageSnapshot) {
    let zones = [
        chrono_tz::America::New_York,
        chrono_tz::America::Chicago,
        chrono_tz::America::Denver,
        chrono_tz::America::Los_Angeles,
    ];
    let mut r = SplitMix64::new(0xBEEF);
    let mut buyers = Vec::with_capacity(n);
    let mut usage = UsageSnapshot::default();
    for i in 0..n {
        let id = format!("buyer-{i:05}");
        let mut b = Buyer::basic(&id, USD);
        b.tz = zones[i % 4];
        b.tier = (r.next_u64() % 4) as u32;
        b.weight = 1 + (r.next_u64() % 10) as u32;
        b.bid = Money::new(500 + (r.next_u64() % 5000) as i64, USD);
        match i % 4 {
            0 => b.filters.push(Filter::new(
                "state",
                Test::In(vec!["CA".into(), "TX".into(), "NY".into(), "FL".into()]),
            )),
            1 => b.filters.push(Filter::new(
                "campaign",
                Test::Matches(Regex::new("^(auto|home)$").unwrap_or_else(|e| panic!("{e}"))),
            )),
            2 => b.filters.push(Filter::new("age", Test::Gt(25.0))),
            _ => {}
        }
        if i % 2 == 0 {
            let mut s = Schedule::closed();
            for d in 0..6 {
                s.open(d, 8, 20);
            }
            b.schedule = s;
        }
        if i % 5 != 0 {
            b.caps.limits_mut(Window::Daily).connections = Some(50);
            b.caps.limits_mut(Window::Hourly).attempts = Some(20);
            b.caps.concurrency = Some(5);
            let mut u = Usage {
                concurrency: (r.next_u64() % 5) as u32,
                ..Default::default()
            };
            u.daily.connections = Some(Counter::from((r.next_u64() % 60) as i64));
            u.hourly.attempts = Some(Counter::from((r.next_u64() % 22) as i64));
            usage.set_buyer(id, u);
        }
        buyers.push(b);
    }
    let router = Router::basic("r", Algorithm::Tier, (0..n).map(Entry::Buyer).collect());
    let epc = EpcSettings {
        window: Duration::days(7),
        prior: Money::new(1000, USD),
        prior_calls: 10,
    };
    (
        Config::new(
            USD,
            chrono_tz::America::New_York,
            epc,
            buyers,
            vec![],
            vec![router],
        ),
        usage,
    )
}

fn tokens() -> Tokens {
    Tokens::new(
        [("campaign", "auto"), ("age", "41"), ("publisher", "p17")],
        CallerFields {
            number: Some("+13105550100".into()),
            name: Some("Jane Doe".into()),
            destination: Some("18885550100".into()),
        },
    )
}

fn at() -> DateTime<Utc> {
    // Wednesday 10:30 in New York: most scheduled buyers are open.
    "2026-11-25T15:30:00Z".parse().unwrap_or_default()
}

fn percentile(sorted: &[StdDuration], p: f64) -> StdDuration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times `iters` decisions one by one (after a tenth as many to warm up): (sorted durations,
/// wall time of the timed loop).
fn time_decisions<D>(
    iters: usize,
    mut decision: impl FnMut() -> D,
) -> (Vec<StdDuration>, StdDuration) {
    for _ in 0..iters / 10 {
        black_box(decision());
    }
    let mut times = Vec::with_capacity(iters);
    let wall = Instant::now();
    for _ in 0..iters {
        let start = Instant::now();
        let d = decision();
        times.push(start.elapsed());
        black_box(d);
    }
    let total = wall.elapsed();
    times.sort_unstable();
    (times, total)
}

/// Sizes to run: all, or the comma-separated list in `ROUTING_BENCH_SIZES` (for profiling one).
fn sizes() -> Vec<usize> {
    match std::env::var("ROUTING_BENCH_SIZES") {
        Ok(v) => v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) => SIZES.to_vec(),
    }
}

/// The custom latency loop: every decision timed on its own, then sorted.
fn latency_report() {
    println!("routing decision latency (custom loop, one Instant per decision)");
    println!(
        "{:>8} {:>9} {:>10} {:>12} {:>12} {:>12} {:>14}",
        "buyers", "usage", "decisions", "p50", "p99", "max", "decisions/s"
    );
    let t = tokens();
    for n in sizes() {
        let (config, usage) = world(n);
        let router = &config.routers[0];
        let iters = (2_000_000 / n).clamp(500, 50_000);
        let mut rng = SplitMix64::new(1);
        let view = HotView::new(&config.buyers);
        let (times, total) = time_decisions(iters, || {
            Decider::new(&config, &view).decide(router, &t, &usage, at(), &mut rng, &NoDuplicates)
        });
        let row = |label: &str, times: &[StdDuration], total: StdDuration| {
            println!(
                "{:>8} {:>9} {:>10} {:>12?} {:>12?} {:>12?} {:>14.0}",
                n,
                label,
                iters,
                percentile(times, 0.50),
                percentile(times, 0.99),
                times[times.len() - 1],
                iters as f64 / total.as_secs_f64(),
            )
        };
        row("snapshot", &times, total);

        let resolve_start = Instant::now();
        let resolved = usage.resolve(&view);
        let resolve_took = resolve_start.elapsed();
        let mut decider = Decider::new(&config, &view);
        let (times, total) = time_decisions(iters, || {
            decider.decide_resolved(router, &t, &resolved, at(), &mut rng, &NoDuplicates)
        });
        row("resolved", &times, total);
        let plan = decide(router, &config, &t, &usage, at(), &mut rng);
        println!(
            "{:>8} (plan {} steps, {} left out; resolving the snapshot once took {:?})",
            "",
            plan.plan.len(),
            plan.left_out.len(),
            resolve_took
        );
    }
}

fn million_numbers() -> String {
    let mut s = String::with_capacity(13 * 1_000_000);
    let mut r = SplitMix64::new(99);
    for _ in 0..1_000_000 {
        let n = 2_000_000_000 + r.next_u64() % 7_999_999_999;
        s.push_str(&format!("+1{n}\n"));
    }
    s
}

fn suppression_report(text: &str) {
    let start = Instant::now();
    let list = SuppressionList::parse("bench", text).unwrap_or_default();
    let took = start.elapsed();
    println!(
        "suppression list load: {} lines, {} distinct numbers, {:?}",
        text.lines().count(),
        list.len(),
        took
    );
}

fn main() {
    // `ROUTING_BENCH_SKIP_REPORT=1` runs only criterion (for profiling one size).
    let numbers = million_numbers();
    if std::env::var_os("ROUTING_BENCH_SKIP_REPORT").is_none() {
        latency_report();
        suppression_report(&numbers);
    }

    let mut c = Criterion::default()
        .warm_up_time(StdDuration::from_millis(500))
        .measurement_time(StdDuration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let t = tokens();
    let mut group = c.benchmark_group("decide");
    for n in sizes() {
        let (config, usage) = world(n);
        let router = &config.routers[0];
        let mut rng = SplitMix64::new(1);
        let view = HotView::new(&config.buyers);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                Decider::new(&config, &view).decide(
                    router,
                    &t,
                    &usage,
                    at(),
                    &mut rng,
                    &NoDuplicates,
                )
            });
        });
    }
    group.finish();
    let mut group = c.benchmark_group("decider_resolved");
    for n in sizes() {
        let (config, usage) = world(n);
        let view = HotView::new(&config.buyers);
        let resolved = usage.resolve(&view);
        let mut decider = Decider::new(&config, &view);
        let router = &config.routers[0];
        let mut rng = SplitMix64::new(1);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                decider.decide_resolved(router, &t, &resolved, at(), &mut rng, &NoDuplicates)
            });
        });
    }
    group.finish();
    let mut group = c.benchmark_group("suppression");
    group.sample_size(10);
    group.bench_function("load_1m", |b| {
        b.iter(|| SuppressionList::parse("bench", black_box(&numbers)))
    });
    group.finish();
    c.final_summary();
}
