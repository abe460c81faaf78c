//! The journal: crash-safe updates of files under a root.
//!
//! # Protocol
//!
//! A transaction (one update, or a batch) goes through these steps; a crash may stop it after
//! any filesystem operation, and [`Journal::recover`] finishes or undoes it. When its intent
//! becomes durable depends on its [`commit::Shape`]: *intent first* (an atomic batch, or a
//! transaction with a deletion) makes it durable before anything else changes; *intent with
//! data* (not atomic, every update writing a content, some with an increment) makes it durable
//! in the same barrier as its data, each increment written under a name of the journal's own
//! until the switch; a *joined* transaction ([`commit::Transaction::joins_intent_and_data`]:
//! the same without any increment, the common case of replacing files) writes its intent
//! together with its data and never makes it durable.
//!
//! 0. **Register** (every shape but intent first, once per session and directory): the
//!    directories of its targets and increments that this session has not registered yet are
//!    named, with every directory registered before, in the registry file
//!    `<journal>/<seq>.dirs`, made durable — the file, then the journal directory, with the
//!    session's floor if it starts here — before the first temp file there; the older registry
//!    files are then unlinked (see [`registry`]).
//! 1. **Intent.** Every update is checked (paths, old content, increment and the temp names
//!    not yet present) and recorded, with digests of the old and (when known) the new content,
//!    in the entry file `<journal>/<seq>.intent`. Intent first: it is made durable — the file,
//!    then the journal directory — before anything else changes. Nothing is created that this
//!    entry does not name, except, in a session's first transaction, the empty *floor* file
//!    `<journal>/<seq>.floor`, made durable by the same barrier as the intent's name (see
//!    [`recover`], "The floor").
//! 2. **Data.** Each new content goes to a temp file beside its target
//!    (`.crashsafe-<seq>-<index>.tmp`); each increment to its own path (intent first) or, with
//!    the intent, to its temp name beside that path (`.crashsafe-<seq>-<index>.inc`,
//!    [`format::try_increment_temp_path`]); all are made durable, and so are the directory
//!    entries of the increments (and, for an atomic batch, of the temps). Intent with data: the
//!    intent file and the journal directory join this barrier. Until it completes, such a
//!    transaction has changed nothing but files under the journal's names in registered
//!    directories; recovery removes them if the intent never became durable (see [`recover`],
//!    "Orphans"). A joined transaction's intent file is never made durable: recovery needs it
//!    only after a process crash, whose live view shows it whole. The journal directory joins
//!    a joined transaction's barrier when it writes a floor, when a transaction with an
//!    increment or commit point removed its entries since the journal directory was last
//!    fsynced (such an entry must not come back once a later switch changed what it names), or
//!    when [`commit::MAX_PENDING_INTENTS`] joined transactions have created and removed their
//!    intents since (a bound on what a crash state may hold, not a need of recovery). The
//!    intent's name may then be durable while its bytes are not: it reads as torn (empty,
//!    shorter than its header says, or with a zero-filled sector:
//!    [`format::DecodeError::is_torn`]) and recovery discards it. An entry of a joined
//!    transaction that comes back after a crash (its removal never durable) is harmless: it
//!    has no increment, and recovery judging it finds its target as later transactions left it
//!    and keeps that.
//! 3. **Commit point** (atomic batches only): the record `<journal>/<seq>.commit` is made durable.
//! 4. **Switch.** For each update, its increment renamed from its temp name into place (intent
//!    with data), then its temp file renamed over its target (a deletion unlinks the target).
//!    The two renames of an update may reach the disk in either order; recovery finishes or
//!    undoes the increment's by the update's verdict.
//! 5. **Publish.** Each target's directory, and each directory an increment was renamed in, is
//!    made durable; then the commit returns `Ok`.
//! 6. **Clean.** The entry files are removed, and so are the floors older than the session's.
//!    Their removal becomes durable with the next barrier on the journal directory; an entry
//!    that survives a crash is recognised as done by recovery, and one whose removal a failed
//!    barrier dropped is below the next session's floor.
//!
//! A single update without an increment thus costs, once its session has registered its
//! directory (and written its floor), two fsync-family calls in two rounds of barriers (the
//! temp; the target's directory after the switch), as the usual replace recipe does, and one
//! more, the journal directory's in the first round, every [`commit::MAX_PENDING_INTENTS`]
//! updates. With an increment, two rounds too: the intent, the temp, the increment, the journal
//! directory and the increment's directory; then the target's and the increment's directories
//! (seven calls, six when the increment is beside its target).
//!
//! Each step is a named function of [`commit::Transaction`]; the journal calls those that a
//! known-bad protocol of the harness's self-test may swap or skip through [`steps::Steps`], whose
//! defaults are these steps ([`Standard`]).
//!
//! Recovery decides whether an update happened from the target's *content*: it happened if and
//! only if the target no longer holds its old content (the reference journal looked at the file
//! type, which cannot tell one regular file from another). See [`recover`] for the rules.
//!
//! The barriers that end a step (the fsyncs of its files and directories) do not depend on
//! each other, only the next step depends on all of them: with [`SyncMode::PerFile`] they are one
//! barrier group ([`Fs::sync_group`]), which the real backend issues concurrently so that the
//! filesystem commits them together; a single update waits for two rounds of barriers (temp
//! file, and with an increment the intent, the increment and their directories; the target's
//! directory, and the increment's). With
//! [`SyncMode::Syncfs`] every step's group is one `syncfs` instead: the cheapest scheme for large
//! batches on a filesystem the journal has to itself.

