//! The built-in workloads behind `crashsafe check`.
//!
//! Small on purpose: every crash state of every workload is explored under every model, with
//! crashes inside recovery and injected errors, so each workload is a handful of transactions over
//! a small namespace of nested paths, with contents that straddle 4 KiB block boundaries.

use super::workload::{JournalSubject, SyncSpec, TxnSpec, UpdateSpec, Workload};
use crate::journal::Defect;
use crate::path::RelPath;
use crate::sim::ExploreConfig;

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
        increment: None,
    }
}

fn with_inc(mut u: UpdateSpec, inc: &str, seed: u8) -> UpdateSpec {
    u.increment = Some((p(inc), content(seed, 37)));
    u
}

fn delete(target: &str) -> UpdateSpec {
    UpdateSpec {
        target: p(target),
        new: None,
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
    }
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
/// run's settings. The 64-update batches have hundreds of operations pending between barriers and
/// every one of their states carries a recovery of 64 updates; with k = 2 they would take hours.
/// They run with k = 1 (k = 0 inside recovery) and one state per crash point crashed inside its
/// recovery, still to the run's depth and with an error injected at every call: about five
/// minutes for the two of them under every model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The largest k.
    pub max_k: usize,
    /// The largest recovery fan-out.
    pub max_recovery_fanout: usize,
    /// The most crash points of a run at which the process crashes.
    pub max_process_points: usize,
}

/// The budget of a built-in workload (`None`: the run's settings apply unchanged).
pub fn budget(name: &str) -> Option<Budget> {
    name.starts_with("batch-64").then_some(Budget {
        max_k: 1,
        max_recovery_fanout: 1,
        max_process_points: 8,
    })
}

/// Applies a workload's budget to the run's configuration.
pub fn config_for(name: &str, config: &ExploreConfig) -> ExploreConfig {
    let mut config = config.clone();
    if let Some(b) = budget(name.split('+').next().unwrap_or(name)) {
        config.k = config.k.min(b.max_k);
        if config.recovery_fanout == 0 || config.recovery_fanout > b.max_recovery_fanout {
            config.recovery_fanout = b.max_recovery_fanout;
        }
        if config.process_points == 0 || config.process_points > b.max_process_points {
            config.process_points = b.max_process_points;
        }
    }
    config
}

/// Every built-in workload, by name, in a fixed order.
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

/// The built-in workloads as explorer subjects (no defect).
pub fn subjects() -> Vec<JournalSubject> {
    workloads()
        .into_iter()
        .map(|(name, workload)| JournalSubject {
            name: name.to_string(),
            workload,
            defect: None,
        })
        .collect()
}

/// Finds a subject by name: a built-in workload, optionally with a defect (`NAME+defect-name`),
/// or a generated workload (`gen-…`).
pub fn subject_by_name(name: &str) -> Option<JournalSubject> {
    let (base_name, defect) = match name.split_once('+') {
        Some((b, d)) => (b, Some(Defect::from_name(d)?)),
        None => (name, None),
    };
    let workload = match Workload::from_generated_name(base_name) {
        Some(w) => w,
        None => workloads().into_iter().find(|(n, _)| *n == base_name)?.1,
    };
    Some(JournalSubject {
        name: name.to_string(),
        workload,
        defect,
    })
}

/// The subjects the self-test runs for a defect: the whole suite except the largest batches.
pub fn self_test_subjects(defect: Defect) -> Vec<JournalSubject> {
    workloads()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("batch-64"))
        .filter(|(name, _)| !defect.is_batch_bug() || name.starts_with("batch"))
        .map(|(name, workload)| JournalSubject {
            name: format!("{name}+{}", defect.name()),
            workload,
            defect: Some(defect),
        })
        .collect()
}
