//! Recovery: finishing or undoing the transactions a crash interrupted.
//!
//! Entry files are read in sequence order. For each:
//!
//! - A **stale** entry, numbered below the journal's *floor* (see below), belongs to a
//!   transaction that was finished, or recovered, before the floor was set: it is removed without
//!   acting on anything it names.
//! - A **torn** entry (truncated, zero-filled, failing its checksum) was never durable, so nothing
//!   was changed under it: it is discarded.
//! - An entry that decodes but is **unsafe** (an unsafe path, a path through a symlink, a target
//!   that is not a regular file, an unknown version, a stray file in the journal) is **refused**:
//!   left in place, reported, and nothing it names is touched — not by a later entry either: an
//!   entry naming a path that an earlier refused entry names is refused too.
//! - Otherwise each update is judged from its target's content: it **happened** if and only if
//!   the target no longer holds the old content. (When old and new content are equal the target
//!   cannot tell; then the update counts as done if its increment is complete.)
//!   - Independent updates: a done update keeps its increment; an update not done loses it.
//!     Temp files go in both cases.
//!   - An atomic batch rolls **forward** (the remaining temps renamed over their targets, every
//!     increment kept) if its commit record exists or any of its targets changed (a target only
//!     changes after the commit point); otherwise it rolls **back** (temps and increments
//!     removed; no target had changed).
//!
//! # Recovery trusts nothing it merely sees
//!
//! Recovery may run on a *live* view: after a process crash (a kill, an OOM, a poisoned journal
//! that is reopened) the page cache still shows operations that never reached the disk, and after
//! a failed fsync it shows data and directory entries that the failure dropped for good (Linux
//! marks the pages clean; a retried fsync succeeds without writing them). A verdict drawn from
//! that view, then retired, would be lost by a power loss. So before it removes an entry,
//! recovery makes durable, with operations of its own, everything the verdict relies on:
//!
//! - an update judged **done** whose target the live view shows changed is **rewritten**: its
//!   live content is copied into a scratch file beside it (`.crashsafe-<seq>-<index>.rec`,
//!   [`crate::format::try_scratch_path`]), fsynced, renamed over the temp name and then over
//!   the target. A rename replaces whatever the disk holds at its destination, so the target
//!   ends durable with the content seen, and a temp file the disk may still hold under the temp
//!   name (its rename dropped) is replaced and moved away with it. A done deletion is made
//!   durable the same way: a scratch holding a *tombstone* (a content naming the entry and the
//!   update, fsynced) renamed over the target, then unlinked; a target found holding its
//!   tombstone counts as deleted;
//! - a roll-forward renames the temp (durable: its fsync and its directory's came before the
//!   commit record) over the target, or unlinks the target;
//! - what goes (temps, scratch files, the increments of updates not done) is unlinked; where the
//!   live view already shows it gone (an earlier recovery, which died, unlinked it), its
//!   directory is fsynced all the same;
//! - each directory touched is fsynced once, after every entry has been acted on, by recovery
//!   itself, whatever an earlier fsync of this boot reported; only then are the entry files
//!   removed, and the journal directory fsynced.
//!
//! The increment of a done update that changed its target needs nothing: an update is only
//! switched after its increment and the increment's directory entry were made durable (a failed
//! fsync stops the transaction before its switch), so "switched" implies a durable increment. An
//! update whose new content equals its old is judged done from its increment being complete,
//! which the live view may show before it is durable: that increment is rewritten like a target. The target of an update not done
//! holds its old content, which no step of this transaction touched. Nor does the entry itself:
//! recovery only creates files (scratch) for an update the live view shows switched, and the
//! switch comes after the entry was made durable.
//!
//! What this does not cover: a failed fsync *inside* recovery makes it return an error with the
//! entries kept; a second recovery in the same boot then sees the removals the failure dropped as
//! done. Reboot (or remount) before recovering again after such an error.
//!
//! # The floor: entries whose removal was lost
//!
//! A finished transaction's entry files are unlinked without a barrier of their own; their removal
//! becomes durable with the next barrier on the journal directory. If that barrier *fails*, the
//! unlinks are dropped for good while the live view no longer shows the files: no recovery in this
//! boot can see them, and after a later power loss they come back — long after later
//! transactions changed what they name. Acting on such an entry would undo those transactions.
//!
//! So every session that commits marks where its numbers start: the first transaction of a
//! session creates the empty file `<journal>/<seq>.floor` beside its intent, and the intent's
//! barrier makes both durable before anything else changes. The floor of a journal is the
//! highest floor name in its directory; an entry numbered below it is **stale** and recovery
//! removes it without acting. Why that is safe and enough:
//!
//! - *Every entry below a floor was done with when the floor was created.* A session numbers
//!   its transactions from a value above each entry name it sees and at least [`FLOOR_SPAN`]
//!   above the highest floor it sees. A session changes nothing before its floor is durable
//!   (its first intent's barrier), and numbers fewer than [`FLOOR_SPAN`] transactions above it
//!   (one that would number more writes a new floor first); an entry on the disk that the live
//!   view does not show was retired in the live view. So every entry that can come back is
//!   numbered below the new floor. And a session commits only once recovery has retired every
//!   entry the live view shows (nothing refused), having made what it did durable first.
//! - *A floor never comes back lower.* Floors are only created, with fresh operations, and an
//!   older one is unlinked only after a newer one is durable; if such an unlink is lost, the
//!   highest name still wins.
//! - *Without a durable floor, no stale entry can do harm.* If the floor of the session that
//!   would mark an entry stale is not on disk, that session's first intent barrier never
//!   completed, so it changed nothing; and a session stops at its first failed barrier, so an
//!   entry whose unlink a failure dropped is followed, before the next floor, only by
//!   transactions that changed nothing and by recoveries, which make their own actions durable.
//!   Acting on it again finds what it left.
//!
//! Recovery itself never creates a floor: recovering changes only what the entries name.
//!
//! A crash anywhere in recovery leaves the entries in place, and the next recovery reaches the
//! same decisions: recovery is idempotent. Its barriers are one fsync per rewritten file and one
//! per directory touched.

