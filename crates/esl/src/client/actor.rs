//! The connection actor: the one task that owns the socket.
//!
//! It reads frames, matches replies to the FIFO of pending slots, resolves background jobs,
//! forwards events, and writes the commands it is handed. Writes go through an output buffer
//! polled in the same `select!`, so a peer that stops reading never stops us from reading (and the
//! request queue stops being drained once `MAX_OUT` bytes are waiting).

#![allow(
    clippy::disallowed_methods,
    reason = "the connection actor times reads, replies, jobs and heartbeats on the real clock"
)]

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::arrival::Stamped;
use super::{ClientEvent, ClientStats, CloseReason, ConnState, EslError};
use crate::codec::{EslCodec, Frame};
use crate::event::JobResult;
use crate::fasthash::FxHashMap;
use crate::message::{Message, Reply};

/// The socket's read half, framed, each frame stamped with when its last byte was read.
pub(crate) type Frames =
    tokio_util::codec::FramedRead<Stamped<tokio::net::tcp::OwnedReadHalf>, EslCodec>;

/// Bytes waiting to be written above which no new request is taken.
const MAX_OUT: usize = 1024 * 1024;
/// Pending jobs above which callers that gave up are pruned from the job table (the threshold
/// then doubles past what is left, so pruning stays amortised O(1) per job).
const JOB_PRUNE_AT: usize = 4096;
/// At most one "event queue full" warning per this interval.
const DROP_WARN_EVERY: Duration = Duration::from_secs(1);

pub(crate) type ReplyTx = oneshot::Sender<Result<Reply, EslError>>;
pub(crate) type ApiTx = oneshot::Sender<Result<Bytes, EslError>>;
pub(crate) type JobTx = oneshot::Sender<Result<JobResult, EslError>>;

/// What a handle asks of the actor: bytes to write and where the answer goes.
pub(crate) enum Request {
    Command {
        bytes: Bytes,
        reply: ReplyTx,
    },
    Api {
        bytes: Bytes,
        reply: ApiTx,
    },
    /// `bgapi` with a client-chosen Job-UUID: `accepted` gets the `+OK Job-UUID` reply, `result`
    /// the BACKGROUND_JOB body.
    Bgapi {
        bytes: Bytes,
        job_uuid: String,
        accepted: ReplyTx,
        result: JobTx,
    },
}

/// One command waiting for its reply, in send order.
enum Slot {
    Command(ReplyTx),
    Api(ApiTx),
    Bgapi { job_uuid: String, accepted: ReplyTx },
}

pub(crate) struct Actor {
    pub(crate) frames: Frames,
    pub(crate) write: OwnedWriteHalf,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) events: mpsc::Sender<ClientEvent>,
    pub(crate) stats: Arc<ClientStats>,
    pub(crate) state: watch::Sender<ConnState>,
    pub(crate) cancel: CancellationToken,
    out: BytesMut,
    pending: VecDeque<Slot>,
    jobs: FxHashMap<String, JobTx>,
    /// Deadlines of the jobs in registration order (one `job_timeout` for all, so they are
    /// sorted); an entry whose job already finished is skipped when it comes due.
    job_deadlines: VecDeque<(Instant, String)>,
    job_timeout: Duration,
    prune_jobs_at: usize,
    drops_unreported: u64,
    last_drop_warn: Option<Instant>,
}

impl Actor {
    pub(crate) fn new(
        frames: Frames,
        write: OwnedWriteHalf,
        requests: mpsc::Receiver<Request>,
        events: mpsc::Sender<ClientEvent>,
        stats: Arc<ClientStats>,
        state: watch::Sender<ConnState>,
        cancel: CancellationToken,
    ) -> Actor {
        Actor {
            frames,
            write,
            requests,
            events,
            stats,
            state,
            cancel,
            out: BytesMut::new(),
            pending: VecDeque::new(),
            jobs: FxHashMap::default(),
            job_deadlines: VecDeque::new(),
            job_timeout: Duration::from_secs(600),
            prune_jobs_at: JOB_PRUNE_AT,
            drops_unreported: 0,
            last_drop_warn: None,
        }
    }

    /// How long a `bgapi` job waits for its BACKGROUND_JOB before it fails with `JobTimeout`.
    pub(crate) fn with_job_timeout(mut self, job_timeout: Duration) -> Actor {
        self.job_timeout = job_timeout;
        self
    }

