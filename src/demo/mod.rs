//! `parkway demo`: the simulated FreeSWITCH inside the process, parkway's daemon connected to it
//! over a loopback socket (the same code as `parkway run`), and a stream of callers and buyers.
//!
//! In virtual time (the default) the switch's clock moves only when nothing is in flight: every
//! event the switch said has been read and handled by the daemon, every command the daemon sent
//! has been answered, every whisper is rendered. Then the clock jumps to the next thing that
//! happens (a caller arriving, a buyer answering, a hangup). So a run is fast and the same seed
//! gives the same calls, the same decisions and the same summary. `real_time` follows the wall
//! clock instead, for watching.

#![allow(
    clippy::disallowed_methods,
    reason = "the demo paces calls and reports wall time"
)]

pub mod report;
pub mod traffic;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::calls::{CallRecord, Daemon, DaemonOptions, Totals};
use crate::config::Config;
use crate::whisper::Whisperer;
use parkway_sim::engine::{Cause, EngineConfig, Micros, SEC};
use parkway_sim::{SimConfig, SimHandle, SimSwitch, TimeMode};

pub use report::Summary;

/// Called with the running totals, the calls placed so far and the time since the start.
pub type ProgressFn = Box<dyn FnMut(&Totals, u64, Duration) + Send>;

/// How a demo runs.
pub struct DemoOptions {
    pub calls: u64,
    /// Calls per second (virtual time, or wall time with `real_time`).
    pub cps: f64,
    pub seed: u64,
    pub real_time: bool,
    /// The switch's clock at the start (microseconds since the epoch).
    pub start_us: u64,
    pub whisperer: Option<Arc<Whisperer>>,
    /// Called about every 250 ms (wall) with the running totals and the calls placed.
    pub progress: Option<ProgressFn>,
}

impl DemoOptions {
    /// 2026-11-25 17:30 UTC: a Wednesday, inside the example buyers' hours.
    pub const DEFAULT_START_US: u64 = 1_795_627_800_000_000;
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            calls: 1000,
            cps: 1.0,
            seed: 1,
            real_time: false,
            start_us: DemoOptions::DEFAULT_START_US,
            whisperer: None,
            progress: None,
        }
    }
}

/// Why a demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the simulated switch: {0}")]
    Listen(#[from] std::io::Error),
    #[error("the simulated switch stopped")]
    SwitchGone,
    #[error("the daemon stopped")]
    DaemonGone,
    #[error("{0}")]
    Stuck(String),
}

/// Runs the demo: places `options.calls` calls and returns the summary once every call has
/// its record.
pub async fn run(config: &Config, mut options: DemoOptions) -> Result<Summary, DemoError> {
    let wall = Instant::now();
    let sim_config = SimConfig {
        time: if options.real_time {
            TimeMode::RealTime
        } else {
            TimeMode::Manual
        },
        engine: EngineConfig {
            seed: options.seed,
            epoch_us: options.start_us,
            ..EngineConfig::default()
        },
        ..SimConfig::default()
    };
    let (addr, sim) = SimSwitch::start(sim_config).await?;
    let mut registered = Vec::new();
    for b in &config.buyers {
        let digits = conversion_digits(&b.conversion);
        for name in traffic::endpoint_names(&b.destination) {
            registered.push((name, traffic::buyer_behaviour(&digits)));
        }
    }
    sim.with(move |e| {
        for (name, behaviour) in &registered {
            e.dialplan_mut().add_behaviour(name, behaviour);
        }
    })
    .await
    .ok_or(DemoError::SwitchGone)?;

    let mut config = config.clone();
    config.freeswitch.address = addr.to_string();
    let config = Arc::new(config);
    let (tx, mut records) = mpsc::channel::<CallRecord>(16_384);
    let daemon = Daemon::start(
        config.clone(),
        DaemonOptions {
            seed: options.seed,
            // A seed repeats a demo run exactly, leg uuids included.
            id_seed: Some(options.seed),
            whisperer: options.whisperer.take(),
            records: Some(tx),
            render_inline: !options.real_time,
            ..DaemonOptions::default()
        },
    );
    let callers = traffic::callers(&config, options.calls, options.cps, options.seed);
    let mut collected: Vec<CallRecord> = Vec::with_capacity(callers.len());
    wait_subscribed(&sim, &daemon).await?;
    let mut ticker = Progress::new(options.progress.take());
    let start_at = sim.now().await.ok_or(DemoError::SwitchGone)?;
    let mut next = 0usize;
    if options.real_time {
        let started = tokio::time::Instant::now();
        while next < callers.len() {
            let due = started + Duration::from_micros(callers[next].at);
            tokio::time::sleep_until(due).await;
            place(&sim, &callers[next]).await?;
            next += 1;
            drain(&mut records, &mut collected);
            ticker.tick(&daemon, next as u64).await;
        }
        while collected.len() < callers.len() {
            match tokio::time::timeout(Duration::from_millis(250), records.recv()).await {
                Ok(Some(r)) => collected.push(r),
                Ok(None) => return Err(DemoError::DaemonGone),
                Err(_) => {}
            }
            ticker.tick(&daemon, next as u64).await;
        }
    } else {
        loop {
            settle(&sim, &daemon).await?;
            drain(&mut records, &mut collected);
            ticker.tick(&daemon, next as u64).await;
            if next == callers.len() && collected.len() == callers.len() {
                break;
            }
            let now = sim.now().await.ok_or(DemoError::SwitchGone)?;
            let timer = sim
                .with(|e| e.next_deadline())
                .await
                .ok_or(DemoError::SwitchGone)?;
            let arrival = callers.get(next).map(|c| start_at + c.at);
            match (arrival, timer) {
                (Some(a), t) if t.is_none_or(|t| a <= t) => {
                    if a > now {
                        sim.advance_by(a - now).await.ok_or(DemoError::SwitchGone)?;
                    }
                    place(&sim, &callers[next]).await?;
                    next += 1;
                }
                (_, Some(t)) => {
                    sim.advance_by(t.saturating_sub(now).max(1))
                        .await
                        .ok_or(DemoError::SwitchGone)?;
                }
                _ => break,
            }
        }
        // Every call has ended on the switch; its record is on the way.
        while collected.len() < callers.len() {
            match tokio::time::timeout(Duration::from_secs(10), records.recv()).await {
                Ok(Some(r)) => collected.push(r),
                Ok(None) => return Err(DemoError::DaemonGone),
                Err(_) => {
                    let missing = callers.len() - collected.len();
                    return Err(DemoError::Stuck(format!(
                        "{missing} call(s) ended on the switch without a record"
                    )));
                }
            }
        }
    }
    let end_at = sim.now().await.ok_or(DemoError::SwitchGone)?;
    let ledger = daemon
        .query(|b| {
            (0..b.config().buyers.len())
                .map(|i| b.ledger().totals(i))
                .collect::<Vec<_>>()
        })
        .await
        .ok_or(DemoError::DaemonGone)?;
    let totals = daemon
        .query(|b| b.totals())
        .await
        .ok_or(DemoError::DaemonGone)?;
    daemon.shutdown();
    sim.shutdown().await;
    ticker.finish();
    collected.sort_by(|a, b| a.parked_at.cmp(&b.parked_at).then(a.call.cmp(&b.call)));
    Ok(report::summarize(
        &config,
        &collected,
        &ledger,
        &totals,
        report::RunFacts {
            seed: options.seed,
            placed: callers.len() as u64,
            virtual_secs: end_at.saturating_sub(start_at) as f64 / SEC as f64,
            wall_secs: wall.elapsed().as_secs_f64(),
        },
    ))
}