pub mod commit;
pub mod recover;
pub mod registry;
pub mod steps;
mod update;

pub use commit::Transaction;
pub use recover::{
    Inspection, PendingEntry, PendingUpdate, RecoveryReport, Refusal, TargetHolds, UpdateOutcome,
};
pub use steps::{Standard, Steps};
pub use update::{Change, Source, Update};

use crate::format::{self, DecodeError, Entry, EntryKind};
use crate::fs::{create_dir_all, FileKind, Fs, FsError, FsErrorKind, LockError, LockMode};
use crate::path::{PathError, RelPath};
use commit::{parent, JournalDirPending, Session};
use recover::EntryFile;
use registry::SessionRegistry;
use std::time::Duration;
use update::prepare;

/// Where the journal lives under the root unless told otherwise.
pub const DEFAULT_JOURNAL_DIR: &str = ".crashsafe/journal";

/// How the journal makes its writes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// `fsync` each file and each directory touched: right on a filesystem shared with other work.
    #[default]
    PerFile,
    /// One `syncfs` per step of a transaction, whatever its size: cheapest for large batches on a
    /// filesystem the journal has mostly to itself.
    Syncfs,
}

/// How a journal is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalOptions {
    /// How writes are made durable.
    pub sync: SyncMode,
}

/// Why the journal refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A path is not a safe root-relative path.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Entries from an interrupted transaction are pending: run recovery first.
    #[error("the journal has pending entries from an interrupted transaction: run recovery first")]
    NeedsRecovery,
    /// An fsync failed earlier; the kernel may have dropped the data, and a retried fsync can
    /// report success falsely, so the journal acknowledges nothing more until it is reopened and
    /// recovered.
    #[error(
        "an earlier fsync failed ({0}); reopen the journal and run recovery before committing"
    )]
    Poisoned(FsError),
    /// Another process holds the journal (or, for a reader, is writing it).
    #[error(
        "the journal {dir} is in use by {}: its {mode} lock was not free within {} s; nothing \
         was changed",
        holder.map_or_else(|| "another process".to_string(), |pid| format!("process {pid}")),
        waited.as_secs_f64()
    )]
    Locked {
        /// The journal's directory.
        dir: RelPath,
        /// The process holding it, when it could be found (best effort).
        holder: Option<u32>,
        /// The lock that was asked for.
        mode: LockMode,
        /// How long it was waited for.
        waited: Duration,
    },
    /// Every sequence number up to [`recover::MAX_SEQ`] is taken by an entry in the journal.
    #[error(
        "the journal's sequence numbers are used up (an entry is named {:016x}); recover, move \
         the entries away, and retry; nothing was changed",
        recover::MAX_SEQ
    )]
    SequenceExhausted,
    /// A directory on the way to a target or increment does not exist. Checked before anything
    /// is written.
    #[error("the directory of {0} does not exist; nothing was changed")]
    MissingParent(RelPath),
    /// The same path is named twice in one transaction.
    #[error("{0} is named twice in one transaction")]
    DuplicatePath(RelPath),
    /// A target or increment is the root, the journal's directory or inside it.
    #[error("{0} is the journal's own directory or inside it")]
    InsideJournal(RelPath),
    /// A target exists but is not a regular file.
    #[error("{path} is a {kind:?}, not a regular file; the journal only replaces regular files")]
    NotARegularFile {
        /// The path.
        path: RelPath,
        /// What it is.
        kind: FileKind,
    },
    /// An increment's path exists already.
    #[error("the increment {0} exists already; increments are never overwritten")]
    IncrementExists(RelPath),
    /// Reading a source (a host file or a reader) failed.
    #[error("reading the source {path}: {error}")]
    Source {
        /// The host path, or `<reader>`.
        path: String,
        /// The error.
        error: String,
    },
    /// A source file changed between being digested and being copied.
    #[error("the source {0} changed while it was being copied")]
    SourceChanged(String),
    /// The transaction does not fit in one entry.
    #[error("the transaction does not fit in one entry: {0}")]
    Entry(#[from] DecodeError),
    /// The transaction has no update.
    #[error("a transaction needs at least one update")]
    Empty,
    /// A registry file (`<journal>/<seq>.dirs`, see [`registry`]) is complete but does not
    /// decode, or is not a regular file: recovery cannot know where orphan temp files may be.
    #[error(
        "the journal's registry file {file} is damaged ({reason}); recovery changed nothing: \
         move the file away (orphan temp files in the directories it named are then left) and \
         recover again"
    )]
    BadRegistry {
        /// The registry file's name in the journal directory.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A registered directory (see [`registry`]) cannot be looked in safely: it is reached
    /// through a symlink, is not a directory, or is inside the journal.
    #[error(
        "the registered directory {dir} is {what}; recovery changed nothing: restore the \
         directory, or move away the registry file naming it, and recover again"
    )]
    UnsafeRegisteredDir {
        /// The directory.
        dir: RelPath,
        /// What it is.
        what: String,
    },
    /// A streamed content turned out to equal the target's: nothing would change, and the
    /// entry, which could not record the stream's digest in advance, could not tell recovery
    /// whether the switch happened. The transaction is abandoned (recovery rolls it back).
    #[error("the content streamed for {0} is the content it already has; nothing was committed")]
    StreamUnchanged(RelPath),
}

