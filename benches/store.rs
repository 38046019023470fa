//! The store (issue 14): facts committed per second through the real writer, and the rebuild
//! of a month of facts at start.
//!
//! Run: `cargo bench --bench store`. Figures (issue 14's goals in brackets):
//! 1. facts committed per second [≥ 100,000]: a [`StoreWriter`] over a [`SqliteStore`] on a
//!    file in a temp dir (WAL, `synchronous = NORMAL`, as the daemon opens it), fed as the
//!    engine feeds it: one send per handled input, each a few facts ([`FACTS_PER_SEND`]); timed
//!    from the first send to [`StoreWriter::flush`] returning. Into an empty file and into the
//!    month-long file of figure 2; and, for the daemon's real mix, whole calls (the call taken,
//!    its facts, its record) in the sends the engine makes for one call;
//! 2. rebuild of 1,000,000 facts at start [< 1 s]: the daemon's path, `parkway::store::open`
//!    (compaction, then the load) and `Switchboard::restore`, on a file holding a month of
//!    calls (~235,000 calls of ~4.3 facts, 300 buyers in five zones, 30 groups, a duplicate rule
//!    on a third of them, call records, a few calls still open).
//!
//! Each figure is printed per run and as the median of `STORE_BENCH_RUNS` runs (default 5),
//! then measured again by criterion (the commit into an empty file, the rebuild). `STORE_BENCH_ONLY=commit|rebuild` runs one part
//! (profiling); `STORE_BENCH_CRITERION=0` skips criterion.

#![allow(clippy::disallowed_methods, reason = "a benchmark times itself")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput};
use parkway::billing::Count;
use parkway::billing::ledger::Fact;
use parkway::calls::{CallRecord, Switchboard};
use parkway::config::{self, Config};
use parkway::routing::decision::{Algorithm, Id};
use parkway::store::sqlite::SqliteStore;
use parkway::store::writer::StoreWriter;
use parkway::store::{ConversionSeen, Entry, OpenedCall, Store};
use parkway_esl::splitmix::SplitMix64;

const BUYERS: usize = 300;
const GROUPS: usize = 30;
const GROUP_SIZE: usize = 5;
/// Facts in the month-long file.
const MONTH_FACTS: u64 = 1_000_000;
/// Calls still open in it (in flight at the restart).
const OPEN_CALLS: u64 = 40;
/// Facts per send in the commit figure (what one handled event journals is one to six).
const FACTS_PER_SEND: usize = 4;
/// Facts per commit run.
const COMMIT_FACTS: u64 = 200_000;
const ZONES: [&str; 5] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "UTC",
];

fn config(db: &Path) -> Config {
    let mut text = String::from(
        "currency = \"USD\"\ntimezone = \"America/New_York\"\n\
         [epc]\nwindow = \"7d\"\nprior = \"18.00\"\nprior_calls = 20\n",
    );
    for i in 0..BUYERS {
        let duplicate = if i % 3 == 0 {
            "duplicate = { scope = \"buyer\", window = \"30d\", action = \"no-pay\" }\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "[[buyer]]\nid = \"buyer-{i:03}\"\ndestination = {{ sip = \"b{i}@buyers.example.com\" }}\n\
             timezone = \"{}\"\ntier = {}\nbid = \"12.00\"\nconversion = {{ digit = \"1\" }}\n\
             payout = {{ per = \"conversion\", amount = \"25.00\" }}\n{duplicate}\
             [buyer.caps]\ndaily = {{ connections = 1000000 }}\nmonthly = {{ revenue = \"1000000.00\" }}\n",
            ZONES[i % ZONES.len()],
            1 + i % 3
        ));
    }
    for g in 0..GROUPS {
        let members: Vec<String> = (0..GROUP_SIZE)
            .map(|m| format!("\"buyer-{:03}\"", g * GROUP_SIZE + m))
            .collect();
        text.push_str(&format!(
            "[[group]]\nid = \"group-{g:02}\"\nmembers = [{}]\nmode = \"simultaneous\"\n\
             timezone = \"{}\"\n[group.caps]\ndaily = {{ connections = 1000000 }}\n",
            members.join(", "),
            ZONES[g % ZONES.len()]
        ));
    }
    let alone: Vec<String> = (GROUPS * GROUP_SIZE..BUYERS)
        .map(|i| format!("\"buyer-{i:03}\""))
        .collect();
    let groups: Vec<String> = (0..GROUPS).map(|g| format!("\"group-{g:02}\"")).collect();
    text.push_str(&format!(
        "[[router]]\nid = \"r\"\nmatch = {{ variable = \"campaign\", value = \"auto\" }}\n\
         buyers = [{}]\ngroups = [{}]\nalgorithm = \"tier\"\nfallback = {{ hangup = \"NO_ROUTE_DESTINATION\" }}\n",
        alone.join(", "),
        groups.join(", ")
    ));
    let mut config = config::parse(&text, Path::new("store-bench.toml"), &|p| {
        std::fs::read_to_string(p)
    })
    .unwrap_or_else(|e| panic!("{:?}", e.0));
    config.store.path = db.to_path_buf();
    config
}

