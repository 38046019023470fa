//! Ranking: ordering the eligible steps of a plan.
//!
//! - `tier`: lower tier first; inside a tier, a weighted random order (Efraimidis–Spirakis: each
//!   buyer draws `u` uniform in (0, 1] and is ordered by the key `u^(1/weight)`, largest first, which
//!   is the order of `ln(u) / weight`). The buyer first in a tier is picked with probability
//!   `weight / sum of weights`, and the rest of the order follows the same draw without replacement.
//! - `revenue`: highest per-call bid first.
//! - `epc`: highest earnings per call over the trailing window first, with a prior:
//!   `(earnings + prior × k) / (calls + k)`, compared as exact rationals in integer minor units.
//!   A new buyer starts at the prior, so it is neither starved (prior 0) nor flooded (prior huge);
//!   after `k` calls its own history weighs as much as the prior.
//!
//! Ties break by id (ascending), so equal buyers are always in the same order.
//!
//! Groups: a group step is ranked by its best eligible member under the router's algorithm (its
//! lowest tier with the best random key inside it, its highest bid, or its highest EPC). For a
//! `tier` router this gives a group the summed weight of its members in that tier, as if they were
//! drawn one by one. Members inside the step are ordered by the group's `route_by`, or the router's
//! algorithm when it has none.
//!
//! Per-buyer `route_by` is not offered: an algorithm orders a set of candidates, and one buyer is
//! not a set. Where an operator needs a second order is inside a group (say, a sequential group
//! dialled by bid inside a `tier` router), so `route_by` lives on `[[group]]`; a `route_by` key on a
//! `[[buyer]]` is rejected as an unknown key, so nobody believes it does something.

use std::cmp::Ordering;

use super::decision::{Algorithm, Rank};

/// Everything a buyer (or a group, through its best member) is ranked by. Small and borrowed, so
/// sorting thousands of them moves little memory.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    pub id: &'a str,
    pub tier: u32,
    pub weight: u32,
    /// Minor units.
    pub bid: i64,
    /// EPC numerator (minor units) and denominator (calls); `den > 0`.
    pub epc_num: i64,
    pub epc_den: i64,
    /// `ln(u) / weight`: larger first. 0 when the algorithm draws nothing.
    pub random_key: f64,
}

impl Ranked<'_> {
    pub fn rank(&self) -> Rank {
        Rank {
            tier: self.tier,
            weight: self.weight,
            bid: self.bid,
            // Routers that do not rank by EPC carry the prior over 1: skip the division.
            epc: if self.epc_den == 1 {
                self.epc_num
            } else {
                self.epc_num.div_euclid(self.epc_den.max(1))
            },
        }
    }
}

/// The EPC ratio with a prior, as (numerator, denominator), both exact. Saturates rather than
/// overflowing (an i64 of cents is ±92 quadrillion dollars); comparisons multiply in i128.
pub fn epc_ratio(earnings: i64, calls: u64, prior: i64, prior_calls: u32) -> (i64, i64) {
    let den = i64::try_from(calls)
        .unwrap_or(i64::MAX)
        .saturating_add(i64::from(prior_calls));
    if den == 0 {
        return (prior, 1);
    }
    (
        earnings.saturating_add(prior.saturating_mul(i64::from(prior_calls))),
        den,
    )
}

/// The weighted-shuffle key for a uniform `u` in (0, 1] and a weight ≥ 1.
pub fn random_key(u: f64, weight: u32) -> f64 {
    u.ln() / f64::from(weight.max(1))
}

/// Orders two buyers: `Less` means `a` is dialled first.
pub fn compare(algorithm: Algorithm, a: &Ranked, b: &Ranked) -> Ordering {
    let primary = match algorithm {
        Algorithm::Tier => a
            .tier
            .cmp(&b.tier)
            .then_with(|| b.random_key.total_cmp(&a.random_key)),
        Algorithm::Revenue => b.bid.cmp(&a.bid),
        Algorithm::Epc => (i128::from(b.epc_num) * i128::from(a.epc_den))
            .cmp(&(i128::from(a.epc_num) * i128::from(b.epc_den))),
    };
    primary.then_with(|| a.id.cmp(b.id))
}

/// Tiers up to this value pack into a sort key; a config allows at most 1000.
const PACKED_TIER_MAX: u32 = (1 << 10) - 1;