/// What a successful commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction's sequence number.
    pub seq: u64,
    /// The targets, in the order given.
    pub targets: Vec<RelPath>,
}

#[derive(Debug)]
enum State {
    Ready,
    NeedsRecovery,
    Poisoned(FsError),
}

/// A journal over a filesystem `F`, kept in one directory under its root, carrying out its
/// protocol's steps as `S` says ([`Standard`]: the journal's own; see [`steps`]).
#[derive(Debug)]
pub struct Journal<F: Fs, S: Steps = Standard> {
    fs: F,
    dir: RelPath,
    next_seq: u64,
    /// This session's floor, once its file is created (see [`recover`], "The floor").
    floor: Option<u64>,
    /// Floor files older than this session's, removed once a newer one is durable.
    old_floors: Vec<RelPath>,
    state: State,
    options: JournalOptions,
    steps: S,
    /// The registry as this session knows it (see [`registry`]).
    registry: SessionRegistry,
    /// What is pending in the journal directory since its last fsync (see
    /// `commit::JournalDirPending`).
    journal_dir: JournalDirPending,
    /// The exclusive lock on `dir`, held for the journal's lifetime.
    _lock: F::DirLock,
}

impl<F: Fs> Journal<F> {
    /// Opens the journal in `dir` (created if missing), with default options. If entries are
    /// pending, commits are refused until [`Journal::recover`] has run. A program should call
    /// [`Journal::recover`] once after opening anyway: a crash can leave temp files that no
    /// entry names (see [`recover`], "Orphans"), which do not block commits but stay until a
    /// recovery sweeps them; with nothing to do, recovery only reads.
    pub fn open(fs: F, dir: RelPath) -> Result<Journal<F>, JournalError> {
        Journal::open_with(fs, dir, JournalOptions::default())
    }

