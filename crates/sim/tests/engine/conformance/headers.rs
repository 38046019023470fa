//! The header blocks and variable sets of each event.

use parkway_esl::event::Event;
use std::collections::BTreeMap;
use std::collections::HashMap;

use super::capture::{not_modelled, real_events};
use super::replay::replay;
use super::roles::roles_of;

/// Header names (without `variable_*`) of each channel's events, in order.
pub(crate) fn header_names(events: &[Event]) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let roles = roles_of(events);
    let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for e in events {
        if not_modelled(e.name().as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        let chan = &roles[&format!("{u} {chan}")];
        let list = e
            .headers()
            .iter()
            .map(|(n, _)| n.to_owned())
            .filter(|n| !n.starts_with("variable_"))
            .collect();
        out.entry(chan.clone())
            .or_default()
            .push((e.name().into_owned(), list));
    }
    out
}

pub(crate) fn same_header_blocks(name: &str) {
    same_header_blocks_of(name, |_| true);
}

/// [`same_header_blocks`] for the roles `pick` keeps.
pub(crate) fn same_header_blocks_of(name: &str, pick: impl Fn(&str) -> bool) {
    let real = header_names(&real_events(name));
    let sim = header_names(&replay(name, 1));
    let mut report = String::new();
    let mut compared = 0;
    for (role, events) in real.iter().filter(|(role, _)| pick(role)) {
        let Some(sim_events) = sim.get(role) else {
            continue;
        };
        for ((ev, r), (_, s)) in events.iter().zip(sim_events) {
            compared += 1;
            if r != s {
                report.push_str(&format!("\n{role} {ev}:\n  real {r:?}\n  sim  {s:?}\n"));
            }
        }
    }
    assert!(compared > 50, "{name}: only {compared} events compared");
    assert!(report.is_empty(), "{name} header blocks differ:{report}");
}

#[test]
fn header_blocks_match_inbound_plain() {
    same_header_blocks("inbound_plain");
}

#[test]
fn header_blocks_match_group_and_failure_scenarios() {
    for name in [
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        same_header_blocks(name);
    }
}

#[test]
fn header_blocks_match_sip_scenarios() {
    // Not `inbound_json`: its events are `inbound_plain`'s (compared above) and its race moves
    // them against each other. Not the SIP channels, nor the parked legs bridged to one
    // (calls 1 and 3): SIP caller profiles (Caller-Username, Caller-Network-Addr, codecs before
    // SDP) are not modelled. Not call 3's phone leg: the PeerKilled race moves its events.
    same_header_blocks_of("dtmf_variants", |role| {
        role.starts_with("loopback/") && !["-b#0", "-b#2", "-a#2"].iter().any(|r| role.ends_with(r))
    });
}

#[test]
#[ignore = "exploration: prints where variable order still differs"]
fn variable_order_explore() {
    let pick = |events: &[Event]| {
        let mut names = HashMap::new();
        for e in events {
            if let (Some(u), Some(n)) = (e.unique_id(), e.channel_name()) {
                names.insert(u.into_owned(), n.into_owned());
            }
        }
        let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
        for e in events {
            if not_modelled(e.name().as_ref()) {
                continue;
            }
            let Some(chan) = e.channel_name() else {
                continue;
            };
            let list = e
                .headers()
                .iter()
                .map(|(n, _)| n.to_owned())
                .filter(|n| n.starts_with("variable_"))
                .collect();
            out.entry(chan.into_owned())
                .or_default()
                .push((e.name().into_owned(), list));
        }
        out
    };
    for name in [
        "inbound_plain",
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        let real = pick(&real_events(name));
        let sim = pick(&replay(name, 1));
        for (role, events) in &real {
            for ((ev, r), (_, s)) in events.iter().zip(&sim[role]) {
                if r != s {
                    let at = r
                        .iter()
                        .zip(s)
                        .position(|(a, b)| a != b)
                        .unwrap_or(r.len().min(s.len()));
                    println!(
                        "{name} {role} {ev} @{at}: real {:?} sim {:?}",
                        &r[at.saturating_sub(1)..(at + 3).min(r.len())],
                        &s[at.saturating_sub(1)..(at + 3).min(s.len())]
                    );
                }
            }
        }
    }
}

/// Per channel, the set of `variable_*` names each event carries.
pub(crate) fn variable_sets(events: &[Event]) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let roles = roles_of(events);
    let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for e in events {
        if not_modelled(e.name().as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        let chan = roles[&format!("{u} {chan}")].clone();
        let mut list: Vec<String> = e
            .headers()
            .iter()
            .map(|(n, _)| n.to_owned())
            .filter(|n| n.starts_with("variable_"))
            .collect();
        list.sort();
        out.entry(chan)
            .or_default()
            .push((e.name().into_owned(), list));
    }
    out
}

pub(crate) fn variable_report(name: &str) -> String {
    variable_report_of(name, |_| true, |_| true)
}

/// [`variable_report`] for the roles and variables `pick_role` and `pick_var` keep.
pub(crate) fn variable_report_of(
    name: &str,
    pick_role: impl Fn(&str) -> bool,
    pick_var: impl Fn(&str) -> bool,
) -> String {
    let real = variable_sets(&real_events(name));
    let sim = variable_sets(&replay(name, 1));
    let mut report = String::new();
    for (role, events) in real.iter().filter(|(role, _)| pick_role(role)) {
        let Some(sim_events) = sim.get(role) else {
            continue;
        };
        for ((ev, r), (_, s)) in events.iter().zip(sim_events) {
            let r: Vec<_> = r.iter().filter(|n| pick_var(n)).collect();
            let s: Vec<_> = s.iter().filter(|n| pick_var(n)).collect();
            if r != s {
                let missing: Vec<_> = r.iter().filter(|n| !s.contains(n)).collect();
                let extra: Vec<_> = s.iter().filter(|n| !r.contains(n)).collect();
                report.push_str(&format!(
                    "\n{role} {ev}: missing {missing:?} extra {extra:?}"
                ));
            }
        }
    }
    report
}

#[test]
fn variable_sets_match_inbound_plain() {
    let report = variable_report("inbound_plain");
    assert!(report.is_empty(), "{report}");
}

#[test]
fn variable_sets_match_group_and_failure_scenarios() {
    for name in [
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        let report = variable_report(name);
        assert!(report.is_empty(), "{name}:{report}");
    }
}

/// The loopback channels of `dtmf_variants`, without what their SIP other legs pass them
/// (`sip_*`, `switch_m_sdp`, protocol-specific causes: SIP is not modelled).
#[test]
fn variable_sets_match_dtmf_variants_loopback_channels() {
    let report = variable_report_of(
        "dtmf_variants",
        |role| role.starts_with("loopback/"),
        |var| {
            !(var.starts_with("variable_sip_")
                || var == "variable_switch_m_sdp"
                || var.ends_with("proto_specific_hangup_cause"))
        },
    );
    assert!(report.is_empty(), "{report}");
}
