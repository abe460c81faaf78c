//! The built-in workloads behind `crashsafe check`.
//!
//! Small on purpose: every crash state of every workload is explored under every model, with
//! crashes inside recovery and injected errors, so each workload is a handful of transactions over
//! a small namespace of nested paths, with contents that straddle 4 KiB block boundaries.

use super::known_bad::KnownBad;
use super::workload::{
    Delivery, JournalSubject, OnFailure, SyncSpec, TxnSpec, UpdateSpec, Workload,
};
use crate::path::RelPath;
use crate::sim::{ExploreConfig, Model};

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("suite paths are plain")
}

/// Content of `len` bytes derived from `seed`, so that different versions never coincide.
pub fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8) | 1)
        .collect()
}

fn write(target: &str, seed: u8, len: usize) -> UpdateSpec {
    UpdateSpec {
        target: p(target),
        new: Some(content(seed, len)),
        via: Delivery::Bytes,
        increment: None,
    }
}

/// `u`, its new content delivered `via` a stream or a host file.
fn delivered(mut u: UpdateSpec, via: Delivery) -> UpdateSpec {
    u.via = via;
    u
}

fn with_inc(u: UpdateSpec, inc: &str, seed: u8) -> UpdateSpec {
    with_inc_of(u, inc, seed, 37)
}

/// `u` with an increment of `len` bytes.
fn with_inc_of(mut u: UpdateSpec, inc: &str, seed: u8, len: usize) -> UpdateSpec {
    u.increment = Some((p(inc), content(seed, len)));
    u
}

fn delete(target: &str) -> UpdateSpec {
    UpdateSpec {
        target: p(target),
        new: None,
        via: Delivery::Bytes,
        increment: None,
    }
}

fn single(u: UpdateSpec) -> TxnSpec {
    TxnSpec {
        updates: vec![u],
        atomic: false,
    }
}

/// The namespace every workload starts from: nested directories and a few files.
fn base(txns: Vec<TxnSpec>, sync: SyncSpec) -> Workload {
    Workload {
        dirs: vec![p("a/b"), p("c"), p("inc")],
        files: vec![
            (p("a/x.txt"), content(1, 5000)),
            (p("a/b/y.txt"), content(2, 100)),
            (p("c/z.txt"), content(3, 4096)),
            (p("keep.txt"), content(4, 10)),
        ],
        txns,
        sync,
        on_failure: OnFailure::Stop,
    }
}

/// `w`, reopening and recovering the journal after a failed commit, then going on.
fn reopening(mut w: Workload) -> Workload {
    w.on_failure = OnFailure::ReopenAndRecover;
    w
}

/// A batch of `n` updates mixing creations, replacements and deletions across directories,
/// each with an increment.
fn mixed_batch(n: usize, atomic: bool, seed: u8) -> TxnSpec {
    let dirs = ["a", "a/b", "c"];
    let updates = (0..n)
        .map(|i| {
            let dir = dirs[i % dirs.len()];
            let u = match i {
                0 => write("a/x.txt", seed, 4097),
                1 => delete("a/b/y.txt"),
                2 => write("c/z.txt", seed, 10),
                _ => write(
                    &format!("{dir}/new{i}.dat"),
                    seed.wrapping_add(i as u8),
                    1 + (i * 613) % 4200,
                ),
            };
            with_inc(u, &format!("inc/b{seed}-{i}"), seed.wrapping_add(i as u8))
        })
        .collect();
    TxnSpec { updates, atomic }
}

/// How much of a workload's crash-state space the suite explores, where it must be less than the
/// run's settings: the 64-update batches under posix and ext4-ordered. They have hundreds of
/// operations pending between barriers and every one of their states carries a recovery of 64
/// updates, which after the switch rewrites up to 64 files (see `journal::recover`), each
/// rewrite a handful of crash points of its own. The process crashes at 8 crash points spread
/// over the fault-free run (and at the end of each run whose injected fault hit a barrier),
/// with an error injected at every call. Both batches run at the run's recovery fan-out (4 by
/// default): their 64 updates are independent factors (the atomic batch's of one agreement
/// group, `Workload::factoring`), and the states inside recoveries, which repeat update by
/// update from one recovery to the next, are skipped once every update's part was seen clean
/// (`crate::sim::cover`, under every model). Under posix, whose operations persist
/// independently, they also run at the run's k: a crash point has about as many states as one
/// update's operations give (`crate::sim::factor`). Under ext4-ordered, whose ordering rules
/// tie operations together, k = 2 would be every pair of hundreds of pending operations:
/// k = 1. Crashes are nested to depth 2 under ext4-ordered, to depth 1 under posix. Under
/// prefix there is no budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The largest k.
    pub max_k: usize,
    /// The largest recovery fan-out.
    pub max_recovery_fanout: usize,
    /// The most crash points of a run at which the process crashes.
    pub max_process_points: usize,
    /// The deepest nesting of crashes inside recovery.
    pub max_depth: usize,
}

