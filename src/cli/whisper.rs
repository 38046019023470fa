//! `parkway whisper`: render the whisper a buyer would hear.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use parkway::config::Entry;
use parkway::routing::CallerFields;
use parkway::whisper::{Template, Whisperer};

use super::routing::{call_tokens, load_or_exit};

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
    let mut tokens = call_tokens(
        &args.tokens,
        CallerFields {
            number: args.caller.clone(),
            ..CallerFields::default()
        },
    )?;
    // As on a call: typed values that do not fit are dropped, and only speakable ones spoken.
    for note in config.tokens.check(&mut tokens) {
        println!("note: {note}");
    }
    let tokens = config.tokens.speakable(&tokens);
    let whisperer = Whisperer::new(config.whisper.render_settings()?)?;
    let speech = whisperer.speak(&Template::parse(template)?, &|k| {
        tokens.get(k).map(str::to_owned)
    });
    let (wav, missing) = whisperer.render(&speech)?;
    std::fs::write(&args.out, &wav).with_context(|| format!("writing {}", args.out.display()))?;
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
