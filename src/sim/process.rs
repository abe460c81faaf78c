//! Process crashes ([`CrashKind::Process`]): the workload's process dies at a crash point while
//! the machine keeps running; recovery runs on the *live* view; a power loss may follow at any
//! point of that recovery, or after it.
//!
//! For a crash point `cp` of a run, [`child_run`] builds:
//!
//! - the live view: the setup with every operation before `cp` applied in full (what the page
//!   cache shows: the `prefix` model's state; after a failed fsync it still shows the data the
//!   failure dropped from the disk);
//! - recovery's trace, from [`Subject::recover`] on a [`SimFs`] over that live view;
//! - the *combined* trace: the run's operations before `cp`, then recovery's. Its resolutions
//!   under the model are computed anew, so a barrier in recovery covers the workload's pending
//!   operations exactly as the model says, and one the workload's failed fsync dropped stays
//!   dropped: recovery cannot rely on having seen it.
//!
//! The combined trace is explored like the workload's own ([`super::engine::explore_run`]) from crash
//! point `cp + 1` on (with `recovery_depth` 0, where recovery never crashes, only at its end), with the acknowledgements the dead process had made; a process crash
//! inside that recovery is explored the same way, recursively, while the chain of process
//! crashes is shorter than [`ExploreConfig::recovery_depth`](crate::sim::ExploreConfig::recovery_depth) (at least one). A state reached
//! this way spends one level of crash-inside-recovery per process crash before it.
//!
//! Bounds: a process crash's power-loss states are crash points of a recovery, so they are
//! enumerated with recovery's bounds, and, as inside any recovery, only
//! [`ExploreConfig::recovery_fanout`](crate::sim::ExploreConfig::recovery_fanout) of them (per batch of crash points) have their own
//! recovery crashed in turn. The process crashes themselves happen at every crash point of the
//! fault-free run ([`ExploreConfig::process_points`](crate::sim::ExploreConfig::process_points)
//! bounds them for the largest workloads); at the end of each run whose injected fault hit a
//! barrier (the program gives up after a failed fsync and recovery runs in the same boot, on a
//! live view that shows what the failure dropped); and at `recovery_fanout` crash points of each
//! recovery ([`chosen_points`]; 0: all).
//!
//! # Process crashes that are skipped, and why nothing is lost
//!
//! - **Crash point `cp` itself.** The combined trace's first `cp` operations are the run's, and
//!   every model's resolutions are causal (whether an operation is resolved at a crash point
//!   depends only on the barriers before it), so its states at `cp` are the run's own states at
//!   `cp`, which the run explores with the same acknowledgements. Exploration starts at `cp + 1`
//!   (narrowed, for a factored walk, against the parent's `cp`: see `engine::narrowed`).
//! - **A recovery that issues no operation.** Then the combined trace is the run's prefix and
//!   the states it allows are the run's states at `cp`: nothing new. This is every crash point
//!   at which the live view needs no recovery (between transactions, before the first one).
//! - **Crash points before a fault.** A run with an injected fault is the fault-free run until
//!   the fault fires; its process crashes before [`Run::start`] are the fault-free run's. (Its
//!   process crashes after the fault are bounded, not skipped: see "Bounds".)
//!
//! `tests::process_crash_reductions_lose_nothing` (in `explore/tests.rs`) compares this against
//! an exploration without these skips on small workloads: the same verdicts.

use super::engine::{explore_run, panic_message, Found, ProgressFn, Run, Seen, Shared, Totals};
use super::explore::{CrashKind, Subject, Violation};
use super::fs::SimFs;
use super::image::Image;
use super::model::Variant;
use super::trace::TraceOp;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a process crash at one crash point gives.
pub(crate) enum Child<A> {
    /// Recovery on the live view issued no operation: nothing new to explore (module doc).
    Nothing,
    /// Recovery on the live view failed or panicked.
    Failed(Violation),
    /// The combined run to explore.
    Run(Run<A>),
}

/// The live view after the first `cp` operations of `trace`, issued on top of `setup`.
pub(crate) fn live_view(setup: &Image, trace: &[TraceOp], cp: usize, block_size: usize) -> Image {
    let mut live = setup.clone();
    for op in &trace[..cp] {
        live.apply(op, &Variant::Full, block_size.max(1) as u64);
    }
    live
}

