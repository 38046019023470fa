//! Channels by role, and the steps of each channel's life that are compared.

use parkway_esl::event::Event;
use std::collections::BTreeMap;
use std::collections::HashMap;

use super::capture::not_modelled;

/// One comparable step of a channel's life.
pub(crate) type Step = [String; 13];

pub(crate) fn step(e: &Event, roles: &HashMap<String, String>) -> Step {
    let h = |n: &str| e.header(n).map(|v| v.into_owned()).unwrap_or_default();
    let role = |n: &str| {
        e.header(n)
            .map(|u| roles.get(u.as_ref()).cloned().unwrap_or_else(|| "?".into()))
            .unwrap_or_default()
    };
    let name = h("Event-Name");
    let complete = name == "CHANNEL_EXECUTE_COMPLETE";
    let bridge_complete = complete && h("Application") == "bridge";
    let dtmf = name == "DTMF";
    [
        name,
        h("Answer-State"),
        h("Channel-State"),
        h("Hangup-Cause"),
        h("DTMF-Digit"),
        h("Application"),
        if complete {
            h("Application-Response")
        } else {
            String::new()
        },
        if bridge_complete {
            h("variable_originate_disposition")
        } else {
            String::new()
        },
        role("Other-Leg-Unique-ID"),
        h("Call-Direction"),
        if dtmf {
            h("DTMF-Source")
        } else {
            String::new()
        },
        h("Application-UUID"),
        [role("Bridge-A-Unique-ID"), role("Bridge-B-Unique-ID")]
            .join(" ")
            .trim()
            .to_owned(),
    ]
}

/// Each (Unique-ID, channel name) in the order it first appears, with the name's ordinal among
/// the Unique-IDs that carried it (`name#k`).
pub(crate) fn ordinals(events: &[Event]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut count: HashMap<String, usize> = HashMap::new();
    for e in events {
        if let (Some(u), Some(n)) = (e.unique_id(), e.channel_name()) {
            if !out.iter().any(|(fu, fname, _)| *fu == u && *fname == n) {
                let k = count.entry(n.clone().into_owned()).or_default();
                out.push((u.into_owned(), n.clone().into_owned(), format!("{n}#{k}")));
                *k += 1;
            }
        }
    }
    out
}

/// Each channel's role: its name, with `#<n>` added when several channels share that name (the
/// captures' SIP far ends, and the callers of successive calls), numbered in the order their
/// Unique-IDs first appear. That order is not a thread race in these captures: channels
/// sharing a name start tens of milliseconds apart or more. Keys: `"<uuid> <name>"` for the
/// role under that name, `"<uuid>"` for the role under its last name.
pub(crate) fn roles_of(events: &[Event]) -> HashMap<String, String> {
    let firsts = ordinals(events);
    let shared = |n: &str| firsts.iter().filter(|(_, name, _)| name == n).count() > 1;
    let mut out: HashMap<String, String> = HashMap::new();
    for (u, n, key) in &firsts {
        let role = if shared(n) { key.clone() } else { n.clone() };
        out.insert(format!("{u} {n}"), role.clone());
        out.insert(u.clone(), role);
    }
    out
}

/// Per channel role, its steps; plus BACKGROUND_JOB bodies (uuids replaced by roles).
pub(crate) fn by_role(events: &[Event]) -> (BTreeMap<String, Vec<Step>>, Vec<String>) {
    let names = roles_of(events);
    let mut roles: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for e in events {
        let name = e.name();
        if name == "BACKGROUND_JOB" {
            let mut body = e.body_text().unwrap_or_default().into_owned();
            for (u, n) in &names {
                if !u.contains(' ') {
                    body = body.replace(u, n);
                }
            }
            jobs.push(body);
        }
        if not_modelled(name.as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        roles
            .entry(names[&format!("{u} {chan}")].clone())
            .or_default()
            .push(step(e, &names));
    }
    // Application-UUIDs the switch generates differ from run to run: compare which events share
    // one (an EXECUTE and its EXECUTE_COMPLETE), numbered per channel.
    for steps in roles.values_mut() {
        let mut seen: Vec<String> = Vec::new();
        for s in steps.iter_mut().filter(|s| !s[11].is_empty()) {
            let k = seen.iter().position(|u| *u == s[11]).unwrap_or_else(|| {
                seen.push(s[11].clone());
                seen.len() - 1
            });
            s[11] = format!("app#{k}");
        }
    }
    (roles, jobs)
}

pub(crate) fn render(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            s.iter()
                .filter(|f| !f.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
