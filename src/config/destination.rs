//! Where a buyer's calls go: a SIP URI, a number through a gateway, or a raw dial string, each
//! checked with the same dial-string code the call driver dials with.

use super::build::Builder;
use super::error::ConfigError;
use super::model::Destination;
use super::raw::{RawDestination, S};
use parkway_esl::dialstring::{self, DialString, Endpoint, Leg};

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

    pub(super) fn destination(&mut self, d: &S<RawDestination>) -> Destination {
        let r = d.get_ref();
        match (&r.sip, &r.number, &r.gateway, &r.dial_string) {
            (Some(sip), None, None, None) => {
                self.dialable(
                    d,
                    Endpoint::Sofia {
                        profile: "external".into(),
                        dest: sip.clone(),
                    },
                );
                Destination::Sip(sip.clone())
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