    /// Opens the journal with `options`, failing at once if another process holds it.
    pub fn open_with(
        fs: F,
        dir: RelPath,
        options: JournalOptions,
    ) -> Result<Journal<F>, JournalError> {
        Journal::open_waiting(fs, dir, options, Duration::ZERO)
    }

    /// Opens the journal with `options`, waiting up to `wait` for another holder to let it go.
    ///
    /// The journal holds an exclusive lock on its directory ([`Fs::lock_dir`]) from here until it
    /// is dropped, so that two writers never pick the same sequence number or recover each
    /// other's live transactions. The lock is taken before the entries are listed. If the wait
    /// runs out the result is [`JournalError::Locked`]; the journal directory may have been
    /// created (durably), nothing else.
    pub fn open_waiting(
        fs: F,
        dir: RelPath,
        options: JournalOptions,
        wait: Duration,
    ) -> Result<Journal<F>, JournalError> {
        Journal::open_with_steps(fs, dir, options, wait, Standard)
    }
}

impl<F: Fs, S: Steps> Journal<F, S> {
    /// Opens the journal as [`Journal::open_waiting`] does, carrying out its steps as `steps`
    /// says: the harness's seam for known-bad protocols (see [`steps`]); real use opens with
    /// [`Standard`] through the other constructors.
    pub fn open_with_steps(
        fs: F,
        dir: RelPath,
        options: JournalOptions,
        wait: Duration,
        steps: S,
    ) -> Result<Journal<F, S>, JournalError> {
        check_journal_dir(&dir)?;
        create_dirs_durably(&fs, &dir)?;
        let lock = lock(&fs, &dir, LockMode::Exclusive, wait)?;
        let names = recover::entry_files(&fs, &dir)?;
        let old_floors = recover::floors(&names)
            .map(|(name, _)| dir.join(name))
            .collect::<Result<Vec<_>, _>>()?;
        // Only floors and a whole registry are in the way of a first commit; anything else needs
        // recovery first.
        let registry = SessionRegistry::found(&fs, &dir, &names)?;
        let registry_files = names.iter().filter(|n| is_registry_file(n)).count();
        let state = match &registry {
            Some(_) if names.len() == old_floors.len() + registry_files => State::Ready,
            _ => State::NeedsRecovery,
        };
        Ok(Journal {
            fs,
            // Numbering starts above everything seen, and a span above the last floor, so that
            // an entry whose removal was lost is stale under this session's floor.
            next_seq: recover::next_seq_after(&names).unwrap_or(u64::MAX),
            floor: None,
            old_floors,
            dir,
            state,
            options,
            steps,
            registry: registry.unwrap_or_default(),
            journal_dir: JournalDirPending::unknown(),
            _lock: lock,
        })
    }

    /// The filesystem the journal works on.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// The journal's directory.
    pub fn dir(&self) -> &RelPath {
        &self.dir
    }

    /// Commits one update. Returns `Ok` only once the update is durable.
    pub fn commit(&mut self, update: Update) -> Result<Receipt, JournalError> {
        self.transact(vec![update], false)
    }

    /// Commits many updates sharing one entry and one set of barriers. With `atomic`, a crash
    /// leaves either all of them done or none (recovery rolls the batch back before its commit
    /// point and forward after it); without, each one is done or not on its own.
    pub fn commit_batch(
        &mut self,
        updates: Vec<Update>,
        atomic: bool,
    ) -> Result<Receipt, JournalError> {
        self.transact(updates, atomic)
    }

