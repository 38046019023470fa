//! The handle ([`EslClient`]), the inbound handshake and the spawning of the connection actor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::actor::{Actor, Frames, Request};
use super::arrival::Stamped;
use super::{
    ClientEvent, ClientOptions, ClientStats, CloseReason, ConnState, EslError, EventStream,
    JobResult, Reply, StatsSnapshot,
};
use crate::codec::EslCodec;
use crate::command::{Command, EventFormat};
use crate::message::Message;
use crate::splitmix::SharedSplitMix64;

/// A cheap, clonable handle to one connection. Every call goes to the connection task; a call
/// whose connection dies fails with [`EslError::Disconnected`]. Dropping a call's future (or
/// wrapping it in a timeout) is safe: its reply is still consumed in order.
#[derive(Clone, Debug)]
pub struct EslClient {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    peer: SocketAddr,
    stats: Arc<ClientStats>,
    state: watch::Receiver<ConnState>,
    ids: SharedSplitMix64,
    cancel: CancellationToken,
}

/// A `bgapi` job FreeSWITCH accepted; its result comes with the BACKGROUND_JOB event.
#[derive(Debug)]
pub struct BackgroundJob {
    job_uuid: String,
    result: oneshot::Receiver<Result<JobResult, EslError>>,
}

impl BackgroundJob {
    /// The `Job-UUID` this client chose for the job (BACKGROUND_JOB carries it back).
    pub fn job_uuid(&self) -> &str {
        &self.job_uuid
    }

    /// Waits for the job's BACKGROUND_JOB event (which must be subscribed); `Disconnected` if the
    /// connection dies first (a job of a lost connection never completes); `JobTimeout` once
    /// `ClientOptions::job_timeout` has passed since the job was sent.
    pub async fn result(self) -> Result<JobResult, EslError> {
        self.result.await.unwrap_or(Err(EslError::Disconnected))
    }

    /// [`result`](BackgroundJob::result), giving up with `JobTimeout` after `limit` (or the
    /// connection's `job_timeout`, whichever comes first). The actor drops the job at its own
    /// deadline; a result that comes after is not an error.
    pub async fn result_within(self, limit: Duration) -> Result<JobResult, EslError> {
        match tokio::time::timeout(limit, self.result).await {
            Ok(result) => result.unwrap_or(Err(EslError::Disconnected)),
            Err(_) => Err(EslError::JobTimeout {
                job_uuid: self.job_uuid,
                after: limit,
            }),
        }
    }
}

/// Opens an inbound connection, authenticates and starts the connection task.
///
/// Errors: [`EslError::AuthFailed`] (wrong password), [`EslError::Rejected`] (ACL),
/// [`EslError::DisconnectNotice`], [`EslError::Timeout`], [`EslError::Io`].
pub async fn connect(
    addr: impl ToSocketAddrs,
    password: &str,
    options: ClientOptions,
) -> Result<(EslClient, EventStream), EslError> {
    let (events_tx, events_rx) = mpsc::channel(options.event_capacity.max(1));
    let client = connect_inbound(addr, password, &options, events_tx).await?;
    Ok((client, EventStream::new(events_rx)))
}

/// [`connect`] with the caller's event queue (the supervisor shares one across generations).
pub(crate) async fn connect_inbound(
    addr: impl ToSocketAddrs,
    password: &str,
    options: &ClientOptions,
    events: mpsc::Sender<ClientEvent>,
) -> Result<EslClient, EslError> {
    let setup = async {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr()?;
        let (read, mut write) = stream.into_split();
        let mut frames = FramedRead::new(Stamped::new(read), EslCodec::new());
        authenticate(&mut frames, &mut write, password).await?;
        Ok::<_, EslError>((peer, frames, write))
    };
    let (peer, frames, write) = tokio::time::timeout(options.connect_timeout, setup)
        .await
        .map_err(|_| EslError::Timeout {
            stage: "connect and auth",
        })??;
    Ok(spawn_connection(peer, frames, write, options, events))
}

/// The next message of the handshake; the typed errors for the messages that end it.
pub(crate) async fn handshake_message(frames: &mut Frames) -> Result<Message, EslError> {
    let frame = frames.next().await.ok_or(EslError::Disconnected)??;
    let message = Message::from_frame(frame).map_err(|_| EslError::Handshake {
        expected: "a reply",
        got: "an unreadable event",
    })?;
    match message {
        Message::RudeRejection(text) => Err(EslError::Rejected {
            text: String::from_utf8_lossy(&text).trim_end().to_owned(),
        }),
        Message::Disconnect(notice) => Err(EslError::DisconnectNotice {
            notice: Box::new(notice),
        }),
        other => Ok(other),
    }
}

