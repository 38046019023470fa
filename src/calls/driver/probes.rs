//! Benchmark and demo hooks on the product path, all off by default (`parkway run` never turns
//! them on); gathered here so the engine reads without them:
//!
//! - park→dial latency sampling, [`DaemonOptions::measure_dial_latency`], read with
//!   [`Daemon::dial_latencies`]: used by `benches/calls_load.rs`;
//! - inline whisper rendering, [`DaemonOptions::render_inline`]: used by `src/demo` (its
//!   same-seed runs must dial calls in the order their events came).
//!
//! The engine calls [`Probes::event_read`] for every event it reads, [`Probes::command_queued`]
//! for every command queued on the connection and [`Probes::render_inline`] before a render.

#![allow(
    clippy::disallowed_methods,
    reason = "park-to-dial latency is measured on the real clock"
)]

use std::sync::Arc;
use std::time::Instant;

use super::render::render_all;
use super::{Daemon, DaemonOptions};
use crate::calls::app::App;
use crate::calls::call::{RenderedWhisper, WhisperRequest};
use crate::calls::switch_event::SwitchEvent;
use crate::routing::Tokens;
use crate::whisper::Whisperer;
use parkway_esl::event::Event;
use parkway_esl::fasthash::FxHashMap;

/// Park-to-dial samples in microseconds (bounded: past the limit new samples are dropped).
#[derive(Debug, Default)]
pub(super) struct Latencies {
    parks: parking_lot::Mutex<FxHashMap<String, Instant>>,
    samples: parking_lot::Mutex<Vec<u32>>,
}

const MAX_LATENCY_SAMPLES: usize = 4_000_000;
const MAX_PENDING_PARKS: usize = 200_000;

/// The hooks the options turned on.
pub(super) struct Probes {
    latencies: Option<Arc<Latencies>>,
    render_inline: bool,
}

impl Probes {
    pub(super) fn new(options: &DaemonOptions) -> Probes {
        Probes {
            latencies: options
                .measure_dial_latency
                .then(|| Arc::new(Latencies::default())),
            render_inline: options.render_inline,
        }
    }

    /// The latency samples, shared with the [`Daemon`] that reads them.
    pub(super) fn latencies(&self) -> Option<Arc<Latencies>> {
        self.latencies.clone()
    }

    /// An event was read (at `received`): remembers when a park was read, to time its first
    /// bridge.
    pub(super) fn event_read(&self, ev: &Event, received: Instant) {
        let Some(l) = &self.latencies else { return };
        if SwitchEvent::of(ev) != Some(SwitchEvent::ChannelPark) {
            return;
        }
        if let Some(uuid) = ev.unique_id() {
            let mut parks = l.parks.lock();
            if parks.len() >= MAX_PENDING_PARKS {
                parks.clear();
            }
            parks.insert(uuid.into_owned(), received);
        }
    }

    /// `app` is queued on the connection for `call`: a call's first `bridge` ends its
    /// park-to-dial time, when measured.
    pub(super) fn command_queued(&self, call: &str, app: App) {
        if app == App::Bridge {
            self.dialled(call);
        }
    }

    /// A call's first `bridge` is queued: its park-to-dial time, when measured.
    fn dialled(&self, call: &str) {
        let Some(l) = &self.latencies else { return };
        let Some(parked) = l.parks.lock().remove(call) else {
            return;
        };
        let us = u32::try_from(parked.elapsed().as_micros()).unwrap_or(u32::MAX);
        let mut samples = l.samples.lock();
        if samples.len() < MAX_LATENCY_SAMPLES {
            samples.push(us);
        }
    }

    /// With [`DaemonOptions::render_inline`]: the whispers rendered on the engine's own task,
    /// handed straight back; `None` otherwise (they render on the blocking pool).
    pub(super) fn render_inline(
        &self,
        whisperer: &Whisperer,
        requests: &[WhisperRequest],
        tokens: &Tokens,
    ) -> Option<Vec<RenderedWhisper>> {
        self.render_inline
            .then(|| render_all(whisperer, requests, tokens))
    }
}

impl Daemon {
    /// Park-to-dial times in microseconds, when [`DaemonOptions::measure_dial_latency`] is on.
    pub fn dial_latencies(&self) -> Vec<u32> {
        self.latencies
            .as_ref()
            .map(|l| l.samples.lock().clone())
            .unwrap_or_default()
    }
}
