//! `parkway sim`: the simulated FreeSWITCH as a standalone event socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use parkway_sim::scenario::{Generator, Scenario};
use parkway_sim::{SimConfig, SimSwitch, TimeMode};

use super::routing::EXIT_BAD_CONFIG;

#[derive(Args)]
pub struct SimArgs {
    /// Address of the event socket.
    #[arg(long, default_value = "127.0.0.1:8021")]
    pub listen: SocketAddr,
    /// The event socket's password.
    #[arg(long, default_value = "ClueCon")]
    pub password: String,
    /// A TOML scenario: callers, buyer behaviours, a call generator.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Generate calls at this many per second (replaces the scenario's generator rate).
    #[arg(long)]
    pub cps: Option<f64>,
    /// Seed of ids and generated calls (default: the scenario's, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write JSON CDRs here (mod_json_cdr's file names).
    #[arg(long)]
    pub cdr_dir: Option<PathBuf>,
    /// Follow the wall clock; without it, virtual time jumps to the next deadline once
    /// clients have been quiet for --settle-ms.
    #[arg(long)]
    pub real_time: bool,
    /// Virtual mode: how long clients get to react before time jumps.
    #[arg(long, default_value_t = 20)]
    pub settle_ms: u64,
    /// Start the clock and the calls only when a client subscribes to events.
    #[arg(long)]
    pub wait_for_subscriber: bool,
}

pub fn sim(args: SimArgs) -> anyhow::Result<()> {
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(EXIT_BAD_CONFIG);
        }),
        None => Scenario::default(),
    };
    if let Some(cps) = args.cps {
        let mut generator = scenario
            .generator
            .take()
            .unwrap_or_else(|| Generator::at_rate(cps));
        generator.cps = cps;
        scenario.generator = Some(generator);
    }
    if let Err(e) = scenario.check() {
        eprintln!("{e}");
        std::process::exit(EXIT_BAD_CONFIG);
    }
    if let Some(dir) = &args.cdr_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut config = SimConfig {
        listen: args.listen,
        password: args.password,
        time: if args.real_time {
            TimeMode::RealTime
        } else {
            TimeMode::Virtual {
                settle: Duration::from_millis(args.settle_ms),
            }
        },
        wait_for_subscriber: args.wait_for_subscriber,
        cdr_dir: args.cdr_dir,
        ..SimConfig::default()
    };
    config.engine.seed = args.seed.or(scenario.seed).unwrap_or(0);
    config.scenario = scenario;
    if args.real_time {
        // Virtual time is the wall clock; in virtual mode the fixed default epoch keeps a
        // run with the same seed and scenario identical on the wire.
        config.engine.epoch_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(config.engine.epoch_us);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let (addr, sim) = SimSwitch::start(config)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        println!("parkway sim: event socket on {addr}");
        std::io::Write::flush(&mut std::io::stdout()).context("writing to stdout")?;
        tokio::signal::ctrl_c()
            .await
            .context("waiting for ctrl-c")?;
        sim.shutdown().await;
        Ok(())
    })
}
