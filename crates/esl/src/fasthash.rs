//! The project's one hash: a small, fast, non-cryptographic hasher for maps keyed by short
//! strings (the client's Job-UUIDs, routing's token names and buyer ids), and [`digest`], a
//! stable 64-bit fingerprint of byte strings (file names of the whisper cache, test
//! fingerprints).
//!
//! The keys are chosen by the operator, the switch or this process, so HashDoS resistance buys
//! nothing here; std's SipHash would dominate the cost of a decision over thousands of buyers.
//! This is the multiply-rotate scheme popularised by Firefox and rustc ("FxHash") with a
//! MurmurHash3 finaliser, written out so no crate is needed. Words are read little-endian and
//! the state is 64 bits on every platform, so a digest is the same everywhere and in every
//! build (unlike `DefaultHasher`'s).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash's state: one word, folded with each input word by rotate, xor and multiply.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Assembled by hand: a variable-length copy would be a call to memcpy.
            let mut w = 0u64;
            for (i, b) in rest.iter().enumerate() {
                w |= u64::from(*b) << (8 * i);
            }
            self.add(w);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// A final avalanche (the MurmurHash3 `fmix64` step): hashbrown takes the bucket from the low
    /// bits and a tag from the top seven, and the multiply-rotate state alone leaves keys that differ
    /// only in their last characters (`buyer-00017`, `buyer-00018`) clustered.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds [`FxHasher`]s (for `HashMap::with_hasher`).
pub type FxBuild = BuildHasherDefault<FxHasher>;
/// A `HashMap` with the [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, FxBuild>;
/// A `HashSet` with the [`FxHasher`].
pub type FxHashSet<K> = HashSet<K, FxBuild>;

/// A stable fingerprint of `parts`: their count, then each part's length and bytes, so
/// `("ab", "c")` and `("a", "bc")` differ, and so do `()` and `("")`.
pub fn digest(parts: &[&[u8]]) -> u64 {
    let mut h = FxHasher::default();
    h.add(parts.len() as u64);
    for part in parts {
        h.add(part.len() as u64);
        h.write(part);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn similar_keys_spread_over_buckets() {
        let b = FxBuild::default();
        let mut low = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for i in 0..1024 {
            let h = b.hash_one(format!("buyer-{i:05}"));
            low.insert(h & 1023);
            tags.insert(h >> 57);
        }
        assert!(low.len() > 550, "{} distinct buckets of 1024", low.len());
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn digest_is_stable_and_separates_parts() {
        const DIGEST_SOLAR: u64 = 0x3809_0790_81f4_3072;
        assert_eq!(digest(&[b"solar"]), digest(&[b"solar"]));
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_ne!(digest(&[b""]), digest(&[]));
        // Pinned: the whisper cache's file names depend on it across builds and platforms.
        assert_eq!(digest(&[b"solar"]), DIGEST_SOLAR);
    }
}
