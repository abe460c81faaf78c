//! Crash states: what a crash at each crash point may leave on disk under a [`Model`].
//!
//! A [`CrashWalk`] visits the crash points of one trace in increasing order. It keeps a
//! *checkpoint*: the image after the longest prefix of operations that are all resolved (durable
//! or dropped for good) at the current crash point, and advances it as barriers come. A crash
//! state is then built as checkpoint + the operations after that prefix (the durable ones, and the
//! chosen variant of each pending one, in issue order), so the cost of a state does not grow with
//! the length of the trace, only with the number of operations since the last full barrier.
//!
//! At a crash point, [`CrashPoint::for_each_state`] enumerates the states the model allows: all
//! of them when the product of the variant counts is at most `full_bound`; past it, every state
//! that persists all but at most `k`, or at most `k`, of the pending operations, plus `samples`
//! seeded random states. Choices that the model's ordering rules close onto the same state are
//! produced once. A walk given a subject's [`Factoring`] ([`CrashWalk::factored`]) leaves out the
//! states that depart from their enumeration's base in two factors or more (see
//! [`super::factor`] for why that loses nothing).

use super::factor::Factoring;
use super::image::Image;
use super::model::{Model, OpContext, PendingOp, Resolution, Variant};
use super::rng::SplitMix64;
use super::trace::{Ino, TraceOp};
use super::unbuilt::{EntryChange, Step, TracePrints};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

/// How many states to enumerate at one crash point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Enumerate every state when there are at most this many.
    pub full_bound: usize,
    /// Past `full_bound`: every state that persists all but at most `k`, or at most `k`, of the
    /// pending operations.
    pub k: usize,
    /// Past `full_bound`: this many seeded random states more.
    pub samples: usize,
}

/// Inside recovery the bounds are tighter: every crash state of the workload has a recovery of
/// its own, so the states inside recoveries outnumber the workload's by far. At one of recovery's
/// crash points at most this many states are enumerated in full…
pub const RECOVERY_FULL_BOUND: usize = 256;
/// …and past it, k is one less than the workload's, plus this many random samples.
pub const RECOVERY_SAMPLES: usize = 4;

impl Bounds {
    /// The bounds used at crash points inside recovery, derived from these.
    pub fn for_recovery(&self) -> Bounds {
        Bounds {
            full_bound: self.full_bound.min(RECOVERY_FULL_BOUND),
            k: self.k.saturating_sub(1),
            samples: self.samples.min(RECOVERY_SAMPLES),
        }
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            full_bound: 4096,
            k: 2,
            samples: 16,
        }
    }
}

/// Visits the crash points of one trace in order; see the module doc.
#[derive(Clone)]
pub struct CrashWalk<'a> {
    model: &'a dyn Model,
    trace: &'a [TraceOp],
    res: &'a [Resolution],
    block_size: u64,
    checkpoint: Image,
    durable: usize,
    at: usize,
    factors: Option<Arc<TraceFactors>>,
    /// The all-persisted prefixes of the current crash point, when kept
    /// ([`CrashWalk::keeping_prefixes`]).
    prefixes: Option<Prefixes>,
    /// The footprints of the trace's operations, when prefixes are kept (for
    /// [`CrashPoint::changed_entries`]).
    prints: Option<Arc<TracePrints<'a>>>,
}

/// The images a walk keeping prefixes builds its states on: `images[i]` is the checkpoint with
/// the operations `from .. from + i` applied as the crash point's all-persisted state applies
/// them (a pending one as [`Variant::Full`], a resolved one if kept). A state persisting every
/// pending operation before its first departure is that prefix image, with the operations from
/// the departure on applied as its choice says: the same image [`CrashPoint::build`] makes
/// from the checkpoint, since it applies the same operations in the same order with the same
/// variants. In a recovery's long stretch without a barrier, that saves applying every earlier
/// operation again for each state.
#[derive(Clone, Default)]
struct Prefixes {
    /// The operation the first image starts after (the durable prefix it was made at).
    from: usize,
    images: Vec<Prefix>,
    /// Whether operation `from + i` was applied to make `images[i + 1]`.
    applied: Vec<bool>,
}

