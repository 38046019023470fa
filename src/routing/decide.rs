//! The decision: filter every buyer of a router, then rank the survivors into a dial plan.
//!
//! Pure: the call's tokens, the usage snapshot, `now` and the random source come in as arguments;
//! nothing here reads a clock, a file or a socket.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;

use super::decision::{Algorithm, Decision, LeftOut, Reason, Scope, Step};
use super::duplicate::{DuplicateAction, DuplicateCheck, NoDuplicates};
use super::fasthash::FxHashMap;
use super::filter::keyed_value;
use super::hot::{self, HotBuyer, HotView};
use super::rank::{Ranked, best, compare, epc_ratio, plan_order_into, random_key};
use super::rng::RandomSource;
use super::suppression::normalize;
use super::tokens::Tokens;
use super::usage::{Counter, Metric, Usage, UsageSnapshot, counted};
use super::usage_index::ResolvedUsage;
use super::zonetime::{ZoneNow, in_zone};
use crate::config::{Config, Entry, Group, Router};

/// Decides the dial plan for a call on `router` with no duplicate history.
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
    Decider::new(config).decide(router, tokens, usage, now, rng, duplicates)
}

/// [`decide_with`] on a snapshot already resolved against `config` (see [`ResolvedUsage`]): the
/// same decision, without a map lookup per capped buyer. A snapshot resolved for another config is
/// read as a plain snapshot.
pub fn decide_resolved(
    router: &Router,
    config: &Config,
    tokens: &Tokens,
    usage: &ResolvedUsage<'_>,
    now: DateTime<Utc>,
    rng: &mut dyn RandomSource,
    duplicates: &dyn DuplicateCheck,
) -> Decision {
    Decider::new(config).decide_resolved(router, tokens, usage, now, rng, duplicates)
}

/// Decides calls on one config, reusing its working memory from one decision to the next (the
/// ranking keys, candidate steps and sort buffers of a 10,000-buyer router are about a megabyte;
/// allocating it afresh per call costs page faults whenever the allocator has handed it back to
/// the system). Each decision is computed from its own inputs only: the buffers are cleared
/// first, and the result is what [`decide_with`] returns.
pub struct Decider<'c> {
    config: &'c Config,
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
    pub fn new(config: &'c Config) -> Self {
        Decider {
            config,
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

    /// [`decide_resolved`] on this decider's config.
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
        if config.hot.fits(&config.buyers) {
            let inputs = Inputs {
                router,
                tokens,
                usage,
                resolved,
                now,
                duplicates,
            };
            run_on(&config.hot, config, &mut self.scratch, inputs, rng)
        } else {
            // Edited by hand without `reindex`: decide on a view built for this call.
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

/// A group's pause and caps, checked once per decision and shared by its members.
struct GroupGate<'a> {
    group: &'a Group,
    caps: Option<Result<(), Reason>>,
}

impl<'a> GroupGate<'a> {
    fn new(group: &'a Group) -> Self {
        GroupGate { group, caps: None }
    }
}

/// What each distinct filter of the hot view evaluated to in this decision: two bit sets when the
/// config has at most 64 distinct filters (no allocation), else one byte per filter.
enum FilterMemo {
    Bits { known: u64, held: u64 },
    Bytes(Vec<u8>),
}

const UNKNOWN: u8 = 0;
const HOLDS: u8 = 1;
const FAILS: u8 = 2;

impl FilterMemo {
    fn new(filters: usize) -> FilterMemo {
        if filters <= 64 {
            FilterMemo::Bits { known: 0, held: 0 }
        } else {
            FilterMemo::Bytes(vec![UNKNOWN; filters])
        }
    }

    fn get(&self, fid: u32) -> Option<bool> {
        match self {
            FilterMemo::Bits { known, held } => {
                (known >> fid & 1 == 1).then_some(held >> fid & 1 == 1)
            }
            FilterMemo::Bytes(v) => match v[fid as usize] {
                UNKNOWN => None,
                b => Some(b == HOLDS),
            },
        }
    }

    fn set(&mut self, fid: u32, value: bool) {
        match self {
            FilterMemo::Bits { known, held } => {
                *known |= 1 << fid;
                *held |= u64::from(value) << fid;
            }
            FilterMemo::Bytes(v) => v[fid as usize] = if value { HOLDS } else { FAILS },
        }
    }
}

/// One decision in progress: the config and its hot view (`'h`), the call's inputs (`'a`).
struct Ctx<'h, 'a> {
    config: &'h Config,
    hot: &'h HotView,
    router: &'a Router,
    tokens: &'a Tokens,
    usage: &'a UsageSnapshot,
    /// `usage` laid out for `hot`, when the caller resolved it.
    resolved: Option<&'a ResolvedUsage<'a>>,
    now: DateTime<Utc>,
    duplicates: &'a dyn DuplicateCheck,
    /// `now` in each zone of the hot view, computed on first use.
    zones: Vec<Option<ZoneNow>>,
    /// `now` in group zones no buyer uses (few zones: a short list beats a map).
    other_zones: Vec<ZoneNow>,
    filter_memo: FilterMemo,
    /// Keyed by (hot zone, hot schedule).
    opens_at: FxHashMap<(u16, u32), Option<DateTime<FixedOffset>>>,
    caller: Option<u64>,
    router_suppressed: Option<Arc<str>>,
    epc_cutoff: DateTime<Utc>,
    no_usage: Usage,
}

/// `now` in hot zone `z`, computed on first use.
fn zone_now<'z>(
    zones: &'z mut [Option<ZoneNow>],
    hot: &HotView,
    z: u16,
    now: DateTime<Utc>,
) -> &'z ZoneNow {
    let tz = hot.zones[usize::from(z)];
    zones[usize::from(z)].get_or_insert_with(|| ZoneNow::new(tz, now))
}

