//! The crash test: `kill -9` the real `parkway run` process at seeded random points while the
//! simulated FreeSWITCH (a process of its own, `parkway sim --real-time`) carries a stream of
//! calls; restart parkway after each kill; when every call is over, stop it with SIGTERM and
//! compare what its store holds with the switch's ground truth, its JSON CDRs: every buyer's
//! attempts, connections, conversions and revenue, every call's record, and no lease left.
//! Nothing lost, nothing counted twice.
//!
//! Two runs of [`KILLS`] kills each (seeds [`SEEDS`]): at least 100 kill points per suite run.

#![allow(
    clippy::disallowed_methods,
    reason = "the test paces kills by the wall clock"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parkway::store::cdr::{self, CdrOutcome};
use parkway_esl::splitmix::SplitMix64;

/// Kills per run.
const KILLS: usize = 50;
/// Calls per run.
const CALLS: usize = 150;
const SEEDS: [u64; 2] = [0xc4a5_0001, 0xc4a5_0002];
/// Seconds of talk a call needs to convert.
const CONVERT_SECS: i64 = 2;
/// Paid per conversion (minor units).
const PAYOUT: i64 = 500;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("bound").port()
}

const SCENARIO: &str = r#"
[[buyer]]
destination = "acme"
mix = [
  { weight = 60, behaviour = "answer", ring_ms = [300, 1500], talk_ms = [500, 4000] },
  { weight = 20, behaviour = "never_answer" },
  { weight = 20, behaviour = "busy", ring_ms = [200, 600] },
]

[[buyer]]
destination = "bolt"
mix = [
  { weight = 70, behaviour = "answer", ring_ms = [300, 1200], talk_ms = [800, 3500] },
  { weight = 30, behaviour = "reject", cause = "CALL_REJECTED", ring_ms = [200, 800] },
]
"#;

fn config(port: u16) -> String {
    format!(
        r#"currency = "USD"
timezone = "UTC"

[freeswitch]
address = "127.0.0.1:{port}"
password = "ClueCon"
cdr_dir = "cdr"
reconcile_secs = 2

[store]
path = "parkway.db"

[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 2
conversion = {{ talk_seconds = {CONVERT_SECS} }}
payout = {{ per = "conversion", amount = "5.00" }}

[[buyer]]
id = "bolt"
destination = {{ sip = "bolt@buyers.example.com" }}
bid = "20.00"
ring_timeout = 2
conversion = {{ talk_seconds = {CONVERT_SECS} }}
payout = {{ per = "conversion", amount = "5.00" }}

[[router]]
id = "main"
match = {{ destination = "18005550199" }}
buyers = ["acme", "bolt"]
algorithm = "revenue"
fallback = {{ hangup = "NO_ROUTE_DESTINATION" }}
max_wait = 30
"#
    )
}

fn parkway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_parkway"))
}

fn start_parkway(dir: &Path, log: &std::fs::File) -> Child {
    parkway()
        .args(["run", "--config"])
        .arg(dir.join("parkway.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log.try_clone().expect("log"))
        .spawn()
        .expect("parkway run starts")
}

/// Per buyer: attempts, connections, conversions, revenue.
type Figures = BTreeMap<String, (u64, u64, u64, i64)>;

/// What FreeSWITCH's CDRs say parkway must have counted, and the callers it handled.
fn ground_truth(cdr_dir: &Path) -> (Figures, Vec<String>) {
    let all = cdr::read_since(cdr_dir, std::time::UNIX_EPOCH);
    let callers: HashMap<&str, &CdrOutcome> = all
        .iter()
        .filter(|c| c.direction == "inbound" && c.destination.as_deref() == Some("18005550199"))
        .map(|c| (c.uuid.as_str(), c))
        .collect();
    let mut figures = Figures::new();
    let mut handled: Vec<String> = Vec::new();
    for leg in all.iter().filter(|c| c.direction == "outbound") {
        let (Some(call), Some(buyer)) = (leg.var("parkway_call"), leg.var("parkway_buyer")) else {
            continue;
        };
        if !handled.iter().any(|h| h == call) {
            handled.push(call.to_owned());
        }
        let f = figures.entry(buyer.to_owned()).or_default();
        f.0 += 1;
        if leg.bridge_uuid.as_deref() == Some(call)
            && let Some(bridged) = leg.bridged_at
        {
            f.1 += 1;
            let caller_end = callers.get(call).and_then(|c| c.ended_at);
            let end = match (leg.ended_at, caller_end) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).expect("an ended channel"),
            };
            if (end - bridged).num_seconds() >= CONVERT_SECS {
                f.2 += 1;
                f.3 += PAYOUT;
            }
        }
    }
    handled.sort();
    (figures, handled)
}

