//! Keeps an inbound connection up: reconnects with jittered exponential backoff, replays the
//! subscriptions on every new connection and tells its user where one generation ends and the
//! next begins, so live calls can be reconciled (nothing is replayed by FreeSWITCH).
//!
//! On the shared event stream, a generation looks like: `Connected { generation }`, its events,
//! `Disconnected { generation, reason }`. Failed attempts show as `ConnectFailed`. Pending calls and
//! bgapi jobs of a lost generation fail with `Disconnected`; they are never carried over.
//!
//! Backoff: failed attempt `n` waits `d/2 + rand(0..=d/2)` with `d = min(max, base·2^(n-1))`.
//! The attempt count restarts as soon as a connection has authenticated and its subscriptions
//! were answered `+OK`: after such a connection drops, the first retry is immediate (FreeSWITCH's
//! `reload mod_event_socket` accepts again within about 0.1 s), and only the tries that fail
//! after it back off. A switch that accepts, answers and drops again at once would make that a
//! tight loop: a subscribed connection that lived less than `stable_after` counts as a flap, and
//! consecutive flaps back off like failed attempts. A wrong password (`AuthFailed`) or an ACL
//! refusal (`Rejected`) will not fix itself quickly: by default the supervisor waits the full
//! `backoff_max` before the next try (never a hot loop), logs each refusal as an error with
//! `auth_hint`, or stops for good with [`AuthFailurePolicy::Stop`].
//!
//! A switch that froze, or a connection that died without a FIN (a lost route), looks exactly
//! like a quiet switch. With a [`Heartbeat`] (on by default) the supervisor sends `api status`
//! every `every` and drops the connection when no answer comes within `timeout`: the user sees
//! `Disconnected { reason: Error(Timeout { stage: "heartbeat" }) }` and a new generation. Keep
//! slow work on `bgapi`: a long `api` ahead of the heartbeat in the same socket delays its answer.

#![allow(
    clippy::disallowed_methods,
    reason = "reconnect backoff and heartbeats run on the real clock"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::handle::connect_inbound;
use super::{
    ClientEvent, ClientOptions, ClientStats, CloseReason, EslClient, EslError, EventStream,
    JobResult, Reply, StatsSnapshot,
};
use crate::command::Command;
use crate::splitmix::SharedSplitMix64;

/// What to do when FreeSWITCH refuses the password or the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthFailurePolicy {
    /// Try again after `backoff_max` (the password may be fixed on the switch's side).
    #[default]
    RetryAtMax,
    /// Stop the supervisor: the event stream ends after the `ConnectFailed`.
    Stop,
}

/// Liveness probe of the connection: `api status` every `every`, answered within `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between probes, counted from the previous answer (20 s by default).
    pub every: Duration,
    /// How long an `api status` may take before the connection is dropped (10 s by default).
    pub timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat {
            every: Duration::from_secs(20),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where and how to stay connected.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// `host:port` of the event socket.
    pub addr: String,
    /// The event socket's password (`ClueCon` in a stock FreeSWITCH).
    pub password: String,
    /// Commands sent, in order, on every new connection (`Command::event(..)`,
    /// `Command::filter(..)`, …). Each must be answered `+OK` (all within
    /// `options.connect_timeout`), or the connection is dropped and retried.
    pub subscriptions: Vec<Command>,
    /// Backoff unit: attempt `n` waits between half and all of `base·2^(n-1)`, capped at
    /// `backoff_max` (100 ms by default).
    pub backoff_base: Duration,
    /// Longest backoff, and the wait after a refused password or address (30 s by default).
    pub backoff_max: Duration,
    /// A subscribed connection that drops sooner than this (a flapping switch) is followed by a
    /// backoff instead of an immediate retry (1 s by default). The backoff itself restarts on
    /// every connection that authenticated and subscribed.
    pub stable_after: Duration,
    /// `None` turns the liveness probe off.
    pub heartbeat: Option<Heartbeat>,
    /// Seed of the jitter; `None` seeds from the OS.
    pub rng_seed: Option<u64>,
    /// What to do when the password or the address is refused (retry after `backoff_max` by
    /// default).
    pub auth_failure: AuthFailurePolicy,
    /// Said with every refused password or address, logged as an error: where the user
    /// configured the password (the default names only mod_event_socket's side).
    pub auth_hint: String,
    /// Per-connection options; its token stops the supervisor, its tracker runs every task, its
    /// stats count across generations, its `event_capacity` sizes the shared stream.
    pub options: ClientOptions,
}

