//! Validation: raw config → [`Config`], collecting every problem with its position.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Duration;
use chrono_tz::Tz;

use super::error::{ConfigError, Problem, line_col};
use super::model::*;
use super::money::{Currency, Money};
use super::raw::*;
use crate::routing::decision::Id;
use crate::routing::duplicate::DuplicateRule;
use crate::routing::schedule::Schedule;
use crate::routing::suppression::SuppressionList;
use parkway_esl::fasthash::FxHashMap;

/// Reads a suppression list file (the only I/O validation does; injected so tests need no files).
pub type ListReader<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

pub struct Builder<'a> {
    text: &'a str,
    file: PathBuf,
    base: PathBuf,
    read_list: ListReader<'a>,
    pub problems: Vec<Problem>,
    pub(super) currency: Currency,
    lists: HashMap<PathBuf, Option<Arc<SuppressionList>>>,
    /// `[freeswitch] sip_profile`: what `sip =` destinations without a `profile` go through.
    pub(super) sip_profile: String,
    /// `[tokens.*]`, built before the whisper templates are checked against it.
    pub(super) token_types: crate::routing::token_types::TokenTypes,
    /// Whether `sip_profile` is usable (when it is not, it is reported once, not per buyer).
    pub(super) sip_profile_ok: bool,
    /// Per buyer, in order: whether its destination passed its own checks (only those are
    /// checked again as a whole `bridge`).
    pub(super) destination_ok: Vec<bool>,
}

const DEFAULT_RING_TIMEOUT: u32 = 30;
const DEFAULT_MAX_WAIT: u32 = 90;

impl<'a> Builder<'a> {
    pub fn new(text: &'a str, file: &Path, read_list: ListReader<'a>) -> Self {
        Builder {
            text,
            file: file.to_path_buf(),
            base: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            read_list,
            problems: Vec::new(),
            currency: Currency::USD,
            lists: HashMap::new(),
            sip_profile: DEFAULT_SIP_PROFILE.into(),
            sip_profile_ok: true,
            token_types: Default::default(),
            destination_ok: Vec::new(),
        }
    }

