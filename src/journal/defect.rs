//! Known-bad protocols: the journal with one deliberate bug each.
//!
//! They exist so that the harness can prove it catches real mistakes (`crashsafe check
//! --self-test`): each one is a bug seen in the wild or a step of the protocol left out. They are
//! switched on only through [`super::JournalOptions::defect`]; real use leaves it `None`.

/// One deliberate protocol bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// The intent file is fsynced but not the journal directory: the entry's name can vanish in
    /// a crash after the update started, leaving a half-done update nobody recovers.
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
}

impl Defect {
    /// Every defect, in a fixed order.
    pub const ALL: [Defect; 11] = [
        Defect::NoJournalDirFsync,
        Defect::RenameBeforeTempFsync,
        Defect::EntryRemovedBeforeTargetDirFsync,
        Defect::CommitByFileType,
        Defect::DecideByTempPresence,
        Defect::NoIncrementFsync,
        Defect::AckBeforeTargetDirFsync,
        Defect::NoRecoveryDirFsync,
        Defect::RenameBeforeAllTempsDurable,
        Defect::RollForwardWithoutCommitRecord,
        Defect::RecoveryTrustsLiveView,
    ];

    /// A short kebab-case name, for reports and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Defect::NoJournalDirFsync => "no-journal-dir-fsync",
            Defect::RenameBeforeTempFsync => "rename-before-temp-fsync",
            Defect::EntryRemovedBeforeTargetDirFsync => "entry-removed-before-target-dir-fsync",
            Defect::CommitByFileType => "commit-by-file-type",
            Defect::DecideByTempPresence => "decide-by-temp-presence",
            Defect::NoIncrementFsync => "no-increment-fsync",
            Defect::AckBeforeTargetDirFsync => "ack-before-target-dir-fsync",
            Defect::NoRecoveryDirFsync => "no-recovery-dir-fsync",
            Defect::RenameBeforeAllTempsDurable => "rename-before-all-temps-durable",
            Defect::RollForwardWithoutCommitRecord => "roll-forward-without-commit-record",
            Defect::RecoveryTrustsLiveView => "recovery-trusts-live-view",
        }
    }

    /// The defect with this [`Defect::name`].
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether the bug shows only in batches (the self-test runs batch workloads for these).
    pub fn is_batch_bug(self) -> bool {
        matches!(
            self,
            Defect::RenameBeforeAllTempsDurable | Defect::RollForwardWithoutCommitRecord
        )
    }
}
