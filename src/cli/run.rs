//! `parkway run`: the daemon. Connects to FreeSWITCH's event socket and handles every parked
//! call that matches a router.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use parkway::calls::{CallRecord, Daemon, DaemonOptions};
use parkway::config::Config;
use parkway::whisper::Whisperer;
use tokio::sync::mpsc;

use super::routing::load_or_exit;

#[derive(Args)]
pub struct RunArgs {
    /// The config file (`[freeswitch]` names the event socket).
    #[arg(long)]
    pub config: PathBuf,
    /// Append each finished call's record here as one JSON line (`-`: standard output).
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Seed of routing's shuffles (default: from the clock). Leg uuids and command ids are
    /// random whatever the seed: FreeSWITCH names CDR files after the leg uuids.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The whisperer, when any buyer or router has a whisper template.
pub fn whisperer_for(config: &Config) -> anyhow::Result<Option<Arc<Whisperer>>> {
    let any = config.buyers.iter().any(|b| b.whisper.is_some())
        || !config.whisper.router_templates.is_empty();
    if !any {
        return Ok(None);
    }
    let settings = config
        .whisper
        .render_settings()
        .context("[whisper] settings")?;
    Ok(Some(Arc::new(
        Whisperer::new(settings).context("loading the whisper phrase library")?,
    )))
}

pub fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = Arc::new(load_or_exit(&args.config));
    let whisperer = whisperer_for(&config)?;
    init_tracing("info");
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<CallRecord>(4096);
        let mut sink: Option<Box<dyn Write + Send>> = match &args.records {
            None => None,
            Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            )),
        };
        let options = DaemonOptions {
            seed,
            whisperer,
            records: Some(tx),
            ..DaemonOptions::default()
        };
        let tracker = options.tracker.clone();
        tracing::info!(address = %config.freeswitch.address, "parkway run");
        let daemon = Daemon::start(config, options);
        let writer = tokio::spawn(async move {
            while let Some(record) = rx.recv().await {
                if let Some(out) = sink.as_mut() {
                    let line = serde_json::to_string(&record).unwrap_or_default();
                    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                        tracing::error!(error = %e, "writing a call record failed");
                    }
                }
            }
        });
        tokio::signal::ctrl_c()
            .await
            .context("waiting for ctrl-c")?;
        tracing::info!("shutting down");
        daemon.shutdown();
        tracker.close();
        tracker.wait().await;
        drop(daemon);
        let _ = writer.await;
        Ok(())
    })
}
