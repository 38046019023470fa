//! Where a buyer's calls go: a SIP URI through a Sofia profile, a number through a gateway, or a
//! raw dial string, each checked with the same dial-string code the call driver dials with.

use std::ops::Range;
use std::path::Path;

use super::build::Builder;
use super::error::ConfigError;
use super::model::{Buyer, Destination, WhisperSettings};
use super::raw::{RawConfig, RawDestination, S};
use parkway_esl::dialstring::{self, DialString, DialStringError, Endpoint, Leg, Vars};

impl Destination {
    /// The legs this destination dials, each with `vars` after the destination's own (a raw
    /// dial string's `<>`, `{}` and `[]` variables move onto its legs; its legs ring together).
    /// The call driver builds its `bridge` from these (`src/calls/dial.rs`), and config
    /// validation encodes them with the buyer's values, so `parkway check` refuses what a call
    /// would.
    pub fn legs(&self, vars: Vars) -> Result<Vec<Leg>, DialStringError> {
        Ok(match self {
            Destination::Sip { uri, profile } => vec![Leg::new(
                vars,
                Endpoint::Sofia {
                    profile: profile.clone(),
                    dest: uri.clone(),
                },
            )],
            Destination::Number { number, gateway } => vec![Leg::new(
                vars,
                Endpoint::SofiaGateway {
                    gateway: gateway.clone(),
                    number: number.clone(),
                },
            )],
            Destination::DialString(text) => {
                let parsed = DialString::parse(text)?;
                let mut out = Vec::new();
                for branch in &parsed.branches {
                    for group in &branch.groups {
                        for leg in &group.legs {
                            let mut v = parsed.enterprise_vars.clone();
                            v.extend(branch.global_vars.iter().cloned());
                            v.extend(leg.vars.iter().cloned());
                            v.extend(vars.iter().cloned());
                            out.push(Leg::new(v, leg.endpoint.clone()));
                        }
                    }
                }
                if out.is_empty() {
                    return Err(DialStringError::NoLegs);
                }
                out
            }
        })
    }
}

/// A uuid of the shape the driver sends (leg `origination_uuid`s, the caller's uuid).
const SAMPLE_UUID: &str = "00000000-0000-4000-8000-000000000000";

/// The variables the call driver (`src/calls/dial.rs`) sets on every buyer leg, besides a
/// whisper's `group_confirm_*`. A `dial_string` that sets one of them itself would be refused at
/// dial time as a duplicate.
pub const DRIVER_LEG_VARS: [&str; 5] = [
    "origination_uuid",
    "leg_timeout",
    "parkway_buyer",
    "parkway_attempt",
    "sip_h_X-Parkway-Call",
];

/// The variables the call driver sets on the whole `bridge` (`{…}`).
pub const DRIVER_GLOBAL_VARS: [&str; 4] = [
    "ignore_early_media",
    "originate_timeout",
    "parkway_call",
    "parkway_router",
];

/// The whisper variables the call driver sets on a leg (or on the bridge, for loopback legs).
pub const DRIVER_WHISPER_VARS: [&str; 3] = [
    "group_confirm_key",
    "group_confirm_file",
    "group_confirm_cancel_timeout",
];

/// `DRIVER_LEG_VARS` with a buyer's values (uuids are samples of the right shape).
fn leg_vars(buyer: &Buyer) -> Vars {
    let values = [
        SAMPLE_UUID.to_owned(),
        buyer.ring_timeout_secs.to_string(),
        buyer.id.to_string(),
        "1".to_owned(),
        SAMPLE_UUID.to_owned(),
    ];
    DRIVER_LEG_VARS
        .iter()
        .map(|n| (*n).to_owned())
        .zip(values)
        .collect()
}

/// `DRIVER_GLOBAL_VARS` with a router's id (and sample values of the right shape).
fn global_vars(router: &str) -> Vars {
    let values = [
        "true".to_owned(),
        "600".to_owned(),
        SAMPLE_UUID.to_owned(),
        router.to_owned(),
    ];
    DRIVER_GLOBAL_VARS
        .iter()
        .map(|n| (*n).to_owned())
        .zip(values)
        .collect()
}

/// `DRIVER_WHISPER_VARS` for a whisper rendered into `cache_dir`.
fn whisper_vars(cache_dir: &Path) -> Vars {
    let file = cache_dir.join("whisper-0123456789abcdef.wav");
    let values = [
        "exec".to_owned(),
        format!("playback {}", file.display()),
        "true".to_owned(),
    ];
    DRIVER_WHISPER_VARS
        .iter()
        .map(|n| (*n).to_owned())
        .zip(values)
        .collect()
}

