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

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::call::{RenderedWhisper, WhisperRequest};
use super::record::CallRecord;
use super::switchboard::{Action, EVENTS, MissedPark, Switchboard};
use crate::config::Config;
use crate::routing::Tokens;
use crate::whisper::{Template, Whisperer};
use parkway_esl::client::{
    ClientEvent, ClientOptions, EslError, Supervisor, SupervisorConfig, connect_supervised,
};
use parkway_esl::command::{ApiCommand, Command, EventFormat, check_uuid};
use parkway_esl::message::Reply;

/// Inputs waiting for the engine besides events and replies (whispers, reconciles, queries).
const INPUT_QUEUE: usize = 65_536;

/// How the daemon runs.
pub struct DaemonOptions {
    /// Seeds routing's shuffles and the leg / Event-UUIDs (and the client's Job-UUIDs).
    pub seed: u64,
    /// Renders whispers; `None`: buyers hear none.
    pub whisperer: Option<Arc<Whisperer>>,
    /// Where finished call records go (the engine waits when it is full); `None`: logged only.
    pub records: Option<mpsc::Sender<CallRecord>>,
    /// Stops the daemon.
    pub cancel: CancellationToken,
    /// Every task is spawned on it.
    pub tracker: TaskTracker,
    /// Reconnect pacing (tests shorten it).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Record, for every routed call, the time from its CHANNEL_PARK frame being read to its
    /// first `bridge` queued on the connection (benchmarks read [`Daemon::dial_latencies`]).
    pub measure_dial_latency: bool,
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
            whisperer: None,
            records: None,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            measure_dial_latency: false,
            render_inline: false,
        }
    }
}

type Query = Box<dyn FnOnce(&Switchboard) + Send>;

/// Work counters of a running daemon: with [`parkway_esl::client::StatsSnapshot`] they tell
/// whether anything is still in flight (the demo waits for that before moving virtual time).
#[derive(Debug, Default)]
pub struct DaemonStats {
    events_handled: AtomicU64,
    commands_sent: AtomicU64,
    commands_done: AtomicU64,
    renders_started: AtomicU64,
    renders_done: AtomicU64,
    reconciles_started: AtomicU64,
    reconciles_done: AtomicU64,
}

/// A copy of [`DaemonStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaemonCounts {
    /// Events the engine has finished with (their commands queued on the connection).
    pub events_handled: u64,
    /// Commands queued on the connection, and those answered (or given up).
    pub commands_sent: u64,
    pub commands_done: u64,
    /// Whisper renders started, and those handed back to the engine.
    pub renders_started: u64,
    pub renders_done: u64,
    /// Reconciles (`show channels`, then the missed parks read) started, and those acted on.
    pub reconciles_started: u64,
    pub reconciles_done: u64,
}

impl DaemonCounts {
    /// Nothing the daemon started is still running.
    pub fn idle(&self) -> bool {
        self.commands_sent == self.commands_done
            && self.renders_started == self.renders_done
            && self.reconciles_started == self.reconciles_done
    }
}

impl DaemonStats {
    pub fn snapshot(&self) -> DaemonCounts {
        // Work done is read before work started: a snapshot never shows done what it has
        // not seen started (the other way round it could, and look idle with work in flight).
        let commands_done = self.commands_done.load(Ordering::Acquire);
        let renders_done = self.renders_done.load(Ordering::Acquire);
        let reconciles_done = self.reconciles_done.load(Ordering::Acquire);
        DaemonCounts {
            events_handled: self.events_handled.load(Ordering::Acquire),
            commands_sent: self.commands_sent.load(Ordering::Acquire),
            commands_done,
            renders_started: self.renders_started.load(Ordering::Acquire),
            renders_done,
            reconciles_started: self.reconciles_started.load(Ordering::Acquire),
            reconciles_done,
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Release);
    }
}

