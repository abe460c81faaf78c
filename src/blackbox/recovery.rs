//! The user's `--recover` command as the harness's recovery: run under `strace` on a crash
//! state written out as a real directory, and its log replayed onto the simulated state, so
//! that recovery's own file operations join the trace.
//!
//! That is what lets the explorer do for any program what it does for the built-in workloads:
//! power losses *inside* recovery (to `--depth` levels), process crashes (recovery on the live
//! view, then a power loss over the program's and recovery's operations), and the check that
//! recovery run again changes nothing. The checker then runs on the state recovery left in the
//! simulator.
//!
//! A recovery run is remembered by the fingerprint of the state it ran on: the same state met
//! again (under another model, as a live view, or to run recovery twice, by any worker) is not
//! run again, so the runs do not depend on `--jobs`. The
//! remembered log keeps only what the replay reads (the original text is dropped, and reads are
//! logged without their bytes), so that thousands of states fit in memory. The command must be deterministic, as
//! the program's run is: a replay token re-runs it.

use super::checker::{
    command_line, describe_status, fresh_dir, make_writable_and_remove, tail, wait_for,
};
use super::record::{replay_log, RecordSettings};
use super::run::{current_umask, strace_command};
use super::snapshot::materialize;
use super::strace::{parse_log, Event};
use crate::path::RelPath;
use crate::sim::{AckLog, Image, SimFs};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The recovery command and how to run it.
#[derive(Debug)]
pub struct TracedRecovery {
    /// The command line (run as the checker is, on the state's directory).
    pub command: String,
    /// The time limit of one run.
    pub timeout: Duration,
    /// Where states are written out.
    pub scratch: PathBuf,
    /// The snapshot's directory permission bits, by path.
    pub dir_modes: BTreeMap<RelPath, u32>,
    /// strace's string cap (`-s`): a write longer than this cannot be replayed.
    pub cap: usize,
    /// Whether writable shared mmaps are accepted (as when the program was recorded).
    pub ignore_mmap: bool,
    /// Where to copy each state recovery fails on.
    pub keep_failures: Option<PathBuf>,
    /// The recorded directory and its snapshot: a run that changes it instead of the state it
    /// was given is refused.
    original: Option<(PathBuf, Image)>,
    /// Runs done (or under way), by the fingerprint of the state they ran on.
    runs: Mutex<BTreeMap<u128, Arc<RunCell>>>,
}

/// The outcome of the one run on a state: its log, or why it failed.
type RunCell = OnceLock<Result<Arc<Logged>, String>>;

/// A successful run's log, ready to replay on any state with the same fingerprint.
#[derive(Debug)]
struct Logged {
    events: Vec<Event>,
    settings: RecordSettings,
}

