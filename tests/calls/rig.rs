//! A simulated FreeSWITCH (virtual time) with parkway's daemon connected to it over a real
//! socket, and what a test reads back: the commands parkway sent, the call records, counters.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parkway::calls::{CallRecord, Daemon, DaemonOptions, Totals};
use parkway::config::{self, Config};
use parkway::store::writer::StoreWriter;
use parkway::whisper::Whisperer;
use parkway_sim::engine::api::{CallHandles, InboundCall};
use parkway_sim::engine::{Behaviour, Cause, Micros};
use parkway_sim::{SimConfig, SimHandle, SimSwitch, TimeMode};
use tokio::sync::mpsc;

pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took too long")
}

pub struct Rig {
    pub sim: SimHandle,
    pub daemon: Daemon,
    pub config: Arc<Config>,
    records: mpsc::Receiver<CallRecord>,
    /// The daemon's store writer (flushed before a restart opens the store again).
    pub store: StoreWriter,
    _dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "parkway-calls-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One buyer, `acme`, with `extra` settings, on router `auto` (campaign `auto`).
pub fn acme(extra: &str) -> String {
    format!(
        r#"
[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 15
{extra}

[[router]]
id = "auto"
match = {{ variable = "campaign", value = "auto" }}
buyers = ["acme"]
algorithm = "revenue"
fallback = {{ hangup = "NO_ROUTE_DESTINATION" }}
max_wait = 60
"#
    )
}

/// Buyers are `{ sip = "<id>@buyers.example.com" }`; each named behaviour is registered for its
/// user part. `body` is the rest of the config (buyers, groups, routers) without `[freeswitch]`.
pub async fn rig(tag: &str, body: &str, behaviours: &[(&str, Behaviour)]) -> Rig {
    let time = TimeMode::Virtual {
        settle: Duration::from_millis(40),
    };
    rig_in(time, tag, body, behaviours).await
}

/// [`rig`] with virtual time that moves only through `rig.sim.advance_by` (for tests that need
/// calls to overlap, or a fault at a given moment).
pub async fn manual_rig(tag: &str, body: &str, behaviours: &[(&str, Behaviour)]) -> Rig {
    rig_in(TimeMode::Manual, tag, body, behaviours).await
}

async fn rig_in(time: TimeMode, tag: &str, body: &str, behaviours: &[(&str, Behaviour)]) -> Rig {
    rig_with(time, tag, body, behaviours, |_| {}, "").await
}

/// [`rig`] with the simulated switch's config adjusted by `sim`, and `freeswitch` added to the
/// daemon's `[freeswitch]` section.
pub async fn rig_with(
    time: TimeMode,
    tag: &str,
    body: &str,
    behaviours: &[(&str, Behaviour)],
    sim: impl FnOnce(&mut SimConfig),
    freeswitch: &str,
) -> Rig {
    let dir = TempDir::new(tag);
    let mut sim_config = SimConfig {
        time,
        record_commands: true,
        cdr_dir: Some(dir.0.join("cdr")),
        ..SimConfig::default()
    };
    sim(&mut sim_config);
    let (addr, sim) = SimSwitch::start(sim_config).await.expect("sim listening");
    let behaviours: Vec<(String, Behaviour)> = behaviours
        .iter()
        .map(|(d, b)| (d.to_string(), b.clone()))
        .collect();
    sim.with(move |e| {
        for (d, b) in &behaviours {
            e.dialplan_mut().add_behaviour(d, b);
        }
    })
    .await
    .expect("sim up");
    let text = format!(
        "currency = \"USD\"\ntimezone = \"UTC\"\n\n[freeswitch]\naddress = \"{addr}\"\npassword = \"ClueCon\"\ncdr_dir = \"cdr\"\n{freeswitch}\n\n\
         [whisper]\nsounds = \"{sounds}\"\ncache_dir = \"{cache}\"\n\n{body}",
        sounds = parkway::whisper::shipped_sounds().display(),
        cache = dir.0.join("whispers").display(),
    );
    let config = match config::parse(&text, &dir.0.join("parkway.toml"), &|p| {
        std::fs::read_to_string(p)
    }) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!(
            "config: {:?}",
            e.0.iter().map(|p| p.to_string()).collect::<Vec<_>>()
        ),
    };
    std::fs::create_dir_all(dir.0.join("cdr")).expect("cdr dir");
    let (daemon, records, store) = start_daemon(&config);
    let rig = Rig {
        sim,
        daemon,
        config,
        records,
        store,
        _dir: dir,
    };
    rig.wait_subscribed(1).await;
    rig
}

/// A daemon for `config` on its store (what it holds taken back), its call records and the
/// store's writer.
fn start_daemon(config: &Arc<Config>) -> (Daemon, mpsc::Receiver<CallRecord>, StoreWriter) {
    let whisperer =
        Whisperer::new(config.whisper.render_settings().expect("settings")).expect("whisperer");
    let (tx, records) = mpsc::channel(1024);
    let (store, restored) = parkway::store::open(config, chrono::Utc::now()).expect("store opens");
    let writer = StoreWriter::start(Box::new(store)).expect("store writer");
    let daemon = Daemon::start(
        config.clone(),
        DaemonOptions {
            seed: 7,
            whisperer: Some(Arc::new(whisperer)),
            records: Some(tx),
            store: Some(writer.clone()),
            restored: Some(restored),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            ..DaemonOptions::default()
        },
    );
    (daemon, records, writer)
}

impl Rig {
    /// Stops the daemon and starts a new one (nothing carried over, as a restarted process),
    /// returning once it has subscribed.
    pub async fn restart_daemon(&mut self) {
        self.daemon.shutdown();
        let subscribed = |rig: &Rig| {
            rig.sim
                .peer()
                .received_commands()
                .iter()
                .filter(|c| c.command.line().starts_with("event plain"))
                .map(|c| c.conn)
                .max()
                .unwrap_or(0)
        };
        let before = subscribed(self);
        // What the stopped daemon handed its writer is committed before the new one reads.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let old = self.store.clone();
        tokio::task::spawn_blocking(move || old.flush())
            .await
            .expect("flushed");
        let (daemon, records, store) = start_daemon(&self.config);
        self.daemon = daemon;
        self.records = records;
        self.store = store;
        within(async {
            while subscribed(self) == before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }

    /// Waits until connection `conn` has subscribed to events.
    pub async fn wait_subscribed(&self, conn: u64) {
        within(async {
            loop {
                let done = self
                    .sim
                    .peer()
                    .received_commands()
                    .iter()
                    .any(|c| c.conn == conn && c.command.line().starts_with("event plain"));
                if done {
                    // The subscription is read; give its reply a moment to be written.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// A caller dials `destination` with these channel variables.
    pub async fn call(
        &self,
        number: &str,
        destination: &str,
        vars: &[(&str, &str)],
    ) -> CallHandles {
        let call = InboundCall {
            caller_number: number.into(),
            caller_name: "Test Caller".into(),
            destination: destination.into(),
            context: "public".into(),
            sip_headers: Vec::new(),
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            sip: None,
        };
        self.sim.place_call(call).await.expect("sim up")
    }

    /// The caller's phone hangs up `after` from now (virtual time).
    pub async fn caller_hangs_up(&self, call: &CallHandles, after: Micros) {
        let uuid = call.phone.clone();
        self.sim
            .with(move |e| {
                let at = e.now() + after;
                e.schedule_hangup(
                    &uuid,
                    at,
                    Cause::parse("NORMAL_CLEARING").expect("known cause"),
                )
            })
            .await
            .expect("sim up")
            .expect("channel exists");
    }

    /// The next finished call.
    pub async fn record(&mut self) -> CallRecord {
        within(self.records.recv()).await.expect("daemon running")
    }

    /// The `sendmsg` applications parkway ran, as `app arg` (in order).
    pub fn executed(&self) -> Vec<String> {
        self.sim
            .peer()
            .received_commands()
            .iter()
            .filter(|c| c.command.line().starts_with("sendmsg"))
            .map(|c| {
                let app = c.command.header("execute-app-name").unwrap_or("?");
                let arg = c.command.header("execute-app-arg").unwrap_or("");
                format!("{app} {arg}").trim_end().to_owned()
            })
            .collect()
    }

    /// The buyer ids each `bridge` dialled, in dial-string order.
    pub fn bridged_buyers(&self) -> Vec<Vec<String>> {
        self.executed()
            .iter()
            .filter_map(|l| l.strip_prefix("bridge "))
            .map(|arg| {
                let ds =
                    parkway_esl::dialstring::DialString::parse_app_arg(arg).expect("dial string");
                ds.legs()
                    .filter_map(|l| {
                        l.vars
                            .iter()
                            .find(|(k, _)| k == "parkway_buyer")
                            .map(|(_, v)| v.clone())
                    })
                    .collect()
            })
            .collect()
    }

    pub async fn totals(&self) -> Totals {
        self.daemon
            .query(|b| b.totals())
            .await
            .expect("daemon running")
    }

    /// All-time counters of a buyer.
    pub async fn buyer(&self, id: &str) -> parkway::billing::Totals {
        let i = self
            .config
            .buyers
            .iter()
            .position(|b| b.id.as_str() == id)
            .expect("buyer");
        self.daemon
            .query(move |b| b.ledger().totals(i))
            .await
            .expect("daemon running")
    }

    pub async fn concurrency(&self, id: &str) -> u32 {
        let i = self
            .config
            .buyers
            .iter()
            .position(|b| b.id.as_str() == id)
            .expect("buyer");
        self.daemon
            .query(move |b| b.ledger().concurrency(i))
            .await
            .expect("daemon running")
    }
}

/// Answers after `ring_s`, presses `digits` (seconds after answer), hangs up after `talk_s`.
pub fn answers(ring_s: u64, talk_s: u64, digits: &[(u64, char)]) -> Behaviour {
    Behaviour::Answer {
        ring_ms: ring_s * 1000,
        digits: digits.iter().map(|(s, d)| (s * 1000, *d)).collect(),
        talk_ms: talk_s * 1000,
    }
}

impl Rig {
    /// The `sendmsg` applications parkway ran (as [`Rig::executed`]), each `bridge` shown by
    /// the buyers it dials: `bridge a,b` rings both at once, `bridge a|b` one after the other.
    pub fn commands(&self) -> Vec<String> {
        self.executed()
            .into_iter()
            .map(|line| match line.strip_prefix("bridge ") {
                Some(arg) => {
                    let ds = parkway_esl::dialstring::DialString::parse_app_arg(arg)
                        .expect("dial string");
                    let groups: Vec<String> = ds
                        .branches
                        .iter()
                        .flat_map(|b| &b.groups)
                        .map(|g| {
                            let buyers: Vec<&str> = g
                                .legs
                                .iter()
                                .filter_map(|l| l.vars.iter().find(|(k, _)| k == "parkway_buyer"))
                                .map(|(_, v)| v.as_str())
                                .collect();
                            buyers.join(",")
                        })
                        .collect();
                    format!("bridge {}", groups.join("|"))
                }
                None => line,
            })
            .collect()
    }

    /// The `bridge` arguments parkway ran, in order.
    pub fn bridges(&self) -> Vec<String> {
        self.executed()
            .iter()
            .filter_map(|l| l.strip_prefix("bridge ").map(str::to_owned))
            .collect()
    }

    /// Places a call on campaign `campaign` from `number`.
    pub async fn campaign_call(&self, number: &str, campaign: &str) -> CallHandles {
        self.call(number, "18005550199", &[("campaign", campaign)])
            .await
    }
}

/// The commands of a call dialled in these steps (as [`Rig::commands`] shows a `bridge`):
/// the three `set`s, then one `bridge` a step.
pub fn dialled(steps: &[&str]) -> Vec<String> {
    let mut commands = vec![
        "set hangup_after_bridge=true".to_owned(),
        "set continue_on_fail=true".to_owned(),
        format!("set ringback={}", parkway::calls::dial::RINGBACK),
    ];
    commands.extend(steps.iter().map(|s| format!("bridge {s}")));
    commands
}

/// `[["a"], ["b", "c"]]` as owned strings (for comparing with `bridged_buyers`).
pub fn ids(steps: &[&[&str]]) -> Vec<Vec<String>> {
    steps
        .iter()
        .map(|s| s.iter().map(|b| b.to_string()).collect())
        .collect()
}

impl Rig {
    /// Waits until `f` holds on the daemon's switchboard.
    pub async fn wait_for(
        &self,
        what: &str,
        f: impl Fn(&parkway::calls::Switchboard) -> bool + Send + Sync + Clone + 'static,
    ) {
        let wait = async {
            loop {
                let f = f.clone();
                if self.daemon.query(move |b| f(b)).await == Some(true) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_err()
        {
            panic!("timed out waiting for {what}");
        }
    }

    /// Moves the simulator's virtual time on by `secs`.
    pub async fn advance(&self, secs: u64) {
        self.sim
            .advance_by(secs * parkway_sim::engine::SEC)
            .await
            .expect("sim up");
    }
}

/// The index of buyer `id`.
pub fn buyer_index(config: &Config, id: &str) -> usize {
    config
        .buyers
        .iter()
        .position(|b| b.id.as_str() == id)
        .expect("buyer")
}
