//! `parkway check` and `parkway explain`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use parkway::config::{self, Config, ConfigErrors};
use parkway::routing::{CallerFields, SplitMix64, Tokens, UsageSnapshot, decide_with, explain};
use parkway::store::Store;
use parkway::store::sqlite::SqliteStore;

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
    /// A JSON usage snapshot (counters per buyer and group), for what-ifs; without it the
    /// counters and caller history come from the store.
    #[arg(long, conflicts_with = "db")]
    pub usage: Option<PathBuf>,
    /// The store to read usage and caller history from (default: the config's `[store] path`,
    /// when it exists; without one, every counter is zero).
    #[arg(long)]
    pub db: Option<PathBuf>,
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
    match c.unspoken_whisper_words() {
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
    let mut duplicates = parkway::billing::DuplicateHistory::default();
    let usage: UsageSnapshot = match (&args.usage, &args.db) {
        (Some(p), _) => {
            let text = parkway::files::read_text_limited(p, parkway::files::MAX_LIST_BYTES)
                .with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("parsing usage JSON {}", p.display()))?
        }
        (None, db) => {
            let path = db.clone().unwrap_or_else(|| config.store.path.clone());
            if db.is_none() && !path.is_file() {
                UsageSnapshot::default()
            } else {
                let mut store = SqliteStore::open_read_only(&path)
                    .with_context(|| format!("opening the store {}", path.display()))?;
                let since = now - config.longest_duplicate_window();
                let restored = store
                    .load(DateTime::<Utc>::MIN_UTC, since)
                    .with_context(|| format!("reading the store {}", path.display()))?;
                let (ledger, history) = parkway::store::rebuild(&config, &restored);
                duplicates = history;
                ledger.snapshot().clone()
            }
        }
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
    let decision = decide_with(router, &config, &tokens, &usage, now, &mut rng, &duplicates);
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