impl SupervisorConfig {
    /// A config for `addr` (`host:port`) and `password` with the defaults: no subscriptions,
    /// backoff from 100 ms to 30 s, flaps under 1 s, [`Heartbeat::default`], OS-seeded jitter,
    /// [`AuthFailurePolicy::RetryAtMax`], a generic `auth_hint`, [`ClientOptions::default`].
    pub fn new(addr: impl Into<String>, password: impl Into<String>) -> SupervisorConfig {
        SupervisorConfig {
            addr: addr.into(),
            password: password.into(),
            subscriptions: Vec::new(),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(1),
            heartbeat: Some(Heartbeat::default()),
            rng_seed: None,
            auth_failure: AuthFailurePolicy::default(),
            auth_hint: "is the password the one in mod_event_socket's event_socket.conf.xml, \
                        and does its apply-inbound-acl let this host in?"
                .to_owned(),
            options: ClientOptions::default(),
        }
    }

    /// The wait before attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32, rng: &SharedSplitMix64) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.backoff_max);
        let half = exp / 2;
        // Past ~584 years of nanoseconds the jitter saturates instead of wrapping.
        let bound = u64::try_from(half.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        half.saturating_add(Duration::from_nanos(rng.below(bound)))
    }
}

/// Handle to a running supervisor (cheap to clone).
#[derive(Debug, Clone)]
pub struct Supervisor {
    current: watch::Receiver<Option<(u64, EslClient)>>,
    cancel: CancellationToken,
    stats: Arc<ClientStats>,
}

/// Starts a supervisor. The stream carries every generation's events and the markers between
/// them; it ends when the supervisor stops (cancellation, or `AuthFailurePolicy::Stop`).
pub fn connect_supervised(config: SupervisorConfig) -> (Supervisor, EventStream) {
    let (events_tx, events_rx) = mpsc::channel(config.options.event_capacity.max(1));
    let (current_tx, current) = watch::channel(None);
    let cancel = config.options.cancel.clone();
    let stats = config.options.stats.clone();
    let span = tracing::info_span!("esl_supervisor", addr = %config.addr);
    let tracker = config.options.tracker.clone();
    tracker.spawn(run(config, events_tx, current_tx).instrument(span));
    (
        Supervisor {
            current,
            cancel,
            stats,
        },
        EventStream::new(events_rx),
    )
}

impl Supervisor {
    /// The live connection, if there is one: authenticated, its subscriptions queued ahead of
    /// anything sent through it (set before `Connected` is emitted).
    pub fn client(&self) -> Option<EslClient> {
        self.current.borrow().as_ref().map(|(_, c)| c.clone())
    }

    /// The generation of the live connection (0 before the first).
    pub fn generation(&self) -> u64 {
        self.current.borrow().as_ref().map_or(0, |(g, _)| *g)
    }

    /// Waits for a live connection (as [`client`](Supervisor::client)); `Disconnected` once the
    /// supervisor has stopped.
    pub async fn wait_connected(&self) -> Result<EslClient, EslError> {
        let mut current = self.current.clone();
        let found = current
            .wait_for(|c| c.as_ref().is_some_and(|(_, c)| !c.is_closed()))
            .await
            .map_err(|_| EslError::Disconnected)?;
        found
            .as_ref()
            .map(|(_, c)| c.clone())
            .ok_or(EslError::Disconnected)
    }

    /// `api` on the live connection; `Disconnected` when there is none right now.
    pub async fn api(&self, cmd: &str) -> Result<Bytes, EslError> {
        self.client().ok_or(EslError::Disconnected)?.api(cmd).await
    }

    /// `bgapi` on the live connection; fails with `Disconnected` if that connection dies first.
    pub async fn bgapi(&self, cmd: &str) -> Result<JobResult, EslError> {
        self.client()
            .ok_or(EslError::Disconnected)?
            .bgapi(cmd)
            .await
    }

