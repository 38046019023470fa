//! Arbitrary bytes, in arbitrary chunkings, through the event-socket codec; every frame read as a
//! `Message` (events too). Panics, stalls and over-buffering are failures (see `src/lib.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    parkway_fuzz::check(data);
});
