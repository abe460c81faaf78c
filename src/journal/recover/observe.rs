//! Recovery's first two steps, which change nothing: **load** (the journal directory listed,
//! each entry file read, decoded and sorted into what recovery does with it) and **observe**
//! (every path an entry names looked at before anything is decided).

use super::memo::{self, Decoded};
use super::names::{classify_name, entry_files, floor_of, parse_name, EntryFile};
use super::Refusal;
use crate::format::{Content, DecodeError, EntryKind, MAX_ENTRY_LEN};
use crate::fs::{read_chunks, FileKind, Fs, FsError, FsErrorKind, FsResult};
use crate::journal::registry::{self, Registry};
use crate::journal::update::current_content;
use crate::journal::JournalError;
use crate::path::RelPath;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// The entry files, sorted into what recovery does with them.
#[derive(Default)]
pub(super) struct Loaded {
    /// The intents, decoded (shared with this thread's memo of decoded entries, see
    /// [`memo`]).
    pub(super) intents: BTreeMap<u64, (String, Rc<Decoded>)>,
    pub(super) commits: BTreeMap<u64, String>,
    /// The copies of commit records a recovery that stopped left
    /// ([`EntryFile::CommitScratch`]), by sequence number.
    pub(super) record_scratches: BTreeMap<u64, String>,
    /// Names of such copies that are not regular files (refused), with what they are: the
    /// entry of that number is refused too if it would roll forward through the name.
    pub(super) odd_record_scratches: BTreeMap<u64, FileKind>,
    pub(super) torn: Vec<(String, DecodeError)>,
    pub(super) stale: Vec<String>,
    pub(super) refused: Vec<(String, Refusal)>,
    pub(super) max_seq: Option<u64>,
    /// The sequence numbers of the entries kept for acting on or refused: their temp and
    /// scratch names are not orphans.
    pub(super) kept: BTreeSet<u64>,
    /// The registry.
    pub(super) registry: Registry,
}

impl Loaded {
    /// Records a refusal of the file `name`, keeping what its name's sequence number names.
    fn refuse(&mut self, name: String, refusal: Refusal) {
        if let Some((seq, _)) = parse_name(&name) {
            self.kept.insert(seq);
        }
        self.refused.push((name, refusal));
    }
}

/// Lists the journal directory and sorts every file in it (see [`Loaded`]); a damaged registry
/// is an error (see the module doc, "Orphans").
pub(super) fn load<F: Fs>(fs: &F, dir: &RelPath) -> Result<Loaded, JournalError> {
    let mut loaded = Loaded::default();
    let files = entry_files(fs, dir)?;
    loaded.registry = registry::load(fs, dir, &files)?;
    let floor = floor_of(&files);
    for file in files {
        let (name, seq, kind) = match classify_name(&file.name) {
            Ok((name, seq, kind)) => (name.to_owned(), seq, kind),
            Err(refusal) => {
                loaded.refuse(file.name.to_string(), refusal);
                continue;
            }
        };
        if file.kind != FileKind::File {
            if kind == EntryFile::CommitScratch {
                loaded.odd_record_scratches.insert(seq, file.kind);
            }
            loaded.refuse(name, Refusal::NotAFile(file.kind));
            continue;
        }
        if matches!(kind, EntryFile::Floor | EntryFile::Dirs) {
            continue;
        }
        loaded.max_seq = loaded.max_seq.max(Some(seq));
        if floor.is_some_and(|floor| seq < floor) {
            loaded.stale.push(name);
            continue;
        }
        if kind == EntryFile::CommitScratch {
            loaded.record_scratches.insert(seq, name);
            continue;
        }
        let entry = match read_entry(fs, &dir.join(&name)?, seq, kind)? {
            EntryRead::Entry(entry) => entry,
            EntryRead::Torn(e) => {
                loaded.torn.push((name, e));
                continue;
            }
            EntryRead::Refused(refusal) => {
                loaded.refuse(name, refusal);
                continue;
            }
        };
        loaded.kept.insert(seq);
        match kind {
            EntryFile::Intent => {
                loaded.intents.insert(seq, (name, entry));
            }
            EntryFile::Commit => {
                loaded.commits.insert(seq, name);
            }
            EntryFile::Floor | EntryFile::Dirs | EntryFile::CommitScratch => {}
        }
    }
    Ok(loaded)
}

