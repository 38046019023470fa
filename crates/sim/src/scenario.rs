//! Scenarios for the simulated switch: who calls, when, and how each buyer endpoint behaves.
//!
//! ```toml
//! seed = 7
//!
//! [[caller]]
//! number = "+13055550123"
//! name = "Maria Lopez"
//! destination = "18005550199"      # context `public` parks it
//! at_ms = 0                        # when the call arrives (after the scenario starts)
//! abandon_after_ms = 45000         # the caller hangs up then (optional)
//! sip_headers = { X-Campaign = "solar" }
//! variables = { parkway_call_id = "pk-1" }
//! dtmf = [{ at_ms = 8000, digits = "1" }]   # keys the caller presses
//!
//! [[buyer]]                        # reached as loopback/acme/buyers
//! destination = "acme"
//! behaviour = "answer"             # answer | busy | reject | never_answer | unreachable
//! ring_ms = 2000                   # or a range drawn per call: [2000, 8000]
//! talk_ms = 30000                  # likewise
//! digits = [{ at_ms = 1000, digits = "1" }] # keys the buyer presses (ms after answer)
//!
//! [[buyer]]                        # sofia/…/sip:inbound@host; drawn per call
//! destination = "inbound"
//! context = "buyers"               # default; `sip` is looked at first by SIP legs
//! mix = [
//!   { weight = 30, behaviour = "answer", ring_ms = [2000, 8000], talk_ms = [20000, 300000],
//!     digits = [{ at_ms = 30000, digits = "1" }] },
//!   { weight = 30, behaviour = "answer", ring_ms = [2000, 8000], talk_ms = [20000, 300000] },
//!   { weight = 15, behaviour = "never_answer" },
//!   { weight = 10, behaviour = "busy" },
//!   { weight = 10, behaviour = "reject", cause = "CALL_REJECTED", ring_ms = [1000, 5000] },
//!   { weight = 5, behaviour = "unreachable" },
//! ]
//!
//! [[extension]]                    # a dialplan extension, as dialplan/parkway.xml's
//! context = "public"               # default
//! destination = "18005550199"
//! apps = [["set", "hangup_after_bridge=true"], ["set", "park_timeout=120"], ["park", ""]]
//!
//! [generator]                      # or `parkway sim --cps N`
//! cps = 5.0
//! count = 100                      # optional; without it, calls never stop
//! destinations = ["18005550199"]
//! abandon_ms = [5000, 60000]       # optional: each caller leaves at a seeded time in range
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::Deserialize;

use super::engine::api::InboundCall;
use super::engine::{Behaviour, Cause, MS, Micros, MsRange, SEC};
use parkway_esl::splitmix::SplitMix64;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("buyer `{buyer}`: {problem}")]
    Buyer { buyer: String, problem: String },
    #[error("generator: {0}")]
    Generator(String),
    #[error("extension {0}")]
    Extension(String),
}

/// A key press: `digits` at `at_ms`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Press {
    pub at_ms: u64,
    pub digits: String,
}

fn public() -> String {
    "public".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    pub number: String,
    #[serde(default)]
    pub name: String,
    pub destination: String,
    #[serde(default = "public")]
    pub context: String,
    #[serde(default)]
    pub at_ms: u64,
    #[serde(default)]
    pub abandon_after_ms: Option<u64>,
    #[serde(default)]
    pub sip_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub dtmf: Vec<Press>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BuyerKind {
    Answer,
    Busy,
    Reject,
    NeverAnswer,
    Unreachable,
}

/// Milliseconds: a number, or `[min, max]` drawn per call.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Ms {
    Fixed(u64),
    Range(u64, u64),
}

impl Ms {
    fn range(self) -> MsRange {
        match self {
            Ms::Fixed(ms) => MsRange::fixed(ms),
            Ms::Range(min, max) => MsRange::between(min, max),
        }
    }
}

fn no_ring() -> Ms {
    Ms::Fixed(0)
}

fn default_talk() -> Ms {
    Ms::Fixed(60_000)
}

