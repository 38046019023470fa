//! The dialplan of the switch behind the captures: context `public` parks every call (after
//! `set park_timeout=60:NORMAL_CLEARING`); context `buyers` holds the buyer endpoints the
//! captures dial through `loopback/<name>/buyers`. A scenario adds extensions, directly or from
//! a [`Behaviour`]; a drawn behaviour (ranges, mixes) is drawn again each time its destination
//! is dialled ([`Dialplan::resolve_drawn`]).

use std::collections::BTreeMap;

pub use super::behaviour::{Behaviour, MsRange};
use super::channel::AppCall;
use parkway_esl::splitmix::SplitMix64;

/// An extension: the applications it runs, in order.
pub type Extension = Vec<AppCall>;

/// Contexts → destination → extension. A context may have a catch-all extension under `*`.
#[derive(Debug, Clone)]
pub struct Dialplan {
    contexts: BTreeMap<String, BTreeMap<String, Extension>>,
    /// Destinations whose extension is drawn per call (context → destination → behaviour);
    /// `contexts` holds a representative extension for them.
    drawn: BTreeMap<String, BTreeMap<String, Behaviour>>,
}

fn ext(apps: &[(&str, &str)]) -> Extension {
    apps.iter().map(|(n, a)| AppCall::new(n, a)).collect()
}

impl Default for Dialplan {
    fn default() -> Dialplan {
        let mut d = Dialplan {
            contexts: BTreeMap::new(),
            drawn: BTreeMap::new(),
        };
        d.add(
            "public",
            "*",
            ext(&[("set", "park_timeout=60:NORMAL_CLEARING"), ("park", "")]),
        );
        // A SIP caller to a buyer endpoint is transferred to `buyers` (the captures' SIP buyers
        // loop back through the switch's own profile: `sip_leg`, `dtmf_variants`).
        for buyer in ["answer_dtmf", "slow_hangup"] {
            d.add(
                "public",
                buyer,
                ext(&[("transfer", &format!("{buyer} XML buyers"))]),
            );
        }
        d.add("buyers", "busy", ext(&[("hangup", "USER_BUSY")]));
        d.add(
            "buyers",
            "no_answer",
            ext(&[("ring_ready", ""), ("sleep", "120000")]),
        );
        d.add(
            "buyers",
            "answer_dtmf",
            ext(&[
                ("answer", ""),
                ("playback", "tone_stream://%(2000,0,440)"),
                ("send_dtmf", "1"),
                ("sleep", "3000"),
                ("hangup", "NORMAL_CLEARING"),
            ]),
        );
        d.add(
            "buyers",
            "answer_talk",
            ext(&[
                ("answer", ""),
                ("playback", "tone_stream://%(4000,0,480)"),
                ("hangup", "NORMAL_CLEARING"),
            ]),
        );
        d.add(
            "buyers",
            "slow_hangup",
            ext(&[
                ("answer", ""),
                ("sleep", "10000"),
                ("hangup", "NORMAL_CLEARING"),
            ]),
        );
        d
    }
}

impl Dialplan {
    /// Adds (or replaces) an extension.
    pub fn add(&mut self, context: &str, destination: &str, apps: Extension) {
        if let Some(drawn) = self.drawn.get_mut(context) {
            drawn.remove(destination);
        }
        self.contexts
            .entry(context.to_owned())
            .or_default()
            .insert(destination.to_owned(), apps);
    }

    /// Adds (or replaces) a buyer endpoint in context `buyers` that behaves as described. SIP
    /// legs reach it by user part (`sofia/<profile>/sip:<destination>@host`) and gateway legs
    /// by number (`sofia/gateway/<gw>/<destination>`, with or without a leading `+`), loopback
    /// legs as `loopback/<destination>/buyers`.
    pub fn add_behaviour(&mut self, destination: &str, behaviour: &Behaviour) {
        self.add_behaviour_in("buyers", destination, behaviour);
    }

    /// [`Dialplan::add_behaviour`] in any context (`sip` is looked at before `buyers` by SIP
    /// and gateway legs).
    pub fn add_behaviour_in(&mut self, context: &str, destination: &str, behaviour: &Behaviour) {
        self.add(context, destination, behaviour.extension());
        if behaviour.is_drawn() {
            self.drawn
                .entry(context.to_owned())
                .or_default()
                .insert(destination.to_owned(), behaviour.clone());
        }
    }

    /// The extension one call runs: [`Dialplan::resolve`], except that a destination with a
    /// drawn behaviour gets a fresh draw from `rng`; the flag says whether it was drawn.
    pub fn resolve_drawn(
        &self,
        context: &str,
        destination: &str,
        rng: &mut SplitMix64,
    ) -> Option<(Extension, bool)> {
        match self.drawn.get(context).and_then(|d| d.get(destination)) {
            Some(behaviour) => Some((behaviour.draw(rng).extension(), true)),
            None => self.resolve(context, destination).map(|e| (e, false)),
        }
    }

    /// The extension's name (as the XML dialplan names it: the catch-all of `public` is
    /// `park`, a buyer's extension is its destination) and its applications.
    pub fn extension_of(&self, context: &str, destination: &str) -> Option<(String, &Extension)> {
        let ctx = self.contexts.get(context)?;
        match ctx.get(destination) {
            Some(apps) => Some((destination.to_owned(), apps)),
            None => ctx.get("*").map(|apps| {
                let name = apps.last().map_or("*", |a| a.name.as_str());
                (name.to_owned(), apps)
            }),
        }
    }

    /// Whether `destination` has its own extension in `context` (not the catch-all).
    pub fn has_exact(&self, context: &str, destination: &str) -> bool {
        self.contexts
            .get(context)
            .is_some_and(|c| c.contains_key(destination))
    }

    /// The extension a call runs, owned (a drawn behaviour's representative one): like
    /// [`Dialplan::lookup`], plus the captures' outbound
    /// socket extensions: `socket_<port>` in `public` runs `socket 127.0.0.1:<port> async full`.
    pub fn resolve(&self, context: &str, destination: &str) -> Option<Extension> {
        if context == "public"
            && let Some(port) = destination.strip_prefix("socket_")
            && port.parse::<u16>().is_ok()
            && !self.has_exact(context, destination)
        {
            return Some(vec![AppCall::new(
                "socket",
                &format!("127.0.0.1:{port} async full"),
            )]);
        }
        self.lookup(context, destination).cloned()
    }

    /// The extension a call to `destination` in `context` runs (`None`: no route).
    pub fn lookup(&self, context: &str, destination: &str) -> Option<&Extension> {
        let ctx = self.contexts.get(context)?;
        ctx.get(destination).or_else(|| ctx.get("*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_contexts_and_behaviours() {
        let d = Dialplan::default();
        assert_eq!(d.lookup("public", "18005550199").unwrap()[1].name, "park");
        assert_eq!(d.lookup("buyers", "busy").unwrap()[0].arg, "USER_BUSY");
        assert!(d.lookup("buyers", "nobody").is_none());
        let apps = Behaviour::Answer {
            ring_ms: 500,
            digits: vec![(2000, '1')],
            talk_ms: 5000,
        }
        .extension();
        let names: Vec<_> = apps
            .iter()
            .map(|a| (a.name.as_str(), a.arg.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("ring_ready", ""),
                ("sleep", "500"),
                ("answer", ""),
                ("sleep", "2000"),
                ("send_dtmf", "1"),
                ("sleep", "3000"),
                ("hangup", "NORMAL_CLEARING")
            ]
        );
    }
}
