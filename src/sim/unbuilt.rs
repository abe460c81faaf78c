//! A crash state's entries, told from another state's without building either (issue 11).
//!
//! # What is computed
//!
//! Inside a recovery almost every crash state is skipped as clean ([`super::cover`]) once its
//! part keys are known, and building it (a clone of its prefix image, the operations since
//! applied again, a walk of the two trees) cost more than checking the few kept. So the keys are
//! told from the operations when they can be.
//!
//! Take two states of one crash point of a walk keeping prefixes
//! ([`super::CrashWalk::keeping_prefixes`]): a *reference* `R`, whose group hashes are known,
//! and the state `S` to key. Let `d` be the first pending operation either departs in (does not
//! persist in full). Both are `P_d` (the prefix image before `d`: every operation before it as
//! the all-persisted state applies them) with the operations `d .. cp` applied as
//! [`super::CrashPoint::build_on`] applies them: each pending one in the variant the state
//! chose, each resolved and kept one in full. [`TracePrints::changed_entries`] gives, when every
//! one of those operations is *simple*, the entries (paths) at which `S` and `R` may differ, with
//! each entry's hash in both as [`Image::group_hashes`] sums them; `S`'s group hashes are then
//! `R`'s, minus the old entries' hashes, plus the new ones', each in its path's group
//! ([`super::cover::PartGroups::hashes_changed`]). Neither state is built: only an
//! [`Image::excerpt`] of `P_d` holding a few names, twice. The explorer's references are the
//! crash point's all-persisted state (its prefix image, hashed already) and its all-lost state
//! (the base of the "at most k" states, built once per crash point), whichever the state
//! departs from in fewer operations (`engine::Nest::unbuilt_keys`).
//!
//! # Which operations are simple, and what each may touch
//!
//! Simple: creating a file or a symlink, unlinking a name, renaming a name that is not a
//! directory, writing, truncating or changing the mode of a file by inode number, and the fsync
//! family (which changes no image). Every other operation (`mkdir`, `rmdir`, `link`, exchange, a
//! directory's rename) among `d .. cp` makes the computation give up: the state is built.
//!
//! An operation's *footprint* is the directory entries it names (pairs of a directory's inode
//! number and a name: a create's, an unlink's, a rename's two) and the inode numbers it names.
//! What [`Image::apply`] of a simple operation reads and changes lies in its footprint, in the
//! inodes those entries name (and whose last name a rename or an unlink drops), and in whether
//! its directories exist: a create asks whether its inode number is in use, whether its
//! directory exists and whether its name is free; an unlink and a rename whether their entries
//! name their inode, what the destination names (a rename replaces it, dropping that inode if it
//! was its last name); a write, a truncation or a mode change changes its inode wherever that is
//! named. None reads or changes a directory's existence.
//!
//! # The affected operations, and why the rest act alike in both states
//!
//! The *affected* operations `A` are the smallest set holding every operation of `d .. cp` that
//! `R` and `S` apply in different variants and that has a footprint, and every operation of
//! `d .. cp` whose footprint shares an entry or an inode number with an operation of `A`, or names
//! an inode that `P_d` names at one of `A`'s entries. Let `E` be `A`'s entries and `I` the inode
//! numbers of `A`'s footprints together with the inodes `P_d` names at `E`. Require (else give
//! up) that every inode `P_d` names at `E` is not a directory and has exactly one name, and that
//! every number in `I` is either such an inode or not in use in `P_d` (in particular, not a
//! directory's).
//!
//! Claim: applying `d .. cp` to `P_d`, once as `R` chose and once as `S` chose, every operation
//! outside `A` does the same in both, and after each step the two images agree at every entry
//! outside `E` and on every inode outside `I`, and name the inodes of `I` at entries of `E` only.
//! By induction on the steps: at the start both are `P_d`, whose inodes of `I` are named at `E`
//! only (one name each, or not in use). An operation outside `A` is applied in the same variant
//! in both; its footprint is outside `E` and `I`, so what it reads is the same in both: its
//! entries and the inodes they name (outside `I`, since `I`'s are named at `E` only), its inode
//! number's use (a number outside `I` is used alike), its directories (no simple operation
//! changes a directory's existence). It changes the same entries and inodes, outside `E` and
//! `I`, the same way. An operation of `A` changes only entries of `E` and inodes of `I` (the
//! inode it names, or one its entries name), and puts an inode at an entry of `E` only. So `R`
//! and `S` differ at most at the entries of `E` (every other entry names the same inode with the
//! same bytes, mode and, the inodes of `I` staying out of reach, the same number of names);
//! directory entries do not change (no simple operation makes or removes a directory, and `E`'s
//! entries never name one).
//!
//! At the entries of `E`, each state is what applying the operations of `A` alone, in order and
//! in that state's variants, to the excerpt of `P_d` at `E` gives: by the same induction each
//! state restricted to `E` and `I` is changed by `A`'s operations only, and each reads only
//! entries of `E`, inodes of `I`, the use of numbers of `I` (the excerpt holds `I`'s inodes that
//! `P_d` uses, and no other in use in `P_d` is asked about) and its directories' existence (the
//! excerpt holds every directory of `E`). Entries are hashed by path: each of `E`'s paths is the
//! operation's own path, checked to resolve to that directory and name in `P_d`, and no simple
//! operation moves a directory, so the path is the same in both states. So the hashes are exact,
//! not estimates: keys computed from them are the keys of the built state, and a state left out
//! unbuilt because they were all seen clean is one `engine::Nest::child` would have dropped,
//! built, for the same keys. Nothing else changes: the state is counted in `crash_states` as
//! before, the verdicts, violations, distinct states and tokens are the same (test
//! `sim::states::tests::changed_entries_give_the_hashes_of_the_built_state`; in debug builds
//! every state that is built after all is checked against its keys told this way).