/// How [`CrashPoint::prefix_memo`] derives a prefix image's value: from the image alone (the
/// first), or from the image, the previous one and its value.
pub type DeriveMemo<'f> = dyn Fn(&Image, Option<(&Image, &[u128])>) -> Vec<u128> + 'f;

/// One prefix image, with a value derived from it, computed once (see
/// [`CrashPoint::prefix_memo`]).
#[derive(Clone)]
struct Prefix {
    image: Image,
    memo: OnceLock<Vec<u128>>,
}

/// A factored walk's view of its trace, computed once per walk.
struct TraceFactors {
    /// Each operation's factor (`None`: shared).
    of_op: Vec<Option<u32>>,
    /// Per crash point `c`: whether a barrier resolves at `c` an operation issued before
    /// `c - 1`.
    resolves_earlier: Vec<bool>,
}

impl<'a> CrashWalk<'a> {
    /// A walk over `trace` (issued on top of `base`), whose resolutions under `model` are `res`
    /// (from [`Model::resolve`]), starting at crash point 0.
    pub fn new(
        model: &'a dyn Model,
        base: &Image,
        trace: &'a [TraceOp],
        res: &'a [Resolution],
        block_size: usize,
    ) -> CrashWalk<'a> {
        assert_eq!(trace.len(), res.len(), "one resolution per operation");
        CrashWalk {
            model,
            trace,
            res,
            block_size: block_size.max(1) as u64,
            checkpoint: base.clone(),
            durable: 0,
            at: 0,
            factors: None,
            prefixes: None,
            prints: None,
        }
    }

    /// This walk, keeping the all-persisted prefix images of its crash point as it advances, so
    /// that [`CrashPoint::build_on`] builds a state from the longest prefix it shares (see
    /// `Prefixes`). Costs one image per operation since the checkpoint.
    pub fn keeping_prefixes(mut self) -> CrashWalk<'a> {
        self.prefixes = Some(Prefixes::default());
        self.prints = Some(Arc::new(TracePrints::new(self.trace)));
        self.update_prefixes();
        self
    }

    /// This walk, its crash points enumerating only the states that depart from their base in
    /// at most one of `factoring`'s factors, if the model's pending operations persist
    /// independently ([`Model::independent_ops`]); unchanged otherwise (or with `None`).
    pub fn factored(mut self, factoring: Option<&Factoring>) -> CrashWalk<'a> {
        let Some(factoring) = factoring.filter(|_| self.model.independent_ops()) else {
            return self;
        };
        let n = self.trace.len();
        let mut resolves_earlier = vec![false; n + 1];
        for (j, r) in self.res.iter().enumerate() {
            if r.at > j + 1 && r.at <= n {
                resolves_earlier[r.at] = true;
            }
        }
        self.factors = Some(Arc::new(TraceFactors {
            of_op: self
                .trace
                .iter()
                .map(|op| factoring.factor_of(op))
                .collect(),
            resolves_earlier,
        }));
        self
    }

    /// How many operations the checkpoint holds (every earlier one is resolved).
    pub fn durable_prefix(&self) -> usize {
        self.durable
    }

    /// The walk's last crash point: after every operation of its trace.
    pub fn last_point(&self) -> usize {
        self.trace.len()
    }

    /// Moves to crash point `cp` (never backwards), advancing the checkpoint.
    pub fn advance(&mut self, cp: usize) {
        assert!(
            cp >= self.at && cp <= self.trace.len(),
            "crash points are visited in order"
        );
        self.at = cp;
        while self.durable < cp && self.res[self.durable].resolved_at(cp) {
            if self.res[self.durable].kept {
                self.checkpoint
                    .apply(&self.trace[self.durable], &Variant::Full, self.block_size);
            }
            self.durable += 1;
        }
        self.update_prefixes();
    }

    /// Whether operation `j` changes the all-persisted state of the current crash point.
    fn applied_in_full(&self, j: usize) -> bool {
        let res = self.res[j];
        self.trace[j].changes_image() && (res.kept || !res.resolved_at(self.at))
    }

    /// Brings the prefix images (if kept) to the current crash point: those still right (every
    /// operation applied or not as the all-persisted state now does) are kept from the
    /// checkpoint on, the others made again from the checkpoint.
    fn update_prefixes(&mut self) {
        let Some(mut pre) = self.prefixes.take() else {
            return;
        };
        let end = pre.from + pre.applied.len();
        let still = !pre.images.is_empty()
            && pre.from <= self.durable
            && self.durable <= end
            && (pre.from..end).all(|j| self.applied_in_full(j) == pre.applied[j - pre.from]);
        if still {
            let gone = self.durable - pre.from;
            pre.images.drain(..gone);
            pre.applied.drain(..gone);
        } else {
            pre.images = vec![Prefix {
                image: self.checkpoint.clone(),
                memo: OnceLock::new(),
            }];
            pre.applied.clear();
        }
        pre.from = self.durable;
        while pre.from + pre.applied.len() < self.at {
            let j = pre.from + pre.applied.len();
            let mut image = pre.images.last().expect("one image at least").image.clone();
            let applied = self.applied_in_full(j);
            if applied {
                image.apply(&self.trace[j], &Variant::Full, self.block_size);
            }
            pre.images.push(Prefix {
                image,
                memo: OnceLock::new(),
            });
            pre.applied.push(applied);
        }
        self.prefixes = Some(pre);
    }

    /// Moves to crash point `cp` (never backwards) and describes it.
    pub fn point(&mut self, cp: usize) -> CrashPoint<'_> {
        self.advance(cp);
        self.here()
    }

    /// Describes the crash point the walk is at (the last one [`CrashWalk::advance`] moved
    /// to), without moving: a walk kept at a crash point rebuilds that point's states later.
    pub fn here(&self) -> CrashPoint<'_> {
        let cp = self.at;
        let mut pending = Vec::new();
        let mut factor = Vec::new();
        let mut since = LeastLens::default();
        for j in self.durable..cp {
            let op = &self.trace[j];
            since.see(op);
            if !self.res[j].resolved_at(cp) {
                let min_len = match op {
                    TraceOp::Write { ino, .. } => since.min_len(&self.checkpoint, *ino),
                    _ => None,
                };
                let cx = OpContext {
                    block_size: self.block_size,
                    min_len,
                };
                let variants = self.model.variants(op, &cx);
                assert!(
                    variants.first() == Some(&Variant::Full),
                    "variants start with Full"
                );
                pending.push(PendingOp {
                    index: j,
                    op,
                    variants,
                });
                if let Some(f) = &self.factors {
                    factor.push(f.of_op[j]);
                }
            }
        }
        CrashPoint {
            walk: self,
            cp,
            pending,
            factor,
            scope: Scope::AnyFactor,
        }
    }

    /// What changed from the previous crash point to this one, for a factored walk: `None`
    /// when a barrier resolved something, the checkpoint grew, or the operation issued in
    /// between is shared; otherwise the factor of that operation (`Scope::Only(Some(_))`), or
    /// nothing at all (`Scope::Only(None)`: an operation that changes no state).
    fn change_since_previous(&self) -> Option<Scope> {
        let factors = self.factors.as_ref()?;
        let last = self.at.checked_sub(1)?;
        if factors.resolves_earlier[self.at] {
            return None;
        }
        let (op, res) = (&self.trace[last], self.res[last]);
        if !res.resolved_at(self.at) {
            return factors.of_op[last].map(|f| Scope::Only(Some(f)));
        }
        if res.kept && op.changes_image() {
            return None;
        }
        Some(Scope::Only(None))
    }
}

