//! The task that owns the simulated switch's engine. Sessions and the [`super::SimHandle`] talk
//! to it through one bounded queue ([`REQUEST_CAPACITY`]; senders wait when it is full, so a
//! client flooding commands slows only itself). It moves virtual time (following the wall clock,
//! jumping to the next deadline, or only when told), places the scenario's calls, and after
//! every step hands the engine's output on: events to every session (without waiting: see
//! [`PeerHandle::deliver_now`]), outbound socket connections, CDR files.

#![allow(
    clippy::disallowed_methods,
    reason = "moves virtual time with the wall clock in real-time mode"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use super::engine::{Engine, Micros, OutboundRequest};
use super::peer::PeerHandle;
use super::request::Request;
use super::scenario::{Arrivals, Planned};
use super::state::Control;
use super::wire::connect_reply;

/// Capacity of the engine's request queue.
pub(crate) const REQUEST_CAPACITY: usize = 1024;

/// How virtual time moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// Virtual time follows the wall clock (`tokio::time`, so a paused test clock works too).
    RealTime,
    /// When no request has come for `settle` (wall time), jump to the next deadline: calls that
    /// take minutes run in milliseconds, and a client still gets `settle` to react to events.
    Virtual { settle: Duration },
    /// Time moves only through [`super::SimHandle::advance_by`] and
    /// [`super::SimHandle::run_until_idle`]: fully deterministic.
    Manual,
}

/// A reply to send once the engine's output has been handed on.
type Deferred = Box<dyn FnOnce() + Send>;

