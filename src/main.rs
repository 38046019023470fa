//! The `parkway` command line: process wiring only; the work lives in the library.

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("parkway {}", env!("CARGO_PKG_VERSION")),
    }
    Ok(())
}
