//! The posix model and the barrier coverage and write variants the posix-like models share.

use super::{Model, OpContext, Resolution, Variant};
use crate::sim::image::blocks_touched;
use crate::sim::trace::{Ino, SyncCall, TraceOp};
use std::collections::{BTreeMap, BTreeSet};

/// The weakest model a correct program may assume (POSIX and Linux `fsync(2)`; ALICE's abstract
/// persistence model, OSDI'14 table 3):
///
/// - `fsync` of a file makes that inode's earlier writes, `set_len`s and `set_mode`s durable;
///   `fdatasync` its writes and `set_len`s only (`fdatasync(2)`: it flushes the metadata needed
///   to read the data back, such as the size, not the mode); neither makes its directory entry
///   durable;
/// - `fsync` of a directory makes that directory's earlier entry operations durable (create,
///   link, unlink, rmdir, mkdir, symlink in it); a rename or exchange is covered once every
///   directory it touches has been fsynced after it;
/// - `syncfs` covers everything before it;
/// - a failed sync drops what it was meant to flush, for good ("fsyncgate", ATC'20);
/// - any operation not covered may be lost independently of the others, in any order: an
///   unsynced write to one file may be lost while a later, synced write to another file
///   persisted;
/// - an overwrite within one block is atomic (all or nothing); a write that spans several
///   blocks may persist torn at block granularity (some of its blocks; "All File Systems Are Not
///   Created Equal" observed this on every file system tested);
/// - an append (a write past the least size its file may have: its durable size, or less after
///   a truncation) may persist as zeros: the size update reached the disk before the data
///   (ALICE table 3, "appends are not atomic"; ext4 `data=writeback`);
/// - `set_len`, `set_mode`, `link`, `rmdir`, a rename and an exchange are each atomic, but may
///   be lost: a shrink leaves the old length or the new one, a growth the old length or the new
///   one with zeros.
#[derive(Debug, Clone, Copy, Default)]
pub struct Posix;

impl Model for Posix {
    fn name(&self) -> &'static str {
        "posix"
    }
    fn summary(&self) -> &'static str {
        "only fsync'd data and fsync'd directory entries survive; writes may tear or be zeros"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        posix_resolutions(trace)
    }
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant> {
        write_variants(op, cx, true)
    }
    /// "Any operation not covered may be lost independently of the others, in any order."
    fn independent_ops(&self) -> bool {
        true
    }
}

/// The variants of a pending operation under the posix-like models: full or lost; a write that
/// spans several blocks may also tear; an append may persist as zeros when `zeros` is set.
///
/// Torn variants: every proper non-empty subset of the blocks when the write spans at most 4
/// blocks; past that (to keep the count linear), every proper prefix, every proper suffix and
/// every all-but-one-block subset.
pub fn write_variants(op: &TraceOp, cx: &OpContext, zeros: bool) -> Vec<Variant> {
    let mut out = vec![Variant::Full, Variant::Lost];
    let TraceOp::Write { offset, len, .. } = op else {
        return out;
    };
    if zeros && offset + len > cx.min_len.unwrap_or(0) && *len > 0 {
        out.push(Variant::Zeros);
    }
    let blocks = blocks_touched(*offset, *len, cx.block_size.max(1)) as u32;
    if blocks >= 2 {
        let mut torn: BTreeSet<Vec<u32>> = BTreeSet::new();
        if blocks <= 4 {
            for mask in 1u32..(1 << blocks) - 1 {
                torn.insert((0..blocks).filter(|b| mask & (1 << b) != 0).collect());
            }
        } else {
            for i in 1..blocks {
                torn.insert((0..i).collect());
                torn.insert((i..blocks).collect());
            }
            for skip in 0..blocks {
                torn.insert((0..blocks).filter(|&b| b != skip).collect());
            }
        }
        out.extend(torn.into_iter().map(Variant::Torn));
    }
    out
}

/// Barrier coverage under [`Posix`] (see its doc): fsync covers the inode's earlier writes,
/// `set_len`s and `set_mode`s, fdatasync its writes and `set_len`s only (the size is needed to
/// read the data back; the mode is not, `fdatasync(2)`), fsync of a directory its earlier entry
/// operations (a rename or exchange once every directory it touches is synced), syncfs
/// everything; a failed sync drops what it would have covered. A write that no crash state can
/// show any more (to a file whose only name is durably gone) is then settled as unseen
/// (`model/unseen.rs`: the crash images stay the same).
pub fn posix_resolutions(trace: &[TraceOp]) -> Vec<Resolution> {
    let mut res = barrier_coverage(trace);
    super::unseen::settle_unseen_writes(trace, &mut res);
    res
}