async fn authenticate(
    frames: &mut Frames,
    write: &mut OwnedWriteHalf,
    password: &str,
) -> Result<(), EslError> {
    match handshake_message(frames).await? {
        Message::AuthRequest => {}
        other => {
            return Err(EslError::Handshake {
                expected: "auth/request",
                got: other.kind(),
            });
        }
    }
    write
        .write_all(&Command::auth(password)?.to_bytes())
        .await?;
    match handshake_message(frames).await? {
        Message::CommandReply(reply) if reply.is_ok() => Ok(()),
        Message::CommandReply(reply) => Err(EslError::AuthFailed {
            reply: reply.text(),
        }),
        other => Err(EslError::Handshake {
            expected: "command/reply to auth",
            got: other.kind(),
        }),
    }
}

/// Starts the connection task over a socket whose handshake is done.
pub(crate) fn spawn_connection(
    peer: SocketAddr,
    frames: Frames,
    write: OwnedWriteHalf,
    options: &ClientOptions,
    events: mpsc::Sender<ClientEvent>,
) -> EslClient {
    let (tx, requests) = mpsc::channel(options.request_capacity.max(1));
    let (state_tx, state) = watch::channel(ConnState::Open);
    let cancel = options.cancel.child_token();
    let actor = Actor::new(
        frames,
        write,
        requests,
        events,
        options.stats.clone(),
        state_tx,
        cancel.clone(),
    )
    .with_job_timeout(options.job_timeout);
    let span = tracing::info_span!("esl_connection", peer = %peer);
    options.tracker.spawn(actor.run().instrument(span));
    let ids = match options.uuid_seed {
        Some(seed) => SharedSplitMix64::new(seed),
        None => SharedSplitMix64::from_os(),
    };
    EslClient {
        tx,
        shared: Arc::new(Shared {
            peer,
            stats: options.stats.clone(),
            state,
            ids,
            cancel,
        }),
    }
}

