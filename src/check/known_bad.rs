//! Known-bad protocols: the journal with one deliberate bug each, for the self-test.
//!
//! They exist so that the harness can prove it catches real mistakes (`crashsafe check
//! --self-test`): each one is a bug seen in the wild or a step of the protocol left out, and each
//! declares the invariants it must break ([`KnownBad::breaks`]); the self-test counts it caught
//! only when one of those is. None of them is in the journal: each swaps or skips one step
//! through the journal's seam, [`crate::journal::steps::Steps`], building the replacement from
//! the steps' public primitives; every step it does not name is the journal's own
//! ([`Standard`]).
//!
//! To add one: a variant with its story, its name in [`KnownBad::ALL`] and [`KnownBad::name`],
//! the invariants it breaks in [`KnownBad::breaks`], and the step it changes in the
//! [`Steps`] impl below.

use super::oracle::Invariant;
use crate::format::{Content, Entry, UpdateRecord};
use crate::fs::Fs;
use crate::journal::commit::{Barrier, Transaction, UpdateIndex};
use crate::journal::recover::{Action, Durability, Observed, Recovery, Refusal};
use crate::journal::{JournalError, Standard, Steps, SyncMode};
use crate::path::RelPath;

/// One deliberate protocol bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KnownBad {
    /// The intent file is fsynced but not the journal directory, in a transaction with an
    /// increment or a commit point (one that makes its intent durable before its data): the
    /// entry's name can vanish in a crash after the update started, leaving an increment beside
    /// an old target, or a half-done batch, that nobody recovers.
    NoJournalDirFsync,
    /// The temp file is renamed over the target before its data is fsynced: the target can be
    /// empty or torn after a crash (the ext4 zero-length-file bug of 2009).
    RenameBeforeTempFsync,
    /// The entry is removed before the target's directory is fsynced: the rename can be lost
    /// while the entry's removal is not, so nobody knows the update was half done.
    EntryRemovedBeforeTargetDirFsync,
    /// Recovery decides whether an update happened from the target's file type, as the
    /// reference journal does: a regular file replaced by a regular file looks untouched, and
    /// the increment of an update that did happen is deleted.
    CommitByFileType,
    /// Recovery decides from the temp file: present means "not done". A crash inside recovery,
    /// after it removed the temp but before it removed the increment, makes the next recovery
    /// keep an increment for an update that never happened: recovery is not idempotent.
    DecideByTempPresence,
    /// The increment is not fsynced before the switch: an update can show its new content with
    /// an empty or torn increment.
    NoIncrementFsync,
    /// The commit returns before the target's directory is fsynced: an acknowledged update can
    /// be lost.
    AckBeforeTargetDirFsync,
    /// Recovery removes the entries without first fsyncing the directories it cleaned: a crash
    /// after that leaves temp files or increments that nothing names any more.
    NoRecoveryDirFsync,
    /// A batch renames each temp file as soon as it is written, before the others are durable
    /// and before the commit point: an atomic batch can end up half new.
    RenameBeforeAllTempsDurable,
    /// Recovery rolls an atomic batch forward whenever its temp files exist, without its commit
    /// record: a batch that crashed before its commit point ends up partly new with torn files.
    RollForwardWithoutCommitRecord,
    /// Recovery judges an update from what the live view shows and retires the entry without
    /// making that durable itself: after a process crash or a failed fsync, the switch it saw
    /// may never reach the disk, and a power loss then leaves the target old beside a kept
    /// increment, with nothing left to fix it (crashsafe's own recovery before it learned this).
    RecoveryTrustsLiveView,
    /// Recovery does not sweep the registered directories: a temp file written with an intent
    /// that never became durable stays forever, since no entry names it.
    NoOrphanSweep,
    /// In a transaction that makes its intent durable with its data, each increment is renamed
    /// from its temp name into place as soon as it is written, before the barrier that makes
    /// the intent durable: a crash can leave an increment at its own path that no durable entry
    /// names, beside a target that never changed — history nobody undoes.
    IncrementInPlaceBeforeIntentDurable,
}

impl KnownBad {
    /// Every known-bad protocol, in a fixed order.
    pub const ALL: [KnownBad; 13] = [
        KnownBad::NoJournalDirFsync,
        KnownBad::RenameBeforeTempFsync,
        KnownBad::EntryRemovedBeforeTargetDirFsync,
        KnownBad::CommitByFileType,
        KnownBad::DecideByTempPresence,
        KnownBad::NoIncrementFsync,
        KnownBad::AckBeforeTargetDirFsync,
        KnownBad::NoRecoveryDirFsync,
        KnownBad::RenameBeforeAllTempsDurable,
        KnownBad::RollForwardWithoutCommitRecord,
        KnownBad::RecoveryTrustsLiveView,
        KnownBad::NoOrphanSweep,
        KnownBad::IncrementInPlaceBeforeIntentDurable,
    ];

