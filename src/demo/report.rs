//! The demo's summary: totals, a row per buyer and per router, from the call records (and the
//! ledger's counters, which must agree with them).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::billing::Totals as BuyerTotals;
use crate::calls::{CallRecord, Disposition, LegOutcome, Totals};
use crate::config::Config;
use crate::config::money::format_minor;
use crate::routing::Reason;

/// Facts about the run itself.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts {
    pub seed: u64,
    pub placed: u64,
    pub virtual_secs: f64,
    pub wall_secs: f64,
}

/// One buyer's row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BuyerRow {
    pub id: String,
    /// Calls whose router considered this buyer.
    pub offered: u64,
    /// Legs dialled (the ledger's attempts).
    pub attempts: u64,
    pub connected: u64,
    pub converted: u64,
    /// Minor units.
    pub revenue: i64,
    /// Calls on which a cap (or pacing) left the buyer out.
    pub caps_hit: u64,
    /// Why the buyer was left out, by reason, on the calls' first decisions.
    pub skipped: BTreeMap<String, u64>,
    /// How this buyer's legs ended.
    pub outcomes: BTreeMap<String, u64>,
}

/// One router's row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouterRow {
    pub id: String,
    pub calls: u64,
    pub connected: u64,
    /// Fallbacks by reason.
    pub fallbacks: BTreeMap<String, u64>,
    pub revenue: i64,
}

/// The demo's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub currency: &'static str,
    /// Calls the callers placed.
    pub placed: u64,
    /// Calls a router took (placed = calls + unrouted).
    pub calls: u64,
    pub unrouted: u64,
    pub connected: u64,
    pub fallback: u64,
    pub abandoned: u64,
    pub failed: u64,
    pub converted: u64,
    /// Minor units: the sum of the records' payouts.
    pub revenue: i64,
    pub buyers: Vec<BuyerRow>,
    pub routers: Vec<RouterRow>,
    #[serde(skip)]
    pub virtual_secs: f64,
    #[serde(skip)]
    pub wall_secs: f64,
}

fn reason_name(r: &Reason) -> &'static str {
    match r {
        Reason::Paused { .. } => "paused",
        Reason::TokenMismatch { .. } => "token_mismatch",
        Reason::OutsideHours { .. } => "outside_hours",
        Reason::OverCap { .. } => "over_cap",
        Reason::Paced { .. } => "paced",
        Reason::Suppressed { .. } => "suppressed",
        Reason::Duplicate { .. } => "duplicate",
    }
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

pub fn summarize(
    config: &Config,
    records: &[CallRecord],
    ledger: &[BuyerTotals],
    totals: &Totals,
    run: RunFacts,
) -> Summary {
    let mut buyers: Vec<BuyerRow> = config
        .buyers
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let t = ledger.get(i).copied().unwrap_or_default();
            BuyerRow {
                id: b.id.to_string(),
                attempts: t.attempts,
                connected: t.connections,
                converted: t.conversions,
                revenue: t.revenue,
                ..BuyerRow::default()
            }
        })
        .collect();
    let index: BTreeMap<&str, usize> = config
        .buyers
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let mut routers: Vec<RouterRow> = config
        .routers
        .iter()
        .map(|r| RouterRow {
            id: r.id.to_string(),
            ..RouterRow::default()
        })
        .collect();
    let mut s = Summary {
        seed: run.seed,
        currency: config.currency.code(),
        placed: run.placed,
        calls: records.len() as u64,
        unrouted: totals.unrouted,
        connected: 0,
        fallback: 0,
        abandoned: 0,
        failed: 0,
        converted: 0,
        revenue: 0,
        buyers: Vec::new(),
        routers: Vec::new(),
        virtual_secs: run.virtual_secs,
        wall_secs: run.wall_secs,
    };
    for r in records {
        match r.disposition {
            Disposition::Connected => s.connected += 1,
            Disposition::Fallback => s.fallback += 1,
            Disposition::Abandoned => s.abandoned += 1,
            Disposition::Failed => s.failed += 1,
        }
        let converted = r.conversion.is_some_and(|c| c.converted);
        s.converted += u64::from(converted);
        s.revenue += r.payout;
        if let Some(router) = routers.iter_mut().find(|x| x.id == r.router.as_str()) {
            router.calls += 1;
            router.connected += u64::from(r.disposition == Disposition::Connected);
            router.revenue += r.payout;
            if let Some(f) = &r.fallback {
                *router.fallbacks.entry(snake(&f.reason)).or_default() += 1;
            }
        }
        for id in r.decision.planned_buyers() {
            if let Some(&i) = index.get(id.as_str()) {
                buyers[i].offered += 1;
            }
        }
        for l in &r.decision.left_out {
            if let Some(&i) = index.get(l.buyer.as_str()) {
                let row = &mut buyers[i];
                row.offered += 1;
                *row.skipped
                    .entry(reason_name(&l.reason).into())
                    .or_default() += 1;
                if matches!(l.reason, Reason::OverCap { .. } | Reason::Paced { .. }) {
                    row.caps_hit += 1;
                }
            }
        }
        for a in &r.attempts {
            if let Some(&i) = index.get(a.buyer.as_str()) {
                let outcome = if a.outcome == LegOutcome::Pending {
                    "pending".into()
                } else {
                    snake(&a.outcome)
                };
                *buyers[i].outcomes.entry(outcome).or_default() += 1;
            }
        }
    }
    s.buyers = buyers;
    s.routers = routers;
    s
}

impl Summary {
    /// The summary as a table.
    pub fn render(&self, currency: crate::config::Currency) -> String {
        let money = |m: i64| format_minor(m, currency);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "calls {}  routed {}  connected {}  converted {}  fallback {}  abandoned {}  failed {}  unrouted {}",
            self.placed,
            self.calls,
            self.connected,
            self.converted,
            self.fallback,
            self.abandoned,
            self.failed,
            self.unrouted
        );
        let _ = writeln!(
            o,
            "revenue {} {}   ({:.0} s of switch time in {:.1} s, {:.0} calls/s)\n",
            self.currency,
            money(self.revenue),
            self.virtual_secs,
            self.wall_secs,
            self.placed as f64 / self.wall_secs.max(1e-9)
        );
        let _ = writeln!(
            o,
            "{:<14} {:>7} {:>8} {:>9} {:>9} {:>10} {:>8}  why skipped",
            "buyer", "offered", "attempts", "connected", "converted", "revenue", "caps hit"
        );
        for b in &self.buyers {
            let why: Vec<String> = b.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                o,
                "{:<14} {:>7} {:>8} {:>9} {:>9} {:>10} {:>8}  {}",
                b.id,
                b.offered,
                b.attempts,
                b.connected,
                b.converted,
                money(b.revenue),
                b.caps_hit,
                why.join(", ")
            );
        }
        let _ = writeln!(
            o,
            "\n{:<16} {:>6} {:>9} {:>10}  fallbacks",
            "router", "calls", "connected", "revenue"
        );
        for r in &self.routers {
            let why: Vec<String> = r
                .fallbacks
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(
                o,
                "{:<16} {:>6} {:>9} {:>10}  {}",
                r.id,
                r.calls,
                r.connected,
                money(r.revenue),
                if why.is_empty() {
                    "-".into()
                } else {
                    why.join(", ")
                }
            );
        }
        o
    }
}
