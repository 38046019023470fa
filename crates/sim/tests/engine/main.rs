//! The simulated switch's engine, driven directly (no socket): call flows, behaviours, seeded
//! determinism, and conformance with the real captures.

mod behaviour_mix;
mod conformance;
mod endpoints;
mod engine;
mod golden;
mod props;
