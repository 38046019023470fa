//! Whisper rendering: one WAV per buyer, from the buyer's (or router's) template and the
//! call's tokens. Run by the engine on the blocking pool (or inline, see `probes`).

use std::path::Path;

use crate::calls::call::{RenderedWhisper, WhisperRequest};
use crate::routing::Tokens;
use crate::whisper::{Template, Whisperer};

/// Every requested whisper, in request order.
pub(super) fn render_all(
    w: &Whisperer,
    requests: &[WhisperRequest],
    tokens: &Tokens,
) -> Vec<RenderedWhisper> {
    requests.iter().map(|r| render_one(w, r, tokens)).collect()
}

/// One whisper; a failure leaves the buyer without one (logged), never the call.
fn render_one(w: &Whisperer, r: &WhisperRequest, tokens: &Tokens) -> RenderedWhisper {
    let none = RenderedWhisper {
        buyer: r.buyer,
        path: None,
        secs: 0,
    };
    let template = match Template::parse(&r.template) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "whisper template unreadable; no whisper");
            return none;
        }
    };
    match w.whisper(&template, &|k| tokens.get(k).map(str::to_owned)) {
        Ok(whisper) => RenderedWhisper {
            buyer: r.buyer,
            secs: wav_secs(&whisper.path, w.library().rate()),
            path: Some(whisper.path),
        },
        Err(e) => {
            tracing::warn!(error = %e, "whisper not rendered; the buyer hears none");
            none
        }
    }
}

/// A 16-bit mono WAV's length in whole seconds, rounded up.
fn wav_secs(path: &Path, rate: u32) -> u32 {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let samples = bytes.saturating_sub(44) / 2;
    u32::try_from(samples.div_ceil(u64::from(rate.max(1)))).unwrap_or(u32::MAX)
}
