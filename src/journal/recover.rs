//! Recovery: finishing or undoing the transactions a crash interrupted.
//!
//! Its steps ([`recover_with`]): **observe** what each path an entry names holds, **plan** the
//! verdict on each update and the actions that carry it out and make it durable, **act**, and
//! once every entry is acted on, **retire** them. The steps a known-bad protocol may vary are
//! called through [`Steps`].
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
//! - a roll-forward first rewrites the commit record it relies on: a copy in
//!   `<seq>.commit.rec`, fsynced, renamed over the record, and the journal directory fsynced,
//!   before any target changes (so a target is never switched while the disk may lack the
//!   record, and the batch's decision can be read from the journal directory: see
//!   `Workload::factoring` in `src/check/workload.rs`); then it renames each temp (durable:
//!   its fsync and its directory's came before the commit record) over its target, or unlinks
//!   the target. A copy a stopped recovery left is removed first;
//! - what goes (temps, scratch files, the increments of updates not done) is unlinked; where the
//!   live view already shows it gone (an earlier recovery, which died, unlinked it), its
//!   directory is fsynced all the same;
//! - each directory touched is fsynced once, after every entry has been acted on, by recovery
//!   itself, whatever an earlier fsync of this boot reported; only then are the entry files
//!   removed, and the journal directory fsynced.
//!
//! An increment written at its own path before the switch (intent first) needs nothing when its
//! update changed its target: an update is only switched after its increment and the
//! increment's directory entry were made durable (a failed fsync stops the transaction before
//! its switch), so "switched" implies a durable increment. An increment written under its temp
//! name (intent with data, see `commit::Shape`) is renamed into place at the switch, and the
//! two renames of an update reach the disk in either order: for a done update, recovery
//! finishes a rename the live view does not show (the temp, durable before the switch, holds
//! the recorded content) and rewrites an increment the live view shows in place, through the
//! temp name, as it rewrites a target; for an update not done, both names go. An update whose
//! new content equals its old is judged done from its increment being complete, which the live
//! view may show before it is durable: that increment is rewritten like a target. The target
//! of an update not done holds its old content, which no step of this transaction touched. Nor
//! does the entry itself: recovery only creates files (scratch) for an update the live view
//! shows switched, and the switch comes after the entry was made durable.
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
//! # Orphans: temp files no entry names
//!
//! A transaction that does not make its intent durable first (see `commit::Shape`) writes its
//! temp files (and its increments, under their temp names) before its intent is durable, or
//! never makes it durable, so a crash may leave such a file durable while its intent never was
//! (or was torn): nothing names it. Such a transaction switched nothing (its switch follows the
//! barrier), so those files are all it left; and a recovery that crashed after making the
//! switch of a live
//! view durable may likewise leave its scratch file beside a target whose intent is gone. The
//! journal registers every directory it creates such files in before the first one there
//! ([`crate::journal::registry`]), so recovery's **sweep** step ([`Recovery::sweep`]) looks in
//! each registered directory for the names the journal gives temp, increment temp and scratch
//! files ([`parse_beside_name`]) and removes every one whose sequence number no entry in the journal
//! directory has (an entry acted on removes its own; a refused one keeps its own, as it keeps
//! everything it names). The removals are made durable by the retire step's directory fsyncs. A
//! registered directory that is gone has nothing to sweep; one reached through a symlink, or
//! a registry file that is complete but does not decode, stops recovery before it changes
//! anything ([`JournalError::UnsafeRegisteredDir`], [`JournalError::BadRegistry`]). A registry
//! file that was never made durable whole (torn) names no directory a temp relies on: it is
//! removed with the entries.
//!
//! A crash anywhere in recovery leaves the entries in place, and the next recovery reaches the
//! same decisions: recovery is idempotent. Its barriers are one fsync per rewritten file and one
//! per directory touched.

use super::registry;
use super::steps::{Standard, Steps};
use super::update::{digest_file, NewFileAttrs};
use super::JournalError;
use crate::format::{self, Content, DecodeError, Digest, Entry, UpdateRecord};
use crate::fs::{DirEntry, DirName, FileKind, Fs, FsErrorKind, FsResult};
use crate::path::RelPath;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

mod inspect;
mod memo;
mod names;
mod observe;
mod plan;

