//! The explorer's machinery (see [`super::explore()`] for what it does): workload runs, the
//! level-by-level check of crash states, deduplication, parallelism, replay.
//!
//! Determinism: crash points are taken in fixed batches; within a batch the states are generated
//! in parallel, then deduplicated in one ordered pass, then checked in parallel; the children
//! (crash states inside recovery) of a level are deduplicated in the order of their parents. No
//! result depends on the number of threads.

use super::cover::{CleanParts, PartGroups};
use super::explore::{
    AckLog, CrashKind, ExploreConfig, ExploreReport, InvariantFindings, KindCounts, Subject,
    UnreadFilesFn, UsedBounds, Violation,
};
use super::factor::Factoring;
use super::fs::{CallRecord, Fault, FaultKind, SimFs};
use super::image::Image;
use super::model::{Model, Resolution};
use super::states::{Bounds, CrashWalk};
use super::trace::TraceOp;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

mod nest;
mod verdict;
use nest::Nest;
use verdict::check_state_with;
pub(crate) use verdict::{check_state, panic_message, Verdicts};

/// Crash points per batch (a fixed number, so that results do not depend on the thread count).
const BATCH: usize = 64;
/// Crash points per generation task inside a batch.
const TASK: usize = 8;

/// What the explorer shares with every worker.
pub(crate) struct Shared<'a, S: Subject> {
    pub subject: &'a S,
    pub model: &'a dyn Model,
    pub config: &'a ExploreConfig,
    pub bounds: Bounds,
    /// The bounds inside recovery (crash states of recovery's own trace).
    pub recovery_bounds: Bounds,
    pub setup: Image,
    /// The subject's independent factors ([`Subject::factoring`]).
    pub factoring: Option<Factoring>,
    /// The keys of crash states' parts under those factors ([`super::cover`]).
    pub parts: Option<PartGroups>,
    /// The subject's unread files ([`Subject::unread_files`]).
    unread: UnreadFilesFn<'a>,
}

impl<'a, S: Subject> Shared<'a, S> {
    pub(crate) fn new(subject: &'a S, model: &'a dyn Model, config: &'a ExploreConfig) -> Self {
        let bounds = Bounds {
            full_bound: config.full_bound,
            k: config.k,
            samples: config.samples,
        };
        let factoring = subject.factoring();
        Shared {
            subject,
            model,
            config,
            bounds,
            recovery_bounds: bounds.for_recovery(),
            setup: subject.setup(),
            parts: PartGroups::new(factoring.as_ref()),
            factoring,
            unread: subject.unread_files(),
        }
    }

    /// The factors crash points are enumerated by: the subject's, at every level and under
    /// both crash kinds (see [`super::factor`]).
    pub(crate) fn factoring(&self) -> Option<&Factoring> {
        self.factoring.as_ref()
    }

    /// What tells crash states apart: the image's fingerprint, blind to the bytes of the files
    /// the subject says recovery and the check never read ([`Subject::unread_files`];
    /// [`Image::fingerprint`] for a subject that declares none).
    ///
    /// Why a state `J` that matches a state `I` checked at the same or a greater remaining depth
    /// loses nothing: by the subject's promise `J` recovers as `I` does (the same error, or the
    /// same recovered image, judged the same), so its verdict is `I`'s. Recovery on `J` issues
    /// `I`'s operations, so the two recoveries' traces, the model's resolutions of them and
    /// their crash points are the same, and a crash state inside `J`'s recovery is built with
    /// the same choice as one inside `I`'s by the same operations on images that differ only
    /// in those files' bytes; as recovery only unlinks them, the two built states differ only
    /// in the bytes of files of `I` still there, which the subject names again there: they
    /// match too, at the same remaining depth. By induction on the depth, the violations below
    /// `J` are those below `I` (the same invariants and messages; the counts of states that
    /// show them are smaller). The narrowing by factors and clean parts key states by their
    /// parts, not by this value, so they are unaffected.
    pub(crate) fn state_fp(&self, image: &Image) -> u128 {
        image.fingerprint_unread(&(self.unread)(image))
    }