    /// Runs until the connection ends; every waiting caller then fails with `Disconnected`
    /// (their oneshot senders are dropped with the actor).
    pub(crate) async fn run(mut self) -> CloseReason {
        let reason = self.serve().await;
        match &reason {
            CloseReason::Error(e) => {
                tracing::warn!(error = %e, pending = self.pending.len(), jobs = self.jobs.len(), "connection failed")
            }
            other => {
                tracing::info!(reason = %other, pending = self.pending.len(), jobs = self.jobs.len(), "connection closed")
            }
        }
        let _ = self.write.shutdown().await;
        self.state.send_replace(ConnState::Closed(reason.clone()));
        reason
    }

    async fn serve(&mut self) -> CloseReason {
        loop {
            let take_requests = self.out.len() < MAX_OUT;
            let next_deadline = self.job_deadlines.front().map(|(at, _)| *at);
            // Writes and requests before reads: a flood of events must not hold commands back
            // (each branch is bounded: writes by the buffer, requests by MAX_OUT, past which
            // reads go on while the peer drains what is written).
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return CloseReason::Shutdown,
                written = self.write.write_buf(&mut self.out), if !self.out.is_empty() => {
                    match written {
                        Ok(0) => return CloseReason::Error(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
                        Ok(_) => {}
                        Err(e) => return CloseReason::Error(e.into()),
                    }
                }
                request = self.requests.recv(), if take_requests => match request {
                    // Every handle is gone: nobody can send or wait any more.
                    None => return CloseReason::Shutdown,
                    Some(request) => self.on_request(request),
                },
                _ = tokio::time::sleep_until(next_deadline.unwrap_or_else(Instant::now)), if next_deadline.is_some() => {
                    self.expire_jobs(Instant::now());
                }
                frame = self.frames.next() => match frame {
                    None => return CloseReason::Eof,
                    Some(Err(e)) => return CloseReason::Error(e.into()),
                    Some(Ok(frame)) => {
                        let end = self.frames.decoder().offset();
                        let arrived = self.frames.get_mut().arrived(end).unwrap_or_else(std::time::Instant::now);
                        if let Err(reason) = self.on_frame(frame, arrived) {
                            return reason;
                        }
                        // Let whoever the frame woke (an event's consumer, a reply's caller)
                        // run before the next frame is decoded: a burst of buffered frames
                        // would otherwise hold back the commands they lead to.
                        tokio::task::yield_now().await;
                    }
                },
            }
        }
    }

    /// Pushes the slot (and registers the job) before the bytes are queued for writing.
    fn on_request(&mut self, request: Request) {
        let bytes = match request {
            Request::Command { bytes, reply } => {
                self.pending.push_back(Slot::Command(reply));
                bytes
            }
            Request::Api { bytes, reply } => {
                self.pending.push_back(Slot::Api(reply));
                bytes
            }
            Request::Bgapi {
                bytes,
                job_uuid,
                accepted,
                result,
            } => {
                if self.jobs.len() >= self.prune_jobs_at
                    || self.job_deadlines.len() >= 2 * self.prune_jobs_at
                {
                    // Jobs whose caller dropped its `BackgroundJob` would otherwise wait here
                    // for a result nobody reads; deadlines of finished jobs would wait for their
                    // turn to be skipped.
                    self.jobs.retain(|_, tx| !tx.is_closed());
                    let jobs = &self.jobs;
                    self.job_deadlines.retain(|(_, id)| jobs.contains_key(id));
                    self.prune_jobs_at = (self.jobs.len() * 2).max(JOB_PRUNE_AT);
                }
                let now = Instant::now();
                // A huge `job_timeout` means "never" (about 30 years, as tokio's own far future).
                let deadline = now
                    .checked_add(self.job_timeout)
                    .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
                self.job_deadlines.push_back((deadline, job_uuid.clone()));
                self.jobs.insert(job_uuid.clone(), result);
                self.pending.push_back(Slot::Bgapi { job_uuid, accepted });
                bytes
            }
        };
        self.out.extend_from_slice(&bytes);
    }