pub use inspect::{inspect, Inspection};
use memo::Decoded;
pub use names::{
    entry_files, floor_of, floors, next_seq_after, parse_beside_name, parse_name, BesideFile,
    BesideName, EntryFile, FLOOR_SPAN, MAX_SEQ,
};
pub use observe::Observed;
use observe::{load, observe, ObserveError};
use plan::{plan, Plan};

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
    /// Temp and scratch files in registered directories that no entry named, removed (see the
    /// module doc, "Orphans").
    pub orphans_removed: Vec<RelPath>,
    /// Registry files that were never made durable whole, removed, by file name, with what was
    /// wrong.
    pub registry_discarded: Vec<(String, String)>,
}

/// One pending entry, as [`inspect()`] sees it.
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

/// What a pending update's paths show, as [`inspect()`] sees them.
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

/// Whether an update from `old` to `new` happened, its target found holding `target`: the one
/// rule recovery judges an independent update by, [`inspect()`] reports, and the harness's oracle
/// (`src/check/oracle.rs`) and tests judge by. It happened if and only if the target no longer
/// holds the old content; when the old and new contents are equal the target cannot tell, and it
/// counts as done if its increment is complete (`increment_complete`, `None` for an update
/// without increment, is asked only then).
///
/// Contents are compared as whatever the caller knows them as: the entry's [`Content`] digests
/// (where a streamed new content is [`Content::Unknown`], unequal to any old one), or bytes.
pub fn update_happened<C: PartialEq>(
    old: &C,
    new: &C,
    target: &C,
    increment_complete: Option<impl FnOnce() -> bool>,
) -> bool {
    if new != old {
        return target != old;
    }
    increment_complete.is_none_or(|complete| complete())
}

/// Whether an update judged on its own happened, from what is on disk: [`update_happened`] on
/// the target's content, the increment read only if it must be.
pub fn judge<F: Fs>(fs: &F, u: &UpdateRecord, seen: &Observed) -> bool {
    let increment = u.increment.as_ref();
    update_happened(
        &u.old,
        &u.new,
        &seen.target,
        increment.map(|inc| || increment_complete(fs, inc, seen)),
    )
}

/// Whether an atomic batch rolls forward: its commit record exists, or one of its targets
/// changed (a target only changes after the commit point).
pub fn rolls_forward(entry: &Entry, seen: &[Observed], commit_record: bool) -> bool {
    commit_record || entry.updates.iter().zip(seen).any(|(u, s)| switched(u, s))
}

/// Whether the live view shows update `u` switched: a content that changes the target, and the
/// target no longer holding its old one.
fn switched(u: &UpdateRecord, s: &Observed) -> bool {
    u.new != u.old && s.target != u.old
}

/// Whether the temp file `temp` holds the update's recorded new content (a streamed content,
/// recorded as unknown, cannot be checked).
pub fn temp_holds_new<F: Fs>(fs: &F, u: &UpdateRecord, temp: &RelPath) -> bool {
    holds_content(fs, &u.new, temp)
}

/// Whether `path` holds `content` (an unknown content, a stream's, cannot be checked: true).
fn holds_content<F: Fs>(fs: &F, content: &Content, path: &RelPath) -> bool {
    match content {
        Content::Present(d) => digest_file(fs, path).is_ok_and(|f| f == *d),
        _ => true,
    }
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

/// One file operation of recovery's plan, carried out by its **act** step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Unlink a name the live view shows.
    Remove(RelPath),
    /// Rename a durable temp over its target (roll-forward), or a staged increment into place.
    Rename(RelPath, RelPath),
    /// Make `target`'s live content durable with fresh operations: copy it into `scratch`,
    /// fsync, rename over `temp` (when the update has one), then over `target`.
    Rewrite {
        /// The file whose live content is made durable.
        target: RelPath,
        /// The scratch file it is copied into.
        scratch: RelPath,
        /// The update's temp name, which the copy passes through.
        temp: Option<RelPath>,
    },
    /// Make `name`'s absence durable with fresh operations: a `scratch` holding `tombstone`,
    /// fsynced, renamed over it, then unlinked.
    Erase {
        /// The name that must end absent.
        name: RelPath,
        /// The scratch file.
        scratch: RelPath,
        /// What the scratch holds: a content naming the entry and the update.
        tombstone: Vec<u8>,
    },
    /// Nothing to change, but the directory's entries must be made durable.
    SyncDir(RelPath),
    /// Make an atomic batch's commit record durable with fresh operations before anything of
    /// its roll-forward: its content copied into `scratch` (`<seq>.commit.rec`), fsynced,
    /// renamed over `record`, and the journal directory fsynced now.
    SecureRecord {
        /// The commit record.
        record: RelPath,
        /// The scratch file beside it.
        scratch: RelPath,
    },
}

