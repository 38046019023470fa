//! The validated configuration: what routing (and later billing and the call driver) read.
//!
//! Everything here has been checked by [`super::load`]: ids are unique and resolved to indices,
//! zones are real IANA zones, regexes compile, money is exact. Routing never re-validates.

use std::sync::Arc;

use chrono::Duration;
use chrono_tz::Tz;
use serde::Serialize;

use super::money::{Currency, Money};
use crate::routing::caps::CapSpec;
use crate::routing::decision::{Algorithm, GroupMode, Id};
use crate::routing::duplicate::DuplicateRule;
use crate::routing::filter::Filter;
use crate::routing::schedule::Schedule;
use crate::routing::suppression::SuppressionList;
use crate::routing::tokens::Tokens;
use parkway_esl::fasthash::FxHashMap;

/// Where a buyer's calls go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A SIP URI, dialled as `sofia/<profile>/<uri>` by the call driver (the profile is the
    /// buyer's own `profile`, else `[freeswitch] sip_profile`, else `external`).
    Sip { uri: String, profile: String },
    /// A phone number sent out through a named FreeSWITCH gateway.
    Number { number: String, gateway: String },
    /// A raw FreeSWITCH dial string, used as written.
    DialString(String),
}

/// When a call counts as converted (billing reads this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionRule {
    /// Talk time (from the buyer's answer) of at least `seconds`.
    TalkTime { seconds: u32 },
    /// The buyer presses `digit`.
    Keypress { digit: char },
    /// Either of the two.
    Any { seconds: u32, digit: char },
    /// Both: the talk time and the keypress.
    All { seconds: u32, digit: char },
}

/// What a payout is paid per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutBasis {
    Call,
    /// Per started minute of talk time.
    Minute,
    Conversion,
}

/// What the buyer pays the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub per: PayoutBasis,
    pub amount: Money,
}

/// One buyer.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub id: Id,
    pub name: String,
    pub destination: Destination,
    pub tz: Tz,
    /// Lower is dialled first by `tier` routers.
    pub tier: u32,
    /// Share inside a tier (≥ 1).
    pub weight: u32,
    /// Per-call bid: what a `revenue` router ranks by.
    pub bid: Money,
    pub ring_timeout_secs: u32,
    pub paused: bool,
    pub filters: Vec<Filter>,
    pub schedule: Schedule,
    pub caps: CapSpec,
    pub suppress: Vec<Arc<SuppressionList>>,
    pub conversion: ConversionRule,
    pub payout: Option<Payout>,
    pub duplicate: Option<DuplicateRule>,
    /// Whisper template played to the buyer before the bridge, e.g. `"{campaign} call from {state}"`.
    pub whisper: Option<String>,
}

/// A group of buyers dialled as one plan step.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: Id,
    pub mode: GroupMode,
    /// Indices into [`Config::buyers`].
    pub members: Vec<usize>,
    pub tz: Tz,
    pub caps: CapSpec,
    pub paused: bool,
    /// How members are ordered (for a sequential group, the dialling order); defaults to the
    /// router's algorithm.
    pub route_by: Option<Algorithm>,
}

/// How a parked call finds its router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterMatch {
    /// The channel's destination number equals this (digits compared after normalising).
    Destination(String),
    /// A channel variable (without `variable_`) equals a value.
    Variable { name: String, value: String },
}

/// What happens when the plan is empty or every step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Fallback {
    /// Hang up with a Q.850 cause name such as `NO_ROUTE_DESTINATION`.
    Hangup { cause: String },
    /// Play a sound file to the caller, then hang up with `cause`.
    Play { file: String, cause: String },
    /// Transfer to a dialplan extension (`"1000 XML default"`).
    Transfer { extension: String },
}

/// One entry of a router: a buyer or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Buyer(usize),
    Group(usize),
}

/// A router (a campaign): its buyers and how it picks among them.
#[derive(Debug, Clone)]
pub struct Router {
    pub id: Id,
    pub matcher: RouterMatch,
    pub entries: Vec<Entry>,
    pub algorithm: Algorithm,
    pub fallback: Fallback,
    /// How long the caller may wait in total across all attempts.
    pub max_wait_secs: u32,
    pub suppress: Vec<Arc<SuppressionList>>,
}