/// Writes calls as the engine journals them, one call's entries per closure call.
struct CallMaker {
    rng: SplitMix64,
    buyers: Vec<Id>,
    router: Id,
}

/// One call's entries, in the sends the engine makes for it.
struct MadeCall {
    sends: Vec<Vec<Entry>>,
    facts: u64,
}

impl CallMaker {
    fn new(seed: u64) -> CallMaker {
        CallMaker {
            rng: SplitMix64::new(seed),
            buyers: (0..BUYERS)
                .map(|i| Id::new(&format!("buyer-{i:03}")))
                .collect(),
            router: Id::new("r"),
        }
    }

    fn buyer(&mut self) -> Id {
        let i = self.rng.below(BUYERS as u64) as usize;
        self.buyers[i].clone()
    }

    /// A call parked at `at`: one buyer dialled (a second one for 10 %), 60 % bridged, 30 % of
    /// those converted (conversion, revenue, the conversion for the duplicate rules), then the
    /// record. `open`: it is still up (no leg down, no record).
    fn call(&mut self, at: DateTime<Utc>, open: bool) -> MadeCall {
        let sec = chrono::Duration::seconds;
        let call: Arc<str> = self.rng.uuid_v4().into();
        let caller = format!("+1214555{:04}", self.rng.below(10_000));
        let tokens = BTreeMap::from([
            ("campaign".to_owned(), "auto".to_owned()),
            ("state".to_owned(), "TX".to_owned()),
        ]);
        let fact = |buyer: &Id, leg: Option<&str>, kind: Count, at: DateTime<Utc>| {
            Entry::Fact(Fact {
                call: call.clone(),
                buyer: buyer.clone(),
                leg: leg.map(Into::into),
                kind,
                at,
            })
        };
        let mut sends = Vec::new();
        let mut buyer = self.buyer();
        let mut leg = self.rng.uuid_v4();
        // Park: the call taken, the first leg dialled.
        sends.push(vec![
            Entry::Opened(OpenedCall {
                call: call.clone(),
                router: self.router.clone(),
                caller: Some(caller.clone()),
                destination: Some("18005550199".into()),
                tokens: tokens.clone(),
                parked_at: at,
            }),
            fact(&buyer, Some(&leg), Count::Attempt, at),
            fact(&buyer, Some(&leg), Count::LegUp, at),
        ]);
        let mut t = at + sec(20);
        if self.rng.below(100) < 10 {
            // No answer: the leg ends, the next buyer is dialled.
            sends.push(vec![fact(&buyer, Some(&leg), Count::LegDown, t)]);
            buyer = self.buyer();
            leg = self.rng.uuid_v4();
            sends.push(vec![
                fact(&buyer, Some(&leg), Count::Attempt, t),
                fact(&buyer, Some(&leg), Count::LegUp, t),
            ]);
            t += sec(20);
        }
        let bridged = self.rng.below(100) < 60;
        if bridged {
            sends.push(vec![fact(&buyer, None, Count::Connection, t)]);
            t += sec(60 + self.rng.below(300) as i64);
        }
        if !open {
            let mut last = vec![fact(&buyer, Some(&leg), Count::LegDown, t)];
            let converted = bridged && self.rng.below(100) < 30;
            if converted {
                last.push(fact(&buyer, None, Count::Conversion, t));
                last.push(fact(&buyer, None, Count::Revenue(2_500), t));
                last.push(Entry::Converted(ConversionSeen {
                    call: call.clone(),
                    caller: 12_145_550_000 + self.rng.below(10_000),
                    buyer: buyer.clone(),
                    router: self.router.clone(),
                    at: t,
                }));
            }
            let mut record = CallRecord::new(
                &call,
                self.router.clone(),
                Algorithm::Tier,
                Some(caller),
                Some("18005550199".into()),
                tokens,
                at,
            );
            record.ended_at = Some(t);
            record.talk_secs = if bridged {
                (t - at).num_seconds().max(0) as u64
            } else {
                0
            };
            last.push(Entry::Finished(std::sync::Arc::new(record)));
            sends.push(last);
        }
        let facts = sends
            .iter()
            .flatten()
            .filter(|e| matches!(e, Entry::Fact(_)))
            .count() as u64;
        MadeCall { sends, facts }
    }
}