/// The digits a buyer's conversion rule listens for (so demo buyers press them sometimes).
fn conversion_digits(rule: &crate::config::ConversionRule) -> Vec<char> {
    use crate::config::ConversionRule::*;
    match rule {
        TalkTime { .. } => Vec::new(),
        Keypress { digit } | Any { digit, .. } | All { digit, .. } => vec![*digit],
    }
}

async fn place(sim: &SimHandle, caller: &traffic::Caller) -> Result<(), DemoError> {
    let call = caller.call.clone();
    let abandon = caller.abandon_after;
    sim.with(move |e| {
        let handles = e.inbound_call(&call);
        if let Some(after) = abandon {
            let at: Micros = e.now() + after;
            let _ = e.schedule_hangup(
                &handles.phone,
                at,
                Cause::parse("NORMAL_CLEARING").unwrap_or(Cause::NONE),
            );
        }
    })
    .await
    .ok_or(DemoError::SwitchGone)?;
    Ok(())
}

fn drain(records: &mut mpsc::Receiver<CallRecord>, into: &mut Vec<CallRecord>) {
    while let Ok(r) = records.try_recv() {
        into.push(r);
    }
}

async fn wait_subscribed(sim: &SimHandle, daemon: &Daemon) -> Result<(), DemoError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.supervisor().generation() == 0 || sim.peer().open_sessions() == 0 {
        if Instant::now() > deadline {
            return Err(DemoError::Stuck("the daemon did not connect".into()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The subscription is queued before the supervisor reports the connection; its reply
    // proves FreeSWITCH (here, the simulator) has read it.
    let client = daemon
        .supervisor()
        .wait_connected()
        .await
        .map_err(|_| DemoError::DaemonGone)?;
    client
        .api("status")
        .await
        .map_err(|_| DemoError::DaemonGone)?;
    Ok(())
}

/// Waits until nothing is in flight between the switch and the daemon (see the module docs).
async fn settle(sim: &SimHandle, daemon: &Daemon) -> Result<(), DemoError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut quiet_rounds = 0;
    let mut last = None;
    loop {
        let d = daemon.counts();
        let c = daemon.supervisor().stats();
        let s = sim.peer().event_counts();
        let read = c.events_received;
        let balanced = d.idle()
            && s.offered == s.done
            && s.written == read
            && read == d.events_handled + c.events_dropped;
        let state = (d, read, s);
        if balanced && last == Some(state) {
            quiet_rounds += 1;
            if quiet_rounds >= 2 {
                return Ok(());
            }
        } else {
            quiet_rounds = 0;
        }
        last = Some(state);
        if Instant::now() > deadline {
            return Err(DemoError::Stuck(format!(
                "nothing settles: daemon {d:?}, client {c:?}, switch {s:?}"
            )));
        }
        tokio::task::yield_now().await;
        if quiet_rounds == 0 {
            tokio::time::sleep(Duration::from_micros(50)).await;
        }
    }
}

/// Calls the progress callback about every 250 ms.
struct Progress {
    f: Option<ProgressFn>,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(f: Option<ProgressFn>) -> Progress {
        let now = Instant::now();
        Progress {
            f,
            started: now,
            last: now,
        }
    }

    async fn tick(&mut self, daemon: &Daemon, placed: u64) {
        if self.f.is_none() || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        if let (Some(totals), Some(f)) = (daemon.query(|b| b.totals()).await, self.f.as_mut()) {
            f(&totals, placed, self.started.elapsed());
        }
    }

    fn finish(&mut self) {
        self.f = None;
    }
}
