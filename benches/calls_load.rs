//! Load: parkway's daemon handling complete call lifecycles against the simulated FreeSWITCH
//! over a real loopback socket — park, route, dial (`bridge`), answer, DTMF, hangup, record.
//!
//! Run: `cargo bench --bench calls_load`. Four figures (issue 7's goals in brackets):
//! 1. sustained calls per second [≥ 2,000]: criterion times batches of calls offered at 2,000/s
//!    (wall clock) until the last call's record is out; the report's throughput is calls/s;
//! 2. park → dial latency, p50/p99/max [p99 < 1 ms]: from each CHANNEL_PARK frame read off the
//!    socket to its `bridge` queued on the connection (the connection's task writes queued
//!    commands before it reads again), over 20,000 calls offered at 2,000/s by the switch in a
//!    child process (`parkway sim`, as FreeSWITCH is its own process), printed with the time
//!    the run took; the same figure for the criterion runs above (switch in this process, on
//!    threads of its own);
//! 3. resident memory with 10,000 calls up at once [< 100 MB]: the daemon alone in this process,
//!    the switch in a child process, every call bridged and talking (printed);
//! 4. park → dial with the ledger on (a store in a temp dir, its writer thread, as `parkway
//!    run` has it) and off, side by side [issue 14: p99 on ≤ p99 off + 100 µs]: alternating
//!    rounds of 10,000 calls offered at 2,000/s by a child switch (`CALLS_LOAD_STORE_ROUNDS`,
//!    default 4), per round and the medians (printed).
//!
//! Both cores are shared by the switch and the daemon (as when FreeSWITCH runs on the same box).

#![allow(clippy::disallowed_methods, reason = "a benchmark times itself")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use parkway::calls::{CallRecord, Daemon, DaemonOptions};
use parkway::config::{self, Config};
use parkway::store::writer::StoreWriter;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::channel::AppCall;
use parkway_sim::engine::{Behaviour, EngineConfig};
use parkway_sim::{SimConfig, SimHandle, SimSwitch, TimeMode};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const CPS: u64 = 2_000;
const BATCH: u64 = 2_000;
const BUYERS: usize = 20;

fn config(addr: &str) -> Config {
    let mut text = format!(
        "currency = \"USD\"\ntimezone = \"UTC\"\n[freeswitch]\naddress = \"{addr}\"\npassword = \"ClueCon\"\n"
    );
    let mut ids = Vec::new();
    for i in 0..BUYERS {
        ids.push(format!("\"b{i}\""));
        text.push_str(&format!(
            "[[buyer]]\nid = \"b{i}\"\ndestination = {{ sip = \"load@buyers.example.com\" }}\n\
             tier = {}\nweight = {}\nbid = \"10.00\"\nconversion = {{ digit = \"1\" }}\n\
             payout = {{ per = \"conversion\", amount = \"10.00\" }}\n[buyer.caps]\ndaily = {{ connections = 1000000 }}\n",
            1 + i % 2,
            1 + i % 3
        ));
    }
    text.push_str(&format!(
        "[[router]]\nid = \"load\"\nmatch = {{ destination = \"18005550199\" }}\nbuyers = [{}]\n\
         algorithm = \"tier\"\nfallback = {{ hangup = \"NO_ROUTE_DESTINATION\" }}\n",
        ids.join(", ")
    ));
    config::parse(&text, std::path::Path::new("load.toml"), &|p| {
        std::fs::read_to_string(p)
    })
    .unwrap_or_else(|e| panic!("{:?}", e.0))
}

fn call(n: u64) -> InboundCall {
    InboundCall {
        sip_headers: Vec::new(),
        variables: vec![("campaign".into(), "load".into())],
        ..InboundCall::new(format!("+1214555{:04}", n % 10_000), "Load", "18005550199")
    }
}

struct Rig {
    sim: SimHandle,
    daemon: Daemon,
    records: mpsc::Receiver<CallRecord>,
    placed: u64,
}

