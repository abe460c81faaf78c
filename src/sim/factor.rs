//! Independent factors of a crash state: checking the factors of a crash point instead of their
//! product (issue 11).
//!
//! # What a subject declares
//!
//! A subject may split the paths its workload touches into *factors* ([`Factoring`], returned by
//! [`super::Subject::factoring`]); every other path is *shared*. A pending operation belongs to a
//! factor when every path it names is in that factor, and is shared otherwise
//! ([`Factoring::factor_of`]). A crash state is then a shared part σ (the checkpoint and the
//! chosen variants of the shared pending operations) and one part φᵢ per factor (the chosen
//! variants of that factor's pending operations). The subject promises, for every crash state
//! the explorer checks (after a power loss in the workload, inside a recovery, or after a
//! process crash and part of its recovery):
//!
//! 1. **Recovery factors.** What recovery leaves at a factor's paths is a function of σ and
//!    that factor's φᵢ alone, and what it leaves at shared paths is a function of σ alone, as
//!    long as it succeeds; when it fails (an error or a refused entry), the failure is one that
//!    σ and a single factor's part already cause.
//! 2. **The verdict factors.** Every violation the check (and recovery run again) reports names
//!    the paths of one factor, or shared paths only, and is a function of the setup, the acks
//!    and the recovered image at those paths.
//!
//! Under these two promises the verdict of a state is the union of per-factor verdicts:
//! `V(σ, φ₁ … φₙ) = V₀(σ) ∪ V₁(σ, φ₁) ∪ … ∪ Vₙ(σ, φₙ)` (a failed recovery: the failure of one
//! factor).
//!
//! # What the explorer does with it, and why that loses nothing
//!
//! Only under a model whose pending operations persist independently
//! ([`super::Model::independent_ops`]: every combination of variants is a crash state, no
//! ordering rule ties two operations together), at every crash point (of the workload's runs,
//! of recoveries, of a process crash's run), the enumeration keeps a state only if the
//! operations on which it
//! departs from its enumeration's base (everything persisted for the full enumeration and for
//! "all but at most k"; everything lost for "at most k") belong to **at most one factor**
//! (shared operations do not count: they combine with every factor). The seeded random samples
//! are kept as they are.
//!
//! Take a state `s` that is left out: it departs from the base `b` in factors `F₁ … Fₘ`,
//! `m ≥ 2`, and in shared operations `D₀`. For each `Fᵢ`, the state `sᵢ` that departs from `b`
//! in `D₀` and in `s`'s departures within `Fᵢ` only is kept: it departs in one factor, in no
//! more operations than `s` (so it is within the same `k`, or within the full enumeration), and
//! every combination is a state of the model. `sᵢ` has the same shared part as `s` and the same
//! part in `Fᵢ`, so by the union above `Vᵢ(σ, φᵢ(s)) ⊆ V(sᵢ)`; the other factors of `s` are at
//! the base, whose verdicts are part of every kept state's, and `V₀(σ)` too. So every violation
//! of `s` is a violation of a kept state, and the kept states are states of the full
//! enumeration: the set of distinct violations (invariant and message) is the same, and so is,
//! per factor, the set of distinct recovered contents at its paths (each is a function of σ and
//! φᵢ, and `sᵢ` has both). What changes is how many states show a violation, and which one is
//! the smallest counterexample.
//!
//! # From one crash point to the next
//!
//! Going from crash point `c - 1` to `c`, one operation is issued. When no barrier resolves
//! anything at `c` (the checkpoint and the shared pending operations stay as they were), the
//! acknowledgements visible are the same, and `c - 1` was enumerated in the same run, the
//! explorer narrows `c` further ([`super::CrashPoint::only_new_after`]): if the new operation is
//! pending and belongs to factor `F`, `c` keeps the states departing in `F` (and in shared
//! operations); if it changes no state, only those departing in shared operations. Take a
//! state `s` of `c` left out this way: it departs in another factor `G` (and in shared `D₀`).
//! The state `s'` of `c - 1` with the same departures has the same shared part σ and the same
//! part in `G` (the new operation is not in `G`, nothing was resolved), and the state `s₀` of
//! `c` departing in `D₀` only has σ and every factor at the base of `c`, which is `s`'s part in
//! every factor but `G`. By the union, `V(s) ⊆ V(s') ∪ V(s₀)`: `s₀` is kept, and `s'` is kept
//! or, by the same argument one crash point earlier, covered by kept states. So nothing is lost
//! here either. In a batch's data phase (a temp and an increment written per update, no
//! barrier until the last) each crash point then enumerates the states of the one update being
//! written instead of every update's again.
//!
//! The argument needs `c - 1` explored with the same acknowledgements, not necessarily by the
//! same run. A run with an injected fault is the fault-free run up to the failing call (the same
//! operations, resolutions that depend only on the operations before a crash point, the same
//! acks pushed before the trace reached the fault's crash point), so its first crash point is
//! narrowed against the fault-free run's previous one when the acks visible there are the same;
//! and a process crash's run at the parent's crash point `cp`, whose first `cp` operations and
//! acks are the parent's, has its first point `cp + 1` narrowed against the parent's `cp`
//! (`narrowed` and `Run::narrow_from` in `src/sim/engine.rs`). The parent's bounds there are the
//! same as the run's or wider (the workload's, for a power-loss parent), so the state `s'` of the
//! argument is one of the parent's, covered by its exploration.
//!
//! # Agreement groups
//!
//! A subject's factors may form an *agreement group*: an atomic batch, one factor per update.
//! Promise 2 then allows a third kind of violation, the group's disagreement: each factor `i`
//! of the group has an *outcome* `oᵢ` (for the journal, whether its target stands), a function
//! of the recovered image at its paths, and the violation holds when the outcomes of the group
//! are not all equal. Its message may name several factors, so for it "the same distinct
//! violations" means the same invariant for the same group, not the same message. Recovery
//! decides such a group once (for the journal, roll forward or back) and acts on each factor
//! by that decision, so promise 1 holds only if the decision can be read from each part:
//!
//! 3. **The decision is told by each part.** In every crash state the explorer checks, the
//!    group's decision is a function of σ and of any one factor's part of the group, and in a
//!    state without a violation every outcome of the group is the one its decision gives.
//!
//! The journal argues it in `src/check/workload.rs` (`Workload::factoring`). The explorer is
//! told nothing more: the group's factors are factors like any other.
//!
//! Nothing is lost at one crash point: take `s`, left out, departing in `F₁ … Fₘ`, with a
//! disagreement. If the base outcomes `βⱼ` (those of the kept `s₀`, departing in shared
//! operations only) disagree, `s₀` shows it. Otherwise they are all some `B`, and some
//! departing `Fᵢ` has `oᵢ(s) ≠ B` (else all of `s` would be `B`); the kept `sᵢ` has `oᵢ(s)` at
//! `Fᵢ` and `B` at every other factor of the group, which has one at least: a disagreement.
//!
//! Nor from one crash point to the next (the new operation in `F`, `s` departing in `G`): if the
//! outcomes of `s` outside `F` disagree, `s'` has the same ones. Otherwise they are all some `X`
//! and `F`'s base outcome at `c` is not `X` (so `F` and `G` are in the group). A third factor of
//! the group is at the base in `s`, with outcome `X`, and in `s₀` too, where `F` is not `X`: `s₀`
//! shows it. With two, `s₀` shows it unless `G`'s base outcome is `F`'s at `c`, not `X`; then
//! `s'` shows it unless `F`'s outcome at the base of `c - 1` is `X`, and then the state of `c`
//! departing from its base by the new operation alone (in `F`, so kept; `F`'s part as at
//! `c - 1`, `G` at the base) has `X` and `G`'s base outcome: a disagreement. (Where the base
//! loses every pending operation, `F`'s base is the same at `c - 1` and `c`, so this last case
//! does not arise.)
//!
//! The clean parts of `crate::sim::cover` key a group's factors one by one too: promise 3 is
//! what makes that sound (see there).
//!
//! # What is not covered
//!
//! Crashes inside the recovery of a left-out state are not explored: the argument above covers
//! the verdict of every state of a crash point, not the states nested below the ones it leaves
//! out. Recovery of such a state acts on each factor as the recovery of the kept `sᵢ` does
//! (promise 1), so a crash inside it leaves, factor by factor, what a crash inside `sᵢ`'s
//! recovery leaves, but the proof that some kept nested state combines exactly those parts is
//! not written down; `check::suite`'s tests compare both explorations with every state's
//! recovery crashed (fan-out 0, depth 1) and with process crashes, and find the same. The
//! explorer explores crashes inside a recovery only for
//! [`super::ExploreConfig::recovery_fanout`] states per crash point by default anyway: a
//! sample, chosen among the states kept.
//!
//! The gain: at k = 2, a crash point with `n` pending operations in `f` factors of about
//! `n / f` operations has about `n²` states departing in two operations, of which only the
//! pairs within one factor (about `n² / f`) and those with a shared operation are kept; with
//! the narrowing below, about `(n / f)²` at most crash points. `batch-64-syncfs` under posix at
//! k = 2, depth 0, no process crash: 340 k crash states without the narrowing, 10 k with it
//! (tens of millions without either).