/// What reading one entry file found.
enum EntryRead {
    /// An entry that matches its file name.
    Entry(Rc<Decoded>),
    /// A write that was never durable.
    Torn(DecodeError),
    /// Anything else wrong with it.
    Refused(Refusal),
}

/// Reads and decodes the entry file at `path`, named as sequence number `seq` of `kind`.
fn read_entry<F: Fs>(
    fs: &F,
    path: &RelPath,
    seq: u64,
    kind: EntryFile,
) -> Result<EntryRead, JournalError> {
    let Some(bytes) = read_entry_bytes(fs, path)? else {
        let too_large = DecodeError::TooLarge(MAX_ENTRY_LEN as u64 + 1);
        return Ok(EntryRead::Refused(Refusal::Decode(too_large)));
    };
    let decoded = match memo::decode(&bytes) {
        Ok(decoded) => decoded,
        Err(e) if e.is_torn() => return Ok(EntryRead::Torn(e)),
        Err(e) => return Ok(EntryRead::Refused(Refusal::Decode(e))),
    };
    let kind_matches = matches!(
        (kind, decoded.entry.kind),
        (EntryFile::Intent, EntryKind::Intent { .. }) | (EntryFile::Commit, EntryKind::Commit)
    );
    if decoded.entry.seq != seq || !kind_matches {
        return Ok(EntryRead::Refused(Refusal::NameMismatch));
    }
    Ok(EntryRead::Entry(decoded))
}

/// Reads an entry file, or `None` if it is over the format's cap.
fn read_entry_bytes<F: Fs>(fs: &F, path: &RelPath) -> FsResult<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut over = false;
    read_chunks(fs, path, |chunk| {
        if out.len() + chunk.len() > MAX_ENTRY_LEN {
            over = true;
        } else if !over {
            out.extend_from_slice(chunk);
        }
    })?;
    Ok((!over).then_some(out))
}

/// What is on disk for one update, looked at before deciding (recovery's **observe** step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The target's content (absent if its directory is gone).
    pub target: Content,
    /// Whether the temp file exists.
    pub temp_exists: bool,
    /// Whether the increment exists.
    pub increment_exists: bool,
    /// Whether the directory of the temp (the target's) exists.
    pub temp_dir_exists: bool,
    /// Whether the increment's directory exists.
    pub increment_dir_exists: bool,
    /// The name the increment is written under until the switch, for an entry whose shape
    /// stages its increments ([`crate::journal::commit::Shape::stages_increments`]); `None` otherwise.
    pub increment_temp: Option<RelPath>,
    /// Whether that name exists.
    pub increment_temp_exists: bool,
    /// Scratch files left by an earlier recovery that crashed.
    pub scratches: Vec<RelPath>,
}

/// Recovery's **observe** step: looks at every path an entry names, and at the names recovery
/// derives for its updates, refusing it if any is unsafe. Nothing is changed.
pub(super) fn observe<F: Fs>(
    fs: &F,
    dir: &RelPath,
    decoded: &Decoded,
) -> Result<Vec<Observed>, ObserveError> {
    let entry = &decoded.entry;
    let mut observed = Vec::with_capacity(entry.updates.len());
    let mut dirs = DirsSeen::default();
    for (u, names) in entry.updates.iter().zip(&decoded.names) {
        let paths = std::iter::once(&u.target)
            .chain(u.temp.as_ref())
            .chain(u.increment.as_ref().map(|i| &i.path));
        for p in paths {
            if p.starts_with(dir) || dir.starts_with(p) {
                return Err(Refusal::InsideJournal(p.clone()).into());
            }
        }
        let target = target_content(fs, &u.target)?;
        let temp_exists = match &u.temp {
            Some(t) => exists_as_file(fs, t)?,
            None => false,
        };
        let increment_exists = match &u.increment {
            Some(i) => exists_as_file(fs, &i.path)?,
            None => false,
        };
        let increment_temp_exists = match &names.increment_temp {
            Some(t) => exists_as_file(fs, t)?,
            None => false,
        };
        let mut scratches = Vec::new();
        for scratch in &names.scratches {
            if exists_as_file(fs, scratch)? {
                scratches.push(scratch.clone());
            }
        }
        let increment = u.increment.as_ref().map(|i| &i.path);
        observed.push(Observed {
            target,
            temp_exists,
            increment_exists,
            temp_dir_exists: dirs.exists(fs, &u.target)?,
            increment_dir_exists: match increment {
                Some(path) => dirs.exists(fs, path)?,
                None => false,
            },
            increment_temp: names.increment_temp.clone(),
            increment_temp_exists,
            scratches,
        });
    }
    Ok(observed)
}

