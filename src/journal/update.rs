//! What a caller asks the journal to do: [`Update`]s, their content [`Source`]s, and the checks
//! that turn them into entry records before anything is written.

use super::JournalError;
use crate::format::{try_temp_path, Content, Digest, IncrementRecord, UpdateRecord};
use crate::fs::{read_chunks, FileKind, Fs, FsError, FsErrorKind};
use crate::path::RelPath;
use std::io::Read;
use std::path::PathBuf;

/// Content known before the commit starts: bytes in memory, or a host file read (twice: once to
/// digest it for the entry, once to copy it, with a check that it did not change in between).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Bytes held by the caller.
    Bytes(Vec<u8>),
    /// A file on the host, outside the journal's root, streamed in chunks.
    File(PathBuf),
}

/// What an update does to its target.
pub enum Change {
    /// Replace or create the target with this content.
    Write(Source),
    /// Replace or create the target with whatever the reader yields, streamed. The entry records
    /// the new content as unknown; recovery decides from the old content alone.
    Stream(Box<dyn Read + Send>),
    /// Delete the target.
    Delete,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Write(s) => f.debug_tuple("Write").field(s).finish(),
            Change::Stream(_) => f.write_str("Stream(..)"),
            Change::Delete => f.write_str("Delete"),
        }
    }
}

/// One file update: a target, what happens to it, and an optional increment written beside it.
#[derive(Debug)]
pub struct Update {
    /// The file replaced, created or deleted.
    pub target: RelPath,
    /// What happens to it.
    pub change: Change,
    /// An increment file (a backup tool's reverse diff, say) kept if and only if the update
    /// happened. Its path must not exist yet.
    pub increment: Option<(RelPath, Source)>,
}

impl Update {
    /// Replaces (or creates) `target` with `bytes`.
    pub fn write(target: RelPath, bytes: impl Into<Vec<u8>>) -> Update {
        Update {
            target,
            change: Change::Write(Source::Bytes(bytes.into())),
            increment: None,
        }
    }

    /// Replaces (or creates) `target` with the content of the host file `source`.
    pub fn copy_from(target: RelPath, source: impl Into<PathBuf>) -> Update {
        Update {
            target,
            change: Change::Write(Source::File(source.into())),
            increment: None,
        }
    }

    /// Replaces (or creates) `target` with what `reader` yields.
    pub fn stream(target: RelPath, reader: impl Read + Send + 'static) -> Update {
        Update {
            target,
            change: Change::Stream(Box::new(reader)),
            increment: None,
        }
    }

    /// Deletes `target`.
    pub fn delete(target: RelPath) -> Update {
        Update {
            target,
            change: Change::Delete,
            increment: None,
        }
    }

    /// Adds an increment file at `path` holding `source`.
    pub fn with_increment(mut self, path: RelPath, source: Source) -> Update {
        self.increment = Some((path, source));
        self
    }
}

/// An update checked against the filesystem, with its record for the entry.
pub(crate) struct Prepared {
    pub record: UpdateRecord,
    pub change: Change,
    pub increment: Option<Source>,
}

/// Checks every update and builds its record, before anything is written. Fails on the first
/// problem with nothing changed.
pub(crate) fn prepare<F: Fs>(
    fs: &F,
    journal_dir: &RelPath,
    seq: u64,
    updates: Vec<Update>,
) -> Result<Vec<Prepared>, JournalError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(updates.len());
    for (index, update) in updates.into_iter().enumerate() {
        let Update {
            target,
            change,
            increment,
        } = update;
        check_placement(journal_dir, &target)?;
        if !seen.insert(target.clone()) {
            return Err(JournalError::DuplicatePath(target));
        }
        let old = current_content(fs, &target)?;
        let (temp, new) = match &change {
            Change::Write(source) => (
                Some(try_temp_path(&target, seq, index)?),
                Content::Present(source_digest(source)?),
            ),
            Change::Stream(_) => (Some(try_temp_path(&target, seq, index)?), Content::Unknown),
            Change::Delete => (None, Content::Absent),
        };
        if let Some(temp) = &temp {
            if fs.stat(temp)?.is_some() {
                return Err(JournalError::Fs(FsError::new(
                    crate::fs::Op::CreateNew,
                    temp,
                    FsErrorKind::AlreadyExists,
                )));
            }
        }
        let (increment_record, increment_source) = match increment {
            None => (None, None),
            Some((path, source)) => {
                check_placement(journal_dir, &path)?;
                if !seen.insert(path.clone()) {
                    return Err(JournalError::DuplicatePath(path));
                }
                if fs.stat(&path)?.is_some() {
                    return Err(JournalError::IncrementExists(path));
                }
                let digest = source_digest(&source)?;
                (
                    Some(IncrementRecord {
                        path,
                        content: Content::Present(digest),
                    }),
                    Some(source),
                )
            }
        };
        out.push(Prepared {
            record: UpdateRecord {
                target,
                temp,
                old,
                new,
                increment: increment_record,
            },
            change,
            increment: increment_source,
        });
    }
    Ok(out)
}

/// Refuses the root itself and anything inside the journal's directory.
fn check_placement(journal_dir: &RelPath, path: &RelPath) -> Result<(), JournalError> {
    if path.starts_with(journal_dir) || journal_dir.starts_with(path) {
        return Err(JournalError::InsideJournal(path.clone()));
    }
    Ok(())
}

/// The digest of a target as it is now: absent, or a regular file's content. A symlink, a
/// directory or anything else is refused: the journal only replaces regular files.
pub(crate) fn current_content<F: Fs>(fs: &F, path: &RelPath) -> Result<Content, JournalError> {
    match fs.stat(path)? {
        None => Ok(Content::Absent),
        Some(meta) if meta.kind == FileKind::File => Ok(Content::Present(digest_file(fs, path)?)),
        Some(meta) => Err(JournalError::NotARegularFile {
            path: path.clone(),
            kind: meta.kind,
        }),
    }
}

/// The digest of a regular file, streamed.
pub(crate) fn digest_file<F: Fs>(fs: &F, path: &RelPath) -> Result<Digest, FsError> {
    let mut hasher = blake3::Hasher::new();
    let len = read_chunks(fs, path, |chunk| {
        hasher.update(chunk);
    })?;
    Ok(Digest {
        len,
        blake3: *hasher.finalize().as_bytes(),
    })
}

/// The digest of a source, streaming a host file.
fn source_digest(source: &Source) -> Result<Digest, JournalError> {
    match source {
        Source::Bytes(bytes) => Ok(Digest::of(bytes)),
        Source::File(path) => digest_stream(
            &mut open_host_file(path)?,
            &path.display().to_string(),
            |_| Ok(()),
        ),
    }
}

/// Opens a host file given as a source.
pub(crate) fn open_host_file(path: &std::path::Path) -> Result<std::fs::File, JournalError> {
    std::fs::File::open(path).map_err(|e| JournalError::Source {
        path: path.display().to_string(),
        error: e.to_string(),
    })
}

/// Streams `reader` (named `name` in errors) through `sink` in 256 KiB chunks, returning the
/// digest of everything it yielded.
pub(crate) fn digest_stream(
    reader: &mut dyn Read,
    name: &str,
    mut sink: impl FnMut(&[u8]) -> Result<(), JournalError>,
) -> Result<Digest, JournalError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut hasher = blake3::Hasher::new();
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => {
                return Ok(Digest {
                    len,
                    blake3: *hasher.finalize().as_bytes(),
                })
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(JournalError::Source {
                    path: name.to_string(),
                    error: e.to_string(),
                })
            }
        };
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
        len += n as u64;
    }
}
