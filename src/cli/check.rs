//! `crashsafe check`: the built-in suite under every model, the self-test, and replays.

use super::{Failure, Status};
use crate::check::report::{self, RunSettings};
use crate::check::workload::JournalSubject;
use crate::check::{run_suite, self_test, suite, SelfTestResult, Shard, WorkloadResult};
use crate::sim::{all_models, model_by_name, parse_token, replay, ExploreConfig, Model};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `crashsafe check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this persistence model: prefix, ext4-ordered or posix (default: all).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Only this workload of the built-in suite (default: all).
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,
    /// How deep crashes nest inside recovery (0: recovery never crashes).
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// Past the full-enumeration bound, states that persist all but k, or at most k, of the
    /// pending operations.
    #[arg(long, default_value_t = 2)]
    pub k: usize,
    /// Seed of the random samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do shard K of N of the work (1-based), for splitting over CI machines.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Worker threads of each workload run (0: every core); with two or more, the suite
    /// explores two runs at once. Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Do not inject I/O errors.
    #[arg(long)]
    pub no_errors: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Re-run exactly the crash state a violation printed, and show it.
    #[arg(long, value_name = "TOKEN", conflicts_with = "self_test")]
    pub replay: Option<String>,
    /// Run the suite on each known-bad protocol; exit 0 only if every one is caught.
    #[arg(long)]
    pub self_test: bool,
    /// Black-box mode: a recorded program and the user's checker.
    #[command(flatten)]
    pub blackbox: super::blackbox::BlackBoxArgs,
}

pub(super) fn models(args: &CheckArgs) -> Result<Vec<Box<dyn Model>>, Failure> {
    match &args.model {
        None => Ok(all_models()),
        Some(name) => model_by_name(name).map(|m| vec![m]).ok_or_else(|| {
            Failure(format!(
                "--model {name:?}: unknown model (prefix, ext4-ordered, posix)"
            ))
        }),
    }
}

pub(super) fn config(args: &CheckArgs) -> ExploreConfig {
    ExploreConfig {
        k: args.k,
        seed: args.seed,
        recovery_depth: args.depth,
        inject_errors: !args.no_errors,
        jobs: args.jobs,
        ..ExploreConfig::default()
    }
}

/// `crashsafe check`.
pub fn check(args: &CheckArgs) -> Result<Status, Failure> {
    if args.blackbox.wanted() {
        return super::blackbox::check(args, &args.blackbox);
    }
    if let Some(flag) = args.blackbox.stray_flag() {
        return Err(Failure(format!(
            "{flag} is for black-box checks: give --trace TRACE (or --dir DIR -- PROGRAM)"
        )));
    }
    if let Some(token) = &args.replay {
        return replay_token(args, token);
    }
    let models = models(args)?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(Failure)?;
    let config = config(args);
    if args.self_test {
        return run_self_test(args, &models, &config);
    }
    let subjects = subjects(args)?;
    let units = models.len() * subjects.len();
    let progress = Progress::new(units as u64);
    let config = ExploreConfig {
        progress: Some(progress.states_callback()),
        ..config
    };
    let started = Instant::now();
    let results = run_suite(&models, &subjects, &config, shard, |r| progress.done(r));
    progress.finish();
    outln!("{}", report::table(&results));
    outln!("{}", report::cost_table(&results));
    let settings = RunSettings {
        seed: args.seed,
        k: args.k,
        depth: args.depth,
        inject_errors: !args.no_errors,
        shard: args.shard.clone(),
    };
    write_reports(args, &settings, &results, None)?;
    Ok(summarize(&results, started))
}

/// The built-in workloads `--workload` selects (all by default).
fn subjects(args: &CheckArgs) -> Result<Vec<JournalSubject>, Failure> {
    let mut subjects = suite::subjects();
    if let Some(w) = &args.workload {
        subjects.retain(|s| &s.name == w);
        if subjects.is_empty() {
            let names: Vec<&str> = suite::workloads().iter().map(|(n, _)| *n).collect();
            return Err(Failure(format!(
                "--workload {w:?}: unknown (one of {})",
                names.join(", ")
            )));
        }
    }
    Ok(subjects)
}

/// Prints how the run went and its smallest counterexample; `Refused` if any violation.
fn summarize(results: &[WorkloadResult], started: Instant) -> Status {
    let failing: Vec<&WorkloadResult> = results
        .iter()
        .filter(|r| r.report.violation_count > 0)
        .collect();
    let peak = report::peak_rss_bytes()
        .map(|b| format!(", peak RSS {} MB", b / (1024 * 1024)))
        .unwrap_or_default();
    outln!(
        "{} workload runs in {:.1}s{peak}: {}",
        results.len(),
        started.elapsed().as_secs_f64(),
        if failing.is_empty() {
            "no violation".to_string()
        } else {
            format!("{} with violations", failing.len())
        }
    );
    // The smallest counterexample first: fewest operations before the crash.
    if let Some(c) = failing
        .iter()
        .flat_map(|r| r.report.violations.first())
        .min_by_key(|c| c.description.len())
    {
        outln!("\nsmallest counterexample:\n{}", c.description);
        return Status::Refused;
    }
    Status::Ok
}

fn run_self_test(
    args: &CheckArgs,
    models: &[Box<dyn Model>],
    config: &ExploreConfig,
) -> Result<Status, Failure> {
    let progress = Progress::new(crate::check::known_bad::KnownBad::ALL.len() as u64);
    let results = self_test(models, config, |r| {
        progress.line(format!(
            "{}: {}",
            r.known_bad.name(),
            if r.caught_under_posix() {
                "caught"
            } else {
                "NOT CAUGHT under posix"
            }
        ))
    });
    progress.finish();
    print_self_test(&results);
    let settings = RunSettings {
        seed: args.seed,
        k: args.k,
        depth: args.depth,
        inject_errors: !args.no_errors,
        shard: None,
    };
    write_reports(args, &settings, &[], Some(&results))?;
    let missed = results.iter().filter(|r| !r.caught_under_posix()).count();
    if missed == 0 {
        outln!("\nself-test passed: every known-bad protocol is caught under posix");
        Ok(Status::Ok)
    } else {
        outln!("\nself-test FAILED: {missed} known-bad protocol(s) not caught under posix");
        Ok(Status::Refused)
    }
}

/// The self-test's table: per known-bad protocol, whether `posix` caught it, the invariants
/// expected, what caught it, and the models that hide it.
fn print_self_test(results: &[SelfTestResult]) {
    outln!(
        "{:<38} {:<8} {:<22} {:<52} hidden by",
        "defect",
        "posix",
        "expected",
        "caught by (model: invariant, crash kind)"
    );
    for r in results {
        let mut caught: Vec<String> = Vec::new();
        for s in r.caught_by() {
            let line = format!("{}: {} ({})", s.model, s.invariant, s.kind);
            if !caught.contains(&line) {
                caught.push(line);
            }
        }
        let expected: Vec<&str> = r.expected.iter().map(|i| i.name()).collect();
        outln!(
            "{:<38} {:<8} {:<22} {:<52} {}",
            r.known_bad.name(),
            if r.caught_under_posix() {
                "caught"
            } else {
                "MISSED"
            },
            expected.join(","),
            caught.join("; "),
            if r.hidden_by.is_empty() {
                "-".to_string()
            } else {
                r.hidden_by.join(", ")
            }
        );
    }
}

fn replay_token(args: &CheckArgs, token: &str) -> Result<Status, Failure> {
    let parsed = parse_token(token).map_err(|e| Failure(format!("--replay: {e}")))?;
    let subject = suite::subject_by_name(&parsed.subject).ok_or_else(|| {
        Failure(format!(
            "--replay: the token names an unknown workload {:?}",
            parsed.subject
        ))
    })?;
    let model = model_by_name(&parsed.model)
        .ok_or_else(|| Failure(format!("--replay: unknown model {:?}", parsed.model)))?;
    match replay(&subject, model.as_ref(), &config(args), token).map_err(Failure)? {
        Some(c) => {
            outln!("{}", c.description);
            Ok(Status::Refused)
        }
        None => {
            outln!("replayed {token}: no violation now");
            Ok(Status::Ok)
        }
    }
}

pub(super) fn write_reports(
    args: &CheckArgs,
    settings: &RunSettings,
    results: &[WorkloadResult],
    self_test: Option<&[crate::check::SelfTestResult]>,
) -> Result<(), Failure> {
    let write = |path: &PathBuf, text: String| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)
            .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(path) = &args.json {
        let value = report::json(settings, results, self_test);
        write(
            path,
            serde_json::to_string_pretty(&value).expect("JSON values serialize"),
        )?;
    }
    if let Some(path) = &args.junit {
        write(path, report::junit(results, self_test))?;
    }
    Ok(())
}

/// A progress bar on a terminal; plain lines otherwise (CI logs).
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    started: Instant,
}

impl Progress {
    pub(super) fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            total,
            done: std::cell::Cell::new(0),
            started: Instant::now(),
        }
    }

    fn line(&self, message: String) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => {
                bar.set_message(message);
                bar.inc(1);
            }
            None => eprintln!(
                "[{}/{} {:>6.1}s] {message}",
                self.done.get(),
                self.total,
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    pub(super) fn done(&self, r: &WorkloadResult) {
        self.line(format!(
            "{} {}: {} states ({} distinct), {} violations, {:.1}s",
            r.model,
            r.workload,
            r.report.crash_states,
            r.report.distinct_states,
            r.report.violation_count,
            r.report.elapsed.as_secs_f64()
        ));
    }

    /// The explorer's callback within one workload: the bar's message on a terminal, a line
    /// every ten seconds otherwise, so that a long workload still shows it is moving.
    pub(super) fn states_callback(&self) -> crate::sim::Progress {
        let bar = self.bar.clone();
        let started = self.started;
        let last = std::sync::Mutex::new(Instant::now());
        std::sync::Arc::new(move |done: u64, _known: u64| match &bar {
            Some(bar) => bar.set_message(format!("{done} crash states so far")),
            None => {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed().as_secs() >= 10 {
                    *last = Instant::now();
                    eprintln!(
                        "[{:>6.1}s] … {done} crash states so far in a workload run under way",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        })
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