use super::image::Image;
use super::model::Variant;
use super::trace::{Ino, TraceOp};
use crate::path::RelPath;
use std::collections::BTreeMap;

/// Past this many entries and inode numbers affected a state is built: the excerpt would be no
/// cheaper.
const MOST_AFFECTED: usize = 96;

/// One operation applied after the first departure of either of two states (a reference,
/// whose hashes are known, and the state keyed), with the variant each applies it in.
pub(crate) struct Step<'t> {
    /// The operation's index in the trace.
    pub at: usize,
    /// The variant the reference applies it in.
    pub reference: &'t Variant,
    /// The variant the state applies it in.
    pub state: &'t Variant,
}

/// An entry at which a state may differ from its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryChange<'t> {
    /// Its path.
    pub path: &'t RelPath,
    /// Its hash in the reference (0: absent), as [`Image::group_hashes`] sums it.
    pub before: u128,
    /// Its hash in the state.
    pub after: u128,
}

/// The footprints of a trace's operations, computed once per walk: each directory entry an
/// operation names is numbered, so that the affected operations are found by comparing numbers.
pub(crate) struct TracePrints<'t> {
    trace: &'t [TraceOp],
    /// Each numbered entry: its directory, its name, and the path it was named by.
    entries: Vec<(Ino, &'t str, &'t RelPath)>,
    /// Each operation's footprint; `None` for an operation that is not simple (a rename is
    /// checked again against the image the steps start from: it must not move a directory).
    of_op: Vec<Option<Footprint>>,
    /// The operations naming each numbered entry, in trace order.
    by_entry: Vec<Vec<usize>>,
    /// The operations naming each inode number, in trace order.
    by_ino: BTreeMap<Ino, Vec<usize>>,
}

/// The entries (numbers in [`TracePrints::entries`]) and the inode number an operation names.
#[derive(Clone, Copy)]
struct Footprint {
    entries: [Option<u32>; 2],
    ino: Option<Ino>,
    /// Whether it is a rename (whose inode must not be a directory).
    rename: bool,
}

impl Footprint {
    /// `op`'s footprint, its entries numbered by `number` (`None` when `op` is not simple).
    fn of<'t>(
        op: &'t TraceOp,
        number: &mut impl FnMut(Ino, &'t RelPath) -> Option<u32>,
    ) -> Option<Footprint> {
        let print = |entries: [Option<u32>; 2], ino, rename| {
            Some(Footprint {
                entries,
                ino,
                rename,
            })
        };
        match op {
            TraceOp::Create { path, ino, dir, .. }
            | TraceOp::Symlink { path, ino, dir, .. }
            | TraceOp::Unlink { path, ino, dir } => {
                print([Some(number(*dir, path)?), None], Some(*ino), false)
            }
            TraceOp::Rename {
                from,
                to,
                ino,
                from_dir,
                to_dir,
                ..
            } => {
                let entries = [Some(number(*from_dir, from)?), Some(number(*to_dir, to)?)];
                print(entries, Some(*ino), true)
            }
            TraceOp::Write { ino, .. }
            | TraceOp::SetLen { ino, .. }
            | TraceOp::SetMode { ino, .. } => print([None, None], Some(*ino), false),
            TraceOp::Fsync { .. }
            | TraceOp::Fdatasync { .. }
            | TraceOp::FsyncDir { .. }
            | TraceOp::Syncfs
            | TraceOp::FailedFsync { .. } => print([None, None], None, false),
            TraceOp::Mkdir { .. }
            | TraceOp::Rmdir { .. }
            | TraceOp::Link { .. }
            | TraceOp::Exchange { .. } => None,
        }
    }
}

