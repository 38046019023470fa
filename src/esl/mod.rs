//! The FreeSWITCH event socket: frame codec, events, commands, dial strings, client.

pub mod command;
pub mod dialstring;
