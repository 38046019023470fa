#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod command;
pub mod decode;
pub mod dialstring;
pub mod event;
pub mod fasthash;
pub mod headers;
pub mod json;
pub mod message;
pub mod outbound;
pub mod splitmix;
