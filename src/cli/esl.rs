//! `parkway esl …`: event-socket tools.

use clap::Subcommand;

/// Event-socket tools.
#[derive(Subcommand)]
pub enum EslCommand {
    /// Decode a raw event-socket byte stream (what FreeSWITCH sent) into one JSON object per
    /// message. Malformed frames are reported on stderr with their byte offset; the exit status
    /// is 1 if there were any.
    Decode {
        /// The capture to read, or `-` for standard input.
        input: std::path::PathBuf,
    },
}

/// Runs an `esl` subcommand; returns whether the input was clean.
pub fn run_esl(command: EslCommand) -> anyhow::Result<bool> {
    use anyhow::Context;
    use parkway_esl::decode::decode_stream;
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
