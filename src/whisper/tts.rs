//! An operator's text-to-speech command for words the phrase library has no clip for.
//!
//! The command is configured as a program and its arguments, with `{text}` and `{out}`
//! placeholders: `espeak-ng -v en-us -w {out} {text}`. It is run directly (no shell), the word is
//! one argument, and only words of letters, digits and apostrophes ever reach it.

#![allow(
    clippy::disallowed_methods,
    reason = "the text-to-speech command runs under a deadline"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::WhisperError;
use super::library::load_clip;

/// Longest one text-to-speech run may take before it is killed.
const TTS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsCommand {
    program: String,
    args: Vec<String>,
}

impl TtsCommand {
    /// Reads `program arg … {out} … {text}`; both placeholders must appear.
    pub fn parse(line: &str) -> Result<TtsCommand, WhisperError> {
        let mut words = line.split_whitespace().map(str::to_owned);
        let program = words
            .next()
            .ok_or_else(|| WhisperError::Tts("empty command".into()))?;
        let args: Vec<String> = words.collect();
        for placeholder in ["{out}", "{text}"] {
            if !args.iter().any(|a| a.contains(placeholder)) {
                return Err(WhisperError::Tts(format!("command lacks {placeholder}")));
            }
        }
        Ok(TtsCommand { program, args })
    }

    /// Speaks `word` into a clip at `rate` Hz, using `work_dir` for the command's output file,
    /// waiting at most `timeout` for the command.
    pub fn speak(
        &self,
        word: &str,
        work_dir: &Path,
        rate: u32,
        timeout: Duration,
    ) -> Result<Arc<[i16]>, WhisperError> {
        if word.is_empty()
            || !word
                .chars()
                .all(|c| c.is_alphanumeric() || c == '\'' || c == ' ')
        {
            return Err(WhisperError::Tts(format!("refusing to speak {word:?}")));
        }
        std::fs::create_dir_all(work_dir).map_err(|source| WhisperError::Io {
            path: work_dir.to_owned(),
            source,
        })?;
        // One file per run (two calls may speak the same word at once), removed on every path.
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let out = TempFile(work_dir.join(format!(
            "tts-{:016x}-{}-{run}.wav",
            parkway_esl::fasthash::digest(&[word.as_bytes()]),
            std::process::id()
        )));
        let out_str = out.0.to_string_lossy();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{out}", &out_str).replace("{text}", word))
            .collect();
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| WhisperError::Tts(format!("{}: {e}", self.program)))?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > timeout.min(TTS_TIMEOUT) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(WhisperError::Tts(format!("{} timed out", self.program)));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(WhisperError::Tts(e.to_string())),
            }
        };
        if !status.success() {
            return Err(WhisperError::Tts(format!(
                "{} exited with {status}",
                self.program
            )));
        }
        load_clip(&out.0, rate)
    }
}

static RUNS: AtomicU64 = AtomicU64::new(0);

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_needs_both_placeholders() {
        assert!(TtsCommand::parse("espeak-ng -w {out} {text}").is_ok());
        assert!(TtsCommand::parse("espeak-ng {text}").is_err());
        assert!(TtsCommand::parse("").is_err());
    }

    #[test]
    fn refuses_hostile_words_and_reports_failures() {
        let cmd = TtsCommand::parse("false {out} {text}").unwrap();
        let dir = std::env::temp_dir();
        let t = Duration::from_secs(1);
        assert!(cmd.speak("a;rm -rf /", &dir, 8000, t).is_err());
        assert!(cmd.speak("hello", &dir, 8000, t).is_err());
        let missing = TtsCommand::parse("/nonexistent/tts {out} {text}").unwrap();
        assert!(missing.speak("hello", &dir, 8000, t).is_err());
    }
}
