//! `crashsafe record` and the black-box forms of `crashsafe check` (`--trace TRACE` and the
//! one-shot `--dir DIR -- PROGRAM...`).

use super::check::{write_reports, CheckArgs, Progress};
use super::{Failure, Status};
use crate::blackbox::checker::{default_scratch, Checker, Verdict};
use crate::blackbox::recovery::TracedRecovery;
use crate::blackbox::run::{self, RunOptions};
use crate::blackbox::strace::readable;
use crate::blackbox::subject::BlackBox;
use crate::blackbox::tracefile::Recording;
use crate::check::report::{self, RunSettings};
use crate::check::WorkloadResult;
use crate::sim::{explore, parse_token, replay, Counterexample, ExploreConfig, Subject};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `crashsafe record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The directory whose durability is checked; only changes under it are modelled.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Where to write the trace.
    #[arg(long, value_name = "TRACE")]
    pub out: PathBuf,
    /// Options shared with the one-shot check.
    #[command(flatten)]
    pub opts: RecordOpts,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}

/// How to record.
#[derive(Debug, Args, Clone)]
pub struct RecordOpts {
    /// Accept writable shared mmaps of files under DIR (for files whose durability does not
    /// matter, like SQLite's -shm): their writes are not seen.
    #[arg(long)]
    pub ignore_mmap: bool,
    /// strace's string cap (-s): writes longer than this are refused.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub cap: usize,
}

/// Runs `program` under strace on `dir` and returns the recording.
fn record_run(dir: &Path, program: &[String], opts: &RecordOpts) -> Result<Recording, Failure> {
    let options = RunOptions {
        ignore_mmap: opts.ignore_mmap,
        cap: opts.cap,
    };
    let done = run::record(dir, program, options)
        .map_err(|e| Failure(format!("{e}\nnothing was recorded")))?;
    eprintln!(
        "recorded {} trace operations and {} acknowledged lines from {} log lines",
        done.trace_ops,
        done.acks,
        done.recording.log.lines().count()
    );
    Ok(done.recording)
}

/// `crashsafe record`.
pub fn record(args: &RecordArgs) -> Result<Status, Failure> {
    let recording = record_run(&args.dir, &args.program, &args.opts)?;
    std::fs::write(&args.out, recording.to_bytes())
        .map_err(|e| Failure(format!("cannot write {}: {e}", args.out.display())))?;
    Ok(Status::Ok)
}

/// The black-box options of `crashsafe check`.
#[derive(Debug, Args, Clone)]
pub struct BlackBoxArgs {
    /// Check the crash states of this recorded trace (from `crashsafe record`).
    #[arg(long, value_name = "TRACE", conflicts_with_all = ["dir", "workload", "self_test"])]
    pub trace: Option<PathBuf>,
    /// One-shot: record PROGRAM on DIR (as `record` does), then check.
    #[arg(long, value_name = "DIR", requires = "program", conflicts_with_all = ["workload", "self_test"])]
    pub dir: Option<PathBuf>,
    /// The consistency checker: run in each crash state's directory (also its last argument);
    /// exit 0 = consistent. The acknowledged lines are in the file $CRASHSAFE_ACKS.
    #[arg(long, value_name = "CMD")]
    pub checker: Option<String>,
    /// Recovery: run in each crash state before the checker, under strace, so that crashes
    /// inside it (to --depth) and process crashes are explored too (a non-zero exit is a
    /// violation).
    #[arg(long, value_name = "CMD")]
    pub recover: Option<String>,
    /// Time limit per command, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
    /// Copy each failing crash state (before recovery) and its acks under this directory.
    #[arg(long, value_name = "DIR")]
    pub keep_failures: Option<PathBuf>,
    /// Recording options (one-shot form).
    #[command(flatten)]
    pub record: RecordOpts,
    /// The program and its arguments (one-shot form).
    #[arg(last = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}

impl BlackBoxArgs {
    /// Whether a black-box check was asked for.
    pub fn wanted(&self) -> bool {
        self.trace.is_some() || self.dir.is_some()
    }

    /// A black-box-only option given without `--trace` or `--dir`, if any.
    pub fn stray_flag(&self) -> Option<&'static str> {
        [
            (self.checker.is_some(), "--checker"),
            (self.recover.is_some(), "--recover"),
            (self.keep_failures.is_some(), "--keep-failures"),
            (!self.program.is_empty(), "a program after --"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

fn load(args: &BlackBoxArgs) -> Result<Recording, Failure> {
    if let Some(path) = &args.trace {
        let bytes =
            std::fs::read(path).map_err(|e| Failure(format!("--trace {}: {e}", path.display())))?;
        return Recording::from_bytes(&bytes)
            .map_err(|e| Failure(format!("--trace {}: {e}", path.display())));
    }
    let dir = args.dir.as_ref().expect("wanted() checked");
    record_run(dir, &args.program, &args.record)
}

fn verdict_failure(which: &str, v: Verdict) -> Result<(), Failure> {
    let why = match v {
        Verdict::Consistent => return Ok(()),
        Verdict::Failed { status, output } => {
            format!("the checker failed ({status}):\n{output}")
        }
        Verdict::TimedOut => "the checker timed out".to_string(),
        Verdict::Error(e) => e,
    };
    Err(Failure(format!(
        "on the {which} state (no crash), {why}\nrecovery and the checker must accept the \
         directory before and after an uncrashed run; nothing was explored"
    )))
}

/// `crashsafe check --trace TRACE --checker CMD` (or `--dir DIR ... -- PROGRAM`).
pub fn check(args: &CheckArgs, bb: &BlackBoxArgs) -> Result<Status, Failure> {
    let Some(cmd) = &bb.checker else {
        return Err(Failure(
            "--checker CMD is required with --trace or --dir".into(),
        ));
    };
    if !(bb.timeout > 0.0 && bb.timeout.is_finite()) {
        return Err(Failure(
            "--timeout must be a positive number of seconds".into(),
        ));
    }
    let subject = black_box(bb, cmd, &load(bb)?)?;
    // Without a recovery command nothing runs after a crash: no crash inside it to explore.
    let depth = if bb.recover.is_some() { args.depth } else { 0 };
    let config = ExploreConfig {
        recovery_depth: depth,
        inject_errors: false,
        ..super::check::config(args)
    };
    if let Some(token) = &args.replay {
        return replay_one(args, &subject, &config, token);
    }
    verdict_failure("initial", subject.judge_initial())?;
    verdict_failure("final", subject.judge_final())?;
    let models = super::check::models(args)?;
    let progress = Progress::new(models.len() as u64);
    let config = ExploreConfig {
        progress: Some(progress.states_callback()),
        ..config
    };
    let started = Instant::now();
    let mut results = Vec::new();
    for model in &models {
        let report = explore(&subject, model.as_ref(), &config);
        let result = WorkloadResult {
            model: model.name().to_string(),
            workload: subject.name(),
            updates: subject.acks().len(),
            report,
        };
        progress.done(&result);
        results.push(result);
    }
    progress.finish();
    outln!("{}", report::table(&results));
    let settings = RunSettings {
        seed: args.seed,
        k: args.k,
        depth,
        inject_errors: false,
        shard: None,
    };
    write_reports(args, &settings, &results, None)?;
    Ok(summarize(bb, &subject, &results, started))
}

/// The recorded program as a subject: its checker command `cmd` and, with `--recover`, its
/// traced recovery.
fn black_box(bb: &BlackBoxArgs, cmd: &str, recording: &Recording) -> Result<BlackBox, Failure> {
    let timeout = Duration::from_secs_f64(bb.timeout);
    let checker = Checker {
        check: cmd.to_owned(),
        timeout,
        keep_failures: bb.keep_failures.clone(),
        scratch: default_scratch(),
        dir_modes: recording.snapshot.dir_modes(),
    };
    let recovery = bb.recover.as_ref().map(|command| {
        TracedRecovery::new(
            command.clone(),
            timeout,
            default_scratch(),
            recording.snapshot.dir_modes(),
            bb.record.cap,
            recording.ignore_mmap,
            bb.keep_failures.clone(),
        )
        .guarding(PathBuf::from(&recording.dir), recording.snapshot.to_image())
    });
    BlackBox::new(recording, checker, recovery).map_err(|e| Failure(e.to_string()))
}

/// Prints how the run went and each model's smallest counterexample; `Refused` if any
/// violation.
fn summarize(
    bb: &BlackBoxArgs,
    subject: &BlackBox,
    results: &[WorkloadResult],
    started: Instant,
) -> Status {
    let total: u64 = results.iter().map(|r| r.report.violation_count).sum();
    outln!(
        "{} trace operations, {} acknowledged lines, {} models in {:.1}s: {}",
        subject.trace_len(),
        subject.acks().len(),
        results.len(),
        started.elapsed().as_secs_f64(),
        if total == 0 {
            "no violation".to_string()
        } else {
            format!("{total} violations")
        }
    );
    for r in results {
        if let Some(c) = r.report.violations.first() {
            outln!(
                "\nsmallest counterexample under {}:\n{}",
                r.model,
                with_strace_lines(subject, c, &replay_prefix(bb))
            );
        }
    }
    if total == 0 {
        Status::Ok
    } else {
        Status::Refused
    }
}

fn replay_one(
    args: &CheckArgs,
    subject: &BlackBox,
    config: &ExploreConfig,
    token: &str,
) -> Result<Status, Failure> {
    let parsed = parse_token(token).map_err(|e| Failure(format!("--replay: {e}")))?;
    let model = crate::sim::model_by_name(&parsed.model)
        .ok_or_else(|| Failure(format!("--replay: unknown model {:?}", parsed.model)))?;
    match replay(subject, model.as_ref(), config, token).map_err(Failure)? {
        Some(c) => {
            outln!(
                "{}",
                with_strace_lines(subject, &c, &replay_prefix(&args.blackbox))
            );
            Ok(Status::Refused)
        }
        None => {
            outln!("replayed {token}: no violation now");
            Ok(Status::Ok)
        }
    }
}

/// The counterexample's text with, under each numbered operation of the program, the strace
/// line that issued it. Recovery's operations come from other logs and get none: those of a
/// level of their own (`recovery #N`), and, after a process crash, those from the point where
/// the program's process died on (the first process crash point of the replay token).
fn with_strace_lines(subject: &BlackBox, c: &Counterexample, replay: &str) -> String {
    let mut out = String::new();
    let mut last_event = None;
    let mut program_ops = false;
    let died_at = parse_token(&c.token)
        .ok()
        .and_then(|t| t.process.first().copied());
    for line in c.description.lines() {
        if let Some(token) = line.strip_prefix("crashsafe check --replay ") {
            out.push_str(&format!("{replay} --replay {token}"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("workload crashed") || line.starts_with("then power was lost") {
            program_ops = true;
        } else if line.starts_with("recovery #") {
            program_ops = false;
        }
        if !program_ops {
            continue;
        }
        let op = line
            .trim_start()
            .strip_prefix('#')
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok());
        let op = op.filter(|&op| died_at.is_none_or(|d| op < d));
        if let Some(event) = op.and_then(|op| subject.event_of(op)) {
            if last_event != Some(event.line_no) {
                out.push_str(&format!(
                    "          strace line {}: {}\n",
                    event.line_no,
                    readable(event)
                ));
                last_event = Some(event.line_no);
            }
        }
    }
    out.trim_end().to_string()
}

/// How to replay a black-box counterexample: the command line without `--replay TOKEN`.
fn replay_prefix(bb: &BlackBoxArgs) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = String::from("crashsafe check");
    match &bb.trace {
        Some(t) => line.push_str(&format!(" --trace {}", quote(&t.to_string_lossy()))),
        None => line.push_str(" --trace TRACE (record it first with crashsafe record)"),
    }
    if let Some(c) = &bb.checker {
        line.push_str(&format!(" --checker {}", quote(c)));
    }
    if let Some(r) = &bb.recover {
        line.push_str(&format!(" --recover {}", quote(r)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blackbox::snapshot::Snapshot;
    use crate::sim::{CrashKind, Violation};

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("\\x{b:02x}")).collect()
    }

    /// A recorded program that creates `/d/f` and writes one byte to it: two operations.
    fn subject() -> BlackBox {
        let log = format!(
            "1  openat(-100, \"{f}\", 0x41, 0644) = 3\n1  write(3, \"{x}\", 1) = 1\n",
            f = hex("/d/f"),
            x = hex("x")
        );
        let recording = Recording {
            dir: "/d".into(),
            cwd: "/".into(),
            program: vec!["p".into()],
            ignore_mmap: false,
            umask: 0o022,
            snapshot: Snapshot::default(),
            log,
        };
        let checker = Checker {
            check: "true".into(),
            timeout: Duration::from_secs(1),
            keep_failures: None,
            scratch: std::env::temp_dir(),
            dir_modes: Default::default(),
        };
        BlackBox::new(&recording, checker, None).unwrap()
    }

    fn annotated(kind: &str, head: &str) -> String {
        let c = Counterexample {
            kind: CrashKind::Process,
            violation: Violation::new("checker", "x"),
            token: format!("cs2:blackbox-0:posix:s=0:k=2:b=4096:f=4096:n=16:e=-:c={kind}:p=2.0"),
            description: format!(
                "{head}\n  #0    create f   persisted\n  #1    write f @0+1   persisted\n\
                 crashsafe check --replay T"
            ),
        };
        with_strace_lines(&subject(), &c, "crashsafe check --trace X")
    }

    #[test]
    fn strace_lines_are_quoted_only_for_the_programs_own_operations() {
        let power = annotated("power", "workload crashed at crash point 2 of 2");
        assert_eq!(power.matches("strace line").count(), 2, "{power}");
        assert!(
            power.ends_with("crashsafe check --trace X --replay T"),
            "{power}"
        );
        // The program died at crash point 1: operation #1 is recovery's.
        let process = annotated(
            "process@1",
            "then power was lost: the workload and recovery",
        );
        assert_eq!(process.matches("strace line").count(), 1, "{process}");
        assert!(process.contains("strace line 1:"), "{process}");
        // A level of recovery's own numbers its operations from 0: none are the program's.
        let nested = annotated("power", "recovery #1, run on the state above, crashed");
        assert_eq!(nested.matches("strace line").count(), 0, "{nested}");
    }
}
