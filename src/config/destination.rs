//! Where a buyer's calls go: a SIP URI through a Sofia profile, a number through a gateway, or a
//! raw dial string, each checked with the same dial-string code the call driver dials with.

use std::ops::Range;

use super::build::Builder;
use super::error::ConfigError;
use super::model::Destination;
use super::raw::{RawDestination, S};
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

impl Builder<'_> {
    /// Reports a destination the dial-string encoder would refuse, so a config that could never
    /// be dialled fails `parkway check` rather than every call.
    fn dialable(&mut self, d: &S<RawDestination>, endpoint: Endpoint) {
        let leg = Leg::new(Vec::new(), endpoint);
        let dial = DialString::new(Vec::new(), vec![dialstring::Group::of(vec![leg])]);
        if let Err(e) = dial.encode() {
            self.problem(d.span(), ConfigError::Destination(e.to_string()));
        }
    }

    /// Reports a Sofia profile name that cannot stand in `sofia/<profile>/…`.
    pub(super) fn sip_profile(&mut self, profile: &str, span: Range<usize>) {
        let leg = Leg::new(
            Vec::new(),
            Endpoint::Sofia {
                profile: profile.to_owned(),
                dest: "probe@example.invalid".into(),
            },
        );
        let dial = DialString::new(Vec::new(), vec![dialstring::Group::of(vec![leg])]);
        if let Err(e) = dial.encode() {
            self.problem(
                span,
                ConfigError::Destination(format!("SIP profile {profile:?}: {e}")),
            );
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
                let profile = match &r.profile {
                    Some(p) => {
                        self.sip_profile(p, d.span());
                        p.clone()
                    }
                    None => self.sip_profile.clone(),
                };
                self.dialable(
                    d,
                    Endpoint::Sofia {
                        profile: profile.clone(),
                        dest: sip.clone(),
                    },
                );
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
