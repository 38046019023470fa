//! FreeSWITCH events: the plain form (the body of a `text/event-plain` frame, itself a header
//! block, optionally followed by its own body) and the json form (`text/event-json`, one JSON
//! object whose `_body` key holds the body) parse to the same [`Event`].
//!
//! Accessors read headers by their exact names, as FreeSWITCH sends them. An empty value
//! (`_undef_` on the wire) reads as absent from the typed accessors.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;

use super::codec::find_blank_line;
use super::headers::{HeaderError, Headers};

/// Why an event body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// A plain event's header block has a malformed line.
    #[error("event headers: {0}")]
    Headers(#[from] HeaderError),
    /// A plain event's own `Content-Length` announces more bytes than follow its blank line.
    #[error("event announces a {announced}-byte body but carries {actual}")]
    ShortBody {
        /// The event's own `Content-Length`.
        announced: usize,
        /// Bytes after the event's blank line.
        actual: usize,
    },
    /// A plain event's own `Content-Length` is not a byte count (the value as sent).
    #[error("event Content-Length {0:?} is not a byte count")]
    BadContentLength(String),
    /// A `text/event-json` body is not a flat JSON object.
    #[error(transparent)]
    Json(#[from] super::json::JsonError),
    /// The event has no `Event-Name` header (every FreeSWITCH event has one).
    #[error("event has no Event-Name")]
    NoName,
}

/// `Call-Direction` of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `inbound`: the channel came into FreeSWITCH (a caller; the B side of a loopback leg).
    Inbound,
    /// `outbound`: FreeSWITCH created the channel (`originate`, a `bridge` leg).
    Outbound,
}

/// The result of a background job (`BACKGROUND_JOB` body): `+OK <text>` or `-ERR <cause>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// `+OK <text>`: the text after `+OK` (the new leg's uuid for `originate`). A body with
    /// no marker (`uuid_getvar`'s bare value) is `Ok` whole.
    Ok(String),
    /// `-ERR <cause>` (`USER_BUSY`, `NO_ANSWER`, …): the text after `-ERR`. Another `-` marker
    /// (`-USAGE: …`) keeps the text after the `-`.
    Err(String),
}

impl JobResult {
    /// Reads a job or api body: `+OK …` is success, `-ERR …` (or `-USAGE …`) failure; the text
    /// after the marker is trimmed of its trailing newline.
    pub fn parse(body: &str) -> JobResult {
        let body = body.trim_end_matches(['\n', '\r']);
        if let Some(rest) = body.strip_prefix("+OK") {
            JobResult::Ok(rest.trim_start().to_owned())
        } else if let Some(rest) = body.strip_prefix("-ERR") {
            JobResult::Err(rest.trim_start().to_owned())
        } else if let Some(rest) = body.strip_prefix('-') {
            JobResult::Err(rest.to_owned())
        } else {
            JobResult::Ok(body.to_owned())
        }
    }
}

/// One event from FreeSWITCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    headers: Headers,
    body: Option<Bytes>,
}

impl Event {
    /// An event from its headers and optional body, as they are (no `Event-Name` check).
    pub fn new(headers: Headers, body: Option<Bytes>) -> Event {
        Event { headers, body }
    }

