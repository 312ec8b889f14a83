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
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(SourceError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(SourceError::Io)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(SourceError::TooLarge);
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
}
