//! The reconcile: `show channels as json`, read on every connection (the first too) and when
//! events were lost. Calls and legs that ended unseen are ended; inbound channels parked while
//! the socket was down or before the daemon started (unknown, `application` park) are read with
//! `uuid_getvar` and routed. One runs at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::stats::DaemonStats;
use crate::calls::switchboard::{MissedPark, StrayLeg, Switchboard};
use crate::store::cdr::{self, CdrOutcome};
use parkway_esl::client::Supervisor;
use parkway_esl::command::{ApiCommand, check_uuid};
use parkway_esl::fasthash::FxHashMap;
use std::path::PathBuf;

/// A reconcile's end: `show channels` read (the channels alive, and the ones the switchboard
/// knew when it asked: only those are judged, anything newer was seen live since; and the
/// parked inbound channels it did not know).
pub(super) struct Live {
    pub(super) live: HashSet<String>,
    pub(super) asked: HashSet<String>,
    pub(super) parked: Vec<MissedPark>,
    /// The CDRs FreeSWITCH wrote for channels in `asked` that are gone.
    pub(super) cdrs: FxHashMap<String, CdrOutcome>,
    /// The first reconcile after a start: every CDR written since a little before the store's
    /// last fact, and the outbound channels up that parkway dialled but does not know.
    pub(super) swept: Vec<CdrOutcome>,
    pub(super) strays: Vec<StrayLeg>,
}

/// Starts reconciles, one at a time; each result comes back to the engine on its input queue
/// (as the engine's `Input` made from the reading, so this file needs nothing of the engine).
pub(super) struct Reconciler<I> {
    supervisor: Supervisor,
    inputs: mpsc::Sender<I>,
    tracker: TaskTracker,
    stats: Arc<DaemonStats>,
    /// mod_json_cdr's directory, read for the channels that ended unseen.
    cdr_dir: Option<PathBuf>,
    /// Set until the first reconcile after a start: since when CDRs are swept for calls
    /// whose facts never reached the store.
    sweep: parking_lot::Mutex<Option<chrono::DateTime<Utc>>>,
    /// A reconcile is running; another was asked for meanwhile.
    reconciling: AtomicBool,
    reconcile_again: AtomicBool,
}

impl<I: From<Option<Live>> + Send + 'static> Reconciler<I> {
    pub(super) fn new(
        supervisor: Supervisor,
        inputs: mpsc::Sender<I>,
        tracker: TaskTracker,
        stats: Arc<DaemonStats>,
        cdr_dir: Option<PathBuf>,
        sweep: Option<chrono::DateTime<Utc>>,
    ) -> Reconciler<I> {
        Reconciler {
            supervisor,
            inputs,
            tracker,
            stats,
            cdr_dir,
            sweep: parking_lot::Mutex::new(sweep),
            reconciling: AtomicBool::new(false),
            reconcile_again: AtomicBool::new(false),
        }
    }

    /// Looks at FreeSWITCH's channels (one reconcile at a time: asked for while one runs, it
    /// runs once more after it, so lost events under load never pile `api` calls up on the
    /// switch's listener thread).
    pub(super) fn start(&self, board: &Switchboard) {
        if self.reconciling.swap(true, Ordering::Relaxed) {
            self.reconcile_again.store(true, Ordering::Relaxed);
            return;
        }
        DaemonStats::bump(&self.stats.reconciles_started);
        let asked: HashSet<String> = board.known_channels().into_iter().collect();
        let names = board.park_variables();
        let supervisor = self.supervisor.clone();
        let inputs = self.inputs.clone();
        let cdr_dir = self.cdr_dir.clone();
        let sweep = self.sweep.lock().take();
        self.tracker.spawn(
            async move {
                let mut found = read_channels(&supervisor, asked, &names, sweep.is_some()).await;
                if let (Some(live), Some(dir), Some(since)) = (&mut found, &cdr_dir, sweep) {
                    let dir = dir.clone();
                    let since = std::time::SystemTime::from(since);
                    live.swept = tokio::task::spawn_blocking(move || cdr::read_since(&dir, since))
                        .await
                        .unwrap_or_default();
                    tracing::info!(
                        cdrs = live.swept.len(),
                        strays = live.strays.len(),
                        "read FreeSWITCH's CDRs and channels since before the restart"
                    );
                }
                if let (Some(live), Some(dir)) = (&mut found, cdr_dir) {
                    let gone: Vec<String> = live
                        .asked
                        .iter()
                        .filter(|u| !live.live.contains(*u))
                        .cloned()
                        .collect();
                    live.cdrs = tokio::task::spawn_blocking(move || read_cdrs(&dir, &gone))
                        .await
                        .unwrap_or_default();
                }
                let _ = inputs.send(I::from(found)).await;
            }
            .instrument(tracing::info_span!("reconcile")),
        );
    }

    /// The running reconcile's result was acted on: the next may start, at once if one was
    /// asked for meanwhile.
    pub(super) fn finished(&self, board: &Switchboard) {
        self.reconciling.store(false, Ordering::Relaxed);
        if self.reconcile_again.swap(false, Ordering::Relaxed) {
            self.start(board);
        }
    }
}