fn buyers() -> String {
    "buyers".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buyer {
    pub destination: String,
    /// The dialplan context (`buyers`; SIP and gateway legs look in `sip` first).
    #[serde(default = "buyers")]
    pub context: String,
    /// One behaviour for every call; or give `mix`.
    #[serde(default)]
    pub behaviour: Option<BuyerKind>,
    /// Ring time before answering (`answer`) or rejecting (`reject`).
    #[serde(default = "no_ring")]
    pub ring_ms: Ms,
    /// `answer`: hang up this long after answering.
    #[serde(default = "default_talk")]
    pub talk_ms: Ms,
    /// `answer`: keys pressed, `at_ms` after answering.
    #[serde(default)]
    pub digits: Vec<Press>,
    /// `reject`: the hangup cause (default CALL_REJECTED).
    #[serde(default)]
    pub cause: Option<String>,
    /// Behaviours drawn per call by weight (instead of `behaviour`).
    #[serde(default)]
    pub mix: Vec<MixEntry>,
}

/// One entry of a buyer's `mix`: the fields of a buyer's behaviour, and a weight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixEntry {
    pub weight: u32,
    pub behaviour: BuyerKind,
    #[serde(default = "no_ring")]
    pub ring_ms: Ms,
    #[serde(default = "default_talk")]
    pub talk_ms: Ms,
    #[serde(default)]
    pub digits: Vec<Press>,
    #[serde(default)]
    pub cause: Option<String>,
}

/// A behaviour from a kind and its times; a range wider than one value makes a drawn one.
fn behaviour_of(
    kind: BuyerKind,
    ring: Ms,
    talk: Ms,
    digits: &[Press],
    cause: Option<&str>,
) -> Result<Behaviour, String> {
    for (name, ms) in [("ring_ms", ring), ("talk_ms", talk)] {
        if let Ms::Range(min, max) = ms
            && min > max
        {
            return Err(format!("{name} [{min}, {max}] is empty"));
        }
    }
    let (ring, talk) = (ring.range(), talk.range());
    Ok(match kind {
        BuyerKind::Answer => {
            let digits = digits
                .iter()
                .flat_map(|p| p.digits.chars().map(move |d| (p.at_ms, d)))
                .collect();
            if ring.min == ring.max && talk.min == talk.max {
                Behaviour::Answer {
                    ring_ms: ring.min,
                    digits,
                    talk_ms: talk.min,
                }
            } else {
                Behaviour::AnswerWithin {
                    ring_ms: ring,
                    digits,
                    talk_ms: talk,
                }
            }
        }
        BuyerKind::Busy => Behaviour::Busy,
        BuyerKind::Reject => {
            let name = cause.unwrap_or("CALL_REJECTED");
            let cause = Cause::parse(name).ok_or_else(|| format!("unknown cause `{name}`"))?;
            if ring.min == ring.max {
                Behaviour::Reject {
                    after_ms: ring.min,
                    cause,
                }
            } else {
                Behaviour::RejectWithin {
                    after_ms: ring,
                    cause,
                }
            }
        }
        BuyerKind::NeverAnswer => Behaviour::NeverAnswer,
        BuyerKind::Unreachable => Behaviour::Unreachable,
    })
}

impl Buyer {
    pub fn behaviour(&self) -> Result<Behaviour, ScenarioError> {
        let problem = |p: String| ScenarioError::Buyer {
            buyer: self.destination.clone(),
            problem: p,
        };
        match (self.behaviour, self.mix.is_empty()) {
            (Some(kind), true) => behaviour_of(
                kind,
                self.ring_ms,
                self.talk_ms,
                &self.digits,
                self.cause.as_deref(),
            )
            .map_err(problem),
            (None, false) => {
                let mut entries = Vec::new();
                for (i, e) in self.mix.iter().enumerate() {
                    let b = behaviour_of(
                        e.behaviour,
                        e.ring_ms,
                        e.talk_ms,
                        &e.digits,
                        e.cause.as_deref(),
                    )
                    .map_err(|p| problem(format!("mix entry {}: {p}", i + 1)))?;
                    entries.push((e.weight, b));
                }
                if entries.iter().all(|(w, _)| *w == 0) {
                    return Err(problem("mix weights are all 0".into()));
                }
                Ok(Behaviour::Mix(entries))
            }
            (Some(_), false) => Err(problem("give `behaviour` or `mix`, not both".into())),
            (None, true) => Err(problem("give `behaviour` or `mix`".into())),
        }
    }
}