/// The budget of a built-in workload under `model` (`None`: the run's settings apply unchanged).
pub fn budget(name: &str, model: &dyn Model) -> Option<Budget> {
    // Under prefix (one order, few states per crash point) the 64-update batches take about
    // 10 s of CPU each at the run's settings: no budget. Elsewhere a 64-update batch is 64
    // factors, atomic or not: clean parts (`crate::sim::cover`) apply under every model, the
    // per-factor enumeration only where operations persist independently.
    let budgeted = name.starts_with("batch-64") && model.name() != crate::sim::Prefix.name();
    let posix = model.name() == crate::sim::Posix.name();
    budgeted.then_some(Budget {
        max_k: if model.independent_ops() { 2 } else { 1 },
        max_recovery_fanout: 4,
        // Every crash point would cost 40 s of CPU more under ext4-ordered and 84 s more
        // under posix (BENCHMARKS.md).
        max_process_points: 8,
        // Depth 2 costs a few seconds of CPU more under ext4-ordered; under posix, where each
        // of their states' recoveries has hundreds of crash states, 130 s and 180 s more.
        max_depth: if posix { 1 } else { 2 },
    })
}

/// Applies a workload's budget under `model` to the run's configuration.
pub fn config_for(name: &str, model: &dyn Model, config: &ExploreConfig) -> ExploreConfig {
    let mut config = config.clone();
    if let Some(b) = budget(name.split('+').next().unwrap_or(name), model) {
        config.k = config.k.min(b.max_k);
        if config.recovery_fanout == 0 || config.recovery_fanout > b.max_recovery_fanout {
            config.recovery_fanout = b.max_recovery_fanout;
        }
        if config.process_points == 0 || config.process_points > b.max_process_points {
            config.process_points = b.max_process_points;
        }
        config.recovery_depth = config.recovery_depth.min(b.max_depth);
    }
    config
}

