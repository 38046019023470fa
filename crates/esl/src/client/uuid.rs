//! A small, lock-free uuid-v4 generator for `Job-UUID`s and `Event-UUID`s (no extra crate).
//!
//! splitmix64 is counter based: output `n` is a mix of `seed + n·γ`, so a shared atomic counter is
//! the whole state. It is not cryptographic; ids only have to be unique per FreeSWITCH, and a
//! seeded generator makes tests reproducible.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::splitmix::{GAMMA, mix};

/// splitmix64 over an atomic counter: cheap to share, same sequence for the same seed.
#[derive(Debug)]
pub struct SplitMix64 {
    state: AtomicU64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 {
            state: AtomicU64::new(seed),
        }
    }

    /// The seed of stream `stream` (a supervisor's generation) of one splitmix64 sequence: stream
    /// `k` starts `k·2^40` steps into the sequence of `seed`, so streams never share a state (nor
    /// an output, `mix` being a bijection) while each draws fewer than 2^40 values (2^39 uuids)
    /// and `k < 2^24`.
    pub fn stream_seed(seed: u64, stream: u64) -> u64 {
        seed.wrapping_add((stream << 40).wrapping_mul(GAMMA))
    }

    /// Seeded from the process's random hasher keys and the clock (different on every run).
    pub fn from_os() -> SplitMix64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        SplitMix64::new(h.finish())
    }

    pub fn next_u64(&self) -> u64 {
        mix(self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA))
    }

    /// A value in `0..bound` (`bound` > 0; slightly biased, fine for jitter).
    pub fn below(&self, bound: u64) -> u64 {
        crate::splitmix::below(self.next_u64(), bound)
    }

    /// A random (version 4, RFC 4122 variant) uuid in its 36-character lowercase form.
    pub fn uuid_v4(&self) -> String {
        let hi = self.next_u64();
        crate::splitmix::uuid_v4(hi, self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_shape_and_uniqueness() {
        let g = SplitMix64::new(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let u = g.uuid_v4();
            assert_eq!(u.len(), 36);
            assert_eq!(&u[14..15], "4");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
            assert!(seen.insert(u));
        }
    }

    #[test]
    fn streams_of_one_seed_are_disjoint_windows_of_its_sequence() {
        let whole = SplitMix64::new(5);
        let second = SplitMix64::new(SplitMix64::stream_seed(5, 1));
        // Stream 1 is the sequence 2^40 steps on.
        let skipped = SplitMix64 {
            state: AtomicU64::new(5u64.wrapping_add((1u64 << 40).wrapping_mul(GAMMA))),
        };
        assert_eq!(second.next_u64(), skipped.next_u64());
        let first: std::collections::HashSet<_> = (0..10_000).map(|_| whole.uuid_v4()).collect();
        let other = SplitMix64::new(SplitMix64::stream_seed(5, 2));
        assert!((0..10_000).all(|_| !first.contains(&other.uuid_v4())));
    }

    #[test]
    fn same_seed_same_sequence() {
        let (a, b) = (SplitMix64::new(42), SplitMix64::new(42));
        assert_eq!(a.uuid_v4(), b.uuid_v4());
        assert_ne!(a.uuid_v4(), SplitMix64::new(43).uuid_v4());
        assert!((0..1000).all(|_| a.below(10) < 10));
    }
}
