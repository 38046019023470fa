//! Properties of the pure cores across their public API: routing decisions, billing rules and
//! whisper rendering.

mod billing;
mod routing;
mod whisper;