pub(crate) struct Driver {
    pub(crate) engine: Engine,
    pub(crate) peer: PeerHandle,
    pub(crate) rx: mpsc::Receiver<Request>,
    pub(crate) tx: mpsc::Sender<Request>,
    pub(crate) time: TimeMode,
    pub(crate) started: bool,
    pub(crate) arrivals: Arrivals,
    pub(crate) cdr_dir: Option<PathBuf>,
    pub(crate) max_failed_enqueues: u32,
    /// Outbound sessions by channel uuid.
    pub(crate) outbound: HashMap<String, u64>,
    /// Virtual time when the scenario started (its calls' times count from it).
    pub(crate) base: Micros,
    /// Real-time mode: the instant of virtual time 0.
    pub(crate) origin: Instant,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let cancel = self.peer.cancel_token().clone();
        if self.started {
            self.start();
        }
        loop {
            let wake = self.wake_at();
            let sleep_until = match (self.time, wake) {
                (TimeMode::RealTime, Some(t)) => Some(self.origin + Duration::from_micros(t)),
                (TimeMode::Virtual { settle }, Some(_)) => Some(Instant::now() + settle),
                _ => None,
            };
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                request = self.rx.recv() => match request {
                    Some(Request::Advance { to, limit, done }) => {
                        self.follow_wall_clock();
                        self.advance_stepwise(to, limit).await;
                        let _ = done.send(self.engine.now());
                    }
                    Some(request) => {
                        self.follow_wall_clock();
                        let reply = self.on_request(request);
                        // Events a command raised are queued before its reply goes out, so a
                        // session writes them right after the reply, as FreeSWITCH does.
                        self.flush();
                        if let Some(reply) = reply {
                            reply();
                        }
                        continue;
                    }
                    None => return,
                },
                _ = tokio::time::sleep_until(sleep_until.unwrap_or(far)), if sleep_until.is_some() => {
                    if let Some(t) = wake {
                        self.advance_to(t);
                    }
                }
            }
            self.flush();
        }
    }

    /// Moves time to `to` (or through every wake-up up to `limit`) one wake-up at a time,
    /// handing the output on and yielding after each, so sessions drain their queues as a
    /// real switch's listeners would while time passes.
    async fn advance_stepwise(&mut self, to: Option<Micros>, limit: Micros) {
        let end = to.unwrap_or(limit);
        while let Some(t) = self.wake_at().filter(|t| *t <= end) {
            self.advance_to(t);
            self.flush();
            tokio::task::yield_now().await;
        }
        if to.is_some() {
            self.advance_to(end);
        }
        self.flush();
    }

    fn start(&mut self) {
        self.started = true;
        self.base = self.engine.now();
        self.origin = Instant::now() - Duration::from_micros(self.base);
    }

    /// The next virtual time something happens (a timer or an arrival), once started.
    fn wake_at(&self) -> Option<Micros> {
        if !self.started {
            return None;
        }
        let arrival = self.arrivals.next_at().map(|t| self.base + t);
        match (self.engine.next_deadline(), arrival) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn follow_wall_clock(&mut self) {
        if self.time == TimeMode::RealTime && self.started {
            let now = self.origin.elapsed().as_micros() as Micros;
            self.advance_to(now);
        }
    }

    /// Moves virtual time to `t`, placing the scenario's calls at their times.
    fn advance_to(&mut self, t: Micros) {
        while self.started {
            match self.arrivals.next_at() {
                Some(at) if self.base + at <= t => {
                    self.engine.advance_to(self.base + at);
                    if let Some(p) = self.arrivals.pop() {
                        self.place(&p);
                    }
                }
                _ => break,
            }
        }
        self.engine.advance_to(t);
    }

    fn place(&mut self, p: &Planned) {
        let handles = self.engine.inbound_call(&p.call);
        let now = self.engine.now();
        if let Some(after) = p.abandon_after {
            let _ = self.engine.schedule_hangup(
                &handles.phone,
                now + after,
                super::engine::Cause::NORMAL_CLEARING,
            );
        }
        for (at, digits) in &p.dtmf {
            let _ = self.engine.schedule_dtmf(&handles.phone, now + at, digits);
        }
    }

    fn on_request(&mut self, request: Request) -> Option<Deferred> {
        fn later<T: Send + 'static>(tx: oneshot::Sender<T>, value: T) -> Option<Deferred> {
            Some(Box::new(move || {
                let _ = tx.send(value);
            }))
        }
        match request {
            Request::Api { cmd, args, reply } => {
                let out = self.engine.api(&cmd, &args);
                later(reply, out)
            }
            Request::BgApi {
                cmd,
                args,
                job_uuid,
                reply,
            } => {
                let job = self.engine.bgapi(&cmd, &args, job_uuid.as_deref());
                later(reply, job)
            }
            Request::SendMsg { uuid, msg, reply } => {
                let command = msg.call_command.as_deref().unwrap_or("execute");
                let result = if command.eq_ignore_ascii_case("hangup") {
                    self.engine
                        .sendmsg_hangup(&uuid, msg.hangup_cause.as_deref())
                } else if command.eq_ignore_ascii_case("execute") {
                    let app = msg.app_name.as_deref().unwrap_or_default();
                    let arg = msg.app_arg.as_deref().unwrap_or_default();
                    let loops = msg.loops.unwrap_or(1).max(1);
                    let mut result = Ok(());
                    for _ in 0..loops {
                        result =
                            self.engine
                                .sendmsg_execute(&uuid, app, arg, msg.event_uuid.as_deref());
                    }
                    result
                } else {
                    // nomedia, unicast, …: not modelled; queued and ignored.
                    Ok(())
                };
                later(reply, result.is_ok())
            }
            Request::Subscribed => {
                if !self.started {
                    self.start();
                }
                None
            }
            Request::OutboundConnected { uuid, conn } => {
                match conn {
                    Some(conn) => {
                        self.outbound.insert(uuid, conn);
                    }
                    None => {
                        let _ = self.engine.outbound_closed(&uuid);
                    }
                }
                None
            }
            Request::OutboundEnded { uuid } => {
                self.outbound.remove(&uuid);
                let _ = self.engine.outbound_closed(&uuid);
                None
            }
            Request::With { run, reply } => {
                let result = run(&mut self.engine);
                later(reply, result)
            }
            Request::Advance { done, .. } => {
                // Handled in `run` (it yields between steps).
                later(done, self.engine.now())
            }
        }
    }

    /// Hands the engine's output on.
    fn flush(&mut self) {
        for event in self.engine.take_events() {
            // The notice follows the channel's last event an outbound socket gets
            // (`outbound_plain`: CHANNEL_HANGUP_COMPLETE, then the linger notice).
            let hung_up = (event.name() == "CHANNEL_HANGUP_COMPLETE")
                .then(|| event.unique_id())
                .flatten()
                .and_then(|u| self.outbound.get(u.as_ref()).copied());
            self.peer
                .deliver_now(&Arc::new(event), self.max_failed_enqueues);
            if let Some(conn) = hung_up {
                self.peer.control_now(conn, Control::Hangup);
            }
        }
        for request in self.engine.take_outbound_requests() {
            self.connect_outbound(request);
        }
        // CDRs become JSON only when there is a directory to write them to.
        let cdrs = self.engine.take_cdr_records();
        if let Some(dir) = &self.cdr_dir {
            for cdr in cdrs {
                write_cdr(dir, &cdr.to_json());
            }
        }
    }

    fn connect_outbound(&mut self, request: OutboundRequest) {
        let Some(event) = self.engine.channel_data(&request.uuid) else {
            return;
        };
        let reply = connect_reply(&event, &request);
        let peer = self.peer.clone();
        let tx = self.tx.clone();
        let uuid = request.uuid.clone();
        let span = tracing::info_span!("outbound", call.uuid = %uuid, address = %request.address);
        self.peer.tracker().spawn(
            async move {
                let conn = match request.address.parse::<SocketAddr>() {
                    Ok(addr) => match peer.place_call(addr, reply).await {
                        Ok(conn) => Some(conn),
                        Err(e) => {
                            tracing::warn!(error = %e, "outbound connection failed");
                            None
                        }
                    },
                    Err(_) => {
                        tracing::warn!("outbound address is not host:port");
                        None
                    }
                };
                let _ = tx.send(Request::OutboundConnected { uuid, conn }).await;
            }
            .instrument(span),
        );
    }
}

/// Writes one CDR (`{"file": name, "cdr": document}` from the engine) as mod_json_cdr would.
fn write_cdr(dir: &std::path::Path, cdr: &serde_json::Value) {
    let (Some(name), Some(doc)) = (cdr.get("file").and_then(|f| f.as_str()), cdr.get("cdr")) else {
        return;
    };
    // The engine names files after uuids; never let a name leave the directory.
    if name.contains('/') || name.contains("..") {
        return;
    }
    let path = dir.join(name);
    let written = serde_json::to_vec(doc)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&path, bytes));
    if let Err(e) = written {
        tracing::warn!(error = %e, path = %path.display(), "writing a CDR failed");
    }
}