impl Builder<'_> {
    /// Encodes, for each buyer whose destination passed its own checks, the `bridge` the call
    /// driver would send for it (its legs through [`Destination::legs`], with the driver's
    /// variables holding the buyer's id, its ring timeout and, when it may hear a whisper, the
    /// whisper cache's file path), and each router's id as the driver sends it: what the
    /// encoder refuses here, every call would be refused at dial time.
    pub(super) fn bridgeable(
        &mut self,
        raw: &RawConfig,
        buyers: &[Buyer],
        whisper: &WhisperSettings,
    ) {
        let probe = || {
            Leg::new(
                Vec::new(),
                Endpoint::Loopback {
                    ext: "probe".into(),
                    context: None,
                },
            )
        };
        for (i, (b, rb)) in buyers.iter().zip(&raw.buyer).enumerate() {
            if !self.destination_ok.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut leg = leg_vars(b);
            let mut global = global_vars("r");
            if b.whisper.is_some() || !whisper.router_templates.is_empty() {
                let loopback =
                    matches!(&b.destination, Destination::DialString(d) if d.contains("loopback/"));
                if loopback {
                    global.extend(whisper_vars(&whisper.cache_dir));
                } else {
                    leg.extend(whisper_vars(&whisper.cache_dir));
                }
            }
            let encoded = b.destination.legs(leg).and_then(|legs| {
                DialString::new(global, vec![dialstring::Group::of(legs)]).encode()
            });
            if let Err(e) = encoded {
                self.problem(
                    rb.destination.span(),
                    ConfigError::Undialable(format!("buyer `{}`: {e}", b.id)),
                );
            }
        }
        for r in &raw.router {
            let dial = DialString::new(
                global_vars(r.id.get_ref()),
                vec![dialstring::Group::of(vec![probe()])],
            );
            if let Err(e) = dial.encode() {
                self.problem(
                    r.id.span(),
                    ConfigError::Undialable(format!("router id: {e}")),
                );
            }
        }
    }

    /// Reports a destination the dial-string encoder would refuse, so a config that could never
    /// be dialled fails `parkway check` rather than every call.
    fn dialable(&mut self, d: &S<RawDestination>, endpoint: Endpoint) {
        let leg = Leg::new(Vec::new(), endpoint);
        let dial = DialString::new(Vec::new(), vec![dialstring::Group::of(vec![leg])]);
        if let Err(e) = dial.encode() {
            self.problem(d.span(), ConfigError::Destination(e.to_string()));
        }
    }

    /// Reports a Sofia profile name that cannot stand in `sofia/<profile>/…`; true when it can.
    pub(super) fn sip_profile(&mut self, profile: &str, span: Range<usize>) -> bool {
        let leg = Leg::new(
            Vec::new(),
            Endpoint::Sofia {
                profile: profile.to_owned(),
                dest: "probe@example.invalid".into(),
            },
        );
        let dial = DialString::new(Vec::new(), vec![dialstring::Group::of(vec![leg])]);
        match dial.encode() {
            Ok(_) => true,
            Err(e) => {
                self.problem(
                    span,
                    ConfigError::Destination(format!("SIP profile {profile:?}: {e}")),
                );
                false
            }
        }
    }

    pub(super) fn destination(&mut self, d: &S<RawDestination>) -> Destination {
        let r = d.get_ref();
        if r.profile.is_some() && r.sip.is_none() {
            self.problem(
                d.span(),
                ConfigError::Shape(
                    "profile goes with sip (a gateway or dial_string names its own)",
                ),
            );
        }
        match (&r.sip, &r.number, &r.gateway, &r.dial_string) {
            (Some(sip), None, None, None) => {
                let (profile, profile_ok) = match &r.profile {
                    Some(p) => (p.clone(), self.sip_profile(p, d.span())),
                    // A bad `[freeswitch] sip_profile` is reported once, there.
                    None => (self.sip_profile.clone(), self.sip_profile_ok),
                };
                if profile_ok {
                    self.dialable(
                        d,
                        Endpoint::Sofia {
                            profile: profile.clone(),
                            dest: sip.clone(),
                        },
                    );
                }
                Destination::Sip {
                    uri: sip.clone(),
                    profile,
                }
            }
            (None, Some(number), Some(gateway), None) => {
                let digits = number.strip_prefix('+').unwrap_or(number);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    self.problem(
                        d.span(),
                        ConfigError::Shape("number must be digits, optionally after a leading +"),
                    );
                }
                self.dialable(
                    d,
                    Endpoint::SofiaGateway {
                        gateway: gateway.clone(),
                        number: number.clone(),
                    },
                );
                Destination::Number {
                    number: number.clone(),
                    gateway: gateway.clone(),
                }
            }
            (None, None, None, Some(ds)) => {
                match DialString::parse(ds) {
                    Err(e) => self.problem(d.span(), ConfigError::Destination(e.to_string())),
                    // Each buyer leg is named by its own origination_uuid; a dial string with
                    // several endpoints would give them all one (FreeSWITCH refuses the second).
                    Ok(parsed) if parsed.legs().count() != 1 => self.problem(
                        d.span(),
                        ConfigError::Destination(
                            "a buyer's dial_string must dial exactly one endpoint (put several \
                             endpoints in a group of buyers)"
                                .into(),
                        ),
                    ),
                    Ok(_) => {}
                }
                Destination::DialString(ds.clone())
            }
            _ => {
                self.problem(
                    d.span(),
                    ConfigError::Shape(
                        "destination needs exactly one of: sip, number with gateway, dial_string",
                    ),
                );
                Destination::DialString(String::new())
            }
        }
    }
}
