//! The phrase library: `sounds/manifest.tsv` maps each phrase to a recorded clip. Clips are read
//! once, brought to the switch's rate and to one loudness, and kept in memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::WhisperError;
use super::audio::{normalise, read_wav, resample};

/// Largest clip accepted (bytes): a phrase is a second or two, not a song.
const MAX_CLIP_BYTES: u64 = 4 * 1024 * 1024;

use crate::files::MAX_MANIFEST_BYTES;

/// Clips by phrase, all 16-bit mono at one rate.
#[derive(Debug, Clone)]
pub struct PhraseLibrary {
    rate: u32,
    clips: HashMap<String, Arc<[i16]>>,
}

impl PhraseLibrary {
    /// Loads every clip the manifest in `dir` names, converted to `rate` Hz.
    pub fn load(dir: &Path, rate: u32) -> Result<PhraseLibrary, WhisperError> {
        let manifest_path = dir.join("manifest.tsv");
        let manifest = crate::files::read_text_limited(&manifest_path, MAX_MANIFEST_BYTES)
            .map_err(|source| WhisperError::Io {
                path: manifest_path.clone(),
                source,
            })?;
        let mut clips = HashMap::new();
        for (n, line) in manifest.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((phrase, file)) = line.split_once('\t') else {
                return Err(WhisperError::Manifest {
                    path: manifest_path,
                    line: n + 1,
                    problem: "expected `phrase<TAB>file`".into(),
                });
            };
            let path = dir.join(file.trim());
            let clip = load_clip(&path, rate)?;
            clips.insert(phrase.trim().to_lowercase(), clip);
        }
        Ok(PhraseLibrary { rate, clips })
    }

    /// An empty library (tests, or a deployment that speaks through text-to-speech only).
    pub fn empty(rate: u32) -> PhraseLibrary {
        PhraseLibrary {
            rate,
            clips: HashMap::new(),
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    pub fn contains(&self, phrase: &str) -> bool {
        self.clips.contains_key(phrase)
    }

    pub fn clip(&self, phrase: &str) -> Option<&Arc<[i16]>> {
        self.clips.get(phrase)
    }

    /// Adds a clip (already at the library's rate).
    pub fn insert(&mut self, phrase: &str, clip: Arc<[i16]>) {
        self.clips.insert(phrase.to_lowercase(), clip);
    }
}

/// Reads one clip file and brings it to the library's format.
pub fn load_clip(path: &Path, rate: u32) -> Result<Arc<[i16]>, WhisperError> {
    let io = |source| WhisperError::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_CLIP_BYTES {
        return Err(WhisperError::ClipTooLarge {
            path: path.to_owned(),
            size,
        });
    }
    // Regular files only: a clip named `/dev/zero` has a size of 0 and no end.
    let bytes = crate::files::read_limited(path, MAX_CLIP_BYTES).map_err(io)?;
    let (samples, from) = read_wav(&bytes).map_err(|e| WhisperError::Clip {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    Ok(normalise(&resample(&samples, from, rate), rate).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sounds() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds")
    }

    #[test]
    fn loads_the_shipped_library_at_both_rates() {
        let narrow = PhraseLibrary::load(&sounds(), 8000).unwrap();
        let wide = PhraseLibrary::load(&sounds(), 16000).unwrap();
        assert!(narrow.len() > 200, "{}", narrow.len());
        for phrase in [
            "sixty", "texas", "new york", "medicare", "letter a", "thousand",
        ] {
            let (n, w) = (narrow.clip(phrase).unwrap(), wide.clip(phrase).unwrap());
            let ratio = w.len() as f64 / n.len() as f64;
            assert!((ratio - 2.0).abs() < 0.01, "{phrase}: {ratio}");
        }
    }

    #[test]
    fn a_broken_manifest_says_where() {
        let dir = std::env::temp_dir().join(format!("parkway-lib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("manifest.tsv"), "# c\nno tab here\n").unwrap();
        let err = PhraseLibrary::load(&dir, 8000).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        std::fs::write(dir.join("manifest.tsv"), "x\tmissing.wav\n").unwrap();
        assert!(matches!(
            PhraseLibrary::load(&dir, 8000),
            Err(WhisperError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A manifest or a clip that is `/dev/zero`, `/dev/urandom` or a FIFO is refused at once,
    /// naming the file, instead of reading forever.
    #[cfg(unix)]
    #[test]
    fn a_manifest_or_clip_that_is_not_a_regular_file_is_refused() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("parkway-lib-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("manifest.tsv");
        for dev in ["/dev/zero", "/dev/urandom"] {
            let _ = std::fs::remove_file(&manifest);
            symlink(dev, &manifest).unwrap();
            let err = PhraseLibrary::load(&dir, 8000).unwrap_err();
            assert!(err.to_string().contains("manifest.tsv"), "{err}");
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let _ = std::fs::remove_file(&manifest);
        std::fs::write(&manifest, "zero\tzero.wav\n").unwrap();
        symlink("/dev/zero", dir.join("zero.wav")).unwrap();
        let err = PhraseLibrary::load(&dir, 8000).unwrap_err();
        assert!(err.to_string().contains("zero.wav"), "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
