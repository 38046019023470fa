//! Outbound mode: FreeSWITCH connects to us, once per call, from the dialplan application
//! `socket host:port async full`.
//!
//! There is no auth: the client's first command is `connect`, whose `command/reply` carries the
//! channel's data in its (percent-encoded) headers. After that the socket is an ordinary
//! connection and is driven by the same actor and handle as an inbound one ([`EslClient`]):
//! `myevents`, `linger`, `sendmsg` execute (`EslClient::execute(None, ..)`), `api`, `exit`.
//!
//! When the channel hangs up FreeSWITCH sends `text/disconnect-notice`:
//! - `Content-Disposition: linger` (after `linger`): the channel is gone, its last events are still
//!   coming, the socket stays open (`Linger-Time: -1`: until we send `exit`). The stream yields
//!   `ClientEvent::Notice` with `linger: true` and `EslClient::state()` turns `Lingering`.
//! - `Content-Disposition: disconnect`: final; the stream yields the notice, the connection ends
//!   with `CloseReason::Notice`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tracing::Instrument;

use crate::client::{
    ClientOptions, EslClient, EslError, EventStream, Stamped, handshake_message, spawn_connection,
};
use crate::codec::EslCodec;
use crate::command::Command;
use crate::event::Event;
use crate::message::Message;

/// The channel's data from the `connect` reply, read with the same accessors as an [`Event`]
/// (`Event-Name` is `CHANNEL_DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelData {
    event: Event,
}

impl ChannelData {
    /// The reply's headers as an [`Event`], for every other accessor.
    pub fn as_event(&self) -> &Event {
        &self.event
    }

    /// The channel's `Unique-ID` (empty if FreeSWITCH left it out).
    pub fn unique_id(&self) -> Cow<'_, str> {
        self.event.unique_id().unwrap_or_default()
    }

    /// `Channel-Name` (`sofia/…`, `loopback/…`).
    pub fn channel_name(&self) -> Option<Cow<'_, str>> {
        self.event.channel_name()
    }

    /// `Caller-Caller-ID-Number`: the caller's number.
    pub fn caller_id_number(&self) -> Option<Cow<'_, str>> {
        self.event.caller_id_number()
    }

    /// `Caller-Caller-ID-Name`: the caller's display name.
    pub fn caller_id_name(&self) -> Option<Cow<'_, str>> {
        self.event.caller_id_name()
    }

    /// `Caller-Destination-Number`: the number dialled.
    pub fn destination_number(&self) -> Option<Cow<'_, str>> {
        self.event.destination_number()
    }

    /// Any header, decoded (`None` when missing or empty).
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.event.header(name)
    }

    /// A channel variable (`variable_<name>`).
    pub fn variable(&self, name: &str) -> Option<Cow<'_, str>> {
        self.event.variable(name)
    }

    /// Every channel variable, keyed without the `variable_` prefix.
    pub fn variables(&self) -> BTreeMap<String, String> {
        self.event.variables()
    }
}

/// One call's socket, after `connect`.
#[derive(Debug)]
pub struct OutboundSession {
    /// The handle to this call's connection (`execute(None, ..)` acts on the call's channel).
    pub client: EslClient,
    /// The connection's events and notices (FreeSWITCH sends no event until `myevents` or
    /// `event` subscribes).
    pub events: EventStream,
    /// The channel's data from the `connect` reply.
    pub channel: ChannelData,
}

/// Listens for FreeSWITCH's outbound connections.
#[derive(Debug)]
pub struct OutboundListener {
    listener: TcpListener,
    options: ClientOptions,
    /// Sessions handed out so far: with a `uuid_seed`, session `n` draws its ids from stream `n`
    /// of the seed, so two sessions never repeat an Event-UUID.
    sessions: std::sync::atomic::AtomicU64,
}

impl OutboundListener {
    /// Binds `addr`. Each accepted session gets its own event queue of `options.event_capacity`,
    /// its connection task on `options.tracker`, and a child of `options.cancel`.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        options: ClientOptions,
    ) -> Result<OutboundListener, EslError> {
        let listener = TcpListener::bind(addr).await?;
        Ok(OutboundListener {
            listener,
            options,
            sessions: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The address the listener is bound to (the port to put in the dialplan's `socket`).
    pub fn local_addr(&self) -> Result<SocketAddr, EslError> {
        Ok(self.listener.local_addr()?)
    }

    /// Waits for the next connection and runs `connect` on it. An error concerns that one
    /// connection only (a switch that hung up during `connect`); the listener goes on.
    ///
    /// The handshake runs inside `accept` (FreeSWITCH answers `connect` at once; a peer that
    /// does not is cut off after `connect_timeout`). To take many calls at once, use
    /// [`accept_stream`](OutboundListener::accept_stream) and run
    /// [`OutboundSession::start`] in a task per connection.
    pub async fn accept(&self) -> Result<OutboundSession, EslError> {
        let stream = self.accept_stream().await?;
        OutboundSession::start(stream, &self.session_options()).await
    }

    /// The options for the next session: the listener's, with that session's own id stream when
    /// `uuid_seed` is set. Pass them to [`OutboundSession::start`] after
    /// [`accept_stream`](OutboundListener::accept_stream).
    pub fn session_options(&self) -> ClientOptions {
        let n = self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ClientOptions {
            uuid_seed: self
                .options
                .uuid_seed
                .map(|seed| crate::splitmix::stream_seed(seed, n)),
            ..self.options.clone()
        }
    }

    /// The next TCP connection, before `connect`.
    pub async fn accept_stream(&self) -> Result<TcpStream, EslError> {
        Ok(self.listener.accept().await?.0)
    }

    /// The options the listener was bound with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }
}

impl OutboundSession {
    /// Sends `connect` on a socket FreeSWITCH opened, reads the channel data and starts the
    /// connection task (no auth in outbound mode). Bounded by `options.connect_timeout`.
    pub async fn start(
        stream: TcpStream,
        options: &ClientOptions,
    ) -> Result<OutboundSession, EslError> {
        let peer = stream.peer_addr()?;
        let span = tracing::info_span!("esl_outbound", %peer, call.uuid = tracing::field::Empty);
        let start = start(stream, peer, options).instrument(span);
        tokio::time::timeout(options.connect_timeout, start)
            .await
            .map_err(|_| EslError::Timeout { stage: "connect" })?
    }
}

async fn start(
    stream: TcpStream,
    peer: SocketAddr,
    options: &ClientOptions,
) -> Result<OutboundSession, EslError> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut frames = FramedRead::new(Stamped::new(read), EslCodec::new());
    write.write_all(&Command::connect().to_bytes()).await?;
    let reply = match handshake_message(&mut frames).await? {
        Message::CommandReply(reply) if reply.is_ok() => reply,
        Message::CommandReply(reply) => {
            return Err(EslError::CommandFailed {
                reply: reply.text(),
            });
        }
        other => {
            return Err(EslError::Handshake {
                expected: "command/reply to connect",
                got: other.kind(),
            });
        }
    };
    let channel = ChannelData {
        event: Event::new(reply.headers, None),
    };
    tracing::Span::current().record("call.uuid", channel.unique_id().as_ref());
    tracing::info!("outbound session connected");
    let (events_tx, events_rx) = mpsc::channel(options.event_capacity.max(1));
    let client = spawn_connection(peer, frames, write, options, events_tx);
    Ok(OutboundSession {
        client,
        events: EventStream::new(events_rx),
        channel,
    })
}