/// Every built-in workload, by name, in a fixed order. Long because it is the table itself: one
/// entry per workload, read top to bottom, with nothing to factor out.
pub fn workloads() -> Vec<(&'static str, Workload)> {
    vec![
        (
            "replace-one",
            base(
                vec![single(with_inc(write("a/x.txt", 10, 4097), "inc/x.1", 11))],
                SyncSpec::PerFile,
            ),
        ),
        (
            // Updates without an increment, whose intent is written with their data and never
            // fsynced (issue #12); the third registers a second directory, the seventh fsyncs
            // the journal directory with its temp (`journal::commit::MAX_PENDING_INTENTS`
            // joined intents pending). Eight, so that the one-off costs (the journal
            // directory's creation, two registrations) spread as in a session's real use; the
            // later contents fit in one block, so that their writes cannot tear.
            "plain-replaces",
            base(
                vec![
                    single(write("a/x.txt", 130, 4097)),
                    single(write("a/x.txt", 131, 10)),
                    single(write("c/new.txt", 132, 4096)),
                    single(write("a/x.txt", 133, 20)),
                    single(write("c/new.txt", 134, 30)),
                    single(write("a/x.txt", 135, 40)),
                    single(write("c/z.txt", 136, 50)),
                    single(write("a/x.txt", 137, 60)),
                ],
                SyncSpec::PerFile,
            ),
        ),
        (
            "create-delete",
            base(
                vec![
                    single(with_inc(write("c/new.txt", 20, 8193), "inc/new.1", 21)),
                    single(with_inc(delete("a/b/y.txt"), "inc/y.1", 22)),
                    single(delete("c/new.txt")),
                ],
                SyncSpec::PerFile,
            ),
        ),
        (
            // Single updates with an increment under `SyncMode::Syncfs`: each round of
            // barriers one `syncfs` (the mode that brings such a commit to the goal of issue
            // #12, BENCHMARKS.md); the second in a directory of its own.
            "increments-syncfs",
            base(
                vec![
                    single(with_inc(write("a/x.txt", 140, 4097), "inc/x.1", 141)),
                    single(with_inc(write("c/new.txt", 142, 10), "inc/new.1", 143)),
                ],
                SyncSpec::Syncfs,
            ),
        ),
        (
            "same-target-thrice",
            base(
                vec![
                    single(with_inc(write("a/x.txt", 30, 4095), "inc/x.1", 31)),
                    single(with_inc(write("a/x.txt", 32, 10), "inc/x.2", 33)),
                    single(with_inc(write("a/x.txt", 34, 4096), "inc/x.3", 35)),
                ],
                SyncSpec::PerFile,
            ),
        ),
        (
            // A stream of three blocks, then an atomic batch of a host file and a stream.
            "stream-and-copy",
            base(
                vec![
                    single(with_inc(
                        delivered(write("a/x.txt", 100, 8193), Delivery::Stream),
                        "inc/x.1",
                        101,
                    )),
                    TxnSpec {
                        updates: vec![
                            with_inc(
                                delivered(write("c/z.txt", 102, 4097), Delivery::HostFile),
                                "inc/z.1",
                                103,
                            ),
                            delivered(write("a/b/new.txt", 104, 10), Delivery::Stream),
                        ],
                        atomic: true,
                    },
                ],
                SyncSpec::PerFile,
            ),
        ),
        (
            // Increments of two and three blocks, which can tear.
            "big-increment",
            base(
                vec![
                    single(with_inc_of(
                        write("a/b/y.txt", 110, 100),
                        "inc/y.1",
                        111,
                        8193,
                    )),
                    single(with_inc_of(delete("c/z.txt"), "inc/z.1", 112, 4097)),
                ],
                SyncSpec::PerFile,
            ),
        ),
        (
            // With errors injected, a failed commit is followed by a reopen and a recovery on
            // the same filesystem, then the next transactions (on the same target too).
            "poisoned-reopen",
            reopening(base(
                vec![
                    single(with_inc(write("a/x.txt", 120, 4097), "inc/x.1", 121)),
                    single(with_inc(write("a/x.txt", 122, 10), "inc/x.2", 123)),
                    single(with_inc(delete("a/b/y.txt"), "inc/y.1", 124)),
                ],
                SyncSpec::PerFile,
            )),
        ),
        (
            "independent-batch",
            base(vec![mixed_batch(4, false, 40)], SyncSpec::PerFile),
        ),
        (
            "batch-1-atomic",
            base(vec![mixed_batch(1, true, 50)], SyncSpec::PerFile),
        ),
        (
            "batch-8-atomic",
            base(vec![mixed_batch(8, true, 60)], SyncSpec::PerFile),
        ),
        (
            "batch-8-atomic-syncfs",
            base(vec![mixed_batch(8, true, 70)], SyncSpec::Syncfs),
        ),
        (
            "batch-64-syncfs",
            base(vec![mixed_batch(64, false, 80)], SyncSpec::Syncfs),
        ),
        (
            "batch-64-atomic-syncfs",
            base(vec![mixed_batch(64, true, 90)], SyncSpec::Syncfs),
        ),
    ]
}

/// The built-in workloads as explorer subjects (the journal's own protocol).
pub fn subjects() -> Vec<JournalSubject> {
    workloads()
        .into_iter()
        .map(|(name, workload)| JournalSubject {
            name: name.to_string(),
            workload,
            known_bad: None,
        })
        .collect()
}

/// Finds a subject by name: a built-in workload, optionally through a known-bad protocol
/// (`NAME+known-bad-name`), or a generated workload (`gen-…`).
pub fn subject_by_name(name: &str) -> Option<JournalSubject> {
    let (base_name, known_bad) = match name.split_once('+') {
        Some((b, d)) => (b, Some(KnownBad::from_name(d)?)),
        None => (name, None),
    };
    let workload = match Workload::from_generated_name(base_name) {
        Some(w) => w,
        None => workloads().into_iter().find(|(n, _)| *n == base_name)?.1,
    };
    Some(JournalSubject {
        name: name.to_string(),
        workload,
        known_bad,
    })
}

/// The subjects the self-test runs for a known-bad protocol: the whole suite except the largest
/// batches.
pub fn self_test_subjects(known_bad: KnownBad) -> Vec<JournalSubject> {
    workloads()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("batch-64"))
        .filter(|(name, _)| !known_bad.is_batch_bug() || name.starts_with("batch"))
        .map(|(name, workload)| JournalSubject {
            name: format!("{name}+{}", known_bad.name()),
            workload,
            known_bad: Some(known_bad),
        })
        .collect()
}

#[cfg(test)]
mod tests;
