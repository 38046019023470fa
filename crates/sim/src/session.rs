//! One connection of the simulated switch: reads commands with the shared [`Framer`], answers
//! them in order as `mod_event_socket.c` does, and applies the handle's control messages.

#![allow(
    clippy::disallowed_methods,
    reason = "a session's linger and stalls run on the real clock, as FreeSWITCH's do"
)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::request::Request;
use super::state::{Behaviour, Control, DropMode, JobOrder, Shared};
use super::wire;
use parkway_esl::codec::{Frame, Framer, RawFrame};
use parkway_esl::command::{Command, CommandKind, EventFormat};
use parkway_esl::event::Event;

/// What `api status` answers unless a canned response says otherwise.
/// Frames a stalled or held session keeps before it is dropped as too far behind.
const MAX_QUEUED: usize = 100_000;

const STATUS: &str = "UP 0 years, 0 days, 0 hours, 1 minute, 21 seconds, 824 milliseconds, 784 microseconds\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n0 session(s) since startup\n";

pub(crate) enum SessionKind {
    /// A client connected to us: `auth/request` first.
    Inbound,
    /// We connected to a client (dialplan `socket`): wait for `connect`, answer with this frame.
    Outbound { connect_reply: Bytes },
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

#[derive(Default)]
struct Subscriptions {
    all: bool,
    names: HashSet<String>,
    format: Option<EventFormat>,
    /// Positive filters, OR'ed; an event without the header does not pass.
    filters: Vec<(String, String)>,
    /// `myevents`: only this channel's events.
    uuid: Option<String>,
}

impl Subscriptions {
    fn wants(&self, event: &Event) -> Option<EventFormat> {
        let format = self.format?;
        let name = event.name();
        if !(self.all || self.names.contains(name.as_ref())) {
            return None;
        }
        if let Some(uuid) = &self.uuid {
            if event.unique_id().as_deref() != Some(uuid.as_str()) {
                return None;
            }
        }
        let passes = self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|(h, v)| event.headers().get(h).as_deref() == Some(v.as_str()));
        passes.then_some(format)
    }
}

/// The events `myevents` subscribes to, as in mod_event_socket.c.
const MYEVENTS: &[&str] = &[
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
];

/// Control messages handled in one turn before the output is written.
const BURST: usize = 256;

pub(crate) struct Session {
    conn: u64,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    kind: SessionKind,
    shared: Arc<Shared>,
    control: mpsc::Receiver<Control>,
    kill: CancellationToken,
    kill_mode: Arc<AtomicU8>,
    buf: BytesMut,
    framer: Framer,
    authed: bool,
    subs: Subscriptions,
    hold: bool,
    stalled: bool,
    queued: Vec<Bytes>,
    held_jobs: Vec<Event>,
    /// `linger` seconds asked for (-1: until the client leaves).
    linger: Option<i64>,
    /// Lingering with a time: when the final notice goes out and the socket closes.
    linger_until: Option<tokio::time::Instant>,
    /// Outbound: the channel's Unique-ID and Channel-Name, from the connect reply.
    channel: (String, String),
    /// Outbound: the channel has hung up (its disconnect notice is out); its later events
    /// (CS_DESTROY, CHANNEL_DESTROY) no longer reach the socket, as in `outbound_plain`.
    released: bool,
    /// More than [`MAX_QUEUED`] frames waited: the session is dropped.
    overflow: bool,
    /// Frames to write at the end of this turn of the loop: one write for a burst of events
    /// (FreeSWITCH's listener, too, writes what its queue holds in one go).
    out: BytesMut,
}