    /// A short kebab-case name, for reports and the command line.
    pub fn name(self) -> &'static str {
        match self {
            KnownBad::NoJournalDirFsync => "no-journal-dir-fsync",
            KnownBad::RenameBeforeTempFsync => "rename-before-temp-fsync",
            KnownBad::EntryRemovedBeforeTargetDirFsync => "entry-removed-before-target-dir-fsync",
            KnownBad::CommitByFileType => "commit-by-file-type",
            KnownBad::DecideByTempPresence => "decide-by-temp-presence",
            KnownBad::NoIncrementFsync => "no-increment-fsync",
            KnownBad::AckBeforeTargetDirFsync => "ack-before-target-dir-fsync",
            KnownBad::NoRecoveryDirFsync => "no-recovery-dir-fsync",
            KnownBad::RenameBeforeAllTempsDurable => "rename-before-all-temps-durable",
            KnownBad::RollForwardWithoutCommitRecord => "roll-forward-without-commit-record",
            KnownBad::RecoveryTrustsLiveView => "recovery-trusts-live-view",
            KnownBad::NoOrphanSweep => "no-orphan-sweep",
            KnownBad::IncrementInPlaceBeforeIntentDurable => {
                "increment-in-place-before-intent-durable"
            }
        }
    }

    /// The known-bad protocol with this [`KnownBad::name`].
    pub fn from_name(name: &str) -> Option<KnownBad> {
        KnownBad::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether the bug shows only in batches (the self-test runs batch workloads for these).
    pub fn is_batch_bug(self) -> bool {
        matches!(
            self,
            KnownBad::RenameBeforeAllTempsDurable | KnownBad::RollForwardWithoutCommitRecord
        )
    }

    /// The invariants it must break: the self-test counts it caught only when one of these is
    /// broken (another violation means the harness saw *something*, not the bug).
    pub fn breaks(self) -> &'static [Invariant] {
        use Invariant::*;
        match self {
            // The intent's name can vanish: a half-done update nobody recovers leaves its temp,
            // or an increment beside an old target.
            KnownBad::NoJournalDirFsync => &[Clean, History],
            // The renamed file's data was never made durable: an empty or torn target.
            KnownBad::RenameBeforeTempFsync => &[Atomic, Durable],
            // The rename may be lost once the entry is gone: an old target beside its
            // increment, or an acknowledged update lost.
            KnownBad::EntryRemovedBeforeTargetDirFsync => &[History, Durable],
            // The increment of an update that did happen is deleted.
            KnownBad::CommitByFileType => &[History],
            // After a crash inside recovery, an increment is kept for an update that never
            // happened.
            KnownBad::DecideByTempPresence => &[History, Idempotent],
            // A new target beside an empty or torn increment.
            KnownBad::NoIncrementFsync => &[History],
            // An acknowledged update can be lost.
            KnownBad::AckBeforeTargetDirFsync => &[Durable],
            // Temps or increments nothing names any more.
            KnownBad::NoRecoveryDirFsync => &[Clean, History],
            // A batch half new.
            KnownBad::RenameBeforeAllTempsDurable => &[BatchAtomic, Atomic],
            // A batch rolled forward before its commit point: partly new, torn files.
            KnownBad::RollForwardWithoutCommitRecord => &[BatchAtomic, Atomic],
            // The switch recovery saw never reaches the disk: an old target beside a kept
            // increment, or a temp that comes back.
            KnownBad::RecoveryTrustsLiveView => &[History, Clean],
            // An orphan temp stays.
            KnownBad::NoOrphanSweep => &[Clean],
            // An increment beside a target that never changed.
            KnownBad::IncrementInPlaceBeforeIntentDurable => &[History],
        }
    }

    /// Whether its data step renames each temp over its target as soon as it is written.
    fn renames_early(self) -> bool {
        matches!(
            self,
            KnownBad::RenameBeforeTempFsync | KnownBad::RenameBeforeAllTempsDurable
        )
    }
}

