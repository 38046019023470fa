//! The subcommands, one file each.

#![allow(
    clippy::disallowed_methods,
    reason = "the command line is an edge: it reads the clock for its defaults"
)]

#[cfg(feature = "sim")]
pub mod demo;
pub mod esl;
pub mod routing;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod whisper;
