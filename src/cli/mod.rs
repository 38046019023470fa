//! The subcommands, one file each.

#[cfg(feature = "sim")]
pub mod demo;
pub mod esl;
pub mod routing;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod whisper;