/// Which departures from its base a state of a factored crash point may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Departures in the operations of at most one factor, and in shared operations.
    AnyFactor,
    /// Departures in this factor's operations only, or (`None`) in no factor's, and in shared
    /// operations.
    Only(Option<u32>),
}

impl Scope {
    /// The factor departures are already tied to (`Some(None)`: none may be made).
    fn fixed(self) -> Option<Option<u32>> {
        match self {
            Scope::AnyFactor => None,
            Scope::Only(f) => Some(f),
        }
    }
}

/// One crash point: the pending operations and the checkpoint to build states on.
pub struct CrashPoint<'w> {
    walk: &'w CrashWalk<'w>,
    /// The crash point: the state after the first `cp` operations were issued.
    pub cp: usize,
    /// The pending operations, in issue order.
    pub pending: Vec<PendingOp<'w>>,
    /// Each pending operation's factor (`None`: shared); empty when the walk is not factored.
    factor: Vec<Option<u32>>,
    /// Which departures a state may make (see [`CrashPoint::only_new_after`]).
    scope: Scope,
}

impl CrashPoint<'_> {
    /// How many operations the checkpoint holds.
    pub fn durable_prefix(&self) -> usize {
        self.walk.durable
    }

    /// The resolution of operation `j` (for display).
    pub fn resolution(&self, j: usize) -> Resolution {
        self.walk.res[j]
    }

    /// The product of the variant counts (saturating).
    pub fn combinations(&self) -> u128 {
        self.pending
            .iter()
            .fold(1u128, |acc, p| acc.saturating_mul(p.variants.len() as u128))
    }

    /// How many pending operations `choice` persists (wholly or in part).
    pub fn persisted(&self, choice: &[u16]) -> usize {
        self.pending
            .iter()
            .zip(choice)
            .filter(|(p, &c)| p.persists(c))
            .count()
    }

    /// Builds the crash state `choice` names (one variant position per pending operation).
    pub fn build(&self, choice: &[u16]) -> Image {
        self.build_on(choice).0
    }

    /// [`CrashPoint::build`], and the prefix image it built the state on (on a walk
    /// [keeping prefixes](CrashWalk::keeping_prefixes): the longest whose operations the state
    /// persists; `None`: built on the checkpoint). The state shares with that image the file
    /// bytes and directory tables it did not change.
    pub fn build_on(&self, choice: &[u16]) -> (Image, Option<usize>) {
        let walk = self.walk;
        // The first pending operation the state does not persist in full.
        let departs = self
            .pending
            .iter()
            .zip(choice)
            .position(|(_, &c)| c != 0)
            .map_or(self.cp, |i| self.pending[i].index);
        let (mut image, from, base) = match &walk.prefixes {
            Some(pre) if pre.from == walk.durable && departs - pre.from < pre.images.len() => {
                let i = departs - pre.from;
                (pre.images[i].image.clone(), departs, Some(i))
            }
            _ => (walk.checkpoint.clone(), walk.durable, None),
        };
        let mut next = self.pending.partition_point(|p| p.index < from);
        for j in from..self.cp {
            let op = &walk.trace[j];
            if next < self.pending.len() && self.pending[next].index == j {
                let variant = &self.pending[next].variants[choice[next] as usize];
                image.apply(op, variant, walk.block_size);
                next += 1;
            } else if walk.res[j].kept && op.changes_image() {
                image.apply(op, &Variant::Full, walk.block_size);
            }
        }
        (image, base)
    }

    /// For two choices at this crash point of a walk [keeping
    /// prefixes](CrashWalk::keeping_prefixes): the entries at which the state `choice` names
    /// may differ from the state `reference` names, with their hashes in both, computed
    /// without building either ([`super::unbuilt`]); `None` when that computation gives up.
    pub(crate) fn changed_entries(
        &self,
        reference: &[u16],
        choice: &[u16],
    ) -> Option<Vec<EntryChange<'_>>> {
        let walk = self.walk;
        let (pre, prints) = (walk.prefixes.as_ref()?, walk.prints.as_ref()?);
        if pre.from != walk.durable || self.cp - pre.from >= pre.images.len() {
            return None;
        }
        let Some(first) = (0..self.pending.len()).find(|&i| reference[i] != 0 || choice[i] != 0)
        else {
            return Some(Vec::new());
        };
        let departs = self.pending[first].index;
        let mut steps = Vec::with_capacity(self.cp - departs);
        let mut next = first;
        for j in departs..self.cp {
            if next < self.pending.len() && self.pending[next].index == j {
                let variants = &self.pending[next].variants;
                steps.push(Step {
                    at: j,
                    reference: &variants[reference[next] as usize],
                    state: &variants[choice[next] as usize],
                });
                next += 1;
            } else if walk.res[j].kept && walk.trace[j].changes_image() {
                steps.push(Step {
                    at: j,
                    reference: &Variant::Full,
                    state: &Variant::Full,
                });
            }
        }
        prints.changed_entries(
            &pre.images[departs - pre.from].image,
            &steps,
            walk.block_size,
        )
    }

    /// The index of this crash point's all-persisted prefix image (the state persisting every
    /// pending operation), on a walk keeping prefixes.
    pub(crate) fn all_persisted_prefix(&self) -> usize {
        self.cp - self.prefixes().from
    }

    /// The choice that loses every pending operation that can be lost (the base of the "at
    /// most k" states).
    pub(crate) fn all_lost(&self) -> Vec<u16> {
        self.pending
            .iter()
            .map(|p| p.position(&Variant::Lost).unwrap_or(0))
            .collect()
    }

    /// Prefix image `i` of this crash point ([`CrashPoint::build_on`]).
    pub fn prefix(&self, i: usize) -> &Image {
        &self.prefixes().images[i].image
    }

    /// A value derived from prefix image `i`, computed once per image: `derive(image, None)`
    /// for the first, `derive(image, Some((previous image, its value)))` for the others (which
    /// differ from the previous by one operation at most).
    pub fn prefix_memo(&self, i: usize, derive: &DeriveMemo<'_>) -> &[u128] {
        let images = &self.prefixes().images;
        let known = (0..=i).rev().find(|&k| images[k].memo.get().is_some());
        let first = match known {
            Some(k) => k + 1,
            None => {
                images[0]
                    .memo
                    .get_or_init(|| derive(&images[0].image, None));
                1
            }
        };
        for k in first..=i {
            let previous = &images[k - 1];
            let value = previous.memo.get().expect("computed in order");
            images[k]
                .memo
                .get_or_init(|| derive(&images[k].image, Some((&previous.image, value))));
        }
        images[i].memo.get().expect("just computed")
    }

    fn prefixes(&self) -> &Prefixes {
        self.walk
            .prefixes
            .as_ref()
            .expect("a prefix index comes from a walk keeping prefixes")
    }

    /// Calls `f(state_index, choice)` for each state of this crash point, in a fixed order, the
    /// choice already closed under the model's ordering rules; a choice that closes onto one
    /// already produced is skipped (its index is not reused). `seed` drives the random samples.
    pub fn for_each_state(
        &self,
        bounds: &Bounds,
        seed: u64,
        mut f: impl FnMut(usize, &[u16]) -> ControlFlow<()>,
    ) {
        let _ = self.enumerate(bounds, seed, &mut f);
    }

    fn enumerate(
        &self,
        bounds: &Bounds,
        seed: u64,
        f: &mut dyn FnMut(usize, &[u16]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let n = self.pending.len();
        let mut seen: BTreeSet<u128> = BTreeSet::new();
        let mut closed = vec![0u16; n];
        let mut index = 0usize;
        let mut emit = |choice: &[u16]| -> ControlFlow<()> {
            closed.copy_from_slice(choice);
            self.walk.model.close(&self.pending, &mut closed);
            let i = index;
            index += 1;
            if seen.insert(choice_hash(&closed)) {
                f(i, &closed)
            } else {
                ControlFlow::Continue(())
            }
        };
        if self.combinations() <= bounds.full_bound as u128 {
            return self.enumerate_all(&mut emit);
        }
        self.enumerate_bounded(bounds.k, &mut emit)?;
        let mut choice = vec![0u16; n];
        let mut rng = SplitMix64::new(seed);
        for _ in 0..bounds.samples {
            for (c, p) in choice.iter_mut().zip(&self.pending) {
                *c = rng.below(p.variants.len() as u64).map_or(0, |v| v as u16);
            }
            emit(&choice)?;
        }
        ControlFlow::Continue(())
    }

    /// Every combination of variants (in its scope), first pending operation fastest.
    fn enumerate_all(&self, emit: &mut dyn FnMut(&[u16]) -> ControlFlow<()>) -> ControlFlow<()> {
        let mut choice = vec![0u16; self.pending.len()];
        for _ in 0..self.combinations() {
            if self.in_scope(&choice) {
                emit(&choice)?;
            }
            // Mixed-radix increment, first pending operation fastest.
            for (c, p) in choice.iter_mut().zip(&self.pending) {
                *c += 1;
                if (*c as usize) < p.variants.len() {
                    break;
                }
                *c = 0;
            }
        }
        ControlFlow::Continue(())
    }

    /// Every state that persists all but at most `k` of the pending operations (base:
    /// everything full), then every state that persists at most `k` (base: everything lost),
    /// within the point's scope.
    fn enumerate_bounded(
        &self,
        k: usize,
        emit: &mut dyn FnMut(&[u16]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let n = self.pending.len();
        let mut choice = vec![0u16; n];
        let all_but = |p: &PendingOp<'_>| (1..p.variants.len() as u16).collect::<Vec<_>>();
        let at_most = |p: &PendingOp<'_>| {
            let base = p.position(&Variant::Lost).unwrap_or(0);
            (0..p.variants.len() as u16)
                .filter(|&v| v != base)
                .collect::<Vec<_>>()
        };
        let mut moves = Combos {
            pending: &self.pending,
            factor: &self.factor,
            alts: &all_but,
            emit,
        };
        for m in 0..=k.min(n) {
            moves.each(self.scope.fixed(), m, 0, &mut choice)?;
        }
        let lost = self.all_lost();
        moves.alts = &at_most;
        for m in 0..=k.min(n) {
            choice.copy_from_slice(&lost);
            moves.each(self.scope.fixed(), m, 0, &mut choice)?;
        }
        ControlFlow::Continue(())
    }

    /// Narrows a factored crash point to the states that may show what the previous crash
    /// point's states did not: when the only change since it is one more pending operation of
    /// one factor, the states departing in that factor (and in shared operations); when
    /// nothing changed, the states departing in shared operations only. See
    /// [`super::factor`], "From one crash point to the next". Only past `first`, the first
    /// crash point enumerated; the caller promises that every crash point from `first` on is
    /// enumerated with the same checks (the same acknowledgements visible). No effect on a walk
    /// that is not factored.
    pub fn only_new_after(mut self, first: usize) -> Self {
        if self.cp > first {
            if let Some(scope) = self.walk.change_since_previous() {
                self.scope = scope;
            }
        }
        self
    }

    /// Whether `choice` departs from everything persisted (position 0) in the pending
    /// operations its scope allows (always, when the walk is not factored).
    fn in_scope(&self, choice: &[u16]) -> bool {
        let mut fixed = self.scope.fixed();
        for (c, f) in choice.iter().zip(&self.factor) {
            if let (true, Some(f)) = (*c != 0, f) {
                match fixed {
                    Some(d) if d != Some(*f) => return false,
                    _ => fixed = Some(Some(*f)),
                }
            }
        }
        true
    }

    /// The closed choice of state `index`, if there is one.
    pub fn state(&self, bounds: &Bounds, seed: u64, index: usize) -> Option<Vec<u16>> {
        let mut found = None;
        self.for_each_state(bounds, seed, |i, choice| {
            if i == index {
                found = Some(choice.to_vec());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        found
    }
}

/// The least size each file may have in a crash state, from the checkpoint on: a file's size
/// only shrinks by a truncation (`set_len`) or by being created anew, so the least of its
/// checkpoint size and every such operation since, applied or not, bounds it from below. A
/// write ending past that bound may persist as zeros under posix: the size change reached the
/// disk, the data did not ([`super::model::write_variants`]). Where the file is in fact longer
/// in a state, that variant builds the same image as losing the write (it never shortens a
/// file), so a bound below the true least size only lists a variant twice.
#[derive(Default)]
struct LeastLens(BTreeMap<Ino, u64>);

impl LeastLens {
    /// Takes in operation `op`, issued after the checkpoint.
    fn see(&mut self, op: &TraceOp) {
        let (ino, len) = match op {
            TraceOp::SetLen { ino, len, .. } => (*ino, *len),
            TraceOp::Create { ino, .. } => (*ino, 0),
            _ => return,
        };
        let least = self.0.entry(ino).or_insert(len);
        *least = (*least).min(len);
    }

    /// The least size file `ino` may have (`None`: not in `checkpoint`, size 0).
    fn min_len(&self, checkpoint: &Image, ino: Ino) -> Option<u64> {
        let since = self.0.get(&ino).copied();
        checkpoint
            .file_len(ino)
            .map(|len| since.map_or(len, |s| s.min(len)))
    }
}

/// The ways of moving pending operations off their base values in a choice, each passed to
/// `emit`. With factors (`factor` not empty), only the ways whose moved operations belong to
/// one factor at most; shared operations (factor `None`) combine with any.
struct Combos<'p, 'o, 'e> {
    pending: &'p [PendingOp<'o>],
    factor: &'p [Option<u32>],
    /// The values an operation may move to.
    alts: &'p dyn Fn(&PendingOp<'_>) -> Vec<u16>,
    emit: &'e mut dyn FnMut(&[u16]) -> ControlFlow<()>,
}

