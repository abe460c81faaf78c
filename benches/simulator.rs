//! Crash states checked per second by the explorer (criterion's throughput: the crash states of
//! one `explore()` call), model posix, one thread, no error injection, recovery depth 2; except
//! `explore/suite-as-checked`, which explores as `crashsafe check` does.
//!
//! To add a subject: write a `fn(&mut Criterion)` that calls [`bench_subject`] for each size, and
//! list it in `criterion_group!` below.

#[allow(dead_code)]
#[path = "../examples/atomic_replace.rs"]
mod atomic_replace;

use atomic_replace::{AtomicReplace, Recipe};
use crashsafe::check::suite;
use crashsafe::check::workload::{
    Delivery, JournalSubject, OnFailure, SyncSpec, TxnSpec, UpdateSpec, Workload,
};
use crashsafe::path::RelPath;
use crashsafe::sim::{explore, ExploreConfig, Posix, Subject};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

/// The configuration every bench explores with.
pub fn bench_config() -> ExploreConfig {
    ExploreConfig {
        jobs: 1,
        inject_errors: false,
        recovery_depth: 2,
        ..ExploreConfig::default()
    }
}

/// Benches one subject in `group` under the posix model; `label` names its size (for example
/// `"100-ops"`). The throughput is the number of crash states one exploration enumerates.
pub fn bench_subject<S: Subject>(c: &mut Criterion, group: &str, label: &str, subject: &S) {
    bench_subject_with(c, group, label, subject, &bench_config());
}

/// [`bench_subject`] with another configuration.
pub fn bench_subject_with<S: Subject>(
    c: &mut Criterion,
    group: &str,
    label: &str,
    subject: &S,
    config: &ExploreConfig,
) {
    let config = config.clone();
    let probe = explore(subject, &Posix, &config);
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(probe.crash_states));
    let id = BenchmarkId::new(
        label,
        format!("{}ops-{}states", probe.trace_ops, probe.crash_states),
    );
    g.bench_function(id, |b| b.iter(|| explore(subject, &Posix, &config)));
    g.finish();
}

/// The atomic replace, correct recipe, 4 files, ~100 and ~1,000 operations.
fn atomic_replace(c: &mut Criterion) {
    for (label, rounds) in [("100-ops", 5), ("1000-ops", 50)] {
        let subject = AtomicReplace::new(Recipe::Correct, 4, rounds);
        bench_subject(c, "explore/atomic-replace", label, &subject);
    }
}

/// A journal workload of `n` single updates, one after the other, cycling over four files of
/// 4 KiB and a bit: about 17 operations per update. No increments, so the tree keeps its size and
/// only the trace grows: what this measures is whether the cost of a crash state depends on the
/// trace's length (it must not). Each update is an atomic transaction of one, which reaches 1,000
/// operations with fewer crash states than plain replaces do: a plain replace (about 9
/// operations) writes its intent without fsyncing it, and under posix that write is pending
/// until the intent's removal is durable (`sim::model`'s unseen writes), so it carries about
/// 18 k crash states per update against 8 k (60 plain updates: 555 operations, 1.08 M crash
/// states; 60 atomic ones: 1,017 operations, 0.49 M; both grow linearly with the updates:
/// `BENCHMARKS.md`, "Issue #11", session 20).
fn journal_updates(n: usize) -> JournalSubject {
    let p = |s: String| RelPath::new(&s).expect("plain");
    let txns = (0..n)
        .map(|i| TxnSpec {
            atomic: true,
            updates: vec![UpdateSpec {
                target: p(format!("d/f{}", i % 4)),
                new: Some(suite::content(i as u8, 4097)),
                via: Delivery::Bytes,
                increment: None,
            }],
        })
        .collect();
    let workload = Workload {
        dirs: vec![
            p("d".into()),
            p("inc".into()),
            p(".crashsafe/journal".into()),
        ],
        files: Vec::new(),
        txns,
        sync: SyncSpec::PerFile,
        on_failure: OnFailure::Stop,
    };
    JournalSubject {
        name: workload.generated_name(),
        workload,
        known_bad: None,
    }
}

/// The journal at trace lengths ~100 and ~1,000: the cost per crash state must stay flat.
fn journal_trace_lengths(c: &mut Criterion) {
    for (label, updates) in [("100-ops", 6), ("1000-ops", 60)] {
        bench_subject(c, "explore/journal", label, &journal_updates(updates));
    }
}

/// The built-in suite's smaller workloads (the 64-update batches take minutes per run).
fn journal_suite(c: &mut Criterion) {
    for subject in suite::subjects() {
        if [
            "replace-one",
            "create-delete",
            "same-target-thrice",
            "batch-1-atomic",
        ]
        .contains(&subject.name.as_str())
        {
            bench_subject(c, "explore/suite", &subject.name, &subject);
        }
    }
}

/// The suite's largest workload, `batch-64-syncfs` (64 non-atomic updates, each with an
/// increment, made durable by one syncfs: 300-odd operations, hundreds of them pending at once,
/// and a recovery of 64 updates behind every state). One exploration as the suite runs it takes
/// minutes, so this one is cut to what criterion can sample in seconds: k = 0 (every pending
/// operation persisted, none, and 4 random states per crash point), no crash inside recovery, no
/// process crash. What it measures is the cost of one of this workload's states.
fn journal_suite_largest(c: &mut Criterion) {
    let subject = suite::subject_by_name("batch-64-syncfs").expect("a built-in workload");
    let config = ExploreConfig {
        k: 0,
        samples: 4,
        recovery_depth: 0,
        process_crashes: false,
        ..bench_config()
    };
    bench_subject_with(c, "explore/suite-largest", &subject.name, &subject, &config);
}

/// The suite's largest workload explored as `crashsafe check` explores it under posix (its
/// budget, errors injected, process crashes), on one thread: the issue-11 figure of crash
/// states per second per core on the real suite, with every reduction the check makes (states
/// left out by the factors, and skipped as clean, count as the check counts them). One
/// exploration takes about half a minute in release.
fn journal_suite_as_checked(c: &mut Criterion) {
    let name = "batch-64-syncfs";
    let subject = suite::subject_by_name(name).expect("a built-in workload");
    let check = ExploreConfig {
        jobs: 1,
        inject_errors: true,
        ..ExploreConfig::default()
    };
    let config = suite::config_for(name, &Posix, &check);
    bench_subject_with(c, "explore/suite-as-checked", name, &subject, &config);
}

criterion_group!(
    benches,
    atomic_replace,
    journal_trace_lengths,
    journal_suite,
    journal_suite_largest,
    journal_suite_as_checked
);
criterion_main!(benches);
