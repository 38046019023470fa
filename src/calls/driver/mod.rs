//! The driver: runs the [`Switchboard`] over a supervised event socket connection.
//!
//! Tasks (all on the options' tracker, stopped by its token):
//! - the client's connection actor reads the socket into a bounded event queue (100,000 events;
//!   when full, events are dropped and counted in the client stats) — it never waits on routing;
//! - the **engine** task owns the switchboard: it takes events in order (so a call's events are
//!   handled in order), command replies, rendered whispers and reconcile results; it queues the
//!   commands they lead to straight onto the live connection (one hand-over between reading a
//!   CHANNEL_PARK and writing its `bridge`) and waits for their replies concurrently, a `-ERR`
//!   going back to the switchboard;
//! - whispers render on the blocking pool; a reconcile (`show channels as json`, one at a time)
//!   runs on every connection, the first too, and when events were lost: calls and legs that
//!   ended unseen are ended, and inbound channels parked while the socket was down or before
//!   the daemon started (unknown, `application` park) are read with `uuid_getvar` and routed.
//!
//! Every queue is bounded: when the connection's request queue or the records' queue is full the
//! engine waits, which holds back event handling (not the socket reader: the event queue absorbs
//! it).
//!
//! Files: `engine` (the engine task), `reconcile` (`show channels as json`), `render`
//! (whispers), `stats` (the work counters) and `probes` (the benchmark and demo hooks, off
//! unless [`DaemonOptions`] turns them on).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::record::CallRecord;
use super::switch_event::SwitchEvent;
use super::switchboard::Switchboard;
use crate::config::Config;
use crate::store::Restored;
use crate::store::export::RecordExport;
use crate::store::writer::StoreWriter;
use crate::whisper::Whisperer;
use parkway_esl::client::{ClientOptions, Supervisor, SupervisorConfig, connect_supervised};
use parkway_esl::command::{Command, EventFormat};

mod engine;
mod probes;
mod reconcile;
mod render;
mod stats;

use engine::{Engine, Input, Query};
use probes::{Latencies, Probes};
use reconcile::Reconciler;
pub use reconcile::{channel_rows, live_uuids, parked_rows};
pub use stats::{DaemonCounts, DaemonStats};

/// Inputs waiting for the engine besides events and replies (whispers, reconciles, queries).
const INPUT_QUEUE: usize = 65_536;

/// How the daemon runs.
pub struct DaemonOptions {
    /// Seeds routing's shuffles and the reconnect jitter.
    pub seed: u64,
    /// Seeds the leg uuids, Event-UUIDs and the client's Job-UUIDs. `None` (the default, and
    /// `parkway run` whatever its `--seed`): from the OS, so two runs never dial a leg uuid
    /// twice (FreeSWITCH names its CDR files after them, and would overwrite the first run's).
    /// The demo and tests set it to repeat a run exactly.
    pub id_seed: Option<u64>,
    /// Renders whispers; `None`: buyers hear none.
    pub whisperer: Option<Arc<Whisperer>>,
    /// Where finished call records go (the engine waits when it is full); `None`: logged only.
    pub records: Option<mpsc::Sender<CallRecord>>,
    /// The store's writer: every fact, call and record is journalled to it.
    pub store: Option<StoreWriter>,
    /// What the store held at start, taken back before the first event.
    pub restored: Option<Restored>,
    /// The `--records` file (never waited on).
    pub export: Option<RecordExport>,
    /// Stops the daemon.
    pub cancel: CancellationToken,
    /// Every task is spawned on it.
    pub tracker: TaskTracker,
    /// Reconnect pacing (tests shorten it).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Benchmark hook (`benches/calls_load.rs`; see `probes`), off in production.
    /// Record, for every routed call, the time from its CHANNEL_PARK frame being read to its
    /// first `bridge` queued on the connection (benchmarks read [`Daemon::dial_latencies`]).
    pub measure_dial_latency: bool,
    /// Demo hook (`src/demo`; see `probes`), off in production.
    /// Render whispers on the engine's own task, handed back before the next event is read,
    /// so calls are dialled in the order their events came whatever the renders take (the
    /// demo's same-seed runs rely on it). Off: renders run on the blocking pool, so a slow
    /// render never holds other calls up.
    pub render_inline: bool,
}

