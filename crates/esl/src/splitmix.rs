//! SplitMix64 (Steele, Lea & Flood 2014), the crate's one seedable generator: routing's weighted
//! shuffles, the simulated switch's ids and the client's Job-UUIDs all draw from it, so a seed
//! reproduces a run. Output `n` of a stream seeded with `s` is `mix(s + n·GAMMA)`. Not for secrets.

/// The golden-ratio increment between states.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The output function: a bijection on 64-bit words.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random word scaled into `0..n` by the high half of a 128-bit product (0 when `n` is 0 or
/// 1; a bias of at most n / 2^64, fine for jitter and draws).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_value_and_uuid_shape() {
        // SplitMix64 seeded with 0: its first output.
        assert_eq!(mix(GAMMA), 0xE220_A839_7B1D_CDAF);
        let u = uuid_v4(u64::MAX, u64::MAX);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4(0, 0), "00000000-0000-4000-8000-000000000000");
    }
}
