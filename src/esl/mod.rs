//! The FreeSWITCH event socket: frame codec, events, commands, dial strings, client.

pub mod codec;
pub mod command;
pub mod dialstring;
pub mod event;
pub mod headers;
pub mod message;