    fn transact(&mut self, updates: Vec<Update>, atomic: bool) -> Result<Receipt, JournalError> {
        match &self.state {
            State::Ready => {}
            State::NeedsRecovery => return Err(JournalError::NeedsRecovery),
            State::Poisoned(e) => return Err(JournalError::Poisoned(e.clone())),
        }
        if updates.is_empty() {
            return Err(JournalError::Empty);
        }
        let seq = self.next_seq;
        if seq > recover::MAX_SEQ {
            return Err(JournalError::SequenceExhausted);
        }
        let prepared = prepare(&self.fs, &self.dir, seq, updates)?;
        let entry = Entry {
            seq,
            kind: EntryKind::Intent { atomic },
            updates: prepared.iter().map(|p| p.record.clone()).collect(),
        };
        format::validate(&entry)?;
        let bytes = format::encode(&entry)?;
        self.next_seq += 1;
        let targets = entry.updates.iter().map(|u| u.target.clone()).collect();
        let new_floor = self
            .floor
            .is_none_or(|floor| seq - floor >= recover::FLOOR_SPAN);
        let session = Session {
            dir: &self.dir,
            sync: self.options.sync,
            floor: &mut self.floor,
            old_floors: &mut self.old_floors,
            registry: &mut self.registry,
            journal_dir: &mut self.journal_dir,
        };
        let txn =
            commit::Transaction::new(&self.fs, session, seq, &bytes, prepared, atomic, new_floor);
        match txn.run(&self.steps) {
            Ok(()) => Ok(Receipt { seq, targets }),
            Err(e) => {
                self.state = match &e {
                    JournalError::Fs(fe) if is_barrier(fe.op) => State::Poisoned(fe.clone()),
                    _ => State::NeedsRecovery,
                };
                Err(e)
            }
        }
    }

    /// Brings the root back to a consistent state after a crash; see [`recover`]. Refused when an
    /// fsync failed in this session: reopen the journal first.
    pub fn recover(&mut self) -> Result<RecoveryReport, JournalError> {
        if let State::Poisoned(e) = &self.state {
            return Err(JournalError::Poisoned(e.clone()));
        }
        let report = recover::recover_with(&self.fs, &self.dir, &self.steps)?;
        // Recovery removed the torn registry files (and refuses to run on a bad one).
        let names = recover::entry_files(&self.fs, &self.dir)?;
        let durable = std::mem::take(&mut self.registry.durable);
        self.registry = SessionRegistry::found(&self.fs, &self.dir, &names)?.unwrap_or_default();
        self.registry.durable = durable;
        self.state = if report.refused.is_empty() {
            State::Ready
        } else {
            State::NeedsRecovery
        };
        if let Some(max) = report.max_seq {
            self.next_seq = self.next_seq.max(max.saturating_add(1));
        }
        Ok(report)
    }

    /// Creates the missing directories on the way to `path` (not `path` itself), durably (see
    /// the module doc of [`crate::fs`] for what fsyncing a directory makes durable), so that an
    /// update of `path` can follow. Returns the directories created, outermost first. They are
    /// not part of any transaction: a later failed or rolled-back update leaves them.
    ///
    /// Refused, with nothing created, when `path` is the journal's directory or inside it, or
    /// when the journal needs recovery.
    pub fn create_parent_dirs(&mut self, path: &RelPath) -> Result<Vec<RelPath>, JournalError> {
        match &self.state {
            State::Ready => {}
            State::NeedsRecovery => return Err(JournalError::NeedsRecovery),
            State::Poisoned(e) => return Err(JournalError::Poisoned(e.clone())),
        }
        update::check_placement(&self.dir, path)?;
        let Some(dir) = path.parent() else {
            return Ok(Vec::new());
        };
        create_dirs_durably(&self.fs, &dir).map_err(|e| {
            if is_barrier(e.op) {
                // As in a commit: a failed fsync may have dropped what it was to flush.
                self.state = State::Poisoned(e.clone());
            }
            e.into()
        })
    }

    /// Lists the pending entries without changing anything.
    pub fn inspect(&self) -> Result<Inspection, JournalError> {
        recover::inspect(&self.fs, &self.dir)
    }

    /// Whether commits are accepted now.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }
}

/// Makes `dir` and every missing parent a directory, like `mkdir -p`, durably: each new
/// directory is fsynced, and so is the directory holding the first one, so that every new entry
/// is in a durable directory. Returns the directories created, outermost first.
fn create_dirs_durably<F: Fs>(fs: &F, dir: &RelPath) -> Result<Vec<RelPath>, FsError> {
    let created = create_dir_all(fs, dir)?;
    if let Some(first) = created.first() {
        for d in &created {
            fs.fsync_dir(d)?;
        }
        fs.fsync_dir(&parent(first))?;
    }
    Ok(created)
}

