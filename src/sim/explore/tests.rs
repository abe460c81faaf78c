//! Tests of the explorer with small subjects made for one property each.

use super::*;
use crate::fs::{read_capped, Fs};
use crate::path::RelPath;
use crate::sim::{parse_token, states_at, Node, Posix, Prefix};
use std::sync::atomic::{AtomicU64, Ordering};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn config(jobs: usize) -> ExploreConfig {
    ExploreConfig {
        jobs,
        ..ExploreConfig::default()
    }
}

/// Appends records to `log` and acknowledges each once (if `fsync`) it is fsynced; on a failed
/// fsync, retries it when `retry` is set (the fsyncgate bug: the retry "succeeds").
struct Log {
    records: usize,
    fsync: bool,
    retry: bool,
}

impl Subject for Log {
    type Ack = usize;
    fn name(&self) -> String {
        format!("log-{}-{}-{}", self.records, self.fsync, self.retry)
    }
    fn setup(&self) -> Image {
        let mut image = Image::new();
        image.put_file(&p("log"), b"");
        image
    }
    fn run(&self, fs: &SimFs, acks: &mut AckLog<usize>) {
        let Ok(mut f) = fs.open_read(&p("log")).and_then(|_| {
            fs.unlink(&p("log"))?;
            fs.create_new(&p("log"))
        }) else {
            return;
        };
        if fs.syncfs().is_err() {
            return;
        }
        for r in 0..self.records {
            if fs
                .write_at(&mut f, r as u64 * 8, &[b'a' + r as u8; 8])
                .is_err()
            {
                return;
            }
            if self.fsync && fs.fsync(&mut f).is_err() && !(self.retry && fs.fsync(&mut f).is_ok())
            {
                return;
            }
            acks.push(fs.op_count(), r);
        }
    }
    fn recover(&self, _: &SimFs) -> Result<(), String> {
        Ok(())
    }
    fn check(&self, ctx: &CheckContext<'_, usize>) -> Vec<Violation> {
        let fs = SimFs::from_image(ctx.recovered);
        let data = read_capped(&fs, &p("log"), 1 << 20).unwrap_or_default();
        ctx.acks
            .iter()
            .filter(|(_, r)| data.get(r * 8..r * 8 + 8) != Some(&[b'a' + *r as u8; 8][..]))
            .map(|(_, r)| Violation::new("durable", format!("record {r} acknowledged but gone")))
            .collect()
    }
}

#[test]
fn fsync_before_ack_is_clean_and_acking_without_it_is_caught() {
    let good = explore(
        &Log {
            records: 3,
            fsync: true,
            retry: false,
        },
        &Posix,
        &config(1),
    );
    assert!(good.is_clean(), "{:?}", good.violations.first());
    let bad = explore(
        &Log {
            records: 3,
            fsync: false,
            retry: false,
        },
        &Posix,
        &config(1),
    );
    assert!(!bad.is_clean());
    assert_eq!(bad.violations[0].violation.invariant, "durable");
    let hidden = explore(
        &Log {
            records: 3,
            fsync: false,
            retry: false,
        },
        &Prefix,
        &config(1),
    );
    assert!(hidden.is_clean());
    assert_eq!(
        hidden.power.crash_states, hidden.power.crash_points,
        "prefix: one state per crash point"
    );
}

#[test]
fn error_injection_catches_a_retried_fsync() {
    let subject = Log {
        records: 2,
        fsync: true,
        retry: true,
    };
    assert!(explore(&subject, &Posix, &config(1)).is_clean());
    let cfg = ExploreConfig {
        inject_errors: true,
        ..config(1)
    };
    let report = explore(&subject, &Posix, &cfg);
    assert!(!report.is_clean());
    let cx = &report.violations[0];
    let token = parse_token(&cx.token).unwrap();
    assert!(token.fault.is_some(), "{}", cx.description);
    assert!(
        cx.description
            .contains("fault: EIO injected into mutating call"),
        "{}",
        cx.description
    );
    assert!(cx.description.contains("FAILED"), "{}", cx.description);
    let again = replay(&subject, &Posix, &config(1), &cx.token)
        .unwrap()
        .unwrap();
    assert_eq!(again.violation, cx.violation);
    // Without the retry, a failed fsync stops the acks: clean even with errors injected.
    assert!(explore(
        &Log {
            records: 2,
            fsync: true,
            retry: false
        },
        &Posix,
        &cfg
    )
    .is_clean());
}