/// The barriers' coverage alone (see [`posix_resolutions`]).
pub(super) fn barrier_coverage(trace: &[TraceOp]) -> Vec<Resolution> {
    let mut cover = Coverage {
        res: vec![Resolution::PENDING; trace.len()],
        ..Coverage::default()
    };
    for (j, op) in trace.iter().enumerate() {
        cover.step(j, op);
        if op.is_fsync_family() {
            cover.res[j] = Resolution::durable(j + 1);
        }
    }
    cover.res
}

/// The operations not yet covered by a barrier, by what covers them (see [`posix_resolutions`]).
#[derive(Default)]
struct Coverage {
    res: Vec<Resolution>,
    /// Writes and `set_len`s, by inode: covered by fsync and fdatasync.
    data: BTreeMap<Ino, Vec<usize>>,
    /// `set_mode`s, by inode: covered by fsync only.
    meta: BTreeMap<Ino, Vec<usize>>,
    /// Directory operations, by directory: covered by fsync of the directory.
    dirs: BTreeMap<Ino, Vec<usize>>,
    /// For a pending rename or exchange: the directories still to be synced after it.
    needs: BTreeMap<usize, Vec<Ino>>,
}

impl Coverage {
    fn step(&mut self, j: usize, op: &TraceOp) {
        let next = j + 1;
        match op {
            TraceOp::Write { ino, .. } | TraceOp::SetLen { ino, .. } => {
                self.data.entry(*ino).or_default().push(j)
            }
            TraceOp::SetMode { ino, .. } => self.meta.entry(*ino).or_default().push(j),
            TraceOp::Fsync { ino, .. } => {
                let done = self.take_file(*ino, true);
                self.settle(done, Resolution::durable(next));
            }
            TraceOp::Fdatasync { ino, .. } => {
                let done = self.take_file(*ino, false);
                self.settle(done, Resolution::durable(next));
            }
            TraceOp::FsyncDir { ino, .. } => self.sync_dir(*ino, next),
            TraceOp::Syncfs => {
                let all = self.take_all();
                self.settle(all, Resolution::durable(next));
            }
            TraceOp::FailedFsync { call, ino, .. } => {
                let dropped = match call {
                    SyncCall::Fsync => self.take_file(*ino, true),
                    SyncCall::Fdatasync => self.take_file(*ino, false),
                    SyncCall::FsyncDir => self.dirs.remove(ino).unwrap_or_default(),
                    SyncCall::Syncfs => self.take_all(),
                };
                self.settle(dropped, Resolution::dropped(next));
            }
            _ => {
                let dirs = op.dirs();
                for d in &dirs {
                    self.dirs.entry(*d).or_default().push(j);
                }
                if matches!(op, TraceOp::Rename { .. } | TraceOp::Exchange { .. }) {
                    self.needs.insert(j, dirs);
                }
            }
        }
    }

    /// Removes and returns what a sync of file `ino` covers (its mode changes with `fsync`).
    fn take_file(&mut self, ino: Ino, with_meta: bool) -> Vec<usize> {
        let mut out = self.data.remove(&ino).unwrap_or_default();
        if with_meta {
            out.extend(self.meta.remove(&ino).unwrap_or_default());
        }
        out
    }

    fn take_all(&mut self) -> Vec<usize> {
        let all = self
            .data
            .values()
            .chain(self.meta.values())
            .chain(self.dirs.values())
            .flatten()
            .copied()
            .collect();
        self.data.clear();
        self.meta.clear();
        self.dirs.clear();
        all
    }

    /// Marks every still pending operation of `ops` as `resolution`.
    fn settle(&mut self, ops: Vec<usize>, resolution: Resolution) {
        for e in ops {
            if self.res[e] == Resolution::PENDING {
                self.res[e] = resolution;
            }
        }
    }

    /// fsync of directory `dir`: its entry operations are durable, a rename or exchange once the
    /// last directory it touches is synced.
    fn sync_dir(&mut self, dir: Ino, next: usize) {
        for e in self.dirs.remove(&dir).unwrap_or_default() {
            if self.res[e] != Resolution::PENDING {
                continue;
            }
            match self.needs.get_mut(&e) {
                Some(needs) => {
                    needs.retain(|d| *d != dir);
                    if needs.is_empty() {
                        self.res[e] = Resolution::durable(next);
                    }
                }
                None => self.res[e] = Resolution::durable(next),
            }
        }
    }
}