impl Session {
    pub(crate) fn new(
        conn: u64,
        stream: TcpStream,
        kind: SessionKind,
        shared: Arc<Shared>,
        control: mpsc::Receiver<Control>,
        kill: CancellationToken,
        kill_mode: Arc<AtomicU8>,
    ) -> Session {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let channel = match &kind {
            SessionKind::Outbound { connect_reply } => channel_of(connect_reply),
            SessionKind::Inbound => Default::default(),
        };
        Session {
            conn,
            read,
            write,
            kind,
            shared,
            control,
            kill,
            kill_mode,
            buf: BytesMut::with_capacity(8192),
            framer: Framer::default(),
            authed: false,
            subs: Subscriptions::default(),
            hold: false,
            stalled: false,
            queued: Vec::new(),
            held_jobs: Vec::new(),
            linger: None,
            linger_until: None,
            channel,
            released: false,
            overflow: false,
            out: BytesMut::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let kill = self.kill.clone();
        let killed = tokio::select! {
            _ = kill.cancelled() => true,
            _ = self.serve() => false,
        };
        if !killed {
            self.flush_out().await;
        }
        if killed && self.kill_mode.load(Ordering::Relaxed) == DropMode::MidFrame as u8 {
            let _ = self.write.write_all(&wire::cut_frame()).await;
        }
        let _ = self.write.shutdown().await;
        tracing::debug!(conn = self.conn, killed, "session ended");
        if let (Some(engine), SessionKind::Outbound { .. }) = (&self.shared.engine, &self.kind) {
            let uuid = self.channel.0.clone();
            let _ = engine.send(Request::OutboundEnded { uuid }).await;
        }
        self.shared.session_ended(self.conn);
    }

    async fn serve(&mut self) {
        if let SessionKind::Inbound = self.kind {
            let behaviour = self.shared.behaviour();
            if behaviour.reject {
                self.send(wire::rude_rejection()).await;
                return;
            }
            if behaviour.notice_on_accept {
                self.send(wire::goodbye()).await;
                return;
            }
            self.send(wire::auth_request()).await;
        }
        loop {
            // What the last turn (or the greeting) produced goes out before waiting again.
            self.flush_out().await;
            if self.overflow {
                tracing::warn!(
                    conn = self.conn,
                    "too many frames waiting; dropping the session"
                );
                return;
            }
            let linger_until = self.linger_until;
            tokio::select! {
                biased;
                // A linger with a time is over: the final notice, then the close
                // (`outbound_json`: `linger 3`, notice, close).
                _ = tokio::time::sleep_until(linger_until.unwrap_or_else(tokio::time::Instant::now)),
                    if linger_until.is_some() =>
                {
                    let (uuid, name) = self.channel.clone();
                    self.send(wire::channel_notice(&uuid, &name, None)).await;
                    return;
                }
                control = self.control.recv() => match control {
                    Some(control) => {
                        if self.on_control(control).await == Flow::Close {
                            return;
                        }
                        // Whatever else is already waiting goes out in the same write.
                        for _ in 0..BURST {
                            let Ok(next) = self.control.try_recv() else { break };
                            if self.on_control(next).await == Flow::Close {
                                return;
                            }
                        }
                    }
                    None => return,
                },
                read = self.read.read_buf(&mut self.buf), if !self.stalled => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => loop {
                        match self.framer.next_frame(&mut self.buf) {
                            Ok(Some(frame)) => {
                                if self.on_command(frame).await == Flow::Close {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "unreadable command; closing");
                                return;
                            }
                        }
                    },
                },
            }
        }
    }

    async fn flush_out(&mut self) {
        if !self.out.is_empty() {
            let _ = self.write.write_all(&self.out).await;
            self.out.clear();
        }
    }

    /// Writes now, or queues while output is held or the session is stalled.
    async fn send(&mut self, bytes: Bytes) {
        if self.hold || self.stalled {
            self.queued.push(bytes);
            self.overflow |= self.queued.len() > MAX_QUEUED;
        } else {
            self.out.extend_from_slice(&bytes);
        }
    }

    async fn flush_if_free(&mut self) {
        if !self.hold && !self.stalled {
            for bytes in std::mem::take(&mut self.queued) {
                self.out.extend_from_slice(&bytes);
            }
        }
    }

    async fn deliver(&mut self, event: &Event) {
        if !self.authed {
            return;
        }
        if self.released && event.unique_id().as_deref() == Some(self.channel.0.as_str()) {
            return;
        }
        if let Some(format) = self.subs.wants(event) {
            self.send(wire::event(event, format)).await;
            self.shared.counts.written.fetch_add(1, Ordering::Release);
        }
    }

    async fn on_control(&mut self, control: Control) -> Flow {
        match control {
            Control::Event(event) => {
                self.deliver(&event).await;
                self.shared.counts.done.fetch_add(1, Ordering::Release);
            }
            Control::Raw(bytes) => self.send(bytes).await,
            Control::HoldOutput(on) => {
                self.hold = on;
                self.flush_if_free().await;
            }
            Control::Stall(on) => {
                self.stalled = on;
                self.flush_if_free().await;
            }
            Control::ReleaseJobs(order) => {
                let mut jobs = std::mem::take(&mut self.held_jobs);
                match order {
                    JobOrder::AsSubmitted => {}
                    JobOrder::Reversed => jobs.reverse(),
                    JobOrder::Shuffled => {
                        for i in (1..jobs.len()).rev() {
                            let j = self.shared.ids.below(i as u64 + 1) as usize;
                            jobs.swap(i, j);
                        }
                    }
                }
                for job in jobs {
                    self.deliver(&job).await;
                }
            }
            Control::Hangup => {
                if let SessionKind::Outbound { .. } = self.kind {
                    self.released = true;
                    let (uuid, name) = self.channel.clone();
                    if let Some(secs) = self.linger {
                        self.send(wire::channel_notice(&uuid, &name, self.linger))
                            .await;
                        if let Ok(secs) = u64::try_from(secs) {
                            self.linger_until = Some(
                                tokio::time::Instant::now() + std::time::Duration::from_secs(secs),
                            );
                        }
                    } else {
                        self.send(wire::channel_notice(&uuid, &name, None)).await;
                        return Flow::Close;
                    }
                }
            }
            Control::Goodbye => {
                self.send(wire::goodbye()).await;
                return Flow::Close;
            }
            Control::Sync(ack) => {
                // Everything before it is on the socket when the sync is answered.
                self.flush_out().await;
                let _ = ack.send(());
            }
        }
        Flow::Continue
    }