    pub fn problem(&mut self, span: Range<usize>, error: ConfigError) {
        let (line, column) = line_col(self.text, span.start);
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            column,
            error,
        });
    }

    /// Resolves a path named in the config relative to the config file's directory.
    pub(super) fn relative(&self, path: &str) -> PathBuf {
        self.base.join(path)
    }

    fn line_of(&self, span: &Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }

    pub fn build(&mut self, raw: RawConfig) -> Option<Config> {
        if let Some(c) = &raw.currency {
            match c.get_ref().parse::<Currency>() {
                Ok(cur) => self.currency = cur,
                Err(e) => self.problem(c.span(), e.into()),
            }
        }
        let timezone = match &raw.timezone {
            Some(tz) => self.tz(tz).unwrap_or(Tz::UTC),
            None => Tz::UTC,
        };
        self.token_types = self.token_types(&raw);
        let whisper = self.whisper(&raw);
        let freeswitch = self.freeswitch(raw.freeswitch.as_ref());
        let store = StoreSettings {
            path: match raw.store.as_ref().and_then(|s| s.path.as_deref()) {
                Some(p) => self.relative(p),
                None => self.file.with_extension("db"),
            },
            record_days: raw
                .store
                .as_ref()
                .and_then(|s| s.record_days.as_ref())
                .and_then(|v| {
                    self.int(v, "[store] record_days", "0..=100000", |x| {
                        (0..=100_000).contains(&x)
                    })
                })
                .map_or(StoreSettings::default().record_days, |x| x as u32),
        };
        let epc = self.epc(raw.epc.as_ref());

        // Ids: buyers and groups share one namespace (plan steps and explain lines name either).
        let mut ids: HashMap<String, (&'static str, usize)> = HashMap::new();
        let mut check_id = |b: &mut Self, id: &S<String>, kind: &'static str| {
            let line = b.line_of(&id.span());
            if let Some((first_kind, first_line)) = ids.get(id.get_ref()) {
                b.problem(
                    id.span(),
                    ConfigError::DuplicateId {
                        id: id.get_ref().clone(),
                        first_kind,
                        first_line: *first_line,
                    },
                );
            } else {
                ids.insert(id.get_ref().clone(), (kind, line));
            }
        };
        for b in &raw.buyer {
            check_id(self, &b.id, "buyer");
        }
        for g in &raw.group {
            check_id(self, &g.id, "group");
        }
        let mut router_ids: HashMap<String, usize> = HashMap::new();
        for r in &raw.router {
            let line = self.line_of(&r.id.span());
            if let Some(first_line) = router_ids.get(r.id.get_ref()) {
                self.problem(
                    r.id.span(),
                    ConfigError::DuplicateId {
                        id: r.id.get_ref().clone(),
                        first_kind: "router",
                        first_line: *first_line,
                    },
                );
            } else {
                router_ids.insert(r.id.get_ref().clone(), line);
            }
        }

        let buyers: Vec<Buyer> = raw.buyer.iter().map(|b| self.buyer(b, timezone)).collect();
        let buyer_index = first_index(buyers.iter().map(|b| &b.id));
        let buyer_ids: Vec<Id> = buyers.iter().map(|b| b.id.clone()).collect();
        let groups: Vec<Group> = raw
            .group
            .iter()
            .map(|g| self.group(g, timezone, &buyer_index))
            .collect();
        let group_index = first_index(groups.iter().map(|g| &g.id));
        let routers: Vec<Router> = raw
            .router
            .iter()
            .map(|r| self.router(r, &buyer_index, &buyer_ids, &group_index, &groups))
            .collect();
        let router_index = first_index(routers.iter().map(|r| &r.id));
        if raw.router.is_empty() {
            self.problem(
                0..0,
                ConfigError::Shape("no [[router]]: parkway would leave every call alone"),
            );
        }
        self.bridgeable(&raw, &buyers, &whisper);

        if !self.problems.is_empty() {
            return None;
        }
        Some(Config {
            currency: self.currency,
            timezone,
            freeswitch,
            store,
            epc,
            buyers,
            groups,
            routers,
            whisper,
            tokens: std::mem::take(&mut self.token_types),
            buyer_index,
            group_index,
            router_index,
        })
    }

    /// `[freeswitch]`, or the stock switch on this host when the section is left out.
    fn freeswitch(&mut self, raw: Option<&RawFreeSwitch>) -> FreeSwitch {
        let Some(f) = raw else {
            return FreeSwitch::local();
        };
        if let Some(profile) = &f.sip_profile {
            self.sip_profile_ok = self.sip_profile(profile.get_ref(), profile.span());
            self.sip_profile = profile.get_ref().clone();
        }
        // The client connects to `address` as host:port and sends `auth <password>`: what it
        // could never use is refused here, not on every reconnect.
        if let Err(why) = host_port(f.address.get_ref()) {
            self.problem(
                f.address.span(),
                ConfigError::FreeSwitch(format!(
                    "address {:?} {why}: write host:port, e.g. \"127.0.0.1:8021\"",
                    f.address.get_ref()
                )),
            );
        }
        if let Err(e) = parkway_esl::command::Command::auth(f.password.get_ref()) {
            let why = if f.password.get_ref().is_empty() {
                "is empty (mod_event_socket's password, ClueCon in a stock FreeSWITCH)".to_owned()
            } else {
                format!("cannot be sent: {e}")
            };
            self.problem(
                f.password.span(),
                ConfigError::FreeSwitch(format!("password {why}")),
            );
        }
        FreeSwitch {
            address: f.address.get_ref().clone(),
            password: f.password.get_ref().clone(),
            sip_profile: self.sip_profile.clone(),
            cdr_dir: f.cdr_dir.as_deref().map(|d| self.relative(d)),
            reconcile_secs: f
                .reconcile_secs
                .as_ref()
                .and_then(|v| {
                    self.int(v, "[freeswitch] reconcile_secs", "0..=86400", |x| {
                        (0..=86_400).contains(&x)
                    })
                })
                .map_or(DEFAULT_RECONCILE_SECS, |x| x as u32),
        }
    }

    pub(super) fn tz(&mut self, s: &S<String>) -> Option<Tz> {
        match s.get_ref().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.problem(s.span(), ConfigError::UnknownTimeZone(s.get_ref().clone()));
                None
            }
        }
    }

    pub(super) fn money(&mut self, m: &S<MoneyText>) -> Option<Money> {
        match Money::parse_non_negative(&m.get_ref().0, self.currency) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(m.span(), e.into());
                None
            }
        }
    }

    pub(super) fn int(
        &mut self,
        v: &S<i64>,
        what: &'static str,
        range: &'static str,
        ok: impl Fn(i64) -> bool,
    ) -> Option<i64> {
        let x = *v.get_ref();
        if ok(x) {
            Some(x)
        } else {
            self.problem(
                v.span(),
                ConfigError::OutOfRange {
                    what,
                    range,
                    value: x,
                },
            );
            None
        }
    }

    pub(super) fn duration(&mut self, s: &S<String>) -> Option<u64> {
        match parse_duration(s.get_ref()) {
            Some(d) => Some(d),
            None => {
                self.problem(s.span(), ConfigError::BadDuration(s.get_ref().clone()));
                None
            }
        }
    }

    fn epc(&mut self, raw: Option<&RawEpc>) -> EpcSettings {
        let mut out = EpcSettings {
            window: Duration::days(7),
            prior: Money::zero(self.currency),
            prior_calls: 10,
        };
        let Some(raw) = raw else { return out };
        if let Some(w) = &raw.window
            && let Some(secs) = self.duration(w)
        {
            out.window = Duration::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
                .unwrap_or(Duration::MAX);
        }
        if let Some(p) = &raw.prior
            && let Some(m) = self.money(p)
        {
            out.prior = m;
        }
        if let Some(k) = &raw.prior_calls
            && let Some(k) = self.int(k, "epc.prior_calls", "0–1000000", |x| {
                (0..=1_000_000).contains(&x)
            })
        {
            out.prior_calls = k as u32;
        }
        out
    }

    fn buyer(&mut self, b: &RawBuyer, default_tz: Tz) -> Buyer {
        let tz = match &b.timezone {
            Some(t) => self.tz(t).unwrap_or(default_tz),
            None => default_tz,
        };
        let before = self.problems.len();
        let destination = self.destination(&b.destination);
        // A bad `[freeswitch] sip_profile` was reported there, once.
        let bad_profile = !self.sip_profile_ok
            && matches!(&destination, Destination::Sip { profile, .. } if *profile == self.sip_profile);
        self.destination_ok
            .push(self.problems.len() == before && !bad_profile);
        let tier = b
            .tier
            .as_ref()
            .and_then(|t| self.int(t, "tier", "0–1000", |x| (0..=1000).contains(&x)))
            .unwrap_or(1) as u32;
        let weight = b
            .weight
            .as_ref()
            .and_then(|w| self.int(w, "weight", "1–1000000", |x| (1..=1_000_000).contains(&x)))
            .unwrap_or(1) as u32;
        let bid = b
            .bid
            .as_ref()
            .and_then(|m| self.money(m))
            .unwrap_or(Money::zero(self.currency));
        let ring_timeout_secs = b
            .ring_timeout
            .as_ref()
            .and_then(|t| {
                self.int(t, "ring_timeout", "1–600 seconds", |x| {
                    (1..=600).contains(&x)
                })
            })
            .map_or(DEFAULT_RING_TIMEOUT, |x| x as u32);
        let filters = b.filters.iter().filter_map(|f| self.filter(f)).collect();
        let schedule = b
            .hours
            .as_ref()
            .map_or(Schedule::always(), |h| self.hours(h));
        let caps = b.caps.as_ref().map(|c| self.caps(c)).unwrap_or_default();
        let suppress = self.lists(&b.suppress);
        let conversion = match &b.conversion {
            Some(c) => self.conversion(c),
            None => ConversionRule::TalkTime { seconds: 90 },
        };
        let payout = b.payout.as_ref().and_then(|p| self.payout(p));
        let duplicate = b.duplicate.as_ref().and_then(|d| {
            self.duration(&d.window).map(|window_secs| DuplicateRule {
                scope: d.scope,
                window_secs,
                action: d.action,
            })
        });
        Buyer {
            id: Id::new(b.id.get_ref()),
            name: b.name.clone().unwrap_or_else(|| b.id.get_ref().clone()),
            destination,
            tz,
            tier,
            weight,
            bid,
            ring_timeout_secs,
            paused: b.paused,
            filters,
            schedule,
            caps,
            suppress,
            conversion,
            payout,
            duplicate,
            whisper: b.whisper.as_ref().map(|w| w.get_ref().clone()),
        }
    }

    fn lists(&mut self, paths: &[S<String>]) -> Vec<Arc<SuppressionList>> {
        let mut out = Vec::new();
        for p in paths {
            let path = self.base.join(p.get_ref());
            if let Some(cached) = self.lists.get(&path) {
                out.extend(cached.clone());
                continue;
            }
            let loaded = match (self.read_list)(&path) {
                Ok(text) => match SuppressionList::parse(p.get_ref(), &text) {
                    Ok(l) => Some(Arc::new(l)),
                    Err(source) => {
                        self.problem(
                            p.span(),
                            ConfigError::Suppression {
                                path: path.clone(),
                                source,
                            },
                        );
                        None
                    }
                },
                Err(e) => {
                    self.problem(
                        p.span(),
                        ConfigError::Read {
                            path: path.clone(),
                            message: e.to_string(),
                        },
                    );
                    None
                }
            };
            out.extend(loaded.clone());
            self.lists.insert(path, loaded);
        }
        out
    }

    fn group(&mut self, g: &RawGroup, default_tz: Tz, buyers: &FxHashMap<String, usize>) -> Group {
        let tz = match &g.timezone {
            Some(t) => self.tz(t).unwrap_or(default_tz),
            None => default_tz,
        };
        let mut members = Vec::new();
        if g.members.is_empty() {
            self.problem(
                g.id.span(),
                ConfigError::Shape("a group needs at least one member"),
            );
        }
        for m in &g.members {
            match buyers.get(m.get_ref()) {
                Some(i) if members.contains(i) => self.problem(
                    m.span(),
                    ConfigError::Shape("a buyer is listed twice in this group"),
                ),
                Some(i) => members.push(*i),
                None => self.problem(
                    m.span(),
                    ConfigError::MissingBuyer {
                        group: g.id.get_ref().clone(),
                        buyer: m.get_ref().clone(),
                    },
                ),
            }
        }
        Group {
            id: Id::new(g.id.get_ref()),
            mode: g.mode,
            members,
            tz,
            caps: g.caps.as_ref().map(|c| self.caps(c)).unwrap_or_default(),
            paused: g.paused,
            route_by: g.route_by,
        }
    }

    fn router(
        &mut self,
        r: &RawRouter,
        buyers: &FxHashMap<String, usize>,
        buyer_ids: &[Id],
        groups_index: &FxHashMap<String, usize>,
        groups: &[Group],
    ) -> Router {
        let rid = r.id.get_ref().clone();
        let m = r.matcher.get_ref();
        let matcher = match (&m.destination, &m.variable, &m.value) {
            (Some(d), None, None) => RouterMatch::Destination(d.clone()),
            (None, Some(name), Some(value)) => RouterMatch::Variable {
                name: name.clone(),
                value: value.clone(),
            },
            _ => {
                self.problem(
                    r.matcher.span(),
                    ConfigError::Shape("match needs either destination, or variable with value"),
                );
                RouterMatch::Destination(String::new())
            }
        };
        let mut entries = Vec::new();
        let mut reached: Vec<usize> = Vec::new();
        let mut reach = |b: &mut Self, i: usize, span: Range<usize>| {
            if reached.contains(&i) {
                b.problem(
                    span,
                    ConfigError::RepeatedBuyer {
                        router: rid.clone(),
                        buyer: buyer_ids
                            .get(i)
                            .map(|id| id.to_string())
                            .unwrap_or_default(),
                    },
                );
            } else {
                reached.push(i);
            }
        };
        for b in &r.buyers {
            match buyers.get(b.get_ref()) {
                Some(&i) => {
                    reach(self, i, b.span());
                    entries.push(Entry::Buyer(i));
                }
                None => self.problem(
                    b.span(),
                    ConfigError::MissingMember {
                        router: rid.clone(),
                        kind: "buyer",
                        id: b.get_ref().clone(),
                    },
                ),
            }
        }
        for g in &r.groups {
            match groups_index.get(g.get_ref()) {
                Some(&gi) => {
                    for &m in &groups[gi].members {
                        reach(self, m, g.span());
                    }
                    entries.push(Entry::Group(gi));
                }
                None => self.problem(
                    g.span(),
                    ConfigError::MissingMember {
                        router: rid.clone(),
                        kind: "group",
                        id: g.get_ref().clone(),
                    },
                ),
            }
        }
        let fallback = match &r.fallback {
            None => Fallback::Hangup {
                cause: "NO_ROUTE_DESTINATION".into(),
            },
            Some(f) => {
                let v = f.get_ref();
                match (&v.hangup, &v.play, &v.transfer) {
                    (Some(cause), None, None) if v.cause.is_none() => Fallback::Hangup {
                        cause: cause.clone(),
                    },
                    (None, Some(file), None) => Fallback::Play {
                        file: file.clone(),
                        cause: v.cause.clone().unwrap_or_else(|| "NORMAL_CLEARING".into()),
                    },
                    (None, None, Some(ext)) if v.cause.is_none() => Fallback::Transfer {
                        extension: ext.clone(),
                    },
                    _ => {
                        self.problem(
                            f.span(),
                            ConfigError::Shape(
                                "fallback needs exactly one of: hangup = CAUSE, play = FILE (with an optional cause), transfer = EXTENSION",
                            ),
                        );
                        Fallback::Hangup {
                            cause: "NO_ROUTE_DESTINATION".into(),
                        }
                    }
                }
            }
        };
        let max_wait_secs = r
            .max_wait
            .as_ref()
            .and_then(|w| {
                self.int(w, "max_wait", "1–3600 seconds", |x| {
                    (1..=3600).contains(&x)
                })
            })
            .map_or(DEFAULT_MAX_WAIT, |x| x as u32);
        Router {
            id: Id::new(&rid),
            matcher,
            entries,
            algorithm: r.algorithm,
            fallback,
            max_wait_secs,
            suppress: self.lists(&r.suppress),
        }
    }
}

fn first_index<'a>(ids: impl Iterator<Item = &'a Id>) -> FxHashMap<String, usize> {
    let mut map = FxHashMap::default();
    for (i, id) in ids.enumerate() {
        map.entry(id.to_string()).or_insert(i);
    }
    map
}

/// The longest window a duration may name: ten years.
pub const MAX_DURATION_SECS: u64 = 3650 * 86_400;

/// `"45s"`, `"15m"`, `"24h"`, `"7d"` → seconds; at least one second, at most
/// [`MAX_DURATION_SECS`].
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    if n == 0 {
        return None;
    }
    n.checked_mul(mult).filter(|d| *d <= MAX_DURATION_SECS)
}

/// Whether `address` is `host:port` as the event socket client connects to it (a name, an IPv4
/// address, or an IPv6 address in brackets; a port 1–65535); the reason when it is not.
pub(super) fn host_port(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("is empty");
    }
    if address.contains("://") {
        return Err("is a URL");
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err("has no port");
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
        return Err("has no numeric port");
    }
    if !matches!(port.parse::<u32>(), Ok(1..=65535)) {
        return Err("has a port outside 1–65535");
    }
    let ok_host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        }
    };
    if ok_host {
        Ok(())
    } else {
        Err("has no usable host")
    }
}