/// The CDRs of the channels `gone` that FreeSWITCH has written (an unreadable one is logged
/// and left out: the channel is then ended as if it had none).
fn read_cdrs(dir: &std::path::Path, gone: &[String]) -> FxHashMap<String, CdrOutcome> {
    let mut found = FxHashMap::default();
    for uuid in gone {
        match cdr::read(dir, uuid) {
            Ok(Some(outcome)) => {
                found.insert(uuid.clone(), outcome);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "a CDR could not be read"),
        }
    }
    found
}

/// One reconcile's reading: `show channels as json`, then the variables of the parks that
/// `asked` did not know; `None` when it failed.
async fn read_channels(
    supervisor: &Supervisor,
    asked: HashSet<String>,
    names: &[String],
    find_strays: bool,
) -> Option<Live> {
    match supervisor.api("show channels as json").await {
        Ok(body) => match channel_rows(&body) {
            Some(rows) => {
                let live = live_uuids(&rows);
                let mut parked: Vec<MissedPark> = parked_rows(&rows)
                    .into_iter()
                    .filter(|p| !asked.contains(&p.uuid))
                    .collect();
                if parked.len() > MAX_MISSED_PARKS {
                    tracing::warn!(
                        found = parked.len(),
                        routed = MAX_MISSED_PARKS,
                        "too many parks missed while disconnected; the rest wait out park_timeout"
                    );
                    parked.truncate(MAX_MISSED_PARKS);
                }
                let mut found = Vec::with_capacity(parked.len());
                for mut p in parked {
                    match park_vars(supervisor, &p.uuid, names).await {
                        Some(vars) => {
                            p.vars = vars;
                            found.push(p);
                        }
                        None => {
                            tracing::info!(call.uuid = %p.uuid, "parked channel gone before it was read; not routed")
                        }
                    }
                }
                let mut strays = Vec::new();
                if find_strays {
                    let names =
                        ["parkway_call", "parkway_buyer", "parkway_router"].map(String::from);
                    for uuid in outbound_rows(&rows)
                        .into_iter()
                        .filter(|u| !asked.contains(u))
                        .take(MAX_MISSED_PARKS)
                    {
                        let Some(vars) = park_vars(supervisor, &uuid, &names).await else {
                            continue;
                        };
                        let get =
                            |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                        if let (Some(call), Some(buyer)) =
                            (get("parkway_call"), get("parkway_buyer"))
                        {
                            strays.push(StrayLeg {
                                uuid,
                                call,
                                buyer,
                                router: get("parkway_router"),
                            });
                        }
                    }
                }
                Some(Live {
                    live,
                    asked,
                    parked: found,
                    cdrs: FxHashMap::default(),
                    swept: Vec::new(),
                    strays,
                })
            }
            None => {
                tracing::warn!("unreadable `show channels as json`; not reconciled");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "reconcile failed; retried at the next reconnect");
            None
        }
    }
}

/// The rows of `show channels as json` (`{"row_count":N,"rows":[{"uuid":…},…]}`; with no
/// channel FreeSWITCH answers `{"row_count":0}`); `None` when the body is not that.
pub fn channel_rows(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get_mut("rows") {
        Some(r) => match r.take() {
            serde_json::Value::Array(rows) => Some(rows),
            _ => None,
        },
        None => v.get("row_count").map(|_| Vec::new()),
    }
}

/// The `uuid`s of the outbound channels (buyer legs, parkway's or anyone's).
fn outbound_rows(rows: &[serde_json::Value]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.get("direction").and_then(|d| d.as_str()) == Some("outbound"))
        .filter_map(|r| r.get("uuid").and_then(|u| u.as_str()))
        .filter(|u| check_uuid("uuid", u).is_ok())
        .map(str::to_owned)
        .collect()
}

