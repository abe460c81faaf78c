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
//! 2. it is unlinked at `i₂ > i₁` (an `Unlink` naming inode `f`), which is resolved as kept
//!    from crash point `c₂` on;
//! 3. no operation of the trace links, renames or exchanges `f`;
//!
//! and let `c ≥ c₂`. The trace is one the filesystem carried out, so in it `n` in `D` was `f`'s
//! only name from `i₁` to `i₂`, which is therefore an unlink of `n` in `D`, and no operation in
//! between created, removed, renamed or exchanged that name (a create or link onto it fails, a
//! rename onto it would have released `f`, and by 3 nothing renamed or exchanged `f` away).
//! If the `Create` at `i₁` does not apply in a crash state (lost, or its name taken), inode `f`
//! never exists there, and a write to it is a no-op. If it applies, `n` in `D` names `f`, and
//! nothing changes that name until `i₂` (nor removes `D`, which holds it), so the `Unlink` at
//! `i₂`, kept at `c`, finds `n` naming `f` and removes it; it was `f`'s only name, so `f` is
//! released and, no operation naming it again, absent from the state. Either way `f` has no
//! name in any crash state at `c`, whatever any write to it became: lost, whole, torn or zeros
//! give one and the same image. So resolving such a write as not applied from
//! `max(c₂, its own index + 1)` on leaves the set of crash images of every crash point exactly
//! as it was.
//!
//! Only writes are settled: a `set_len` or a `set_mode` is a metadata operation that ext4's
//! ordering rule chains to the others (`super::Ext4Ordered`), so a lost one constrains which
//! later ones persist; a write is ordered with nothing but a rename of its own inode, which 3
//! excludes. An inode created twice in one trace (a number reused) is never settled.

use super::Resolution;
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
    /// Where it was unlinked (condition 2), once it was.
    unlinked_at: Option<usize>,
    /// Whether conditions 1 and 3 still hold.
    single: bool,
}

/// For each file created by `trace` that meets conditions 1 to 3, the crash point `c₂` from
/// which its unlink is kept: from then on it has no name in any crash state.
fn nameless_from(trace: &[TraceOp], res: &[Resolution]) -> BTreeMap<Ino, usize> {
    let mut lives: BTreeMap<Ino, Life> = BTreeMap::new();
    for (j, op) in trace.iter().enumerate() {
        match op {
            TraceOp::Create { ino, .. } => {
                let reused = lives.contains_key(ino);
                let life = Life {
                    unlinked_at: None,
                    single: !reused,
                };
                lives.insert(*ino, life);
            }
            TraceOp::Unlink { ino, .. } => {
                if let Some(life) = lives.get_mut(ino) {
                    life.unlinked_at = Some(j);
                }
            }
            TraceOp::Link { ino, .. } | TraceOp::Rename { ino, .. } => disqualify(&mut lives, *ino),
            TraceOp::Exchange {
                from_ino, to_ino, ..
            } => {
                disqualify(&mut lives, *from_ino);
                disqualify(&mut lives, *to_ino);
            }
            _ => {}
        }
    }
    lives
        .into_iter()
        .filter(|(_, life)| life.single)
        .filter_map(|(f, life)| {
            let i2 = life.unlinked_at?;
            res[i2].kept.then_some((f, res[i2].at))
        })
        .collect()
}

/// Marks the file `ino`, if the trace created it, as not meeting condition 3 (or 1).
fn disqualify(lives: &mut BTreeMap<Ino, Life>, ino: Ino) {
    if let Some(life) = lives.get_mut(&ino) {
        life.single = false;
    }
}
