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
/// run's settings. The 64-update batches have hundreds of operations pending between barriers and
/// every one of their states carries a recovery of 64 updates, which after the switch rewrites
/// up to 64 files (see `journal::recover`), each rewrite a handful of crash points of its own.
/// The process crashes at 8 crash points spread over the fault-free run (and at the end of each
/// run whose injected fault hit a barrier), with an error injected at every call. The
/// non-atomic one runs at the run's recovery fan-out (4 by default):
/// its 64 updates are independent factors, and the states inside recoveries, which repeat update
/// by update from one recovery to the next, are skipped once every update's part was seen clean
/// (`crate::sim::cover`, under every model). Under a model whose operations persist
/// independently (posix, prefix) it also runs at the run's k: a crash point has about as many
/// states as one update's operations give (`crate::sim::factor`). Elsewhere (ext4-ordered,
/// whose ordering rules tie operations together, and the atomic batch, one factor since its
/// verdict reads every target) k = 2 would be every pair of hundreds of pending operations:
/// k = 1; the atomic batch also has one state per crash point crashed inside its recovery
/// under a model whose operations persist independently (under posix, four would take 2.6 times
/// the CPU; under ext4-ordered they cost 1 % more states). The non-atomic batch has crashes
/// nested to depth 2 under prefix and ext4-ordered, to depth 1 under posix.
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
    // The non-atomic batch's 64 updates are 64 factors: clean parts (`crate::sim::cover`) apply
    // under every model, the per-factor enumeration only where operations persist independently.
    let several_factors = !name.contains("atomic");
    let factored = several_factors && model.independent_ops();
    name.starts_with("batch-64").then_some(Budget {
        max_k: if factored { 2 } else { 1 },
        // The atomic batch's fan-out costs little under ext4-ordered (its states inside
        // recovery repeat) and a lot under posix (2.6 times the CPU at 4: BENCHMARKS.md).
        max_recovery_fanout: if several_factors || !model.independent_ops() {
            4
        } else {
            1
        },
        max_process_points: 8,
        // Crashes nested to depth 2 in the non-atomic batch cost 3 s of CPU more under prefix
        // and 10 s more under ext4-ordered; under posix, where each of its states' recoveries
        // has hundreds of crash states, more than the whole check's CPU (BENCHMARKS.md).
        max_depth: if several_factors && model.name() != crate::sim::Posix.name() {
            2
        } else {
            1
        },
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
mod tests {
    use super::*;
    use crate::check::oracle::JournalAck;
    use crate::check::workload::{file_content, HostFile};
    use crate::sim::{AckLog, Fault, FaultKind, SimFs, Subject};
    use std::collections::BTreeSet;

    fn subject(name: &str) -> JournalSubject {
        subject_by_name(name).expect("a built-in workload")
    }

    /// Runs `s` on a fresh filesystem with `fault` armed: the filesystem and the acks.
    fn run(s: &JournalSubject, fault: Option<Fault>) -> (SimFs, Vec<JournalAck>) {
        let fs = SimFs::from_image(&s.setup());
        fs.set_fault(fault);
        let mut acks = AckLog::new();
        s.run(&fs, &mut acks);
        let acks = acks.entries().iter().map(|(_, a)| a.clone()).collect();
        (fs, acks)
    }

    fn updates(w: &Workload) -> impl Iterator<Item = &UpdateSpec> {
        w.txns.iter().flat_map(|t| &t.updates)
    }

    /// The journal's subject making no promise about its check, so the explorer judges every
    /// distinct crash state on its own.
    struct JudgeEveryState(JournalSubject);

    impl Subject for JudgeEveryState {
        type Ack = JournalAck;
        fn name(&self) -> String {
            self.0.name()
        }
        fn setup(&self) -> crate::sim::Image {
            self.0.setup()
        }
        fn run(&self, fs: &SimFs, acks: &mut AckLog<JournalAck>) {
            self.0.run(fs, acks)
        }
        fn recover(&self, fs: &SimFs) -> Result<(), String> {
            self.0.recover(fs)
        }
        fn check(
            &self,
            ctx: &crate::sim::CheckContext<'_, JournalAck>,
        ) -> Vec<crate::sim::Violation> {
            self.0.check(ctx)
        }
        /// The same factors, so that only the verdict memo differs.
        fn factoring(&self) -> Option<crate::sim::Factoring> {
            self.0.factoring()
        }
    }

    /// What a report says, without its timing.
    fn verdicts(r: &crate::sim::ExploreReport) -> impl PartialEq + std::fmt::Debug {
        let findings: Vec<_> = r
            .by_invariant
            .iter()
            .map(|f| {
                (
                    f.kind,
                    f.invariant.clone(),
                    f.count,
                    f.smallest.token.clone(),
                    f.smallest.violation.clone(),
                )
            })
            .collect();
        let all: Vec<_> = r
            .violations
            .iter()
            .map(|c| (c.token.clone(), c.violation.clone()))
            .collect();
        (r.power, r.process, r.violation_count, findings, all)
    }

    #[test]
    fn one_verdict_per_recovered_image_gives_what_judging_every_state_gives() {
        let config = crate::sim::ExploreConfig {
            jobs: 2,
            k: 1,
            process_points: 6,
            ..Default::default()
        };
        let mut violations = 0;
        for name in [
            "create-delete",
            "replace-one+decide-by-temp-presence",
            "poisoned-reopen+no-recovery-dir-fsync",
            "batch-8-atomic+roll-forward-without-commit-record",
        ] {
            for model in crate::sim::all_models() {
                let memo = crate::sim::explore(&subject(name), model.as_ref(), &config);
                let every = JudgeEveryState(subject(name));
                let full = crate::sim::explore(&every, model.as_ref(), &config);
                assert_eq!(
                    verdicts(&memo),
                    verdicts(&full),
                    "{name} under {}",
                    model.name()
                );
                violations += memo.violation_count;
            }
        }
        assert!(violations > 0, "the defects give verdicts to compare");
    }

    /// What recovery left at one factor's paths: each path with a digest of its node.
    type Projection = (u32, Vec<(RelPath, u64)>);

    /// Which reduction a [`Probe`]'s subject declares to the explorer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Declares {
        /// None: the full exploration, the reference.
        Nothing,
        /// The workload's independent factors (`Subject::factoring`).
        Factors,
        /// An atomic batch's unread files (`Subject::unread_files`, [`Workload::unread_files`],
        /// here for a known-bad protocol too).
        UnreadFiles,
    }

    /// The journal's subject, declaring one reduction or none, and recording what recovery
    /// left in the states it judged: per factor of the workload (if it has factors), every
    /// distinct content at that factor's paths; and every distinct recovered image, with the
    /// acks it was judged against.
    struct Probe {
        inner: JournalSubject,
        declares: Declares,
        factoring: Option<crate::sim::Factoring>,
        per_factor: std::sync::Mutex<BTreeSet<Projection>>,
        judged: std::sync::Mutex<BTreeSet<(u128, usize)>>,
    }

    impl Probe {
        fn new(name: &str, declares: Declares) -> Probe {
            let inner = subject(name);
            let factoring = inner.factoring();
            assert!(
                declares != Declares::Factors || factoring.is_some(),
                "{name} declares no factors"
            );
            Probe {
                inner,
                declares,
                factoring,
                per_factor: Default::default(),
                judged: Default::default(),
            }
        }

        /// Records, per factor, the contents `recovered` holds at that factor's paths.
        fn record_factors(&self, recovered: &crate::sim::Image) {
            use std::hash::{DefaultHasher, Hash, Hasher};
            let Some(factoring) = &self.factoring else {
                return;
            };
            let all = recovered.walk();
            let mut seen = self.per_factor.lock().unwrap();
            for factor in 0..factoring.len() as u32 {
                let paths = factoring.paths_of(factor, all.keys());
                let projection = paths
                    .into_iter()
                    .map(|path| {
                        let mut h = DefaultHasher::new();
                        match &all[path] {
                            crate::sim::Node::File(bytes) => (1u8, bytes.as_slice()).hash(&mut h),
                            crate::sim::Node::Dir => 2u8.hash(&mut h),
                            crate::sim::Node::Symlink(t) => (3u8, t).hash(&mut h),
                        }
                        (path.clone(), h.finish())
                    })
                    .collect();
                seen.insert((factor, projection));
            }
        }
    }

    impl Subject for Probe {
        type Ack = JournalAck;
        fn name(&self) -> String {
            self.inner.name()
        }
        fn setup(&self) -> crate::sim::Image {
            self.inner.setup()
        }
        fn run(&self, fs: &SimFs, acks: &mut AckLog<JournalAck>) {
            self.inner.run(fs, acks)
        }
        fn recover(&self, fs: &SimFs) -> Result<(), String> {
            self.inner.recover(fs)
        }
        fn check(
            &self,
            ctx: &crate::sim::CheckContext<'_, JournalAck>,
        ) -> Vec<crate::sim::Violation> {
            self.record_factors(ctx.recovered);
            let judged = (ctx.recovered.fingerprint(), ctx.acks.len());
            self.judged.lock().unwrap().insert(judged);
            self.inner.check(ctx)
        }
        fn check_reads_crashed(&self) -> bool {
            false
        }
        fn factoring(&self) -> Option<crate::sim::Factoring> {
            match self.declares {
                Declares::Factors => self.factoring.clone(),
                Declares::Nothing | Declares::UnreadFiles => None,
            }
        }
        fn unread_files(&self, image: &crate::sim::Image) -> Vec<crate::path::RelPath> {
            match self.declares {
                Declares::UnreadFiles => self.inner.workload.unread_files(image),
                Declares::Nothing | Declares::Factors => Vec::new(),
            }
        }
    }

    /// Every distinct violation a report kept: crash kind, invariant, message.
    fn distinct_violations(
        r: &crate::sim::ExploreReport,
    ) -> BTreeSet<(crate::sim::CrashKind, String, String)> {
        r.violations
            .iter()
            .map(|c| {
                let v = &c.violation;
                (c.kind, v.invariant.clone(), v.message.clone())
            })
            .collect()
    }

    #[test]
    fn checking_the_factors_finds_what_checking_their_product_finds() {
        // Power losses only, no crash inside recovery: there the reduction is exact (see
        // `sim::factor`); every violation kept, so that all of them can be compared.
        let names = [
            "independent-batch",
            "create-delete",
            "independent-batch+no-increment-fsync",
            "independent-batch+rename-before-temp-fsync",
            "create-delete+decide-by-temp-presence",
            "stream-and-copy+no-journal-dir-fsync",
        ];
        compare_factored_and_full(
            &names,
            &crate::sim::ExploreConfig {
                jobs: 2,
                k: 2,
                full_bound: 64,
                recovery_depth: 0,
                process_crashes: false,
                max_violations: 1 << 30,
                ..Default::default()
            },
        );
    }

    #[test]
    fn checking_the_factors_inside_recovery_and_after_a_process_crash_finds_the_same() {
        // Crashes inside every state's recovery, and process crashes, both factored too.
        let names = [
            "independent-batch",
            "independent-batch+rename-before-temp-fsync",
        ];
        compare_factored_and_full(
            &names,
            &crate::sim::ExploreConfig {
                jobs: 2,
                k: 2,
                full_bound: 64,
                recovery_depth: 1,
                recovery_fanout: 0,
                process_points: 4,
                max_violations: 1 << 30,
                ..Default::default()
            },
        );
    }

    #[test]
    fn checking_the_factors_with_errors_injected_finds_the_same() {
        // Runs with an injected fault, their first crash point narrowed against the fault-free
        // run's (`sim::engine::narrowed`), and their process crashes.
        let names = ["independent-batch", "independent-batch+no-increment-fsync"];
        compare_factored_and_full(
            &names,
            &crate::sim::ExploreConfig {
                jobs: 2,
                k: 2,
                full_bound: 64,
                inject_errors: true,
                recovery_depth: 1,
                recovery_fanout: 0,
                process_points: 2,
                max_violations: 1 << 30,
                ..Default::default()
            },
        );
    }

    #[test]
    fn skipping_states_whose_parts_were_seen_clean_changes_no_verdict() {
        // Under ext4-ordered the factors do not narrow the enumeration (its ordering rules tie
        // operations together), so declaring them changes only which states are skipped as
        // clean (`sim::cover`): every count but the distinct states, every violation and every
        // counterexample must stay as they are. Depth 2 with a fan-out, errors injected and
        // process crashes, so that skipped states sit at every level and in every kind of run.
        let config = crate::sim::ExploreConfig {
            jobs: 2,
            k: 2,
            full_bound: 64,
            inject_errors: true,
            recovery_depth: 2,
            recovery_fanout: 2,
            process_points: 3,
            max_violations: 1 << 30,
            ..Default::default()
        };
        let without_distinct = |r: &crate::sim::ExploreReport| {
            let mut r = r.clone();
            r.power.distinct_states = 0;
            r.process.distinct_states = 0;
            r.distinct_states = 0;
            format!("{:?}", verdicts(&r))
        };
        let (mut violations, mut skipped) = (0, 0);
        for name in [
            "independent-batch",
            "independent-batch+no-increment-fsync",
            "independent-batch+rename-before-temp-fsync",
            "create-delete+decide-by-temp-presence",
        ] {
            let full = Probe::new(name, Declares::Nothing);
            let reduced = Probe::new(name, Declares::Factors);
            let f = crate::sim::explore(&full, &crate::sim::Ext4Ordered, &config);
            let r = crate::sim::explore(&reduced, &crate::sim::Ext4Ordered, &config);
            assert_eq!(r.factors, 0, "{name}: no factored enumeration");
            assert_eq!(without_distinct(&r), without_distinct(&f), "{name}");
            assert!(r.distinct_states <= f.distinct_states, "{name}");
            assert_eq!(
                *reduced.per_factor.lock().unwrap(),
                *full.per_factor.lock().unwrap(),
                "{name}: the contents recovery left, factor by factor"
            );
            violations += f.violation_count;
            skipped += f.distinct_states - r.distinct_states;
        }
        assert!(violations > 0, "the defects give verdicts to compare");
        assert!(skipped > 0, "some states are skipped as clean");
    }

    /// Explores each of `names` under every model with and without its factors declared: the
    /// same distinct violations, the same invariants per crash kind, the same contents
    /// recovered per factor, no more states, and tokens that replay.
    fn compare_factored_and_full(names: &[&str], config: &crate::sim::ExploreConfig) {
        let config = config.clone();
        let mut violations = 0;
        let mut fewer_states = false;
        for &name in names {
            for model in crate::sim::all_models() {
                let at = format!("{name} under {}", model.name());
                let full = Probe::new(name, Declares::Nothing);
                let reduced = Probe::new(name, Declares::Factors);
                let f = crate::sim::explore(&full, model.as_ref(), &config);
                let r = crate::sim::explore(&reduced, model.as_ref(), &config);
                assert_eq!(distinct_violations(&r), distinct_violations(&f), "{at}");
                let invariants = |r: &crate::sim::ExploreReport| -> BTreeSet<_> {
                    r.by_invariant
                        .iter()
                        .map(|x| (x.kind, x.invariant.clone()))
                        .collect()
                };
                assert_eq!(invariants(&r), invariants(&f), "{at}");
                assert_eq!(
                    *reduced.per_factor.lock().unwrap(),
                    *full.per_factor.lock().unwrap(),
                    "{at}: the contents recovery left, factor by factor"
                );
                assert!(r.crash_states <= f.crash_states, "{at}");
                fewer_states |= r.crash_states < f.crash_states;
                violations += f.violation_count;
                assert_tokens_replay(&reduced, model.as_ref(), &config, &r, &at);
            }
        }
        assert!(violations > 0, "the defects give verdicts to compare");
        assert!(fewer_states, "the reduction leaves some states out");
    }

    #[test]
    fn an_atomic_batchs_states_that_differ_in_unread_bytes_are_checked_once_with_the_same_verdicts()
    {
        // Every model, power losses and process crashes, errors injected, crashes nested two
        // deep: the same distinct violations and invariants, the same recovered images judged,
        // tokens that replay, fewer distinct states. Two of the defects act in the commit (the
        // promise is about recovery, which is the journal's own there).
        let config = crate::sim::ExploreConfig {
            jobs: 2,
            k: 1,
            full_bound: 64,
            inject_errors: true,
            recovery_depth: 2,
            recovery_fanout: 2,
            process_points: 2,
            max_violations: 1 << 30,
            ..Default::default()
        };
        let (mut violations, mut distinct) = (0, (0, 0));
        for name in [
            "batch-1-atomic",
            "batch-8-atomic+rename-before-all-temps-durable",
            "batch-8-atomic-syncfs+no-journal-dir-fsync",
        ] {
            for model in crate::sim::all_models() {
                let at = format!("{name} under {}", model.name());
                let full = Probe::new(name, Declares::Nothing);
                let reduced = Probe::new(name, Declares::UnreadFiles);
                let f = crate::sim::explore(&full, model.as_ref(), &config);
                let r = crate::sim::explore(&reduced, model.as_ref(), &config);
                assert_eq!(distinct_violations(&r), distinct_violations(&f), "{at}");
                let invariants = |r: &crate::sim::ExploreReport| -> BTreeSet<_> {
                    r.by_invariant
                        .iter()
                        .map(|x| (x.kind, x.invariant.clone()))
                        .collect()
                };
                assert_eq!(invariants(&r), invariants(&f), "{at}");
                assert_eq!(
                    *reduced.judged.lock().unwrap(),
                    *full.judged.lock().unwrap(),
                    "{at}: the recovered images judged"
                );
                // Which states go deeper is chosen by this value, so one exploration may check
                // more states than the other; in all, fewer.
                distinct.0 += f.distinct_states;
                distinct.1 += r.distinct_states;
                violations += f.violation_count;
                assert_tokens_replay(&reduced, model.as_ref(), &config, &r, &at);
            }
        }
        assert!(violations > 0, "the defects give verdicts to compare");
        assert!(
            distinct.1 < distinct.0,
            "states differing in unread bytes are checked once: {distinct:?}"
        );
    }

    /// Replay rebuilds the state each token of `r` names: its first violation is one the
    /// exploration found in that state.
    fn assert_tokens_replay<S: Subject>(
        subject: &S,
        model: &dyn crate::sim::Model,
        config: &crate::sim::ExploreConfig,
        r: &crate::sim::ExploreReport,
        at: &str,
    ) {
        for c in &r.violations {
            let again = crate::sim::replay(subject, model, config, &c.token)
                .expect("the token fits")
                .expect("the state still breaks an invariant");
            assert!(
                r.violations
                    .iter()
                    .any(|d| d.token == c.token && d.violation == again.violation),
                "{at}: {}",
                c.token
            );
        }
    }

    #[test]
    fn only_the_journals_own_recovery_declares_unread_files_and_only_before_the_commit_point() {
        let workload = subject("batch-8-atomic").workload;
        let fs = SimFs::from_image(&subject("batch-8-atomic").setup());
        let mut acks = AckLog::new();
        subject("batch-8-atomic").run(&fs, &mut acks);
        let trace = fs.trace();
        // Replay the trace on the setup, one operation at a time: before the commit record
        // exists the temps written so far are unread; once it does, nothing is.
        let mut image = subject("batch-8-atomic").setup();
        let (mut before, mut after) = (0, 0);
        for op in &trace {
            image.apply(op, &crate::sim::Variant::Full, 4096);
            let unread = workload.unread_files(&image);
            if image
                .names_in(&crate::check::workload::journal_dir())
                .any(|n| n.ends_with(".commit"))
            {
                assert!(unread.is_empty());
                after += 1;
            } else {
                for path in &unread {
                    let name = path.file_name().unwrap();
                    assert!(
                        name.starts_with(".crashsafe-") && name.ends_with(".tmp")
                            || workload.txns[0]
                                .updates
                                .iter()
                                .any(|u| u.increment.as_ref().is_some_and(|i| &i.0 == path)),
                        "{path}"
                    );
                }
                before += unread.len();
            }
        }
        assert!(before > 0 && after > 0);
        let bad = subject("batch-8-atomic+roll-forward-without-commit-record");
        assert!(bad.unread_files(&image).is_empty());
        assert!(subject("independent-batch")
            .unread_files(&subject("independent-batch").setup())
            .is_empty());
    }

    #[test]
    fn the_64_update_batches_get_k_2_where_factored_and_full_fan_out_unless_atomic() {
        let config = crate::sim::ExploreConfig::default();
        let k = |name: &str, model: &dyn crate::sim::Model| config_for(name, model, &config).k;
        assert_eq!(k("batch-64-syncfs", &crate::sim::Posix), 2);
        assert_eq!(
            k("batch-64-syncfs+no-increment-fsync", &crate::sim::Posix),
            2
        );
        assert_eq!(k("batch-64-syncfs", &crate::sim::Ext4Ordered), 1);
        assert_eq!(k("batch-64-atomic-syncfs", &crate::sim::Posix), 1);
        assert_eq!(k("batch-8-atomic", &crate::sim::Ext4Ordered), 2);
        let limits = |name: &str, model: &dyn crate::sim::Model| {
            let budgeted = config_for(name, model, &config);
            (
                budgeted.recovery_fanout,
                budgeted.recovery_depth,
                budgeted.process_points,
            )
        };
        // The run's fan-out where the updates are several factors (clean parts apply under
        // every model), and for the atomic batch under ext4-ordered; one state per point for
        // the atomic batch under posix.
        // Depth 2 for the non-atomic batch but under posix.
        assert_eq!(limits("batch-64-syncfs", &crate::sim::Posix), (4, 1, 8));
        assert_eq!(limits("batch-64-syncfs", &crate::sim::Prefix), (4, 2, 8));
        assert_eq!(
            limits("batch-64-syncfs", &crate::sim::Ext4Ordered),
            (4, 2, 8)
        );
        assert_eq!(
            limits("batch-64-atomic-syncfs", &crate::sim::Prefix),
            (1, 1, 8)
        );
        assert_eq!(
            limits("batch-64-atomic-syncfs", &crate::sim::Posix),
            (1, 1, 8)
        );
        assert_eq!(
            limits("batch-64-atomic-syncfs", &crate::sim::Ext4Ordered),
            (4, 1, 8)
        );
        let other = config_for("independent-batch", &crate::sim::Posix, &config);
        assert_eq!(format!("{other:?}"), format!("{config:?}"));
        assert!(subject("batch-64-syncfs")
            .factoring()
            .is_some_and(|f| f.len() == 64));
        assert!(subject("batch-64-atomic-syncfs")
            .factoring()
            .is_some_and(|f| f.len() == 1));
    }

    #[test]
    fn the_suite_reaches_every_kind_of_update_and_failure() {
        let all = workloads();
        let any = |f: &dyn Fn(&Workload) -> bool| all.iter().any(|(_, w)| f(w));
        assert!(any(&|w| updates(w).any(|u| u.via == Delivery::Stream)));
        assert!(any(&|w| updates(w).any(|u| u.via == Delivery::HostFile)));
        assert!(any(&|w| updates(w).any(|u| u
            .increment
            .as_ref()
            .is_some_and(|(_, b)| b.len() > 4096))));
        assert!(any(&|w| w.on_failure == OnFailure::ReopenAndRecover));
        // A batch whose targets span three directories, with its increments in a fourth.
        assert!(any(&|w| w.txns.iter().any(|t| {
            let dirs: BTreeSet<_> = t.updates.iter().map(|u| u.target.parent()).collect();
            let inc_dirs: BTreeSet<_> = t
                .updates
                .iter()
                .filter_map(|u| u.increment.as_ref().map(|(p, _)| p.parent()))
                .collect();
            t.updates.len() > 1
                && dirs.len() >= 3
                && !inc_dirs.is_empty()
                && dirs.is_disjoint(&inc_dirs)
        })));
    }

    #[test]
    fn every_workload_commits_every_transaction_when_nothing_fails() {
        for (name, workload) in workloads() {
            let (fs, acks) = run(&subject(name), None);
            let committed = acks
                .iter()
                .filter(|a| matches!(a, JournalAck::Committed { .. }))
                .count();
            assert_eq!(committed, workload.txns.len(), "{name}");
            // The last content each target was given, whichever way it travelled.
            let live = fs.image();
            let mut last = std::collections::BTreeMap::new();
            for u in updates(&workload) {
                last.insert(&u.target, &u.new);
            }
            for (target, want) in last {
                assert_eq!(&file_content(&live, target), want, "{name}: {target}");
            }
        }
    }

    #[test]
    fn a_failed_publish_fsync_is_followed_by_a_reopen_a_recovery_and_the_rest() {
        let s = subject("poisoned-reopen");
        let (fs, _) = run(&s, None);
        // The first transaction's publish: the fsync of a/ after the first rename.
        let calls = fs.calls();
        let rename = calls
            .iter()
            .position(|c| c.op == crate::fs::Op::Rename)
            .expect("a rename");
        let at = rename
            + calls[rename..]
                .iter()
                .position(|c| c.op == crate::fs::Op::FsyncDir)
                .expect("a publish fsync");
        let (fs, acks) = run(
            &s,
            Some(Fault {
                at,
                kind: FaultKind::Eio,
            }),
        );
        assert!(fs.fault_fired_at().is_some());
        assert!(
            matches!(&acks[1], JournalAck::Recovered { txn: 0, found } if found.len() == 1),
            "{acks:?}"
        );
        let committed: Vec<usize> = acks
            .iter()
            .filter_map(|a| match a {
                JournalAck::Committed { txn } => Some(*txn),
                _ => None,
            })
            .collect();
        assert_eq!(committed, [1, 2]);
        assert_eq!(file_content(&fs.image(), &p("a/b/y.txt")), None);
    }

    #[test]
    fn a_workload_that_stops_leaves_its_failed_transaction_uncertain() {
        let s = subject("same-target-thrice");
        let (fs, _) = run(&s, None);
        let at = fs
            .calls()
            .iter()
            .position(|c| c.op == crate::fs::Op::Rename);
        let at = at.expect("a rename");
        let (_, acks) = run(
            &s,
            Some(Fault {
                at,
                kind: FaultKind::Eio,
            }),
        );
        assert_eq!(acks.len(), 1, "{acks:?}");
        assert!(acks
            .iter()
            .all(|a| !matches!(a, JournalAck::Recovered { .. })));
        assert!(
            matches!(acks.last(), Some(JournalAck::Begin { .. })),
            "{acks:?}"
        );
    }

    #[test]
    fn a_host_file_holds_its_bytes_and_is_removed_when_dropped() {
        let file = HostFile::create(b"host bytes").expect("the temp dir is writable");
        let path = file.path().to_path_buf();
        assert_eq!(std::fs::read(&path).expect("it exists"), b"host bytes");
        let other = HostFile::create(b"x").expect("the temp dir is writable");
        assert_ne!(other.path(), path);
        drop(file);
        assert!(!path.exists());
    }
}
