//! The `parkway` binary as an operator runs it: each subcommand as a process.

#![allow(clippy::disallowed_methods, reason = "tests wait on the real clock")]

mod demo;
mod esl_decode;
mod python_client;
mod routing;
mod run;
mod whisper;
