//! Rendered whispers on disk, named by a hash of what they say and how, in a directory the switch
//! can read. Files are written atomically (temporary file, then rename), so FreeSWITCH never plays
//! half a file, and the directory is kept under a size bound by dropping the least recently used.
//!
//! A whisper handed to FreeSWITCH is played only when the buyer answers, up to a ring timeout
//! later, so nothing used within `min_age` is removed: when every file is that young the directory
//! stays over its bound for a while (and says so in the log) rather than pull a file from under a
//! ringing call.
//!
//! File names come only from the hash, never from token values, so nothing a caller sends can
//! name a path outside the directory.

#![allow(
    clippy::disallowed_methods,
    reason = "cached files are aged by their modification time"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::WhisperError;

const PREFIX: &str = "whisper-";
const SUFFIX: &str = ".wav";

#[derive(Debug)]
struct Entry {
    size: u64,
    /// Logical clock of the last use (orders the LRU).
    last_used: u64,
    /// When it was last used (protects young files).
    used_at: Instant,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<u64, Entry>,
    total: u64,
    clock: u64,
}

/// A bounded directory of rendered whispers.
#[derive(Debug)]
pub struct WhisperCache {
    dir: PathBuf,
    max_bytes: u64,
    min_age: Duration,
    index: Mutex<Index>,
    temp_counter: AtomicU64,
}

impl WhisperCache {
    /// Opens (creating it if needed) the cache directory and indexes the whispers already there,
    /// oldest first. Files used within `min_age` are never evicted.
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        min_age: Duration,
    ) -> Result<WhisperCache, WhisperError> {
        let io = |source| WhisperError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(parse_name) else {
                continue;
            };
            let meta = entry.metadata().map_err(io)?;
            found.push((meta.modified().ok(), key, meta.len()));
        }
        found.sort();
        let mut index = Index::default();
        // Files from before this process are as old as can be: no call of ours is playing them.
        let long_ago = Instant::now()
            .checked_sub(min_age)
            .unwrap_or_else(Instant::now);
        for (_, key, size) in found {
            index.clock += 1;
            index.total += size;
            let entry = Entry {
                size,
                last_used: index.clock,
                used_at: long_ago,
            };
            index.entries.insert(key, entry);
        }
        let cache = WhisperCache {
            dir: dir.to_owned(),
            max_bytes,
            min_age,
            index: Mutex::new(index),
            temp_counter: AtomicU64::new(0),
        };
        cache.evict(None)?;
        Ok(cache)
    }

    pub fn path_of(&self, key: u64) -> PathBuf {
        self.dir.join(format!("{PREFIX}{key:016x}{SUFFIX}"))
    }

    /// The path of a cached whisper, if it is there (and marks it used).
    pub fn get(&self, key: u64) -> Option<PathBuf> {
        let mut index = self.index.lock();
        index.clock += 1;
        let now = index.clock;
        let entry = index.entries.get_mut(&key)?;
        entry.last_used = now;
        entry.used_at = Instant::now();
        Some(self.path_of(key))
    }

    /// Stores a rendered whisper atomically and returns its path; evicts old ones past the bound.
    pub fn put(&self, key: u64, wav: &[u8]) -> Result<PathBuf, WhisperError> {
        let path = self.path_of(key);
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(
            ".{PREFIX}{key:016x}.{}.{n}.tmp",
            std::process::id()
        ));
        let io = |source| WhisperError::Io {
            path: path.clone(),
            source,
        };
        std::fs::write(&temp, wav).map_err(io)?;
        if let Err(source) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(io(source));
        }
        {
            let mut index = self.index.lock();
            index.clock += 1;
            let last_used = index.clock;
            let size = wav.len() as u64;
            let entry = Entry {
                size,
                last_used,
                used_at: Instant::now(),
            };
            if let Some(old) = index.entries.insert(key, entry) {
                index.total -= old.size;
            }
            index.total += size;
        }
        self.evict(Some(key))?;
        Ok(path)
    }

    /// Bytes held now.
    pub fn total_bytes(&self) -> u64 {
        self.index.lock().total
    }

    /// Drops least recently used whispers until the directory is within its bound, never `keep`
    /// (the one just written) and never one used within `min_age`.
    fn evict(&self, keep: Option<u64>) -> Result<(), WhisperError> {
        loop {
            let victim = {
                let mut index = self.index.lock();
                if index.total <= self.max_bytes {
                    return Ok(());
                }
                let victim = index
                    .entries
                    .iter()
                    .filter(|(k, e)| Some(**k) != keep && e.used_at.elapsed() >= self.min_age)
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| *k);
                let Some(victim) = victim else {
                    tracing::warn!(
                        total = index.total,
                        bound = self.max_bytes,
                        "whisper cache over its bound: every file is in use"
                    );
                    return Ok(());
                };
                if let Some(e) = index.entries.remove(&victim) {
                    index.total -= e.size;
                }
                victim
            };
            let path = self.path_of(victim);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(WhisperError::Io { path, source }),
            }
        }
    }
}

fn parse_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("parkway-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn put_get_and_reopen() {
        let dir = temp_dir("reopen");
        let cache = WhisperCache::open(&dir, 1 << 20, Duration::ZERO).unwrap();
        assert_eq!(cache.get(7), None);
        let path = cache.put(7, b"RIFF....").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"RIFF....");
        assert_eq!(cache.get(7), Some(path.clone()));
        let again = WhisperCache::open(&dir, 1 << 20, Duration::ZERO).unwrap();
        assert_eq!(again.get(7), Some(path));
        assert_eq!(again.total_bytes(), 8);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stays_within_its_bound_dropping_the_least_recently_used() {
        let dir = temp_dir("bound");
        let cache = WhisperCache::open(&dir, 250, Duration::ZERO).unwrap();
        cache.put(1, &[0; 100]).unwrap();
        cache.put(2, &[0; 100]).unwrap();
        cache.get(1);
        cache.put(3, &[0; 100]).unwrap();
        assert!(cache.total_bytes() <= 250);
        assert!(cache.get(1).is_some());
        assert!(cache.get(2).is_none());
        assert!(!cache.path_of(2).exists());
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn young_files_and_the_one_just_written_are_never_evicted() {
        let dir = temp_dir("young");
        let cache = WhisperCache::open(&dir, 150, Duration::from_secs(3600)).unwrap();
        let a = cache.put(1, &[0; 100]).unwrap();
        let b = cache.put(2, &[0; 100]).unwrap();
        assert!(
            a.exists() && b.exists(),
            "a ringing call's whisper was removed"
        );
        assert_eq!(cache.total_bytes(), 200);
        let big = WhisperCache::open(&temp_dir("big"), 10, Duration::ZERO).unwrap();
        let path = big.put(3, &[0; 100]).unwrap();
        assert!(path.exists(), "put returned the path of a file it removed");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(temp_dir("big")).ok();
    }
}
