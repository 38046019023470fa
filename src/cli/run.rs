//! `parkway run`: the daemon. Connects to FreeSWITCH's event socket and handles every parked
//! call that matches a router.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use parkway::calls::{Daemon, DaemonOptions};
use parkway::config::Config;
use parkway::store::export::RecordExport;
use parkway::store::sqlite::SqliteStore;
use parkway::store::writer::StoreWriter;
use parkway::store::{RecordQuery, Store};
use parkway::whisper::Whisperer;

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

/// How long the exit waits for the `--records` sink to take what is queued for it.
const EXPORT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

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
    let (store, restored) = parkway::store::open(&config, chrono::Utc::now())?;
    tracing::info!(
        store = %config.store.path.display(),
        facts = restored.facts.len(),
        open_calls = restored.open.len(),
        "store opened"
    );
    let writer = StoreWriter::start(Box::new(store)).context("starting the store writer")?;
    let export = match &args.records {
        Some(p) => Some(RecordExport::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => None,
    };
    let export_stats = export.as_ref().map(|e| e.stats().clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let options = DaemonOptions {
            seed,
            whisperer,
            store: Some(writer.clone()),
            restored: Some(restored),
            export,
            ..DaemonOptions::default()
        };
        let tracker = options.tracker.clone();
        tracing::info!(address = %config.freeswitch.address, "parkway run");
        let daemon = Daemon::start(config, options);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("waiting for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c")?,
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        daemon.shutdown();
        tracker.close();
        tracker.wait().await;
        drop(daemon);
        let flushing = writer.clone();
        let _ = tokio::task::spawn_blocking(move || flushing.flush()).await;
        tracing::info!(
            committed = writer
                .stats()
                .committed
                .load(std::sync::atomic::Ordering::Relaxed),
            "store flushed"
        );
        if let Some(stats) = export_stats {
            // The records file gets what was handed to it, for a while: a stalled sink cannot
            // hold the exit up (every record is in the store).
            let finished =
                tokio::task::spawn_blocking(move || (stats.wait_done(EXPORT_GRACE), stats)).await;
            if let Ok((done, stats)) = finished {
                let count =
                    |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
                tracing::info!(
                    written = count(&stats.written),
                    left_out = count(&stats.dropped),
                    failed = count(&stats.failed),
                    finished = done,
                    "records export closed"
                );
            }
        }
        Ok(())
    })
}

#[derive(Args)]
pub struct CallsArgs {
    /// The config file (its `[store] path` names the database).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The database (default: from the config).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Calls parked at or after this time (RFC 3339, or a date: `2026-12-01`).
    #[arg(long)]
    pub since: Option<String>,
    /// Calls parked before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only calls that dialled this buyer.
    #[arg(long)]
    pub buyer: Option<String>,
    /// Only calls of this router.
    #[arg(long)]
    pub router: Option<String>,
    /// One JSON document per line (the default).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// A CSV table: one line per call.
    #[arg(long)]
    pub csv: bool,
}

/// A time given on the command line: RFC 3339, or a date (its midnight UTC).
fn parse_time(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// `parkway calls`: call records from the store.
pub fn calls(args: &CallsArgs) -> anyhow::Result<()> {
    let path = match (&args.db, &args.config) {
        (Some(db), _) => db.clone(),
        (None, Some(config)) => load_or_exit(config).store.path,
        (None, None) => anyhow::bail!("give --config or --db"),
    };
    if !path.is_file() {
        anyhow::bail!("{}: no such store", path.display());
    }
    let mut store = SqliteStore::open_read_only(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let query = RecordQuery {
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
        buyer: args.buyer.clone(),
        router: args.router.clone(),
    };
    let records = store.records(&query)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.csv {
        write_csv(&mut out, &records)
    } else {
        records
            .iter()
            .try_for_each(|r| writeln!(out, "{r}"))
            .and_then(|()| out.flush())
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The CSV columns of `parkway calls --csv`.
const CSV_COLUMNS: [&str; 12] = [
    "call",
    "router",
    "caller",
    "parked_at",
    "disposition",
    "connected",
    "bridged_at",
    "talk_secs",
    "converted",
    "payout",
    "attempts",
    "ended_at",
];

fn write_csv(out: &mut impl Write, records: &[String]) -> std::io::Result<()> {
    writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    for r in records {
        let v: serde_json::Value = serde_json::from_str(r).unwrap_or_default();
        let cell = |name: &str| -> String {
            let x = match name {
                "converted" => v
                    .pointer("/conversion/converted")
                    .cloned()
                    .unwrap_or(serde_json::Value::Bool(false)),
                "attempts" => serde_json::Value::from(
                    v.get("attempts")
                        .and_then(|a| a.as_array())
                        .map_or(0, Vec::len),
                ),
                _ => v.get(name).cloned().unwrap_or_default(),
            };
            let text = match x {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            if text.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text
            }
        };
        let row: Vec<String> = CSV_COLUMNS.iter().map(|c| cell(c)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    out.flush()
}
