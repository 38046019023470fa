//! Injected randomness: the decision core never seeds itself.
//!
//! [`RandomSource`] is the only way randomness enters a decision, so the same inputs and seed give
//! the same plan. [`SplitMix64`] is a tiny, fast, seedable generator (Steele, Lea & Flood 2014) that
//! is plenty for weighted shuffles; it is not for anything secret.

/// A source of uniformly distributed 64-bit values.
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;

    /// A uniform float in the half-open interval (0, 1]: never 0, so `ln(u)` is finite.
    fn next_unit_open(&mut self) -> f64 {
        // 53 random bits, shifted by one so the value is in 1..=2^53.
        let bits = (self.next_u64() >> 11) + 1;
        bits as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64: one 64-bit state word, full period 2^64.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(parkway_esl::splitmix::GAMMA);
        parkway_esl::splitmix::mix(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn known_first_value() {
        // Reference value of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn unit_interval_is_open_at_zero() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = r.next_unit_open();
            assert!(u > 0.0 && u <= 1.0);
        }
    }
}
