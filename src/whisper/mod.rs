//! Whisper messages: what the buyer hears before the caller is bridged, rendered per call from a
//! template as a WAV that FreeSWITCH plays to the buyer's leg.
//!
//! `template` reads the template, `speech` turns it and the call's tokens into phrases,
//! `render` joins the phrase clips of the `library` (and of an optional text-to-speech command)
//! with silences and a beep, and `cache` keeps the rendered files in a bounded directory.

#![allow(
    clippy::disallowed_methods,
    reason = "a failed text-to-speech word is retried after a pause"
)]

pub mod audio;
pub mod cache;
pub mod library;
pub mod numbers;
pub mod render;
pub mod speech;
pub mod template;
pub mod tts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use library::PhraseLibrary;
pub use render::{Beep, Shape};
pub use speech::Speech;
pub use template::Template;
pub use tts::TtsCommand;

/// What can go wrong making a whisper.
#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {problem}")]
    Manifest {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("{path}: {problem}")]
    Clip { path: PathBuf, problem: String },
    #[error("{path}: clip of {size} bytes is too large")]
    ClipTooLarge { path: PathBuf, size: u64 },
    #[error("clip longer than {limit_secs} s")]
    ClipTooLong { limit_secs: u32 },
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
    #[error("text-to-speech: {0}")]
    Tts(String),
    #[error("template: {0}")]
    Template(#[from] template::TemplateError),
    #[error("unsupported sample rate {0} Hz")]
    Rate(u32),
}

/// Most time text-to-speech may add to rendering one whisper; words still unspoken then are left
/// out, so a slow or hanging command delays a call by at most this.
pub const TTS_BUDGET: Duration = Duration::from_secs(2);
/// Words text-to-speech has spoken, kept in memory (token values are open-ended).
pub const MAX_TTS_WORDS: usize = 10_000;
/// How long a word text-to-speech failed on is not tried again.
pub const TTS_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long a rendered whisper is protected from eviction: longer than a buyer rings plus the
/// whisper plays.
pub const DEFAULT_CACHE_MIN_AGE: Duration = Duration::from_secs(300);

/// How whispers are made on this switch.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The phrase library (holds `manifest.tsv`).
    pub sounds_dir: PathBuf,
    /// The switch's rate: 8000 or 16000.
    pub rate: u32,
    /// Where rendered whispers go (FreeSWITCH must be able to read it).
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    /// Whispers used more recently than this are never evicted (they may be about to play).
    pub cache_min_age: Duration,
    pub shape: Shape,
    pub tts: Option<TtsCommand>,
}

/// A whisper ready to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whisper {
    pub path: PathBuf,
    /// Whether it was already rendered.
    pub cached: bool,
    /// Phrases that had no clip and were left out.
    pub missing: Vec<String>,
}

/// Renders whispers: the phrase library in memory, text-to-speech for the rest, a cache on disk.
#[derive(Debug)]
pub struct Whisperer {
    library: PhraseLibrary,
    shape: Shape,
    cache: cache::WhisperCache,
    tts: Option<TtsCommand>,
    /// Words spoken by text-to-speech so far (bounded by [`MAX_TTS_WORDS`]).
    tts_clips: Mutex<HashMap<String, Arc<[i16]>>>,
    /// Words text-to-speech failed on, and when: not retried for [`TTS_RETRY_AFTER`].
    tts_failed: Mutex<HashMap<String, Instant>>,
    tts_dir: PathBuf,
}

impl Whisperer {
    pub fn new(settings: Settings) -> Result<Whisperer, WhisperError> {
        if settings.rate != 8000 && settings.rate != 16000 {
            return Err(WhisperError::Rate(settings.rate));
        }
        Ok(Whisperer {
            library: PhraseLibrary::load(&settings.sounds_dir, settings.rate)?,
            shape: settings.shape,
            cache: cache::WhisperCache::open(
                &settings.cache_dir,
                settings.cache_max_bytes,
                settings.cache_min_age,
            )?,
            tts_dir: settings.cache_dir.join(".tts"),
            tts: settings.tts,
            tts_clips: Mutex::new(HashMap::new()),
            tts_failed: Mutex::new(HashMap::new()),
        })
    }

    pub fn library(&self) -> &PhraseLibrary {
        &self.library
    }