/// What a verdict relies on that the live view may show before it is durable (see the module
/// doc, "Recovery trusts nothing it merely sees"): what recovery's plan asks
/// [`Steps::secure`] to make durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability<'a> {
    /// A done update whose switch the live view shows (its target `found` holding a content
    /// other than the old): the target is rewritten, or erased for a deletion.
    Switched {
        /// The transaction.
        seq: u64,
        /// The update's index in it.
        index: usize,
        /// The update.
        update: &'a UpdateRecord,
        /// What the target holds in the live view.
        found: Content,
    },
    /// The increment of a done update, in place in the live view, when the disk may not hold it
    /// there: one whose new content equals its old (judged done from that increment), or one
    /// renamed from its temp name at the switch. It is rewritten, through its temp name if it
    /// has one (so that a temp the disk may still hold there is replaced and moved away).
    Increment {
        /// The transaction.
        seq: u64,
        /// The update's index in it.
        index: usize,
        /// The increment's path.
        path: &'a RelPath,
        /// Its temp name, for an increment staged under one.
        temp: Option<&'a RelPath>,
    },
    /// A name that must be gone and that the live view already shows gone (an earlier recovery
    /// unlinked it): its directory is fsynced.
    Absence(&'a RelPath),
    /// The commit record of an atomic batch that rolls forward, which the live view may show
    /// before it is durable (a process crash or a failed fsync in its commit point): it is
    /// rewritten, and the journal directory fsynced, before the roll-forward changes any
    /// target.
    CommitRecord(&'a RelPath),
}

impl Durability<'_> {
    /// The action that makes it durable; refused when a scratch file has no room beside its
    /// file.
    pub fn action(&self) -> Result<Action, Refusal> {
        let scratch = |beside: &RelPath, seq: u64, index: usize| {
            format::try_scratch_path(beside, seq, index)
                .map_err(|_| Refusal::NoRoomForScratch(beside.clone()))
        };
        Ok(match *self {
            Durability::Switched {
                seq,
                index,
                update: u,
                found,
            } => {
                let scratch = scratch(&u.target, seq, index)?;
                let tombstone = tombstone(seq, index);
                let erasing = u.new == Content::Absent
                    && (found == Content::Absent
                        || found == Content::Present(Digest::of(&tombstone)));
                match erasing {
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
                }
            }
            Durability::Increment {
                seq,
                index,
                path,
                temp,
            } => Action::Rewrite {
                target: path.clone(),
                scratch: scratch(path, seq, index)?,
                temp: temp.cloned(),
            },
            Durability::Absence(name) => {
                Action::SyncDir(name.parent().unwrap_or_else(RelPath::root))
            }
            Durability::CommitRecord(record) => Action::SecureRecord {
                record: record.clone(),
                scratch: record_scratch(record)?,
            },
        })
    }
}

/// The scratch name beside the commit record `record`: its name and `.rec`
/// ([`EntryFile::CommitScratch`]).
fn record_scratch(record: &RelPath) -> Result<RelPath, Refusal> {
    let name = record.file_name().unwrap_or_default();
    record
        .sibling(&format!("{name}.rec"))
        .map_err(|_| Refusal::NoRoomForScratch(record.clone()))
}

/// Runs recovery on the journal in `dir`; see the module doc.
pub fn recover<F: Fs>(fs: &F, dir: &RelPath) -> Result<RecoveryReport, JournalError> {
    recover_with(fs, dir, &Standard)
}

/// Runs recovery, carrying out the steps that vary as `steps` says (see
/// [`crate::journal::steps`]): **observe** and **plan** each entry in sequence order, **act** on
/// it, then **retire** the entries acted on.
pub fn recover_with<F: Fs, S: Steps>(
    fs: &F,
    dir: &RelPath,
    steps: &S,
) -> Result<RecoveryReport, JournalError> {
    let loaded = load(fs, dir)?;
    // Checked before anything changes: a registered directory recovery cannot look in safely.
    let registered = registry::existing_dirs(fs, &loaded.registry, dir)?;
    let mut r = Recovery {
        fs,
        dir,
        report: RecoveryReport {
            discarded: loaded.torn.clone(),
            stale: loaded.stale.clone(),
            refused: loaded.refused,
            max_seq: loaded.max_seq,
            registry_discarded: loaded.registry.torn.clone(),
            ..RecoveryReport::default()
        },
        touched: BTreeSet::new(),
        retiring: loaded.stale,
        registered,
        kept: loaded.kept,
    };
    r.retiring.extend(loaded.torn.into_iter().map(|(n, _)| n));
    r.retiring
        .extend(loaded.registry.torn.into_iter().map(|(n, _)| n));
    // A copy of a commit record that a stopped recovery left decides nothing (the record's
    // own name does): removed before any record is rewritten through its name again.
    for scratch in loaded.record_scratches.values() {
        r.act(Action::Remove(dir.join(scratch)?))?;
    }
    let odd = &loaded.odd_record_scratches;
    act_on_entries(&mut r, steps, &loaded.intents, &loaded.commits, odd)?;
    steps.sweep(&mut r)?;
    steps.retire(&mut r)?;
    r.report.removed_entries = r.retiring;
    Ok(r.report)
}

