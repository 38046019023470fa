//! Human-readable rendering of a decision: one line per plan step and per left-out buyer.

use std::fmt::Write;

use super::decision::{Algorithm, Decision, Reason, Scope, Step};
use super::usage::Metric;
use crate::config::money::{Currency, format_minor};

/// One line saying why a buyer was left out, e.g.
/// `over cap: daily connections 20/20, resets 2026-11-26T00:00:00-05:00`.
pub fn describe(reason: &Reason, currency: Currency) -> String {
    let amount = |metric: Metric, v: i64| {
        if metric == Metric::Revenue {
            format_minor(v, currency)
        } else {
            v.to_string()
        }
    };
    let by = |scope: &Scope| match scope {
        Scope::Buyer => String::new(),
        Scope::Group(id) => format!(" (group {id})"),
    };
    match reason {
        Reason::Paused { by: Scope::Buyer } => "paused".into(),
        Reason::Paused {
            by: Scope::Group(id),
        } => format!("paused: group {id} is paused"),
        Reason::TokenMismatch {
            token,
            op,
            expected,
            actual,
        } => {
            let want = if expected.is_empty() {
                format!("{token} {op}")
            } else {
                format!("{token} {op} {expected}")
            };
            match actual {
                Some(a) => format!("token mismatch: wants {want}, call has {token}={a}"),
                None => format!("token mismatch: wants {want}, call has no {token}"),
            }
        }
        Reason::OutsideHours { opens_at } => match opens_at {
            Some(t) => format!("outside hours: opens {}", t.to_rfc3339()),
            None => "outside hours: never open".into(),
        },
        Reason::OverCap {
            scope,
            metric,
            window,
            used,
            limit,
            resets_at,
        } => {
            let what = match window {
                Some(w) => format!("{} {}", w.name(), metric.name()),
                None => metric.name().to_string(),
            };
            let mut s = format!(
                "over cap{}: {what} {}/{}",
                by(scope),
                amount(*metric, *used),
                amount(*metric, *limit)
            );
            if let Some(t) = resets_at {
                let _ = write!(s, ", resets {}", t.to_rfc3339());
            }
            s
        }
        Reason::Paced {
            scope,
            metric,
            used,
            allowed_now,
        } => format!(
            "paced{}: hourly {} {} used, {} allowed so far this hour",
            by(scope),
            metric.name(),
            amount(*metric, *used),
            amount(*metric, *allowed_now)
        ),
        Reason::Suppressed { list } => format!("suppressed: caller is on list {list}"),
        Reason::Duplicate {
            scope,
            previous_at,
            window_secs,
        } => format!(
            "duplicate caller ({scope:?} scope): called {} within {}s",
            previous_at.to_rfc3339(),
            window_secs
        ),
    }
}

/// The whole decision as text: the plan, numbered, then the left-out buyers.
pub fn render(decision: &Decision, currency: Currency) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "router {} ({:?}): {} step(s), {} left out",
        decision.router,
        decision.algorithm,
        decision.plan.len(),
        decision.left_out.len()
    );
    if decision.plan.is_empty() {
        let _ = writeln!(out, "plan: empty, the router's fallback runs");
    } else {
        let _ = writeln!(out, "plan:");
    }
    for (i, step) in decision.plan.iter().enumerate() {
        match step {
            Step::Buyer { id, rank } => {
                let _ = write!(
                    out,
                    "  {}. {id}  tier {} weight {} bid {}",
                    i + 1,
                    rank.tier,
                    rank.weight,
                    format_minor(rank.bid, currency),
                );
                if decision.algorithm == Algorithm::Epc {
                    let _ = write!(out, " epc {}", format_minor(rank.epc, currency));
                }
                out.push('\n');
            }
            Step::Group {
                id,
                mode,
                members,
                rank,
            } => {
                let names: Vec<&str> = members.iter().map(|m| m.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {}. group {id} ({mode:?}): {}  best tier {} bid {}",
                    i + 1,
                    names.join(", "),
                    rank.tier,
                    format_minor(rank.bid, currency)
                );
            }
        }
    }
    if !decision.left_out.is_empty() {
        let _ = writeln!(out, "left out:");
        let width = decision
            .left_out
            .iter()
            .map(|l| l.buyer.len())
            .max()
            .unwrap_or(0);
        for l in &decision.left_out {
            let _ = writeln!(
                out,
                "  {:width$}  {}",
                l.buyer.as_str(),
                describe(&l.reason, currency)
            );
        }
    }
    out
}