    /// The counters across every generation (`reconnects` counts connections after the
    /// first).
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops reconnecting and closes the live connection.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

async fn run(
    config: SupervisorConfig,
    events: mpsc::Sender<ClientEvent>,
    current: watch::Sender<Option<(u64, EslClient)>>,
) {
    let cancel = config.options.cancel.clone();
    let rng = match config.rng_seed {
        Some(seed) => SharedSplitMix64::new(seed),
        None => SharedSplitMix64::from_os(),
    };
    let mut generation = 0u64;
    // The current try, counted since the last connection that authenticated and subscribed.
    let mut attempt = 0u32;
    // Consecutive subscribed connections that dropped within `stable_after`.
    let mut flaps = 0u32;
    // Consecutive refusals of the password or the address.
    let mut refusals = 0u32;
    // The sends below wait for room in the queue (markers are never dropped), but give way to
    // shutdown.
    let emit = |item: ClientEvent| {
        let events = events.clone();
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                _ = cancel.cancelled() => false,
                sent = events.send(item) => sent.is_ok(),
            }
        }
    };
    loop {
        attempt = attempt.saturating_add(1);
        let span = tracing::info_span!("esl_generation", generation = generation + 1, attempt);
        // Each generation draws its Job-UUIDs and Event-UUIDs from its own window of the seeded
        // sequence: FreeSWITCH still fires an old generation's BACKGROUND_JOB at every
        // listener, and it must not resolve a new job that happens to have the same id.
        let options = ClientOptions {
            uuid_seed: config
                .options
                .uuid_seed
                .map(|seed| crate::splitmix::stream_seed(seed, generation + 1)),
            ..config.options.clone()
        };
        let connected = tokio::select! {
            _ = cancel.cancelled() => break,
            c = connect_inbound(&config.addr, &config.password, &options, events.clone()).instrument(span.clone()) => c,
        };
        let client = match connected {
            Ok(client) => client,
            Err(error) => {
                let refused = matches!(
                    error,
                    EslError::AuthFailed { .. } | EslError::Rejected { .. }
                );
                let retry_in = if refused {
                    config.backoff_max
                } else {
                    config.backoff(attempt, &rng)
                };
                if refused {
                    refusals = refusals.saturating_add(1);
                    tracing::error!(
                        parent: &span,
                        %error,
                        refusals,
                        ?retry_in,
                        hint = %config.auth_hint,
                        "FreeSWITCH refused the connection"
                    );
                } else {
                    tracing::warn!(parent: &span, %error, ?retry_in, "connect failed");
                }
                let stop = refused && config.auth_failure == AuthFailurePolicy::Stop;
                if !emit(ClientEvent::ConnectFailed {
                    attempt,
                    error,
                    retry_in,
                })
                .await
                    || stop
                {
                    break;
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(retry_in) => continue,
                }
            }
        };
        refusals = 0;
        generation += 1;
        if generation > 1 {
            config.options.stats.count_reconnect();
        }
        // The subscriptions are queued before the connection is published, so whatever a
        // consumer sends on `Connected` (reconciling with `show channels as json`) is answered
        // after them: the actor keeps commands in FIFO order.
        let queued = tokio::time::timeout(
            config.options.connect_timeout,
            queue_subscriptions(&client, &config.subscriptions),
        )
        .await
        .unwrap_or(Err(EslError::Timeout { stage: "subscribe" }));
        if queued.is_ok() {
            current.send_replace(Some((generation, client.clone())));
        }
        if !emit(ClientEvent::Connected { generation }).await {
            client.shutdown();
            break;
        }
        let subscribed = match queued {
            Ok(replies) => tokio::time::timeout(config.options.connect_timeout, async {
                for reply in replies {
                    reply.await?;
                }
                Ok(())
            })
            .instrument(span.clone())
            .await
            .unwrap_or(Err(EslError::Timeout { stage: "subscribe" })),
            Err(error) => Err(error),
        };
        let up_since = subscribed.is_ok().then(Instant::now);
        let reason = match subscribed {
            Ok(()) => {
                tracing::info!(parent: &span, "connected and subscribed");
                // Authenticated and subscribed: the switch is back, whatever happened before.
                attempt = 0;
                tokio::select! {
                    _ = cancel.cancelled() => { client.shutdown(); client.closed().await }
                    reason = watch_connection(&client, config.heartbeat) => reason,
                }
            }
            Err(error) => {
                tracing::warn!(parent: &span, %error, "subscription failed");
                client.shutdown();
                client.closed().await;
                CloseReason::Error(error)
            }
        };
        current.send_replace(None);
        tracing::info!(parent: &span, %reason, "generation ended");
        // After a connection that worked, the first retry is immediate (unless it keeps
        // flapping); after one whose subscriptions failed, the next try backs off.
        let retry_in = match up_since {
            Some(since) if since.elapsed() >= config.stable_after => {
                flaps = 0;
                Duration::ZERO
            }
            Some(_) => {
                flaps = flaps.saturating_add(1);
                config.backoff(flaps, &rng)
            }
            None => config.backoff(attempt.max(1), &rng),
        };
        let disconnected = ClientEvent::Disconnected { generation, reason };
        if cancel.is_cancelled() {
            // Room or not, say so when possible, without waiting.
            let _ = events.try_send(disconnected);
            break;
        }
        if !emit(disconnected).await {
            break;
        }
        if !retry_in.is_zero() {
            tracing::info!(parent: &span, ?retry_in, "reconnecting after a backoff");
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(retry_in) => {}
            }
        }
    }
    current.send_replace(None);
}

