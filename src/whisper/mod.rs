//! Whisper messages: what the buyer hears before the caller is bridged, rendered per call from a
//! template as a WAV that FreeSWITCH plays to the buyer's leg.
//!
//! `template` reads the template, `speech` turns it and the call's tokens into phrases,
//! `render` joins the phrase clips of the `library` (and of an optional text-to-speech command)
//! with silences and a beep, and `cache` keeps the rendered files in a bounded directory.

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
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
    #[error("text-to-speech: {0}")]
    Tts(String),
    #[error("template: {0}")]
    Template(#[from] template::TemplateError),
    #[error("unsupported sample rate {0} (FreeSWITCH runs at 8000 or 16000)")]
    Rate(u32),
}

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
    tts_clips: Mutex<HashMap<String, Option<Arc<[i16]>>>>,
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
            cache: cache::WhisperCache::open(&settings.cache_dir, settings.cache_max_bytes)?,
            tts_dir: settings.cache_dir.join(".tts"),
            tts: settings.tts,
            tts_clips: Mutex::new(HashMap::new()),
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
        cache::fnv1a(&parts)
    }

    /// Renders a whisper to WAV bytes (no cache).
    pub fn render(&self, speech: &Speech) -> Result<(Vec<u8>, Vec<String>), WhisperError> {
        let rendered = render::render(speech, &self.library, &|p| self.tts_clip(p), &self.shape);
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
                return Ok(Whisper {
                    path,
                    cached: true,
                    missing: Vec::new(),
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

    fn tts_clip(&self, phrase: &str) -> Option<Arc<[i16]>> {
        let tts = self.tts.as_ref()?;
        if let Some(known) = self.tts_clips.lock().get(phrase) {
            return known.clone();
        }
        let clip = match tts.speak(phrase, &self.tts_dir, self.library.rate()) {
            Ok(clip) => Some(clip),
            Err(e) => {
                tracing::warn!(phrase, error = %e, "text-to-speech failed; phrase left out");
                None
            }
        };
        self.tts_clips
            .lock()
            .insert(phrase.to_owned(), clip.clone());
        clip
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

impl Settings {
    /// The rendering settings a validated config names.
    pub fn from_config(w: &crate::config::WhisperSettings) -> Result<Settings, WhisperError> {
        Ok(Settings {
            sounds_dir: w.sounds.clone(),
            rate: w.rate,
            cache_dir: w.cache_dir.clone(),
            cache_max_bytes: w.cache_max_bytes,
            shape: Shape {
                beep: w.beep.map(|(hz, ms)| Beep {
                    freq_hz: hz as f64,
                    ms,
                    gap_ms: 250,
                }),
                ..Shape::default()
            },
            tts: w
                .tts_command
                .as_deref()
                .map(TtsCommand::parse)
                .transpose()?,
        })
    }
}

/// What `parkway check` says about a config's whispers: for each template (named by its owner,
/// `buyer <id>` or `router <id>`), the words with no clip. Empty when a text-to-speech command is
/// configured (it speaks them). Fails when the phrase library cannot be loaded.
pub fn unspoken_words(
    config: &crate::config::Config,
) -> Result<Vec<(String, Vec<String>)>, WhisperError> {
    let library = PhraseLibrary::load(&config.whisper.sounds, config.whisper.rate)?;
    if config.whisper.tts_command.is_some() {
        return Ok(Vec::new());
    }
    let buyers = config
        .buyers
        .iter()
        .filter_map(|b| Some((format!("buyer {}", b.id), b.whisper.as_deref()?)));
    let routers =
        config.whisper.router_templates.iter().filter_map(|(i, t)| {
            Some((format!("router {}", config.routers.get(*i)?.id), t.as_str()))
        });
    let mut out = Vec::new();
    for (owner, text) in buyers.chain(routers) {
        let missing = missing_words(&library, &Template::parse(text)?);
        if !missing.is_empty() {
            out.push((owner, missing));
        }
    }
    Ok(out)
}

/// The phrase library shipped in the repository's `sounds/` directory.
pub fn shipped_sounds() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))
}
