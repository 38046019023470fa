//! FreeSWITCH's own account of a channel: the JSON CDR mod_json_cdr writes when the channel is
//! destroyed (`captures/json_cdr/`). Read for calls and legs that ended while parkway was down
//! or disconnected, so their outcome is FreeSWITCH's (talk time from `bridge_uepoch` to
//! `end_uepoch`, hangup causes, the digits the leg received) and never the time parkway noticed.
//!
//! Files are named `a_<uuid>.cdr.json` for a call's A leg and `<uuid>.cdr.json` otherwise
//! (mod_json_cdr's `log-b-leg` names); values in `variables` are URL-encoded.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

/// The largest CDR file read (a CDR is a few KiB; a bigger file is not one).
pub const MAX_CDR_BYTES: u64 = 4 << 20;

/// What a channel's CDR says about its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrOutcome {
    pub uuid: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub bridged_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hangup_cause: Option<String>,
    /// The channel it was last bridged to.
    pub bridge_uuid: Option<String>,
    /// DTMF the channel received (`digits_dialed`; `none` read as empty).
    pub digits: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The caller profile's number and destination.
    pub caller_number: Option<String>,
    pub destination: Option<String>,
    /// Every channel variable, decoded (parkway's own `parkway_call`, `parkway_buyer` and
    /// `parkway_router` on its buyer legs; the routing tokens on a caller).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl CdrOutcome {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The CDRs in `dir` written at or after `since` (file modification time), unreadable ones
/// logged and left out: what FreeSWITCH finished while parkway may not have been looking.
pub fn read_since(dir: &Path, since: std::time::SystemTime) -> Vec<CdrOutcome> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "the CDR directory cannot be read");
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(uuid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".cdr.json"))
            .map(|n| n.strip_prefix("a_").unwrap_or(n))
        else {
            continue;
        };
        let recent = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !recent {
            continue;
        }
        match read(dir, uuid) {
            Ok(Some(cdr)) => found.push(cdr),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "a CDR could not be read"),
        }
    }
    found
}

/// A CDR could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    #[error("{0}: not a channel uuid")]
    BadUuid(String),
    #[error("{path}: {why}")]
    Unreadable { path: String, why: String },
}

/// A uuid as FreeSWITCH makes them (hex digits and dashes): anything else could name a file
/// outside the directory.
fn plausible_uuid(uuid: &str) -> bool {
    !uuid.is_empty() && uuid.len() <= 64 && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Reads the CDR of channel `uuid` from `dir`: `Ok(None)` when there is none (yet).
pub fn read(dir: &Path, uuid: &str) -> Result<Option<CdrOutcome>, CdrError> {
    if !plausible_uuid(uuid) {
        return Err(CdrError::BadUuid(uuid.to_owned()));
    }
    for name in [format!("a_{uuid}.cdr.json"), format!("{uuid}.cdr.json")] {
        let path = dir.join(&name);
        let unreadable = |why: String| CdrError::Unreadable {
            path: path.display().to_string(),
            why,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(unreadable(e.to_string())),
        };
        if !meta.is_file() {
            return Err(unreadable("not a regular file".into()));
        }
        if meta.len() > MAX_CDR_BYTES {
            return Err(unreadable(format!("larger than {MAX_CDR_BYTES} bytes")));
        }
        let mut text = String::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_CDR_BYTES).read_to_string(&mut text))
            .map_err(|e| unreadable(e.to_string()))?;
        return parse(&text).map(Some).map_err(unreadable);
    }
    Ok(None)
}

/// Reads a CDR document.
pub fn parse(text: &str) -> Result<CdrOutcome, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let vars = doc
        .get("variables")
        .and_then(|v| v.as_object())
        .ok_or("no `variables` object")?;
    let var = |name: &str| -> Option<String> {
        let v = vars.get(name)?;
        let raw = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some(percent_decode(&raw))
    };
    let epoch = |name: &str| -> Option<DateTime<Utc>> {
        let us: i64 = var(name)?.parse().ok()?;
        (us > 0)
            .then(|| Utc.timestamp_micros(us).single())
            .flatten()
    };
    let uuid = var("uuid").ok_or("no `uuid` variable")?;
    let digits = var("digits_dialed").unwrap_or_default();
    let profile = doc
        .pointer("/callflow/0/caller_profile")
        .or_else(|| doc.pointer("/callflow/caller_profile"));
    let profile_field = |name: &str| {
        profile
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(percent_decode)
    };
    let all = vars
        .iter()
        .map(|(k, v)| {
            let raw = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), percent_decode(&raw))
        })
        .collect();
    Ok(CdrOutcome {
        direction: var("direction").unwrap_or_default(),
        caller_number: profile_field("caller_id_number"),
        destination: profile_field("destination_number"),
        vars: all,
        uuid,
        answered_at: epoch("answer_uepoch"),
        bridged_at: epoch("bridge_uepoch"),
        ended_at: epoch("end_uepoch"),
        hangup_cause: var("hangup_cause").filter(|c| !c.is_empty()),
        bridge_uuid: var("bridge_uuid").filter(|u| !u.is_empty()),
        digits: if digits == "none" {
            String::new()
        } else {
            digits
        },
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures/json_cdr")
            .join(name);
        std::fs::read_to_string(path).expect("capture")
    }

    #[test]
    fn reads_the_captured_legs() {
        let leg = parse(&capture("2073a403-7f1b-4f0e-a65b-c27f13630d40.cdr.json")).unwrap();
        assert_eq!(leg.uuid, "2073a403-7f1b-4f0e-a65b-c27f13630d40");
        assert_eq!(leg.digits, "1");
        assert_eq!(leg.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
        let talk = leg.ended_at.unwrap() - leg.bridged_at.unwrap();
        assert_eq!(talk.num_seconds(), 5, "billsec says 5");
        let caller = parse(&capture("a_44405c6c-4a87-499c-8d43-55c530c0583b.cdr.json")).unwrap();
        assert_eq!(caller.digits, "", "`none` is no digits");
        assert_eq!(
            caller.bridge_uuid.as_deref(),
            Some("2073a403-7f1b-4f0e-a65b-c27f13630d40")
        );
    }

    #[test]
    fn finds_files_by_both_names_and_refuses_what_is_not_a_cdr() {
        let dir = std::env::temp_dir().join(format!("parkway-cdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = "44405c6c-4a87-499c-8d43-55c530c0583b";
        std::fs::write(
            dir.join(format!("a_{a}.cdr.json")),
            capture(&format!("a_{a}.cdr.json")),
        )
        .unwrap();
        assert_eq!(read(&dir, a).unwrap().unwrap().uuid, a);
        assert!(read(&dir, "0000").unwrap().is_none(), "no file yet");
        assert!(matches!(
            read(&dir, "../etc/passwd"),
            Err(CdrError::BadUuid(_))
        ));
        std::fs::create_dir_all(dir.join("abcd.cdr.json")).unwrap();
        assert!(matches!(
            read(&dir, "abcd"),
            Err(CdrError::Unreadable { .. })
        ));
        std::fs::write(dir.join("beef.cdr.json"), "{").unwrap();
        assert!(matches!(
            read(&dir, "beef"),
            Err(CdrError::Unreadable { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