/// Whether a name in the journal directory is a registry file (see [`registry`]).
fn is_registry_file(name: &crate::fs::DirEntry) -> bool {
    name.kind == FileKind::File
        && matches!(
            name.name.as_str().and_then(recover::parse_name),
            Some((_, EntryFile::Dirs))
        )
}

/// Refuses a journal directory that is the root, or too long to hold entry names.
fn check_journal_dir(dir: &RelPath) -> Result<(), JournalError> {
    if dir.is_root() {
        return Err(JournalError::InsideJournal(dir.clone()));
    }
    // Room for the entry names (`<16 hex digits>.intent`) under it.
    if dir.as_str().len() + 24 > crate::path::MAX_PATH_LEN {
        return Err(PathError::TooLong(dir.to_string()).into());
    }
    Ok(())
}

/// Takes the journal directory's lock, as a journal error.
fn lock<F: Fs>(
    fs: &F,
    dir: &RelPath,
    mode: LockMode,
    wait: Duration,
) -> Result<F::DirLock, JournalError> {
    fs.lock_dir(dir, mode, wait).map_err(|e| match e {
        LockError::Busy { holder, .. } => JournalError::Locked {
            dir: dir.clone(),
            holder,
            mode,
            waited: wait,
        },
        LockError::Fs(e) => JournalError::Fs(e),
    })
}

/// Describes the journal in `dir` without changing anything: not even creating the directory
/// (a missing one has nothing pending). It holds a shared lock on the directory while it looks,
/// waiting up to `wait` for a writer to finish, so that it never reads a transaction in flight.
pub fn inspect_dir<F: Fs>(
    fs: &F,
    dir: &RelPath,
    wait: Duration,
) -> Result<Inspection, JournalError> {
    check_journal_dir(dir)?;
    match fs.stat(dir) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Inspection::default()),
        Err(e) if e.kind == FsErrorKind::NotFound => return Ok(Inspection::default()),
        Err(e) => return Err(e.into()),
    }
    let _lock = lock(fs, dir, LockMode::Shared, wait)?;
    recover::inspect(fs, dir)
}

/// Whether an operation is an fsync-family barrier, whose failure poisons the journal.
fn is_barrier(op: crate::fs::Op) -> bool {
    op.is_sync()
}

/// Whether an error means the disk is full (handy for callers deciding whether to retry).
pub fn is_no_space(error: &JournalError) -> bool {
    matches!(
        error,
        JournalError::Fs(FsError {
            kind: FsErrorKind::NoSpace,
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::real::RealFs;

    /// The journal directory's names, registry files left out.
    fn names(root: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(DEFAULT_JOURNAL_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".dirs"))
            .collect();
        names.sort();
        names
    }

    /// A session that numbers a whole span past its floor writes a new floor with the next
    /// transaction's intent, and removes the old one once that is durable.
    #[test]
    fn a_session_past_its_span_writes_a_new_floor() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = RealFs::open(tmp.path()).unwrap();
        let mut journal = Journal::open(fs, RelPath::new(DEFAULT_JOURNAL_DIR).unwrap()).unwrap();
        let target = RelPath::new("a").unwrap();
        let first = journal.commit(Update::write(target.clone(), "1")).unwrap();
        assert_eq!(names(tmp.path()), vec![format!("{:016x}.floor", first.seq)]);
        journal.next_seq = first.seq + recover::FLOOR_SPAN - 1;
        let last = journal.commit(Update::write(target.clone(), "2")).unwrap();
        assert_eq!(names(tmp.path()), vec![format!("{:016x}.floor", first.seq)]);
        let next = journal.commit(Update::write(target.clone(), "3")).unwrap();
        assert_eq!(next.seq, last.seq + 1);
        assert_eq!(names(tmp.path()), vec![format!("{:016x}.floor", next.seq)]);
        assert_eq!(std::fs::read(tmp.path().join("a")).unwrap(), b"3");
    }
}