    /// The bounds at `level` (0: the workload's trace; 1 and more: inside recovery) of a state
    /// of `kind`. A process crash's power-loss states are all crash points of a recovery (run
    /// on the live view), so they get recovery's bounds from level 0 on.
    pub(crate) fn bounds_at(&self, kind: CrashKind, level: usize) -> &Bounds {
        if level == 0 && kind == CrashKind::Power {
            &self.bounds
        } else {
            &self.recovery_bounds
        }
    }
}

/// Of the new distinct states of one crash point, keeps crash-inside-recovery exploration for
/// `fanout` of them (0: all), chosen by fingerprint so that the choice is a spread over the
/// crash point's states that does not depend on enumeration order; the others get depth 0.
fn limit_fanout(items: &mut [Item<'_>], fanout: usize) {
    if fanout == 0 || items.len() <= fanout {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].fp);
    for &i in &order[fanout..] {
        items[i].remaining = 0;
    }
}

/// One run of the workload, or of the workload up to a process crash followed by recovery on
/// the live view (see [`super::process`]).
pub(crate) struct Run<A> {
    pub fault: Option<Fault>,
    pub trace: Vec<TraceOp>,
    pub res: Vec<Resolution>,
    pub acks: AckLog<A>,
    /// The first crash point to explore (where the fault fired; for a process crash, the first
    /// point after recovery's first operation).
    pub start: usize,
    /// The crash point from which on every crash point of `trace` is explored with the
    /// acknowledgements this run sees there, by this run or by the run whose prefix it shares
    /// ([`narrowed`] narrows every later point against the one before it): 0 for a workload
    /// run, with or without a fault (the crash points before a fault are the fault-free run's);
    /// for a process crash's run, the parent's crash point at which the process died, when
    /// power may be lost from the next point on.
    pub narrow_from: usize,
    pub calls: Vec<CallRecord>,
    /// The process crash points, outermost first; empty for the workload's own run.
    pub process: Vec<usize>,
    /// How many levels of crash-inside-recovery the states of this run may still explore.
    pub depth: usize,
}

impl<A> Run<A> {
    /// The crash kind of this run's states.
    pub fn kind(&self) -> CrashKind {
        CrashKind::of(&self.process)
    }
}

/// Runs the workload (with `fault` armed); `None` if the fault never fired.
pub(crate) fn run_workload<S: Subject>(
    sh: &Shared<'_, S>,
    fault: Option<Fault>,
) -> Option<Run<S::Ack>> {
    let fs = SimFs::from_image(&sh.setup);
    fs.set_fault(fault);
    let mut acks = AckLog::new();
    sh.subject.run(&fs, &mut acks);
    let start = match fault {
        None => 0,
        Some(_) => fs.fault_fired_at()?,
    };
    let trace = fs.trace();
    let res = sh.model.resolve(&trace);
    Some(Run {
        fault,
        trace,
        res,
        acks,
        start,
        narrow_from: 0,
        calls: fs.calls(),
        process: Vec::new(),
        depth: sh.config.recovery_depth,
    })
}

/// A crash state to check. It keeps the walk at its crash point and its choice rather than its
/// image, and is rebuilt when checked: a batch holds thousands of items at once, and an image
/// (its inode table and every file it changed) is far larger than a choice.
struct Item<'w> {
    /// `(crash point, state index)` per level.
    path: Vec<(usize, usize)>,
    /// Non-durable workload operations the top-level state persists (for ordering).
    persisted: usize,
    /// The walk at the state's crash point, shared by that point's items.
    walk: Arc<CrashWalk<'w>>,
    /// The state's closed choice at that crash point.
    choice: Vec<u16>,
    fp: u128,
    /// How many acks it sees.
    acks: usize,
    /// How many more levels of crash-in-recovery to explore below it.
    remaining: usize,
}

