//! Checking one buyer during a decision: pause, suppression, filters (memoised per distinct
//! filter), hours, caps (flat rules or `CapSpec::check`), group gates and duplicates, in the order
//! [`Reason`] documents; and its ranking key.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use chrono_tz::Tz;

use crate::config::{Config, Group, Router};
use crate::routing::caps::check_rules;
use crate::routing::decision::{Algorithm, Reason, Scope};
use crate::routing::duplicate::{DuplicateAction, DuplicateCheck};
use crate::routing::filter::keyed_value;
use crate::routing::hot::{self, HotView};
use crate::routing::rank::{Ranked, epc_ratio, random_key};
use crate::routing::rng::RandomSource;
use crate::routing::tokens::Tokens;
use crate::routing::usage::{Usage, UsageSnapshot};
use crate::routing::usage_index::ResolvedUsage;
use crate::routing::zonetime::{ZoneNow, in_zone};
use parkway_esl::fasthash::FxHashMap;

/// A group's pause and caps, checked once per decision and shared by its members.
pub(super) struct GroupGate<'a> {
    pub(super) group: &'a Group,
    caps: Option<Result<(), Reason>>,
}

impl<'a> GroupGate<'a> {
    pub(super) fn new(group: &'a Group) -> Self {
        GroupGate { group, caps: None }
    }
}

/// What each distinct filter of the hot view evaluated to in this decision: two bit sets when the
/// config has at most 64 distinct filters (no allocation), else one byte per filter.
pub(super) enum FilterMemo {
    Bits { known: u64, held: u64 },
    Bytes(Vec<u8>),
}

const UNKNOWN: u8 = 0;
const HOLDS: u8 = 1;
const FAILS: u8 = 2;

impl FilterMemo {
    pub(super) fn new(filters: usize) -> FilterMemo {
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
pub(super) struct Ctx<'h, 'a> {
    pub(super) config: &'h Config,
    pub(super) hot: &'h HotView,
    pub(super) router: &'a Router,
    pub(super) tokens: &'a Tokens,
    pub(super) usage: &'a UsageSnapshot,
    /// `usage` laid out for `hot`, when the caller resolved it.
    pub(super) resolved: Option<&'a ResolvedUsage<'a>>,
    pub(super) now: DateTime<Utc>,
    pub(super) duplicates: &'a dyn DuplicateCheck,
    /// `now` in each zone of the hot view, computed on first use.
    pub(super) zones: Vec<Option<ZoneNow>>,
    /// `now` in group zones no buyer uses (few zones: a short list beats a map).
    pub(super) other_zones: Vec<ZoneNow>,
    pub(super) filter_memo: FilterMemo,
    /// Keyed by (hot zone, hot schedule).
    pub(super) opens_at: FxHashMap<(u16, u32), Option<DateTime<FixedOffset>>>,
    pub(super) caller: Option<u64>,
    pub(super) router_suppressed: Option<Arc<str>>,
    pub(super) epc_cutoff: DateTime<Utc>,
    pub(super) no_usage: Usage,
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
    pub(super) fn check(
        &mut self,
        bi: usize,
        group: Option<&mut GroupGate<'_>>,
    ) -> Result<(), Reason> {
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
                // Laid out once per config: the rules and, when resolved, their counters.
                Some(r) => {
                    let start = hb.caps_start as usize;
                    check_rules(
                        &Scope::Buyer,
                        hb.concurrency,
                        r.concurrency[bi],
                        hot.cap_rules_of(hb),
                        |k, _| r.rule_counters[start + k],
                        zone,
                    )?
                }
                None => {
                    let usage = self.usage.buyer(&hb.id).unwrap_or(&self.no_usage);
                    check_rules(
                        &Scope::Buyer,
                        hb.concurrency,
                        usage.concurrency,
                        hot.cap_rules_of(hb),
                        |_, rule| usage.window(rule.window).get(rule.metric),
                        zone,
                    )?
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
    #[inline]
    pub(super) fn ranked(
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
