//! Writes no crash state can show: the data of a file whose only name is durably gone.
//!
//! A program often writes a file it later unlinks without ever fsyncing it: the journal's
//! intent of a plain replace (`src/journal/commit.rs`, "joined") is written, never fsynced, and
//! unlinked once the update is published. No barrier covers such a write, so under the posix
//! models it would stay pending for the rest of the trace, and every crash point after it would
//! carry its variants (lost, torn, zeros) and rebuild every later operation on top of the
//! checkpoint it holds back (`crate::sim::states`). Yet once the unlink is durable, no crash
//! state shows the write: [`settle_unseen_writes`] resolves it from then on as
//! [`Resolution::unseen`], so the checkpoint moves past it and the states it only multiplied are
//! built once.
//!
//! # Why a settled write changes no crash state
//!
//! A crash state at point `c` is built by applying, in issue order, the operations resolved as
//! kept and one variant of each pending one; an operation whose precondition does not hold
//! (`Image::apply`: its inode missing, its name taken or gone) is a no-op. Take a file `f` of
//! the trace such that:
//!
//! 1. it is created once, at `i₁`, as name `n` in directory `D` (a `Create` of inode `f`);
//! 2. it is unlinked once, at `i₂ > i₁`, by an `Unlink` of `n` in `D` naming inode `f`, which is
//!    resolved as kept from crash point `c₂` on;
//! 3. no operation of the trace links, renames or exchanges `f`, and none between `i₁` and `i₂`
//!    creates, removes, renames or exchanges the name `n` in `D`;
//!
//! and let `c ≥ c₂`. If the `Create` at `i₁` does not apply in a state (lost, or its name taken),
//! inode `f` never exists there, and a write to it is a no-op. If it applies, `n` in `D` names
//! `f`; by 3 nothing changes that name until `i₂` (and `D`, holding it, cannot be removed), so
//! the `Unlink` at `i₂`, kept at `c`, finds `n` naming `f` and removes it; by 3 it was `f`'s only
//! name, so `f` is released and, no operation naming it again, absent from the state. Either way
//! `f` has no name in any crash state at `c`, whatever any write to it became: lost, whole, torn
//! or zeros give one and the same image. So resolving such a write as not applied from
//! `max(c₂, its own index + 1)` on leaves the set of crash images of every crash point exactly as
//! it was.
//!
//! Only writes are settled: a `set_len` or a `set_mode` is a metadata operation that ext4's
//! ordering rule chains to the others (`super::Ext4Ordered`), so a lost one constrains which
//! later ones persist; a write is ordered with nothing but a rename of its own inode, which 3
//! excludes. An inode created twice in one trace (a number reused) is never settled.

use super::Resolution;
use crate::path::RelPath;
use crate::sim::trace::{Ino, TraceOp};
use std::collections::BTreeMap;

/// Resolves as [`Resolution::unseen`] every write that no crash state can show from some crash
/// point on (see the module doc), where it would otherwise be pending or resolved later.
pub(crate) fn settle_unseen_writes(trace: &[TraceOp], res: &mut [Resolution]) {
    let gone = nameless_from(trace, res);
    for (j, op) in trace.iter().enumerate() {
        let TraceOp::Write { ino, .. } = op else {
            continue;
        };
        if let Some(&c2) = gone.get(ino) {
            let at = c2.max(j + 1);
            if res[j].at > at {
                res[j] = Resolution::unseen(at);
            }
        }
    }
}

/// The one life of a file created by the trace (conditions 1 to 3 of the module doc).
struct Life {
    /// Where its one unlink is (condition 2), once met.
    unlinked_at: Option<usize>,
    /// Whether conditions 1 and 3 still hold.
    single: bool,
}

/// For each file created by `trace` that meets conditions 1 to 3, the crash point `c₂` from
/// which its unlink is kept: from then on it has no name in any crash state.
fn nameless_from(trace: &[TraceOp], res: &[Resolution]) -> BTreeMap<Ino, usize> {
    let mut lives: BTreeMap<Ino, Life> = BTreeMap::new();
    // The names of the lives created and not yet unlinked, to the file they name.
    let mut open: BTreeMap<(Ino, &str), Ino> = BTreeMap::new();
    for (j, op) in trace.iter().enumerate() {
        let unlinking = match op {
            TraceOp::Unlink { path, ino, dir } => Some((*dir, path.file_name(), *ino)),
            _ => None,
        };
        for (dir, name) in touched_names(op) {
            let Some(&f) = open.get(&(dir, name)) else {
                continue;
            };
            if unlinking == Some((dir, Some(name), f)) {
                open.remove(&(dir, name));
                if let Some(life) = lives.get_mut(&f) {
                    life.unlinked_at = Some(j);
                }
            } else if let Some(life) = lives.get_mut(&f) {
                life.single = false;
            }
        }
        for f in named_inodes(op) {
            if let Some(life) = lives.get_mut(&f) {
                life.single = false;
            }
        }
        if let TraceOp::Create { path, ino, dir, .. } = op {
            match lives.get_mut(ino) {
                Some(life) => life.single = false,
                None => {
                    let name = path.file_name().unwrap_or_default();
                    let life = Life {
                        unlinked_at: None,
                        single: true,
                    };
                    lives.insert(*ino, life);
                    open.insert((*dir, name), *ino);
                }
            }
        }
    }
    lives
        .into_iter()
        .filter(|(_, life)| life.single)
        .filter_map(|(f, life)| {
            let i2 = life.unlinked_at?;
            (res[i2].kept && res[i2].at != usize::MAX).then_some((f, res[i2].at))
        })
        .collect()
}

/// The names (directory, name) an operation creates, removes, renames or exchanges.
fn touched_names(op: &TraceOp) -> Vec<(Ino, &str)> {
    fn name(p: &RelPath) -> &str {
        p.file_name().unwrap_or_default()
    }
    match op {
        TraceOp::Create { path, dir, .. }
        | TraceOp::Mkdir { path, dir, .. }
        | TraceOp::Symlink { path, dir, .. }
        | TraceOp::Unlink { path, dir, .. }
        | TraceOp::Rmdir { path, dir, .. } => vec![(*dir, name(path))],
        TraceOp::Link { new, dir, .. } => vec![(*dir, name(new))],
        TraceOp::Rename {
            from,
            to,
            from_dir,
            to_dir,
            ..
        }
        | TraceOp::Exchange {
            from,
            to,
            from_dir,
            to_dir,
            ..
        } => vec![(*from_dir, name(from)), (*to_dir, name(to))],
        _ => Vec::new(),
    }
}

/// The inodes an operation links, renames or exchanges (gives a name other than their first).
fn named_inodes(op: &TraceOp) -> Vec<Ino> {
    match op {
        TraceOp::Link { ino, .. } | TraceOp::Rename { ino, .. } => vec![*ino],
        TraceOp::Exchange {
            from_ino, to_ino, ..
        } => vec![*from_ino, *to_ino],
        _ => Vec::new(),
    }
}