/// The switch runs on `switch_rt`, its own threads (as its own process would).
async fn rig(talk_ms: u64, switch_rt: &Runtime) -> Rig {
    let sim_config = SimConfig {
        time: TimeMode::RealTime,
        engine: EngineConfig {
            epoch_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0),
            ..EngineConfig::default()
        },
        ..SimConfig::default()
    };
    let (addr, sim) = switch_rt
        .spawn(SimSwitch::start(sim_config))
        .await
        .expect("switch task")
        .expect("sim");
    sim.with(move |e| {
        e.dialplan_mut().add_behaviour(
            "load",
            &Behaviour::Answer {
                ring_ms: 20,
                digits: vec![(10, '1')],
                talk_ms,
            },
        );
        // As dialplan/parkway.xml: the caller is prepared for the bridge before it parks.
        let apps = [
            ("set", "hangup_after_bridge=true"),
            ("set", "continue_on_fail=true"),
            ("set", "ringback=%(2000,4000,440,480)"),
            ("set", "park_timeout=60:NORMAL_CLEARING"),
            ("park", ""),
        ];
        e.dialplan_mut().add(
            "public",
            "18005550199",
            apps.iter().map(|(n, a)| AppCall::new(n, a)).collect(),
        );
    })
    .await;
    let (tx, records) = mpsc::channel(1 << 20);
    let daemon = Daemon::start(
        Arc::new(config(&addr.to_string())),
        DaemonOptions {
            seed: 1,
            records: Some(tx),
            measure_dial_latency: true,
            ..DaemonOptions::default()
        },
    );
    let client = daemon
        .supervisor()
        .wait_connected()
        .await
        .expect("connected");
    client.api("status").await.expect("subscribed");
    Rig {
        sim,
        daemon,
        records,
        placed: 0,
    }
}

/// Offers `n` calls at `CPS` and waits for all their records; returns the time taken.
async fn batch(rig: &mut Rig, n: u64) -> Duration {
    let start = Instant::now();
    let step = Duration::from_micros(1_000_000 / CPS);
    for i in 0..n {
        let due = start + step * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        rig.sim.place_call(call(rig.placed)).await.expect("sim up");
        rig.placed += 1;
    }
    for _ in 0..n {
        let r = tokio::time::timeout(Duration::from_secs(60), rig.records.recv())
            .await
            .expect("records keep coming")
            .expect("daemon running");
        assert!(r.connected.is_some(), "a load call connects: {r:?}");
    }
    start.elapsed()
}

fn print_latencies(label: &str, mut lat: Vec<u32>) {
    lat.sort_unstable();
    println!(
        "park -> dial ({label}) over {} calls: p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat.last().copied().unwrap_or(0)
    );
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn throughput(c: &mut Criterion, rt: &Runtime) {
    let switch_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("switch runtime");
    let mut rig = rt.block_on(rig(100, &switch_rt));
    let mut g = c.benchmark_group("calls_load");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(BATCH));
    g.bench_function("lifecycles_offered_at_2000cps", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += batch(&mut rig, BATCH).await;
                }
                total
            })
        })
    });
    g.finish();
    print_latencies(
        "switch in this process, own threads",
        rig.daemon.dial_latencies(),
    );
    let dropped = rig.daemon.supervisor().stats().events_dropped;
    println!("events dropped by the daemon's queue: {dropped}");
    rt.block_on(async {
        rig.daemon.shutdown();
        rig.sim.shutdown().await;
    });
}

fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `parkway sim` in a child process with `scenario`, started once the daemon subscribes.
struct ChildSwitch {
    child: Child,
    scenario: std::path::PathBuf,
    addr: String,
}

impl ChildSwitch {
    fn start(name: &str, scenario: &str) -> ChildSwitch {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let path = std::env::temp_dir().join(format!("parkway-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, scenario).expect("scenario");
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_parkway"))
            .args([
                "sim",
                "--listen",
                &addr,
                "--real-time",
                "--wait-for-subscriber",
                "--scenario",
            ])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("parkway sim starts");
        std::thread::sleep(Duration::from_millis(500));
        ChildSwitch {
            child,
            scenario: path,
            addr,
        }
    }
}

impl Drop for ChildSwitch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.scenario);
    }
}

/// The daemon against `switch`, and its call records.
fn daemon_for(
    switch: &ChildSwitch,
    measure_dial_latency: bool,
) -> (Daemon, mpsc::Receiver<CallRecord>) {
    let (daemon, records, _) = daemon_with_store(switch, measure_dial_latency, None);
    (daemon, records)
}

