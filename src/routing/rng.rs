//! Injected randomness: the decision core never seeds itself.
//!
//! [`RandomSource`] is the only way randomness enters a decision, so the same inputs and seed give
//! the same plan. The generator is the project's one seeded generator,
//! [`SplitMix64`](parkway_esl::splitmix::SplitMix64); it is not for anything secret.

pub use parkway_esl::splitmix::SplitMix64;

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

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        SplitMix64::next_u64(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_interval_is_open_at_zero() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = r.next_unit_open();
            assert!(u > 0.0 && u <= 1.0);
        }
    }
}