/// A violation found, with where.
#[derive(Clone)]
pub(crate) struct Found {
    pub fault: Option<Fault>,
    /// The process crash points (empty: a power loss).
    pub process: Vec<usize>,
    /// The power-loss state and the crashes inside recovery after it (empty only when recovery
    /// on a process crash's live view itself failed).
    pub path: Vec<(usize, usize)>,
    pub persisted: usize,
    pub violation: Violation,
}

/// The smallest-first order of violations: the earliest crash in the workload, power losses
/// before process crashes, fewest non-durable operations persisted.
type FoundKey<'a> = (
    usize,
    usize,
    usize,
    Option<Fault>,
    &'a [usize],
    &'a [(usize, usize)],
);

impl Found {
    fn key(&self) -> FoundKey<'_> {
        let first = match (self.process.first(), self.path.first()) {
            (Some(&cp), _) => cp,
            (None, Some(&(cp, _))) => cp,
            (None, None) => 0,
        };
        (
            first,
            self.process.len(),
            self.persisted,
            self.fault,
            &self.process,
            &self.path,
        )
    }
}

/// The seed of the random samples at crash point `cp` below the state at `prefix`.
pub(crate) fn sample_seed(
    seed: u64,
    fault: Option<Fault>,
    prefix: &[(usize, usize)],
    cp: usize,
) -> u64 {
    fn mix(h: u64, v: u64) -> u64 {
        let mut z = (h ^ v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let mut h = mix(seed, 0x5eed);
    h = mix(
        h,
        fault.map_or(0, |f| {
            1 + 2 * f.at as u64 + (f.kind == FaultKind::NoSpace) as u64
        }),
    );
    for &(a, b) in prefix {
        h = mix(mix(h, a as u64), b as u64);
    }
    mix(h, cp as u64)
}

/// Maps `f` over `items` on `jobs` threads, keeping the order.
fn par_map<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if jobs <= 1 || items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.min(items.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len() {
                            return done;
                        }
                        done.push((i, f(&items[i])));
                    }
                })
            })
            .collect();
        for worker in workers {
            let done = worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (i, r) in done {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

/// What checking one top-level item, and the crash states nested inside its recovery, gave.
#[derive(Default)]
struct Outcome {
    /// Each violation with the path of the state that shows it.
    violations: Vec<(Vec<(usize, usize)>, Violation)>,
    crash_points: u64,
    crash_states: u64,
    distinct: u64,
    /// The keys of the factors of the clean states checked ([`super::cover`]).
    clean: CleanParts,
}

/// Checks one top-level item and, depth first, the crash states inside its recovery. Depth
/// first keeps memory to one crash point's states per level; states are deduplicated within the
/// item's subtree (by fingerprint, at the same or a greater remaining depth).
fn process<S: Subject>(
    sh: &Shared<'_, S>,
    run: &Run<S::Ack>,
    before: &Seen,
    item: &Item<'_>,
) -> Outcome {
    let image = item.walk.here().build(&item.choice);
    debug_assert_eq!(
        sh.state_fp(&image),
        item.fp,
        "a rebuilt state is the same state"
    );
    let mut nest = Nest {
        sh,
        run,
        before,
        item,
        path: item.path.clone(),
        seen: BTreeMap::new(),
        out: Outcome::default(),
    };
    nest.visit(&image, item.remaining, None);
    nest.out
}

/// `point`, a crash point of `run`'s own trace, narrowed to what is new since the previous
/// crash point ([`super::states::CrashPoint::only_new_after`], for a factored walk) when that
/// point was explored, in this run or in the run whose prefix it shares ([`Run::narrow_from`]),
/// with the same acknowledgements visible.
///
/// The first crash point of a run with an injected fault is narrowed too: the run is the
/// fault-free run up to the failing call, so its trace, the model's resolutions (causal: they
/// depend only on the operations before a crash point) and its acknowledgements pushed before
/// the trace reached [`Run::start`] are that run's. When the acks visible at `start` are those
/// visible at `start - 1` (the condition below), the states of `start - 1` are the fault-free
/// run's, checked there with these acks, and the argument of [`super::factor`] ("From one
/// crash point to the next") covers the states `start` leaves out by them and by the states of
/// `start` it keeps. The same holds for a process crash's run at the parent's crash point `cp`
/// (its first `cp` operations and its acks are the parent's): its first point `cp + 1` is
/// narrowed against the parent's `cp`, whose bounds are the same or wider.
pub(crate) fn narrowed<'w, A>(
    run: &Run<A>,
    point: super::states::CrashPoint<'w>,
) -> super::states::CrashPoint<'w> {
    let cp = point.cp;
    if cp > 0 && run.acks.visible_at(cp) == run.acks.visible_at(cp - 1) {
        point.only_new_after(run.narrow_from)
    } else {
        point
    }
}

