//! One plan step as a `bridge` dial string: a buyer alone, a simultaneous group (`,`: first
//! answer wins) or a sequential group (`|`: the next member when one fails).
//!
//! Every leg carries what names it (`parkway_call`, `parkway_buyer`, `parkway_attempt`, and
//! `sip_h_X-Parkway-Call=<leg uuid>`, which survives a SIP hop back into this switch) and an
//! `origination_uuid` chosen here, so the leg's events (DTMF included, which carries no
//! variables) are matched by `Unique-ID` alone. A buyer with a whisper hears it through
//! `group_confirm_key=exec` + `group_confirm_file=playback <wav>`, with
//! `group_confirm_cancel_timeout` so the leg's ring timeout cannot cut the whisper (see
//! `captures/group_simultaneous.md`). On `loopback/` legs FreeSWITCH reads the `group_confirm_*` variables from the
//! `{}` block only, so there they go into `{}` (when every leg of the step plays the same file).

use std::path::PathBuf;

use crate::config::{Config, Destination};
use crate::routing::GroupMode;
use parkway_esl::dialstring::{DialString, DialStringError, Group, Vars};

/// Ringback the caller hears while buyers ring (US tone: 2 s on, 4 s off, 440 + 480 Hz). The
/// bridge reads `ringback` from the caller's channel (switch_ivr_originate.c), so it is `set` on
/// the caller before the first step, not put in the dial string.
pub const RINGBACK: &str = "%(2000,4000,440,480)";

/// The leg variable that marks a buyer leg across a SIP hop (`sip_h_` sends it as an INVITE
/// header); FreeSWITCH reports it on the receiving channel as `variable_sip_h_X-Parkway-Call`.
pub const LOOP_MARKER: &str = "sip_h_X-Parkway-Call";

/// How a step dials its legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMode {
    Single,
    Simultaneous,
    Sequential,
}

impl From<GroupMode> for StepMode {
    fn from(m: GroupMode) -> StepMode {
        match m {
            GroupMode::Simultaneous => StepMode::Simultaneous,
            GroupMode::Sequential => StepMode::Sequential,
        }
    }
}

/// One buyer leg of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegPlan {
    /// Index into the config's buyers.
    pub buyer: usize,
    /// The leg's `origination_uuid`.
    pub uuid: String,
    /// `leg_timeout`: how long it may ring.
    pub ring_secs: u32,
    /// The whisper WAV this buyer hears on answer.
    pub whisper: Option<PathBuf>,
}

/// One plan step, ready to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub mode: StepMode,
    pub legs: Vec<LegPlan>,
    /// The step's number in the call (1-based), sent as `parkway_attempt`.
    pub number: u32,
    /// Extra seconds the whole originate may take past the longest ring (the whisper's length).
    pub whisper_secs: u32,
}