impl EslClient {
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EslError>>) -> Request,
    ) -> Result<T, EslError> {
        let rx = self.enqueue(make).await?;
        rx.await.unwrap_or(Err(EslError::Disconnected))
    }

    /// Hands a request to the actor (its place in the FIFO is taken from here) without waiting
    /// for the answer.
    async fn enqueue<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EslError>>) -> Request,
    ) -> Result<oneshot::Receiver<Result<T, EslError>>, EslError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| EslError::Disconnected)?;
        Ok(rx)
    }

    /// Queues `command` and returns a future of its reply (`-ERR` as
    /// [`EslError::CommandFailed`]): everything sent through this handle afterwards is answered
    /// after it.
    pub async fn queue_command_ok(
        &self,
        command: Command,
    ) -> Result<impl Future<Output = Result<Reply, EslError>> + use<>, EslError> {
        let bytes = command.to_bytes();
        let rx = self
            .enqueue(|reply| Request::Command { bytes, reply })
            .await?;
        Ok(async move {
            let reply = rx.await.unwrap_or(Err(EslError::Disconnected))?;
            if reply.is_ok() {
                Ok(reply)
            } else {
                Err(EslError::CommandFailed {
                    reply: reply.text(),
                })
            }
        })
    }

    /// `api <cmd>`: the body of its `api/response` (which may not end with a newline; an
    /// `-ERR …` body is a normal answer, not an error). FreeSWITCH runs `api` in the socket's
    /// thread: nothing else (events included) moves until it finishes. Use `bgapi` for slow work.
    pub async fn api(&self, cmd: &str) -> Result<Bytes, EslError> {
        let bytes = Command::api(cmd)?.to_bytes();
        self.request(|reply| Request::Api { bytes, reply }).await
    }

    /// [`api`](EslClient::api) read as text (lossy).
    pub async fn api_text(&self, cmd: &str) -> Result<String, EslError> {
        let body = self.api(cmd).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `bgapi <cmd>` with a fresh Job-UUID; resolves when FreeSWITCH has accepted the job.
    /// The job is registered before the command is written, so its result cannot be missed.
    pub async fn bgapi_job(&self, cmd: &str) -> Result<BackgroundJob, EslError> {
        let job_uuid = self.new_uuid();
        let bytes = Command::bgapi(cmd, &job_uuid)?.to_bytes();
        let (result_tx, result) = oneshot::channel();
        let uuid = job_uuid.clone();
        let reply = self
            .request(move |accepted| Request::Bgapi {
                bytes,
                job_uuid: uuid,
                accepted,
                result: result_tx,
            })
            .await?;
        if !reply.is_ok() {
            return Err(EslError::CommandFailed {
                reply: reply.text(),
            });
        }
        Ok(BackgroundJob { job_uuid, result })
    }

    /// `bgapi <cmd>` and its result. Needs `BACKGROUND_JOB` (or `ALL`) subscribed and not
    /// filtered out; otherwise it ends with `JobTimeout` after `ClientOptions::job_timeout`.
    pub async fn bgapi(&self, cmd: &str) -> Result<JobResult, EslError> {
        self.bgapi_job(cmd).await?.result().await
    }

    /// Sends any command and returns its `command/reply`, `+OK` or `-ERR` alike. (For `api` and
    /// `bgapi` use [`api`](EslClient::api) / [`bgapi`](EslClient::bgapi): their answers come back
    /// differently.)
    pub async fn command(&self, command: Command) -> Result<Reply, EslError> {
        let bytes = command.to_bytes();
        self.request(|reply| Request::Command { bytes, reply })
            .await
    }

    /// [`command`](EslClient::command), with a `-ERR` reply turned into
    /// [`EslError::CommandFailed`].
    pub async fn command_ok(&self, command: Command) -> Result<Reply, EslError> {
        let reply = self.command(command).await?;
        if reply.is_ok() {
            Ok(reply)
        } else {
            Err(EslError::CommandFailed {
                reply: reply.text(),
            })
        }
    }

    /// `event plain <names…>` (e.g. `["CHANNEL_PARK", "BACKGROUND_JOB"]`, or `["ALL"]`).
    pub async fn subscribe(&self, names: &[&str]) -> Result<Reply, EslError> {
        self.command_ok(Command::event(EventFormat::Plain, names)?)
            .await
    }

    /// `filter <header> <value>` (positive filters are OR'ed by FreeSWITCH).
    pub async fn filter(&self, header: &str, value: &str) -> Result<Reply, EslError> {
        self.command_ok(Command::filter(header, value)?).await
    }

    /// `sendmsg [uuid]` executing `app arg` with `event-lock: true` and a fresh `Event-UUID`,
    /// returned: it comes back as `Application-UUID` on CHANNEL_EXECUTE(_COMPLETE). `+OK` means
    /// only "queued". `uuid` is `None` in outbound mode (the socket's own channel).
    pub async fn execute(
        &self,
        uuid: Option<&str>,
        app: &str,
        arg: Option<&str>,
    ) -> Result<String, EslError> {
        let event_uuid = self.new_uuid();
        self.command_ok(Command::sendmsg_execute(uuid, app, arg, &event_uuid)?)
            .await?;
        Ok(event_uuid)
    }

    /// `myevents` (outbound mode: this channel's events, plain).
    pub async fn myevents(&self) -> Result<Reply, EslError> {
        self.command_ok(Command::myevents(None)).await
    }

    /// `linger`: keep the socket open after the channel hangs up, for its last events.
    pub async fn linger(&self) -> Result<Reply, EslError> {
        self.command_ok(Command::linger(None)).await
    }

    /// `exit`: FreeSWITCH answers `+OK bye`, sends a final disconnect notice and closes.
    pub async fn exit(&self) -> Result<Reply, EslError> {
        self.command(Command::exit()).await
    }

    /// A fresh uuid-v4 from this connection's generator (seeded by `ClientOptions::uuid_seed`).
    pub fn new_uuid(&self) -> String {
        self.shared.ids.uuid_v4()
    }

    /// The address of FreeSWITCH's end of the socket.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    /// The counters of [`ClientOptions::stats`] at this moment (shared with every connection
    /// that uses the same [`ClientStats`]).
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Events thrown away because the event queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.shared.stats.dropped_events()
    }

    /// Where the connection stands now: open, lingering after a linger notice, or closed (with
    /// the reason).
    pub fn state(&self) -> ConnState {
        self.shared.state.borrow().clone()
    }

    /// Whether the connection has ended ([`ConnState::Closed`]).
    pub fn is_closed(&self) -> bool {
        matches!(*self.shared.state.borrow(), ConnState::Closed(_))
    }

    /// Waits until the connection has ended and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut state = self.shared.state.clone();
        let result = state
            .wait_for(|s| matches!(s, ConnState::Closed(_)))
            .await
            .map(|s| s.clone());
        match result {
            Ok(ConnState::Closed(reason)) => reason,
            // The actor is gone without a word (its task was aborted).
            _ => CloseReason::Shutdown,
        }
    }

    /// Closes the connection from our side (pending calls fail with `Disconnected`).
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
    }
}
