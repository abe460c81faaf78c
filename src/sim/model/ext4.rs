//! ext4 in `data=ordered` mode: posix's coverage, with its ordering rules.

use super::posix::{posix_resolutions, write_variants};
use super::{Model, OpContext, PendingOp, Resolution, Variant};
use crate::sim::trace::{Ino, TraceOp};
use std::collections::BTreeMap;

/// ALICE's ext4 (`data=ordered`) model, OSDI'14 table 2, with the ext4 documentation's journal
/// (`Documentation/filesystems/ext4`: metadata is journaled by jbd2, whose transactions commit in
/// order; in `data=ordered` mode a transaction's data blocks are written before it commits):
///
/// - metadata operations persist in issue order among themselves: directory operations (create,
///   link, unlink, rmdir, mkdir, symlink, rename, exchange) and the inode changes `set_len` and
///   `set_mode` all go through the one journal, so the persisted subset of the pending ones is a
///   prefix of them, and a durable one makes every earlier one durable (an fsync commits the
///   whole running transaction; a failed sync afterwards cannot take back what that commit
///   made durable);
/// - a renamed file's data persists before the rename ("safe rename", ext4's `auto_da_alloc`):
///   if a rename persisted, every earlier write to the renamed inode persisted, also one whose
///   own fsync fails later (an exchange is not covered: `auto_da_alloc` only detects the
///   replace-via-rename pattern);
/// - other file data may be lost, reordered (an unsynced write to one file may be lost while a
///   later synced write to another persisted: ordered mode orders data before the metadata that
///   exposes it, not writes among themselves) or torn at block granularity across blocks, while
///   an overwrite within one block is atomic;
/// - an append never shows zeros (ordered mode writes data blocks before committing the new
///   size), unlike [`Posix`](super::Posix);
/// - fsync, fdatasync, fsync of a directory and syncfs cover what they cover under
///   [`Posix`](super::Posix).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ext4Ordered;

impl Model for Ext4Ordered {
    fn name(&self) -> &'static str {
        "ext4-ordered"
    }
    fn summary(&self) -> &'static str {
        "ext4 data=ordered: directory operations in order, data before a rename of its file"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        let mut res = posix_resolutions(trace);
        // A durable metadata operation makes every earlier one durable (issue order).
        let mut earliest = usize::MAX;
        for j in (0..trace.len()).rev() {
            if !trace[j].is_metadata_op() {
                continue;
            }
            if res[j].kept && res[j].at < earliest {
                earliest = res[j].at;
            }
            // Pending, or resolved after the commit that made a later one durable (a failed
            // sync then has nothing left to drop): durable from that commit on.
            if res[j].at > earliest {
                res[j] = Resolution::durable(earliest);
            }
        }
        // Safe rename: a durable rename makes the earlier writes to its inode durable.
        let mut writes: BTreeMap<Ino, Vec<usize>> = BTreeMap::new();
        for j in 0..trace.len() {
            match &trace[j] {
                TraceOp::Write { ino, .. } => writes.entry(*ino).or_default().push(j),
                TraceOp::Rename { ino, .. } if res[j].kept => {
                    for &w in writes.get(ino).into_iter().flatten() {
                        // Pending, or resolved after the rename was durable: durable with it.
                        if res[w].at > res[j].at {
                            res[w] = Resolution::durable(res[j].at);
                        }
                    }
                }
                _ => {}
            }
        }
        res
    }
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant> {
        write_variants(op, cx, false)
    }
    fn close(&self, pending: &[PendingOp<'_>], choice: &mut [u16]) {
        // Metadata operations: once one is lost, every later one is lost.
        let mut lost = false;
        for (p, c) in pending.iter().zip(choice.iter_mut()) {
            if !p.op.is_metadata_op() {
                continue;
            }
            if lost {
                *c = p.position(&Variant::Lost).unwrap_or(*c);
            } else if !p.persists(*c) {
                lost = true;
            }
        }
        // Safe rename: a persisted rename brings every earlier write to its inode with it.
        for r in (0..pending.len()).rev() {
            let TraceOp::Rename { ino, .. } = pending[r].op else {
                continue;
            };
            if !pending[r].persists(choice[r]) {
                continue;
            }
            for w in 0..r {
                if matches!(pending[w].op, TraceOp::Write { ino: i, .. } if i == ino) {
                    choice[w] = 0;
                }
            }
        }
    }
}