/// The content of the target `target` as the observe step sees it: absent when its directory is
/// gone (see [`classify`]), a refusal when it is not a regular file or its path is unsafe.
fn target_content<F: Fs>(fs: &F, target: &RelPath) -> Result<Content, ObserveError> {
    match current_content(fs, target) {
        Ok(c) => Ok(c),
        Err(JournalError::NotARegularFile { path, kind }) => {
            Err(Refusal::NotARegularFile { path, kind }.into())
        }
        Err(JournalError::Fs(e)) if e.kind == FsErrorKind::NotFound => Ok(Content::Absent),
        Err(JournalError::Fs(e)) => Err(classify(target, e)),
        Err(other) => Err(ObserveError::Other(other)),
    }
}

/// Whether the directories holding an entry's paths exist, each asked of the filesystem once
/// per observe step: many updates of a batch share a directory, and the step changes nothing,
/// so the answer for a directory cannot change within it. Only answers are kept: a directory
/// whose `stat` fails refuses the entry at once, as [`dir_exists`] does.
#[derive(Default)]
struct DirsSeen<'e> {
    seen: BTreeMap<&'e str, bool>,
}

impl<'e> DirsSeen<'e> {
    /// [`dir_exists`] for `path`, from the answer already found for its directory if any.
    fn exists<F: Fs>(&mut self, fs: &F, path: &'e RelPath) -> Result<bool, ObserveError> {
        let dir = path.parent_str().unwrap_or("");
        if let Some(&exists) = self.seen.get(dir) {
            return Ok(exists);
        }
        let exists = dir_exists(fs, path)?;
        self.seen.insert(dir, exists);
        Ok(exists)
    }
}

pub(super) enum ObserveError {
    Refused(Refusal),
    Other(JournalError),
}

impl From<Refusal> for ObserveError {
    fn from(r: Refusal) -> Self {
        ObserveError::Refused(r)
    }
}

/// A symlink or non-directory on the way is a refusal; a missing parent means "absent" to the
/// caller, who asked through `stat`; anything else is an I/O failure.
fn classify(path: &RelPath, e: FsError) -> ObserveError {
    match e.kind {
        FsErrorKind::Symlink | FsErrorKind::NotADirectory => {
            ObserveError::Refused(Refusal::UnsafePath {
                path: path.clone(),
                kind: e.kind,
            })
        }
        _ => ObserveError::Other(JournalError::Fs(e)),
    }
}

fn exists_as_file<F: Fs>(fs: &F, path: &RelPath) -> Result<bool, ObserveError> {
    match fs.stat(path) {
        Ok(None) => Ok(false),
        Ok(Some(m)) if m.kind == FileKind::File => Ok(true),
        Ok(Some(m)) => Err(Refusal::NotARegularFile {
            path: path.clone(),
            kind: m.kind,
        }
        .into()),
        Err(e) if e.kind == FsErrorKind::NotFound => Ok(false),
        Err(e) => Err(classify(path, e)),
    }
}

/// Whether the directory holding `path` exists (as a directory) in the live view.
fn dir_exists<F: Fs>(fs: &F, path: &RelPath) -> Result<bool, ObserveError> {
    let dir = path.parent().unwrap_or_else(RelPath::root);
    match fs.stat(&dir) {
        Ok(Some(m)) => Ok(m.kind == FileKind::Dir),
        Ok(None) => Ok(false),
        Err(e) if e.kind == FsErrorKind::NotFound => Ok(false),
        Err(e) => Err(classify(&dir, e)),
    }
}
