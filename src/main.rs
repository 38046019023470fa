//! The `parkway` command line: process wiring only; the work lives in the library.

use clap::{Parser, Subcommand};

// ---- `parkway esl …` (event-socket tools) --------------------------------------------------

/// Event-socket tools.
#[derive(Subcommand)]
enum EslCommand {
    /// Decode a raw event-socket byte stream (what FreeSWITCH sent) into one JSON object per
    /// message. Malformed frames are reported on stderr with their byte offset; the exit status
    /// is 1 if there were any.
    Decode {
        /// The capture to read, or `-` for standard input.
        input: std::path::PathBuf,
    },
}

/// Runs an `esl` subcommand; returns whether the input was clean.
fn run_esl(command: EslCommand) -> anyhow::Result<bool> {
    use anyhow::Context;
    use parkway::esl::decode::decode_stream;
    match command {
        EslCommand::Decode { input } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            let mut diag = std::io::stderr().lock();
            let summary = if input.as_os_str() == "-" {
                decode_stream(std::io::stdin().lock(), &mut out, &mut diag)
            } else {
                let file = std::fs::File::open(&input)
                    .with_context(|| format!("opening {}", input.display()))?;
                decode_stream(file, &mut out, &mut diag)
            }
            .with_context(|| format!("decoding {}", input.display()))?;
            if summary.malformed > 0 {
                eprintln!(
                    "{}: {} messages, {} malformed",
                    input.display(),
                    summary.messages,
                    summary.malformed
                );
            }
            Ok(summary.malformed == 0)
        }
    }
}

// ---- end of `parkway esl` ------------------------------------------------------------------

#[derive(Parser)]
#[command(
    name = "parkway",
    version,
    about = "Pay-per-call buyer router for FreeSWITCH"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version and exit.
    Version,
    /// Event-socket tools (`parkway esl decode <file|->`).
    #[command(subcommand)]
    Esl(EslCommand),
    // --- routing (issue 5): see `mod routing_cli` below ---
    /// Validate a config file: exit 0, or print every problem with file:line:column and exit 64.
    Check(routing_cli::CheckArgs),
    /// Show the dial plan a call would get, and why every other buyer was left out.
    Explain(routing_cli::ExplainArgs),
    /// Render the whisper a buyer would hear on a call, to listen to.
    Whisper(whisper_cli::WhisperArgs),
    // --- simulated switch (issue 6): see `mod sim_cli` below ---
    /// Run the simulated FreeSWITCH on an event socket (for any ESL client).
    Sim(sim_cli::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("parkway {}", env!("CARGO_PKG_VERSION")),
        Command::Esl(command) => {
            if !run_esl(command)? {
                std::process::exit(1);
            }
        }
        Command::Check(args) => routing_cli::check(&args),
        Command::Explain(args) => routing_cli::explain(&args)?,
        Command::Whisper(args) => whisper_cli::whisper(&args)?,
        Command::Sim(args) => sim_cli::sim(args)?,
    }
    Ok(())
}

// ===========================================================================================
// routing (issue 5): `parkway check` and `parkway explain`
// ===========================================================================================
mod routing_cli {
    use std::path::PathBuf;

    use anyhow::{Context, bail};
    use chrono::{DateTime, Utc};
    use clap::Args;
    use parkway::config::{self, Config, ConfigErrors};
    use parkway::routing::{CallerFields, SplitMix64, Tokens, UsageSnapshot, decide, explain};

    /// Exit status for a config that does not validate (EX_USAGE, as sysexits.h).
    pub const EXIT_BAD_CONFIG: i32 = 64;

    #[derive(Args)]
    pub struct CheckArgs {
        /// The config file.
        pub config: PathBuf,
    }

    #[derive(Args)]
    pub struct ExplainArgs {
        /// The config file.
        pub config: PathBuf,
        /// The time of the call (RFC 3339); default: now.
        #[arg(long)]
        pub at: Option<String>,
        /// A call token `name=value` (a channel variable, without `variable_`); repeatable.
        #[arg(long = "token", value_name = "NAME=VALUE")]
        pub tokens: Vec<String>,
        /// The caller's number (caller_id_number).
        #[arg(long)]
        pub caller: Option<String>,
        /// The caller's name (caller_id_name).
        #[arg(long)]
        pub caller_name: Option<String>,
        /// The dialled number (destination_number).
        #[arg(long)]
        pub destination: Option<String>,
        /// The router to use; default: the first whose match rule fits the call.
        #[arg(long)]
        pub router: Option<String>,
        /// A JSON usage snapshot (counters per buyer and group).
        #[arg(long)]
        pub usage: Option<PathBuf>,
        /// Seed of the random source used by weighted ranking.
        #[arg(long, default_value_t = 0)]
        pub seed: u64,
        /// Print the decision as JSON.
        #[arg(long)]
        pub json: bool,
    }

    /// A hypothetical call's tokens from `--token NAME=VALUE` flags and its caller fields.
    pub fn call_tokens(flags: &[String], caller: CallerFields) -> anyhow::Result<Tokens> {
        let mut vars = Vec::new();
        for t in flags {
            let Some((k, v)) = t.split_once('=') else {
                bail!("--token {t:?} is not NAME=VALUE");
            };
            vars.push((k.to_string(), v.to_string()));
        }
        Ok(Tokens::new(vars, caller))
    }