/// Recovery that deletes its intent record before finishing its work: only a crash *inside*
/// recovery shows it.
struct Intent {
    idempotent: bool,
}

impl Subject for Intent {
    type Ack = ();
    fn name(&self) -> String {
        "intent".into()
    }
    fn setup(&self) -> Image {
        Image::new()
    }
    fn run(&self, fs: &SimFs, acks: &mut AckLog<()>) {
        fs.create_new(&p("intent")).unwrap();
        fs.fsync_dir(&RelPath::root()).unwrap();
        acks.push(fs.op_count(), ());
    }
    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        if !self.idempotent {
            let mut f = match fs.open_read(&p("runs")) {
                Ok(_) => return fs.unlink(&p("runs")).map_err(|e| e.to_string()),
                Err(_) => fs.create_new(&p("runs")).map_err(|e| e.to_string())?,
            };
            fs.write_at(&mut f, 0, b"1").map_err(|e| e.to_string())?;
        }
        if fs.stat(&p("intent")).map_err(|e| e.to_string())?.is_some() {
            fs.unlink(&p("intent")).map_err(|e| e.to_string())?;
            fs.fsync_dir(&RelPath::root()).map_err(|e| e.to_string())?;
            fs.create_new(&p("done")).map_err(|e| e.to_string())?;
            fs.fsync_dir(&RelPath::root()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
    fn check(&self, ctx: &CheckContext<'_, ()>) -> Vec<Violation> {
        // Acknowledged: the intent was durable, so the work must be done after recovery.
        if !ctx.acks.is_empty() && ctx.recovered.get(&p("done")).is_none() {
            vec![Violation::new(
                "atomic",
                "the intent is gone but the work was not done",
            )]
        } else {
            vec![]
        }
    }
}

#[test]
fn a_crash_inside_recovery_is_explored_to_the_configured_depth() {
    let shallow = ExploreConfig {
        recovery_depth: 0,
        ..config(1)
    };
    assert!(explore(&Intent { idempotent: true }, &Posix, &shallow).is_clean());
    let report = explore(&Intent { idempotent: true }, &Posix, &config(1));
    assert!(!report.is_clean(), "{report:?}");
    let cx = &report.violations[0];
    assert_eq!(
        parse_token(&cx.token).unwrap().path.len(),
        2,
        "{}",
        cx.description
    );
    assert!(cx.description.contains("recovery #1"), "{}", cx.description);
    assert!(
        cx.description.contains("unlink intent"),
        "{}",
        cx.description
    );
    let again = replay(&Intent { idempotent: true }, &Posix, &config(1), &cx.token).unwrap();
    assert_eq!(again.unwrap().violation, cx.violation);
}

#[test]
fn recovery_that_changes_things_when_run_again_is_not_idempotent() {
    let cfg = ExploreConfig {
        recovery_depth: 0,
        ..config(1)
    };
    let report = explore(&Intent { idempotent: false }, &Prefix, &cfg);
    assert!(report
        .violations
        .iter()
        .any(|v| v.violation.invariant == "idempotent"));
}

struct Failing;

impl Subject for Failing {
    type Ack = ();
    fn name(&self) -> String {
        "failing".into()
    }
    fn setup(&self) -> Image {
        Image::new()
    }
    fn run(&self, fs: &SimFs, _: &mut AckLog<()>) {
        fs.mkdir(&p("d")).unwrap();
    }
    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        match fs.stat(&p("d")) {
            Ok(Some(_)) => Ok(()),
            _ => Err("no d".into()),
        }
    }
    fn check(&self, _: &CheckContext<'_, ()>) -> Vec<Violation> {
        vec![]
    }
}

#[test]
fn a_recovery_error_is_a_violation() {
    let report = explore(&Failing, &Prefix, &config(1));
    // After a power loss at crash point 0, and on the live view of a process that died there.
    assert_eq!(report.violation_count, 2);
    assert_eq!(
        report.violations[0].violation,
        Violation::new("recovery-error", "no d")
    );
    assert!(report.violations[0].token.ends_with(":c=power:p=0.0"));
    assert_eq!(report.violations[1].kind, CrashKind::Process);
    assert!(report.violations[1].violation.message.contains("live view"));
    assert!(report.violations[1].token.ends_with(":c=process@0:p=-"));
    let again = replay(&Failing, &Prefix, &config(1), &report.violations[1].token).unwrap();
    assert_eq!(again.unwrap().violation, report.violations[1].violation);
}

/// Creates files without ever syncing the directory: many pending operations, past the bound.
struct Many {
    files: usize,
}

impl Subject for Many {
    type Ack = usize;
    fn name(&self) -> String {
        format!("many-{}", self.files)
    }
    fn setup(&self) -> Image {
        Image::new()
    }
    fn run(&self, fs: &SimFs, acks: &mut AckLog<usize>) {
        for i in 0..self.files {
            let mut f = fs.create_new(&p(&format!("f{i}"))).unwrap();
            fs.write_at(&mut f, 0, b"x").unwrap();
            acks.push(fs.op_count(), i);
        }
    }
    fn recover(&self, _: &SimFs) -> Result<(), String> {
        Ok(())
    }
    fn check(&self, ctx: &CheckContext<'_, usize>) -> Vec<Violation> {
        ctx.acks
            .iter()
            .filter(|(_, i)| {
                ctx.recovered.get(&p(&format!("f{i}"))) != Some(Node::File(Arc::new(b"x".to_vec())))
            })
            .map(|(_, i)| Violation::new("durable", format!("f{i}")))
            .collect()
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let subject = Many { files: 6 };
    let cfg = ExploreConfig {
        full_bound: 64,
        max_violations: 50,
        ..config(1)
    };
    let one = explore(&subject, &Posix, &cfg);
    let calls = AtomicU64::new(0);
    let progress: Progress = Arc::new(move |done, known| {
        assert!(done <= known);
        calls.fetch_add(1, Ordering::Relaxed);
    });
    let three = explore(
        &subject,
        &Posix,
        &ExploreConfig {
            jobs: 3,
            progress: Some(progress),
            ..cfg
        },
    );
    assert_eq!(one.crash_points, three.crash_points);
    assert_eq!(one.crash_states, three.crash_states);
    assert_eq!(one.distinct_states, three.distinct_states);
    assert_eq!(one.violation_count, three.violation_count);
    let tokens = |r: &ExploreReport| {
        r.violations
            .iter()
            .map(|v| v.token.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(tokens(&one), tokens(&three));
    assert_eq!(one.violations.len(), 50);
    assert!(one.violation_count > 50);
    // Smallest first: crash points never decrease.
    let cps: Vec<usize> = one
        .violations
        .iter()
        .map(|v| parse_token(&v.token).unwrap().path[0].0)
        .collect();
    assert!(cps.windows(2).all(|w| w[0] <= w[1]), "{cps:?}");
    // Past the bound, sampled states replay exactly.
    for v in one.violations.iter().rev().take(5) {
        let again = replay(&subject, &Posix, &cfg, &v.token).unwrap().unwrap();
        assert_eq!(again.token, v.token);
        assert_eq!(again.violation.invariant, "durable");
    }
}

/// A two-step protocol whose recovery decides from what it sees: an intent file, made durable,
/// then a data file written without an fsync. Recovery retires the intent (unlinks it and fsyncs
/// the directory) once the data file holds the payload — and, unless `sync_data`, does not make
/// that payload durable first. Invariant `history`: no intent, then the payload is there.
struct Retire {
    sync_data: bool,
}

const PAYLOAD: &[u8] = b"payload";

impl Subject for Retire {
    type Ack = ();
    fn name(&self) -> String {
        format!("retire-{}", self.sync_data)
    }
    fn setup(&self) -> Image {
        Image::new()
    }
    fn run(&self, fs: &SimFs, acks: &mut AckLog<()>) {
        let mut steps = || -> crate::fs::FsResult<()> {
            let mut intent = fs.create_new(&p("intent"))?;
            fs.write_at(&mut intent, 0, b"i")?;
            fs.fsync(&mut intent)?;
            fs.fsync_dir(&RelPath::root())?;
            // Begun: the intent is durable.
            acks.push(fs.op_count(), ());
            let mut data = fs.create_new(&p("data"))?;
            fs.write_at(&mut data, 0, PAYLOAD)?;
            Ok(())
        };
        let _ = steps();
    }
    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        if fs.stat(&p("intent")).map_err(|e| e.to_string())?.is_none() {
            return Ok(());
        }
        if read_capped(fs, &p("data"), 64).ok().as_deref() == Some(PAYLOAD) {
            if self.sync_data {
                let mut data = fs.open_read(&p("data")).map_err(|e| e.to_string())?;
                fs.fsync(&mut data).map_err(|e| e.to_string())?;
                fs.fsync_dir(&RelPath::root()).map_err(|e| e.to_string())?;
            }
            fs.unlink(&p("intent")).map_err(|e| e.to_string())?;
            fs.fsync_dir(&RelPath::root()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
    fn check(&self, ctx: &CheckContext<'_, ()>) -> Vec<Violation> {
        let fs = SimFs::from_image(ctx.recovered);
        let intent = ctx.recovered.get(&p("intent")).is_some();
        let data = read_capped(&fs, &p("data"), 64).ok();
        if !ctx.acks.is_empty() && !intent && data.as_deref() != Some(PAYLOAD) {
            return vec![Violation::new(
                "history",
                "the intent is gone without its payload",
            )];
        }
        Vec::new()
    }
}

#[test]
fn only_the_process_crash_kind_sees_a_recovery_that_trusts_the_live_view() {
    let power_only = ExploreConfig {
        process_crashes: false,
        ..config(1)
    };
    let trusting = Retire { sync_data: false };
    // From a power-loss state the payload recovery sees is durable: nothing to find.
    let power = explore(&trusting, &Posix, &power_only);
    assert!(power.is_clean(), "{:?}", power.violations.first());
    assert_eq!(power.process, KindCounts::default());
    // On the live view after a process crash, it is not.
    let both = explore(&trusting, &Posix, &config(1));
    assert_eq!(both.power, power.power, "the power-loss half is unchanged");
    assert!(both.process.crash_states > 0 && both.process.violations > 0);
    assert_eq!(both.violation_count, both.process.violations);
    let first = &both.violations[0];
    assert_eq!(first.kind, CrashKind::Process);
    assert_eq!(first.violation.invariant, "history");
    assert!(first.token.contains(":c=process@"), "{}", first.token);
    assert!(
        first
            .description
            .contains("[pending when the process died]")
            && first.description.contains("[recovery]"),
        "{}",
        first.description
    );
    let again = replay(&trusting, &Posix, &config(1), &first.token)
        .unwrap()
        .unwrap();
    assert_eq!(again.violation, first.violation);
    assert_eq!(again.kind, CrashKind::Process);
    assert_eq!(
        both.by_invariant
            .iter()
            .map(|f| (f.kind, f.invariant.as_str()))
            .collect::<Vec<_>>(),
        [(CrashKind::Process, "history")]
    );
    // `prefix` loses nothing: the process kind finds nothing there either.
    assert!(explore(&trusting, &Prefix, &config(1)).is_clean());
    // Recovery that makes the payload durable before retiring the intent is clean.
    let syncing = explore(&Retire { sync_data: true }, &Posix, &config(1));
    assert!(syncing.is_clean(), "{:?}", syncing.violations.first());
    assert!(syncing.process.crash_states > 0);
    // Two threads find the same.
    let two = explore(&trusting, &Posix, &config(2));
    assert_eq!(two.process, both.process);
    assert_eq!(two.violations[0].token, first.token);
}

/// Records every state the explorer checks, under a key taken from its check context (the
/// crash state's fingerprint and what of the acks a test needs to tell states apart).
struct Recording<S: Subject, K> {
    inner: S,
    key: fn(&CheckContext<'_, S::Ack>) -> K,
    checked: std::sync::Mutex<std::collections::BTreeSet<K>>,
}

impl<S: Subject, K: Ord + Send> Subject for Recording<S, K> {
    type Ack = S::Ack;
    fn name(&self) -> String {
        self.inner.name()
    }
    fn setup(&self) -> Image {
        self.inner.setup()
    }
    fn run(&self, fs: &SimFs, acks: &mut AckLog<S::Ack>) {
        self.inner.run(fs, acks)
    }
    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        self.inner.recover(fs)
    }
    fn check(&self, ctx: &CheckContext<'_, S::Ack>) -> Vec<Violation> {
        self.checked.lock().unwrap().insert((self.key)(ctx));
        self.inner.check(ctx)
    }
}

/// The process-crash states the explorer skips (see `sim::process`: crash point `cp` itself,
/// recoveries that issue nothing) are states it checks anyway: on small workloads, every state a
/// naive exploration reaches — a process crash at every crash point, recovery on the live view,
/// every state of the combined trace from `cp` on — is among the states checked.
#[test]
fn process_crash_reductions_lose_nothing() {
    for subject in [Retire { sync_data: false }, Retire { sync_data: true }] {
        for model in crate::sim::all_models() {
            let recording = Recording {
                inner: Retire {
                    sync_data: subject.sync_data,
                },
                // The acks seen, by number: one run, so the number says which.
                key: |ctx| (ctx.crashed.fingerprint(), ctx.acks.len()),
                checked: Default::default(),
            };
            let cfg = ExploreConfig {
                recovery_depth: 1,
                recovery_fanout: 0,
                ..config(1)
            };
            explore(&recording, model.as_ref(), &cfg);
            let checked = recording.checked.into_inner().unwrap();
            let setup = subject.setup();
            let fs = SimFs::from_image(&setup);
            let mut acks = AckLog::new();
            subject.run(&fs, &mut acks);
            let trace = fs.trace();
            let mut naive = std::collections::BTreeSet::new();
            for cp in 0..=trace.len() {
                let live =
                    SimFs::from_image(&crate::sim::process::live_view(&setup, &trace, cp, 4096));
                subject.recover(&live).unwrap();
                let mut combined = trace[..cp].to_vec();
                combined.extend(live.trace());
                for at in cp..=combined.len() {
                    let bounds = crate::sim::Bounds {
                        full_bound: usize::MAX,
                        k: usize::MAX,
                        samples: 0,
                    };
                    for state in states_at(model.as_ref(), &setup, &combined, at, &bounds, 4096) {
                        naive.insert((state.fingerprint(), acks.visible_at(cp)));
                    }
                }
            }
            assert!(!naive.is_empty());
            let missed: Vec<_> = naive.difference(&checked).collect();
            assert!(
                missed.is_empty(),
                "{} under {}: {} of {} naive states never checked",
                subject.name(),
                model.name(),
                missed.len(),
                naive.len()
            );
        }
    }
}

/// Every (fingerprint, acknowledgements seen) of the power-loss states of `subject`'s runs under
/// `model`, enumerated without the explorer: the fault-free run and one run per fault `cfg`
/// injects (EIO at every call, ENOSPC at every call that allocates), at every crash point from
/// the fault on, with the states `bounds` and the explorer's seeds give there. Also how many
/// faulted runs there were.
fn power_states_of_every_run<S: Subject>(
    subject: &S,
    model: &dyn Model,
    cfg: &ExploreConfig,
    bounds: &crate::sim::states::Bounds,
) -> (std::collections::BTreeSet<(u128, String)>, usize)
where
    S::Ack: std::fmt::Debug,
{
    use crate::sim::engine::sample_seed;
    use crate::sim::states::CrashWalk;
    use crate::sim::{Fault, FaultKind};
    let setup = subject.setup();
    let run = |fault: Option<Fault>| {
        let fs = SimFs::from_image(&setup);
        fs.set_fault(fault);
        let mut acks = AckLog::new();
        subject.run(&fs, &mut acks);
        (fs, acks)
    };
    let (base, _) = run(None);
    let mut faults = vec![None];
    for (at, call) in base.calls().iter().enumerate() {
        faults.push(Some(Fault {
            at,
            kind: FaultKind::Eio,
        }));
        if call.allocates {
            faults.push(Some(Fault {
                at,
                kind: FaultKind::NoSpace,
            }));
        }
    }
    let (mut naive, mut faulted) = (std::collections::BTreeSet::new(), 0);
    for fault in faults {
        let (fs, acks) = run(fault);
        let start = match fault {
            None => 0,
            Some(_) => match fs.fault_fired_at() {
                Some(at) => at,
                None => continue,
            },
        };
        faulted += usize::from(fault.is_some());
        let trace = fs.trace();
        let res = model.resolve(&trace);
        let mut walk = CrashWalk::new(model, &setup, &trace, &res, 4096);
        for cp in start..=trace.len() {
            let point = walk.point(cp);
            let seen = &acks.entries()[..acks.visible_at(cp)];
            let seed = sample_seed(cfg.seed, fault, &[], cp);
            point.for_each_state(bounds, seed, |_, choice| {
                naive.insert((point.build(choice).fingerprint(), format!("{seen:?}")));
                std::ops::ControlFlow::Continue(())
            });
        }
    }
    (naive, faulted)
}

/// A run with an injected fault skips the states the fault-free run checked with the same
/// acknowledgements (see `engine::Seen`): on journal workloads with errors injected, under every
/// model, every power-loss state of every run (fault-free and with each fault, at every crash
/// point from the fault on, with the states the explorer's bounds and seeds give there) is
/// checked with exactly the acknowledgements that run had pushed.
#[test]
fn fault_runs_skip_only_states_checked_with_the_same_acknowledgements() {
    let cfg = ExploreConfig {
        inject_errors: true,
        recovery_depth: 1,
        ..config(2)
    };
    let bounds = crate::sim::states::Bounds {
        full_bound: cfg.full_bound,
        k: cfg.k,
        samples: cfg.samples,
    };
    for name in ["replace-one", "poisoned-reopen"] {
        for model in crate::sim::all_models() {
            let subject = crate::check::suite::subject_by_name(name).unwrap();
            let recording = Recording {
                inner: subject.clone(),
                // The acks seen in full: states of different runs are told apart by what they
                // were told.
                key: |ctx| (ctx.crashed.fingerprint(), format!("{:?}", ctx.acks)),
                checked: Default::default(),
            };
            let report = explore(&recording, model.as_ref(), &cfg);
            assert!(report.is_clean(), "{name}");
            let checked = recording.checked.into_inner().unwrap();
            let (naive, faulted) =
                power_states_of_every_run(&subject, model.as_ref(), &cfg, &bounds);
            assert!(faulted > 10, "{name}: errors were injected");
            let missed: Vec<_> = naive.difference(&checked).collect();
            assert!(
                missed.is_empty(),
                "{name} under {}: {} of {} states never checked",
                model.name(),
                missed.len(),
                naive.len()
            );
        }
    }
}

/// A run with an injected fault is the fault-free run up to the failing call, so its first crash
/// point is narrowed against the fault-free run's previous one (`engine::narrowed`): where the
/// acks there are those of the point before (in both runs), it keeps exactly the states the
/// fault-free run keeps at the same point, and fewer than the whole point somewhere (a factored
/// journal batch under posix, an EIO injected at every call).
#[test]
fn a_fault_runs_first_crash_point_keeps_what_the_fault_free_run_keeps_there() {
    use crate::sim::engine::{narrowed, run_workload, Shared};
    use crate::sim::states::{Bounds, CrashWalk};
    let subject = crate::check::suite::subject_by_name("independent-batch").unwrap();
    let cfg = ExploreConfig {
        inject_errors: true,
        full_bound: 64,
        ..config(1)
    };
    let sh = Shared::new(&subject, &Posix, &cfg);
    let bounds = Bounds {
        full_bound: cfg.full_bound,
        k: cfg.k,
        samples: 0,
    };
    let states = |run: &crate::sim::engine::Run<_>, cp: usize, narrow: bool| {
        let mut walk =
            CrashWalk::new(&Posix, &sh.setup, &run.trace, &run.res, 4096).factored(sh.factoring());
        let point = walk.point(cp);
        let point = if narrow { narrowed(run, point) } else { point };
        let mut fps = std::collections::BTreeSet::new();
        point.for_each_state(&bounds, 0, |_, choice| {
            fps.insert(point.build(choice).fingerprint());
            std::ops::ControlFlow::Continue(())
        });
        fps
    };
    let base = run_workload(&sh, None).unwrap();
    let (mut compared, mut narrower) = (0, 0);
    for (at, _) in base.calls.iter().enumerate() {
        let fault = crate::sim::Fault {
            at,
            kind: crate::sim::FaultKind::Eio,
        };
        let Some(run) = run_workload(&sh, Some(fault)) else {
            continue;
        };
        let start = run.start;
        let same_acks = |r: &crate::sim::engine::Run<_>| {
            r.acks.visible_at(start) == r.acks.visible_at(start - 1)
        };
        if start == 0 || !same_acks(&run) || !same_acks(&base) {
            continue;
        }
        assert_eq!(run.trace[..start], base.trace[..start], "{fault:?}");
        let kept = states(&run, start, true);
        assert_eq!(kept, states(&base, start, true), "{fault:?}");
        compared += 1;
        narrower += usize::from(kept.len() < states(&run, start, false).len());
    }
    assert!(
        compared > 5 && narrower > 0,
        "{compared} compared, {narrower} narrower"
    );
}