    async fn reply(&mut self, text: &str) {
        self.send(wire::reply(text, &[])).await;
    }

    async fn on_command(&mut self, frame: RawFrame) -> Flow {
        let command = match Command::parse(&frame.head, frame.body) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "unparseable command");
                self.reply("-ERR command not found").await;
                return Flow::Continue;
            }
        };
        self.shared.record(self.conn, command.clone());
        let kind = command.kind();
        if let SessionKind::Outbound { connect_reply } = &self.kind {
            if !self.authed {
                if kind == CommandKind::Connect {
                    let reply = connect_reply.clone();
                    self.authed = true;
                    self.send(reply).await;
                } else {
                    self.reply("-ERR command not found").await;
                }
                return Flow::Continue;
            }
        }
        if let CommandKind::Exit = kind {
            self.reply("+OK bye").await;
            let notice = match self.kind {
                SessionKind::Outbound { .. } => {
                    wire::channel_notice(&self.channel.0, &self.channel.1, None)
                }
                SessionKind::Inbound => wire::goodbye(),
            };
            self.send(notice).await;
            return Flow::Close;
        }
        if !self.authed {
            return match kind {
                CommandKind::Auth { password } if password == self.shared.password => {
                    self.authed = true;
                    self.reply("+OK accepted").await;
                    Flow::Continue
                }
                CommandKind::Auth { .. } => {
                    self.reply("-ERR invalid").await;
                    self.send(wire::goodbye()).await;
                    Flow::Close
                }
                _ => {
                    self.reply("-ERR command not found").await;
                    Flow::Continue
                }
            };
        }
        let behaviour = self.shared.behaviour();
        match kind {
            CommandKind::Auth { .. } => self.reply("+OK accepted").await,
            CommandKind::Event { format, events } => {
                for name in events {
                    if name.eq_ignore_ascii_case("ALL") {
                        self.subs.all = true;
                    } else {
                        self.subs.names.insert(name);
                    }
                }
                self.subs.format = Some(format);
                self.reply(&format!("+OK event listener enabled {}", format.as_str()))
                    .await;
                if let Some(engine) = &self.shared.engine {
                    let _ = engine.send(Request::Subscribed).await;
                }
            }
            CommandKind::MyEvents { uuid, format } => {
                // Not ALL: the fixed list mod_event_socket.c subscribes (`outbound_plain` has no
                // CHANNEL_CALLSTATE or PLAYBACK_*).
                self.subs
                    .names
                    .extend(MYEVENTS.iter().map(|n| (*n).to_owned()));
                self.subs.format = Some(format);
                self.subs.uuid = uuid.or_else(|| Some(self.channel.0.clone()));
                self.reply("+OK Events Enabled").await;
            }
            CommandKind::Filter { header, value } => {
                let text = format!("+OK filter added. [{header}]=[{value}]");
                self.subs.filters.push((header, value));
                self.reply(&text).await;
            }
            CommandKind::FilterDelete { header, value } => {
                self.subs.filters.retain(|(h, v)| {
                    !(header.eq_ignore_ascii_case("all")
                        || (h == &header && value.as_ref().is_none_or(|x| x == v)))
                });
                self.reply("+OK filter deleted.").await;
            }
            CommandKind::NixEvent { events } => {
                for name in events {
                    self.subs.names.remove(&name);
                }
                self.reply("+OK events nixed").await;
            }
            CommandKind::NoEvents => {
                self.subs = Subscriptions::default();
                self.reply("+OK no longer listening for events").await;
            }
            CommandKind::Api { cmd, args } => {
                if !behaviour.api_delay.is_zero() {
                    tokio::time::sleep(behaviour.api_delay).await;
                }
                let output = match (
                    canned(&behaviour, &cmd, args.as_deref()),
                    &self.shared.engine,
                ) {
                    (Some(out), _) => out,
                    (None, Some(engine)) => {
                        let args = args.unwrap_or_default();
                        ask(engine, |reply| Request::Api { cmd, args, reply })
                            .await
                            .unwrap_or_default()
                    }
                    (None, None) => api_output(&behaviour, &cmd, args.as_deref()),
                };
                self.send(wire::api_response(output.as_bytes())).await;
            }
            CommandKind::BgApi {
                cmd,
                args,
                job_uuid,
            } => {
                if let (None, Some(engine)) = (
                    canned(&behaviour, &cmd, args.as_deref()),
                    &self.shared.engine,
                ) {
                    let args = args.unwrap_or_default();
                    let job = ask(engine, |reply| Request::BgApi {
                        cmd,
                        args,
                        job_uuid,
                        reply,
                    })
                    .await
                    .unwrap_or_default();
                    self.send(wire::reply(
                        &format!("+OK Job-UUID: {job}"),
                        &[("Job-UUID", &job)],
                    ))
                    .await;
                    return Flow::Continue;
                }
                let job = job_uuid.unwrap_or_else(|| self.shared.ids.uuid_v4());
                self.send(wire::reply(
                    &format!("+OK Job-UUID: {job}"),
                    &[("Job-UUID", &job)],
                ))
                .await;
                let output = api_output(&behaviour, &cmd, args.as_deref());
                let event = wire::background_job(
                    self.shared.next_sequence(),
                    &job,
                    &cmd,
                    args.as_deref().unwrap_or(""),
                    &output,
                );
                if behaviour.hold_jobs {
                    self.held_jobs.push(event);
                } else {
                    self.deliver(&event).await;
                }
            }
            CommandKind::SendMsg(msg) => match &self.shared.engine {
                Some(engine) => {
                    let uuid = msg.uuid.clone().unwrap_or_else(|| self.channel.0.clone());
                    let ok = ask(engine, |reply| Request::SendMsg {
                        uuid: uuid.clone(),
                        msg,
                        reply,
                    })
                    .await
                    .unwrap_or(false);
                    if ok {
                        self.reply("+OK").await;
                    } else {
                        self.reply(&format!("-ERR invalid session id [{uuid}]"))
                            .await;
                    }
                }
                None => self.reply("+OK").await,
            },
            CommandKind::Linger { secs } => {
                // As mod_event_socket.c words it (`outbound_json`: `linger 3`).
                let secs = secs.unwrap_or(-1);
                self.linger = Some(secs);
                if secs >= 0 {
                    self.reply(&format!("+OK will linger {secs} seconds")).await;
                } else {
                    self.reply("+OK will linger").await;
                }
            }
            CommandKind::NoLinger => {
                self.linger = None;
                self.reply("+OK will not linger").await;
            }
            CommandKind::Resume
            | CommandKind::Log { .. }
            | CommandKind::NoLog
            | CommandKind::DivertEvents { .. } => self.reply("+OK").await,
            CommandKind::Connect | CommandKind::Exit | CommandKind::Unknown { .. } => {
                self.reply("-ERR command not found").await
            }
        }
        Flow::Continue
    }
}

