//! The protocol against real FreeSWITCH 1.10.12 captures (`captures/` at the repo root): every
//! capture decodes whole, every command parkway can send encodes as the switch expects, and the
//! codec's invariants hold for any input.

mod captures;
mod commands;
mod common;
mod props;
