//! The commit protocol's steps (see the module doc of [`crate::journal`], "Protocol"), as named
//! functions on one [`Transaction`]: `Transaction::register` (the new directories of a
//! transaction whose intent is not made durable first, see [`Shape`]), [`Transaction::intent`],
//! `Transaction::data` (the journal's
//! own; what joins its barrier goes through [`Steps::temp_written`] and
//! [`Steps::increment_written`]), [`Transaction::commit_point`], [`Transaction::switch`],
//! [`Transaction::publish`], [`Transaction::clean`]. The journal calls the ones that can vary
//! through its [`Steps`]; their public primitives are what another protocol may build a step
//! from.

use super::registry::{self, SessionRegistry};
use super::steps::Steps;
use super::update::{digest_stream, open_host_file, Prepared};
use super::{JournalError, SyncMode};
use crate::format::{self, Content, Entry, EntryKind, UpdateRecord};
use crate::fs::{Fs, FsError};
use crate::path::RelPath;
use std::collections::BTreeSet;

/// One transaction in flight: what its steps read and what they leave for the next.
pub struct Transaction<'a, F: Fs> {
    fs: &'a F,
    dir: &'a RelPath,
    sync: SyncMode,
    seq: u64,
    intent: &'a [u8],
    prepared: Vec<Prepared>,
    atomic: bool,
    /// When its intent becomes durable ([`Shape::of`] its updates), fixed at its start.
    shape: Shape,
    /// Whether this transaction writes its session's floor (see [`super::recover`], "The floor").
    new_floor: bool,
    /// The session's floor, set when this transaction writes a new one.
    floor: &'a mut Option<u64>,
    /// The session's older floors, removed once the new one is durable.
    old_floors: &'a mut Vec<RelPath>,
    /// The directories of the targets switched so far, for [`Transaction::publish`].
    target_dirs: BTreeSet<RelPath>,
    /// The registry as the session knows it (see [`super::registry`]).
    registry: &'a mut SessionRegistry,
    /// What is pending in the journal directory since its last fsync (see
    /// [`JournalDirPending`]).
    journal_dir: &'a mut JournalDirPending,
    /// A joined transaction's first barrier as its intent step leaves it (the journal directory,
    /// when it must be durable too), for the data step to add its temps to.
    first_round: Option<Barrier<F::File>>,
}

/// One update of a [`Transaction`], as its steps name it (handed out by
/// [`Transaction::updates`] and to [`Steps::temp_written`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UpdateIndex(usize);

/// When a transaction's intent becomes durable relative to its data: the one rule that picks
/// the protocol's variant, shared by the commit and by recovery (which derives an entry's shape
/// from the entry, see [`Shape::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The intent is made durable (file and journal directory) before anything else changes,
    /// and increments are written at their own paths: atomic batches (whose rollback must find
    /// nothing of theirs changed before the commit point) and transactions with a deletion
    /// (recovery makes a deletion durable through a tombstone at the target's name, which must
    /// never appear without a durable entry).
    IntentFirst,
    /// The intent is made durable in the same barrier as the data, and each increment is
    /// written under a name of the journal's own beside it
    /// ([`crate::format::try_increment_temp_path`]) and renamed into place at the switch: a
    /// transaction that is not atomic, writes a content in every update, and has an increment.
    /// Until that barrier it changes nothing but files under the journal's names in registered
    /// directories (orphans if the intent never becomes durable, see [`super::recover`],
    /// "Orphans"); an increment appears at its own path only once its entry is durable.
    IntentWithData,
    /// The intent is written with the data and never made durable (see
    /// [`Transaction::joins_intent_and_data`]): as [`Shape::IntentWithData`] without an
    /// increment.
    Joined,
}