/// Generates the top-level states of crash points `cps`, starting from `walk`.
fn generate<'w, S: Subject>(
    sh: &Shared<'_, S>,
    run: &Run<S::Ack>,
    walk: &CrashWalk<'w>,
    cps: Range<usize>,
) -> (Vec<Item<'w>>, u64) {
    let mut walk = walk.clone();
    let mut items = Vec::new();
    let mut states = 0u64;
    let mut local = BTreeSet::new();
    for cp in cps {
        walk.advance(cp);
        let at = Arc::new(walk.clone());
        let point = narrowed(run, at.here());
        let acks = run.acks.visible_at(cp);
        let seed = sample_seed(sh.config.seed, run.fault, &[], cp);
        let first = items.len();
        point.for_each_state(sh.bounds_at(run.kind(), 0), seed, |index, choice| {
            states += 1;
            let image = point.build(choice);
            let fp = sh.state_fp(&image);
            if local.insert((fp, acks)) {
                items.push(Item {
                    path: vec![(cp, index)],
                    persisted: point.persisted(choice),
                    walk: Arc::clone(&at),
                    choice: choice.to_vec(),
                    fp,
                    acks,
                    remaining: run.depth,
                });
            }
            ControlFlow::Continue(())
        });
        limit_fanout(&mut items[first..], sh.config.recovery_fanout);
    }
    (items, states)
}

/// What one workload run and its process crashes have checked: the states, by (fingerprint,
/// acks visible), with the remaining depth they were checked at, and the verdicts by recovered
/// image ([`Verdicts`]). Checking depends on nothing else (see [`Subject::check`]), so a state
/// met again at the same or a smaller remaining depth, under either crash kind, has nothing new
/// to show.
///
/// A run with an injected fault also consults the states the fault-free run checked
/// ([`Seen::after`]), for the states that see at most `shared_acks` acknowledgements: those
/// pushed before the trace reached the fault's crash point. Up to the call that fails, the two
/// runs are the same deterministic program on the same filesystem: the same operations, and the
/// same acknowledgements pushed in the same order (an ack pushed while the trace held fewer than
/// [`Run::start`] operations was pushed before that call began, in both runs). So the first
/// `shared_acks` acks of the fault run *are* the first `shared_acks` of the fault-free run, and
/// (fingerprint, acks count) names the same (image, acks) in both: a state the fault-free run
/// checked at the same or a greater remaining depth is the same check. Counting one more ack
/// (one pushed after the fault fired, such as a reopened journal's `Recovered`) keeps the state
/// apart, so the fault run checks it. The same holds of the keys of clean parts
/// ([`super::cover`]), which count the acks the same way.
#[derive(Default)]
pub(crate) struct Seen {
    states: BTreeMap<(u128, usize), usize>,
    verdicts: Verdicts,
    /// The keys of the factors of the clean states checked ([`super::cover`]), as of the
    /// start of the batch being checked.
    clean: CleanParts,
    /// What the fault-free run checked, for a fault run.
    earlier: Option<Arc<Checked>>,
    /// How many acks a state may see and still be looked up in `earlier`.
    shared_acks: usize,
}

