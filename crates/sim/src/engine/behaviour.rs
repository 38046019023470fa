//! How a buyer endpoint behaves, turned into dialplan applications (so the events are those a
//! real dialplan would raise). A behaviour is fixed ([`Behaviour::Answer`], [`Behaviour::Busy`],
//! …) or drawn: times from ranges ([`Behaviour::AnswerWithin`], [`Behaviour::RejectWithin`]) and
//! weighted mixes ([`Behaviour::Mix`]), resolved to a fixed one each time the destination is
//! dialled, from the engine's behaviour stream (seeded apart from the id stream, so adding a
//! mix changes no id).

use super::channel::{AppCall, Cause};
use super::dialplan::Extension;
use parkway_esl::splitmix::SplitMix64;

/// Milliseconds drawn uniformly from `min..=max` (a `max` below `min` counts as `min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsRange {
    pub min: u64,
    pub max: u64,
}

impl MsRange {
    pub const fn fixed(ms: u64) -> MsRange {
        MsRange { min: ms, max: ms }
    }

    pub const fn between(min: u64, max: u64) -> MsRange {
        MsRange { min, max }
    }

    /// One draw (no draw is taken from `rng` when the range holds one value).
    pub fn draw(self, rng: &mut SplitMix64) -> u64 {
        let span = self.max.saturating_sub(self.min);
        if span == 0 {
            return self.min;
        }
        self.min + rng.below(span.saturating_add(1))
    }
}

/// How a buyer endpoint behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Ring for `ring_ms`, answer, press `digits` (ms after answer, digit), then hang up
    /// `talk_ms` after answer.
    Answer {
        ring_ms: u64,
        digits: Vec<(u64, char)>,
        talk_ms: u64,
    },
    /// `hangup USER_BUSY` at once.
    Busy,
    /// Ring for `after_ms`, then hang up with `cause`.
    Reject { after_ms: u64, cause: Cause },
    /// Ring until cancelled.
    NeverAnswer,
    /// Not reachable: fails at once with DESTINATION_OUT_OF_ORDER.
    Unreachable,
    /// [`Behaviour::Answer`] with the ring and talk times drawn per call. A digit whose time
    /// is not before the drawn talk time is not pressed (the buyer hung up first).
    AnswerWithin {
        ring_ms: MsRange,
        digits: Vec<(u64, char)>,
        talk_ms: MsRange,
    },
    /// [`Behaviour::Reject`] after a ring time drawn per call.
    RejectWithin { after_ms: MsRange, cause: Cause },
    /// One of these per call, chosen with probability weight / total weight (entries may be
    /// drawn behaviours or mixes themselves). A mix whose weights are all 0 is
    /// [`Behaviour::Unreachable`].
    Mix(Vec<(u32, Behaviour)>),
}

impl Behaviour {
    /// Whether this behaviour differs from call to call.
    pub fn is_drawn(&self) -> bool {
        matches!(
            self,
            Behaviour::AnswerWithin { .. } | Behaviour::RejectWithin { .. } | Behaviour::Mix(_)
        )
    }

    /// The fixed behaviour of one call. A fixed behaviour comes back as it is and takes no
    /// draw; a drawn one takes one draw per choice and per range wider than one value.
    pub fn draw(&self, rng: &mut SplitMix64) -> Behaviour {
        match self {
            Behaviour::AnswerWithin {
                ring_ms,
                digits,
                talk_ms,
            } => {
                let ring_ms = ring_ms.draw(rng);
                let talk_ms = talk_ms.draw(rng);
                Behaviour::Answer {
                    ring_ms,
                    digits: digits
                        .iter()
                        .copied()
                        .filter(|(at, _)| *at < talk_ms)
                        .collect(),
                    talk_ms,
                }
            }
            Behaviour::RejectWithin { after_ms, cause } => Behaviour::Reject {
                after_ms: after_ms.draw(rng),
                cause: *cause,
            },
            Behaviour::Mix(entries) => {
                let total: u64 = entries.iter().map(|(w, _)| u64::from(*w)).sum();
                if total == 0 {
                    return Behaviour::Unreachable;
                }
                let mut pick = rng.below(total);
                for (weight, behaviour) in entries {
                    let weight = u64::from(*weight);
                    if pick < weight {
                        return behaviour.draw(rng);
                    }
                    pick -= weight;
                }
                Behaviour::Unreachable
            }
            fixed => fixed.clone(),
        }
    }