/// The process dies at crash point `cp` of `parent`, whose live view there is `live`; recovery
/// runs on it. See the module doc.
pub(crate) fn child_run<S: Subject>(
    sh: &Shared<'_, S>,
    parent: &Run<S::Ack>,
    cp: usize,
    live: &Image,
) -> Child<S::Ack> {
    let fs = SimFs::from_image(live);
    match catch_unwind(AssertUnwindSafe(|| sh.subject.recover(&fs))) {
        Err(p) => {
            return Child::Failed(Violation::new(
                "recovery-error",
                format!(
                    "recovery on the live view after a process crash panicked: {}",
                    panic_message(p)
                ),
            ))
        }
        Ok(Err(e)) => {
            return Child::Failed(Violation::new(
                "recovery-error",
                format!("recovery on the live view after a process crash failed: {e}"),
            ))
        }
        Ok(Ok(())) => {}
    }
    let recovery = fs.trace();
    if recovery.is_empty() {
        return Child::Nothing;
    }
    let mut trace = parent.trace[..cp].to_vec();
    trace.extend(recovery);
    let res = sh.model.resolve(&trace);
    let mut acks = parent.acks.clone();
    acks.truncate_visible(cp);
    let mut process = parent.process.clone();
    process.push(cp);
    // With no crash inside recovery (`recovery_depth` 0), power is lost only once recovery
    // has finished.
    // Narrowing starts at the parent's crash point `cp` (see `engine::narrowed`) when power
    // may be lost from `cp + 1` on; otherwise the run's only point is enumerated in full.
    let (start, narrow_from) = match sh.config.recovery_depth {
        0 => (trace.len(), trace.len()),
        _ => (cp + 1, cp),
    };
    Child::Run(Run {
        fault: parent.fault,
        trace,
        res,
        acks,
        start,
        narrow_from,
        calls: parent.calls.clone(),
        depth: sh.config.recovery_depth.saturating_sub(process.len()),
        process,
    })
}

/// Explores a process crash at every crash point of `parent` from its start on (see the module
/// doc), and recursively inside each recovery.
pub(crate) fn explore_process<S: Subject>(
    sh: &Shared<'_, S>,
    parent: &Run<S::Ack>,
    jobs: usize,
    totals: &mut Totals,
    seen: &mut Seen,
    progress: &mut ProgressFn<'_>,
) {
    let limit = sh.config.recovery_depth.max(1);
    if !sh.config.process_crashes || parent.process.len() >= limit {
        return;
    }
    let n = parent.trace.len();
    let first = parent.start.min(n);
    let block = sh.config.block_size.max(1) as u64;
    let chosen = process_points(sh, parent, first);
    let mut live = live_view(&sh.setup, &parent.trace, first, sh.config.block_size);
    for cp in first..=n {
        if cp > first {
            live.apply(&parent.trace[cp - 1], &Variant::Full, block);
        }
        if chosen.as_ref().is_some_and(|c| !c.contains(&cp)) {
            continue;
        }
        totals.process.crash_points += 1;
        match child_run(sh, parent, cp, &live) {
            Child::Nothing => {}
            Child::Failed(violation) => {
                let mut process = parent.process.clone();
                process.push(cp);
                totals.push(Found {
                    fault: parent.fault,
                    process,
                    path: Vec::new(),
                    persisted: 0,
                    violation,
                });
            }
            Child::Run(child) => {
                debug_assert_eq!(child.kind(), CrashKind::Process);
                explore_run(sh, &child, jobs, totals, seen, progress);
                explore_process(sh, &child, jobs, totals, seen, progress);
            }
        }
        if parent.process.is_empty() {
            progress(totals, 1);
        }
    }
}

/// The crash points of `parent` (from `first` on) at which the process crashes (`None`: every
/// one); see the module doc, "Bounds".
fn process_points<S: Subject>(
    sh: &Shared<'_, S>,
    parent: &Run<S::Ack>,
    first: usize,
) -> Option<std::collections::BTreeSet<usize>> {
    let n = parent.trace.len();
    if !parent.process.is_empty() && sh.config.recovery_fanout > 0 {
        return Some(chosen_points(sh, parent, first));
    }
    let Some(fault) = parent.fault else {
        return spread(first, n, sh.config.process_points);
    };
    // A run with an injected fault: the program gives up at the failure, and recovery runs
    // in the same boot. Only a failed barrier makes that live view new (it shows what the
    // failure dropped); any other failure leaves the fault-free run's prefix, whose process
    // crashes that run explores.
    let barrier = parent.calls.get(fault.at).is_some_and(|c| c.op.is_sync());
    Some(if barrier {
        [n].into()
    } else {
        Default::default()
    })
}

/// Inside a recovery (a process crash's run), the crash points where the process crashes again:
/// `recovery_fanout` of them, those whose live views have the smallest fingerprints (distinct
/// views only) — a spread that depends neither on thread count nor on enumeration order, like
/// the choice of states that go deeper inside a recovery after a power loss.
fn chosen_points<S: Subject>(
    sh: &Shared<'_, S>,
    parent: &Run<S::Ack>,
    first: usize,
) -> std::collections::BTreeSet<usize> {
    let block = sh.config.block_size.max(1) as u64;
    let mut live = live_view(&sh.setup, &parent.trace, first, sh.config.block_size);
    let mut by_view = std::collections::BTreeMap::new();
    for cp in first..=parent.trace.len() {
        if cp > first {
            live.apply(&parent.trace[cp - 1], &Variant::Full, block);
        }
        by_view.entry(live.fingerprint()).or_insert(cp);
    }
    by_view
        .into_values()
        .take(sh.config.recovery_fanout)
        .collect()
}

/// `count` crash points spread evenly over `first..=last`, both ends included (`None`: all of
/// them, when `count` is 0 or covers the range).
fn spread(first: usize, last: usize, count: usize) -> Option<std::collections::BTreeSet<usize>> {
    let span = last - first;
    if count == 0 || count > span {
        return None;
    }
    if count == 1 {
        return Some([last].into());
    }
    Some((0..count).map(|i| first + i * span / (count - 1)).collect())
}