impl Shape {
    /// The shape of a transaction, atomic or not, with these updates.
    pub fn of<'r>(atomic: bool, updates: impl Iterator<Item = &'r UpdateRecord> + Clone) -> Shape {
        if atomic || updates.clone().any(|u| u.temp.is_none()) {
            Shape::IntentFirst
        } else if updates.clone().any(|u| u.increment.is_some()) {
            Shape::IntentWithData
        } else {
            Shape::Joined
        }
    }

    /// Whether increments are written under the journal's temp name and renamed at the switch.
    pub fn stages_increments(self) -> bool {
        self == Shape::IntentWithData
    }
}

/// What [`Transaction::new`] needs from the journal.
pub(super) struct Session<'a> {
    pub dir: &'a RelPath,
    pub sync: SyncMode,
    pub floor: &'a mut Option<u64>,
    pub old_floors: &'a mut Vec<RelPath>,
    /// The registry as the session knows it.
    pub registry: &'a mut SessionRegistry,
    /// What is pending in the journal directory since its last fsync.
    pub journal_dir: &'a mut JournalDirPending,
}

/// How many joined transactions in a row may leave their intent's creation and removal pending
/// in the journal directory before one fsyncs it again (with its first barrier: one more fsync
/// in a round it waits for anyway).
///
/// A joined transaction's intent is never made durable (see
/// [`Transaction::joins_intent_and_data`]), and nothing needs its removal durable either: an
/// intent that comes back after a crash is harmless. But each one whose creation and removal are
/// both pending is a few more crash states at every later crash point under a model that lets
/// them persist independently (absent, present and whole, present and empty or torn), so
/// without a bound the states per crash point grow with the length of a session: 10 plain
/// updates gave 0.87 M crash states, 20 gave 2.7 M, 40 over 2 minutes of exploration. With the
/// bound, at most this many earlier intents are pending at any crash point, plus the one in
/// flight. Its value weighs the fsync it costs (about 0.1–0.3 ms of a commit's ~1 ms on ext4,
/// once every this many commits) against the states (`BENCHMARKS.md`, "Issue #12").
pub const MAX_PENDING_INTENTS: usize = 4;

/// What is pending in the journal directory since it was last fsynced, for the joined
/// transactions to decide whether their first barrier must fsync it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct JournalDirPending {
    /// Whether a transaction with an increment or a commit point unlinked its entry files and
    /// no barrier on the journal directory has followed: such an entry must not come back after
    /// a crash once a later switch changed what it names (recovery would undo its history), so
    /// the next joined transaction fsyncs the journal directory with its first barrier.
    removals_must_land: bool,
    /// How many joined transactions created and removed their intent since (see
    /// [`MAX_PENDING_INTENTS`]).
    joined_intents: usize,
}

impl JournalDirPending {
    /// A session's start: whatever the last session left may be pending (its first
    /// transaction writes a floor, which fsyncs the journal directory anyway).
    pub(super) fn unknown() -> Self {
        JournalDirPending {
            removals_must_land: true,
            joined_intents: 0,
        }
    }

    /// Whether the next joined transaction's first barrier must fsync the journal directory.
    fn due(&self) -> bool {
        self.removals_must_land || self.joined_intents >= MAX_PENDING_INTENTS
    }

    /// The journal directory was fsynced: nothing of the session is pending in it.
    fn synced(&mut self) {
        self.removals_must_land = false;
        self.joined_intents = 0;
    }

    /// A transaction is removing its entry files, without a barrier of their own.
    fn entries_removed(&mut self, joined: bool) {
        if joined {
            self.joined_intents += 1;
        } else {
            self.removals_must_land = true;
        }
    }
}