/// The daemon against `switch`; with `store` (a directory), the ledger on as `parkway run`
/// has it: the store opened in that directory (`parkway::store::open`), its writer thread
/// started and handed to the daemon with what it held.
fn daemon_with_store(
    switch: &ChildSwitch,
    measure_dial_latency: bool,
    store: Option<&std::path::Path>,
) -> (Daemon, mpsc::Receiver<CallRecord>, Option<StoreWriter>) {
    let (tx, records) = mpsc::channel(1 << 16);
    let mut config = config(&switch.addr);
    let (writer, restored) = match store {
        Some(dir) => {
            config.store.path = dir.join("parkway.db");
            let (store, restored) =
                parkway::store::open(&config, chrono::Utc::now()).expect("store opens");
            let writer = StoreWriter::start(Box::new(store)).expect("writer starts");
            (Some(writer), Some(restored))
        }
        None => (None, None),
    };
    let daemon = Daemon::start(
        Arc::new(config),
        DaemonOptions {
            seed: 1,
            records: Some(tx),
            measure_dial_latency,
            store: writer.clone(),
            restored,
            ..DaemonOptions::default()
        },
    );
    (daemon, records, writer)
}

/// The dialplan/parkway.xml extension, for the child switch.
const PREPARED_EXTENSION: &str = "[[extension]]\ndestination = \"18005550199\"\n\
    apps = [[\"set\", \"hangup_after_bridge=true\"], [\"set\", \"continue_on_fail=true\"], \
    [\"set\", \"ringback=%(2000,4000,440,480)\"], [\"set\", \"park_timeout=60:NORMAL_CLEARING\"], [\"park\", \"\"]]\n";

/// `calls` complete lifecycles offered at 2,000/s by a switch in its own process, to a daemon
/// with the ledger on (`store`: its directory) or off. Returns the calls finished, the time
/// from the first record to the last, the park → dial latencies and the store's writer.
fn run_child_switch(
    rt: &Runtime,
    calls: u64,
    store: Option<&std::path::Path>,
) -> (u64, Duration, Vec<u32>, Option<StoreWriter>) {
    let switch = ChildSwitch::start(
        "latency",
        &format!(
            "{PREPARED_EXTENSION}\n[[buyer]]\ndestination = \"load\"\nbehaviour = \"answer\"\nring_ms = 20\n\
             talk_ms = 100\ndigits = [{{ at_ms = 10, digits = \"1\" }}]\n\n\
             [generator]\ncps = {CPS}\ncount = {calls}\ndestinations = [\"18005550199\"]\n"
        ),
    );
    rt.block_on(async {
        let (daemon, mut records, writer) = daemon_with_store(&switch, true, store);
        let mut first = None;
        let mut last = Instant::now();
        let mut finished = 0u64;
        while finished < calls {
            match tokio::time::timeout(Duration::from_secs(30), records.recv()).await {
                Ok(Some(r)) => {
                    assert!(r.connected.is_some(), "a load call connects: {r:?}");
                    finished += 1;
                    last = Instant::now();
                    first.get_or_insert(last);
                }
                _ => break,
            }
        }
        let took = first.map(|f| last - f).unwrap_or_default();
        let lat = daemon.dial_latencies();
        daemon.shutdown();
        (finished, took, lat, writer)
    })
}

/// 20,000 complete lifecycles offered at 2,000/s by a switch in its own process.
fn latency_with_child_switch(rt: &Runtime) {
    const CALLS: u64 = 20_000;
    let (finished, took, lat, _) = run_child_switch(rt, CALLS, None);
    // Calls finish at the rate they are handled once the first is through its lifecycle.
    println!(
        "switch in a child process: {finished} of {CALLS} calls offered at {CPS}/s; first to last call record {:.2} s = {:.0} calls/s",
        took.as_secs_f64(),
        finished.saturating_sub(1) as f64 / took.as_secs_f64().max(1e-9)
    );
    print_latencies("switch in a child process", lat);
}

/// CPU time (user + system) of the live store writer threads of this process, in ms.
fn writer_cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "parkway-store" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        ticks += f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    }
    // USER_HZ is 100 on Linux.
    ticks as f64 * 10.0
}