enum Input {
    Whispers {
        call: String,
        whispers: Vec<RenderedWhisper>,
    },
    /// A reconcile's end: `show channels` read (the channels alive, and the ones the
    /// switchboard knew when it asked: only those are judged, anything newer was seen live
    /// since; and the parked inbound channels it did not know), or `None` when it failed.
    Reconciled(Option<Live>),
    Query(Query),
}

struct Live {
    live: HashSet<String>,
    asked: HashSet<String>,
    parked: Vec<MissedPark>,
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
            Command::event(EventFormat::Plain, &EVENTS).expect("static event names are valid"),
        ];
        sup.backoff_base = options.backoff_base;
        sup.backoff_max = options.backoff_max;
        sup.rng_seed = Some(options.seed);
        sup.options = ClientOptions {
            event_capacity: 100_000,
            uuid_seed: Some(options.seed),
            cancel: options.cancel.child_token(),
            tracker: options.tracker.clone(),
            ..ClientOptions::default()
        };
        let (supervisor, mut events) = connect_supervised(sup);
        let (inputs_tx, mut inputs) = mpsc::channel::<Input>(INPUT_QUEUE);
        let tracker = options.tracker.clone();
        let stats = Arc::new(DaemonStats::default());
        let latencies = options
            .measure_dial_latency
            .then(|| Arc::new(Latencies::default()));
        let mut board = Switchboard::new(config, options.seed, options.whisperer.is_some());
        let engine = Engine {
            whisperer: options.whisperer,
            records: options.records,
            inputs: inputs_tx.clone(),
            supervisor: supervisor.clone(),
            tracker: tracker.clone(),
            stats: stats.clone(),
            latencies: latencies.clone(),
            render_inline: options.render_inline,
            reconciling: AtomicBool::new(false),
            reconcile_again: AtomicBool::new(false),
        };
        let cancel = options.cancel.clone();
        tracker.spawn(
            async move {
                let mut dropped = 0;
                let mut replies = FuturesUnordered::new();
                loop {
                    let mut done: Option<&AtomicU64> = None;
                    let actions = tokio::select! {
                        biased;
                        _ = cancel.cancelled() => break,
                        Some((call, app, result)) = replies.next(), if !replies.is_empty() => {
                            done = Some(&engine.stats.commands_done);
                            engine.replied(&mut board, call, app, result)
                        }
                        input = inputs.recv() => match input {
                            Some(i) => {
                                done = engine.completes(&i);
                                engine.input(&mut board, i)
                            }
                            None => break,
                        },
                        item = events.recv() => match item {
                            Some(ClientEvent::Event(ev, received)) => {
                                done = Some(&engine.stats.events_handled);
                                engine.note_park(&ev, received);
                                let actions = board.on_event(&ev, Utc::now());
                                // An event lost to a full queue may be a call's end: look at
                                // FreeSWITCH's channels, as after a reconnect.
                                let now_dropped = engine.supervisor.stats().events_dropped;
                                if now_dropped > dropped {
                                    dropped = now_dropped;
                                    tracing::warn!(dropped, "events were lost; reconciling");
                                    engine.reconcile(&board);
                                }
                                actions
                            }
                            Some(ClientEvent::Connected { generation }) => {
                                tracing::info!(generation, "connected to FreeSWITCH");
                                // Every connection, the first too: callers may have parked
                                // while the socket was down or before the daemon started.
                                engine.reconcile(&board);
                                Vec::new()
                            }
                            Some(ClientEvent::Disconnected { generation, reason }) => {
                                tracing::warn!(generation, %reason, "lost FreeSWITCH; calls are reconciled after the reconnect");
                                Vec::new()
                            }
                            Some(_) => Vec::new(),
                            None => break,
                        },
                    };
                    engine.act(&mut board, actions, &mut replies).await;
                    if let Some(counter) = done {
                        DaemonStats::bump(counter);
                    }
                }
            }
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

    /// Park-to-dial times in microseconds, when [`DaemonOptions::measure_dial_latency`] is on.
    pub fn dial_latencies(&self) -> Vec<u32> {
        self.latencies
            .as_ref()
            .map(|l| l.samples.lock().clone())
            .unwrap_or_default()
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

/// A queued command's reply, with the call and application it was for.
type ReplyFuture =
    std::pin::Pin<Box<dyn Future<Output = (String, &'static str, Result<Reply, EslError>)> + Send>>;

/// Park-to-dial samples in microseconds (bounded: past the limit new samples are dropped).
#[derive(Debug, Default)]
struct Latencies {
    parks: parking_lot::Mutex<parkway_esl::fasthash::FxHashMap<String, Instant>>,
    samples: parking_lot::Mutex<Vec<u32>>,
}

const MAX_LATENCY_SAMPLES: usize = 4_000_000;
const MAX_PENDING_PARKS: usize = 200_000;

struct Engine {
    whisperer: Option<Arc<Whisperer>>,
    records: Option<mpsc::Sender<CallRecord>>,
    inputs: mpsc::Sender<Input>,
    supervisor: Supervisor,
    tracker: TaskTracker,
    stats: Arc<DaemonStats>,
    latencies: Option<Arc<Latencies>>,
    render_inline: bool,
    /// A reconcile is running; another was asked for meanwhile.
    reconciling: AtomicBool,
    reconcile_again: AtomicBool,
}

impl Engine {
    /// Remembers when a park was read, to time its first bridge.
    fn note_park(&self, ev: &parkway_esl::event::Event, received: Instant) {
        let Some(l) = &self.latencies else { return };
        if ev.name() != "CHANNEL_PARK" {
            return;
        }
        if let Some(uuid) = ev.unique_id() {
            let mut parks = l.parks.lock();
            if parks.len() >= MAX_PENDING_PARKS {
                parks.clear();
            }
            parks.insert(uuid.into_owned(), received);
        }
    }

    /// The counter an input completes, bumped once its actions are handed on (so the demo's
    /// barrier never sees the work done before its consequences are queued).
    fn completes(&self, input: &Input) -> Option<&AtomicU64> {
        match input {
            Input::Whispers { .. } => Some(&self.stats.renders_done),
            Input::Reconciled(_) => Some(&self.stats.reconciles_done),
            Input::Query(_) => None,
        }
    }

    fn input(&self, board: &mut Switchboard, input: Input) -> Vec<Action> {
        let now = Utc::now();
        match input {
            Input::Whispers { call, whispers } => board.whispers_ready(&call, whispers, now),
            Input::Reconciled(found) => {
                let mut actions = Vec::new();
                if let Some(Live {
                    live,
                    asked,
                    parked,
                }) = found
                {
                    actions = board.reconcile(&live, &asked, now);
                    actions.extend(board.missed_parks(parked, now));
                }
                self.reconciling.store(false, Ordering::Relaxed);
                if self.reconcile_again.swap(false, Ordering::Relaxed) {
                    self.reconcile(board);
                }
                actions
            }
            Input::Query(q) => {
                q(board);
                Vec::new()
            }
        }
    }

    /// What a command's reply means for its call: a `-ERR` goes back to the switchboard.
    fn replied(
        &self,
        board: &mut Switchboard,
        call: String,
        app: &'static str,
        result: Result<Reply, EslError>,
    ) -> Vec<Action> {
        match result {
            Ok(_) => Vec::new(),
            Err(EslError::CommandFailed { reply }) => {
                board.command_failed(&call, app, &reply, Utc::now())
            }
            // Written but unanswered (the connection died): a `set` is harmless to send again;
            // whether a bridge ran, only the reconcile can tell.
            Err(e) if app == "set" => {
                tracing::warn!(call.uuid = %call, app, error = %e, "no reply; sent again after the reconnect");
                board.command_not_sent(&call, app);
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(call.uuid = %call, app, error = %e, "no reply; reconciled after the reconnect");
                Vec::new()
            }
        }
    }

    /// Carries actions out, and those they lead to.
    /// Commands are queued on the live connection in order; their replies join `replies`.
    async fn act(
        &self,
        board: &mut Switchboard,
        actions: Vec<Action>,
        replies: &mut FuturesUnordered<ReplyFuture>,
    ) {
        let mut todo = VecDeque::from(actions);
        while let Some(action) = todo.pop_front() {
            match action {
                Action::Execute {
                    call,
                    app,
                    arg,
                    event_uuid,
                } => {
                    let arg = (!arg.is_empty()).then_some(arg.as_str());
                    let command = match Command::sendmsg_execute(Some(&call), app, arg, &event_uuid)
                    {
                        Ok(command) => command,
                        Err(e) => {
                            todo.extend(board.command_failed(
                                &call,
                                app,
                                &e.to_string(),
                                Utc::now(),
                            ));
                            continue;
                        }
                    };
                    let Some(client) = self.supervisor.client() else {
                        tracing::warn!(call.uuid = %call, app, "not connected; sent again after the reconnect");
                        board.command_not_sent(&call, app);
                        continue;
                    };
                    DaemonStats::bump(&self.stats.commands_sent);
                    match client.queue_command_ok(command).await {
                        Ok(reply) => {
                            if app == "bridge" {
                                self.dialled(&call);
                            }
                            replies.push(Box::pin(async move { (call, app, reply.await) }));
                        }
                        Err(e) => {
                            DaemonStats::bump(&self.stats.commands_done);
                            tracing::warn!(call.uuid = %call, app, error = %e, "command not sent; sent again after the reconnect");
                            board.command_not_sent(&call, app);
                        }
                    }
                }
                Action::RenderWhispers {
                    call,
                    tokens,
                    requests,
                } => {
                    if let Some(whispers) = self.render(call.clone(), *tokens, requests) {
                        todo.extend(board.whispers_ready(&call, whispers, Utc::now()));
                    }
                }
                Action::Record(record) => {
                    tracing::info!(
                        call.uuid = %record.call,
                        disposition = ?record.disposition,
                        buyer = record.connected.as_deref().unwrap_or("-"),
                        talk_secs = record.talk_secs,
                        payout = record.payout,
                        "call finished"
                    );
                    if let Some(tx) = &self.records
                        && tx.send(*record).await.is_err()
                    {
                        tracing::debug!("call records are no longer read");
                    }
                }
            }
        }
    }

    /// A call's first `bridge` is queued: its park-to-dial time, when measured.
    fn dialled(&self, call: &str) {
        let Some(l) = &self.latencies else { return };
        let Some(parked) = l.parks.lock().remove(call) else {
            return;
        };
        let us = u32::try_from(parked.elapsed().as_micros()).unwrap_or(u32::MAX);
        let mut samples = l.samples.lock();
        if samples.len() < MAX_LATENCY_SAMPLES {
            samples.push(us);
        }
    }

    /// Renders inline (the whispers, handed straight back) or on the blocking pool (`None`:
    /// they come back as an input).
    fn render(
        &self,
        call: String,
        tokens: Tokens,
        requests: Vec<WhisperRequest>,
    ) -> Option<Vec<RenderedWhisper>> {
        let whisperer = self.whisperer.clone()?;
        if self.render_inline {
            return Some(
                requests
                    .iter()
                    .map(|r| render_one(&whisperer, r, &tokens))
                    .collect(),
            );
        }
        DaemonStats::bump(&self.stats.renders_started);
        let inputs = self.inputs.clone();
        let span = tracing::info_span!("whisper", call.uuid = %call);
        self.tracker.spawn(
            async move {
                let rendered = tokio::task::spawn_blocking(move || {
                    requests
                        .iter()
                        .map(|r| render_one(&whisperer, r, &tokens))
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                let _ = inputs
                    .send(Input::Whispers {
                        call,
                        whispers: rendered,
                    })
                    .await;
            }
            .instrument(span),
        );
        None
    }

    /// Looks at FreeSWITCH's channels (one reconcile at a time: asked for while one runs, it
    /// runs once more after it, so lost events under load never pile `api` calls up on the
    /// switch's listener thread).
    fn reconcile(&self, board: &Switchboard) {
        if self.reconciling.swap(true, Ordering::Relaxed) {
            self.reconcile_again.store(true, Ordering::Relaxed);
            return;
        }
        DaemonStats::bump(&self.stats.reconciles_started);
        let asked: HashSet<String> = board.known_channels().into_iter().collect();
        let names = board.park_variables();
        let supervisor = self.supervisor.clone();
        let inputs = self.inputs.clone();
        self.tracker.spawn(
            async move {
                let found = match supervisor.api("show channels as json").await {
                    Ok(body) => match channel_rows(&body) {
                        Some(rows) => {
                            let live = live_uuids(&rows);
                            let mut parked: Vec<MissedPark> = parked_rows(&rows)
                                .into_iter()
                                .filter(|p| !asked.contains(&p.uuid))
                                .collect();
                            if parked.len() > MAX_MISSED_PARKS {
                                tracing::warn!(
                                    found = parked.len(),
                                    routed = MAX_MISSED_PARKS,
                                    "too many parks missed while disconnected; the rest wait out park_timeout"
                                );
                                parked.truncate(MAX_MISSED_PARKS);
                            }
                            let mut found = Vec::with_capacity(parked.len());
                            for mut p in parked {
                                match park_vars(&supervisor, &p.uuid, &names).await {
                                    Some(vars) => {
                                        p.vars = vars;
                                        found.push(p);
                                    }
                                    None => tracing::info!(call.uuid = %p.uuid, "parked channel gone before it was read; not routed"),
                                }
                            }
                            Some(Live {
                                live,
                                asked,
                                parked: found,
                            })
                        }
                        None => {
                            tracing::warn!("unreadable `show channels as json`; not reconciled");
                            None
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "reconcile failed; retried at the next reconnect");
                        None
                    }
                };
                let _ = inputs.send(Input::Reconciled(found)).await;
            }
            .instrument(tracing::info_span!("reconcile")),
        );
    }
}

/// One whisper; a failure leaves the buyer without one (logged), never the call.
fn render_one(w: &Whisperer, r: &WhisperRequest, tokens: &Tokens) -> RenderedWhisper {
    let none = RenderedWhisper {
        buyer: r.buyer,
        path: None,
        secs: 0,
    };
    let template = match Template::parse(&r.template) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "whisper template unreadable; no whisper");
            return none;
        }
    };
    match w.whisper(&template, &|k| tokens.get(k).map(str::to_owned)) {
        Ok(whisper) => RenderedWhisper {
            buyer: r.buyer,
            secs: wav_secs(&whisper.path, w.library().rate()),
            path: Some(whisper.path),
        },
        Err(e) => {
            tracing::warn!(error = %e, "whisper not rendered; the buyer hears none");
            none
        }
    }
}

/// A 16-bit mono WAV's length in whole seconds, rounded up.
fn wav_secs(path: &Path, rate: u32) -> u32 {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let samples = bytes.saturating_sub(44) / 2;
    u32::try_from(samples.div_ceil(u64::from(rate.max(1)))).unwrap_or(u32::MAX)
}

/// The rows of `show channels as json` (`{"row_count":N,"rows":[{"uuid":…},…]}`; with no
/// channel FreeSWITCH answers `{"row_count":0}`); `None` when the body is not that.
pub fn channel_rows(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get_mut("rows") {
        Some(r) => match r.take() {
            serde_json::Value::Array(rows) => Some(rows),
            _ => None,
        },
        None => v.get("row_count").map(|_| Vec::new()),
    }
}

/// The `uuid`s of the channels.
pub fn live_uuids(rows: &[serde_json::Value]) -> HashSet<String> {
    rows.iter()
        .filter_map(|r| r.get("uuid").and_then(|u| u.as_str()).map(str::to_owned))
        .collect()
}

/// Parks found by one reconcile that are routed (each costs one `uuid_getvar` per park
/// variable on the listener's thread); more wait out their `park_timeout`.
const MAX_MISSED_PARKS: usize = 200;

/// The parked inbound channels among `show channels as json`'s rows: `direction` inbound and
/// `application` park (a parked caller's `state` is CS_EXECUTE and its `callstate` RINGING; the
/// `show_channels` capture). A uuid that could not be put in a command line is left out.
pub fn parked_rows(rows: &[serde_json::Value]) -> Vec<MissedPark> {
    let col = |r: &serde_json::Value, name: &str| {
        r.get(name)
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    rows.iter()
        .filter(|r| col(r, "direction") == "inbound" && col(r, "application") == "park")
        .filter_map(|r| {
            let uuid = col(r, "uuid");
            if check_uuid("uuid", &uuid).is_err() {
                tracing::warn!(uuid, "parked channel with an unusable uuid; not routed");
                return None;
            }
            let created = col(r, "created_epoch")
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .and_then(|s| Utc.timestamp_opt(s, 0).single());
            Some(MissedPark {
                caller_number: col(r, "cid_num"),
                caller_name: col(r, "cid_name"),
                destination: col(r, "dest"),
                created,
                uuid,
                vars: Vec::new(),
            })
        })
        .collect()
}

/// The set variables among `names` of channel `uuid` (`uuid_getvar` answers the bare value,
/// `_undef_` when unset, `-ERR …` when the channel is gone); `None` when the channel is gone or
/// could not be read (it is not routed then: a park half read could match the wrong router).
async fn park_vars(
    supervisor: &Supervisor,
    uuid: &str,
    names: &[String],
) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for name in names {
        let command = match ApiCommand::uuid_getvar(uuid, name) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(call.uuid = uuid, name, error = %e, "variable not readable; not routed");
                return None;
            }
        };
        match supervisor.api(command.as_str()).await {
            Ok(body) => {
                let value = String::from_utf8_lossy(&body);
                let value = value.trim_end_matches('\n');
                if value.starts_with("-ERR") || value.starts_with("-USAGE") {
                    return None;
                }
                if value != "_undef_" {
                    vars.push((name.clone(), value.to_owned()));
                }
            }
            Err(e) => {
                tracing::warn!(call.uuid = uuid, name, error = %e, "uuid_getvar failed; not routed");
                return None;
            }
        }
    }
    Some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_uuids_reads_show_channels() {
        let body = br#"{"row_count":2,"rows":[{"uuid":"a","name":"x"},{"uuid":"b"}]}"#;
        let live = live_uuids(&channel_rows(body).expect("rows"));
        assert!(live.contains("a") && live.contains("b") && live.len() == 2);
        let none = channel_rows(br#"{"row_count":0}"#).expect("no rows");
        assert_eq!(live_uuids(&none).len(), 0);
        assert!(channel_rows(b"-ERR no").is_none());
    }

    #[test]
    fn parked_rows_reads_the_real_columns() {
        // Rows as the show_channels capture has them: a parked caller is CS_EXECUTE / RINGING
        // with application park; its outbound partner and a bridged caller are not parks.
        let body = br#"{"row_count":3,"rows":[
            {"uuid":"p1","direction":"inbound","created_epoch":"1795521464","state":"CS_EXECUTE",
             "cid_name":"Maria Lopez","cid_num":"+13055550120","dest":"18005550199",
             "application":"park","application_data":"","callstate":"RINGING"},
            {"uuid":"o1","direction":"outbound","state":"CS_CONSUME_MEDIA","application":"",
             "callstate":"DOWN"},
            {"uuid":"b1","direction":"inbound","state":"CS_EXECUTE","application":"bridge",
             "callstate":"ACTIVE"},
            {"uuid":"bad uuid","direction":"inbound","application":"park"}]}"#;
        let parked = parked_rows(&channel_rows(body).expect("rows"));
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].uuid, "p1");
        assert_eq!(parked[0].caller_number, "+13055550120");
        assert_eq!(parked[0].destination, "18005550199");
        assert_eq!(
            parked[0].created.map(|c| c.timestamp()),
            Some(1_795_521_464)
        );
        assert!(parked_rows(&channel_rows(br#"{"row_count":0}"#).expect("no rows")).is_empty());
        assert!(channel_rows(b"-ERR no").is_none());
    }
}