impl StepPlan {
    /// The `bridge` argument for this step of call `call` on router `router`.
    pub fn bridge_arg(
        &self,
        config: &Config,
        call: &str,
        router: &str,
    ) -> Result<String, DialStringError> {
        let ring = self.legs.iter().map(|l| l.ring_secs).max().unwrap_or(0);
        let ring_total = match self.mode {
            StepMode::Sequential => self.legs.iter().map(|l| l.ring_secs).sum(),
            _ => ring,
        };
        let mut global: Vars = vec![
            ("ignore_early_media".into(), "true".into()),
            (
                "originate_timeout".into(),
                (ring_total + self.whisper_secs + 5).to_string(),
            ),
            ("parkway_call".into(), call.into()),
            ("parkway_router".into(), router.into()),
        ];
        let shared_whisper = self.shared_whisper();
        let loopback = self.legs.iter().any(|l| {
            matches!(
                config.buyers.get(l.buyer).map(|b| &b.destination),
                Some(Destination::DialString(d)) if d.contains("loopback/")
            )
        });
        if loopback && let Some(file) = shared_whisper {
            global.extend(confirm_vars(file));
        }
        let mut groups: Vec<Group> = Vec::new();
        for leg in &self.legs {
            let buyer = config
                .buyers
                .get(leg.buyer)
                .ok_or(DialStringError::NoLegs)?;
            let mut vars: Vars = vec![
                ("origination_uuid".into(), leg.uuid.clone()),
                ("leg_timeout".into(), leg.ring_secs.to_string()),
                ("parkway_buyer".into(), buyer.id.to_string()),
                ("parkway_attempt".into(), self.number.to_string()),
                // Crosses a SIP hop (as the INVITE's `X-Parkway-Call` header) and a loopback/: a
                // buyer destination that loops back into this switch parks an inbound channel
                // that carries it as `variable_sip_h_X-Parkway-Call`. Its value is the leg's
                // own uuid, which only parkway knows while the leg rings: a caller cannot forge
                // it, and the park is not routed as a call.
                (LOOP_MARKER.into(), leg.uuid.clone()),
            ];
            if !(loopback && shared_whisper.is_some())
                && let Some(file) = &leg.whisper
            {
                vars.extend(confirm_vars(file));
            }
            let mut legs = buyer.destination.legs(vars)?;
            match (self.mode, groups.last_mut()) {
                (StepMode::Simultaneous, Some(g)) => g.legs.append(&mut legs),
                _ => groups.push(Group { legs }),
            }
        }
        DialString::new(global, groups).encode()
    }

    /// The whisper every leg plays, if they all play the same one.
    fn shared_whisper(&self) -> Option<&PathBuf> {
        let first = self.legs.first()?.whisper.as_ref()?;
        self.legs
            .iter()
            .all(|l| l.whisper.as_ref() == Some(first))
            .then_some(first)
    }
}