/// The orphans in the registered directories `registered` (see the module doc, "Orphans"):
/// regular files named as the journal names temp and scratch files ([`parse_beside_name`])
/// whose sequence number no entry in `kept` has. Shared by the sweep, which removes them, and
/// [`inspect()`], which lists them.
fn orphans_in<F: Fs>(
    fs: &F,
    registered: &[RelPath],
    kept: &BTreeSet<u64>,
) -> Result<Vec<RelPath>, JournalError> {
    let mut orphans = Vec::new();
    for dir in registered {
        for found in fs.read_dir(dir)? {
            let Some(name) = found.name.as_str() else {
                continue;
            };
            let orphan = parse_beside_name(name).is_some_and(|b| !kept.contains(&b.seq));
            if orphan && found.kind == FileKind::File {
                orphans.push(dir.join(name)?);
            }
        }
    }
    Ok(orphans)
}

/// Observes, plans and acts on each entry in sequence order (an intent with its commit record,
/// if any); an entry refused blocks every path it names for the entries after it. An entry
/// with its commit record is refused if the name its record would be rewritten through
/// (`<seq>.commit.rec`) is not a regular file (`odd_record_scratches`).
fn act_on_entries<F: Fs, S: Steps>(
    r: &mut Recovery<'_, F>,
    steps: &S,
    intents: &BTreeMap<u64, (String, Rc<Decoded>)>,
    commits: &BTreeMap<u64, String>,
    odd_record_scratches: &BTreeMap<u64, FileKind>,
) -> Result<(), JournalError> {
    let (fs, dir) = (r.fs, r.dir);
    // Paths named by refused entries: later entries must not touch them either.
    let mut blocked = BTreeSet::new();
    let seqs: BTreeSet<u64> = intents.keys().chain(commits.keys()).copied().collect();
    for seq in seqs {
        let commit = commits.get(&seq);
        let Some((name, decoded)) = intents.get(&seq) else {
            // A commit record whose intent is gone: the transaction finished.
            r.retiring.extend(commit.cloned());
            continue;
        };
        let record = commit.map(|c| dir.join(c)).transpose()?;
        let decided = match (odd_record_scratches.get(&seq), &record) {
            // The name its record would be made durable through is not a file recovery may
            // replace (and is refused itself).
            (Some(&kind), Some(record)) => Err(record_scratch(record)
                .map_or_else(|r| r, |path| Refusal::NotARegularFile { path, kind })),
            _ => decide(fs, steps, dir, decoded, record.as_ref(), &blocked)?,
        };
        match decided {
            Ok(plan) => {
                steps.act(r, name, plan.actions)?;
                r.report.outcomes.extend(plan.outcomes);
                r.retiring.extend(commit.cloned());
            }
            Err(refusal) => {
                blocked.extend(named_paths(&decoded.entry).cloned());
                r.report.refused.push((name.clone(), refusal.clone()));
                if let Some(c) = commit {
                    r.report.refused.push((c.clone(), refusal));
                }
            }
        }
    }
    Ok(())
}

/// Every path an entry names: targets, temps, increments.
fn named_paths(entry: &Entry) -> impl Iterator<Item = &RelPath> {
    entry.updates.iter().flat_map(|u| {
        std::iter::once(&u.target)
            .chain(&u.temp)
            .chain(u.increment.as_ref().map(|i| &i.path))
    })
}

/// Recovery's **observe** and **plan** steps for one entry: its plan, or why it is refused
/// (it names a path a refused entry names, or a path that is unsafe); an I/O failure is an
/// error.
fn decide<F: Fs, S: Steps>(
    fs: &F,
    steps: &S,
    dir: &RelPath,
    decoded: &Decoded,
    commit_record: Option<&RelPath>,
    blocked: &BTreeSet<RelPath>,
) -> Result<Result<Plan, Refusal>, JournalError> {
    let entry = &decoded.entry;
    if let Some(p) = named_paths(entry).find(|p| blocked.contains(*p)) {
        return Ok(Err(Refusal::SharesPathWithRefused(p.clone())));
    }
    match observe(fs, dir, decoded) {
        Ok(seen) => Ok(plan(fs, steps, entry, &seen, commit_record)),
        Err(ObserveError::Refused(r)) => Ok(Err(r)),
        Err(ObserveError::Other(e)) => Err(e),
    }
}