/// The event socket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSwitch {
    pub address: String,
    pub password: String,
    /// The Sofia profile `sip =` buyers are dialled through unless they name their own.
    pub sip_profile: String,
    /// mod_json_cdr's log directory, if parkway can read it.
    pub cdr_dir: Option<std::path::PathBuf>,
    /// Seconds between two reconciles with FreeSWITCH's channels (0: after reconnects only).
    pub reconcile_secs: u32,
}

impl FreeSwitch {
    /// FreeSWITCH's defaults: `127.0.0.1:8021`, `ClueCon`, the `external` profile; a reconcile
    /// every 60 s.
    pub fn local() -> FreeSwitch {
        FreeSwitch {
            address: "127.0.0.1:8021".into(),
            password: "ClueCon".into(),
            sip_profile: DEFAULT_SIP_PROFILE.into(),
            cdr_dir: None,
            reconcile_secs: DEFAULT_RECONCILE_SECS,
        }
    }
}

/// How often FreeSWITCH's channels are compared with parkway's by default (seconds).
pub const DEFAULT_RECONCILE_SECS: u32 = 60;

/// `[store]`: where counters and call records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The SQLite file.
    pub path: std::path::PathBuf,
    /// Days call records are kept (0: for ever).
    pub record_days: u32,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            path: "parkway.db".into(),
            record_days: 90,
        }
    }
}

/// The Sofia profile `sip =` buyers go out through by default (FreeSWITCH's stock profile for
/// calls to the outside).
pub const DEFAULT_SIP_PROFILE: &str = "external";

/// EPC ranking: the trailing window and the prior that new buyers start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpcSettings {
    pub window: Duration,
    /// The EPC a buyer without history is assumed to earn.
    pub prior: Money,
    /// How many calls the prior weighs: EPC = (earnings + prior × k) / (calls + k).
    pub prior_calls: u32,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub currency: Currency,
    pub timezone: Tz,
    pub freeswitch: FreeSwitch,
    pub store: StoreSettings,
    pub epc: EpcSettings,
    pub buyers: Vec<Buyer>,
    pub groups: Vec<Group>,
    pub routers: Vec<Router>,
    pub whisper: WhisperSettings,
    /// `[tokens.*]`: checked when a call parks; the whisper speaks only what they allow.
    pub tokens: crate::routing::token_types::TokenTypes,
    pub(crate) buyer_index: FxHashMap<String, usize>,
    pub(crate) group_index: FxHashMap<String, usize>,
    pub(crate) router_index: FxHashMap<String, usize>,
}

impl Config {
    /// Builds a config from parts that are already valid (tests and benchmarks; files go through
    /// [`super::load`], which validates). Indices in groups and routers must be in range.
    pub fn new(
        currency: Currency,
        timezone: Tz,
        epc: EpcSettings,
        buyers: Vec<Buyer>,
        groups: Vec<Group>,
        routers: Vec<Router>,
    ) -> Config {
        let mut c = Config {
            currency,
            timezone,
            freeswitch: FreeSwitch::local(),
            store: StoreSettings::default(),
            epc,
            buyers,
            groups,
            routers,
            whisper: WhisperSettings::default(),
            tokens: Default::default(),
            buyer_index: FxHashMap::default(),
            group_index: FxHashMap::default(),
            router_index: FxHashMap::default(),
        };
        c.reindex();
        c
    }

    /// The whisper template a buyer hears on a call of `router`: the buyer's own, else the
    /// router's.
    pub fn whisper_template(&self, router: usize, buyer: usize) -> Option<&str> {
        self.buyers
            .get(buyer)
            .and_then(|b| b.whisper.as_deref())
            .or_else(|| {
                self.whisper
                    .router_templates
                    .get(&router)
                    .map(String::as_str)
            })
    }

    pub fn buyer(&self, id: &str) -> Option<&Buyer> {
        self.buyer_index.get(id).map(|i| &self.buyers[*i])
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.group_index.get(id).map(|i| &self.groups[*i])
    }