fn crash_run(seed: u64) {
    let dir =
        Dir(std::env::temp_dir().join(format!("parkway-crash-{}-{seed:x}", std::process::id())));
    let root = dir.0.clone();
    std::fs::create_dir_all(root.join("cdr")).expect("dirs");
    let port = free_port();
    std::fs::write(root.join("parkway.toml"), config(port)).expect("config");
    let cps = CALLS as f64 / 10.0;
    std::fs::write(
        root.join("scenario.toml"),
        format!(
            "seed = {seed}\n{SCENARIO}\n[generator]\ncps = {cps}\ncount = {CALLS}\ndestinations = [\"18005550199\"]\n"
        ),
    )
    .expect("scenario");
    let log = std::fs::File::create(root.join("parkway.log")).expect("log");
    let mut sim = parkway()
        .args(["sim", "--real-time", "--wait-for-subscriber", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--scenario")
        .arg(root.join("scenario.toml"))
        .arg("--cdr-dir")
        .arg(root.join("cdr"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("parkway sim starts");
    std::thread::sleep(Duration::from_millis(200));

    let mut rng = SplitMix64::new(seed);
    for _ in 0..KILLS {
        let mut run = start_parkway(&root, &log);
        let up = 60 + rng.next_u64() % 340;
        std::thread::sleep(Duration::from_millis(up));
        run.kill().expect("kill -9");
        run.wait().expect("reaped");
    }

    // The last run sees every call to its end.
    let mut run = start_parkway(&root, &log);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = (0, Instant::now());
    loop {
        let files = std::fs::read_dir(root.join("cdr")).map_or(0, |d| d.count());
        if files != last.0 {
            last = (files, Instant::now());
        }
        let callers_done = std::fs::read_dir(root.join("cdr"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("a_"))
                    .count()
            })
            .unwrap_or(0);
        if callers_done >= CALLS && last.1.elapsed() > Duration::from_secs(4) {
            break;
        }
        assert!(Instant::now() < deadline, "calls still up after 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    let exited = Instant::now();
    while run.try_wait().expect("wait").is_none() {
        assert!(
            exited.elapsed() < Duration::from_secs(20),
            "parkway ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = sim.kill();
    let _ = sim.wait();

    let (truth, handled) = ground_truth(&root.join("cdr"));
    let config = parkway::config::load(&root.join("parkway.toml")).expect("config");
    let (mut store, restored) =
        parkway::store::open(&config, chrono::Utc::now()).expect("store opens");
    assert!(
        restored.open.is_empty(),
        "calls left open: {:?}",
        restored.open.iter().map(|c| &c.call).collect::<Vec<_>>()
    );
    let (ledger, _) = parkway::store::rebuild(&config, &restored);
    let mut counted = Figures::new();
    for (i, b) in config.buyers.iter().enumerate() {
        let t = ledger.totals(i);
        if t.attempts > 0 {
            counted.insert(
                b.id.to_string(),
                (t.attempts, t.connections, t.conversions, t.revenue),
            );
        }
        assert_eq!(ledger.concurrency(i), 0, "{}: a lease leaked", b.id);
    }
    let records = parkway::store::Store::records(&mut store, &Default::default()).expect("records");
    let mut recorded: Vec<String> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("a record is JSON");
            v["call"].as_str().expect("call").to_owned()
        })
        .filter(|c| handled.contains(c))
        .collect();
    recorded.sort();
    let log_tail = || {
        let text = std::fs::read_to_string(root.join("parkway.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    assert_eq!(
        counted,
        truth,
        "buyer figures (attempts, connections, conversions, revenue) differ from the CDRs\n{}",
        log_tail()
    );
    let missing: Vec<&String> = handled.iter().filter(|h| !recorded.contains(h)).collect();
    assert!(
        missing.is_empty(),
        "calls without a record: {missing:?}\n{}",
        log_tail()
    );
    assert_eq!(recorded.len(), handled.len(), "one record per call");
    assert!(
        handled.len() >= CALLS / 2,
        "only {} calls dialled",
        handled.len()
    );
}

#[test]
fn crash_test_kill_9_at_random_points_loses_and_doubles_nothing_seed_1() {
    crash_run(SEEDS[0]);
}

#[test]
fn crash_test_kill_9_at_random_points_loses_and_doubles_nothing_seed_2() {
    crash_run(SEEDS[1]);
}