/// `compare`'s primary order packed into 64 bits, smaller first, for `tier` (10 bits of tier, then
/// the top 54 bits of the weighted-shuffle key: keys closer than 2^-42 relative fall back to the id
/// order, a bias far below anything measurable) and `revenue` (the bid). EPC is a ratio and has no
/// packed form.
fn packed(algorithm: Algorithm, r: &Ranked<'_>) -> Option<u64> {
    match algorithm {
        // random_key is finite and ≤ 0, so 0 - key is ≥ +0.0 and its bits order like its value;
        // the sign bit is 0 and 10 low mantissa bits are dropped to make room for the tier.
        Algorithm::Tier if r.tier <= PACKED_TIER_MAX => {
            Some((u64::from(r.tier) << 54) | ((0.0 - r.random_key).to_bits() >> 10))
        }
        Algorithm::Revenue => Some(!((r.bid as u64) ^ (1 << 63))),
        _ => None,
    }
}

/// The plan order of `keys` under `algorithm`, as indices into `keys`: the order of sorting with
/// [`compare`].
///
/// Sorts one `u64` per step: the packed key with its lowest bits replaced by the step's index (so
/// the sort moves and compares single words). Steps whose packed keys agree above those bits form
/// runs, which are then ordered exactly: by the whole packed key, and by id where that is equal.
pub fn plan_order(algorithm: Algorithm, keys: &[Ranked<'_>]) -> Vec<u32> {
    let mut order = Vec::new();
    plan_order_into(algorithm, keys, &mut Vec::new(), &mut order);
    order
}

/// [`plan_order`] into `order`, with `tagged` as working memory (both are cleared first).
pub fn plan_order_into(
    algorithm: Algorithm,
    keys: &[Ranked<'_>],
    tagged: &mut Vec<u64>,
    order: &mut Vec<u32>,
) {
    let index_bits = usize::BITS - keys.len().leading_zeros();
    let low: u64 = (1u64 << index_bits.min(63)) - 1;
    tagged.clear();
    order.clear();
    let all_packed = keys
        .iter()
        .enumerate()
        .all(|(i, r)| match packed(algorithm, r) {
            Some(k) => {
                tagged.push((k & !low) | i as u64);
                true
            }
            None => false,
        });
    if !all_packed {
        order.extend(0..keys.len() as u32);
        order.sort_unstable_by(|a, b| compare(algorithm, &keys[*a as usize], &keys[*b as usize]));
        return;
    }
    tagged.sort_unstable();
    order.extend(tagged.iter().map(|k| (*k & low) as u32));
    let full = |i: u32| packed(algorithm, &keys[i as usize]).unwrap_or(0);
    let mut start = 0;
    while start < tagged.len() {
        let high = tagged[start] & !low;
        let mut end = start + 1;
        while end < tagged.len() && tagged[end] & !low == high {
            end += 1;
        }
        if end - start > 1 {
            let run = &mut order[start..end];
            run.sort_unstable_by_key(|i| (full(*i), *i));
            // Equal packed keys, in index order: by id.
            let mut a = 0;
            while a < run.len() {
                let k = full(run[a]);
                let mut b = a + 1;
                while b < run.len() && full(run[b]) == k {
                    b += 1;
                }
                if b - a > 1 {
                    run[a..b]
                        .sort_unstable_by(|x, y| keys[*x as usize].id.cmp(keys[*y as usize].id));
                }
                a = b;
            }
        }
        start = end;
    }
}

/// The best of a non-empty slice under `algorithm`.
pub fn best<'a, 'b>(algorithm: Algorithm, members: &'b [Ranked<'a>]) -> Option<&'b Ranked<'a>> {
    members.iter().min_by(|a, b| compare(algorithm, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str, tier: u32, bid: i64, key: f64) -> Ranked<'_> {
        Ranked {
            id,
            tier,
            weight: 1,
            bid,
            epc_num: 0,
            epc_den: 1,
            random_key: key,
        }
    }

    fn order(alg: Algorithm, mut v: Vec<Ranked>) -> Vec<String> {
        v.sort_by(|a, b| compare(alg, a, b));
        v.into_iter().map(|x| x.id.to_string()).collect()
    }

    #[test]
    fn tier_then_key_then_id() {
        let v = vec![
            r("d", 2, 0, -0.1),
            r("c", 1, 0, -0.5),
            r("b", 1, 0, -0.2),
            r("a", 1, 0, -0.5),
        ];
        assert_eq!(order(Algorithm::Tier, v), ["b", "a", "c", "d"]);
    }

    #[test]
    fn revenue_highest_bid_first_ties_by_id() {
        let v = vec![
            r("c", 1, 1000, 0.0),
            r("b", 9, 2500, 0.0),
            r("a", 1, 1000, 0.0),
        ];
        assert_eq!(order(Algorithm::Revenue, v), ["b", "a", "c"]);
    }

    #[test]
    fn epc_with_prior() {
        // prior 10.00 weighing 10 calls.
        let mk = |id: &'static str, earnings: i64, calls: u64| {
            let (n, d) = epc_ratio(earnings, calls, 1000, 10);
            Ranked {
                epc_num: n,
                epc_den: d,
                ..r(id, 1, 0, 0.0)
            }
        };
        let new = mk("new", 0, 0); // 10.00
        let proven = mk("proven", 150_000, 100); // (150000+10000)/110 = 14.54
        let one_lucky = mk("lucky", 10_000, 1); // (10000+10000)/11 = 18.18
        let poor = mk("poor", 20_000, 100); // 30000/110 = 2.72
        assert_eq!(new.rank().epc, 1000);
        assert_eq!(
            order(Algorithm::Epc, vec![poor, new, proven, one_lucky]),
            ["lucky", "proven", "new", "poor"]
        );
        assert_eq!(
            epc_ratio(0, 0, 500, 0),
            (500, 1),
            "no history, no weight: the prior"
        );
    }

    #[test]
    fn epc_ties_are_exact() {
        // 1/3 and 2/6 are equal: the id decides, no float noise.
        let a = Ranked {
            epc_num: 1,
            epc_den: 3,
            ..r("a", 1, 0, 0.0)
        };
        let b = Ranked {
            epc_num: 2,
            epc_den: 6,
            ..r("b", 1, 0, 0.0)
        };
        assert_eq!(order(Algorithm::Epc, vec![b, a]), ["a", "b"]);
    }

    #[test]
    fn packed_sort_matches_compare() {
        let ids: Vec<String> = (0..200)
            .map(|i| format!("b{:03}", (i * 37) % 200))
            .collect();
        for alg in [Algorithm::Tier, Algorithm::Revenue, Algorithm::Epc] {
            let items: Vec<(Ranked<'_>, usize)> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let key = if i % 7 == 0 {
                        -0.5
                    } else {
                        -((i % 13) as f64) / 3.0
                    };
                    let mut r = r(id, (i % 3) as u32, ((i % 5) as i64) * 100 - 100, key);
                    r.epc_num = (i % 4) as i64;
                    r.epc_den = 1 + (i % 3) as i64;
                    (r, i)
                })
                .collect();
            let mut want = items.clone();
            want.sort_by(|(a, _), (b, _)| compare(alg, a, b));
            let keys: Vec<Ranked<'_>> = items.iter().map(|x| x.0).collect();
            let got: Vec<usize> = plan_order(alg, &keys)
                .into_iter()
                .map(|i| items[i as usize].1)
                .collect();
            let want: Vec<usize> = want.iter().map(|x| x.1).collect();
            assert_eq!(got, want, "{alg:?}");
        }
    }

    /// The order as first written: sort (packed key, index) as `u128`, then runs of equal packed
    /// keys by id.
    fn plan_order_u128(algorithm: Algorithm, keys: &[Ranked<'_>]) -> Vec<u32> {
        let mut p: Vec<u128> = keys
            .iter()
            .enumerate()
            .map(|(i, r)| (u128::from(packed(algorithm, r).unwrap()) << 64) | i as u128)
            .collect();
        p.sort_unstable();
        let mut order: Vec<u32> = p.iter().map(|k| *k as u32).collect();
        let mut start = 0;
        while start < p.len() {
            let mut end = start + 1;
            while end < p.len() && p[end] >> 64 == p[start] >> 64 {
                end += 1;
            }
            order[start..end]
                .sort_unstable_by(|a, b| keys[*a as usize].id.cmp(keys[*b as usize].id));
            start = end;
        }
        order
    }

    #[test]
    fn word_sort_matches_the_u128_sort() {
        use crate::routing::rng::{RandomSource, SplitMix64};
        let mut rng = SplitMix64::new(5);
        let ids: Vec<String> = (0..3000).map(|i| format!("x{}", i % 1700)).collect();
        for n in [0usize, 1, 2, 3, 7, 64, 65, 300, 3000] {
            for alg in [Algorithm::Tier, Algorithm::Revenue] {
                let keys: Vec<Ranked<'_>> = (0..n)
                    .map(|i| {
                        // Keys that collide outright, differ only in their lowest bits, or not.
                        let base = -((rng.next_u64() % 5) as f64) / 7.0;
                        let key = match rng.next_u64() % 3 {
                            0 => base,
                            1 => f64::from_bits(base.to_bits() + (rng.next_u64() % 4096)),
                            _ => random_key(rng.next_unit_open(), 1 + (i % 9) as u32),
                        };
                        r(
                            &ids[i],
                            (rng.next_u64() % 3) as u32,
                            (rng.next_u64() % 4) as i64,
                            key,
                        )
                    })
                    .collect();
                assert_eq!(
                    plan_order(alg, &keys),
                    plan_order_u128(alg, &keys),
                    "{alg:?} {n}"
                );
            }
        }
    }

    #[test]
    fn random_key_prefers_heavier_weight_for_same_u() {
        assert!(random_key(0.5, 10) > random_key(0.5, 1));
        assert_eq!(random_key(1.0, 3), 0.0);
    }
}