    pub fn router(&self, id: &str) -> Option<&Router> {
        self.router_index.get(id).map(|i| &self.routers[*i])
    }

    /// The longest duplicate rule's window: conversions older than it are never looked at
    /// (zero when no buyer has a rule).
    pub fn longest_duplicate_window(&self) -> Duration {
        let secs = self
            .buyers
            .iter()
            .filter_map(|b| b.duplicate.map(|d| d.window_secs))
            .max()
            .unwrap_or(0);
        Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX).min(i64::MAX / 1000))
    }

    /// The first router (in file order) whose match rule fits the call.
    pub fn router_for(&self, tokens: &Tokens) -> Option<&Router> {
        self.routers.iter().find(|r| match &r.matcher {
            RouterMatch::Destination(d) => {
                tokens.destination().is_some_and(|got| same_number(got, d))
            }
            RouterMatch::Variable { name, value } => tokens.get(name) == Some(value.as_str()),
        })
    }

    /// Rebuilds the id indices (after building or editing the vectors by hand, as tests and
    /// benchmarks do).
    pub fn reindex(&mut self) {
        self.buyer_index = index(self.buyers.iter().map(|b| &b.id));
        self.group_index = index(self.groups.iter().map(|g| &g.id));
        self.router_index = index(self.routers.iter().map(|r| &r.id));
    }
}

fn index<'a>(ids: impl Iterator<Item = &'a Id>) -> FxHashMap<String, usize> {
    ids.enumerate().map(|(i, id)| (id.to_string(), i)).collect()
}

fn same_number(a: &str, b: &str) -> bool {
    use crate::routing::suppression::normalize;
    match (normalize(a), normalize(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

impl Buyer {
    /// A buyer with defaults everywhere (tier 1, weight 1, bid 0, always open, no caps): a starting
    /// point for tests and benchmarks.
    pub fn basic(id: &str, currency: Currency) -> Buyer {
        Buyer {
            id: Id::new(id),
            name: id.to_string(),
            destination: Destination::Sip {
                uri: format!("sip:{id}@example.invalid"),
                profile: DEFAULT_SIP_PROFILE.into(),
            },
            tz: Tz::UTC,
            tier: 1,
            weight: 1,
            bid: Money::zero(currency),
            ring_timeout_secs: 30,
            paused: false,
            filters: Vec::new(),
            schedule: Schedule::always(),
            caps: CapSpec::default(),
            suppress: Vec::new(),
            conversion: ConversionRule::TalkTime { seconds: 90 },
            payout: None,
            duplicate: None,
            whisper: None,
        }
    }
}

impl Router {
    /// A router over `entries` with a hang-up fallback (tests and benchmarks).
    pub fn basic(id: &str, algorithm: Algorithm, entries: Vec<Entry>) -> Router {
        Router {
            id: Id::new(id),
            matcher: RouterMatch::Destination(String::new()),
            entries,
            algorithm,
            fallback: Fallback::Hangup {
                cause: "NO_ROUTE_DESTINATION".into(),
            },
            max_wait_secs: 90,
            suppress: Vec::new(),
        }
    }
}

/// `[whisper]`: how whisper messages are rendered, and the router-level templates.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperSettings {
    /// The phrase library (holds `manifest.tsv`).
    pub sounds: std::path::PathBuf,
    /// The switch's rate: 8000 or 16000.
    pub rate: u32,
    pub cache_dir: std::path::PathBuf,
    pub cache_max_bytes: u64,
    /// (frequency in Hz, length in ms) of the beep before the message.
    pub beep: Option<(u32, u32)>,
    pub tts_command: Option<String>,
    /// Router index → its template (buyers without their own hear it).
    pub router_templates: std::collections::BTreeMap<usize, String>,
}

impl Default for WhisperSettings {
    fn default() -> WhisperSettings {
        WhisperSettings {
            sounds: crate::whisper::shipped_sounds().to_path_buf(),
            rate: 8000,
            cache_dir: std::env::temp_dir().join("parkway-whispers"),
            cache_max_bytes: 256 << 20,
            beep: Some((1000, 200)),
            tts_command: None,
            router_templates: Default::default(),
        }
    }
}
