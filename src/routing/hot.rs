//! The buyers as the decision loop reads them: a compact view built once when the config loads.
//!
//! A [`Buyer`] is several hundred bytes spread over many cache lines and heap blocks; a decision over
//! thousands of buyers spent most of its time waiting for them. The hot view keeps what the loop
//! needs for every buyer in one small record (flags, zone, schedule, rank fields, the id to clone into
//! the plan) and turns the rest into indices into shared tables:
//!
//! - **Filters** are interned: filters that test the same token the same way are one entry (a filter
//!   on a `local_*` token is also keyed by the buyer's zone, whose time it reads), so a decision
//!   evaluates each distinct filter at most once, however many buyers carry it.
//! - **Zones** and **schedules** are interned to small indices.
//! - **Caps** without time slots or even pacing ([`CapSpec::is_fixed`]) become a flat list of
//!   [`CapRule`]s laid out once ([`CapSpec::rules`]); both they and the others are checked by
//!   [`check_rules`](super::caps::check_rules), the one cap test.
//!
//! The view is derived data: [`Config::reindex`](crate::config::Config::reindex) rebuilds it, and
//! config loading builds it. Regex filters are interned by their pattern text (configs compile every
//! pattern with `Regex::new`, so the same text is the same program).

use chrono_tz::Tz;

use super::caps::CapRule;
use super::decision::Id;
use super::filter::{Filter, Test};
use super::schedule::Schedule;
use super::tokens::TokenKey;
use crate::config::Buyer;
use parkway_esl::fasthash::FxHashMap;

/// One buyer, as the decision loop reads it.
#[derive(Debug, Clone)]
pub struct HotBuyer {
    pub id: Id,
    pub bid: i64,
    pub tier: u32,
    pub weight: u32,
    /// The concurrency limit of simple caps (`CAPS_SIMPLE`), if any.
    pub concurrency: Option<i64>,
    /// Range into [`HotView::filter_ids`].
    pub filters_start: u32,
    pub filters_len: u32,
    /// Range into [`HotView::cap_rules`] (simple caps only).
    pub caps_start: u32,
    pub caps_len: u32,
    /// Index into [`HotView::schedules`].
    pub schedule: u32,
    /// Index into [`HotView::zones`].
    pub zone: u16,
    pub flags: u8,
}

pub const PAUSED: u8 = 1;
/// The buyer has its own suppression lists.
pub const SUPPRESS: u8 = 2;
/// The buyer has a duplicate rule.
pub const DUPLICATE: u8 = 4;
/// Caps checked through the flat rules and `concurrency`.
pub const CAPS_SIMPLE: u8 = 8;
/// Caps with time slots or even pacing: checked with [`CapSpec::check`].
pub const CAPS_GENERAL: u8 = 16;

/// A distinct filter: the buyer and position of its first occurrence.
#[derive(Debug, Clone, Copy)]
pub struct FilterRef {
    pub buyer: u32,
    pub index: u32,
}

/// The compact view of all buyers of a config, indexed like `Config::buyers`.
#[derive(Debug, Clone, Default)]
pub struct HotView {
    pub buyers: Vec<HotBuyer>,
    /// Per buyer (see `filters_start`), the distinct filter of each of its filters, in order.
    pub filter_ids: Vec<u32>,
    pub filters: Vec<FilterRef>,
    pub cap_rules: Vec<CapRule>,
    pub schedules: Vec<Schedule>,
    pub zones: Vec<Tz>,
}

/// What makes two filters the same test.
#[derive(PartialEq, Eq, Hash)]
enum TestKey<'a> {
    Eq(&'a str),
    Ne(&'a str),
    Matches(&'a str),
    Gt(u64),
    Lt(u64),
    In(&'a [String]),
    NotIn(&'a [String]),
    Exists,
}

fn test_key(t: &Test) -> TestKey<'_> {
    match t {
        Test::Eq(s) => TestKey::Eq(s),
        Test::Ne(s) => TestKey::Ne(s),
        Test::Matches(r) => TestKey::Matches(r.as_str()),
        Test::Gt(n) => TestKey::Gt(n.to_bits()),
        Test::Lt(n) => TestKey::Lt(n.to_bits()),
        Test::In(v) => TestKey::In(v),
        Test::NotIn(v) => TestKey::NotIn(v),
        Test::Exists => TestKey::Exists,
    }
}

fn reads_zone(f: &Filter) -> bool {
    matches!(
        f.key,
        TokenKey::LocalHour | TokenKey::LocalTime | TokenKey::LocalWeekday
    )
}

impl HotView {
    pub fn new(buyers: &[Buyer]) -> HotView {
        let mut view = HotView::default();
        let mut filter_index: FxHashMap<(&str, TestKey<'_>, Option<u16>), u32> =
            FxHashMap::default();
        let mut schedule_index: FxHashMap<Schedule, u32> = FxHashMap::default();
        view.buyers.reserve(buyers.len());
        for (bi, b) in buyers.iter().enumerate() {
            let zone = match view.zones.iter().position(|z| *z == b.tz) {
                Some(z) => z,
                None => {
                    view.zones.push(b.tz);
                    view.zones.len() - 1
                }
            };
            let zone = u16::try_from(zone).unwrap_or(u16::MAX);
            let schedule = *schedule_index.entry(b.schedule).or_insert_with(|| {
                view.schedules.push(b.schedule);
                (view.schedules.len() - 1) as u32
            });
            let filters_start = view.filter_ids.len() as u32;
            for (fi, f) in b.filters.iter().enumerate() {
                let key = (&*f.token, test_key(&f.test), reads_zone(f).then_some(zone));
                let next = view.filters.len() as u32;
                let id = *filter_index.entry(key).or_insert(next);
                if id == next {
                    view.filters.push(FilterRef {
                        buyer: bi as u32,
                        index: fi as u32,
                    });
                }
                view.filter_ids.push(id);
            }
            let mut flags = 0;
            if b.paused {
                flags |= PAUSED;
            }
            if !b.suppress.is_empty() {
                flags |= SUPPRESS;
            }
            if b.duplicate.is_some() {
                flags |= DUPLICATE;
            }
            let caps_start = view.cap_rules.len() as u32;
            let mut concurrency = None;
            if !b.caps.is_empty() {
                if b.caps.is_fixed() {
                    flags |= CAPS_SIMPLE;
                    concurrency = b.caps.concurrency;
                    view.cap_rules.extend(b.caps.rules(None));
                } else {
                    flags |= CAPS_GENERAL;
                }
            }
            view.buyers.push(HotBuyer {
                id: b.id.clone(),
                bid: b.bid.minor,
                tier: b.tier,
                weight: b.weight,
                concurrency,
                filters_start,
                filters_len: b.filters.len() as u32,
                caps_start,
                caps_len: view.cap_rules.len() as u32 - caps_start,
                schedule,
                zone,
                flags,
            });
        }
        view
    }

    /// Whether the view can be of `buyers`: the same count, a cheap guard against a view built
    /// before buyers were added or removed (a decider given such a view builds its own).
    pub fn fits(&self, buyers: &[Buyer]) -> bool {
        self.buyers.len() == buyers.len()
    }

    #[inline]
    pub fn filters_of(&self, b: &HotBuyer) -> &[u32] {
        let start = b.filters_start as usize;
        &self.filter_ids[start..start + b.filters_len as usize]
    }

    #[inline]
    pub fn cap_rules_of(&self, b: &HotBuyer) -> &[CapRule] {
        let start = b.caps_start as usize;
        &self.cap_rules[start..start + b.caps_len as usize]
    }
}