/// Calls at a steady rate, with seeded caller numbers and abandon times.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub cps: f64,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default = "default_destinations")]
    pub destinations: Vec<String>,
    #[serde(default)]
    pub abandon_ms: Option<(u64, u64)>,
    #[serde(default)]
    pub sip_headers: BTreeMap<String, String>,
}

fn default_destinations() -> Vec<String> {
    vec!["18005550199".into()]
}

impl Generator {
    pub fn at_rate(cps: f64) -> Generator {
        Generator {
            cps,
            count: None,
            destinations: default_destinations(),
            abandon_ms: None,
            sip_headers: BTreeMap::new(),
        }
    }

    fn check(&self) -> Result<(), ScenarioError> {
        if !(self.cps.is_finite() && self.cps > 0.0 && self.cps <= 1_000_000.0) {
            return Err(ScenarioError::Generator(format!(
                "cps {} is not in (0, 1000000]",
                self.cps
            )));
        }
        if self.destinations.is_empty() {
            return Err(ScenarioError::Generator("no destinations".into()));
        }
        if let Some((lo, hi)) = self.abandon_ms
            && lo > hi
        {
            return Err(ScenarioError::Generator(format!(
                "abandon_ms [{lo}, {hi}] is empty"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default, rename = "caller")]
    pub callers: Vec<Caller>,
    #[serde(default, rename = "buyer")]
    pub buyers: Vec<Buyer>,
    #[serde(default, rename = "extension")]
    pub extensions: Vec<Extension>,
    #[serde(default)]
    pub generator: Option<Generator>,
}

/// A dialplan extension: the applications (name, argument) a call to `destination` runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    #[serde(default = "public")]
    pub context: String,
    pub destination: String,
    pub apps: Vec<(String, String)>,
}

impl Scenario {
    pub fn parse(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        scenario.check()?;
        Ok(scenario)
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        Scenario::parse(&text, &shown)
    }

    /// Every problem found before the switch starts.
    pub fn check(&self) -> Result<(), ScenarioError> {
        for b in &self.buyers {
            b.behaviour()?;
        }
        if let Some(g) = &self.generator {
            g.check()?;
        }
        for x in &self.extensions {
            if x.apps.is_empty() {
                return Err(ScenarioError::Extension(format!(
                    "{}/{} runs no application",
                    x.context, x.destination
                )));
            }
        }
        Ok(())
    }

    /// The buyer endpoints to add to the dialplan: (context, destination, behaviour).
    pub fn endpoints(&self) -> Vec<(String, String, Behaviour)> {
        self.buyers
            .iter()
            .filter_map(|b| {
                Some((
                    b.context.clone(),
                    b.destination.clone(),
                    b.behaviour().ok()?,
                ))
            })
            .collect()
    }
}

/// A call to place: when (since the scenario started), what, and what its caller does.
#[derive(Debug, Clone)]
pub struct Planned {
    pub at: Micros,
    pub call: InboundCall,
    /// Hang the caller up this long after the call arrives.
    pub abandon_after: Option<Micros>,
    /// Keys the caller presses, relative to arrival.
    pub dtmf: Vec<(Micros, String)>,
}

/// The calls of a scenario in arrival order: the listed callers merged with the generator's.
#[derive(Debug, Clone)]
pub struct Arrivals {
    listed: VecDeque<Planned>,
    generator: Option<(Generator, u64, SplitMix64)>,
}

impl Arrivals {
    pub fn new(scenario: &Scenario, seed: u64) -> Arrivals {
        let mut listed: Vec<Planned> = scenario
            .callers
            .iter()
            .map(|c| Planned {
                at: c.at_ms * MS,
                call: InboundCall {
                    caller_number: c.number.clone(),
                    caller_name: c.name.clone(),
                    destination: c.destination.clone(),
                    context: c.context.clone(),
                    sip_headers: c.sip_headers.clone().into_iter().collect(),
                    variables: c.variables.clone().into_iter().collect(),
                    sip: None,
                },
                abandon_after: c.abandon_after_ms.map(|ms| ms * MS),
                dtmf: c
                    .dtmf
                    .iter()
                    .map(|p| (p.at_ms * MS, p.digits.clone()))
                    .collect(),
            })
            .collect();
        listed.sort_by_key(|p| p.at);
        Arrivals {
            listed: listed.into(),
            generator: scenario
                .generator
                .clone()
                .map(|g| (g, 0, SplitMix64::new(seed ^ 0x5CE0_A410))),
        }
    }

    fn generated_at(&self) -> Option<Micros> {
        let (g, n, _) = self.generator.as_ref()?;
        if g.count.is_some_and(|c| *n >= c) {
            return None;
        }
        Some((*n as f64 * SEC as f64 / g.cps) as Micros)
    }

    /// When the next call arrives, if any.
    pub fn next_at(&self) -> Option<Micros> {
        match (self.listed.front().map(|p| p.at), self.generated_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next call (the listed one first on a tie).
    pub fn pop(&mut self) -> Option<Planned> {
        let generated = self.generated_at();
        if let Some(p) = self.listed.front()
            && generated.is_none_or(|g| p.at <= g)
        {
            return self.listed.pop_front();
        }
        let at = generated?;
        let (g, n, rng) = self.generator.as_mut()?;
        *n += 1;
        let pick = rng.next_u64();
        let destination = g.destinations[(pick % g.destinations.len() as u64) as usize].clone();
        let number = format!("+1305{:07}", rng.next_u64() % 10_000_000);
        let abandon_after = g
            .abandon_ms
            .map(|(lo, hi)| (lo + rng.next_u64() % (hi - lo + 1)) * MS);
        Some(Planned {
            at,
            call: InboundCall {
                caller_name: format!("Caller {n}"),
                caller_number: number,
                destination,
                context: "public".into(),
                sip_headers: g.sip_headers.clone().into_iter().collect(),
                variables: vec![("sim_call_index".into(), n.to_string())],
                sip: None,
            },
            abandon_after,
            dtmf: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
seed = 7
[[caller]]
number = "+13055550123"
name = "Maria Lopez"
destination = "18005550199"
at_ms = 500
abandon_after_ms = 45000
sip_headers = { X-Campaign = "solar" }
variables = { parkway_call_id = "pk-1" }
dtmf = [{ at_ms = 8000, digits = "1" }]

[[buyer]]
destination = "acme"
behaviour = "answer"
ring_ms = 2000
talk_ms = 30000
digits = [{ at_ms = 1000, digits = "12" }]

[[buyer]]
destination = "nope"
behaviour = "reject"
cause = "CALL_REJECTED"

[generator]
cps = 2.0
count = 3
abandon_ms = [1000, 2000]
"#;

    #[test]
    fn parses_and_merges_arrivals() {
        let s = Scenario::parse(EXAMPLE, "example.toml").expect("valid");
        assert_eq!(s.seed, Some(7));
        let b = s.endpoints();
        assert_eq!(b[0].0, "buyers");
        assert_eq!(
            b[0].2,
            Behaviour::Answer {
                ring_ms: 2000,
                digits: vec![(1000, '1'), (1000, '2')],
                talk_ms: 30000
            }
        );
        let mut a = Arrivals::new(&s, 7);
        let times: Vec<Micros> = std::iter::from_fn(|| a.pop().map(|p| p.at)).collect();
        assert_eq!(times, [0, 500 * MS, 500 * MS, SEC]);
        let mut a = Arrivals::new(&s, 7);
        let first = a.pop().expect("generated");
        let abandon = first.abandon_after.expect("in range");
        assert!((SEC..=2 * SEC).contains(&abandon));
        let again = Arrivals::new(&s, 7).pop().expect("generated");
        assert_eq!(again.call.caller_number, first.call.caller_number);
    }

    #[test]
    fn extensions_are_read_and_checked() {
        let s = Scenario::parse(
            "[[extension]]\ndestination = \"18005550199\"\napps = [[\"set\", \"park_timeout=120\"], [\"park\", \"\"]]\n",
            "x.toml",
        )
        .expect("valid");
        assert_eq!(s.extensions[0].context, "public");
        assert_eq!(s.extensions[0].apps[1], ("park".to_owned(), String::new()));
        let empty = Scenario::parse(
            "[[extension]]\ncontext = \"c\"\ndestination = \"1\"\napps = []\n",
            "x.toml",
        );
        assert!(
            matches!(empty, Err(ScenarioError::Extension(m)) if m == "c/1 runs no application")
        );
    }

    #[test]
    fn mixes_and_ranges() {
        let s = Scenario::parse(
            r#"
[[buyer]]
destination = "inbound"
mix = [
  { weight = 60, behaviour = "answer", ring_ms = [2000, 8000], talk_ms = [20000, 300000],
    digits = [{ at_ms = 30000, digits = "1" }] },
  { weight = 30, behaviour = "reject", ring_ms = [1000, 5000] },
  { weight = 10, behaviour = "busy" },
]

[[buyer]]
destination = "+18175550123"
context = "sip"
behaviour = "answer"
ring_ms = 500
talk_ms = [1000, 2000]
"#,
            "mix.toml",
        )
        .expect("valid");
        let e = s.endpoints();
        assert_eq!(e[0].0, "buyers");
        assert_eq!(
            e[0].2,
            Behaviour::Mix(vec![
                (
                    60,
                    Behaviour::AnswerWithin {
                        ring_ms: MsRange::between(2000, 8000),
                        digits: vec![(30000, '1')],
                        talk_ms: MsRange::between(20000, 300000),
                    }
                ),
                (
                    30,
                    Behaviour::RejectWithin {
                        after_ms: MsRange::between(1000, 5000),
                        cause: Cause::parse("CALL_REJECTED").expect("known"),
                    }
                ),
                (10, Behaviour::Busy),
            ])
        );
        assert_eq!(e[1].0, "sip");
        assert_eq!(
            e[1].2,
            Behaviour::AnswerWithin {
                ring_ms: MsRange::fixed(500),
                digits: vec![],
                talk_ms: MsRange::between(1000, 2000),
            }
        );
        for (bad, says) in [
            ("destination = \"a\"\n", "give `behaviour` or `mix`"),
            (
                "destination = \"a\"\nbehaviour = \"busy\"\nmix = [{ weight = 1, behaviour = \"busy\" }]\n",
                "not both",
            ),
            (
                "destination = \"a\"\nmix = [{ weight = 0, behaviour = \"busy\" }]\n",
                "all 0",
            ),
            (
                "destination = \"a\"\nbehaviour = \"answer\"\nring_ms = [5, 1]\n",
                "is empty",
            ),
            (
                "destination = \"a\"\nmix = [{ weight = 1, behaviour = \"reject\", cause = \"NOPE\" }]\n",
                "mix entry 1: unknown cause",
            ),
        ] {
            let err = Scenario::parse(&format!("[[buyer]]\n{bad}"), "x").unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn rejects_bad_input_with_its_place() {
        let err = Scenario::parse("[[caller]]\nnumber = 1\n", "x.toml").unwrap_err();
        assert!(err.to_string().starts_with("x.toml: "), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = Scenario::parse(
            "[[buyer]]\ndestination = \"a\"\nbehaviour = \"reject\"\ncause = \"NOPE\"\n",
            "x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown cause"), "{err}");
        assert!(Scenario::parse("[generator]\ncps = 0.0\n", "x").is_err());
        assert!(
            Scenario::parse(
                "[[buyer]]\ndestination = \"a\"\nbehaviour = \"answer\"\ncolour = 1\n",
                "x"
            )
            .is_err()
        );
    }
}
