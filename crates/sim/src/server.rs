//! The simulated FreeSWITCH on a real socket: the peer's sessions (auth, subscriptions, filters,
//! replies, notices, faults) in front of one [`Engine`] owned by one task (`driver.rs`).
//!
//! ```text
//! let (addr, sim) = SimSwitch::start(SimConfig::default()).await?;
//! // any ESL client: auth ClueCon, event plain ALL, bgapi originate …, sendmsg …
//! sim.place_call(call).await;           // or a scenario's callers and generator
//! sim.advance_by(5 * SEC).await;        // TimeMode::Manual
//! sim.peer().drop_connections(DropMode::MidFrame);
//! ```

#![allow(
    clippy::disallowed_methods,
    reason = "real-time mode starts the engine's clock at the wall clock"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use super::driver::{Driver, REQUEST_CAPACITY, TimeMode};
use super::engine::api::{CallHandles, InboundCall};
use super::engine::channel::AppCall;
use super::engine::{Engine, EngineConfig, Micros};
use super::peer::{Behaviour, DropMode, PeerConfig, PeerHandle};
use super::request::Request;
use super::scenario::{Arrivals, Scenario};

/// How the simulated switch starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    pub password: String,
    pub engine: EngineConfig,
    pub time: TimeMode,
    pub scenario: Scenario,
    /// Hold the clock and the scenario until a client sends its first `event` command (so a
    /// client sees every call from the start).
    pub wait_for_subscriber: bool,
    /// Where JSON CDRs are written (`a_<uuid>.cdr.json`, `<uuid>.cdr.json`); `None`: nowhere.
    pub cdr_dir: Option<PathBuf>,
    /// Events queued per session (FreeSWITCH: 100,000); the queue is bounded, and an event
    /// that finds it full is lost to that session.
    pub queue_len: usize,
    /// A session that loses this many events to a full queue is dropped (FreeSWITCH: 500).
    pub max_failed_enqueues: u32,
    /// Faults and canned answers (`api_responses` answer a given command, e.g. with `-ERR`;
    /// `api_delay` makes api slow; `reject` refuses connections).
    pub behaviour: Behaviour,
    /// Keep every command clients send, for [`PeerHandle::received_commands`] (tests; a
    /// long-running switch leaves it off).
    pub record_commands: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            password: "ClueCon".into(),
            engine: EngineConfig::default(),
            time: TimeMode::Manual,
            scenario: Scenario::default(),
            wait_for_subscriber: false,
            cdr_dir: None,
            queue_len: 100_000,
            max_failed_enqueues: 500,
            behaviour: Behaviour::default(),
            record_commands: false,
        }
    }
}

/// The server.
pub struct SimSwitch;

impl SimSwitch {
    /// Binds `config.listen` and serves until [`SimHandle::shutdown`].
    pub async fn start(config: SimConfig) -> std::io::Result<(SocketAddr, SimHandle)> {
        let listener = TcpListener::bind(config.listen).await?;
        let (tx, rx) = mpsc::channel(REQUEST_CAPACITY);
        let peer_config = PeerConfig {
            password: config.password,
            behaviour: config.behaviour,
            seed: config.engine.seed,
        };
        let (addr, peer) = PeerHandle::serve(
            listener,
            peer_config,
            Some(tx.clone()),
            config.record_commands,
            config.queue_len,
        )?;
        let seed = config.scenario.seed.unwrap_or(config.engine.seed);
        let mut engine = Engine::new(config.engine);
        for (context, destination, behaviour) in config.scenario.endpoints() {
            engine
                .dialplan_mut()
                .add_behaviour_in(&context, &destination, &behaviour);
        }
        for x in &config.scenario.extensions {
            let apps = x.apps.iter().map(|(n, a)| AppCall::new(n, a)).collect();
            engine.dialplan_mut().add(&x.context, &x.destination, apps);
        }
        let driver = Driver {
            engine,
            peer: peer.clone(),
            rx,
            tx: tx.clone(),
            time: config.time,
            started: !config.wait_for_subscriber,
            arrivals: Arrivals::new(&config.scenario, seed),
            cdr_dir: config.cdr_dir,
            max_failed_enqueues: config.max_failed_enqueues.max(1),
            outbound: Default::default(),
            base: 0,
            origin: Instant::now(),
        };
        peer.tracker().spawn(
            driver
                .run()
                .instrument(tracing::info_span!("sim_engine", %addr)),
        );
        Ok((addr, SimHandle { peer, tx }))
    }
}

/// Scripts a running simulated switch. Cheap to clone. Methods return `None` once it has shut
/// down.
#[derive(Clone)]
pub struct SimHandle {
    peer: PeerHandle,
    tx: mpsc::Sender<Request>,
}

impl SimHandle {
    /// The sessions' side: faults (`drop_connections`, `stall`, `set_behaviour`, …).
    pub fn peer(&self) -> &PeerHandle {
        &self.peer
    }

    /// Runs `f` on the engine (between two requests, so never in the middle of one); its events
    /// are queued to the sessions before this returns.
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let run = Box::new(move |e: &mut Engine| Box::new(f(e)) as Box<dyn std::any::Any + Send>);
        self.tx.send(Request::With { run, reply }).await.ok()?;
        rx.await.ok()?.downcast::<T>().ok().map(|b| *b)
    }

    /// A call arrives now.
    pub async fn place_call(&self, call: InboundCall) -> Option<CallHandles> {
        self.with(move |e| e.inbound_call(&call)).await
    }

    /// The engine's virtual time.
    pub async fn now(&self) -> Option<Micros> {
        self.with(|e| e.now()).await
    }

    async fn advance(&self, to: Option<Micros>, limit: Micros) -> Option<Micros> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Request::Advance { to, limit, done })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Moves virtual time forward by `d` (timers and scenario calls on the way run); returns
    /// the new time once the events are queued to the sessions.
    pub async fn advance_by(&self, d: Micros) -> Option<Micros> {
        let now = self.now().await?;
        self.advance(Some(now + d), 0).await
    }

    /// Runs every timer and arrival up to virtual time `limit`, jumping between them.
    pub async fn run_until_idle(&self, limit: Micros) -> Option<Micros> {
        self.advance(None, limit).await
    }

    /// Fault: the switch restarts (new Core-UUID; channels kept or lost) and every connection
    /// drops.
    pub async fn restart(&self, keep_channels: bool) -> Option<()> {
        self.with(move |e| e.restart(keep_channels)).await?;
        self.peer.drop_connections(DropMode::Clean);
        Some(())
    }

    pub async fn shutdown(&self) {
        self.peer.shutdown().await;
    }
}