    pub fn load_or_exit(path: &std::path::Path) -> Config {
        match config::load(path) {
            Ok(c) => c,
            Err(ConfigErrors(problems)) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("{} problem(s) in {}", problems.len(), path.display());
                std::process::exit(EXIT_BAD_CONFIG);
            }
        }
    }

    pub fn check(args: &CheckArgs) {
        let c = load_or_exit(&args.config);
        match parkway::whisper::unspoken_words(&c) {
            Err(e) => {
                eprintln!("{}: whisper: {e}", args.config.display());
                std::process::exit(EXIT_BAD_CONFIG);
            }
            Ok(unspoken) => {
                for (owner, words) in unspoken {
                    println!(
                        "warning: {owner}: whisper words with no clip (left out unless \
                         [whisper] tts_command is set): {}",
                        words.join(", ")
                    );
                }
            }
        }
        println!(
            "{}: ok ({} buyers, {} groups, {} routers)",
            args.config.display(),
            c.buyers.len(),
            c.groups.len(),
            c.routers.len()
        );
    }

    pub fn explain(args: &ExplainArgs) -> anyhow::Result<()> {
        let config = load_or_exit(&args.config);
        let now: DateTime<Utc> = match &args.at {
            Some(s) => DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("--at {s:?} is not an RFC 3339 time"))?
                .with_timezone(&Utc),
            None => Utc::now(),
        };
        let tokens = call_tokens(
            &args.tokens,
            CallerFields {
                number: args.caller.clone(),
                name: args.caller_name.clone(),
                destination: args.destination.clone(),
            },
        )?;
        let usage: UsageSnapshot = match &args.usage {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing usage JSON {}", p.display()))?
            }
            None => UsageSnapshot::default(),
        };
        let router = match &args.router {
            Some(id) => config
                .router(id)
                .with_context(|| format!("no router `{id}` in {}", args.config.display()))?,
            None => config.router_for(&tokens).context(
                "no router matches this call (give --router, --destination or the token it matches on)",
            )?,
        };
        let mut rng = SplitMix64::new(args.seed);
        let decision = decide(router, &config, &tokens, &usage, now, &mut rng);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&decision)?);
        } else {
            print!("{}", explain::render(&decision, config.currency));
            if decision.plan.is_empty() {
                println!("fallback: {:?}", router.fallback);
            }
        }
        Ok(())
    }
}

// ===========================================================================================
// whisper: `parkway whisper`
// ===========================================================================================
mod whisper_cli {
    use std::path::PathBuf;

    use anyhow::{Context, bail};
    use clap::Args;
    use parkway::config::Entry;
    use parkway::routing::CallerFields;
    use parkway::whisper::{Settings, Template, Whisperer};

    use crate::routing_cli::{call_tokens, load_or_exit};

    #[derive(Args)]
    pub struct WhisperArgs {
        /// The config file.
        pub config: PathBuf,
        /// The buyer who hears it.
        #[arg(long)]
        pub buyer: String,
        /// The router of the call (for a router-level template); default: the first that reaches
        /// the buyer.
        #[arg(long)]
        pub router: Option<String>,
        /// A call token `name=value` (a channel variable, without `variable_`); repeatable.
        #[arg(long = "token", value_name = "NAME=VALUE")]
        pub tokens: Vec<String>,
        /// The caller's number (gives `area_code` and `state`).
        #[arg(long)]
        pub caller: Option<String>,
        /// Where to write the WAV.
        #[arg(short = 'o', long = "out")]
        pub out: PathBuf,
    }

    pub fn whisper(args: &WhisperArgs) -> anyhow::Result<()> {
        let config = load_or_exit(&args.config);
        let Some(buyer) = config
            .buyers
            .iter()
            .position(|b| b.id.as_str() == args.buyer)
        else {
            bail!("no buyer `{}` in {}", args.buyer, args.config.display());
        };
        let reaches = |r: &parkway::config::Router| {
            r.entries.iter().any(|e| match e {
                Entry::Buyer(b) => *b == buyer,
                Entry::Group(g) => config.groups[*g].members.contains(&buyer),
            })
        };
        let router = match &args.router {
            Some(id) => config.routers.iter().position(|r| r.id.as_str() == id),
            None => config.routers.iter().position(reaches),
        };
        let template = match router {
            Some(r) => config.whisper_template(r, buyer),
            None => config.buyers[buyer].whisper.as_deref(),
        };
        let Some(template) = template else {
            bail!(
                "buyer `{}` has no whisper template (nor does its router)",
                args.buyer
            );
        };
        let tokens = call_tokens(
            &args.tokens,
            CallerFields {
                number: args.caller.clone(),
                ..CallerFields::default()
            },
        )?;
        let whisperer = Whisperer::new(Settings::from_config(&config.whisper)?)?;
        let speech = whisperer.speak(&Template::parse(template)?, &|k| {
            tokens.get(k).map(str::to_owned)
        });
        let (wav, missing) = whisperer.render(&speech)?;
        std::fs::write(&args.out, &wav)
            .with_context(|| format!("writing {}", args.out.display()))?;
        let seconds = (wav.len().saturating_sub(44)) as f64 / 2.0 / config.whisper.rate as f64;
        println!("template: {template}");
        let phrases: Vec<String> = speech.sentences.iter().map(|s| s.join(" ")).collect();
        println!("speaks:   {}", phrases.join(" / "));
        println!(
            "wrote {} ({seconds:.2} s at {} Hz)",
            args.out.display(),
            config.whisper.rate
        );
        if !missing.is_empty() {
            println!("left out (no clip): {}", missing.join(", "));
        }
        Ok(())
    }
}

// ===========================================================================================
// simulated switch (issue 6): `parkway sim`
// ===========================================================================================
mod sim_cli {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    use anyhow::Context;
    use clap::Args;
    use parkway::sim::scenario::{Generator, Scenario};
    use parkway::sim::{SimConfig, SimSwitch, TimeMode};

    use crate::routing_cli::EXIT_BAD_CONFIG;

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
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
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
}
// ---- end of `parkway sim` ------------------------------------------------------------------