/// What the fault-free run checked, kept for the runs with a fault (see [`Seen`]).
pub(crate) struct Checked {
    states: BTreeMap<(u128, usize), usize>,
    clean: CleanParts,
}

impl Seen {
    /// Nothing checked yet.
    pub(crate) fn new() -> Seen {
        Seen::default()
    }

    /// Nothing checked yet by `run`, a run with an injected fault; `base` is what the
    /// fault-free run checked (see the type's doc).
    pub(crate) fn after<A>(base: Arc<Checked>, run: &Run<A>) -> Seen {
        Seen {
            earlier: Some(base),
            shared_acks: run.acks.entries().partition_point(|(i, _)| *i < run.start),
            ..Seen::default()
        }
    }

    /// Whether (`fp`, `acks`) was checked at a remaining depth of at least `remaining`.
    fn checked(&self, key: (u128, usize), remaining: usize) -> bool {
        let deep_enough = |states: &BTreeMap<(u128, usize), usize>| {
            states.get(&key).is_some_and(|&depth| depth >= remaining)
        };
        deep_enough(&self.states)
            || (key.1 <= self.shared_acks
                && self
                    .earlier
                    .as_deref()
                    .is_some_and(|e| deep_enough(&e.states)))
    }

    /// Whether `key`, the key of a factor of a state seen with `acks` acks, was recorded clean
    /// before the current batch (see [`super::cover`]).
    fn clean(&self, key: u128, acks: usize) -> bool {
        self.clean.contains(key)
            || (acks <= self.shared_acks
                && self
                    .earlier
                    .as_deref()
                    .is_some_and(|e| e.clean.contains(key)))
    }

    /// What this run checked, for the runs with a fault after it.
    fn into_checked(self) -> Checked {
        Checked {
            states: self.states,
            clean: self.clean,
        }
    }
}

/// Keeps the items not checked yet at the same or a greater remaining depth, in order.
fn dedupe<'w>(seen: &mut Seen, items: Vec<Item<'w>>) -> Vec<Item<'w>> {
    items
        .into_iter()
        .filter(|item| {
            let key = (item.fp, item.acks);
            if seen.checked(key, item.remaining) {
                return false;
            }
            seen.states.insert(key, item.remaining);
            true
        })
        .collect()
}

/// Running totals.
#[derive(Default)]
pub(crate) struct Totals {
    pub power: KindCounts,
    pub process: KindCounts,
    pub found: Vec<Found>,
    /// Per (kind, invariant): the count and the smallest violation.
    pub by_invariant: BTreeMap<(CrashKind, String), (u64, Found)>,
}

impl Totals {
    /// Records a violation.
    pub fn push(&mut self, found: Found) {
        let kind = CrashKind::of(&found.process);
        self.counts(kind).violations += 1;
        let key = (kind, found.violation.invariant.clone());
        match self.by_invariant.get_mut(&key) {
            Some((count, smallest)) => {
                *count += 1;
                if found.key() < smallest.key() {
                    *smallest = found.clone();
                }
            }
            None => {
                self.by_invariant.insert(key, (1, found.clone()));
            }
        }
        self.found.push(found);
    }

    fn trim(&mut self, keep: usize) {
        self.found.sort_by(|a, b| a.key().cmp(&b.key()));
        self.found.truncate(keep);
    }

    /// The counts of `kind`.
    pub fn counts(&mut self, kind: CrashKind) -> &mut KindCounts {
        match kind {
            CrashKind::Power => &mut self.power,
            CrashKind::Process => &mut self.process,
        }
    }

    /// Crash states enumerated under both kinds.
    fn states(&self) -> u64 {
        self.power.crash_states + self.process.crash_states
    }
}