impl<'a, F: Fs> Transaction<'a, F> {
    /// A transaction numbered `seq`, whose encoded intent is `intent`.
    pub(super) fn new(
        fs: &'a F,
        session: Session<'a>,
        seq: u64,
        intent: &'a [u8],
        prepared: Vec<Prepared>,
        atomic: bool,
        new_floor: bool,
    ) -> Self {
        let shape = Shape::of(atomic, prepared.iter().map(|p| &p.record));
        Transaction {
            fs,
            dir: session.dir,
            sync: session.sync,
            seq,
            intent,
            prepared,
            atomic,
            shape,
            new_floor,
            floor: session.floor,
            old_floors: session.old_floors,
            target_dirs: BTreeSet::new(),
            registry: session.registry,
            journal_dir: session.journal_dir,
            first_round: None,
        }
    }

    /// Runs every step, in order, calling the ones that vary through `steps`.
    pub(super) fn run<S: Steps>(mut self, steps: &S) -> Result<(), JournalError> {
        let shape = self.shape();
        let joined = shape == Shape::Joined;
        if shape != Shape::IntentFirst {
            self.register()?;
        }
        steps.intent(&mut self)?;
        self.data(steps)?;
        self.commit_point()?;
        steps.switch(&mut self)?;
        steps.publish(&mut self)?;
        self.journal_dir.entries_removed(joined);
        steps.clean(&mut self)
    }

    /// Whether the intent is written with the data and never made durable, instead of made
    /// durable first: for a transaction that is not atomic and whose every update writes a
    /// content without an increment. Until its switch such a transaction changes nothing but
    /// files under its own names (its temps) in registered directories, which recovery removes
    /// when no durable entry names them (see [`super::recover`], "Orphans"); whatever recovery
    /// does for it with a live view, where the intent is whole (rewriting a switched target with
    /// the content it shows, through a scratch file), leaves nothing but such files and the
    /// content the target already showed if the intent never becomes durable; and an intent
    /// whose name became durable without its bytes reads as torn and is discarded. An increment
    /// (whose name is the caller's: it must not appear without a durable entry, so its intent is
    /// made durable with the data, [`Shape::IntentWithData`]), a batch that must roll forward,
    /// and a deletion (recovery makes a deletion durable by putting a tombstone at the target's
    /// name for an instant) need the entry durable, the last two before the data.
    pub fn joins_intent_and_data(&self) -> bool {
        self.shape() == Shape::Joined
    }

    /// The transaction's [`Shape`]: when its intent becomes durable relative to its data.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Before the first temp of a transaction whose intent is not durable first (a shape other
    /// than [`Shape::IntentFirst`]): registers the directories of its targets and increments
    /// (where its temps and increments' temps go, and recovery's scratch files) that this
    /// session has not registered yet,
    /// durably (see [`super::registry`]): the registry file `<seq>.dirs`, naming them and every
    /// directory the registry names already, and the journal directory fsynced (with the
    /// session's floor, if this transaction starts it); then the older registry files unlinked.
    fn register(&mut self) -> Result<(), JournalError> {
        let mut all: BTreeSet<RelPath> = self
            .prepared
            .iter()
            .flat_map(|p| {
                let increment = p.record.increment.as_ref().map(|i| parent(&i.path));
                std::iter::once(parent(&p.record.target)).chain(increment)
            })
            .filter(|d| !self.registry.durable.contains(d))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        all.extend(self.registry.known.iter().cloned());
        all.extend(self.registry.durable.iter().cloned());
        if self.new_floor {
            // Made durable by this barrier, before anything changes: the intent's need not.
            self.create_floor()?;
            self.new_floor = false;
        }
        let mut step = self.barrier();
        let path = self.entry_path("dirs");
        let dirs: Vec<RelPath> = all.iter().cloned().collect();
        step.file(write_file(self.fs, &path, &registry::encode(&dirs))?);
        step.dir(self.dir.clone());
        step.finish(self.fs)?;
        self.journal_dir.synced();
        for old in std::mem::replace(&mut self.registry.files, vec![path]) {
            self.fs.unlink(&old)?;
        }
        self.registry.known.clone_from(&all);
        self.registry.durable = all;
        Ok(())
    }