use super::trace::TraceOp;
use crate::path::RelPath;
use std::collections::BTreeMap;

/// Which paths a [`Factoring`] puts in a factor: one path, or the names in one directory that
/// start with `prefix` and end with `suffix` (a protocol's temp files, whose names carry a
/// sequence number the subject cannot know in advance).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathSet {
    /// Exactly this path.
    Path(RelPath),
    /// Every name in `dir` starting with `prefix` and ending with `suffix` (the two do not
    /// overlap in the name).
    Names {
        /// The directory.
        dir: RelPath,
        /// How the name starts.
        prefix: String,
        /// How the name ends.
        suffix: String,
    },
}

impl PathSet {
    /// Whether `path`, whose file name is `name`, is in this set.
    fn contains(&self, path: &RelPath, name: &str) -> bool {
        match self {
            PathSet::Path(p) => p == path,
            PathSet::Names {
                dir,
                prefix,
                suffix,
            } => {
                name.len() >= prefix.len() + suffix.len()
                    && name.starts_with(prefix.as_str())
                    && name.ends_with(suffix.as_str())
                    && path.parent().as_ref() == Some(dir)
            }
        }
    }
}

/// A subject's independent factors: disjoint sets of paths (see the module doc for what a
/// subject promises by declaring them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Factoring {
    /// Each exact path's factor.
    paths: BTreeMap<RelPath, u32>,
    /// The name patterns, each with its factor.
    names: Vec<(PathSet, u32)>,
    /// How many factors there are.
    count: u32,
}

