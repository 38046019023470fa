//! `parkway demo`: the simulated FreeSWITCH and parkway's daemon in one process, a stream of
//! calls, and what happened to them.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use parkway::demo::{self, DemoOptions};

use super::routing::load_or_exit;
use super::run::{init_tracing, whisperer_for};

#[derive(Args)]
pub struct DemoArgs {
    /// The config (default: the annotated example shipped with parkway).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// How many calls to place.
    #[arg(long, default_value_t = 1000)]
    pub calls: u64,
    /// Calls per second (of the switch's clock).
    #[arg(long, default_value_t = 1.0)]
    pub cps: f64,
    /// Seed of the callers, the buyers' behaviour and routing's shuffles.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Follow the wall clock (to watch it) instead of jumping the switch's clock.
    #[arg(long)]
    pub real_time: bool,
}

pub fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml"));
    if !(args.cps.is_finite() && args.cps > 0.0) {
        anyhow::bail!("--cps must be a positive number");
    }
    let config = load_or_exit(&path);
    init_tracing("warn");
    let whisperer = whisperer_for(&config)?;
    let live = std::io::stderr().is_terminal() && !args.json;
    let progress: Option<demo::ProgressFn> =
        live.then(|| {
            let total = args.calls;
            Box::new(move |t: &parkway::calls::Totals, placed: u64, took: std::time::Duration| {
                eprint!(
                    "\r  placed {placed}/{total} · routed {} · connected {} · converted {} · {:.0} calls/s   ",
                    t.routed,
                    t.connected,
                    t.converted,
                    placed as f64 / took.as_secs_f64().max(1e-9)
                );
            }) as Box<_>
        });
    let options = DemoOptions {
        calls: args.calls,
        cps: args.cps,
        seed: args.seed,
        real_time: args.real_time,
        whisperer,
        progress,
        ..DemoOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if !args.json {
        println!(
            "parkway demo: {} calls at {} calls/s, seed {}, {}",
            args.calls,
            args.cps,
            args.seed,
            path.display()
        );
    }
    let summary = runtime.block_on(demo::run(&config, options))?;
    if live {
        eprintln!();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.render(config.currency));
    }
    Ok(())
}
