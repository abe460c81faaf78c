//! The suite's budgets, and the reductions of the explorer checked on the suite's workloads:
//! full and reduced explorations compared.

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
    fn check(&self, ctx: &crate::sim::CheckContext<'_, JournalAck>) -> Vec<crate::sim::Violation> {
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
    /// If set, what the atomic batch's decision looked like in each state recovered
    /// (`decision::Decisions`).
    decisions: Option<std::sync::Mutex<decision::Decisions>>,
}

impl Probe {
    fn new(name: &str, declares: Declares) -> Probe {
        let inner = subject(name);
        let factoring = inner.factoring();
        Probe::with_factoring(inner, declares, factoring)
    }

    /// A probe of `inner` whose factors are `factoring`.
    fn with_factoring(
        inner: JournalSubject,
        declares: Declares,
        factoring: Option<crate::sim::Factoring>,
    ) -> Probe {
        let name = inner.name.clone();
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
            decisions: None,
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
        if let Some(decisions) = &self.decisions {
            decisions.lock().unwrap().note(fs);
        }
        self.inner.recover(fs)
    }
    fn check(&self, ctx: &crate::sim::CheckContext<'_, JournalAck>) -> Vec<crate::sim::Violation> {
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
    fn unread_files(&self) -> crate::sim::UnreadFilesFn<'_> {
        match self.declares {
            Declares::UnreadFiles => Box::new(|image| self.inner.workload.unread_files(image)),
            Declares::Nothing | Declares::Factors => Box::new(|_| Vec::new()),
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
        process_points: 3,
        max_violations: 1 << 30,
        ..small_batch_config()
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

/// The reduced exploration `r` found the same distinct violations as the full one `f`, and
/// the same invariants broken per crash kind.
fn assert_same_violations(f: &crate::sim::ExploreReport, r: &crate::sim::ExploreReport, at: &str) {
    assert_eq!(distinct_violations(r), distinct_violations(f), "{at}");
    let invariants = |r: &crate::sim::ExploreReport| -> BTreeSet<_> {
        r.by_invariant
            .iter()
            .map(|x| (x.kind, x.invariant.clone()))
            .collect()
    };
    assert_eq!(invariants(r), invariants(f), "{at}");
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
            assert_same_violations(&f, &r, &at);
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
fn an_atomic_batchs_states_that_differ_in_unread_bytes_are_checked_once_with_the_same_verdicts() {
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
            assert_same_violations(&f, &r, &at);
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
    assert!(bad.unread_files()(&image).is_empty());
    assert!(
        subject("independent-batch").unread_files()(&subject("independent-batch").setup())
            .is_empty()
    );
}

#[test]
fn the_64_update_batches_get_k_2_where_factored_and_full_fan_out_atomic_or_not() {
    let config = crate::sim::ExploreConfig::default();
    let k = |name: &str, model: &dyn crate::sim::Model| config_for(name, model, &config).k;
    assert_eq!(k("batch-64-syncfs", &crate::sim::Posix), 2);
    assert_eq!(
        k("batch-64-syncfs+no-increment-fsync", &crate::sim::Posix),
        2
    );
    assert_eq!(k("batch-64-syncfs", &crate::sim::Ext4Ordered), 1);
    assert_eq!(k("batch-64-atomic-syncfs", &crate::sim::Posix), 2);
    assert_eq!(k("batch-8-atomic", &crate::sim::Ext4Ordered), 2);
    let limits = |name: &str, model: &dyn crate::sim::Model| {
        let budgeted = config_for(name, model, &config);
        (
            budgeted.recovery_fanout,
            budgeted.recovery_depth,
            budgeted.process_points,
        )
    };
    // The run's fan-out, the updates being several factors (clean parts apply under every
    // model); depth 2 but under posix; under prefix the run's settings (every process point).
    assert_eq!(limits("batch-64-syncfs", &crate::sim::Posix), (4, 1, 8));
    assert_eq!(limits("batch-64-syncfs", &crate::sim::Prefix), (4, 2, 0));
    assert_eq!(budget("batch-64-syncfs", &crate::sim::Prefix), None);
    assert_eq!(
        limits("batch-64-syncfs", &crate::sim::Ext4Ordered),
        (4, 2, 8)
    );
    for model in crate::sim::all_models() {
        assert_eq!(
            limits("batch-64-atomic-syncfs", model.as_ref()),
            limits("batch-64-syncfs", model.as_ref()),
            "the atomic batch is 64 factors too"
        );
    }
    let other = config_for("independent-batch", &crate::sim::Posix, &config);
    assert_eq!(format!("{other:?}"), format!("{config:?}"));
    assert!(subject("batch-64-syncfs")
        .factoring()
        .is_some_and(|f| f.len() == 64));
    assert!(subject("batch-64-atomic-syncfs")
        .factoring()
        .is_some_and(|f| f.len() == 64));
    assert!(subject("batch-8-atomic+no-journal-dir-fsync")
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

/// An atomic batch of `n` mixed updates (creations, a replacement, a deletion, each with an
/// increment), under `known_bad` if any, with one factor per update whatever the protocol.
fn small_atomic_batch(n: usize, known_bad: Option<KnownBad>) -> Probe {
    let workload = base(vec![mixed_batch(n, true, 7)], SyncSpec::PerFile);
    let factoring = workload.factoring(crate::check::workload::AtomicBatch::FactorPerUpdate);
    assert_eq!(factoring.as_ref().map(|f| f.len()), Some(n));
    let name = format!(
        "atomic-{n}{}",
        known_bad.map_or(String::new(), |k| format!("+{}", k.name()))
    );
    let inner = JournalSubject {
        name,
        workload,
        known_bad,
    };
    Probe::with_factoring(inner, Declares::Factors, factoring)
}

/// `batch-atomic` violations by their invariant and transaction only (see `sim::factor`,
/// "Agreement groups": their messages name which targets stand, which a reduced exploration
/// shows in fewer combinations); every other violation as it is.
fn violations_by_agreement(
    r: &crate::sim::ExploreReport,
) -> BTreeSet<(crate::sim::CrashKind, String, String)> {
    let group = |m: String| m.split(':').next().unwrap_or_default().to_string();
    distinct_violations(r)
        .into_iter()
        .map(|(kind, inv, m)| match inv.as_str() {
            "batch-atomic" => (kind, inv, group(m)),
            _ => (kind, inv, m),
        })
        .collect()
}

/// An atomic batch's updates as factors of one agreement group lose no verdict: the full and
/// the reduced exploration find the same violations (`batch-atomic` by transaction), the
/// same invariants per crash kind and the same contents recovered per update, on every model,
/// with crashes nested two deep, a process crash at every point, errors injected, and k = 2;
/// the enumeration and the clean parts both key the batch update by update. The journal's own
/// protocol (whose decision each update's part tells: `Workload::factoring`, and
/// `tests/decision.rs`), a commit that switches before its temps are durable (`batch-atomic`
/// violations), and a recovery that trusts the live view (process crashes; it does not make
/// the commit record durable first, so nothing proves its reduction, and on these batches the
/// two explorations agree all the same).
#[test]
fn an_atomic_batchs_updates_as_an_agreement_group_find_what_the_whole_batch_finds() {
    let config = crate::sim::ExploreConfig {
        max_violations: 1 << 30,
        ..small_batch_config()
    };
    let (mut disagreements, mut fewer_states) = (0, false);
    for known_bad in [
        None,
        Some(KnownBad::RenameBeforeAllTempsDurable),
        Some(KnownBad::RecoveryTrustsLiveView),
    ] {
        for n in [2, 4] {
            for model in crate::sim::all_models() {
                let (f, r) = compare_agreement_group(n, known_bad, model.as_ref(), &config);
                fewer_states |= r.crash_states < f.crash_states;
                disagreements += f
                    .by_invariant
                    .iter()
                    .filter(|x| x.invariant == "batch-atomic")
                    .count();
            }
        }
    }
    assert!(
        disagreements > 0,
        "the defects give batch-atomic verdicts to compare"
    );
    assert!(fewer_states, "the reduction leaves some states out");
}

/// How the small atomic batches are explored: k = 2, crashes nested two deep with a fan-out
/// of 2, a process crash at every point, errors injected.
fn small_batch_config() -> crate::sim::ExploreConfig {
    crate::sim::ExploreConfig {
        jobs: 2,
        k: 2,
        full_bound: 64,
        inject_errors: true,
        recovery_depth: 2,
        recovery_fanout: 2,
        process_points: 0,
        ..Default::default()
    }
}

/// Explores a `small_atomic_batch(n, known_bad)` under `model` fully and with its updates as
/// factors, asserts what the two must share, and returns their reports (full, reduced).
fn compare_agreement_group(
    n: usize,
    known_bad: Option<KnownBad>,
    model: &dyn crate::sim::Model,
    config: &crate::sim::ExploreConfig,
) -> (crate::sim::ExploreReport, crate::sim::ExploreReport) {
    let full = small_atomic_batch(n, known_bad);
    let at = format!("{} under {}", full.name(), model.name());
    let full = Probe {
        declares: Declares::Nothing,
        ..full
    };
    let reduced = small_atomic_batch(n, known_bad);
    let f = crate::sim::explore(&full, model, config);
    let r = crate::sim::explore(&reduced, model, config);
    assert_eq!(
        violations_by_agreement(&r),
        violations_by_agreement(&f),
        "{at}"
    );
    let kinds = |r: &crate::sim::ExploreReport| -> BTreeSet<_> {
        r.by_invariant
            .iter()
            .map(|x| (x.kind, x.invariant.clone()))
            .collect()
    };
    assert_eq!(kinds(&r), kinds(&f), "{at}");
    assert_eq!(
        *reduced.per_factor.lock().unwrap(),
        *full.per_factor.lock().unwrap(),
        "{at}: the contents recovery left, update by update"
    );
    assert!(r.crash_states <= f.crash_states, "{at}");
    assert_tokens_replay(&reduced, model, config, &r, &at);
    (f, r)
}

mod decision;