impl<'t> TracePrints<'t> {
    /// The footprints of `trace`'s operations.
    pub(crate) fn new(trace: &'t [TraceOp]) -> TracePrints<'t> {
        let mut numbers: BTreeMap<(Ino, &'t str), u32> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut number = |dir: Ino, path: &'t RelPath| -> Option<u32> {
            let name = path.file_name()?;
            Some(*numbers.entry((dir, name)).or_insert_with(|| {
                entries.push((dir, name, path));
                entries.len() as u32 - 1
            }))
        };
        let of_op: Vec<Option<Footprint>> = trace
            .iter()
            .map(|op| Footprint::of(op, &mut number))
            .collect();
        let mut by_entry = vec![Vec::new(); entries.len()];
        let mut by_ino: BTreeMap<Ino, Vec<usize>> = BTreeMap::new();
        for (j, print) in of_op.iter().enumerate() {
            let Some(print) = print else { continue };
            for &e in print.entries.iter().flatten() {
                by_entry[e as usize].push(j);
            }
            if let Some(ino) = print.ino {
                by_ino.entry(ino).or_default().push(j);
            }
        }
        TracePrints {
            trace,
            entries,
            of_op,
            by_entry,
            by_ino,
        }
    }

    /// The affected steps (flags, in order), their entries (numbers) and their inode numbers,
    /// as the module doc defines them, for steps starting from `first`; `None` when a step is
    /// not simple, or past [`MOST_AFFECTED`] entries and inode numbers.
    fn affected(
        &self,
        first: &Image,
        steps: &[Step<'_>],
    ) -> Option<(Vec<bool>, Vec<u32>, Vec<Ino>)> {
        let start = steps.first().map_or(0, |s| s.at);
        let (position, mut queue) = self.positions(first, steps)?;
        let mut flags = vec![false; steps.len()];
        let (mut entries, mut inos): (Vec<u32>, Vec<Ino>) = (Vec::new(), Vec::new());
        let step_of = |j: &usize| {
            (*j >= start)
                .then(|| position.get(j - start).copied())
                .flatten()
        };
        while let Some(i) = queue.pop() {
            if flags[i] {
                continue;
            }
            let print = self.of_op[steps[i].at]?;
            if print.ino.is_none() && print.entries[0].is_none() {
                continue;
            }
            flags[i] = true;
            let mut named = Vec::new();
            if let Some(ino) = print.ino {
                named.push(ino);
            }
            for &e in print.entries.iter().flatten() {
                if entries.contains(&e) {
                    continue;
                }
                entries.push(e);
                let ops = &self.by_entry[e as usize];
                queue.extend(ops.iter().filter_map(step_of).filter(|&p| p != usize::MAX));
                let (dir, name, _) = self.entries[e as usize];
                if let Some(&ino) = first.dir(dir).and_then(|d| d.get(name)) {
                    named.push(ino);
                }
            }
            for ino in named {
                if inos.contains(&ino) {
                    continue;
                }
                inos.push(ino);
                if let Some(ops) = self.by_ino.get(&ino) {
                    queue.extend(ops.iter().filter_map(step_of).filter(|&p| p != usize::MAX));
                }
            }
            if entries.len() + inos.len() > MOST_AFFECTED {
                return None;
            }
        }
        Some((flags, entries, inos))
    }

    /// For `steps` starting from `first`: the position in `steps` of each trace operation from
    /// the first step's on (`usize::MAX`: not a step), and the steps the two states apply in
    /// different variants; `None` when a step is not simple.
    fn positions(&self, first: &Image, steps: &[Step<'_>]) -> Option<(Vec<usize>, Vec<usize>)> {
        let start = steps.first().map_or(0, |s| s.at);
        let mut position = vec![usize::MAX; steps.last().map_or(0, |s| s.at + 1 - start)];
        let mut differ = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let print = self.of_op[step.at]?;
            if print.rename && print.ino.is_some_and(|ino| first.dir(ino).is_some()) {
                return None;
            }
            position[step.at - start] = i;
            if step.reference != step.state {
                differ.push(i);
            }
        }
        Some((position, differ))
    }

    /// The entries at which the state applying `steps` to `first` (the prefix image before the
    /// first step either departs in) may differ from the reference applying them, each with
    /// its hash in both; `None` when a step is not simple or the computation gives up (see the
    /// module doc). `block_size` is the walk's.
    pub(crate) fn changed_entries(
        &self,
        first: &Image,
        steps: &[Step<'_>],
        block_size: u64,
    ) -> Option<Vec<EntryChange<'t>>> {
        let (flags, entries, inos) = self.affected(first, steps)?;
        let names = entries.iter().map(|&e| {
            let (dir, name, _) = self.entries[e as usize];
            (dir, name)
        });
        let mut reference = first.excerpt(names)?;
        let used_elsewhere =
            |ino: Ino| reference.inode(ino).is_none() && first.inode(ino).is_some();
        if inos
            .iter()
            .any(|&ino| first.dir(ino).is_some() || used_elsewhere(ino))
        {
            return None;
        }
        for &e in &entries {
            let (dir, name, path) = self.entries[e as usize];
            if first.resolve_parent(path) != Ok((dir, name)) {
                return None;
            }
        }
        let mut state = reference.clone();
        for (step, _) in steps.iter().zip(&flags).filter(|(_, a)| **a) {
            let op = &self.trace[step.at];
            reference.apply(op, step.reference, block_size);
            state.apply(op, step.state, block_size);
        }
        let mut changes = Vec::new();
        for &e in &entries {
            let (dir, name, path) = self.entries[e as usize];
            let before = reference.entry_hash(path.as_str(), dir, name)?;
            let after = state.entry_hash(path.as_str(), dir, name)?;
            if before != after {
                changes.push(EntryChange {
                    path,
                    before,
                    after,
                });
            }
        }
        Some(changes)
    }
}