impl<'h> Ctx<'h, '_> {
    /// `now` in a group's zone.
    fn group_zone(&mut self, tz: Tz) -> &ZoneNow {
        if let Some(z) = self.hot.zones.iter().position(|z| *z == tz) {
            let z = u16::try_from(z).unwrap_or(u16::MAX);
            return zone_now(&mut self.zones, self.hot, z, self.now);
        }
        let i = match self.other_zones.iter().position(|z| z.tz == tz) {
            Some(i) => i,
            None => {
                self.other_zones.push(ZoneNow::new(tz, self.now));
                self.other_zones.len() - 1
            }
        };
        &self.other_zones[i]
    }

    /// `Ok` when buyer `bi` may be dialled; otherwise the first reason it may not.
    fn check(&mut self, bi: usize, group: Option<&mut GroupGate<'_>>) -> Result<(), Reason> {
        let hot = self.hot;
        let hb = &hot.buyers[bi];
        if hb.flags & hot::PAUSED != 0 {
            return Err(Reason::Paused { by: Scope::Buyer });
        }
        if let Some(g) = group.as_deref()
            && g.group.paused
        {
            return Err(Reason::Paused {
                by: Scope::Group(g.group.id.clone()),
            });
        }
        if let Some(list) = &self.router_suppressed {
            return Err(Reason::Suppressed { list: list.clone() });
        }
        if hb.flags & hot::SUPPRESS != 0
            && let Some(c) = self.caller
            && let Some(l) = self.config.buyers[bi]
                .suppress
                .iter()
                .find(|l| l.contains(c))
        {
            return Err(Reason::Suppressed {
                list: l.name.clone(),
            });
        }
        let zone = zone_now(&mut self.zones, hot, hb.zone, self.now);
        for (k, &fid) in hot.filters_of(hb).iter().enumerate() {
            let held = match self.filter_memo.get(fid) {
                Some(held) => held,
                None => {
                    // Interned filters test the same token the same way (and read the same zone),
                    // so the first buyer's copy answers for all of them.
                    let r = hot.filters[fid as usize];
                    let f = &self.config.buyers[r.buyer as usize].filters[r.index as usize];
                    let held = f.holds(keyed_value(self.tokens, zone, f.key, &f.token));
                    self.filter_memo.set(fid, held);
                    held
                }
            };
            if !held {
                let f = &self.config.buyers[bi].filters[k];
                let actual = keyed_value(self.tokens, zone, f.key, &f.token);
                return Err(Reason::TokenMismatch {
                    token: f.token.clone(),
                    op: f.op(),
                    expected: f.expected.clone(),
                    actual: actual.map(str::to_string),
                });
            }
        }
        let schedule = &hot.schedules[hb.schedule as usize];
        if !schedule.is_open(zone) {
            // Many buyers share a few schedules: compute each opening once per zone.
            let key = (hb.zone, hb.schedule);
            let opens_at = match self.opens_at.get(&key) {
                Some(t) => *t,
                None => {
                    let t = schedule.next_open(zone);
                    self.opens_at.insert(key, t);
                    t
                }
            };
            return Err(Reason::OutsideHours { opens_at });
        }
        if hb.flags & hot::CAPS_SIMPLE != 0 {
            match self.resolved {
                Some(r) => {
                    check_simple_caps(hot, hb, r.concurrency[bi], |k| r.rule_counters[k], zone)?
                }
                None => {
                    let usage = self.usage.buyer(&hb.id).unwrap_or(&self.no_usage);
                    let counter = |k: usize| {
                        let rule = &hot.cap_rules[k];
                        usage.window(rule.window).get(rule.metric)
                    };
                    check_simple_caps(hot, hb, usage.concurrency, counter, zone)?
                }
            }
        } else if hb.flags & hot::CAPS_GENERAL != 0 {
            let usage = match self.resolved {
                Some(r) => r.buyers[bi],
                None => self.usage.buyer(&hb.id),
            };
            self.config.buyers[bi]
                .caps
                .check(usage, zone, &Scope::Buyer)?;
        }
        if let Some(gate) = group {
            if gate.caps.is_none() {
                let scope = Scope::Group(gate.group.id.clone());
                let usage = self.usage;
                let zone = self.group_zone(gate.group.tz);
                gate.caps = Some(
                    gate.group
                        .caps
                        .check(usage.group(&gate.group.id), zone, &scope),
                );
            }
            if let Some(Err(reason)) = &gate.caps {
                return Err(reason.clone());
            }
        }
        if hb.flags & hot::DUPLICATE != 0 {
            let buyer = &self.config.buyers[bi];
            if let (Some(rule), Some(caller)) = (buyer.duplicate, self.caller)
                && rule.action == DuplicateAction::Reroute
            {
                let window =
                    Duration::try_seconds(i64::try_from(rule.window_secs).unwrap_or(i64::MAX))
                        .unwrap_or(Duration::MAX);
                let since = self
                    .now
                    .checked_sub_signed(window)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                if let Some(prev) =
                    self.duplicates
                        .previous(caller, &buyer.id, &self.router.id, rule.scope, since)
                {
                    return Err(Reason::Duplicate {
                        scope: rule.scope,
                        previous_at: in_zone(buyer.tz, prev),
                        window_secs: rule.window_secs,
                    });
                }
            }
        }
        Ok(())
    }

    /// The ranking key of an eligible buyer. `member_alg` is the algorithm that orders it inside its
    /// group, if it is in one: the random key and EPC are only computed when an algorithm uses them.
    fn ranked(
        &self,
        bi: usize,
        member_alg: Option<Algorithm>,
        rng: &mut dyn RandomSource,
    ) -> Ranked<'h> {
        let hot: &'h HotView = self.hot;
        let hb = &hot.buyers[bi];
        let epc = &self.config.epc;
        let uses = |a: Algorithm| self.router.algorithm == a || member_alg == Some(a);
        let (epc_num, epc_den) = if uses(Algorithm::Epc) {
            let usage = match self.resolved {
                Some(r) => r.buyers[bi],
                None => self.usage.buyer(&hb.id),
            };
            let (earnings, calls) = usage.map_or((0, 0), |u| u.epc_since(self.epc_cutoff));
            epc_ratio(earnings, calls, epc.prior.minor, epc.prior_calls)
        } else {
            (epc.prior.minor, 1)
        };
        let random_key = if uses(Algorithm::Tier) {
            random_key(rng.next_unit_open(), hb.weight)
        } else {
            0.0
        };
        Ranked {
            id: hb.id.as_str(),
            tier: hb.tier,
            weight: hb.weight,
            bid: hb.bid,
            epc_num,
            epc_den,
            random_key,
        }
    }
}

/// [`CapSpec::check`](super::caps::CapSpec::check) for caps without time slots or even pacing:
/// concurrency, then the flat rules in the same order, with the same reasons. `counter(k)` is the
/// usage counter of the view's cap rule `k`.
fn check_simple_caps(
    hot: &HotView,
    hb: &HotBuyer,
    concurrency: u32,
    counter: impl Fn(usize) -> Option<Counter>,
    zone: &ZoneNow,
) -> Result<(), Reason> {
    if let Some(limit) = hb.concurrency {
        let used = i64::from(concurrency);
        if used >= limit {
            return Err(Reason::OverCap {
                scope: Scope::Buyer,
                metric: Metric::Concurrency,
                window: None,
                used,
                limit,
                resets_at: None,
            });
        }
    }
    let start = hb.caps_start as usize;
    for k in start..start + hb.caps_len as usize {
        let rule = &hot.cap_rules[k];
        let used = counted(counter(k), || zone.bounds(rule.window).start);
        if used >= rule.limit {
            return Err(Reason::OverCap {
                scope: Scope::Buyer,
                metric: rule.metric,
                window: Some(rule.window),
                used,
                limit: rule.limit,
                resets_at: zone.resets_at(rule.window),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
