//! Tests of the explorer with small subjects made for one property each.

use super::*;
use crate::fs::{read_capped, Fs};
use crate::path::RelPath;
use crate::sim::{parse_token, Node, Posix, Prefix};
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
        hidden.crash_states, hidden.crash_points,
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
    assert_eq!(report.violation_count, 1);
    assert_eq!(
        report.violations[0].violation,
        Violation::new("recovery-error", "no d")
    );
    assert!(report.violations[0].token.ends_with(":p=0.0"));
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