/// The exploration's progress reporter: called with the totals and how many workload crash
/// points were just finished.
pub(crate) type ProgressFn<'p> = dyn FnMut(&Totals, usize) + 'p;

/// Explores every crash point from `run.start` on, counting under the run's kind and skipping
/// the states in `seen`.
pub(crate) fn explore_run<S: Subject>(
    sh: &Shared<'_, S>,
    run: &Run<S::Ack>,
    jobs: usize,
    totals: &mut Totals,
    seen: &mut Seen,
    progress: &mut ProgressFn<'_>,
) {
    let n = run.trace.len();
    let mut master = CrashWalk::new(
        sh.model,
        &sh.setup,
        &run.trace,
        &run.res,
        sh.config.block_size,
    )
    .factored(sh.factoring());
    let mut cp = run.start;
    while cp <= n {
        let end = (cp + BATCH).min(n + 1);
        let items = generate_batch(sh, run, jobs, &mut master, cp..end, totals);
        check_level(sh, run, jobs, totals, seen, items);
        if totals.found.len() > 4 * sh.config.max_violations + 64 {
            totals.trim(sh.config.max_violations);
        }
        if run.kind() == CrashKind::Power {
            progress(totals, end - cp);
        }
        cp = end;
    }
}

/// Generates the top-level states of the crash points `cps` (one batch) on `jobs` threads, in
/// tasks of [`TASK`] points each, `master` advanced to the batch's last task; counts the points
/// and the states enumerated.
fn generate_batch<'w, S: Subject>(
    sh: &Shared<'_, S>,
    run: &Run<S::Ack>,
    jobs: usize,
    master: &mut CrashWalk<'w>,
    cps: Range<usize>,
    totals: &mut Totals,
) -> Vec<Item<'w>> {
    let mut tasks = Vec::new();
    let mut a = cps.start;
    while a < cps.end {
        let b = (a + TASK).min(cps.end);
        master.advance(a);
        tasks.push((master.clone(), a..b));
        a = b;
    }
    let generated = par_map(jobs, &tasks, |(walk, cps)| {
        generate(sh, run, walk, cps.clone())
    });
    let counts = totals.counts(run.kind());
    counts.crash_points += cps.len() as u64;
    let mut items = Vec::new();
    for (batch, states) in generated {
        counts.crash_states += states;
        items.extend(batch);
    }
    items
}

/// Checks the `items` of one batch not in `seen` (and the states inside their recoveries) on
/// `jobs` threads, adding their counts and violations to `totals`.
fn check_level<S: Subject>(
    sh: &Shared<'_, S>,
    run: &Run<S::Ack>,
    jobs: usize,
    totals: &mut Totals,
    seen: &mut Seen,
    items: Vec<Item<'_>>,
) {
    let kind = run.kind();
    let mut level = dedupe(seen, items);
    if kind == CrashKind::Process {
        // A process crash's states are crash points of one recovery: as inside any
        // recovery, `recovery_fanout` of them in all (per batch) go deeper.
        limit_fanout(&mut level, sh.config.recovery_fanout);
    }
    let before: &Seen = seen;
    let outcomes = par_map(jobs, &level, |item| process(sh, run, before, item));
    for (item, outcome) in level.iter().zip(outcomes) {
        seen.clean.merge(outcome.clean);
        let counts = totals.counts(kind);
        counts.distinct_states += outcome.distinct;
        counts.crash_points += outcome.crash_points;
        counts.crash_states += outcome.crash_states;
        for (path, violation) in outcome.violations {
            totals.push(Found {
                fault: run.fault,
                process: run.process.clone(),
                path,
                persisted: item.persisted,
                violation,
            });
        }
    }
}

