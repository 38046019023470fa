//! Reading the files an operator names (the config, suppression lists, the phrase library's
//! manifest and clips): only regular files, and only up to a size limit, so a path that points at
//! a FIFO, a socket, `/dev/zero` or `/dev/urandom` is refused at once instead of hanging
//! `parkway check` or reading until memory runs out.
//!
//! The path's metadata is checked before opening it (opening a FIFO for reading blocks until a
//! writer comes), and the opened file's metadata again, in case the path was swapped in between.
//! The read itself stops one byte past the limit, so a file that grows meanwhile cannot take
//! more.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// The config file: a few MiB is far beyond any real config.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// One suppression list (a do-not-call list can hold millions of numbers).
pub const MAX_LIST_BYTES: u64 = 256 << 20;
/// The phrase library's manifest (a line per phrase).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The bytes of the regular file at `path`, if it holds at most `limit` bytes. Errors say what
/// is wrong (not a regular file and what it is instead, or its size against the limit); the
/// caller names the file.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    check(&std::fs::metadata(path)?, limit)?;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    check(&meta, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_text_limited(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_limited(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn check(meta: &Metadata, limit: u64) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind(meta)),
        ));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len(), limit));
    }
    Ok(())
}

fn too_large(size: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{size} bytes or more, over the limit of {limit} bytes"),
    )
}

/// What a file that is not a regular file is.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("parkway-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.txt");
        std::fs::write(&small, "0123456789").unwrap();
        assert_eq!(read_text_limited(&small, 10).unwrap(), "0123456789");
        let err = read_limited(&small, 9).unwrap_err();
        assert!(err.to_string().contains("over the limit of 9"), "{err}");
        let err = read_limited(&dir, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
        #[cfg(unix)]
        for dev in ["/dev/zero", "/dev/urandom"] {
            let err = read_limited(Path::new(dev), 1 << 20).unwrap_err();
            assert!(err.to_string().contains("character device"), "{dev}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
