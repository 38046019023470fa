//! The `parkway` binary as an operator runs it: each subcommand as a process.

mod demo;
mod esl_decode;
mod python_client;
mod routing;
mod run;
mod whisper;