    /// The applications of a fixed behaviour. For a drawn one, those of a representative call
    /// (the draw of a stream seeded with 0); the engine draws afresh each time the destination
    /// is dialled.
    pub fn extension(&self) -> Extension {
        if self.is_drawn() {
            return self.draw(&mut SplitMix64::new(0)).extension();
        }
        let mut apps = Vec::new();
        let mut push = |n: &str, a: String| apps.push(AppCall::new(n, &a));
        match self {
            Behaviour::Answer {
                ring_ms,
                digits,
                talk_ms,
            } => {
                if *ring_ms > 0 {
                    push("ring_ready", String::new());
                    push("sleep", ring_ms.to_string());
                }
                push("answer", String::new());
                let mut at = 0;
                let mut digits = digits.clone();
                digits.sort();
                for (when, digit) in digits {
                    if when > at {
                        push("sleep", (when - at).to_string());
                        at = when;
                    }
                    push("send_dtmf", digit.to_string());
                }
                if *talk_ms > at {
                    push("sleep", (talk_ms - at).to_string());
                }
                push("hangup", "NORMAL_CLEARING".into());
            }
            Behaviour::Busy => push("hangup", "USER_BUSY".into()),
            Behaviour::Reject { after_ms, cause } => {
                push("ring_ready", String::new());
                if *after_ms > 0 {
                    push("sleep", after_ms.to_string());
                }
                push("hangup", cause.name.into());
            }
            Behaviour::NeverAnswer => {
                push("ring_ready", String::new());
                push("sleep", "86400000".into());
            }
            Behaviour::Unreachable => push("hangup", "DESTINATION_OUT_OF_ORDER".into()),
            Behaviour::AnswerWithin { .. } | Behaviour::RejectWithin { .. } | Behaviour::Mix(_) => {
            }
        }
        apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_mix() -> Behaviour {
        let answer = |digits: Vec<(u64, char)>| Behaviour::AnswerWithin {
            ring_ms: MsRange::between(2_000, 8_000),
            digits,
            talk_ms: MsRange::between(20_000, 300_000),
        };
        Behaviour::Mix(vec![
            (30, answer(vec![(30_000, '1')])),
            (30, answer(vec![])),
            (15, Behaviour::NeverAnswer),
            (10, Behaviour::Busy),
            (
                10,
                Behaviour::Reject {
                    after_ms: 3_000,
                    cause: Cause::parse("CALL_REJECTED").expect("known"),
                },
            ),
            (5, Behaviour::Unreachable),
        ])
    }

    #[test]
    fn fixed_behaviours_take_no_draw() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(Behaviour::Busy.draw(&mut rng), Behaviour::Busy);
        let fixed = Behaviour::AnswerWithin {
            ring_ms: MsRange::fixed(10),
            digits: vec![],
            talk_ms: MsRange::fixed(20),
        };
        fixed.draw(&mut rng);
        assert_eq!(rng.next_u64(), SplitMix64::new(1).next_u64());
    }

    #[test]
    fn weights_hold_and_times_stay_in_range() {
        let mix = demo_mix();
        let mut rng = SplitMix64::new(42);
        let n = 20_000;
        let mut counts = [0u32; 5];
        for _ in 0..n {
            match mix.draw(&mut rng) {
                Behaviour::Answer {
                    ring_ms,
                    digits,
                    talk_ms,
                } => {
                    assert!((2_000..=8_000).contains(&ring_ms));
                    assert!((20_000..=300_000).contains(&talk_ms));
                    assert!(digits.iter().all(|(at, _)| *at < talk_ms));
                    counts[0] += 1;
                }
                Behaviour::NeverAnswer => counts[1] += 1,
                Behaviour::Busy => counts[2] += 1,
                Behaviour::Reject { .. } => counts[3] += 1,
                Behaviour::Unreachable => counts[4] += 1,
                other => panic!("not fixed: {other:?}"),
            }
        }
        for (count, percent) in counts.iter().zip([60, 15, 10, 10, 5]) {
            let expected = f64::from(n) * f64::from(percent) / 100.0;
            // Five standard deviations of a binomial count.
            let sd = (expected * (1.0 - f64::from(percent) / 100.0)).sqrt();
            assert!(
                (f64::from(*count) - expected).abs() < 5.0 * sd,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_draws() {
        let mix = demo_mix();
        let draws = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..100).map(|_| mix.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        assert_ne!(draws(5), draws(6));
    }

    #[test]
    fn digits_after_the_talk_time_are_not_pressed() {
        let b = Behaviour::AnswerWithin {
            ring_ms: MsRange::fixed(0),
            digits: vec![(30_000, '1')],
            talk_ms: MsRange::fixed(20_000),
        };
        let names: Vec<_> = b.extension().iter().map(|a| a.name.clone()).collect();
        assert_eq!(names, ["answer", "sleep", "hangup"]);
        assert_eq!(
            Behaviour::Mix(vec![(0, Behaviour::Busy)]).draw(&mut SplitMix64::new(1)),
            Behaviour::Unreachable
        );
    }
}
