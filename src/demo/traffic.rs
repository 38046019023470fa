//! The demo's traffic: callers with varied tokens, and how each buyer's endpoint behaves.
//!
//! Everything is drawn from the seed, so the same seed places the same calls and the buyers
//! behave the same way.

use crate::config::{Config, Destination, RouterMatch};
use crate::routing::SplitMix64;
use parkway_esl::dialstring::{DialString, Endpoint};
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::dialplan::MsRange;
use parkway_sim::engine::{Behaviour, Cause, Micros, SEC};

/// One planned caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub at: Micros,
    pub call: InboundCall,
    /// The caller hangs up this long after calling, if still waiting or talking.
    pub abandon_after: Option<Micros>,
}

/// (area code, weight): callers come from these places.
const AREAS: &[(&str, u64)] = &[
    ("214", 8), // Dallas, TX
    ("512", 5), // Austin, TX
    ("713", 6), // Houston, TX
    ("405", 3), // Oklahoma City, OK
    ("504", 3), // New Orleans, LA
    ("501", 2), // Little Rock, AR
    ("310", 6), // Los Angeles, CA
    ("415", 4), // San Francisco, CA
    ("212", 4), // New York, NY
    ("305", 4), // Miami, FL
    ("602", 3), // Phoenix, AZ
    ("416", 3), // Toronto, ON
    ("514", 2), // Montreal, QC
];

fn pick<'a, T>(rng: &mut SplitMix64, items: &'a [(T, u64)]) -> &'a T {
    let total: u64 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(total.max(1));
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    &items[0].0
}

/// The destinations a router answers on, and the campaign variable it matches (if any).
struct Entrance {
    destination: String,
    campaign: Option<String>,
}

fn entrances(config: &Config) -> Vec<Entrance> {
    config
        .routers
        .iter()
        .map(|r| match &r.matcher {
            RouterMatch::Destination(d) => Entrance {
                destination: d.trim_start_matches('+').to_owned(),
                campaign: None,
            },
            RouterMatch::Variable { name, value } if name == "campaign" => Entrance {
                destination: "18005550199".into(),
                campaign: Some(value.clone()),
            },
            RouterMatch::Variable { .. } => Entrance {
                destination: "18005550199".into(),
                campaign: None,
            },
        })
        .collect()
}

/// `count` callers arriving at `cps` per second (virtual time), spread over the config's
/// routers; some repeat an earlier caller (duplicates), some abandon.
pub fn callers(config: &Config, count: u64, cps: f64, seed: u64) -> Vec<Caller> {
    let mut rng = SplitMix64::new(seed ^ 0xca11_e125);
    let doors = entrances(config);
    let gap = (SEC as f64 / cps.max(0.001)) as Micros;
    let mut out: Vec<Caller> = Vec::with_capacity(count as usize);
    for n in 0..count {
        // Arrivals jitter around the steady rate.
        let at = n * gap + rng.below(gap.max(1) / 2);
        let repeat = !out.is_empty() && rng.below(100) < 8;
        let number = if repeat {
            let i = rng.below(out.len() as u64) as usize;
            out[i].call.caller_number.clone()
        } else {
            let area = pick(&mut rng, AREAS);
            format!("+1{area}555{:04}", rng.below(10_000))
        };
        let door = if doors.is_empty() {
            None
        } else {
            doors.get(rng.below(doors.len() as u64) as usize)
        };
        let mut variables = Vec::new();
        let campaign = door
            .and_then(|d| d.campaign.clone())
            .unwrap_or_else(|| "solar".into());
        variables.push(("campaign".to_owned(), campaign));
        variables.push(("age".to_owned(), (16 + rng.below(65)).to_string()));
        variables.push((
            "homeowner".to_owned(),
            if rng.below(100) < 75 { "yes" } else { "no" }.to_owned(),
        ));
        variables.push(("zip".to_owned(), format!("{:05}", rng.below(100_000))));
        let abandon_after = (rng.below(100) < 8).then(|| (3 + rng.below(40)) * SEC);
        out.push(Caller {
            at,
            call: InboundCall {
                caller_number: number,
                caller_name: "Demo Caller".into(),
                destination: door
                    .map(|d| d.destination.clone())
                    .unwrap_or_else(|| "18005550199".into()),
                context: "public".into(),
                sip_headers: Vec::new(),
                variables,
                sip: None,
            },
            abandon_after,
        });
    }
    out.sort_by_key(|c| c.at);
    out
}

/// How a demo buyer behaves: most answer (some press the digits the config converts on), some
/// ignore the call, some are busy, reject or cannot be reached.
pub fn buyer_behaviour(digits: &[char]) -> Behaviour {
    let cause = |name| Cause::parse(name).unwrap_or(Cause::NONE);
    let presses: Vec<(u64, char)> = digits
        .iter()
        .enumerate()
        .map(|(i, d)| (20_000 + 5_000 * i as u64, *d))
        .collect();
    Behaviour::Mix(vec![
        (
            30,
            Behaviour::AnswerWithin {
                ring_ms: MsRange::between(2 * 1000, 8 * 1000),
                digits: presses,
                talk_ms: MsRange::between(30 * 1000, 240 * 1000),
            },
        ),
        (
            30,
            Behaviour::AnswerWithin {
                ring_ms: MsRange::between(1000, 6 * 1000),
                digits: Vec::new(),
                talk_ms: MsRange::between(10 * 1000, 200 * 1000),
            },
        ),
        (15, Behaviour::NeverAnswer),
        (10, Behaviour::Busy),
        (
            10,
            Behaviour::RejectWithin {
                after_ms: MsRange::between(1000, 5 * 1000),
                cause: cause("CALL_REJECTED"),
            },
        ),
        (5, Behaviour::Unreachable),
    ])
}

/// The extension names the simulated switch must answer for a destination (the user part of a
/// SIP address, a gateway's number, a loopback extension).
pub fn endpoint_names(dest: &Destination) -> Vec<String> {
    match dest {
        Destination::Sip { uri, .. } => vec![user_part(uri)],
        Destination::Number { number, .. } => vec![number.clone()],
        Destination::DialString(text) => DialString::parse(text)
            .map(|d| {
                d.legs()
                    .filter_map(|l| match &l.endpoint {
                        Endpoint::Sofia { dest, .. } => Some(user_part(dest)),
                        Endpoint::SofiaGateway { number, .. } => Some(number.clone()),
                        Endpoint::Loopback { ext, .. } => Some(ext.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn user_part(uri: &str) -> String {
    let bare = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    bare.split('@').next().unwrap_or(bare).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_parts() {
        assert_eq!(
            endpoint_names(&Destination::Sip {
                uri: "sip:inbound@acme.example.com".into(),
                profile: "external".into(),
            }),
            ["inbound"]
        );
        assert_eq!(
            endpoint_names(&Destination::DialString(
                "{ignore_early_media=true}sofia/gateway/carrier_b/18005550144".into()
            )),
            ["18005550144"]
        );
    }
}