/// Writes a month of calls ending at `now` into `path`, `MONTH_FACTS` facts in all (the last
/// `OPEN_CALLS` calls still open). Returns (facts, calls).
fn write_month(path: &Path, now: DateTime<Utc>) -> (u64, u64) {
    let mut store = SqliteStore::open(path).expect("store");
    let mut maker = CallMaker::new(14);
    // ~4.26 facts a call (see `CallMaker::call`): spread the calls evenly over 30 days.
    let calls_expected = MONTH_FACTS * 100 / 426;
    let step_us = 30 * 86_400_000_000i64 / calls_expected as i64;
    let start = now - chrono::Duration::days(30);
    let (mut facts, mut calls) = (0u64, 0u64);
    let mut batch = Vec::new();
    while facts < MONTH_FACTS {
        let at = start + chrono::Duration::microseconds(step_us * calls as i64);
        // The last calls stay open: they are the ones in flight at the restart.
        let open = facts + OPEN_CALLS * 4 >= MONTH_FACTS;
        let made = maker.call(at, open);
        facts += made.facts;
        calls += 1;
        batch.extend(made.sends.into_iter().flatten());
        if batch.len() >= 20_000 {
            store.commit(&batch).expect("commit");
            batch.clear();
        }
    }
    store.commit(&batch).expect("commit");
    (facts, calls)
}

/// The daemon's start: open (compact + load), then the switchboard takes it back. Returns
/// (open, restore, facts restored).
fn rebuild(config: &Arc<Config>, now: DateTime<Utc>) -> (Duration, Duration, u64) {
    let started = Instant::now();
    let (store, restored) = parkway::store::open(config, now).expect("open");
    let opened = started.elapsed();
    let mut board = Switchboard::new(config.clone(), 1, false).persistent();
    let (recovered, _records) = board.restore(restored, now);
    let total = started.elapsed();
    std::hint::black_box(&board);
    drop(board);
    drop(store);
    (opened, total - opened, recovered.facts)
}

/// Facts-only sends of `per_send` facts, `n` facts in all: calls with FreeSWITCH-like uuids
/// (seeded by `seed`), four facts each (attempt, leg up, connection, leg down).
fn fact_sends(n: u64, per_send: usize, seed: u64, at: DateTime<Utc>) -> Vec<Vec<Entry>> {
    let mut rng = SplitMix64::new(seed);
    let buyers: Vec<Id> = (0..BUYERS)
        .map(|i| Id::new(&format!("buyer-{i:03}")))
        .collect();
    let kinds = [
        Count::Attempt,
        Count::LegUp,
        Count::Connection,
        Count::LegDown,
    ];
    let mut sends = Vec::new();
    let mut send = Vec::with_capacity(per_send);
    let (mut call, mut leg, mut buyer): (Arc<str>, String, Id) =
        ("".into(), String::new(), buyers[0].clone());
    for i in 0..n {
        if i % 4 == 0 {
            call = rng.uuid_v4().into();
            leg = rng.uuid_v4();
            buyer = buyers[rng.below(BUYERS as u64) as usize].clone();
        }
        let kind = kinds[(i % 4) as usize];
        send.push(Entry::Fact(Fact {
            call: call.clone(),
            buyer: buyer.clone(),
            leg: kind.per_leg().then(|| leg.as_str().into()),
            kind,
            at: at + chrono::Duration::milliseconds(i as i64),
        }));
        if send.len() == per_send {
            sends.push(std::mem::replace(&mut send, Vec::with_capacity(per_send)));
        }
    }
    if !send.is_empty() {
        sends.push(send);
    }
    sends
}