    /// Creates the session's floor file, retiring the previous one.
    fn create_floor(&mut self) -> Result<(), JournalError> {
        self.fs.create_new(&self.entry_path("floor"))?;
        if let Some(previous) = self.floor.replace(self.seq) {
            let path = self.entry_path_of(previous, "floor");
            self.old_floors.push(path);
        }
        Ok(())
    }

    /// The filesystem.
    pub fn fs(&self) -> &'a F {
        self.fs
    }

    /// How the journal makes its writes durable.
    pub fn sync_mode(&self) -> SyncMode {
        self.sync
    }

    /// The transaction's updates, in order.
    pub fn updates(&self) -> impl Iterator<Item = UpdateIndex> {
        (0..self.prepared.len()).map(UpdateIndex)
    }

    /// Whether update `index` has a temp file (it writes a content; a deletion has none).
    pub fn has_temp(&self, index: UpdateIndex) -> bool {
        self.prepared[index.0].record.temp.is_some()
    }

    /// An empty barrier for one step.
    pub fn barrier(&self) -> Barrier<F::File> {
        Barrier::new(self.sync)
    }

    /// The entry files this transaction writes: its intent, then (atomic batches) its commit
    /// record.
    pub fn entry_paths(&self) -> Vec<RelPath> {
        std::iter::once(self.entry_path("intent"))
            .chain(self.atomic.then(|| self.entry_path("commit")))
            .collect()
    }

    /// Step 1, first half: creates the session's floor file if this transaction starts it, and
    /// writes the intent entry, returning its file for the step's barrier (a joined
    /// transaction's has none).
    pub fn write_intent(&mut self) -> Result<F::File, JournalError> {
        if self.new_floor {
            self.create_floor()?;
        }
        write_file(self.fs, &self.entry_path("intent"), self.intent)
    }

    /// Step 1, **intent**: [`Transaction::write_intent`], then the intent file and the journal
    /// directory made durable together: at once for [`Shape::IntentFirst`], in the data step's
    /// barrier (with the temps and increments) for [`Shape::IntentWithData`]. A joined transaction
    /// ([`Transaction::joins_intent_and_data`]) never makes its intent file durable: only its
    /// first barrier, the data step's, waits, and it holds the journal directory only when this
    /// transaction writes a floor (which must be durable before its switch), when earlier
    /// entries' removals must be durable first, or when [`MAX_PENDING_INTENTS`] joined intents
    /// are pending in it. The intent's name may then be durable while
    /// its bytes are not; such an entry is torn ([`crate::format::DecodeError::is_torn`]: a
    /// fresh file's one write that did not fully arrive is empty, shorter than its header says,
    /// or has a zero-filled first or later sector) and recovery discards it.
    pub fn intent(&mut self) -> Result<(), JournalError> {
        let file = self.write_intent()?;
        self.intent_barrier(file, true)
    }

    /// Step 1, second half: the barrier for the intent file `file` written by
    /// [`Transaction::write_intent`], with the journal directory if `journal_dir` (the protocol
    /// always wants it; a known-bad one may leave it out). For [`Shape::IntentFirst`] the barrier
    /// is issued now; otherwise it is left for the data step's barrier to join: a joined
    /// transaction's without the intent file (and with the journal directory only when due, see
    /// [`Transaction::intent`]), a [`Shape::IntentWithData`] one's with both.
    pub fn intent_barrier(&mut self, file: F::File, journal_dir: bool) -> Result<(), JournalError> {
        let mut step = self.barrier();
        let shape = self.shape();
        let dir_due = match shape {
            Shape::Joined => self.new_floor || self.journal_dir.due(),
            Shape::IntentWithData | Shape::IntentFirst => journal_dir,
        };
        if shape != Shape::Joined {
            step.file(file);
        }
        if dir_due {
            step.dir(self.dir.clone());
        }
        if shape != Shape::IntentFirst {
            self.first_round = Some(step);
            return Ok(());
        }
        step.finish(self.fs)?;
        if dir_due {
            self.journal_dir.synced();
        }
        Ok(())
    }

    /// Step 2, **data**: each new content written to its temp file and each increment to its
    /// path (`steps` says what joins the barrier), then all made durable together with the
    /// increments' directories (and, for an atomic batch, the temps'), and, for a joined
    /// transaction, with what its intent step left for this barrier.
    pub(super) fn data<S: Steps>(&mut self, steps: &S) -> Result<(), JournalError> {
        let mut step = self.first_round.take().unwrap_or_else(|| self.barrier());
        let syncs_journal_dir = step.dirs.contains(self.dir) || self.sync == SyncMode::Syncfs;
        for index in (0..self.prepared.len()).map(UpdateIndex) {
            if let Some((temp, file)) = self.write_temp(index)? {
                steps.temp_written(self, index, file, &mut step)?;
                if self.atomic {
                    step.dir(parent(&temp));
                }
            }
            if let Some((increment, file)) = self.write_increment(index)? {
                steps.increment_written(self, index, file, &mut step)?;
                step.dir(parent(&increment));
            }
            step.flush_if_full(self.fs)?;
        }
        step.finish(self.fs)?;
        if syncs_journal_dir {
            self.journal_dir.synced();
        }
        Ok(())
    }

    /// Writes update `index`'s new content into its temp file, checking it is what the entry
    /// recorded; returns the temp's path and file (none for a deletion).
    fn write_temp(
        &mut self,
        index: UpdateIndex,
    ) -> Result<Option<(RelPath, F::File)>, JournalError> {
        let fs = self.fs;
        let p = &mut self.prepared[index.0];
        let Some(temp) = p.record.temp.clone() else {
            return Ok(None);
        };
        let change = std::mem::replace(&mut p.change, super::Change::Delete);
        let mut file = p.attrs.create(fs, &temp)?;
        let digest = copy_change(fs, &mut file, change)?;
        match p.record.new {
            Content::Present(expected) if digest != expected => {
                Err(JournalError::SourceChanged(p.record.target.to_string()))
            }
            Content::Unknown if p.record.old == Content::Present(digest) => {
                Err(JournalError::StreamUnchanged(p.record.target.clone()))
            }
            _ => Ok(Some((temp, file))),
        }
    }

    /// Writes update `index`'s increment, under its temp name if the transaction stages its
    /// increments ([`Shape::stages_increments`]); returns the path written and the file (none
    /// without an increment).
    fn write_increment(
        &mut self,
        index: UpdateIndex,
    ) -> Result<Option<(RelPath, F::File)>, JournalError> {
        let (fs, seq) = (self.fs, self.seq);
        let staged = self.shape().stages_increments();
        let p = &mut self.prepared[index.0];
        let (Some(inc), Some(source)) = (&p.record.increment, p.increment.take()) else {
            return Ok(None);
        };
        let path = match staged {
            true => format::try_increment_temp_path(&inc.path, seq, index.0)?,
            false => inc.path.clone(),
        };
        let mut file = p.attrs.create(fs, &path)?;
        copy_source(fs, &mut file, source)?;
        Ok(Some((path, file)))
    }

    /// Step 3, **commit point** (atomic batches only): the commit record written and made
    /// durable with the journal directory.
    pub fn commit_point(&mut self) -> Result<(), JournalError> {
        if !self.atomic {
            return Ok(());
        }
        let commit = Entry {
            seq: self.seq,
            kind: EntryKind::Commit,
            updates: Vec::new(),
        };
        let mut step = self.barrier();
        let path = self.entry_path("commit");
        step.file(write_file(self.fs, &path, &format::encode(&commit)?)?);
        step.dir(self.dir.clone());
        step.finish(self.fs)?;
        self.journal_dir.synced();
        Ok(())
    }

    /// Switches update `index`: its staged increment renamed into place
    /// ([`Transaction::switch_increment`]), then [`Transaction::switch_target`].
    pub fn switch_update(&mut self, index: UpdateIndex) -> Result<(), JournalError> {
        self.switch_increment(index)?;
        self.switch_target(index)
    }

    /// Renames update `index`'s increment from its temp name into place, if the transaction
    /// stages its increments ([`Shape::stages_increments`]); its directory is then published
    /// by [`Transaction::publish`]. Recovery finishes or undoes this rename by the update's
    /// verdict, whichever order the two renames of an update reach the disk in.
    pub fn switch_increment(&mut self, index: UpdateIndex) -> Result<(), JournalError> {
        if !self.shape().stages_increments() {
            return Ok(());
        }
        let Some(inc) = &self.prepared[index.0].record.increment else {
            return Ok(());
        };
        let temp = format::try_increment_temp_path(&inc.path, self.seq, index.0)?;
        self.fs.rename(&temp, &inc.path)?;
        self.target_dirs.insert(parent(&inc.path));
        Ok(())
    }

    /// Switches update `index`'s target: its temp renamed over it, or the target unlinked for a
    /// deletion of an existing file; the target's directory is then published by
    /// [`Transaction::publish`].
    pub fn switch_target(&mut self, index: UpdateIndex) -> Result<(), JournalError> {
        let record = &self.prepared[index.0].record;
        let target = &record.target;
        match &record.temp {
            Some(temp) => self.fs.rename(temp, target)?,
            None if record.old != Content::Absent => self.fs.unlink(target)?,
            None => return Ok(()),
        }
        self.target_dirs.insert(parent(target));
        Ok(())
    }

    /// Step 4, **switch**: every update switched ([`Transaction::switch_update`]), in order.
    pub fn switch(&mut self) -> Result<(), JournalError> {
        (0..self.prepared.len()).try_for_each(|i| self.switch_update(UpdateIndex(i)))
    }

    /// Step 5, **publish**: the directories of the targets switched (and of the increments
    /// renamed into place) made durable together.
    pub fn publish(&mut self) -> Result<(), JournalError> {
        let mut step = self.barrier();
        std::mem::take(&mut self.target_dirs)
            .into_iter()
            .for_each(|d| step.dir(d));
        Ok(step.finish(self.fs)?)
    }

    /// Removes the entry files, the last written first.
    pub fn remove_entries(&mut self) -> Result<(), JournalError> {
        for e in self.entry_paths().iter().rev() {
            self.fs.unlink(e)?;
        }
        Ok(())
    }

    /// Removes the session's older floors: this session's is durable (the intent's barrier).
    pub fn remove_old_floors(&mut self) -> Result<(), JournalError> {
        for old in std::mem::take(self.old_floors) {
            self.fs.unlink(&old)?;
        }
        Ok(())
    }

    /// Step 6, **clean**: [`Transaction::remove_entries`], then
    /// [`Transaction::remove_old_floors`].
    pub fn clean(&mut self) -> Result<(), JournalError> {
        self.remove_entries()?;
        self.remove_old_floors()
    }

    fn entry_path(&self, kind: &str) -> RelPath {
        self.entry_path_of(self.seq, kind)
    }

    fn entry_path_of(&self, seq: u64, kind: &str) -> RelPath {
        entry_path(self.dir, seq, kind)
    }
}