impl Factoring {
    /// The factors `groups` declare, groups that share a [`PathSet`] merged into one factor
    /// (so a path is never in two factors). Factors are numbered in order of first appearance.
    pub fn new(groups: Vec<Vec<PathSet>>) -> Factoring {
        // Union-find over the groups: two groups naming the same set are one factor.
        let mut parent: Vec<usize> = (0..groups.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut owner: BTreeMap<&PathSet, usize> = BTreeMap::new();
        for (g, sets) in groups.iter().enumerate() {
            for set in sets {
                if let Some(&other) = owner.get(set) {
                    let (a, b) = (root(&mut parent, g), root(&mut parent, other));
                    parent[a.max(b)] = a.min(b);
                } else {
                    owner.insert(set, g);
                }
            }
        }
        let mut number: BTreeMap<usize, u32> = BTreeMap::new();
        let mut out = Factoring::default();
        for (g, sets) in groups.iter().enumerate() {
            let r = root(&mut parent, g);
            let next = number.len() as u32;
            let id = *number.entry(r).or_insert(next);
            for set in sets {
                match set {
                    PathSet::Path(p) => {
                        out.paths.insert(p.clone(), id);
                    }
                    names => {
                        if !out.names.iter().any(|(s, _)| s == names) {
                            out.names.push((names.clone(), id));
                        }
                    }
                }
            }
        }
        out.count = number.len() as u32;
        out
    }

    /// How many factors there are.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there is no factor at all.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The factor of `path` (`None`: shared). A path named exactly wins over a name pattern;
    /// a path two patterns of different factors match is shared.
    pub fn factor_of_path(&self, path: &RelPath) -> Option<u32> {
        if let Some(&f) = self.paths.get(path) {
            return Some(f);
        }
        let name = path.file_name()?;
        let mut found = None;
        for (set, f) in &self.names {
            if set.contains(path, name) {
                match found {
                    None => found = Some(*f),
                    Some(g) if g == *f => {}
                    Some(_) => return None,
                }
            }
        }
        found
    }

    /// The factor of a pending operation: the factor of every path it names, or `None`
    /// (shared) when it names a shared path, paths of two factors, or no path.
    pub fn factor_of(&self, op: &TraceOp) -> Option<u32> {
        let mut factor = None;
        for path in op_paths(op) {
            let f = self.factor_of_path(path)?;
            if factor.is_some_and(|g| g != f) {
                return None;
            }
            factor = Some(f);
        }
        factor
    }

    /// The paths of factor `factor` that `paths` holds (for comparing recovered images factor
    /// by factor).
    pub fn paths_of<'p>(
        &self,
        factor: u32,
        paths: impl IntoIterator<Item = &'p RelPath>,
    ) -> Vec<&'p RelPath> {
        paths
            .into_iter()
            .filter(|p| self.factor_of_path(p) == Some(factor))
            .collect()
    }
}