/// A recovery in progress, for its **act** and **retire** steps: the report so far, the
/// directories its actions changed, and the entry files to remove once they are durable.
pub struct Recovery<'a, F: Fs> {
    fs: &'a F,
    dir: &'a RelPath,
    report: RecoveryReport,
    touched: BTreeSet<RelPath>,
    retiring: Vec<String>,
    /// The registered directories that exist (see the module doc, "Orphans").
    registered: Vec<RelPath>,
    /// The sequence numbers whose temp and scratch names are an entry's, not orphans.
    kept: BTreeSet<u64>,
}

impl<F: Fs> Recovery<'_, F> {
    /// **Sweep**: removes, in every registered directory, the journal's temp and scratch files
    /// that no entry accounts for (see the module doc, "Orphans"); their directories are made
    /// durable by [`Recovery::retire`].
    pub fn sweep(&mut self) -> Result<(), JournalError> {
        let registered = std::mem::take(&mut self.registered);
        for path in orphans_in(self.fs, &registered, &self.kept)? {
            self.act(Action::Remove(path.clone()))?;
            self.report.orphans_removed.push(path);
        }
        Ok(())
    }

    /// Carries out one action (see [`Action`]).
    pub fn act(&mut self, action: Action) -> Result<(), JournalError> {
        self.report.files_rewritten += act(self.fs, action, &mut self.touched)?;
        Ok(())
    }

    /// **Act** on the entry file `entry`: its actions carried out in order, then the entry
    /// marked to be removed by [`Recovery::remove_retired`].
    pub fn act_entry(&mut self, entry: &str, actions: Vec<Action>) -> Result<(), JournalError> {
        for action in actions {
            self.act(action)?;
        }
        self.retiring.push(entry.to_string());
        Ok(())
    }

    /// Unlinks the entry file `entry` now.
    pub fn remove_entry(&mut self, entry: &str) -> Result<(), JournalError> {
        self.fs.unlink(&self.dir.join(entry)?)?;
        Ok(())
    }

    /// Fsyncs every directory the actions changed, once each.
    pub fn sync_touched(&mut self) -> Result<(), JournalError> {
        for d in &self.touched {
            self.fs.fsync_dir(d)?;
            self.report.dirs_synced += 1;
        }
        Ok(())
    }

    /// Unlinks the entry files acted on (and the stale, torn and orphan ones), then fsyncs the
    /// journal directory.
    pub fn remove_retired(&mut self) -> Result<(), JournalError> {
        if !self.retiring.is_empty() {
            for name in &self.retiring {
                self.fs.unlink(&self.dir.join(name)?)?;
            }
            self.fs.fsync_dir(self.dir)?;
            self.report.dirs_synced += 1;
        }
        Ok(())
    }

    /// **Retire**: [`Recovery::sync_touched`], then [`Recovery::remove_retired`]: an entry goes
    /// only once what it describes is durable.
    pub fn retire(&mut self) -> Result<(), JournalError> {
        self.sync_touched()?;
        self.remove_retired()
    }
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
            rewrite(fs, &target, &scratch, temp.as_ref())?;
            touched.insert(parent(&target));
            Ok(1)
        }
        Action::SyncDir(dir) => {
            touched.insert(dir);
            Ok(0)
        }
        Action::SecureRecord { record, scratch } => {
            rewrite(fs, &record, &scratch, None)?;
            fs.fsync_dir(&parent(&record))?;
            Ok(1)
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

/// Makes `target`'s live content durable with fresh operations ([`Action::Rewrite`]): a copy in
/// `scratch`, fsynced, renamed over `temp` (when the update has one), then over `target`.
fn rewrite<F: Fs>(
    fs: &F,
    target: &RelPath,
    scratch: &RelPath,
    temp: Option<&RelPath>,
) -> Result<(), JournalError> {
    // The target is opened before anything is created, so that a target gone since it was
    // observed fails the rewrite with nothing changed. The copy keeps the target's mode and
    // owner, as the journal's own temps do.
    let mut source = fs.open_read(target)?;
    let attrs = NewFileAttrs::for_target(fs.stat(target)?.as_ref(), None);
    let mut file = attrs.create(fs, scratch)?;
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
            fs.rename(scratch, temp)?;
            fs.rename(temp, target)?;
        }
        None => fs.rename(scratch, target)?,
    }
    Ok(())
}