/// The path of the journal file `<seq>.<kind>` in `dir`.
pub(super) fn entry_path(dir: &RelPath, seq: u64, kind: &str) -> RelPath {
    dir.join(&format!("{seq:016x}.{kind}"))
        .expect("an entry name is a plain component")
}

/// Streams a change into a fresh temp file, returning the digest of what was written.
fn copy_change<F: Fs>(
    fs: &F,
    file: &mut F::File,
    change: super::Change,
) -> Result<format::Digest, JournalError> {
    match change {
        super::Change::Write(source) => copy_source(fs, file, source),
        super::Change::Stream(mut reader) => copy_stream(fs, file, &mut reader, "<reader>"),
        super::Change::Delete => unreachable!("a deletion has no temp file"),
    }
}

/// Writes a source into a fresh file, returning the digest of what was written.
fn copy_source<F: Fs>(
    fs: &F,
    file: &mut F::File,
    source: super::Source,
) -> Result<format::Digest, JournalError> {
    match source {
        super::Source::Bytes(bytes) => {
            fs.write_at(file, 0, &bytes)?;
            Ok(format::Digest::of(&bytes))
        }
        super::Source::File(path) => {
            let name = path.display().to_string();
            copy_stream(fs, file, &mut open_host_file(&path)?, &name)
        }
    }
}

