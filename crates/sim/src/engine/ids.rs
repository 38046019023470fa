//! Seeded ids: every uuid the engine hands out comes from one SplitMix64 stream, so the same seed
//! gives the same ids in the same order.

/// A small, fast, seedable generator (SplitMix64). Not for cryptography: ids only need to be
/// unique within a run and reproducible from the seed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(parkway_esl::splitmix::GAMMA);
        parkway_esl::splitmix::mix(self.state)
    }

    /// A version-4 style uuid (`8-4-4-4-12` lowercase hex, version and variant bits set), the
    /// shape FreeSWITCH's ids have.
    pub fn uuid(&mut self) -> String {
        let hi = self.next_u64();
        parkway_esl::splitmix::uuid_v4(hi, self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids_and_uuid_shape() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let ids: Vec<String> = (0..50).map(|_| a.uuid()).collect();
        assert_eq!(ids, (0..50).map(|_| b.uuid()).collect::<Vec<_>>());
        assert_ne!(Rng::new(8).uuid(), ids[0]);
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{id}");
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }
}