use super::update::{current_content, digest_file, NewFileAttrs};
use super::{Defect, JournalError};
use crate::format::{
    self, Content, DecodeError, Digest, Entry, EntryKind, UpdateRecord, MAX_ENTRY_LEN,
};
use crate::fs::{read_chunks, DirEntry, DirName, FileKind, Fs, FsError, FsErrorKind, FsResult};
use crate::path::RelPath;
use std::collections::{BTreeMap, BTreeSet};

/// Why recovery left an entry file alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A file in the journal directory that is not named like an entry.
    #[error("not a journal entry name (expected <16 hex digits>.intent or .commit)")]
    UnknownName,
    /// A name in the journal directory that is not UTF-8: no entry is named so.
    #[error("the name is not UTF-8, so not a journal entry name")]
    NotUtf8Name,
    /// An entry named with the largest sequence number, `ffffffffffffffff`, which the journal
    /// never uses (no number would follow it).
    #[error("sequence number ffffffffffffffff is past the last one the journal uses")]
    SequenceAtLimit,
    /// The entry file is a symlink, a directory or something else.
    #[error("the entry is a {0:?}, not a regular file")]
    NotAFile(FileKind),
    /// The entry is not a valid entry, and not because a write was torn.
    #[error("{0}")]
    Decode(DecodeError),
    /// The entry's sequence number or kind disagrees with its file name.
    #[error("the entry's content does not match its file name")]
    NameMismatch,
    /// A path the entry names goes through a symlink or a non-directory.
    #[error("{path}: {kind}")]
    UnsafePath {
        /// The path.
        path: RelPath,
        /// What is wrong with it.
        kind: FsErrorKind,
    },
    /// A path the entry names is the journal directory or inside it.
    #[error("{0} is inside the journal directory")]
    InsideJournal(RelPath),
    /// A target, temp or increment is not a regular file.
    #[error("{path} is a {kind:?}, not a regular file")]
    NotARegularFile {
        /// The path.
        path: RelPath,
        /// What it is.
        kind: FileKind,
    },
    /// An atomic batch must roll forward but a temp file is missing or does not hold the
    /// recorded content: rolling forward would install the wrong bytes.
    #[error("cannot roll forward: the temp file {0} is missing or does not hold the new content")]
    TempMismatch(RelPath),
    /// The target's directory has no room for recovery's scratch file (a name the journal never
    /// writes: the entry is foreign), so a verdict could not be made durable.
    #[error("no room beside {0} for recovery's scratch file")]
    NoRoomForScratch(RelPath),
    /// An earlier entry naming this path was refused, and nothing a refused entry names is
    /// touched: acting here would change what the refused entry's later recovery decides from.
    #[error("{0} is also named by an earlier entry that was refused")]
    SharesPathWithRefused(RelPath),
}

/// What recovery did to one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The transaction.
    pub seq: u64,
    /// The target.
    pub target: RelPath,
    /// Whether the update stands (the target holds the new content) after recovery.
    pub done: bool,
    /// Whether recovery itself renamed the temp over the target (atomic roll-forward).
    pub rolled_forward: bool,
    /// Whether recovery rewrote the target (or erased it, for a deletion) to make the state it
    /// saw durable.
    pub rewritten: bool,
    /// The temp files and increments recovery removed.
    pub removed: Vec<RelPath>,
}