    /// Parses the body of a `text/event-plain` frame without copying it.
    pub fn parse_plain(frame_body: Bytes) -> Result<Event, EventError> {
        let (head_len, body_start) = match find_blank_line(&frame_body, 0) {
            Some((at, term)) => (at, at + term),
            None => (frame_body.len(), frame_body.len()),
        };
        let headers = Headers::parse(frame_body.slice(..head_len), true)?;
        let body = match headers.get_raw("Content-Length") {
            None => None,
            Some(raw) => {
                let announced: usize = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| {
                        EventError::BadContentLength(String::from_utf8_lossy(raw).into_owned())
                    })?;
                let actual = frame_body.len() - body_start;
                if actual < announced {
                    return Err(EventError::ShortBody { announced, actual });
                }
                Some(frame_body.slice(body_start..body_start + announced))
            }
        };
        let event = Event { headers, body };
        event.require_name()
    }

    /// Parses the body of a `text/event-json` frame. Arrays become FreeSWITCH's `ARRAY::a|:b`
    /// string, so both forms read alike; `_body` becomes the event's body.
    pub fn parse_json(frame_body: &Bytes) -> Result<Event, EventError> {
        let (headers, body) = super::json::parse_event(frame_body)?;
        Event { headers, body }.require_name()
    }

    fn require_name(self) -> Result<Event, EventError> {
        if self.headers.get("Event-Name").is_none() {
            return Err(EventError::NoName);
        }
        Ok(self)
    }

    /// Every header of the event in the order FreeSWITCH sent them.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The event's own body (a BACKGROUND_JOB's result, for one), if it has one.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// The body as text (lossy for non-UTF-8 bytes).
    pub fn body_text(&self) -> Option<Cow<'_, str>> {
        self.body.as_deref().map(String::from_utf8_lossy)
    }

    /// The decoded value of a header, `None` when missing or empty.
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.headers.get(name).filter(|v| !v.is_empty())
    }

    /// `Event-Name` (`CHANNEL_PARK`, `BACKGROUND_JOB`, `CUSTOM`, …); never empty for an event
    /// that was parsed.
    pub fn name(&self) -> Cow<'_, str> {
        self.header("Event-Name").unwrap_or(Cow::Borrowed(""))
    }

    /// `Event-Subclass`: the name of a `CUSTOM` event (`sofia::register`, say).
    pub fn subclass(&self) -> Option<Cow<'_, str>> {
        self.header("Event-Subclass")
    }

    /// `Unique-ID`: the uuid of the channel the event is about.
    pub fn unique_id(&self) -> Option<Cow<'_, str>> {
        self.header("Unique-ID")
    }

    /// `Other-Leg-Unique-ID`: the uuid of the channel's partner leg, when it has one.
    pub fn other_leg_unique_id(&self) -> Option<Cow<'_, str>> {
        self.header("Other-Leg-Unique-ID")
    }

    /// `Call-Direction` (`inbound` / `outbound`); `None` when absent or another word.
    pub fn call_direction(&self) -> Option<Direction> {
        match self.header("Call-Direction")?.as_ref() {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }

    /// A channel variable (`variable_<name>`), `None` when unset or empty.
    pub fn variable(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut key = String::with_capacity(9 + name.len());
        key.push_str("variable_");
        key.push_str(name);
        self.header(&key).map(|v| Cow::Owned(v.into_owned()))
    }

    /// Every channel variable, keyed without the `variable_` prefix.
    pub fn variables(&self) -> BTreeMap<String, String> {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                name.strip_prefix("variable_")
                    .map(|n| (n.to_owned(), value.into_owned()))
            })
            .collect()
    }

    /// `Caller-Caller-ID-Number`: the caller's number (`+13055550123`).
    pub fn caller_id_number(&self) -> Option<Cow<'_, str>> {
        self.header("Caller-Caller-ID-Number")
    }

    /// `Caller-Caller-ID-Name`: the caller's display name.
    pub fn caller_id_name(&self) -> Option<Cow<'_, str>> {
        self.header("Caller-Caller-ID-Name")
    }

    /// `Caller-Destination-Number`: the number dialled (the DID, for a parked caller).
    pub fn destination_number(&self) -> Option<Cow<'_, str>> {
        self.header("Caller-Destination-Number")
    }

    /// `Channel-Name` (`sofia/parkway/…`, `loopback/18005550199-b`).
    pub fn channel_name(&self) -> Option<Cow<'_, str>> {
        self.header("Channel-Name")
    }

    /// `Answer-State`: `ringing`, `early`, `answered` or `hangup`.
    pub fn answer_state(&self) -> Option<Cow<'_, str>> {
        self.header("Answer-State")
    }

    /// `DTMF-Digit` of a DTMF event (`0`–`9`, `*`, `#`, `A`–`D`).
    pub fn dtmf_digit(&self) -> Option<Cow<'_, str>> {
        self.header("DTMF-Digit")
    }

    /// `DTMF-Source` of a DTMF event: `RTP` for a digit that came in as RFC 2833 RTP (also
    /// where a loopback leg relays it), `UNKNOWN` for one made inside FreeSWITCH (`send_dtmf`
    /// on a loopback leg, `uuid_send_dtmf`).
    pub fn dtmf_source(&self) -> Option<Cow<'_, str>> {
        self.header("DTMF-Source")
    }

    /// `Hangup-Cause` (`NORMAL_CLEARING`, `USER_BUSY`, `ORIGINATOR_CANCEL`, …), on
    /// CHANNEL_HANGUP and CHANNEL_HANGUP_COMPLETE.
    pub fn hangup_cause(&self) -> Option<Cow<'_, str>> {
        self.header("Hangup-Cause")
    }

    /// `Bridge-A-Unique-ID` of CHANNEL_BRIDGE / CHANNEL_UNBRIDGE: the A leg, the channel that
    /// ran `bridge` or the first uuid of `uuid_bridge` (the event's own `Unique-ID` in the
    /// captures).
    pub fn bridge_a_unique_id(&self) -> Option<Cow<'_, str>> {
        self.header("Bridge-A-Unique-ID")
    }

    /// `Bridge-B-Unique-ID` of CHANNEL_BRIDGE / CHANNEL_UNBRIDGE: the leg it was bridged to.
    pub fn bridge_b_unique_id(&self) -> Option<Cow<'_, str>> {
        self.header("Bridge-B-Unique-ID")
    }

    /// `Job-UUID` of a BACKGROUND_JOB event: the id the `bgapi` command carried.
    pub fn job_uuid(&self) -> Option<Cow<'_, str>> {
        self.header("Job-UUID")
    }

    /// The result of a BACKGROUND_JOB event, read from its body.
    pub fn job_result(&self) -> Option<JobResult> {
        self.body_text().map(|b| JobResult::parse(&b))
    }

    /// `Application` of CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE: the dialplan application
    /// (`park`, `bridge`, `playback`, …).
    pub fn application(&self) -> Option<Cow<'_, str>> {
        self.header("Application")
    }

    /// `Application-UUID` of CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE: the `Event-UUID` the
    /// `sendmsg` that started the application carried.
    pub fn application_uuid(&self) -> Option<Cow<'_, str>> {
        self.header("Application-UUID")
    }

    /// `Application-Response` of CHANNEL_EXECUTE_COMPLETE (`FILE PLAYED`, `_none_`, …).
    pub fn application_response(&self) -> Option<Cow<'_, str>> {
        self.header("Application-Response")
    }

    /// FreeSWITCH's global event counter (not monotonic in delivery order).
    pub fn sequence(&self) -> Option<u64> {
        self.header("Event-Sequence")?.parse().ok()
    }
}

