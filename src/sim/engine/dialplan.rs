//! The dialplan of the switch behind the captures: context `public` parks every call (after
//! `set park_timeout=60:NORMAL_CLEARING`); context `buyers` holds the buyer endpoints the
//! captures dial through `loopback/<name>/buyers`. A scenario adds extensions, directly or from
//! a [`Behaviour`].

use std::collections::BTreeMap;

use super::channel::{AppCall, Cause};

/// An extension: the applications it runs, in order.
pub type Extension = Vec<AppCall>;

/// Contexts → destination → extension. A context may have a catch-all extension under `*`.
#[derive(Debug, Clone)]
pub struct Dialplan {
    contexts: BTreeMap<String, BTreeMap<String, Extension>>,
}

fn ext(apps: &[(&str, &str)]) -> Extension {
    apps.iter().map(|(n, a)| AppCall::new(n, a)).collect()
}

impl Default for Dialplan {
    fn default() -> Dialplan {
        let mut d = Dialplan {
            contexts: BTreeMap::new(),
        };
        d.add(
            "public",
            "*",
            ext(&[("set", "park_timeout=60:NORMAL_CLEARING"), ("park", "")]),
        );
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
        self.contexts
            .entry(context.to_owned())
            .or_default()
            .insert(destination.to_owned(), apps);
    }

    /// Adds a buyer endpoint in context `buyers` that behaves as described.
    pub fn add_behaviour(&mut self, destination: &str, behaviour: &Behaviour) {
        self.add("buyers", destination, behaviour.extension());
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

    /// The extension a call runs, owned: like [`Dialplan::lookup`], plus the captures' outbound
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

/// How a buyer endpoint behaves, turned into dialplan applications (so the events are those a
/// real dialplan would raise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Ring for `ring_ms`, answer, press `digits` (ms after answer, digit), then hang up
    /// `talk_ms` after answer.
    Answer {
        ring_ms: u64,
        digits: Vec<(u64, char)>,
        talk_ms: u64,
    },
    /// `hangup USER_BUSY` at once.
    Busy,
    /// Ring for `after_ms`, then hang up with `cause`.
    Reject { after_ms: u64, cause: Cause },
    /// Ring until cancelled.
    NeverAnswer,
    /// Not reachable: fails at once with DESTINATION_OUT_OF_ORDER.
    Unreachable,
}

impl Behaviour {
    pub fn extension(&self) -> Extension {
        let mut apps = Vec::new();
        let mut push = |n: &str, a: String| apps.push(AppCall::new(n, &a));
        match self {
            Behaviour::Answer {
                ring_ms,
                digits,
                talk_ms,
            } => {
                if *ring_ms > 0 {
                    push("ring_ready", String::new());
                    push("sleep", ring_ms.to_string());
                }
                push("answer", String::new());
                let mut at = 0;
                let mut digits = digits.clone();
                digits.sort();
                for (when, digit) in digits {
                    if when > at {
                        push("sleep", (when - at).to_string());
                        at = when;
                    }
                    push("send_dtmf", digit.to_string());
                }
                if *talk_ms > at {
                    push("sleep", (talk_ms - at).to_string());
                }
                push("hangup", "NORMAL_CLEARING".into());
            }
            Behaviour::Busy => push("hangup", "USER_BUSY".into()),
            Behaviour::Reject { after_ms, cause } => {
                push("ring_ready", String::new());
                if *after_ms > 0 {
                    push("sleep", after_ms.to_string());
                }
                push("hangup", cause.name.into());
            }
            Behaviour::NeverAnswer => {
                push("ring_ready", String::new());
                push("sleep", "86400000".into());
            }
            Behaviour::Unreachable => push("hangup", "DESTINATION_OUT_OF_ORDER".into()),
        }
        apps
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
