//! The engine task: owns the [`Switchboard`] and takes, one at a time and in order, events,
//! command replies, rendered whispers, reconcile results and queries; it queues the commands
//! they lead to straight onto the live connection and waits for their replies concurrently.

#![allow(
    clippy::disallowed_methods,
    reason = "the engine task stamps inputs with the driver's time; the switchboard maps it onto FreeSWITCH's clock"
)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::probes::Probes;
use super::reconcile::{Live, Reconciler};
use super::render::render_all;
use super::stats::DaemonStats;
use crate::calls::app::App;
use crate::calls::call::{RenderedWhisper, WhisperRequest};
use crate::calls::record::CallRecord;
use crate::calls::switchboard::{Action, Switchboard};
use crate::routing::Tokens;
use crate::store::export::RecordExport;
use crate::store::writer::StoreWriter;
use crate::store::{Entry, Restored};
use crate::whisper::Whisperer;
use parkway_esl::client::{ClientEvent, EslError, EventStream, Supervisor};
use parkway_esl::command::Command;
use parkway_esl::message::Reply;

pub(super) type Query = Box<dyn FnOnce(&Switchboard) + Send>;

pub(super) enum Input {
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

impl From<Option<Live>> for Input {
    fn from(found: Option<Live>) -> Input {
        Input::Reconciled(found)
    }
}

/// A queued command's reply, with the call and application it was for.
type ReplyFuture =
    std::pin::Pin<Box<dyn Future<Output = (String, App, Result<Reply, EslError>)> + Send>>;

pub(super) struct Engine {
    pub(super) whisperer: Option<Arc<Whisperer>>,
    pub(super) records: Option<mpsc::Sender<CallRecord>>,
    pub(super) store: Option<StoreWriter>,
    pub(super) export: Option<RecordExport>,
    /// Between two reconciles (zero: after reconnects only).
    pub(super) reconcile_every: std::time::Duration,
    pub(super) inputs: mpsc::Sender<Input>,
    pub(super) supervisor: Supervisor,
    pub(super) tracker: TaskTracker,
    pub(super) stats: Arc<DaemonStats>,
    pub(super) reconciler: Reconciler<Input>,
    pub(super) probes: Probes,
}

/// The engine task's loop, until `cancel` or the end of its inputs.
pub(super) async fn run(
    engine: Engine,
    mut board: Switchboard,
    restored: Option<Restored>,
    mut events: EventStream,
    mut inputs: mpsc::Receiver<Input>,
    cancel: CancellationToken,
) {
    let mut dropped = 0;
    let mut replies = FuturesUnordered::new();
    if let Some(restored) = restored {
        let (recovered, actions) = board.restore(restored, Utc::now());
        tracing::info!(
            facts = recovered.facts,
            open_calls = recovered.open_calls,
            conversions = recovered.conversions,
            "counters and open calls taken back from the store"
        );
        engine.act(&mut board, actions, &mut replies).await;
    }
    let mut reconcile_tick = (!engine.reconcile_every.is_zero()).then(|| {
        let mut t = tokio::time::interval(engine.reconcile_every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let mut done: Option<&AtomicU64> = None;
        let actions = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = async { reconcile_tick.as_mut()?.tick().await; Some(()) }, if reconcile_tick.is_some() => {
                // FreeSWITCH drops events under load without a word: compare its channels
                // with ours now and then, so a lost hangup cannot hold a slot for long.
                if engine.supervisor.client().is_some() {
                    engine.reconciler.start(&board);
                }
                Vec::new()
            }
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
                    engine.probes.event_read(&ev, received);
                    let actions = board.on_event(&ev, Utc::now());
                    // An event lost to a full queue may be a call's end: look at
                    // FreeSWITCH's channels, as after a reconnect.
                    let now_dropped = engine.supervisor.stats().events_dropped;
                    if now_dropped > dropped {
                        dropped = now_dropped;
                        tracing::warn!(dropped, "events were lost; reconciling");
                        engine.reconciler.start(&board);
                    }
                    actions
                }
                Some(ClientEvent::Connected { generation }) => {
                    tracing::info!(generation, "connected to FreeSWITCH");
                    // Every connection, the first too: callers may have parked
                    // while the socket was down or before the daemon started.
                    engine.reconciler.start(&board);
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

impl Engine {
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
                    cdrs,
                    swept,
                    strays,
                }) = found
                {
                    // What FreeSWITCH knows that the store lost comes first, so the calls it
                    // belongs to are judged whole.
                    actions = board.discover(&swept, &strays, now);
                    actions.extend(board.reconcile(&live, &asked, &cdrs, now));
                    actions.extend(board.missed_parks(parked, now));
                }
                self.reconciler.finished(board);
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
        app: App,
        result: Result<Reply, EslError>,
    ) -> Vec<Action> {
        match result {
            Ok(_) => Vec::new(),
            Err(EslError::CommandFailed { reply }) => {
                board.command_failed(&call, app, &reply, Utc::now())
            }
            // Written but unanswered (the connection died): a `set` is harmless to send again;
            // whether a bridge ran, only the reconcile can tell.
            Err(e) => match app {
                App::Set => {
                    tracing::warn!(call.uuid = %call, app = app.name(), error = %e, "no reply; sent again after the reconnect");
                    board.command_not_sent(&call, app);
                    Vec::new()
                }
                App::Bridge | App::Answer | App::Playback | App::Hangup | App::Transfer => {
                    tracing::warn!(call.uuid = %call, app = app.name(), error = %e, "no reply; reconciled after the reconnect");
                    Vec::new()
                }
            },
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
        let mut finished: Vec<Entry> = Vec::new();
        while let Some(action) = todo.pop_front() {
            match action {
                Action::Execute {
                    call,
                    app,
                    arg,
                    event_uuid,
                } => {
                    let arg = (!arg.is_empty()).then_some(arg.as_str());
                    let command =
                        match Command::sendmsg_execute(Some(&call), app.name(), arg, &event_uuid) {
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
                        tracing::warn!(call.uuid = %call, app = app.name(), "not connected; sent again after the reconnect");
                        board.command_not_sent(&call, app);
                        continue;
                    };
                    DaemonStats::bump(&self.stats.commands_sent);
                    match client.queue_command_ok(command).await {
                        Ok(reply) => {
                            self.probes.command_queued(&call, app);
                            replies.push(Box::pin(async move { (call, app, reply.await) }));
                        }
                        Err(e) => {
                            DaemonStats::bump(&self.stats.commands_done);
                            tracing::warn!(call.uuid = %call, app = app.name(), error = %e, "command not sent; sent again after the reconnect");
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
                    // One record shared by the export and the store, never copied for them.
                    let record: Arc<CallRecord> = Arc::from(record);
                    if let Some(export) = &self.export {
                        export.offer(record.clone());
                    }
                    if let Some(tx) = &self.records
                        && tx.send(CallRecord::clone(&record)).await.is_err()
                    {
                        tracing::debug!("call records are no longer read");
                    }
                    if self.store.is_some() {
                        finished.push(Entry::Finished(record));
                    }
                }
            }
        }
        if let Some(store) = &self.store {
            // The facts first: a record is never committed without what it counted.
            let mut entries = board.take_entries();
            entries.append(&mut finished);
            store.send(entries);
        }
    }

    /// Renders inline (the whispers, handed straight back; a probe, see `probes`) or on the
    /// blocking pool (`None`: they come back as an input).
    fn render(
        &self,
        call: String,
        tokens: Tokens,
        requests: Vec<WhisperRequest>,
    ) -> Option<Vec<RenderedWhisper>> {
        let whisperer = self.whisperer.clone()?;
        if let Some(whispers) = self.probes.render_inline(&whisperer, &requests, &tokens) {
            return Some(whispers);
        }
        DaemonStats::bump(&self.stats.renders_started);
        let inputs = self.inputs.clone();
        let span = tracing::info_span!("whisper", call.uuid = %call);
        self.tracker.spawn(
            async move {
                let rendered =
                    tokio::task::spawn_blocking(move || render_all(&whisperer, &requests, &tokens))
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
}