fn confirm_vars(file: &std::path::Path) -> Vars {
    vec![
        ("group_confirm_key".into(), "exec".into()),
        (
            "group_confirm_file".into(),
            format!("playback {}", file.display()),
        ),
        ("group_confirm_cancel_timeout".into(), "true".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::money::Currency;
    use crate::config::{Buyer, EpcSettings};
    use parkway_esl::dialstring::Leg;

    fn config() -> Config {
        let mut a = Buyer::basic("a", Currency::USD);
        a.destination = Destination::Sip {
            uri: "sip:agent@a.example.com".into(),
            profile: "carriers".into(),
        };
        let mut b = Buyer::basic("b", Currency::USD);
        b.destination = Destination::Number {
            number: "+18005550100".into(),
            gateway: "carrier".into(),
        };
        let mut c = Buyer::basic("c", Currency::USD);
        c.destination =
            Destination::DialString("{ignore_early_media=true}loopback/answer/buyers".into());
        Config::new(
            Currency::USD,
            chrono_tz::UTC,
            EpcSettings {
                window: chrono::Duration::days(7),
                prior: crate::config::money::Money::zero(Currency::USD),
                prior_calls: 1,
            },
            vec![a, b, c],
            vec![],
            vec![],
        )
    }

    fn leg(buyer: usize, uuid: &str, whisper: Option<&str>) -> LegPlan {
        LegPlan {
            buyer,
            uuid: uuid.into(),
            ring_secs: 20,
            whisper: whisper.map(PathBuf::from),
        }
    }

    #[test]
    fn simultaneous_step_joins_legs_with_commas_and_names_each() {
        let step = StepPlan {
            mode: StepMode::Simultaneous,
            legs: vec![leg(0, "u-a", Some("/w/a.wav")), leg(1, "u-b", None)],
            number: 2,
            whisper_secs: 6,
        };
        let arg = step.bridge_arg(&config(), "call-1", "r1").unwrap();
        let parsed = DialString::parse_app_arg(&arg).unwrap();
        assert_eq!(parsed.branches[0].groups.len(), 1);
        let legs: Vec<_> = parsed.legs().collect();
        assert_eq!(legs.len(), 2);
        let get = |l: &Leg, k: &str| l.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get(legs[0], "origination_uuid").as_deref(), Some("u-a"));
        assert_eq!(get(legs[0], "parkway_buyer").as_deref(), Some("a"));
        assert_eq!(get(legs[1], "parkway_attempt").as_deref(), Some("2"));
        for (l, uuid) in legs.iter().zip(["u-a", "u-b"]) {
            assert_eq!(
                get(l, LOOP_MARKER).as_deref(),
                Some(uuid),
                "the leg's own uuid"
            );
        }
        assert_eq!(
            get(legs[0], "group_confirm_file").as_deref(),
            Some("playback /w/a.wav")
        );
        assert_eq!(get(legs[1], "group_confirm_file"), None);
        assert!(arg.contains("sofia/gateway/carrier/+18005550100"));
        // A `sip =` buyer goes out through its configured Sofia profile.
        assert!(
            arg.contains("sofia/carriers/sip:agent@a.example.com"),
            "{arg}"
        );
        let globals = &parsed.branches[0].global_vars;
        assert!(globals.contains(&("originate_timeout".into(), "31".into())));
    }

    /// Config validation encodes each buyer's bridge with the variables this file sets
    /// (`config::DRIVER_*_VARS`): they must stay the same names.
    #[test]
    fn the_bridge_sets_only_the_variables_config_validation_checks() {
        let step = StepPlan {
            mode: StepMode::Simultaneous,
            legs: vec![leg(0, "u-a", Some("/w/a.wav")), leg(1, "u-b", None)],
            number: 1,
            whisper_secs: 6,
        };
        let loopback = StepPlan {
            mode: StepMode::Single,
            legs: vec![leg(2, "u-c", Some("/w/c.wav"))],
            number: 1,
            whisper_secs: 6,
        };
        let known = |name: &str| {
            crate::config::DRIVER_LEG_VARS
                .iter()
                .chain(&crate::config::DRIVER_GLOBAL_VARS)
                .chain(&crate::config::DRIVER_WHISPER_VARS)
                .any(|n| *n == name)
        };
        for step in [step, loopback] {
            let arg = step.bridge_arg(&config(), "call-1", "r1").unwrap();
            let parsed = DialString::parse_app_arg(&arg).unwrap();
            for (name, _) in &parsed.branches[0].global_vars {
                assert!(known(name), "{name} in {arg}");
            }
            for leg in parsed.legs() {
                for (name, _) in &leg.vars {
                    // `ignore_early_media` is buyer c's own dial-string variable.
                    assert!(
                        known(name) || name == "ignore_early_media",
                        "{name} in {arg}"
                    );
                }
            }
        }
    }

    #[test]
    fn sequential_step_uses_pipes_and_loopback_whisper_goes_global() {
        let step = StepPlan {
            mode: StepMode::Sequential,
            legs: vec![leg(2, "u-c", Some("/w/x.wav"))],
            number: 1,
            whisper_secs: 0,
        };
        let arg = step.bridge_arg(&config(), "call-1", "r1").unwrap();
        let parsed = DialString::parse_app_arg(&arg).unwrap();
        let globals = &parsed.branches[0].global_vars;
        assert!(globals.contains(&("group_confirm_key".into(), "exec".into())));
        let legs: Vec<_> = parsed.legs().collect();
        assert!(
            legs[0]
                .vars
                .contains(&("ignore_early_media".into(), "true".into()))
        );

        let two = StepPlan {
            mode: StepMode::Sequential,
            legs: vec![leg(0, "u-a", None), leg(1, "u-b", None)],
            number: 1,
            whisper_secs: 0,
        };
        let parsed =
            DialString::parse_app_arg(&two.bridge_arg(&config(), "c", "r").unwrap()).unwrap();
        assert_eq!(parsed.branches[0].groups.len(), 2);
    }
}
