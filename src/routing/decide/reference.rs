//! The reference decision: the straightforward pipeline over whole `Buyer`s, before the hot view.
//! Tests compare [`super::decide_with`] against it on generated configs.
//!
//! Pure: the call's tokens, the usage snapshot, `now` and the random source come in as arguments;
//! nothing here reads a clock, a file or a socket.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;

use crate::config::{Buyer, Config, Entry, Group, Router};
use crate::routing::decision::{Algorithm, Decision, LeftOut, Reason, Scope, Step};
use crate::routing::duplicate::{DuplicateAction, DuplicateCheck};
use crate::routing::filter::first_failure;
use crate::routing::rank::{Ranked, best, compare, epc_ratio, plan_order, random_key};
use crate::routing::rng::RandomSource;
use crate::routing::schedule::Schedule;
use crate::routing::suppression::normalize;
use crate::routing::tokens::Tokens;
use crate::routing::usage::UsageSnapshot;
use crate::routing::zonetime::{ZoneNow, in_zone};
use parkway_esl::fasthash::FxHashMap;

/// The decision as first written (before the hot view), kept to check the fast path against.
pub fn decide_with(
    router: &Router,
    config: &Config,
    tokens: &Tokens,
    usage: &UsageSnapshot,
    now: DateTime<Utc>,
    rng: &mut dyn RandomSource,
    duplicates: &dyn DuplicateCheck,
) -> Decision {
    let mut ctx = Ctx {
        config,
        router,
        tokens,
        usage,
        now,
        duplicates,
        zones: Vec::new(),
        opens_at: FxHashMap::default(),
        caller: tokens.caller_number().and_then(normalize),
        router_suppressed: None,
        epc_cutoff: now
            .checked_sub_signed(config.epc.window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    };
    ctx.router_suppressed = ctx.caller.and_then(|c| {
        router
            .suppress
            .iter()
            .find(|l| l.contains(c))
            .map(|l| l.name.clone())
    });

    let alg = router.algorithm;
    let mut left_out = Vec::new();
    // Eligible steps and, in parallel, the key each is ranked by.
    let mut steps: Vec<Candidate<'_>> = Vec::with_capacity(router.entries.len());
    let mut keys: Vec<Ranked<'_>> = Vec::with_capacity(router.entries.len());
    for entry in &router.entries {
        match *entry {
            Entry::Buyer(i) => {
                let buyer = &config.buyers[i];
                match ctx.check(buyer, None) {
                    Ok(()) => {
                        keys.push(ctx.ranked(buyer, None, rng));
                        steps.push(Candidate::Buyer(i));
                    }
                    Err(reason) => left_out.push(LeftOut {
                        buyer: buyer.id.clone(),
                        reason,
                    }),
                }
            }
            Entry::Group(g) => {
                let group = &config.groups[g];
                let mut gate = GroupGate::new(group);
                let member_alg = group.route_by.unwrap_or(alg);
                let mut members = Vec::new();
                for &m in &group.members {
                    let buyer = &config.buyers[m];
                    match ctx.check(buyer, Some(&mut gate)) {
                        Ok(()) => members.push((m, ctx.ranked(buyer, Some(member_alg), rng))),
                        Err(reason) => left_out.push(LeftOut {
                            buyer: buyer.id.clone(),
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

    let plan = plan_order(alg, &keys)
        .into_iter()
        .map(|i| {
            let key = &keys[i as usize];
            match &steps[i as usize] {
                Candidate::Buyer(b) => Step::Buyer {
                    id: config.buyers[*b].id.clone(),
                    rank: key.rank(),
                },
                Candidate::Group(g, members) => {
                    let group = &config.groups[*g];
                    Step::Group {
                        id: group.id.clone(),
                        mode: group.mode,
                        members: members
                            .iter()
                            .map(|(m, _)| config.buyers[*m].id.clone())
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

struct Ctx<'a> {
    config: &'a Config,
    router: &'a Router,
    tokens: &'a Tokens,
    usage: &'a UsageSnapshot,
    now: DateTime<Utc>,
    duplicates: &'a dyn DuplicateCheck,
    /// `now` in each zone seen so far (few zones, many buyers: a short list beats a map).
    zones: Vec<ZoneNow>,
    opens_at: FxHashMap<(usize, Schedule), Option<DateTime<FixedOffset>>>,
    caller: Option<u64>,
    router_suppressed: Option<Arc<str>>,
    epc_cutoff: DateTime<Utc>,
}

impl Ctx<'_> {
    fn zone(&mut self, tz: Tz) -> usize {
        match self.zones.iter().position(|z| z.tz == tz) {
            Some(i) => i,
            None => {
                self.zones.push(ZoneNow::new(tz, self.now));
                self.zones.len() - 1
            }
        }
    }

    /// `Ok` when the buyer may be dialled; otherwise the first reason it may not.
    fn check(&mut self, buyer: &Buyer, group: Option<&mut GroupGate<'_>>) -> Result<(), Reason> {
        if buyer.paused {
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
        if let Some(c) = self.caller
            && let Some(l) = buyer.suppress.iter().find(|l| l.contains(c))
        {
            return Err(Reason::Suppressed {
                list: l.name.clone(),
            });
        }
        let zi = self.zone(buyer.tz);
        let zone = &self.zones[zi];
        if let Some((f, actual)) = first_failure(&buyer.filters, self.tokens, zone) {
            return Err(Reason::TokenMismatch {
                token: f.token.clone(),
                op: f.op(),
                expected: f.expected.clone(),
                actual,
            });
        }
        if !buyer.schedule.is_open(zone) {
            // Many buyers share a few schedules: compute each opening once per zone.
            let key = (zi, buyer.schedule);
            let opens_at = match self.opens_at.get(&key) {
                Some(t) => *t,
                None => {
                    let t = buyer.schedule.next_open(zone);
                    self.opens_at.insert(key, t);
                    t
                }
            };
            return Err(Reason::OutsideHours { opens_at });
        }
        if !buyer.caps.is_empty() {
            buyer
                .caps
                .check(self.usage.buyer(&buyer.id), zone, &Scope::Buyer)?;
        }
        if let Some(gate) = group {
            if gate.caps.is_none() {
                let gz = self.zone(gate.group.tz);
                let scope = Scope::Group(gate.group.id.clone());
                gate.caps = Some(gate.group.caps.check(
                    self.usage.group(&gate.group.id),
                    &self.zones[gz],
                    &scope,
                ));
            }
            if let Some(Err(reason)) = &gate.caps {
                return Err(reason.clone());
            }
        }
        if let (Some(rule), Some(caller)) = (buyer.duplicate, self.caller)
            && rule.action == DuplicateAction::Reroute
        {
            let window = Duration::try_seconds(i64::try_from(rule.window_secs).unwrap_or(i64::MAX))
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
        Ok(())
    }

    /// The ranking key of an eligible buyer. `member_alg` is the algorithm that orders it inside its
    /// group, if it is in one: the random key and EPC are only computed when an algorithm uses them.
    fn ranked<'b>(
        &self,
        buyer: &'b Buyer,
        member_alg: Option<Algorithm>,
        rng: &mut dyn RandomSource,
    ) -> Ranked<'b> {
        let epc = &self.config.epc;
        let uses = |a: Algorithm| self.router.algorithm == a || member_alg == Some(a);
        let (epc_num, epc_den) = if uses(Algorithm::Epc) {
            let (earnings, calls) = self
                .usage
                .buyer(&buyer.id)
                .map_or((0, 0), |u| u.epc_since(self.epc_cutoff));
            epc_ratio(earnings, calls, epc.prior.minor, epc.prior_calls)
        } else {
            (epc.prior.minor, 1)
        };
        let random_key = if uses(Algorithm::Tier) {
            random_key(rng.next_unit_open(), buyer.weight)
        } else {
            0.0
        };
        Ranked {
            id: buyer.id.as_str(),
            tier: buyer.tier,
            weight: buyer.weight,
            bid: buyer.bid.minor,
            epc_num,
            epc_den,
            random_key,
        }
    }
}