impl Default for DaemonOptions {
    fn default() -> DaemonOptions {
        DaemonOptions {
            seed: 0x0070_6172_6b77_6179,
            id_seed: None,
            whisperer: None,
            records: None,
            store: None,
            restored: None,
            export: None,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            measure_dial_latency: false,
            render_inline: false,
        }
    }
}

/// A running daemon.
#[derive(Clone)]
pub struct Daemon {
    inputs: mpsc::Sender<Input>,
    supervisor: Supervisor,
    cancel: CancellationToken,
    stats: Arc<DaemonStats>,
    latencies: Option<Arc<Latencies>>,
}

impl Daemon {
    /// Connects to `config.freeswitch` and handles calls until cancelled.
    pub fn start(config: Arc<Config>, options: DaemonOptions) -> Daemon {
        let mut sup = SupervisorConfig::new(
            config.freeswitch.address.clone(),
            config.freeswitch.password.clone(),
        );
        sup.subscriptions = vec![
            Command::event(EventFormat::Plain, &SwitchEvent::ALL.map(SwitchEvent::name))
                .expect("static event names are valid"),
        ];
        sup.backoff_base = options.backoff_base;
        sup.backoff_max = options.backoff_max;
        sup.auth_hint = "is mod_event_socket's password (event_socket.conf.xml) the one in \
                         the config's [freeswitch] password, and does its apply-inbound-acl \
                         let this host in?"
            .to_owned();
        sup.rng_seed = Some(options.seed);
        let id_seed = options
            .id_seed
            .unwrap_or_else(parkway_esl::splitmix::os_seed);
        sup.options = ClientOptions {
            event_capacity: 100_000,
            uuid_seed: Some(id_seed),
            cancel: options.cancel.child_token(),
            tracker: options.tracker.clone(),
            ..ClientOptions::default()
        };
        let (supervisor, events) = connect_supervised(sup);
        let (inputs_tx, inputs) = mpsc::channel::<Input>(INPUT_QUEUE);
        let tracker = options.tracker.clone();
        let stats = Arc::new(DaemonStats::default());
        let probes = Probes::new(&options);
        let latencies = probes.latencies();
        let cdr_dir = config.freeswitch.cdr_dir.clone();
        let reconcile_every = Duration::from_secs(config.freeswitch.reconcile_secs.into());
        let mut board = Switchboard::new(config, options.seed, options.whisperer.is_some());
        board.seed_ids(parkway_esl::splitmix::mix(id_seed ^ 0x5eed));
        if options.store.is_some() {
            board = board.persistent();
        }
        let engine = Engine {
            whisperer: options.whisperer,
            records: options.records,
            store: options.store,
            export: options.export,
            reconcile_every,
            inputs: inputs_tx.clone(),
            supervisor: supervisor.clone(),
            tracker: tracker.clone(),
            stats: stats.clone(),
            reconciler: Reconciler::new(
                supervisor.clone(),
                inputs_tx.clone(),
                tracker.clone(),
                stats.clone(),
                cdr_dir,
                options
                    .restored
                    .as_ref()
                    .and_then(crate::store::sweep_since),
            ),
            probes,
        };
        let cancel = options.cancel.clone();
        tracker.spawn(
            engine::run(engine, board, options.restored, events, inputs, cancel)
                .instrument(tracing::info_span!("call_engine")),
        );
        Daemon {
            inputs: inputs_tx,
            supervisor,
            cancel: options.cancel,
            stats,
            latencies,
        }
    }

    /// Runs `f` on the switchboard between two inputs (totals, counters, live calls).
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Switchboard) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let q: Query = Box::new(move |b| {
            let _ = tx.send(f(b));
        });
        self.inputs.send(Input::Query(q)).await.ok()?;
        rx.await.ok()
    }

    /// The daemon's work counters.
    pub fn counts(&self) -> DaemonCounts {
        self.stats.snapshot()
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}