    /// Fails and forgets the jobs whose deadline has passed. A BACKGROUND_JOB that comes for one
    /// later finds no job and goes to the event stream (not an error).
    fn expire_jobs(&mut self, now: Instant) {
        while let Some((at, _)) = self.job_deadlines.front() {
            if *at > now {
                break;
            }
            let Some((_, job_uuid)) = self.job_deadlines.pop_front() else {
                break;
            };
            if let Some(tx) = self.jobs.remove(&job_uuid) {
                tracing::warn!(job.uuid = %job_uuid, timeout = ?self.job_timeout, "background job timed out: is BACKGROUND_JOB subscribed and not filtered out?");
                let _ = tx.send(Err(EslError::JobTimeout {
                    job_uuid,
                    after: self.job_timeout,
                }));
            }
        }
    }

    /// `arrived`: when the frame's last byte was read.
    fn on_frame(&mut self, frame: Frame, arrived: std::time::Instant) -> Result<(), CloseReason> {
        let message = match Message::from_frame(frame) {
            Ok(m) => m,
            Err(e) => {
                // The Content-Type said event: no reply was lost, the stream is still in step.
                tracing::warn!(error = %e, "unreadable event skipped");
                return Ok(());
            }
        };
        match message {
            Message::CommandReply(reply) => self.on_command_reply(reply),
            Message::ApiResponse(body) => match self.pending.pop_front() {
                Some(Slot::Api(tx)) => {
                    let _ = tx.send(Ok(body));
                    Ok(())
                }
                Some(_) => Err(out_of_step("api/response to a command that is not api")),
                None => Err(out_of_step("api/response with no command waiting")),
            },
            Message::Event(event) => {
                self.stats.count_received();
                if event.name() == "BACKGROUND_JOB" {
                    let job = event
                        .job_uuid()
                        .and_then(|id| self.jobs.remove(id.as_ref()));
                    if let Some(tx) = job {
                        let result = event
                            .job_result()
                            .unwrap_or_else(|| JobResult::Ok(String::new()));
                        let _ = tx.send(Ok(result));
                        return Ok(());
                    }
                }
                self.deliver(ClientEvent::Event(event, arrived));
                Ok(())
            }
            Message::Disconnect(notice) => {
                self.deliver(ClientEvent::Notice(notice.clone()));
                if notice.linger {
                    tracing::info!(linger_time = ?notice.linger_time, "linger notice: channel gone, socket stays open");
                    self.state.send_replace(ConnState::Lingering(notice));
                    Ok(())
                } else {
                    Err(CloseReason::Notice(notice))
                }
            }
            Message::RudeRejection(text) => Err(CloseReason::Error(EslError::Rejected {
                text: String::from_utf8_lossy(&text).trim_end().to_owned(),
            })),
            other => {
                tracing::debug!(kind = other.kind(), "message ignored");
                Ok(())
            }
        }
    }

    fn on_command_reply(&mut self, reply: Reply) -> Result<(), CloseReason> {
        match self.pending.pop_front() {
            Some(Slot::Command(tx)) => {
                let _ = tx.send(Ok(reply));
            }
            // FreeSWITCH answers `api` with a command/reply only when it refuses it (before auth,
            // or outbound without `full`): the caller gets the refusal.
            Some(Slot::Api(tx)) => {
                let _ = tx.send(Err(EslError::CommandFailed {
                    reply: reply.text(),
                }));
            }
            Some(Slot::Bgapi { job_uuid, accepted }) => {
                if !reply.is_ok() {
                    if let Some(job) = self.jobs.remove(&job_uuid) {
                        let _ = job.send(Err(EslError::CommandFailed {
                            reply: reply.text(),
                        }));
                    }
                }
                let _ = accepted.send(Ok(reply));
            }
            None => return Err(out_of_step("command/reply with no command waiting")),
        }
        Ok(())
    }

    /// Never waits: a full queue drops the event (counted, warned about at most once a second).
    fn deliver(&mut self, item: ClientEvent) {
        match self.events.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.count_dropped();
                self.drops_unreported += 1;
                let now = Instant::now();
                if self
                    .last_drop_warn
                    .is_none_or(|at| now.duration_since(at) >= DROP_WARN_EVERY)
                {
                    tracing::warn!(
                        dropped = self.drops_unreported,
                        total_dropped = self.stats.dropped_events(),
                        "event queue full: events dropped"
                    );
                    self.drops_unreported = 0;
                    self.last_drop_warn = Some(now);
                }
            }
            // Nobody listens to events any more; commands still work.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

fn out_of_step(detail: &'static str) -> CloseReason {
    CloseReason::Error(EslError::OutOfStep { detail })
}
