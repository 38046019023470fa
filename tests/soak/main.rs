//! The soak test: the real `parkway run` process against the simulated FreeSWITCH (real time,
//! in this process) for a while, calls arriving at a steady rate, with everything that went
//! wrong against a real switch at once: the socket cut every few seconds (cleanly or
//! mid-frame), events lost on the switch's side (a listener queue of a few events), call
//! records on a pipe read slowly, and SIGTERM at the end. Afterwards: every call the switch
//! carried to a buyer is recorded exactly once, no call is left open, no slot is held, and the
//! daemon's resident memory stayed flat.
//!
//! In CI it runs for [`DEFAULT_SECS`]; `PARKWAY_SOAK_SECS=300 cargo test --release --test soak`
//! runs it for five minutes.

#![allow(
    clippy::disallowed_methods,
    reason = "the soak test paces itself by the wall clock"
)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parkway_sim::peer::DropMode;
use parkway_sim::scenario::Scenario;
use parkway_sim::{SimConfig, SimSwitch, TimeMode};

const DEFAULT_SECS: u64 = 25;

const SCENARIO: &str = r#"
seed = 11

[[buyer]]
destination = "acme"
mix = [
  { weight = 60, behaviour = "answer", ring_ms = [300, 1500], talk_ms = [500, 4000] },
  { weight = 25, behaviour = "never_answer" },
  { weight = 15, behaviour = "busy", ring_ms = [200, 600] },
]

[[buyer]]
destination = "bolt"
mix = [
  { weight = 70, behaviour = "answer", ring_ms = [300, 1200], talk_ms = [800, 3500] },
  { weight = 30, behaviour = "reject", cause = "CALL_REJECTED", ring_ms = [200, 800] },
]

[generator]
cps = 8.0
destinations = ["18005550199"]
"#;

/// Calls a second.
const CPS: u64 = 8;

/// Resident memory of process `pid` (kB), from /proc.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_cuts_lost_events_slow_records_and_sigterm() {
    let secs: u64 = std::env::var("PARKWAY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    let dir = std::env::temp_dir().join(format!("parkway-soak-{}", std::process::id()));
    let cdr: PathBuf = dir.join("cdr");
    std::fs::create_dir_all(&cdr).expect("dirs");
    // The generator stops by itself once the soak's calls are placed.
    let text = format!("{SCENARIO}count = {}\n", secs * CPS);
    let scenario = Scenario::parse(&text, "soak").expect("scenario");
    let (addr, sim) = SimSwitch::start(SimConfig {
        time: TimeMode::RealTime,
        scenario,
        wait_for_subscriber: true,
        cdr_dir: Some(cdr.clone()),
        queue_len: 16,
        max_failed_enqueues: u32::MAX,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let config = dir.join("parkway.toml");
    std::fs::write(
        &config,
        format!(
            r#"currency = "USD"
[freeswitch]
address = "{addr}"
password = "ClueCon"
cdr_dir = "cdr"
reconcile_secs = 2

[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 2
conversion = {{ talk_seconds = 2 }}
payout = {{ per = "conversion", amount = "5.00" }}

[[buyer]]
id = "bolt"
destination = {{ sip = "bolt@buyers.example.com" }}
bid = "20.00"
ring_timeout = 2
payout = {{ per = "call", amount = "1.00" }}

[[router]]
id = "main"
match = {{ destination = "18005550199" }}
buyers = ["acme", "bolt"]
algorithm = "revenue"
fallback = {{ hangup = "NO_ROUTE_DESTINATION" }}
max_wait = 20
"#
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--records", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("parkway run starts");
    let pid = child.id();
    // The records pipe, read slowly (a log shipper that cannot keep up).
    let lines = Arc::new(AtomicU64::new(0));
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn({
        let lines = lines.clone();
        move || {
            let mut records = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                records.push(line);
                lines.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(300));
            }
            records
        }
    });

    let started = Instant::now();
    let mut rss = Vec::new();
    let mut cuts = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mode = if cuts % 2 == 0 {
            DropMode::Clean
        } else {
            DropMode::MidFrame
        };
        sim.peer().drop_connections(mode);
        cuts += 1;
        rss.extend(rss_kb(pid));
    }
    // The last calls were placed; let the ones in flight end (ring ≤ 2 s, talk ≤ 4 s).
    let drained = Instant::now();
    loop {
        let up = sim
            .with(|e| e.live_channels().count())
            .await
            .expect("sim up");
        if up == 0 || drained.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two reconciles' worth for what the lost events hid.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let read_by_sigterm = lines.load(Ordering::Relaxed);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stopping = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "parkway ignored SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exported = reader.join().expect("reader");
    let behind = read_by_sigterm;
    sim.shutdown().await;

    // Ground truth: the calls the switch carried to a buyer (a leg with parkway's variables).
    let cdrs = parkway::store::cdr::read_since(&cdr, std::time::UNIX_EPOCH);
    let dialled: HashSet<String> = cdrs
        .iter()
        .filter(|c| c.direction == "outbound")
        .filter_map(|c| c.var("parkway_call").map(str::to_owned))
        .collect();
    let cfg = parkway::config::load(&config).expect("config");
    let (mut store, restored) =
        parkway::store::open(&cfg, chrono::Utc::now()).expect("store opens");
    let records = parkway::store::Store::records(&mut store, &Default::default()).expect("records");
    let recorded: Vec<String> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("JSON");
            v["call"].as_str().expect("call").to_owned()
        })
        .collect();
    let unique: HashSet<&String> = recorded.iter().collect();
    assert_eq!(unique.len(), recorded.len(), "a call recorded twice");
    let missing: Vec<&String> = dialled.iter().filter(|c| !unique.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "dialled calls without a record: {missing:?}"
    );
    // Routing never stopped for the slow pipe: (nearly) every call placed was dialled.
    let placed = secs * CPS;
    assert!(
        dialled.len() as u64 >= placed * 9 / 10,
        "only {} of {placed} calls dialled",
        dialled.len()
    );
    assert!(restored.open.is_empty(), "calls left open");
    let (ledger, _) = parkway::store::rebuild(&cfg, &restored);
    for (i, b) in cfg.buyers.iter().enumerate() {
        assert_eq!(ledger.concurrency(i), 0, "{}: a slot still held", b.id);
    }
    // The slow pipe got whole records only, each at most once.
    let piped: HashSet<String> = exported
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a whole record per line");
            v["call"].as_str().expect("call").to_owned()
        })
        .collect();
    assert_eq!(piped.len(), exported.len(), "a record exported twice");
    assert!(
        (behind as usize) < recorded.len(),
        "the pipe kept up ({behind} of {} read by SIGTERM): not a slow sink",
        recorded.len()
    );
    // Resident memory stayed flat: the last sample within 1.5× the first (+ 8 MB slack).
    if let (Some(first), Some(last)) = (rss.first(), rss.last()) {
        assert!(
            *last <= first * 3 / 2 + 8_192,
            "RSS grew from {first} kB to {last} kB: {rss:?}"
        );
    }
    eprintln!(
        "soak: {secs} s, {cuts} socket cuts, {} calls dialled, {} recorded, {} read from the \
         pipe ({behind} by SIGTERM), RSS {rss:?} kB",
        dialled.len(),
        recorded.len(),
        exported.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
