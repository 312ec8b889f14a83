//! Reading a persona or config file: bounded, so a stray huge file is
//! refused before it fills the memory.

use std::path::Path;

/// The largest persona or config file Troupe reads, in bytes (1 MiB, some
/// four hundred times the largest shipped persona): a bigger one is
/// refused before it is read, so a stray file cannot fill the memory.
pub const MAX_SOURCE_BYTES: u64 = 1024 * 1024;

/// Reads a persona or config file as UTF-8 text, refusing one over
/// [`MAX_SOURCE_BYTES`] after reading no more than that.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    read_bounded(path, MAX_SOURCE_BYTES).map_err(|e| match e {
        SourceError::LoreTooLarge => SourceError::TooLarge,
        other => other,
    })
}

/// The largest lore file (`ID.lore.toml`) Troupe reads, in bytes (16
/// MiB): a book of thousands of entries is a few MiB, and lore is kept
/// out of the persona file so that the persona file's own limit stays.
pub const MAX_LORE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a lore file as UTF-8 text, refusing one over [`MAX_LORE_BYTES`].
pub fn read_lore_source(path: &Path) -> Result<String, SourceError> {
    read_bounded(path, MAX_LORE_BYTES)
}

/// Reads UTF-8 text, refusing more than `max` bytes after reading no more.
fn read_bounded(path: &Path, max: u64) -> Result<String, SourceError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(SourceError::Io)?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(SourceError::Io)?;
    if bytes.len() as u64 > max {
        return Err(SourceError::LoreTooLarge);
    }
    String::from_utf8(bytes).map_err(|_| SourceError::NotUtf8)
}

/// Why a source file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening or reading failed.
    #[error("{0}")]
    Io(std::io::Error),
    /// The file is over [`MAX_SOURCE_BYTES`].
    #[error(
        "it is larger than 1 MiB, which no persona or config file needs; check that it is the file you meant"
    )]
    TooLarge,
    /// The file is not UTF-8 text.
    #[error("it is not UTF-8 text; save it as UTF-8")]
    NotUtf8,
    /// The lore file is over [`MAX_LORE_BYTES`].
    #[error("it is larger than 16 MiB, which no lorebook needs; split the lore or remove entries")]
    LoreTooLarge,
}
