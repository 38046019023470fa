//! The serialisation a connection asks events in.

/// Serialisation asked for by `event` / `myevents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFormat {
    /// `plain`: `text/event-plain`, percent-encoded header blocks.
    Plain,
    /// `json`: `text/event-json`, one JSON object per event.
    Json,
    /// `xml`: `text/event-xml` (not parsed by this crate: it reads as
    /// [`Message::Unknown`](crate::message::Message::Unknown)).
    Xml,
}

impl EventFormat {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Plain => "plain",
            EventFormat::Json => "json",
            EventFormat::Xml => "xml",
        }
    }

    /// Parses `plain` / `json` / `xml` (case-insensitive).
    pub fn parse(word: &str) -> Option<EventFormat> {
        [EventFormat::Plain, EventFormat::Json, EventFormat::Xml]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(word))
    }
}