/// The faults to inject, one run each, with [`ExploreConfig::inject_errors`]: every call of the
/// fault-free run failing with EIO, and every call that allocates failing with ENOSPC.
fn faults_to_inject<A>(base: &Run<A>, config: &ExploreConfig) -> Vec<Fault> {
    let mut faults = Vec::new();
    if config.inject_errors {
        for (at, call) in base.calls.iter().enumerate() {
            faults.push(Fault {
                at,
                kind: FaultKind::Eio,
            });
            if call.allocates {
                faults.push(Fault {
                    at,
                    kind: FaultKind::NoSpace,
                });
            }
        }
    }
    faults
}

/// See [`super::explore::explore`].
pub(crate) fn explore<S: Subject>(
    subject: &S,
    model: &dyn Model,
    config: &ExploreConfig,
) -> ExploreReport {
    let started = Instant::now();
    let sh = Shared::new(subject, model, config);
    let jobs = match config.jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let base = run_workload(&sh, None).expect("a fault-free run always completes");
    let faults = faults_to_inject(&base, config);
    let n = base.trace.len();
    let fsync_calls = base.trace.iter().filter(|op| op.is_fsync_family()).count() as u64;
    let kinds = if config.process_crashes { 2.0 } else { 1.0 };
    let estimated_points = kinds * (n + 1) as f64 * (1.0 + faults.len() as f64 / 2.0);
    let mut points_done = 0usize;
    let mut report_progress = |totals: &Totals, points: usize| {
        points_done += points;
        if let Some(cb) = &config.progress {
            let done = totals.states();
            let known = (done as f64 * estimated_points / points_done.max(1) as f64) as u64;
            cb(done, known.max(done));
        }
    };
    let mut totals = Totals::default();
    let runs = std::iter::once(Some(base)).chain(
        faults
            .into_iter()
            .map(|fault| run_workload(&sh, Some(fault))),
    );
    let mut base_states = None;
    for run in runs.flatten() {
        // One dedup set per workload run: its power-loss states, then its process crashes
        // (whose states that equal a power-loss state already checked are not checked again);
        // a fault run also skips what the fault-free run checked (see `Seen`).
        let mut seen = match &base_states {
            None => Seen::new(),
            Some(base) => Seen::after(Arc::clone(base), &run),
        };
        let progress: &mut ProgressFn<'_> = &mut report_progress;
        explore_run(&sh, &run, jobs, &mut totals, &mut seen, &mut *progress);
        super::process::explore_process(&sh, &run, jobs, &mut totals, &mut seen, progress);
        if base_states.is_none() {
            base_states = Some(Arc::new(seen.into_checked()));
        }
    }
    totals.trim(config.max_violations);
    report(&sh, totals, n as u64, fsync_calls, started)
}

/// The report of an exploration of `sh` that found `totals`, over a fault-free trace of `n`
/// operations with `fsync_calls` synchronisation calls, started at `started`.
fn report<S: Subject>(
    sh: &Shared<'_, S>,
    totals: Totals,
    n: u64,
    fsync_calls: u64,
    started: Instant,
) -> ExploreReport {
    let (subject, model, config) = (sh.subject, sh.model, sh.config);
    let violations = totals
        .found
        .iter()
        .map(|f| super::replay::counterexample(sh, f))
        .collect();
    let by_invariant = totals
        .by_invariant
        .iter()
        .map(|((kind, invariant), (count, found))| InvariantFindings {
            kind: *kind,
            invariant: invariant.clone(),
            count: *count,
            smallest: super::replay::counterexample(sh, found),
        })
        .collect();
    let mut all = totals.power;
    all.add(&totals.process);
    ExploreReport {
        subject: subject.name(),
        model: model.name().to_string(),
        crash_points: all.crash_points,
        crash_states: all.crash_states,
        distinct_states: all.distinct_states,
        power: totals.power,
        process: totals.process,
        trace_ops: n,
        fsync_calls,
        elapsed: started.elapsed(),
        violations,
        by_invariant,
        violation_count: all.violations,
        bounds: UsedBounds::of(config),
        factors: sh
            .factoring()
            .filter(|_| model.independent_ops())
            .map_or(0, Factoring::len),
    }
}