impl Steps for KnownBad {
    /// `no-journal-dir-fsync`: the intent's barrier leaves the journal directory out (in a
    /// transaction whose intent is made durable, before or with its data).
    fn intent<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        match self {
            KnownBad::NoJournalDirFsync if !t.joins_intent_and_data() => {
                let file = t.write_intent()?;
                t.intent_barrier(file, false)
            }
            _ => Standard.intent(t),
        }
    }

    /// `rename-before-temp-fsync`: the temp is switched at once, then joins the barrier.
    /// `rename-before-all-temps-durable`: the temp is fsynced on its own (with fsync per file)
    /// and switched at once, before the other temps are durable and before the commit point.
    fn temp_written<F: Fs>(
        &self,
        t: &mut Transaction<'_, F>,
        index: UpdateIndex,
        mut file: F::File,
        barrier: &mut Barrier<F::File>,
    ) -> Result<(), JournalError> {
        match self {
            KnownBad::RenameBeforeTempFsync => {
                t.switch_target(index)?;
                barrier.file(file);
                Ok(())
            }
            KnownBad::RenameBeforeAllTempsDurable => {
                if t.sync_mode() == SyncMode::PerFile {
                    t.fs().fsync(&mut file)?;
                }
                t.switch_target(index)
            }
            _ => Standard.temp_written(t, index, file, barrier),
        }
    }

    /// `no-increment-fsync`: the increment is left out of the barrier (its directory is not).
    /// `increment-in-place-before-intent-durable`: the increment is renamed into place at once,
    /// then joins the barrier.
    fn increment_written<F: Fs>(
        &self,
        t: &mut Transaction<'_, F>,
        index: UpdateIndex,
        file: F::File,
        barrier: &mut Barrier<F::File>,
    ) -> Result<(), JournalError> {
        match self {
            KnownBad::NoIncrementFsync => {
                drop(file);
                Ok(())
            }
            KnownBad::IncrementInPlaceBeforeIntentDurable => {
                t.switch_increment(index)?;
                barrier.file(file);
                Ok(())
            }
            _ => Standard.increment_written(t, index, file, barrier),
        }
    }

    /// The protocols that switched each temp in the data step switch only the increments and
    /// the deletions here; the one that renamed each increment into place there switches only
    /// the targets.
    fn switch<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        let updates: Vec<UpdateIndex> = t.updates().collect();
        if *self == KnownBad::IncrementInPlaceBeforeIntentDurable {
            return updates.into_iter().try_for_each(|i| t.switch_target(i));
        }
        if !self.renames_early() {
            return Standard.switch(t);
        }
        for i in updates {
            t.switch_increment(i)?;
            if !t.has_temp(i) {
                t.switch_target(i)?;
            }
        }
        Ok(())
    }

    /// `ack-before-target-dir-fsync`: no publish. `entry-removed-before-target-dir-fsync`: the
    /// entry files are unlinked (in the order written) before the publish.
    fn publish<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        match self {
            KnownBad::AckBeforeTargetDirFsync => Ok(()),
            KnownBad::EntryRemovedBeforeTargetDirFsync => {
                for entry in t.entry_paths() {
                    t.fs().unlink(&entry)?;
                }
                t.publish()
            }
            _ => Standard.publish(t),
        }
    }

    /// `entry-removed-before-target-dir-fsync`: the entries are gone already; only the old
    /// floors remain to remove.
    fn clean<F: Fs>(&self, t: &mut Transaction<'_, F>) -> Result<(), JournalError> {
        match self {
            KnownBad::EntryRemovedBeforeTargetDirFsync => t.remove_old_floors(),
            _ => Standard.clean(t),
        }
    }

    /// `commit-by-file-type`: happened if the target's existence changed.
    /// `decide-by-temp-presence`: an update with a temp happened if its temp is gone.
    fn judge<F: Fs>(&self, fs: &F, update: &UpdateRecord, seen: &Observed) -> bool {
        match self {
            KnownBad::CommitByFileType => {
                matches!(update.old, Content::Absent) != matches!(seen.target, Content::Absent)
            }
            KnownBad::DecideByTempPresence if update.temp.is_some() => !seen.temp_exists,
            _ => Standard.judge(fs, update, seen),
        }
    }

    /// `roll-forward-without-commit-record`: forward if the record or any temp exists.
    fn rolls_forward(&self, entry: &Entry, seen: &[Observed], commit_record: bool) -> bool {
        match self {
            KnownBad::RollForwardWithoutCommitRecord => {
                commit_record || seen.iter().any(|s| s.temp_exists)
            }
            _ => Standard.rolls_forward(entry, seen, commit_record),
        }
    }

    /// `roll-forward-without-commit-record`: any existing temp is taken as complete.
    fn temp_holds_new<F: Fs>(&self, fs: &F, update: &UpdateRecord, temp: &RelPath) -> bool {
        match self {
            KnownBad::RollForwardWithoutCommitRecord => true,
            _ => Standard.temp_holds_new(fs, update, temp),
        }
    }

    /// `recovery-trusts-live-view`: nothing the live view shows is made durable.
    fn secure(&self, need: Durability<'_>) -> Result<Option<Action>, Refusal> {
        match self {
            KnownBad::RecoveryTrustsLiveView => Ok(None),
            _ => Standard.secure(need),
        }
    }

    /// `no-recovery-dir-fsync`: the entry is unlinked before its actions, and not retired.
    fn act<F: Fs>(
        &self,
        r: &mut Recovery<'_, F>,
        entry: &str,
        actions: Vec<Action>,
    ) -> Result<(), JournalError> {
        match self {
            KnownBad::NoRecoveryDirFsync => {
                r.remove_entry(entry)?;
                actions.into_iter().try_for_each(|a| r.act(a))
            }
            _ => Standard.act(r, entry, actions),
        }
    }

    /// `no-orphan-sweep`: the registered directories are not looked in.
    fn sweep<F: Fs>(&self, r: &mut Recovery<'_, F>) -> Result<(), JournalError> {
        match self {
            KnownBad::NoOrphanSweep => Ok(()),
            _ => Standard.sweep(r),
        }
    }

    /// `no-recovery-dir-fsync`: the directories touched are not fsynced.
    fn retire<F: Fs>(&self, r: &mut Recovery<'_, F>) -> Result<(), JournalError> {
        match self {
            KnownBad::NoRecoveryDirFsync => r.remove_retired(),
            _ => Standard.retire(r),
        }
    }
}