impl TracedRecovery {
    /// A recovery that runs `command` on each state, with no run remembered yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        command: String,
        timeout: Duration,
        scratch: PathBuf,
        dir_modes: BTreeMap<RelPath, u32>,
        cap: usize,
        ignore_mmap: bool,
        keep_failures: Option<PathBuf>,
    ) -> TracedRecovery {
        TracedRecovery {
            command,
            timeout,
            scratch,
            dir_modes,
            cap,
            ignore_mmap,
            keep_failures,
            original: None,
            runs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Refuses any run that changes `dir` (the recorded directory, whose snapshot is
    /// `snapshot`) by its own path rather than the state it was given.
    pub fn guarding(mut self, dir: PathBuf, snapshot: Image) -> TracedRecovery {
        self.original = Some((dir, snapshot));
        self
    }

    /// Runs recovery on the state `fs` holds and replays its file operations onto `fs`. `Err`
    /// says why recovery failed (its exit status and output), or why its operations cannot be
    /// modelled; `fs` is then left as it was or partly recovered.
    pub fn recover(&self, fs: &SimFs) -> Result<(), String> {
        let image = fs.image();
        let fp = image.fingerprint();
        // One cell per state: the first worker to meet it runs the command, any other one
        // meeting it meanwhile waits for that run rather than tracing the state again.
        let cell = Arc::clone(
            self.runs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(fp)
                .or_default(),
        );
        let mut ran_here = false;
        let result = cell.get_or_init(|| {
            ran_here = true;
            let result = self.run(&image, fs).map(Arc::new);
            if let Err(why) = &result {
                self.keep(&image, fp, why);
            }
            result
        });
        let logged = match result {
            // `run` replayed the log onto `fs` already.
            Ok(_) if ran_here => return Ok(()),
            Ok(logged) => logged,
            Err(why) => return Err(why.clone()),
        };
        replay_log(&logged.events, &logged.settings, fs, &mut AckLog::new())
            .map(|_| ())
            .map_err(|e| format!("the recover command's operations no longer replay: {e}"))
    }

    /// Writes `image` out, runs the command under strace on it, and replays the log onto `fs`.
    fn run(&self, image: &Image, fs: &SimFs) -> Result<Logged, String> {
        let work = fresh_dir(&self.scratch, "crashsafe-recover").map_err(|e| {
            format!(
                "cannot make a directory under {}: {e}",
                self.scratch.display()
            )
        })?;
        let result = self.run_in(&work, image, fs);
        let _ = make_writable_and_remove(&work);
        result
    }

    fn run_in(&self, work: &Path, image: &Image, fs: &SimFs) -> Result<Logged, String> {
        let state = work.join("state");
        fs::create_dir(&state)
            .and_then(|()| materialize(image, &self.dir_modes, &state))
            .map_err(|e| format!("cannot write the crash state out for recovery: {e}"))?;
        let state = state
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", state.display()))?;
        let text = self.trace(work, &state)?;
        let mut events = parse_log(&text)
            .map_err(|e| format!("the recover command's strace log does not parse: {e}"))?;
        let settings = RecordSettings {
            dir: state.clone(),
            cwd: state,
            ignore_mmap: self.ignore_mmap,
            umask: current_umask(),
        };
        self.refuse_changes_to_original(&events, &settings)?;
        replay_log(&events, &settings, fs, &mut AckLog::new()).map_err(|e| {
            format!("the recover command changed the state in a way crashsafe cannot follow: {e}")
        })?;
        slim(&mut events);
        Ok(Logged { events, settings })
    }

    /// Runs the command under strace on `state` (its output and the log in `work`) and returns
    /// the log, if it exited 0 in time.
    fn trace(&self, work: &Path, state: &Path) -> Result<String, String> {
        let log_path = work.join("strace.log");
        let out_path = work.join("recover.out");
        let plain = command_line(&self.command, state);
        let spawned = File::create(&out_path).and_then(|out| {
            use std::os::unix::process::CommandExt;
            strace_command(&log_path, self.cap)
                .arg(plain.get_program())
                .args(plain.get_args())
                .current_dir(state)
                .env("CRASHSAFE_STATE", state)
                .stdin(std::process::Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .process_group(0)
                .spawn()
        });
        let mut child = spawned.map_err(|e| {
            format!(
                "cannot run the recover command {:?} under strace: {e}",
                self.command
            )
        })?;
        let status = match wait_for(&mut child, self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) => return Err("the recover command timed out".to_string()),
            Err(e) => return Err(format!("waiting for the recover command: {e}")),
        };
        if !status.success() {
            return Err(format!(
                "the recover command failed ({}); its output:\n{}",
                describe_status(status),
                tail(&fs::read(&out_path).unwrap_or_default())
            ));
        }
        fs::read_to_string(&log_path).map_err(|e| format!("the recover command's strace log: {e}"))
    }

    /// Replays the log once more as if it had been recorded on the original directory: any
    /// operation there (or a replay that fails) means the command changed the recorded
    /// directory by its own path, not the state it was given.
    fn refuse_changes_to_original(
        &self,
        events: &[Event],
        settings: &RecordSettings,
    ) -> Result<(), String> {
        let Some((dir, snapshot)) = &self.original else {
            return Ok(());
        };
        let probe = SimFs::from_image(snapshot);
        let probe_settings = RecordSettings {
            dir: dir.clone(),
            ..settings.clone()
        };
        let touched = replay_log(events, &probe_settings, &probe, &mut AckLog::new())
            .map_or(true, |_| probe.op_count() > 0);
        if touched {
            return Err(format!(
                "the recover command changed {} itself (it may be changed now), not the crash \
                 state it was given ({}): recovery must work on its last argument or its working \
                 directory",
                dir.display(),
                settings.dir.display()
            ));
        }
        Ok(())
    }

    /// Copies a state recovery failed on under `--keep-failures`.
    fn keep(&self, image: &Image, fp: u128, why: &str) {
        let Some(dir) = &self.keep_failures else {
            return;
        };
        let dest = dir.join(format!("recover-{fp:032x}"));
        let state = dest.join("state");
        let _ = fs::create_dir_all(&state)
            .and_then(|()| materialize(image, &self.dir_modes, &state))
            .and_then(|()| fs::write(dest.join("why"), why));
    }
}

/// Drops what a replay does not read: the original text of every event (kept only to quote a
/// line in an error, and this log replayed once already).
fn slim(events: &mut [Event]) {
    for event in events {
        event.text = String::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strace_works() -> bool {
        let ok = std::process::Command::new("strace")
            .args(["-f", "-o", "/dev/null", "true"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED: strace is not installed or ptrace is not permitted");
        }
        ok
    }

    fn recovery(command: String, scratch: &Path) -> TracedRecovery {
        TracedRecovery::new(
            command,
            Duration::from_secs(30),
            scratch.to_path_buf(),
            BTreeMap::new(),
            1 << 20,
            false,
            None,
        )
    }

    #[test]
    fn recovery_joins_the_trace_and_runs_once_per_distinct_state() {
        if !strace_works() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        // Counts its runs outside the state; inside, replaces `a` by `b`, durably.
        let command = format!("echo run >> {}; mv a b && sync && true", runs.display());
        let rec = recovery(command, tmp.path());
        let mut image = Image::new();
        image.put_file(&RelPath::new("a").unwrap(), b"data");
        let first = SimFs::from_image(&image);
        rec.recover(&first).unwrap();
        let again = SimFs::from_image(&image);
        rec.recover(&again).unwrap();
        assert_eq!(fs::read_to_string(&runs).unwrap(), "run\n", "run once");
        for fs in [&first, &again] {
            let after = fs.image();
            assert!(after.get(&RelPath::new("a").unwrap()).is_none());
            assert!(after.get(&RelPath::new("b").unwrap()).is_some());
            let ops: Vec<String> = fs.trace().iter().map(|op| op.to_string()).collect();
            assert!(ops.iter().any(|o| o.starts_with("rename")), "{ops:?}");
            assert!(ops.iter().any(|o| o.starts_with("sync")), "{ops:?}");
        }
        // A failing run is an error that says so, remembered too.
        let failing = recovery(format!("echo run >> {}; false", runs.display()), tmp.path());
        for _ in 0..2 {
            let e = failing.recover(&SimFs::from_image(&image)).unwrap_err();
            assert!(e.contains("the recover command failed"), "{e}");
        }
        assert_eq!(fs::read_to_string(&runs).unwrap(), "run\nrun\n");
        // Every state written out was removed.
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("crashsafe-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