/// The `uuid`s of the channels.
pub fn live_uuids(rows: &[serde_json::Value]) -> HashSet<String> {
    rows.iter()
        .filter_map(|r| r.get("uuid").and_then(|u| u.as_str()).map(str::to_owned))
        .collect()
}

/// Parks found by one reconcile that are routed (each costs one `uuid_getvar` per park
/// variable on the listener's thread); more wait out their `park_timeout`.
const MAX_MISSED_PARKS: usize = 200;

/// The parked inbound channels among `show channels as json`'s rows: `direction` inbound and
/// `application` park (a parked caller's `state` is CS_EXECUTE and its `callstate` RINGING; the
/// `show_channels` capture). A uuid that could not be put in a command line is left out.
pub fn parked_rows(rows: &[serde_json::Value]) -> Vec<MissedPark> {
    let col = |r: &serde_json::Value, name: &str| {
        r.get(name)
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    rows.iter()
        .filter(|r| col(r, "direction") == "inbound" && col(r, "application") == "park")
        .filter_map(|r| {
            let uuid = col(r, "uuid");
            if check_uuid("uuid", &uuid).is_err() {
                tracing::warn!(uuid, "parked channel with an unusable uuid; not routed");
                return None;
            }
            let created = col(r, "created_epoch")
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .and_then(|s| Utc.timestamp_opt(s, 0).single());
            Some(MissedPark {
                caller_number: col(r, "cid_num"),
                caller_name: col(r, "cid_name"),
                destination: col(r, "dest"),
                created,
                uuid,
                vars: Vec::new(),
            })
        })
        .collect()
}

/// The set variables among `names` of channel `uuid` (`uuid_getvar` answers the bare value,
/// `_undef_` when unset, `-ERR …` when the channel is gone); `None` when the channel is gone or
/// could not be read (it is not routed then: a park half read could match the wrong router).
async fn park_vars(
    supervisor: &Supervisor,
    uuid: &str,
    names: &[String],
) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for name in names {
        let command = match ApiCommand::uuid_getvar(uuid, name) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(call.uuid = uuid, name, error = %e, "variable not readable; not routed");
                return None;
            }
        };
        match supervisor.api(command.as_str()).await {
            Ok(body) => {
                let value = String::from_utf8_lossy(&body);
                let value = value.trim_end_matches('\n');
                if value.starts_with("-ERR") || value.starts_with("-USAGE") {
                    return None;
                }
                if value != "_undef_" {
                    vars.push((name.clone(), value.to_owned()));
                }
            }
            Err(e) => {
                tracing::warn!(call.uuid = uuid, name, error = %e, "uuid_getvar failed; not routed");
                return None;
            }
        }
    }
    Some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_uuids_reads_show_channels() {
        let body = br#"{"row_count":2,"rows":[{"uuid":"a","name":"x"},{"uuid":"b"}]}"#;
        let live = live_uuids(&channel_rows(body).expect("rows"));
        assert!(live.contains("a") && live.contains("b") && live.len() == 2);
        let none = channel_rows(br#"{"row_count":0}"#).expect("no rows");
        assert_eq!(live_uuids(&none).len(), 0);
        assert!(channel_rows(b"-ERR no").is_none());
    }

    #[test]
    fn parked_rows_reads_the_real_columns() {
        // Rows as the show_channels capture has them: a parked caller is CS_EXECUTE / RINGING
        // with application park; its outbound partner and a bridged caller are not parks.
        let body = br#"{"row_count":3,"rows":[
            {"uuid":"p1","direction":"inbound","created_epoch":"1795521464","state":"CS_EXECUTE",
             "cid_name":"Maria Lopez","cid_num":"+13055550120","dest":"18005550199",
             "application":"park","application_data":"","callstate":"RINGING"},
            {"uuid":"o1","direction":"outbound","state":"CS_CONSUME_MEDIA","application":"",
             "callstate":"DOWN"},
            {"uuid":"b1","direction":"inbound","state":"CS_EXECUTE","application":"bridge",
             "callstate":"ACTIVE"},
            {"uuid":"bad uuid","direction":"inbound","application":"park"}]}"#;
        let parked = parked_rows(&channel_rows(body).expect("rows"));
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].uuid, "p1");
        assert_eq!(parked[0].caller_number, "+13055550120");
        assert_eq!(parked[0].destination, "18005550199");
        assert_eq!(
            parked[0].created.map(|c| c.timestamp()),
            Some(1_795_521_464)
        );
        assert!(parked_rows(&channel_rows(br#"{"row_count":0}"#).expect("no rows")).is_empty());
        assert!(channel_rows(b"-ERR no").is_none());
    }
}