/// Sends `sends` to `writer` and waits for the commit: first send to `flush` returning.
fn commit_through(writer: &StoreWriter, sends: Vec<Vec<Entry>>) -> Duration {
    let started = Instant::now();
    for s in sends {
        writer.send(s);
    }
    writer.flush();
    started.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> Dir {
    let dir =
        std::env::temp_dir().join(format!("parkway-store-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Dir(dir)
}

fn file_mib(path: &Path) -> f64 {
    let len = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = path.with_extension("db-wal");
    (len(path.to_path_buf()) + len(wal)) as f64 / (1024.0 * 1024.0)
}

fn now() -> DateTime<Utc> {
    "2026-12-01T00:00:00Z".parse().expect("time")
}

/// Figure 1, plain: `runs` runs of `COMMIT_FACTS` facts into a fresh file each.
fn commit_plain(runs: usize) {
    let at = now();
    let mut rates = Vec::new();
    for run in 0..runs {
        let dir = temp_dir("commit");
        let store = SqliteStore::open(&dir.0.join("parkway.db")).expect("store");
        let writer = StoreWriter::start(Box::new(store)).expect("writer");
        let sends = fact_sends(COMMIT_FACTS, FACTS_PER_SEND, run as u64, at);
        let took = commit_through(&writer, sends);
        let stats = writer.stats();
        let rate = COMMIT_FACTS as f64 / took.as_secs_f64();
        println!(
            "commit, empty file, run {run}: {COMMIT_FACTS} facts in {} sends of {FACTS_PER_SEND}: {:.1} ms = {:.0} facts/s ({} transactions; load {})",
            COMMIT_FACTS as usize / FACTS_PER_SEND,
            took.as_secs_f64() * 1e3,
            rate,
            stats.batches.load(std::sync::atomic::Ordering::Relaxed),
            loadavg()
        );
        rates.push(rate);
    }
    let (lo, hi) = range(&rates);
    println!(
        "commit, empty file: median {:.0} facts/s over {runs} runs (range {lo:.0}-{hi:.0})",
        median(rates)
    );
}

/// Figure 1 into the month-long file (it grows by `COMMIT_FACTS` a run), facts only and whole
/// calls.
fn commit_into_month(path: &Path, runs: usize) {
    let at = now();
    let mut rates = Vec::new();
    for run in 0..runs {
        let store = SqliteStore::open(path).expect("store");
        let writer = StoreWriter::start(Box::new(store)).expect("writer");
        let sends = fact_sends(COMMIT_FACTS, FACTS_PER_SEND, 1000 + run as u64, at);
        let took = commit_through(&writer, sends);
        let rate = COMMIT_FACTS as f64 / took.as_secs_f64();
        println!(
            "commit, file with a month of facts, run {run}: {COMMIT_FACTS} facts: {:.1} ms = {:.0} facts/s (load {})",
            took.as_secs_f64() * 1e3,
            rate,
            loadavg()
        );
        rates.push(rate);
    }
    let (lo, hi) = range(&rates);
    println!(
        "commit, file with a month of facts: median {:.0} facts/s over {runs} runs (range {lo:.0}-{hi:.0})",
        median(rates)
    );
    let mut rates = Vec::new();
    let mut call_rates = Vec::new();
    for run in 0..runs {
        let store = SqliteStore::open(path).expect("store");
        let writer = StoreWriter::start(Box::new(store)).expect("writer");
        let mut maker = CallMaker::new(2000 + run as u64);
        let (mut sends, mut facts, mut calls) = (Vec::new(), 0u64, 0u64);
        while facts < COMMIT_FACTS {
            let made = maker.call(at + chrono::Duration::milliseconds(calls as i64), false);
            facts += made.facts;
            calls += 1;
            sends.extend(made.sends);
        }
        let n_sends = sends.len();
        let took = commit_through(&writer, sends);
        let rate = facts as f64 / took.as_secs_f64();
        println!(
            "commit whole calls (taken, facts, conversion, record), month file, run {run}: {calls} calls, {facts} facts in {n_sends} sends: {:.1} ms = {:.0} facts/s, {:.0} calls/s (load {})",
            took.as_secs_f64() * 1e3,
            rate,
            calls as f64 / took.as_secs_f64(),
            loadavg()
        );
        rates.push(rate);
        call_rates.push(calls as f64 / took.as_secs_f64());
    }
    println!(
        "commit whole calls, month file: median {:.0} facts/s, {:.0} calls/s over {runs} runs",
        median(rates),
        median(call_rates)
    );
}

fn rebuild_plain(config: &Arc<Config>, runs: usize) {
    let mut totals = Vec::new();
    for run in 0..runs {
        let (open, restore, facts) = rebuild(config, now());
        let total = (open + restore).as_secs_f64();
        println!(
            "rebuild, run {run}: {facts} facts: open (compact + load) {:.0} ms + restore {:.0} ms = {:.0} ms (load {})",
            open.as_secs_f64() * 1e3,
            restore.as_secs_f64() * 1e3,
            total * 1e3,
            loadavg()
        );
        totals.push(total * 1e3);
    }
    let (lo, hi) = range(&totals);
    println!(
        "rebuild of a month's facts: median {:.0} ms over {runs} runs (range {lo:.0}-{hi:.0} ms)",
        median(totals)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let only = std::env::var("STORE_BENCH_ONLY").ok();
    let part = |p: &str| only.as_deref().is_none_or(|o| o == p);
    let runs: usize = std::env::var("STORE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let with_criterion = std::env::var("STORE_BENCH_CRITERION").as_deref() != Ok("0");
    println!("load average at start: {}", loadavg());

    if part("commit") {
        commit_plain(runs);
        if with_criterion {
            // A fresh file for every iteration, as in the runs above: into one file kept
            // across iterations the figure would fall as the file grows (see the month file).
            let mut g = c.benchmark_group("store");
            g.sample_size(10)
                .measurement_time(Duration::from_secs(10))
                .throughput(Throughput::Elements(COMMIT_FACTS));
            let mut seed = 1_000_000u64;
            g.bench_function("commit_facts_4_per_send_empty_file", |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let dir = temp_dir("criterion-commit");
                        let store = SqliteStore::open(&dir.0.join("parkway.db")).expect("store");
                        let writer = StoreWriter::start(Box::new(store)).expect("writer");
                        let sends = fact_sends(COMMIT_FACTS, FACTS_PER_SEND, seed, now());
                        total += commit_through(&writer, sends);
                    }
                    total
                })
            });
            g.finish();
        }
    }

    if part("rebuild") || part("commit") {
        let dir = temp_dir("month");
        let db = dir.0.join("parkway.db");
        let config = Arc::new(config(&db));
        let started = Instant::now();
        let (facts, calls) = write_month(&db, now());
        println!(
            "month file: {facts} facts, {calls} calls ({OPEN_CALLS} open), {:.0} MiB, written in {:.1} s",
            file_mib(&db),
            started.elapsed().as_secs_f64()
        );
        if part("rebuild") {
            rebuild_plain(&config, runs);
            if with_criterion {
                let mut g = c.benchmark_group("store");
                g.sample_size(10)
                    .measurement_time(Duration::from_secs(15))
                    .throughput(Throughput::Elements(facts));
                g.bench_function("rebuild_month", |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let (open, restore, _) = rebuild(&config, now());
                            total += open + restore;
                        }
                        total
                    })
                });
                g.finish();
            }
        }
        if part("commit") {
            commit_into_month(&db, runs.min(3));
        }
    }
    c.final_summary();
}
