//! What a caller asks the journal to do: [`Update`]s, their content [`Source`]s, and the checks
//! that turn them into entry records before anything is written.

use super::JournalError;
use crate::format::{
    try_increment_temp_path, try_scratch_path, try_temp_path, Content, Digest, IncrementRecord,
    UpdateRecord,
};
use crate::fs::{read_chunks, FileKind, FileMode, Fs, FsError, FsErrorKind, Metadata, Owner};
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
    /// The permission bits the target gets, exactly (the umask does not apply). `None`: a
    /// replaced target keeps its mode, a created one gets what the umask leaves of `0644`.
    pub mode: Option<FileMode>,
}

impl Update {
    /// Replaces (or creates) `target` with `bytes`.
    pub fn write(target: RelPath, bytes: impl Into<Vec<u8>>) -> Update {
        Update {
            target,
            change: Change::Write(Source::Bytes(bytes.into())),
            increment: None,
            mode: None,
        }
    }

    /// Replaces (or creates) `target` with the content of the host file `source`.
    pub fn copy_from(target: RelPath, source: impl Into<PathBuf>) -> Update {
        Update {
            target,
            change: Change::Write(Source::File(source.into())),
            increment: None,
            mode: None,
        }
    }

    /// Replaces (or creates) `target` with what `reader` yields.
    pub fn stream(target: RelPath, reader: impl Read + Send + 'static) -> Update {
        Update {
            target,
            change: Change::Stream(Box::new(reader)),
            increment: None,
            mode: None,
        }
    }

    /// Deletes `target`.
    pub fn delete(target: RelPath) -> Update {
        Update {
            target,
            change: Change::Delete,
            increment: None,
            mode: None,
        }
    }

    /// Gives the target exactly the permission bits `mode` (and its increment too).
    pub fn with_mode(mut self, mode: FileMode) -> Update {
        self.mode = Some(mode);
        self
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
    /// What the temp file and the increment are created with.
    pub attrs: NewFileAttrs,
}

/// The permissions and owner a file the journal creates (a temp file, an increment) gets.
///
/// A replaced target keeps its mode and, where the process may set them, its owner and group:
/// the temp file renamed over it is created with the target's mode (so that it is never more
/// open than the target, even while it is written), given the target's owner (`fchown`, which
/// fails harmlessly for an unprivileged process giving a file away: the temp then keeps the
/// process's own), and then given the mode exactly (`fchmod`: the umask and `fchown` may have
/// cleared bits). An increment gets the same as its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewFileAttrs {
    /// Passed to `create_new_with_mode` (the umask may clear bits of it).
    pub create: FileMode,
    /// Set exactly after creation, or `None` to keep what the umask left.
    pub exact: Option<FileMode>,
    /// Given to the file where the process may.
    pub owner: Option<Owner>,
}

impl NewFileAttrs {
    /// The attributes for the files of an update of a target now described by `current`
    /// (`None`: absent), with the caller's `mode`, if any.
    pub(crate) fn for_target(current: Option<&Metadata>, mode: Option<FileMode>) -> NewFileAttrs {
        let exact = mode.or(current.map(|m| m.mode));
        NewFileAttrs {
            // A created target's mode is what the umask leaves of 0644, as `create_new` gives.
            create: exact.unwrap_or(FileMode::FILE_DEFAULT),
            exact,
            owner: current.and_then(|m| m.owner),
        }
    }

