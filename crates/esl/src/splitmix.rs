//! SplitMix64 (Steele, Lea & Flood 2014): the one seedable generator of the project. The
//! client's Job-UUIDs and origination uuids, the simulated switch's ids and routing's weighted
//! shuffles all draw from it, so a seed reproduces a run. Output `n` of a stream seeded with
//! `s` is `mix(s + n·GAMMA)`. Not for secrets: ids only have to be unique per switch.
//!
//! Its small functions are `#[inline]`: routing draws one word per buyer ranked, from another
//! crate, where a call that cannot be inlined costs more than the draw.
//!
//! Two handles on the one sequence: [`SplitMix64`] owns its state (`&mut self`), and
//! [`SharedSplitMix64`] keeps it in an atomic counter, so one generator can be shared by the
//! tasks of a connection without a lock.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The golden-ratio increment between states.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The output function: a bijection on 64-bit words.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random word scaled into `0..n` by the high half of a 128-bit product (0 when `n` is 0 or
/// 1; a bias of at most n / 2^64, fine for jitter and draws).
#[inline]
pub fn below(word: u64, n: u64) -> u64 {
    ((u128::from(word) * u128::from(n)) >> 64) as u64
}

/// A version-4 uuid (RFC 4122 variant) from two random words, in its 36-character lowercase form:
/// the shape FreeSWITCH's ids have.
pub fn uuid_v4(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// The seed of stream `stream` (a supervisor's generation, say) of the sequence seeded with
/// `seed`: stream `k` starts `k·2^40` steps in, so streams never share a state (nor an output,
/// [`mix`] being a bijection) while each draws fewer than 2^40 values and `k < 2^24`.
#[inline]
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    seed.wrapping_add((stream << 40).wrapping_mul(GAMMA))
}

/// A seed that differs on every run: the process's random hasher keys, the clock and the pid.
#[allow(
    clippy::disallowed_methods,
    reason = "the clock is one source of a fresh seed"
)]
pub fn os_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// SplitMix64 with its state owned: one 64-bit word, full period 2^64.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The sequence seeded with `seed`.
    #[inline]
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next word of the sequence.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A value in `0..bound` (see [`below`]).
    #[inline]
    pub fn below(&mut self, bound: u64) -> u64 {
        below(self.next_u64(), bound)
    }

    /// A random version-4 uuid from the next two words.
    pub fn uuid_v4(&mut self) -> String {
        let hi = self.next_u64();
        uuid_v4(hi, self.next_u64())
    }
}

/// SplitMix64 over an atomic counter: cheap to share, the same sequence as [`SplitMix64`] for
/// the same seed.
#[derive(Debug)]
pub struct SharedSplitMix64 {
    state: AtomicU64,
}

impl SharedSplitMix64 {
    /// The sequence seeded with `seed`.
    #[inline]
    pub fn new(seed: u64) -> SharedSplitMix64 {
        SharedSplitMix64 {
            state: AtomicU64::new(seed),
        }
    }

    /// Seeded with [`os_seed`] (different on every run).
    pub fn from_os() -> SharedSplitMix64 {
        SharedSplitMix64::new(os_seed())
    }

    /// The next word of the sequence.
    #[inline]
    pub fn next_u64(&self) -> u64 {
        mix(self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA))
    }

    /// A value in `0..bound` (see [`below`]).
    #[inline]
    pub fn below(&self, bound: u64) -> u64 {
        below(self.next_u64(), bound)
    }

    /// A random version-4 uuid from the next two words.
    pub fn uuid_v4(&self) -> String {
        let hi = self.next_u64();
        uuid_v4(hi, self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn reference_value_and_uuid_shape() {
        // SplitMix64 seeded with 0: its first output.
        assert_eq!(mix(GAMMA), 0xE220_A839_7B1D_CDAF);
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(SharedSplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let u = uuid_v4(u64::MAX, u64::MAX);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4(0, 0), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn owned_and_shared_are_one_sequence() {
        let (mut a, b) = (SplitMix64::new(42), SharedSplitMix64::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_eq!(a.uuid_v4(), b.uuid_v4());
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
        assert!((0..1000).all(|_| a.below(10) < 10 && b.below(10) < 10));
    }

    #[test]
    fn v4_shape_and_uniqueness() {
        let g = SharedSplitMix64::new(7);
        let mut seen = HashSet::new();
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
        let mut whole = SplitMix64::new(5);
        let mut second = SplitMix64::new(stream_seed(5, 1));
        // Stream 1 is the sequence 2^40 steps on.
        let mut skipped = SplitMix64::new(5u64.wrapping_add((1u64 << 40).wrapping_mul(GAMMA)));
        assert_eq!(second.next_u64(), skipped.next_u64());
        let first: HashSet<_> = (0..10_000).map(|_| whole.uuid_v4()).collect();
        let mut other = SplitMix64::new(stream_seed(5, 2));
        assert!((0..10_000).all(|_| !first.contains(&other.uuid_v4())));
    }
}
