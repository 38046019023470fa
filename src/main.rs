//! The `parkway` command line: process wiring only; the work lives in the library.

use clap::{Parser, Subcommand};

mod cli;

use cli::esl::{EslCommand, run_esl};
#[cfg(feature = "sim")]
use cli::{demo as demo_cli, sim as sim_cli};
use cli::{routing as routing_cli, run as run_cli, whisper as whisper_cli};

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
    /// Run parkway against a simulated FreeSWITCH with a stream of calls, and show what happened.
    #[cfg(feature = "sim")]
    Demo(demo_cli::DemoArgs),
    /// The daemon: connect to FreeSWITCH and route every parked call that matches a router.
    Run(run_cli::RunArgs),
    /// Call records from the store: `--since`, `--until`, `--buyer`, `--router`; JSON lines or CSV.
    Calls(run_cli::CallsArgs),
    /// Event-socket tools (`parkway esl decode <file|->`).
    #[command(subcommand)]
    Esl(EslCommand),
    // routing: src/cli/routing.rs
    /// Validate a config file: exit 0, or print every problem with file:line:column and exit 64.
    Check(routing_cli::CheckArgs),
    /// Show the dial plan a call would get, and why every other buyer was left out.
    Explain(routing_cli::ExplainArgs),
    /// Render the whisper a buyer would hear on a call, to listen to.
    Whisper(whisper_cli::WhisperArgs),
    // simulated switch: src/cli/sim.rs
    /// Run the simulated FreeSWITCH on an event socket (for any ESL client).
    #[cfg(feature = "sim")]
    Sim(sim_cli::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("parkway {}", env!("CARGO_PKG_VERSION")),
        Command::Run(args) => run_cli::run(args)?,
        Command::Calls(args) => run_cli::calls(&args)?,
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo_cli::demo(args)?,
        Command::Esl(command) => {
            if !run_esl(command)? {
                std::process::exit(1);
            }
        }
        Command::Check(args) => routing_cli::check(&args),
        Command::Explain(args) => routing_cli::explain(&args)?,
        Command::Whisper(args) => whisper_cli::whisper(&args)?,
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim_cli::sim(args)?,
    }
    Ok(())
}