/// The paths an operation names.
fn op_paths(op: &TraceOp) -> Vec<&RelPath> {
    match op {
        TraceOp::Create { path, .. }
        | TraceOp::Write { path, .. }
        | TraceOp::SetLen { path, .. }
        | TraceOp::SetMode { path, .. }
        | TraceOp::Fsync { path, .. }
        | TraceOp::Fdatasync { path, .. }
        | TraceOp::Rmdir { path, .. }
        | TraceOp::Unlink { path, .. }
        | TraceOp::Mkdir { path, .. }
        | TraceOp::Symlink { path, .. }
        | TraceOp::FsyncDir { path, .. }
        | TraceOp::FailedFsync { path, .. } => vec![path],
        TraceOp::Rename { from, to, .. } | TraceOp::Exchange { from, to, .. } => vec![from, to],
        TraceOp::Link { existing, new, .. } => vec![existing, new],
        TraceOp::Syncfs => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    fn temps(dir: &str, index: usize) -> PathSet {
        PathSet::Names {
            dir: p(dir),
            prefix: ".crashsafe-".into(),
            suffix: format!("-{index}.tmp"),
        }
    }

    #[test]
    fn groups_sharing_a_path_are_one_factor_and_other_paths_are_shared() {
        let f = Factoring::new(vec![
            vec![PathSet::Path(p("a/x")), temps("a", 0)],
            vec![PathSet::Path(p("a/y")), temps("a", 1)],
            vec![PathSet::Path(p("a/x")), PathSet::Path(p("inc/x.1"))],
        ]);
        assert_eq!(f.len(), 2);
        let x = f.factor_of_path(&p("a/x"));
        assert_eq!(x, Some(0));
        assert_eq!(f.factor_of_path(&p("inc/x.1")), x);
        assert_eq!(f.factor_of_path(&p("a/.crashsafe-00ab-0.tmp")), x);
        assert_eq!(f.factor_of_path(&p("a/.crashsafe-00ab-1.tmp")), Some(1));
        assert_eq!(f.factor_of_path(&p("a/.crashsafe-00ab-11.tmp")), None);
        assert_eq!(f.factor_of_path(&p("b/.crashsafe-00ab-0.tmp")), None);
        assert_eq!(f.factor_of_path(&p("a")), None);
        let rename = |from: &str, to: &str| TraceOp::Rename {
            from: p(from),
            to: p(to),
            ino: 9,
            from_dir: 1,
            to_dir: 1,
            no_replace: false,
        };
        assert_eq!(f.factor_of(&rename("a/.crashsafe-1-0.tmp", "a/x")), x);
        assert_eq!(f.factor_of(&rename("a/.crashsafe-1-1.tmp", "a/x")), None);
        assert_eq!(f.factor_of(&TraceOp::Syncfs), None);
        let write = TraceOp::Write {
            ino: 3,
            path: p("a/y"),
            offset: 0,
            len: 1,
            data: Arc::new(vec![1]),
        };
        assert_eq!(f.factor_of(&write), Some(1));
    }
}