/// What a recovery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// One outcome per update of every entry acted on, in sequence order.
    pub outcomes: Vec<UpdateOutcome>,
    /// Stale entries (numbered below the journal's floor) removed without acting, by file name.
    pub stale: Vec<String>,
    /// Torn entries discarded, by file name, with what was wrong.
    pub discarded: Vec<(String, DecodeError)>,
    /// Entries left in place, by file name, with why.
    pub refused: Vec<(String, Refusal)>,
    /// Entry files removed (acted on or discarded).
    pub removed_entries: Vec<String>,
    /// Directories fsynced (including the journal's).
    pub dirs_synced: usize,
    /// Files rewritten through a scratch file (one fsync each) to make a verdict durable.
    pub files_rewritten: usize,
    /// The highest sequence number of an entry file seen, refused entries included (floor files
    /// excluded).
    pub max_seq: Option<u64>,
}

/// One pending entry, as [`inspect`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    /// The intent's file name.
    pub name: String,
    /// The decoded intent.
    pub entry: Entry,
    /// Whether the commit record exists (atomic batches).
    pub committed_record: bool,
    /// What each update's paths show, in the entry's order.
    pub updates: Vec<PendingUpdate>,
}

/// What a pending update's paths show, as [`inspect`] sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingUpdate {
    /// What the target holds.
    pub target: TargetHolds,
    /// Whether the update happened, by the rule recovery judges an update on its own with
    /// ([`update_happened`]); an atomic batch is judged as a whole (see the module doc).
    pub happened: bool,
    /// Whether the temp file exists.
    pub temp_exists: bool,
    /// Whether the increment exists.
    pub increment_exists: bool,
}

/// What a pending update's target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHolds {
    /// The new content (for a streamed content, recorded as unknown: anything but the old).
    New,
    /// The old content.
    Old,
    /// Neither (a content the journal never wrote), or it could not be read.
    Neither,
}

impl TargetHolds {
    /// What a target found holding `found` holds, for the update `u`.
    fn of(u: &UpdateRecord, found: Content) -> TargetHolds {
        match u.new {
            Content::Unknown if found == u.old => TargetHolds::Old,
            Content::Unknown => TargetHolds::New,
            new if found == new => TargetHolds::New,
            _ if found == u.old => TargetHolds::Old,
            _ => TargetHolds::Neither,
        }
    }
}

/// Whether the update `u` happened, its target found holding `target`: the one rule recovery
/// judges an independent update by, and [`inspect`] reports. It happened if and only if the
/// target no longer holds the old content; when the old and new contents are equal the target
/// cannot tell, and it counts as done if its increment is complete (`increment_complete` is
/// asked only then, and only if the update has an increment).
pub fn update_happened(
    u: &UpdateRecord,
    target: Content,
    increment_complete: impl FnOnce(&crate::format::IncrementRecord) -> bool,
) -> bool {
    if u.new != u.old {
        return target != u.old;
    }
    match &u.increment {
        Some(inc) => increment_complete(inc),
        None => true,
    }
}

/// What the journal directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Entries recovery would act on.
    pub pending: Vec<PendingEntry>,
    /// Commit records whose intent is gone (recovery removes them).
    pub orphan_commits: Vec<String>,
    /// Stale entries, numbered below the journal's floor (recovery removes them without acting).
    pub stale: Vec<String>,
    /// Torn entries recovery would discard.
    pub torn: Vec<(String, DecodeError)>,
    /// Entries recovery would refuse.
    pub refused: Vec<(String, Refusal)>,
}

/// The kind of an entry file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFile {
    /// `<seq>.intent`
    Intent,
    /// `<seq>.commit`
    Commit,
    /// `<seq>.floor`: an empty file marking where a session's numbers start (see the module doc).
    Floor,
}

/// How far past its floor a session may number transactions before it writes a new floor; a
/// new session starts at least this far above the highest floor it finds.
pub const FLOOR_SPAN: u64 = 1 << 32;

/// Parses a journal file name: 16 lowercase hex digits, a dot, `intent`, `commit` or `floor`.
pub fn parse_name(name: &str) -> Option<(u64, EntryFile)> {
    let (seq, ext) = name.split_once('.')?;
    if seq.len() != 16
        || !seq
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let kind = match ext {
        "intent" => EntryFile::Intent,
        "commit" => EntryFile::Commit,
        "floor" => EntryFile::Floor,
        _ => return None,
    };
    Some((u64::from_str_radix(seq, 16).ok()?, kind))
}