/// Park → dial with the ledger on and off, side by side (issue 14: p99 on ≤ p99 off + 100 µs):
/// rounds of `STORE_CALLS` calls offered at 2,000/s by a child switch, alternating off and on
/// (which goes first alternates too), a fresh store in a temp dir for each run with it on.
fn latency_store_on_off(rt: &Runtime) {
    const STORE_CALLS: u64 = 10_000;
    let rounds: usize = std::env::var("CALLS_LOAD_STORE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    let mut figures: [Vec<[u32; 3]>; 2] = [Vec::new(), Vec::new()];
    let mut pooled: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            let dir = std::env::temp_dir().join(format!(
                "parkway-calls-load-store-{}-{round}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            let (finished, took, mut lat, writer) =
                run_child_switch(rt, STORE_CALLS, on.then_some(dir.as_path()));
            let mut stored = String::new();
            if let Some(w) = writer {
                w.flush();
                let s = w.stats();
                let load =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                stored = format!(
                    "; store: {} entries in {} transactions, {} failed, writer thread CPU {:.0} ms",
                    load(&s.committed),
                    load(&s.batches),
                    load(&s.failures),
                    writer_cpu_ms()
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
            lat.sort_unstable();
            let f = [
                percentile(&lat, 0.50),
                percentile(&lat, 0.99),
                percentile(&lat, 0.999),
            ];
            println!(
                "round {round}, ledger {}: {finished} calls, {:.0} calls/s first to last record; park -> dial p50 {} us, p99 {} us, p99.9 {} us, max {} us{stored}",
                if on { "on " } else { "off" },
                finished.saturating_sub(1) as f64 / took.as_secs_f64().max(1e-9),
                f[0],
                f[1],
                f[2],
                lat.last().copied().unwrap_or(0)
            );
            figures[usize::from(on)].push(f);
            pooled[usize::from(on)].extend(lat);
        }
    }
    let med = |v: &[[u32; 3]], i: usize| {
        let mut x: Vec<u32> = v.iter().map(|f| f[i]).collect();
        x.sort_unstable();
        x[x.len() / 2]
    };
    for on in [false, true] {
        let v = &figures[usize::from(on)];
        let p99s: Vec<u32> = v.iter().map(|f| f[1]).collect();
        println!(
            "ledger {}: median over {rounds} rounds: p50 {} us, p99 {} us (p99 of each round {p99s:?}), p99.9 {} us",
            if on { "on " } else { "off" },
            med(v, 0),
            med(v, 1),
            med(v, 2)
        );
        print_latencies(
            &format!(
                "ledger {}, all rounds pooled",
                if on { "on" } else { "off" }
            ),
            std::mem::take(&mut pooled[usize::from(on)]),
        );
    }
    println!(
        "p99 with the ledger on minus off (medians): {} us",
        i64::from(med(&figures[1], 1)) - i64::from(med(&figures[0], 1))
    );
}

/// 10,000 calls up at once, the switch in a child process so this process is the daemon alone.
fn memory_at_10k(rt: &Runtime) {
    const UP: u64 = 10_000;
    let switch = ChildSwitch::start(
        "memory",
        &format!(
            "[[buyer]]\ndestination = \"load\"\nbehaviour = \"answer\"\nring_ms = 20\ntalk_ms = 600000\n\n\
             [generator]\ncps = {CPS}\ncount = {UP}\ndestinations = [\"18005550199\"]\n"
        ),
    );
    let before = rss_kib();
    let measured = rt.block_on(async {
        let (daemon, mut records) = daemon_for(&switch, false);
        let start = Instant::now();
        let up = loop {
            let (live, connected) = daemon
                .query(|b| (b.live_calls(), b.totals().connected))
                .await
                .unwrap_or((0, 0));
            if connected >= UP || start.elapsed() > Duration::from_secs(60) {
                break (live, connected);
            }
            while records.try_recv().is_ok() {}
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let rss = rss_kib();
        daemon.shutdown();
        (up, rss, start.elapsed())
    });
    drop(switch);
    let ((live, connected), rss, took) = measured;
    let mib = |k: u64| k as f64 / 1024.0;
    if let (Some((rss, hwm)), Some((base, _))) = (rss, before) {
        println!(
            "{live} calls up ({connected} bridged, {:.1} s): resident {:.1} MiB (peak {:.1} MiB; {:.1} MiB before the daemon started)",
            took.as_secs_f64(),
            mib(rss),
            mib(hwm),
            mib(base)
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = Criterion::default().configure_from_args();
    // `CALLS_LOAD_ONLY=memory|latency|store|throughput` runs one part (for profiling).
    let only = std::env::var("CALLS_LOAD_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    // Memory first, while this process holds nothing else.
    if runs("memory") {
        memory_at_10k(&rt);
    }
    if runs("latency") {
        latency_with_child_switch(&rt);
    }
    if runs("store") {
        latency_store_on_off(&rt);
    }
    if runs("throughput") {
        throughput(&mut c, &rt);
    }
    c.final_summary();
}