/// Asks the engine task and waits for its answer (`None`: the engine is gone).
async fn ask<T>(
    engine: &mpsc::Sender<Request>,
    make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Request,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    engine.send(make(tx)).await.ok()?;
    rx.await.ok()
}

/// A canned response for this command (a fault injected with [`Behaviour::api_responses`]).
fn canned(behaviour: &Behaviour, cmd: &str, args: Option<&str>) -> Option<String> {
    if behaviour.api_responses.is_empty() {
        return None;
    }
    let full = match args {
        Some(a) => format!("{cmd} {a}"),
        None => cmd.to_owned(),
    };
    behaviour.api_responses.get(&full).cloned()
}

/// An `api` command's output: canned responses first, then the few commands the peer knows.
fn api_output(behaviour: &Behaviour, cmd: &str, args: Option<&str>) -> String {
    if let Some(canned) = canned(behaviour, cmd, args) {
        return canned;
    }
    match cmd {
        "echo" => args.unwrap_or_default().to_owned(),
        "status" => STATUS.to_owned(),
        _ => format!("-ERR {cmd} Command not found!\n"),
    }
}

/// Unique-ID and Channel-Name from a connect reply frame.
fn channel_of(connect_reply: &Bytes) -> (String, String) {
    let mut buf = BytesMut::from(&connect_reply[..]);
    let frame = Framer::default()
        .next_frame(&mut buf)
        .ok()
        .flatten()
        .and_then(|raw| Frame::from_raw(raw).ok());
    let get = |name: &str| {
        frame
            .as_ref()
            .and_then(|f| f.headers.get(name).map(|v| v.into_owned()))
            .unwrap_or_default()
    };
    (get("Unique-ID"), get("Channel-Name"))
}