/// The largest sequence number a transaction may use. The one above it, `u64::MAX`, is never
/// written: an entry named with it is refused, so that "the next number" always exists.
pub const MAX_SEQ: u64 = u64::MAX - 1;

/// Sorts a name found in the journal directory: an entry file's sequence number and kind, or
/// why recovery leaves it alone.
fn classify_name(name: &DirName) -> Result<(&str, u64, EntryFile), Refusal> {
    let name = name.as_str().ok_or(Refusal::NotUtf8Name)?;
    let (seq, kind) = parse_name(name).ok_or(Refusal::UnknownName)?;
    if seq > MAX_SEQ {
        return Err(Refusal::SequenceAtLimit);
    }
    Ok((name, seq, kind))
}

/// The sequence number the next session's first transaction takes, given every name in the
/// journal directory: above every entry name (refused ones included, so that a number is never
/// reused while its file is there) and at least [`FLOOR_SPAN`] above the highest floor (see the
/// module doc); `None` when the numbers are used up.
pub fn next_seq_after(names: &[DirEntry]) -> Option<u64> {
    let mut next = 1u64;
    for (_, seq, kind) in names.iter().filter_map(|n| classify_name(&n.name).ok()) {
        let after = match kind {
            EntryFile::Floor => seq.checked_add(FLOOR_SPAN),
            EntryFile::Intent | EntryFile::Commit => seq.checked_add(1),
        };
        next = next.max(after?);
    }
    Some(next)
}

/// The journal's floor: the highest floor name that is a regular file (see the module doc).
pub fn floor_of(names: &[DirEntry]) -> Option<u64> {
    floors(names).map(|(_, seq)| seq).max()
}

/// The floor files among `names`, with their numbers.
pub fn floors(names: &[DirEntry]) -> impl Iterator<Item = (&str, u64)> {
    names.iter().filter_map(|n| match classify_name(&n.name) {
        Ok((name, seq, EntryFile::Floor)) if n.kind == FileKind::File => Some((name, seq)),
        _ => None,
    })
}

/// Every name in the journal directory (none if it does not exist).
pub fn entry_files<F: Fs>(fs: &F, dir: &RelPath) -> FsResult<Vec<DirEntry>> {
    match fs.stat(dir)? {
        None => Ok(Vec::new()),
        Some(_) => fs.read_dir(dir),
    }
}

/// The entry files, sorted into what recovery does with them.
#[derive(Default)]
struct Loaded {
    intents: BTreeMap<u64, (String, Entry)>,
    commits: BTreeMap<u64, String>,
    torn: Vec<(String, DecodeError)>,
    stale: Vec<String>,
    refused: Vec<(String, Refusal)>,
    max_seq: Option<u64>,
}