/// Copies a reader into a fresh file, returning the digest of what was written.
fn copy_stream<F: Fs>(
    fs: &F,
    file: &mut F::File,
    reader: &mut dyn std::io::Read,
    name: &str,
) -> Result<format::Digest, JournalError> {
    let mut offset = 0u64;
    digest_stream(reader, name, |chunk| {
        fs.write_at(file, offset, chunk)?;
        offset += chunk.len() as u64;
        Ok(())
    })
}

/// Creates `path` holding `bytes`, for the caller's barrier.
fn write_file<F: Fs>(fs: &F, path: &RelPath, bytes: &[u8]) -> Result<F::File, JournalError> {
    let mut file = fs.create_new(path)?;
    fs.write_at(&mut file, 0, bytes)?;
    Ok(file)
}

/// The directory holding `path`.
pub(super) fn parent(path: &RelPath) -> RelPath {
    path.parent().unwrap_or_else(RelPath::root)
}

/// How many files a step keeps open for its barrier before it makes them durable early (a
/// batch of any size must not run out of file descriptors).
const MAX_OPEN_IN_STEP: usize = 256;

/// The barrier that ends one step of the protocol: the files written and the directories
/// changed in it, made durable together before the next step begins — one barrier group
/// ([`Fs::sync_group`], whose calls a real backend issues concurrently) with
/// [`SyncMode::PerFile`], one `syncfs` with [`SyncMode::Syncfs`].
pub struct Barrier<File> {
    sync: SyncMode,
    files: Vec<File>,
    dirs: BTreeSet<RelPath>,
}

