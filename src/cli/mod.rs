//! The subcommands, one file each.

pub mod demo;
pub mod esl;
pub mod routing;
pub mod run;
pub mod sim;
pub mod whisper;