    /// Creates `path` with these attributes.
    pub fn create<F: Fs>(&self, fs: &F, path: &RelPath) -> Result<F::File, FsError> {
        let mut file = fs.create_new_with_mode(path, self.create)?;
        if let Some(owner) = self.owner {
            match fs.set_owner(&mut file, owner) {
                Ok(()) => {}
                // Not ours to give away: the file keeps the process's owner and group.
                Err(e) if e.kind == FsErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(mode) = self.exact {
            fs.set_mode(&mut file, mode)?;
        }
        Ok(file)
    }
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
            mode,
        } = update;
        check_placement(journal_dir, &target)?;
        if !seen.insert(target.clone()) {
            return Err(JournalError::DuplicatePath(target));
        }
        let (old, meta) = current_state(fs, &target).map_err(|e| missing_parent(e, &target))?;
        let attrs = NewFileAttrs::for_target(meta.as_ref(), mode);
        // Recovery may need a scratch file beside the target: refuse now if it cannot fit.
        try_scratch_path(&target, seq, index)?;
        let (temp, new) = match &change {
            Change::Write(source) => (
                Some(try_temp_path(&target, seq, index)?),
                Content::Present(source_digest(source)?),
            ),
            Change::Stream(_) => (Some(try_temp_path(&target, seq, index)?), Content::Unknown),
            Change::Delete => (None, Content::Absent),
        };
        if let Some(temp) = &temp {
            refuse_existing(fs, temp)?;
        }
        let (increment_record, increment_source) =
            prepare_increment(fs, journal_dir, &mut seen, increment)?;
        if let Some(inc) = &increment_record {
            // The increment may be written under its temp name, and recovery may need a scratch
            // file beside it: refuse now if either cannot fit.
            refuse_existing(fs, &try_increment_temp_path(&inc.path, seq, index)?)?;
            try_scratch_path(&inc.path, seq, index)?;
        }
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
            attrs,
        });
    }
    Ok(out)
}

/// Refuses a name the journal derives for its own file (a temp) that exists already.
fn refuse_existing<F: Fs>(fs: &F, path: &RelPath) -> Result<(), JournalError> {
    if fs.stat(path)?.is_some() {
        return Err(JournalError::Fs(FsError::new(
            crate::fs::Op::CreateNew,
            path,
            FsErrorKind::AlreadyExists,
        )));
    }
    Ok(())
}

/// Checks an update's increment (placed outside the journal, named once, not existing yet) and
/// builds its record; `seen` holds the paths named so far in the transaction.
fn prepare_increment<F: Fs>(
    fs: &F,
    journal_dir: &RelPath,
    seen: &mut std::collections::BTreeSet<RelPath>,
    increment: Option<(RelPath, Source)>,
) -> Result<(Option<IncrementRecord>, Option<Source>), JournalError> {
    let Some((path, source)) = increment else {
        return Ok((None, None));
    };
    check_placement(journal_dir, &path)?;
    if !seen.insert(path.clone()) {
        return Err(JournalError::DuplicatePath(path));
    }
    let found = fs
        .stat(&path)
        .map_err(|e| missing_parent(e.into(), &path))?;
    if found.is_some() {
        return Err(JournalError::IncrementExists(path));
    }
    let digest = source_digest(&source)?;
    let record = IncrementRecord {
        path,
        content: Content::Present(digest),
    };
    Ok((Some(record), Some(source)))
}

/// A lookup of `path` that failed because a directory on its way does not exist becomes
/// [`JournalError::MissingParent`]; any other error is kept.
fn missing_parent(e: JournalError, path: &RelPath) -> JournalError {
    match e {
        JournalError::Fs(FsError {
            kind: FsErrorKind::NotFound,
            ..
        }) => JournalError::MissingParent(path.clone()),
        other => other,
    }
}

/// Refuses the root itself and anything inside the journal's directory.
pub(crate) fn check_placement(journal_dir: &RelPath, path: &RelPath) -> Result<(), JournalError> {
    if path.starts_with(journal_dir) || journal_dir.starts_with(path) {
        return Err(JournalError::InsideJournal(path.clone()));
    }
    Ok(())
}

/// The digest of a target as it is now: absent, or a regular file's content. A symlink, a
/// directory or anything else is refused: the journal only replaces regular files.
pub(crate) fn current_content<F: Fs>(fs: &F, path: &RelPath) -> Result<Content, JournalError> {
    Ok(current_state(fs, path)?.0)
}

/// [`current_content`], with the file's metadata when it is present.
fn current_state<F: Fs>(
    fs: &F,
    path: &RelPath,
) -> Result<(Content, Option<Metadata>), JournalError> {
    match fs.stat(path)? {
        None => Ok((Content::Absent, None)),
        Some(meta) if meta.kind == FileKind::File => {
            Ok((Content::Present(digest_file(fs, path)?), Some(meta)))
        }
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