    /// The phrases a template speaks with these tokens.
    pub fn speak(&self, template: &Template, tokens: &dyn Fn(&str) -> Option<String>) -> Speech {
        speech::speak(template, tokens, &|p| self.library.contains(p))
    }

    /// The cache key of a whisper: what it says, at what rate, in what shape.
    pub fn key(&self, speech: &Speech) -> u64 {
        let rate = self.library.rate().to_le_bytes();
        let shape = self.shape.key();
        let mut parts: Vec<&[u8]> = vec![&rate, shape.as_bytes()];
        for sentence in &speech.sentences {
            parts.push(b"\x1e");
            parts.extend(sentence.iter().map(|p| p.as_bytes()));
        }
        parkway_esl::fasthash::digest(&parts)
    }

    /// Renders a whisper to WAV bytes (no cache).
    pub fn render(&self, speech: &Speech) -> Result<(Vec<u8>, Vec<String>), WhisperError> {
        let deadline = Instant::now() + TTS_BUDGET;
        let rendered = render::render(
            speech,
            &self.library,
            &|p| self.tts_clip(p, deadline),
            &self.shape,
        );
        let wav = audio::wav_bytes(&rendered.samples, self.library.rate())?;
        Ok((wav, rendered.missing))
    }

    /// The whisper for this template and these tokens, from the cache or rendered into it.
    pub fn whisper(
        &self,
        template: &Template,
        tokens: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Whisper, WhisperError> {
        let speech = self.speak(template, tokens);
        let key = self.key(&speech);
        if let Some(path) = self.cache.get(key) {
            if path.exists() {
                let spoken = self.tts_clips.lock();
                let missing = speech
                    .phrases()
                    .filter(|p| !self.library.contains(p) && !spoken.contains_key(*p))
                    .map(str::to_owned)
                    .collect();
                return Ok(Whisper {
                    path,
                    cached: true,
                    missing,
                });
            }
        }
        let (wav, missing) = self.render(&speech)?;
        let path = self.cache.put(key, &wav)?;
        Ok(Whisper {
            path,
            cached: false,
            missing,
        })
    }

    /// A clip for a word the library lacks, from text-to-speech while this whisper's budget
    /// lasts. Successes are kept (up to [`MAX_TTS_WORDS`], then the memo starts over); a failure
    /// is not retried for [`TTS_RETRY_AFTER`].
    fn tts_clip(&self, phrase: &str, deadline: Instant) -> Option<Arc<[i16]>> {
        let tts = self.tts.as_ref()?;
        if let Some(clip) = self.tts_clips.lock().get(phrase) {
            return Some(clip.clone());
        }
        let failed_at = self.tts_failed.lock().get(phrase).copied();
        if failed_at.is_some_and(|at| at.elapsed() < TTS_RETRY_AFTER) {
            return None;
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tts.speak(phrase, &self.tts_dir, self.library.rate(), left) {
            Ok(clip) => {
                let mut clips = self.tts_clips.lock();
                if clips.len() >= MAX_TTS_WORDS {
                    clips.clear();
                }
                clips.insert(phrase.to_owned(), clip.clone());
                Some(clip)
            }
            Err(e) => {
                tracing::warn!(phrase, error = %e, "text-to-speech failed; phrase left out");
                let mut failed = self.tts_failed.lock();
                if failed.len() >= MAX_TTS_WORDS {
                    failed.clear();
                }
                failed.insert(phrase.to_owned(), Instant::now());
                None
            }
        }
    }
}

/// Words of a template's fixed text (and defaults) that have no clip in `library`: `parkway
/// check` lists them when no text-to-speech command is configured. (Token values are only known
/// at call time; their missing words are reported by [`Whisper::missing`].)
pub fn missing_words(library: &PhraseLibrary, template: &Template) -> Vec<String> {
    let fixed = Template {
        sentences: vec![
            template
                .fixed_texts()
                .map(|t| template::Part::Text(t.to_owned()))
                .collect(),
        ],
    };
    let speech = speech::speak(&fixed, &|_| None, &|p| library.contains(p));
    let mut missing: Vec<String> = speech
        .phrases()
        .filter(|p| !library.contains(p))
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// The phrase library shipped in the repository's `sounds/` directory.
pub fn shipped_sounds() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))
}
