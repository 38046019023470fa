//! The config file as written: serde structs with spans, before validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`). Values that need checking beyond their type
//! keep their span (`Spanned`) so [`super::build`] can point at them; everything else is typed
//! directly and wrong types are reported by the TOML parser with their position.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::routing::caps::Pacing;
use crate::routing::decision::{Algorithm, GroupMode};
use crate::routing::duplicate::{DuplicateAction, DuplicateScope};

pub type S<T> = Spanned<T>;

/// A money amount as written: a decimal *string*. Floats and integers are refused with a message
/// saying so, because a float cannot hold cents exactly.
#[derive(Debug, Clone)]
pub struct MoneyText(pub String);

impl<'de> Deserialize<'de> for MoneyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MoneyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"12.50\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MoneyText, E> {
                Ok(MoneyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MoneyText, E> {
                Err(E::custom(format!(
                    "money must be a quoted decimal string such as \"{v:.2}\", not a float"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MoneyText, E> {
                Err(E::custom(format!(
                    "money must be a quoted decimal string such as \"{v}.00\", not a number"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub currency: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub freeswitch: Option<RawFreeSwitch>,
    pub epc: Option<RawEpc>,
    #[serde(default)]
    pub buyer: Vec<RawBuyer>,
    #[serde(default)]
    pub group: Vec<RawGroup>,
    #[serde(default)]
    pub router: Vec<RawRouter>,
    pub whisper: Option<RawWhisper>,
    pub store: Option<RawStore>,
    /// `[tokens.<name>]`: what a channel variable holds.
    #[serde(default)]
    pub tokens: std::collections::BTreeMap<String, S<RawTokenType>>,
}

/// `[tokens.<name>]`: `type` is `number` (`min`, `max`), `digits` (`length`, or `min_len` and
/// `max_len`), `one_of` (`values`) or `text` (`max_len`, `speak`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenType {
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub length: Option<S<i64>>,
    pub min_len: Option<S<i64>>,
    pub max_len: Option<S<i64>>,
    pub values: Option<Vec<String>>,
    /// `text` only: whether the whisper may speak it (never, by default).
    pub speak: Option<bool>,
}

/// `[whisper]`: how whisper messages are rendered (see `src/whisper`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhisper {
    /// The phrase library directory (holds `manifest.tsv`), relative to the config file.
    pub sounds: Option<String>,
    /// The switch's sample rate: 8000 or 16000.
    pub rate: Option<S<i64>>,
    /// Where rendered whispers are written (FreeSWITCH must be able to read it).
    pub cache_dir: Option<String>,
    pub cache_max_mb: Option<S<i64>>,
    /// Beep before the message, in Hz (0: no beep).
    pub beep_hz: Option<S<i64>>,
    pub beep_ms: Option<S<i64>>,
    /// `program args… {out} {text}` for words the phrase library has no clip for.
    pub tts_command: Option<S<String>>,
    /// Channel variables the dialplan sets that templates may name, besides the built-in tokens
    /// and the variables routers and filters already name.
    #[serde(default)]
    pub tokens: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeSwitch {
    pub address: S<String>,
    pub password: S<String>,
    /// The Sofia profile for `sip =` buyers without their own (`external` by default).
    pub sip_profile: Option<S<String>>,
    /// Where mod_json_cdr writes its CDR files (read for calls that ended unseen), relative to
    /// the config file.
    pub cdr_dir: Option<String>,
    /// Seconds between two reconciles with FreeSWITCH's channels (0: only after a reconnect).
    pub reconcile_secs: Option<S<i64>>,
}

/// `[store]`: where counters and call records are kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// The SQLite file, relative to the config file (default: the config's name with `.db`).
    pub path: Option<String>,
    /// Days call records are kept (0: for ever).
    pub record_days: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEpc {
    pub window: Option<S<String>>,
    pub prior: Option<S<MoneyText>>,
    pub prior_calls: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuyer {
    pub id: S<String>,
    pub name: Option<String>,
    pub destination: S<RawDestination>,
    pub timezone: Option<S<String>>,
    pub tier: Option<S<i64>>,
    pub weight: Option<S<i64>>,
    pub bid: Option<S<MoneyText>>,
    pub ring_timeout: Option<S<i64>>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub filters: Vec<S<RawFilter>>,
    pub hours: Option<RawHours>,
    pub caps: Option<RawCaps>,
    #[serde(default)]
    pub suppress: Vec<S<String>>,
    pub conversion: Option<S<RawConversion>>,
    pub payout: Option<RawPayout>,
    pub duplicate: Option<RawDuplicate>,
    pub whisper: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    pub sip: Option<String>,
    /// With `sip`: the Sofia profile to dial it through (default `[freeswitch] sip_profile`).
    pub profile: Option<String>,
    pub number: Option<String>,
    pub gateway: Option<String>,
    pub dial_string: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    pub token: S<String>,
    pub op: S<String>,
    pub value: Option<S<toml::Value>>,
}

/// Open hours: ranges `[start, end]` of local hours (end exclusive), for every day and/or per day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    pub all: Option<Vec<S<Vec<S<i64>>>>>,
    pub mon: Option<Vec<S<Vec<S<i64>>>>>,
    pub tue: Option<Vec<S<Vec<S<i64>>>>>,
    pub wed: Option<Vec<S<Vec<S<i64>>>>>,
    pub thu: Option<Vec<S<Vec<S<i64>>>>>,
    pub fri: Option<Vec<S<Vec<S<i64>>>>>,
    pub sat: Option<Vec<S<Vec<S<i64>>>>>,
    pub sun: Option<Vec<S<Vec<S<i64>>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub attempts: Option<S<i64>>,
    pub connections: Option<S<i64>>,
    pub conversions: Option<S<i64>>,
    pub revenue: Option<S<MoneyText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlot {
    pub hours: S<Vec<S<i64>>>,
    pub hourly: Option<RawLimits>,
    pub concurrency: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaps {
    pub concurrency: Option<S<i64>>,
    pub pacing: Option<Pacing>,
    pub hourly: Option<RawLimits>,
    pub daily: Option<RawLimits>,
    pub weekly: Option<RawLimits>,
    pub monthly: Option<RawLimits>,
    pub total: Option<RawLimits>,
    #[serde(default)]
    pub slot: Vec<RawSlot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConversion {
    pub talk_seconds: Option<S<i64>>,
    pub digit: Option<S<String>>,
    /// `any` or `all`, required when both a talk time and a digit are given.
    pub when: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayout {
    pub per: S<String>,
    pub amount: S<MoneyText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDuplicate {
    pub scope: DuplicateScope,
    pub window: S<String>,
    pub action: DuplicateAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub id: S<String>,
    pub members: Vec<S<String>>,
    pub mode: GroupMode,
    pub timezone: Option<S<String>>,
    pub caps: Option<RawCaps>,
    #[serde(default)]
    pub paused: bool,
    pub route_by: Option<Algorithm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub destination: Option<String>,
    pub variable: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    pub hangup: Option<String>,
    pub play: Option<String>,
    pub cause: Option<String>,
    pub transfer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouter {
    pub id: S<String>,
    #[serde(rename = "match")]
    pub matcher: S<RawMatch>,
    #[serde(default)]
    pub buyers: Vec<S<String>>,
    #[serde(default)]
    pub groups: Vec<S<String>>,
    pub algorithm: Algorithm,
    pub fallback: Option<S<RawFallback>>,
    pub max_wait: Option<S<i64>>,
    #[serde(default)]
    pub suppress: Vec<S<String>>,
    /// The whisper template for this router's buyers that have none of their own.
    pub whisper: Option<S<String>>,
}