impl<File> Barrier<File> {
    fn new(sync: SyncMode) -> Self {
        Barrier {
            sync,
            files: Vec::new(),
            dirs: BTreeSet::new(),
        }
    }

    /// A file whose data must be durable (with `syncfs`, closed at once: the `syncfs` covers it).
    pub fn file(&mut self, file: File) {
        if self.sync == SyncMode::PerFile {
            self.files.push(file);
        }
    }

    /// A directory whose entries must be durable.
    pub fn dir(&mut self, dir: RelPath) {
        self.dirs.insert(dir);
    }

    /// Makes the files gathered so far durable if there are many (their directories wait for
    /// [`Barrier::finish`]).
    fn flush_if_full<F: Fs<File = File>>(&mut self, fs: &F) -> Result<(), FsError> {
        if self.files.len() >= MAX_OPEN_IN_STEP {
            let mut files: Vec<&mut File> = self.files.iter_mut().collect();
            fs.sync_group(&mut files, &[])?;
            self.files.clear();
        }
        Ok(())
    }

    /// Issues the barrier; nothing of the next step may start before it returns `Ok`.
    pub fn finish<F: Fs<File = File>>(mut self, fs: &F) -> Result<(), FsError> {
        match self.sync {
            SyncMode::PerFile => {
                let mut files: Vec<&mut File> = self.files.iter_mut().collect();
                let dirs: Vec<RelPath> = std::mem::take(&mut self.dirs).into_iter().collect();
                fs.sync_group(&mut files, &dirs)
            }
            SyncMode::Syncfs => fs.syncfs(),
        }
    }
}