/// Waits for the connection to end, probing it with the heartbeat if there is one.
async fn watch_connection(client: &EslClient, heartbeat: Option<Heartbeat>) -> CloseReason {
    let Some(heartbeat) = heartbeat else {
        return client.closed().await;
    };
    loop {
        tokio::select! {
            reason = client.closed() => return reason,
            _ = tokio::time::sleep(heartbeat.every) => {}
        }
        match tokio::time::timeout(heartbeat.timeout, client.api("status")).await {
            Ok(Err(EslError::Disconnected)) => return client.closed().await,
            // Any answer, even a refusal, shows the switch is alive.
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(timeout = ?heartbeat.timeout, "heartbeat unanswered: dropping the connection");
                client.shutdown();
                client.closed().await;
                return CloseReason::Error(EslError::Timeout { stage: "heartbeat" });
            }
        }
    }
}

/// Queues every subscription command; the returned futures resolve with their replies.
async fn queue_subscriptions(
    client: &EslClient,
    commands: &[Command],
) -> Result<Vec<impl Future<Output = Result<Reply, EslError>> + use<>>, EslError> {
    let mut replies = Vec::with_capacity(commands.len());
    for command in commands {
        replies.push(client.queue_command_ok(command.clone()).await?);
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let mut config = SupervisorConfig::new("127.0.0.1:1", "x");
        config.backoff_base = Duration::from_millis(100);
        config.backoff_max = Duration::from_secs(2);
        let rng = SharedSplitMix64::new(1);
        for attempt in 1..40 {
            let d = config.backoff(attempt, &rng);
            let exp = (Duration::from_millis(100) * 2u32.pow(attempt.min(20) - 1))
                .min(Duration::from_secs(2));
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} vs {exp:?}"
            );
        }
        let a: Vec<_> = (1..10)
            .map(|n| config.backoff(n, &SharedSplitMix64::new(9)))
            .collect();
        let b: Vec<_> = (1..10)
            .map(|n| config.backoff(n, &SharedSplitMix64::new(9)))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn huge_backoff_max_saturates_the_jitter_instead_of_wrapping() {
        // Half of the first is exactly u64::MAX ns (`+ 1` used to wrap to 0: no jitter at all);
        // the others' halves do not fit in u64 ns (the cast used to truncate them).
        for max in [
            Duration::from_nanos(u64::MAX).saturating_mul(2),
            Duration::from_nanos(u64::MAX).saturating_mul(2) + Duration::from_nanos(10),
            Duration::MAX,
        ] {
            let mut config = SupervisorConfig::new("127.0.0.1:1", "x");
            config.backoff_base = max;
            config.backoff_max = max;
            let half = max / 2;
            let mut widest = Duration::ZERO;
            for seed in 0..64 {
                let d = config.backoff(3, &SharedSplitMix64::new(seed));
                assert!(d >= half && d <= max, "{max:?}: {d:?}");
                widest = widest.max(d - half);
            }
            assert!(widest > Duration::from_secs(3600), "{max:?}: {widest:?}");
        }
    }
}
