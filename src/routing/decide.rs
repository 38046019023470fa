//! The decision: filter every buyer of a router, then rank the survivors into a dial plan.
//!
//! Pure: the call's tokens, the usage snapshot, `now` and the random source come in as arguments;
//! nothing here reads a clock, a file or a socket.

use chrono::{DateTime, Utc};

use check::{Ctx, FilterMemo, GroupGate};

use super::decision::{Decision, LeftOut, Step};
use super::duplicate::{DuplicateCheck, NoDuplicates};
use super::hot::HotView;
use super::rank::{Ranked, best, compare, plan_order_into};
use super::rng::RandomSource;
use super::suppression::normalize;
use super::tokens::Tokens;
use super::usage::{Usage, UsageSnapshot};
use super::usage_index::ResolvedUsage;
use crate::config::{Config, Entry, Router};
use parkway_esl::fasthash::FxHashMap;

/// Decides the dial plan for a call on `router` with no duplicate history: a one-off decision
/// (`parkway explain`, tests), which builds the config's [`HotView`] for the call; whoever
/// decides many calls builds the view once and uses a [`Decider`].
pub fn decide(
    router: &Router,
    config: &Config,
    tokens: &Tokens,
    usage: &UsageSnapshot,
    now: DateTime<Utc>,
    rng: &mut dyn RandomSource,
) -> Decision {
    decide_with(router, config, tokens, usage, now, rng, &NoDuplicates)
}

/// [`decide`] with a duplicate-caller history.
pub fn decide_with(
    router: &Router,
    config: &Config,
    tokens: &Tokens,
    usage: &UsageSnapshot,
    now: DateTime<Utc>,
    rng: &mut dyn RandomSource,
    duplicates: &dyn DuplicateCheck,
) -> Decision {
    let view = HotView::new(&config.buyers);
    Decider::new(config, &view).decide(router, tokens, usage, now, rng, duplicates)
}

/// Decides calls on one config, reusing its working memory from one decision to the next (the
/// ranking keys, candidate steps and sort buffers of a 10,000-buyer router are about a megabyte;
/// allocating it afresh per call costs page faults whenever the allocator has handed it back to
/// the system). Each decision is computed from its own inputs only: the buffers are cleared
/// first, and the result is what [`decide_with`] returns.
///
/// It decides on `config` as `hot` lays its buyers out: routing's own view, built once per
/// config with [`HotView::new`] by whoever decides many calls (the switchboard, benchmarks).
pub struct Decider<'c> {
    config: &'c Config,
    hot: &'c HotView,
    scratch: Scratch<'c>,
}

/// Working memory of a decision.
#[derive(Default)]
struct Scratch<'c> {
    /// Eligible steps and, in parallel, the key each is ranked by.
    steps: Vec<Candidate<'c>>,
    keys: Vec<Ranked<'c>>,
    tagged: Vec<u64>,
    order: Vec<u32>,
}

impl<'c> Decider<'c> {
    /// A decider on `config`, whose buyers `hot` lays out (`HotView::new(&config.buyers)`; a
    /// view with another number of buyers is not used: each call then builds its own).
    pub fn new(config: &'c Config, hot: &'c HotView) -> Self {
        Decider {
            config,
            hot,
            scratch: Scratch::default(),
        }
    }

    /// [`decide_with`] on this decider's config.
    pub fn decide(
        &mut self,
        router: &Router,
        tokens: &Tokens,
        usage: &UsageSnapshot,
        now: DateTime<Utc>,
        rng: &mut dyn RandomSource,
        duplicates: &dyn DuplicateCheck,
    ) -> Decision {
        self.run(router, tokens, usage, None, now, rng, duplicates)
    }

    /// [`Decider::decide`] on a snapshot already resolved against this decider's view (see
    /// [`ResolvedUsage`]): the same decision, without a map lookup per capped buyer. A snapshot
    /// resolved against another view is read as a plain snapshot.
    pub fn decide_resolved(
        &mut self,
        router: &Router,
        tokens: &Tokens,
        usage: &ResolvedUsage<'_>,
        now: DateTime<Utc>,
        rng: &mut dyn RandomSource,
        duplicates: &dyn DuplicateCheck,
    ) -> Decision {
        self.run(
            router,
            tokens,
            usage.snapshot,
            Some(usage),
            now,
            rng,
            duplicates,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        router: &Router,
        tokens: &Tokens,
        usage: &UsageSnapshot,
        resolved: Option<&ResolvedUsage<'_>>,
        now: DateTime<Utc>,
        rng: &mut dyn RandomSource,
        duplicates: &dyn DuplicateCheck,
    ) -> Decision {
        let config = self.config;
        if self.hot.fits(&config.buyers) {
            let inputs = Inputs {
                router,
                tokens,
                usage,
                resolved,
                now,
                duplicates,
            };
            run_on(self.hot, config, &mut self.scratch, inputs, rng)
        } else {
            // A view of another config (or of this one before buyers were added): decide on a
            // view built for this call.
            let hot = HotView::new(&config.buyers);
            let inputs = Inputs {
                router,
                tokens,
                usage,
                resolved,
                now,
                duplicates,
            };
            run_on(&hot, config, &mut Scratch::default(), inputs, rng)
        }
    }
}

/// A decision's inputs besides the config.
struct Inputs<'x> {
    router: &'x Router,
    tokens: &'x Tokens,
    usage: &'x UsageSnapshot,
    resolved: Option<&'x ResolvedUsage<'x>>,
    now: DateTime<Utc>,
    duplicates: &'x dyn DuplicateCheck,
}