fn load<F: Fs>(fs: &F, dir: &RelPath) -> Result<Loaded, JournalError> {
    let mut loaded = Loaded::default();
    let files = entry_files(fs, dir)?;
    let floor = floor_of(&files);
    for file in files {
        let (name, seq, kind) = match classify_name(&file.name) {
            Ok((name, seq, kind)) => (name.to_owned(), seq, kind),
            Err(refusal) => {
                loaded.refused.push((file.name.to_string(), refusal));
                continue;
            }
        };
        if file.kind != FileKind::File {
            loaded.refused.push((name, Refusal::NotAFile(file.kind)));
            continue;
        }
        if kind == EntryFile::Floor {
            continue;
        }
        loaded.max_seq = loaded.max_seq.max(Some(seq));
        if floor.is_some_and(|floor| seq < floor) {
            loaded.stale.push(name);
            continue;
        }
        let path = dir.join(&name)?;
        let bytes = match read_entry_bytes(fs, &path)? {
            Some(bytes) => bytes,
            None => {
                let too_large = DecodeError::TooLarge(MAX_ENTRY_LEN as u64 + 1);
                loaded.refused.push((name, Refusal::Decode(too_large)));
                continue;
            }
        };
        let entry = match format::decode(&bytes) {
            Ok(entry) => entry,
            Err(e) if e.is_torn() => {
                loaded.torn.push((name, e));
                continue;
            }
            Err(e) => {
                loaded.refused.push((name, Refusal::Decode(e)));
                continue;
            }
        };
        let kind_matches = matches!(
            (kind, entry.kind),
            (EntryFile::Intent, EntryKind::Intent { .. }) | (EntryFile::Commit, EntryKind::Commit)
        );
        if entry.seq != seq || !kind_matches {
            loaded.refused.push((name, Refusal::NameMismatch));
            continue;
        }
        match kind {
            EntryFile::Intent => {
                loaded.intents.insert(seq, (name, entry));
            }
            EntryFile::Commit => {
                loaded.commits.insert(seq, name);
            }
            EntryFile::Floor => {}
        }
    }
    Ok(loaded)
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

/// What is on disk for one update, looked at before deciding.
struct Observed {
    target: Content,
    temp_exists: bool,
    increment_exists: bool,
    /// Whether the directory of the temp (the target's) exists.
    temp_dir_exists: bool,
    /// Whether the increment's directory exists.
    increment_dir_exists: bool,
    /// Scratch files left by an earlier recovery that crashed.
    scratches: Vec<RelPath>,
}

/// Looks at every path an entry names, refusing it if any is unsafe. Nothing is changed.
fn observe<F: Fs>(fs: &F, dir: &RelPath, entry: &Entry) -> Result<Vec<Observed>, ObserveError> {
    let mut observed = Vec::with_capacity(entry.updates.len());
    for (index, u) in entry.updates.iter().enumerate() {
        let paths = std::iter::once(&u.target)
            .chain(u.temp.as_ref())
            .chain(u.increment.as_ref().map(|i| &i.path));
        for p in paths {
            if p.starts_with(dir) || dir.starts_with(p) {
                return Err(Refusal::InsideJournal(p.clone()).into());
            }
        }
        let target = match current_content(fs, &u.target) {
            Ok(c) => c,
            Err(JournalError::NotARegularFile { path, kind }) => {
                return Err(Refusal::NotARegularFile { path, kind }.into())
            }
            // A target whose directory is gone is absent (see `classify`).
            Err(JournalError::Fs(e)) if e.kind == FsErrorKind::NotFound => Content::Absent,
            Err(JournalError::Fs(e)) => return Err(classify(&u.target, e)),
            Err(other) => return Err(ObserveError::Other(other)),
        };
        let temp_exists = match &u.temp {
            Some(t) => exists_as_file(fs, t)?,
            None => false,
        };
        let increment_exists = match &u.increment {
            Some(i) => exists_as_file(fs, &i.path)?,
            None => false,
        };
        let mut scratches = Vec::new();
        let increment = u.increment.as_ref().map(|i| &i.path);
        for beside in std::iter::once(&u.target).chain(increment) {
            if let Ok(scratch) = format::try_scratch_path(beside, entry.seq, index) {
                if !scratches.contains(&scratch) && exists_as_file(fs, &scratch)? {
                    scratches.push(scratch);
                }
            }
        }
        observed.push(Observed {
            target,
            temp_exists,
            increment_exists,
            temp_dir_exists: dir_exists(fs, &u.target)?,
            increment_dir_exists: match increment {
                Some(path) => dir_exists(fs, path)?,
                None => false,
            },
            scratches,
        });
    }
    Ok(observed)
}

enum ObserveError {
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

/// Whether an update happened, judged from what is on disk (see the module doc).
fn happened<F: Fs>(fs: &F, u: &UpdateRecord, seen: &Observed, defect: Option<Defect>) -> bool {
    match defect {
        Some(Defect::CommitByFileType) => {
            return matches!(u.old, Content::Absent) != matches!(seen.target, Content::Absent)
        }
        Some(Defect::DecideByTempPresence) if u.temp.is_some() => return !seen.temp_exists,
        _ => {}
    }
    update_happened(u, seen.target, |inc| increment_complete(fs, inc, seen))
}

/// Whether an increment exists and holds its recorded content.
fn increment_complete<F: Fs>(
    fs: &F,
    inc: &crate::format::IncrementRecord,
    seen: &Observed,
) -> bool {
    seen.increment_exists
        && match inc.content {
            Content::Present(d) => digest_file(fs, &inc.path).is_ok_and(|found| found == d),
            _ => false,
        }
}

/// What recovery puts at a deleted target's name for an instant while it makes the deletion
/// durable ([`Action::Erase`]): a crash may leave it there, and the next recovery must read it
/// as "deletion done, not yet durable" rather than as new content. It names the entry and the
/// update, so no user's file holds it by chance.
fn tombstone(seq: u64, index: usize) -> Vec<u8> {
    format!("crashsafe recovery: deleting this name for entry {seq:016x}, update {index}\n")
        .into_bytes()
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

/// What recovery does for one entry: the file operations, in order.
enum Action {
    /// Unlink a name the live view shows.
    Remove(RelPath),
    /// Rename a durable temp over its target (roll-forward).
    Rename(RelPath, RelPath),
    /// Make `target`'s live content durable with fresh operations: copy it into `scratch`,
    /// fsync, rename over `temp` (when the update has one), then over `target`.
    Rewrite {
        target: RelPath,
        scratch: RelPath,
        temp: Option<RelPath>,
    },
    /// Make `name`'s absence durable with fresh operations: a `scratch` holding `tombstone`,
    /// fsynced, renamed over it, then unlinked.
    Erase {
        name: RelPath,
        scratch: RelPath,
        tombstone: Vec<u8>,
    },
    /// Nothing to change, but the directory's entries must be made durable.
    SyncDir(RelPath),
}

fn plan<F: Fs>(
    fs: &F,
    entry: &Entry,
    seen: &[Observed],
    commit_record: bool,
    defect: Option<Defect>,
) -> Result<(Vec<Action>, Vec<UpdateOutcome>), Refusal> {
    let mut actions = Vec::new();
    let mut outcomes = Vec::new();
    // An atomic batch none of whose targets can change (every new content equals the old) is
    // judged update by update: no target can show which side of the commit point it is on, and
    // the commit record may be gone before the intent.
    let atomic = matches!(entry.kind, EntryKind::Intent { atomic: true })
        && entry.updates.iter().any(|u| u.new != u.old);
    let forward = atomic
        && match defect {
            Some(Defect::RollForwardWithoutCommitRecord) => {
                commit_record || seen.iter().any(|s| s.temp_exists)
            }
            _ => {
                commit_record
                    || entry
                        .updates
                        .iter()
                        .zip(seen)
                        .any(|(u, s)| u.new != u.old && s.target != u.old)
            }
        };
    for (index, (u, s)) in entry.updates.iter().zip(seen).enumerate() {
        let done = if !atomic {
            happened(fs, u, s, defect)
        } else {
            forward
        };
        let roll_forward = atomic && forward && s.target == u.old && u.new != u.old;
        let step = UpdateStep {
            seq: entry.seq,
            index,
            done,
            roll_forward,
            trusting: defect == Some(Defect::RecoveryTrustsLiveView),
            trust_any_temp: defect == Some(Defect::RollForwardWithoutCommitRecord),
        };
        outcomes.push(step.plan(fs, u, s, &mut actions)?);
    }
    Ok((actions, outcomes))
}

/// One update's verdict, and how recovery carries it out.
struct UpdateStep {
    seq: u64,
    index: usize,
    done: bool,
    roll_forward: bool,
    /// The `recovery-trusts-live-view` defect: act only on what the live view shows.
    trusting: bool,
    /// The `roll-forward-without-commit-record` defect: roll forward onto any temp.
    trust_any_temp: bool,
}

impl UpdateStep {
    /// Appends the actions that carry out this update's verdict and make it durable (see the
    /// module doc), and says what they do.
    fn plan<F: Fs>(
        &self,
        fs: &F,
        u: &UpdateRecord,
        s: &Observed,
        actions: &mut Vec<Action>,
    ) -> Result<UpdateOutcome, Refusal> {
        let mut outcome = UpdateOutcome {
            seq: self.seq,
            target: u.target.clone(),
            done: self.done,
            rolled_forward: false,
            rewritten: false,
            removed: Vec::new(),
        };
        let scratch = |beside: &RelPath| {
            format::try_scratch_path(beside, self.seq, self.index)
                .map_err(|_| Refusal::NoRoomForScratch(beside.clone()))
        };
        for leftover in &s.scratches {
            actions.push(Action::Remove(leftover.clone()));
            outcome.removed.push(leftover.clone());
        }
        let switched = u.new != u.old && s.target != u.old;
        // A write whose target the live view shows gone: someone removed it after the switch
        // (the switch is a rename, which never leaves the name empty, and a dropped rename would
        // show the old content). Nothing of ours is there to make durable, and recreating it
        // would undo their deletion. The temp beside it is still made absent below, which makes
        // their shared directory durable.
        let removed_since = u.new != Content::Absent && s.target == Content::Absent;
        // Whether the target's action also takes care of the temp name.
        let mut temp_handled = false;
        if self.roll_forward {
            outcome.rolled_forward = true;
            match &u.temp {
                Some(temp) => {
                    let complete = s.temp_exists
                        && (self.trust_any_temp
                            || match u.new {
                                Content::Present(d) => digest_file(fs, temp).is_ok_and(|f| f == d),
                                _ => true,
                            });
                    if !complete {
                        return Err(Refusal::TempMismatch(temp.clone()));
                    }
                    actions.push(Action::Rename(temp.clone(), u.target.clone()));
                    temp_handled = true;
                }
                None => actions.push(Action::Remove(u.target.clone())),
            }
        } else if self.done && switched && !self.trusting && !removed_since {
            // Done, and the live view shows the switch: make what it shows durable.
            let scratch = scratch(&u.target)?;
            let tombstone = tombstone(self.seq, self.index);
            let erasing = u.new == Content::Absent
                && (s.target == Content::Absent
                    || s.target == Content::Present(Digest::of(&tombstone)));
            actions.push(match erasing {
                true => Action::Erase {
                    name: u.target.clone(),
                    scratch,
                    tombstone,
                },
                false => Action::Rewrite {
                    target: u.target.clone(),
                    scratch,
                    temp: u.temp.clone(),
                },
            });
            outcome.rewritten = true;
            temp_handled = u.temp.is_some();
            if let (Some(temp), true) = (&u.temp, s.temp_exists) {
                outcome.removed.push(temp.clone());
            }
        }
        // An update that changes nothing on its target is judged done by its increment being
        // complete — in the live view, which may show data that is not durable: rewrite it.
        if let (true, false, Some(inc), true) = (
            self.done,
            self.trusting,
            &u.increment,
            u.new == u.old && s.increment_exists,
        ) {
            actions.push(Action::Rewrite {
                target: inc.path.clone(),
                scratch: scratch(&inc.path)?,
                temp: None,
            });
        }
        if let (Some(temp), false) = (&u.temp, temp_handled) {
            self.make_absent(temp, s.temp_exists, s.temp_dir_exists, actions);
            if s.temp_exists {
                outcome.removed.push(temp.clone());
            }
        }
        if let (Some(inc), false) = (&u.increment, self.done) {
            let path = &inc.path;
            self.make_absent(path, s.increment_exists, s.increment_dir_exists, actions);
            if s.increment_exists {
                outcome.removed.push(path.clone());
            }
        }
        Ok(outcome)
    }

    /// A name that must be gone: unlinked if the live view shows it; otherwise its directory is
    /// still fsynced, since an unlink by an earlier recovery that died may not be durable yet.
    fn make_absent(
        &self,
        name: &RelPath,
        exists: bool,
        dir_exists: bool,
        actions: &mut Vec<Action>,
    ) {
        if exists {
            actions.push(Action::Remove(name.clone()));
        } else if dir_exists && !self.trusting {
            actions.push(Action::SyncDir(name.parent().unwrap_or_else(RelPath::root)));
        }
    }
}

/// Runs recovery on the journal in `dir`; see the module doc. `defect` is for the self-test.
pub fn recover<F: Fs>(
    fs: &F,
    dir: &RelPath,
    defect: Option<Defect>,
) -> Result<RecoveryReport, JournalError> {
    let loaded = load(fs, dir)?;
    let mut report = RecoveryReport {
        discarded: loaded.torn.clone(),
        stale: loaded.stale.clone(),
        refused: loaded.refused,
        max_seq: loaded.max_seq,
        ..RecoveryReport::default()
    };
    let mut touched = BTreeSet::new();
    // Paths named by refused entries: later entries must not touch them either.
    let mut blocked = BTreeSet::new();
    let mut done_entries: Vec<String> = loaded.stale;
    done_entries.extend(loaded.torn.into_iter().map(|(n, _)| n));
    let seqs: BTreeSet<u64> = loaded
        .intents
        .keys()
        .chain(loaded.commits.keys())
        .copied()
        .collect();
    for seq in seqs {
        let commit = loaded.commits.get(&seq);
        let Some((name, entry)) = loaded.intents.get(&seq) else {
            // A commit record whose intent is gone: the transaction finished.
            done_entries.extend(commit.cloned());
            continue;
        };
        let named = || {
            entry.updates.iter().flat_map(|u| {
                std::iter::once(&u.target)
                    .chain(&u.temp)
                    .chain(u.increment.as_ref().map(|i| &i.path))
            })
        };
        let decided = match named().find(|p| blocked.contains(*p)) {
            Some(p) => Err(Refusal::SharesPathWithRefused(p.clone())),
            None => match observe(fs, dir, entry) {
                Ok(seen) => plan(fs, entry, &seen, commit.is_some(), defect),
                Err(ObserveError::Refused(r)) => Err(r),
                Err(ObserveError::Other(e)) => return Err(e),
            },
        };
        let (actions, outcomes) = match decided {
            Ok(p) => p,
            Err(refusal) => {
                blocked.extend(named().cloned());
                report.refused.push((name.clone(), refusal.clone()));
                if let Some(c) = commit {
                    report.refused.push((c.clone(), refusal));
                }
                continue;
            }
        };
        if defect == Some(Defect::NoRecoveryDirFsync) {
            // The bug: the entry goes before the cleanup it describes is durable.
            fs.unlink(&dir.join(name)?)?;
        }
        for action in actions {
            report.files_rewritten += act(fs, action, &mut touched)?;
        }
        report.outcomes.extend(outcomes);
        if defect != Some(Defect::NoRecoveryDirFsync) {
            done_entries.push(name.clone());
        }
        done_entries.extend(commit.cloned());
    }
    if defect != Some(Defect::NoRecoveryDirFsync) {
        for d in &touched {
            fs.fsync_dir(d)?;
            report.dirs_synced += 1;
        }
    }
    if !done_entries.is_empty() {
        for name in &done_entries {
            fs.unlink(&dir.join(name)?)?;
        }
        fs.fsync_dir(dir)?;
        report.dirs_synced += 1;
    }
    report.removed_entries = done_entries;
    Ok(report)
}

/// Carries out one action, adding the directories it changed to `touched`. Returns how many
/// files it rewrote (and fsynced).
fn act<F: Fs>(
    fs: &F,
    action: Action,
    touched: &mut BTreeSet<RelPath>,
) -> Result<usize, JournalError> {
    let parent = |p: &RelPath| p.parent().unwrap_or_else(RelPath::root);
    match action {
        Action::Remove(p) => {
            fs.unlink(&p)?;
            touched.insert(parent(&p));
            Ok(0)
        }
        Action::Rename(from, to) => {
            fs.rename(&from, &to)?;
            touched.insert(parent(&from));
            touched.insert(parent(&to));
            Ok(0)
        }
        Action::Rewrite {
            target,
            scratch,
            temp,
        } => {
            // The target is opened before anything is created, so that a target gone since it
            // was observed fails the rewrite with nothing changed. The copy keeps the target's
            // mode and owner, as the journal's own temps do.
            let mut source = fs.open_read(&target)?;
            let attrs = NewFileAttrs::for_target(fs.stat(&target)?.as_ref(), None);
            let mut file = attrs.create(fs, &scratch)?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut offset = 0u64;
            loop {
                let n = fs.read_at(&mut source, offset, &mut buf)?;
                if n == 0 {
                    break;
                }
                fs.write_at(&mut file, offset, &buf[..n])?;
                offset += n as u64;
            }
            fs.fsync(&mut file)?;
            drop(file);
            match temp {
                Some(temp) => {
                    fs.rename(&scratch, &temp)?;
                    fs.rename(&temp, &target)?;
                }
                None => fs.rename(&scratch, &target)?,
            }
            touched.insert(parent(&target));
            Ok(1)
        }
        Action::SyncDir(dir) => {
            touched.insert(dir);
            Ok(0)
        }
        Action::Erase {
            name,
            scratch,
            tombstone,
        } => {
            let mut file = fs.create_new(&scratch)?;
            fs.write_at(&mut file, 0, &tombstone)?;
            fs.fsync(&mut file)?;
            drop(file);
            fs.rename(&scratch, &name)?;
            fs.unlink(&name)?;
            touched.insert(parent(&name));
            Ok(0)
        }
    }
}

/// Describes the pending entries without changing anything.
pub fn inspect<F: Fs>(fs: &F, dir: &RelPath) -> Result<Inspection, JournalError> {
    let loaded = load(fs, dir)?;
    let mut inspection = Inspection {
        torn: loaded.torn,
        stale: loaded.stale,
        refused: loaded.refused,
        ..Inspection::default()
    };
    for (seq, name) in &loaded.commits {
        if !loaded.intents.contains_key(seq) {
            inspection.orphan_commits.push(name.clone());
        }
    }
    for (seq, (name, entry)) in loaded.intents {
        match observe(fs, dir, &entry) {
            Ok(seen) => {
                let updates = entry
                    .updates
                    .iter()
                    .zip(&seen)
                    .map(|(u, s)| PendingUpdate {
                        target: TargetHolds::of(u, s.target),
                        happened: update_happened(u, s.target, |inc| {
                            increment_complete(fs, inc, s)
                        }),
                        temp_exists: s.temp_exists,
                        increment_exists: s.increment_exists,
                    })
                    .collect();
                inspection.pending.push(PendingEntry {
                    name,
                    entry,
                    committed_record: loaded.commits.contains_key(&seq),
                    updates,
                });
            }
            Err(ObserveError::Refused(r)) => inspection.refused.push((name, r)),
            Err(ObserveError::Other(e)) => return Err(e),
        }
    }
    Ok(inspection)
}