impl Combos<'_, '_, '_> {
    /// Every way of moving `m` more pending operations (at positions `from..`) off the base
    /// values in `choice` to one of their `alts`: with factors, only within `fixed`, once it is
    /// set (`Some(None)`: no factor's).
    fn each(
        &mut self,
        fixed: Option<Option<u32>>,
        m: usize,
        from: usize,
        choice: &mut [u16],
    ) -> ControlFlow<()> {
        if m == 0 {
            return (self.emit)(choice);
        }
        for pos in from..self.pending.len() {
            if self.pending.len() - pos < m {
                break;
            }
            let here = self.factor.get(pos).copied().flatten();
            if here.is_some() && fixed.is_some_and(|f| f != here) {
                continue;
            }
            let base = choice[pos];
            for alt in (self.alts)(&self.pending[pos]) {
                choice[pos] = alt;
                self.each(fixed.or(here.map(Some)), m - 1, pos + 1, choice)?;
            }
            choice[pos] = base;
        }
        ControlFlow::Continue(())
    }
}

/// A 128-bit hash of a choice (two FNV-1a lanes), to skip choices closed onto the same state.
fn choice_hash(choice: &[u16]) -> u128 {
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142u64);
    for &c in choice {
        for byte in c.to_le_bytes() {
            a = (a ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ byte as u64).wrapping_mul(0x0000_0001_0000_0193 | (1 << 40));
        }
    }
    ((a as u128) << 64) | (b as u128 ^ choice.len() as u128)
}

/// Every crash state (deduplicated by fingerprint) that `model` allows at crash point `cp` of
/// `trace` issued on `base`, with full enumeration up to `bounds`. A test and tooling helper.
pub fn states_at(
    model: &dyn Model,
    base: &Image,
    trace: &[TraceOp],
    cp: usize,
    bounds: &Bounds,
    block_size: usize,
) -> Vec<Image> {
    let res = model.resolve(trace);
    let mut walk = CrashWalk::new(model, base, trace, &res, block_size);
    let point = walk.point(cp);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    point.for_each_state(bounds, 0, |_, choice| {
        let image = point.build(choice);
        if seen.insert(image.fingerprint()) {
            out.push(image);
        }
        ControlFlow::Continue(())
    });
    out
}

#[cfg(test)]
mod tests;