fn run_on<'h>(
    hot: &'h HotView,
    config: &'h Config,
    scratch: &mut Scratch<'h>,
    inputs: Inputs<'_>,
    rng: &mut dyn RandomSource,
) -> Decision {
    let Inputs {
        router,
        tokens,
        usage,
        resolved,
        now,
        duplicates,
    } = inputs;
    let mut ctx = Ctx {
        config,
        hot,
        router,
        tokens,
        usage,
        resolved: resolved.filter(|r| r.fits(hot)),
        now,
        duplicates,
        zones: vec![None; hot.zones.len()],
        other_zones: Vec::new(),
        filter_memo: FilterMemo::new(hot.filters.len()),
        opens_at: FxHashMap::default(),
        caller: tokens.caller_number().and_then(normalize),
        router_suppressed: None,
        epc_cutoff: now
            .checked_sub_signed(config.epc.window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        no_usage: Usage::default(),
    };
    ctx.router_suppressed = ctx.caller.and_then(|c| {
        router
            .suppress
            .iter()
            .find(|l| l.contains(c))
            .map(|l| l.name.clone())
    });

    let alg = router.algorithm;
    // Sized for a quarter of the entries left out, so typical decisions never regrow it.
    let mut left_out = Vec::with_capacity(router.entries.len() / 4 + 4);
    let Scratch {
        steps,
        keys,
        tagged,
        order,
    } = scratch;
    steps.clear();
    keys.clear();
    steps.reserve(router.entries.len());
    keys.reserve(router.entries.len());
    for entry in &router.entries {
        match *entry {
            Entry::Buyer(i) => match ctx.check(i, None) {
                Ok(()) => {
                    keys.push(ctx.ranked(i, None, rng));
                    steps.push(Candidate::Buyer(i));
                }
                Err(reason) => left_out.push(LeftOut {
                    buyer: hot.buyers[i].id.clone(),
                    reason,
                }),
            },
            Entry::Group(g) => {
                let group = &config.groups[g];
                let mut gate = GroupGate::new(group);
                let member_alg = group.route_by.unwrap_or(alg);
                let mut members = Vec::new();
                for &m in &group.members {
                    match ctx.check(m, Some(&mut gate)) {
                        Ok(()) => members.push((m, ctx.ranked(m, Some(member_alg), rng))),
                        Err(reason) => left_out.push(LeftOut {
                            buyer: hot.buyers[m].id.clone(),
                            reason,
                        }),
                    }
                }
                let member_keys: Vec<Ranked<'_>> = members.iter().map(|(_, r)| *r).collect();
                // A group is ranked by its best eligible member under the router's algorithm,
                // carrying the group's id for ties.
                if let Some(best) = best(alg, &member_keys) {
                    keys.push(Ranked {
                        id: group.id.as_str(),
                        ..*best
                    });
                    members.sort_by(|a, b| compare(member_alg, &a.1, &b.1));
                    steps.push(Candidate::Group(g, members));
                }
            }
        }
    }

    plan_order_into(alg, keys, tagged, order);
    let plan = order
        .iter()
        .map(|&i| {
            let key = &keys[i as usize];
            match &steps[i as usize] {
                Candidate::Buyer(b) => Step::Buyer {
                    id: hot.buyers[*b].id.clone(),
                    rank: key.rank(),
                },
                Candidate::Group(g, members) => {
                    let group = &config.groups[*g];
                    Step::Group {
                        id: group.id.clone(),
                        mode: group.mode,
                        members: members
                            .iter()
                            .map(|(m, _)| hot.buyers[*m].id.clone())
                            .collect(),
                        rank: key.rank(),
                    }
                }
            }
        })
        .collect();

    Decision {
        router: router.id.clone(),
        algorithm: alg,
        plan,
        left_out,
    }
}

/// An eligible plan step: a buyer, or a group with its eligible members in dial order.
enum Candidate<'a> {
    Buyer(usize),
    Group(usize, Vec<(usize, Ranked<'a>)>),
}

mod check;

#[cfg(test)]
use super::decision::{Reason, Scope};
#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