#[cfg(feature = "server")]
mod encode;

/// A BACKGROUND_JOB as FreeSWITCH writes it: headers, and the job's result as an inner body.
#[cfg(test)]
const BG_JOB: &[u8] = b"Event-Name: BACKGROUND_JOB\nCore-UUID: f8\nJob-UUID: 7a92\nJob-Command: originate\nJob-Command-Arg: %7Borigination_uuid%3De21f%7D\nContent-Length: 41\n\n+OK e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_background_job_with_inner_body() {
        let e = Event::parse_plain(Bytes::from_static(BG_JOB)).expect("test input");
        assert_eq!(e.name(), "BACKGROUND_JOB");
        assert_eq!(e.job_uuid().as_deref(), Some("7a92"));
        assert_eq!(
            e.header("Job-Command-Arg").as_deref(),
            Some("{origination_uuid=e21f}")
        );
        assert_eq!(
            e.job_result(),
            Some(JobResult::Ok("e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c".into()))
        );
    }

    #[test]
    fn json_matches_plain() {
        let json = br#"{"Event-Name":"BACKGROUND_JOB","Core-UUID":"f8","Job-UUID":"7a92","Job-Command":"originate","Job-Command-Arg":"{origination_uuid=e21f}","Content-Length":"41","_body":"+OK e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c\n"}"#;
        let j = Event::parse_json(&Bytes::from_static(json)).expect("test input");
        let p = Event::parse_plain(Bytes::from_static(BG_JOB)).expect("test input");
        let jh: Vec<_> = j
            .headers()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        let ph: Vec<_> = p
            .headers()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        assert_eq!(jh, ph);
        assert_eq!(j.body(), p.body());
    }

    #[test]
    fn json_arrays_read_like_plain_arrays() {
        let j = Event::parse_json(&Bytes::from_static(
            br#"{"Event-Name":"X","variable_DP_MATCH":["1","2"]}"#,
        ))
        .expect("test input");
        assert_eq!(
            j.headers()
                .get_array("variable_DP_MATCH")
                .expect("test input"),
            ["1", "2"]
        );
        assert_eq!(j.variables()["DP_MATCH"], "ARRAY::1|:2");
    }

    #[test]
    fn typed_accessors_and_undef() {
        let e = Event::parse_plain(Bytes::from_static(
            b"Event-Name: DTMF\nUnique-ID: u1\nCall-Direction: outbound\nDTMF-Digit: 1\nDTMF-Source: RTP\nOther-Leg-Unique-ID: _undef_\nvariable_sip_h_X-Campaign: solar\nEvent-Sequence: 42\n\n",
        ))
        .expect("test input");
        assert_eq!(e.dtmf_digit().as_deref(), Some("1"));
        assert_eq!(e.dtmf_source().as_deref(), Some("RTP"));
        assert_eq!(e.call_direction(), Some(Direction::Outbound));
        assert_eq!(e.other_leg_unique_id(), None);
        assert_eq!(e.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
        assert_eq!(e.sequence(), Some(42));
    }

    #[test]
    fn short_inner_body_and_missing_name_are_errors() {
        let short = Event::parse_plain(Bytes::from_static(
            b"Event-Name: BACKGROUND_JOB\nContent-Length: 10\n\n+OK",
        ));
        assert!(matches!(
            short,
            Err(EventError::ShortBody {
                announced: 10,
                actual: 3
            })
        ));
        assert!(matches!(
            Event::parse_plain(Bytes::from_static(b"Foo: bar\n\n")),
            Err(EventError::NoName)
        ));
        assert!(Event::parse_json(&Bytes::from_static(b"[1,2]")).is_err());
    }

    #[test]
    fn the_first_blank_line_ends_the_head_whatever_its_line_ends() {
        assert_eq!(find_blank_line(b"A: 1\nB: 2\n\nbody\n\n", 0), Some((10, 1)));
        assert_eq!(
            find_blank_line(b"A: 1\r\nB: 2\r\n\r\nx\n\n", 0),
            Some((12, 2))
        );
        assert_eq!(find_blank_line(b"A: 1\n\nB\n\r\n", 0), Some((5, 1)));
        assert_eq!(find_blank_line(b"A: 1\n\r\nB\n\n", 0), Some((5, 2)));
        assert_eq!(find_blank_line(b"A: 1\nB: 2\n", 0), None);
        assert_eq!(find_blank_line(b"\n", 0), None);
        assert_eq!(find_blank_line(b"\n\n", 0), Some((1, 1)));
        // The framer resumes where it stopped; offsets still count from the start.
        assert_eq!(find_blank_line(b"\n\nA\n\n", 1), Some((4, 1)));
        assert_eq!(find_blank_line(b"A\n\r\nB\n\n", 2), Some((6, 1)));
        assert_eq!(find_blank_line(b"A\n", 5), None);
    }

    #[test]
    fn job_result_forms() {
        assert_eq!(
            JobResult::parse("-ERR USER_BUSY\n"),
            JobResult::Err("USER_BUSY".into())
        );
        assert_eq!(JobResult::parse("+OK\n"), JobResult::Ok(String::new()));
        assert_eq!(
            JobResult::parse("-USAGE: x"),
            JobResult::Err("USAGE: x".into())
        );
        assert_eq!(JobResult::parse("solar"), JobResult::Ok("solar".into()));
    }
}
