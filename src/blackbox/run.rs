//! Running a program under `strace` on `DIR`: the snapshot first, then the run, then one replay
//! of the log to make sure the harness models every change it made.

use super::checker::default_scratch;
use super::record::{replay_log, RecordError, TRACED_SYSCALLS};
use super::snapshot::{Snapshot, SnapshotError};
use super::strace::{parse_log, ParseError};
use super::tracefile::Recording;
use crate::sim::{AckLog, SimFs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// How to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Accept writable shared mmaps of files under `DIR` (their writes are not seen).
    pub ignore_mmap: bool,
    /// strace's string cap (`-s`): a write longer than this cannot be recorded.
    pub cap: usize,
}

/// Why a run could not be recorded. Nothing is written when this happens (the program itself
/// may have changed `DIR`, if it ran).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `DIR` is not a usable directory.
    #[error("{path}: {why}")]
    Dir {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The snapshot failed.
    #[error("snapshot of the directory: {0}")]
    Snapshot(#[from] SnapshotError),
    /// strace is missing or does not run.
    #[error(
        "strace is not installed or does not run ({0}): install it, e.g. `apt-get install strace`"
    )]
    NoStrace(String),
    /// strace ran but logged nothing: ptrace is not permitted.
    #[error(
        "strace logged nothing for {program:?} ({status}): is ptrace permitted here (see \
         /proc/sys/kernel/yama/ptrace_scope, or a container without CAP_SYS_PTRACE)?"
    )]
    NoLog {
        /// The program.
        program: String,
        /// strace's exit status.
        status: String,
    },
    /// The program failed; a failed run is not recorded.
    #[error("{program:?} exited with {status}; a failed run is not recorded")]
    ProgramFailed {
        /// The program.
        program: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// The log does not parse.
    #[error(transparent)]
    Log(#[from] ParseError),
    /// The log holds a change the harness does not model.
    #[error(transparent)]
    Unmodelled(#[from] RecordError),
    /// Another I/O error.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What a successful run gave.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The recording, ready to be written.
    pub recording: Recording,
    /// Operations in its trace.
    pub trace_ops: usize,
    /// Lines the program acknowledged.
    pub acks: usize,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// Snapshots `dir`, runs `program` under strace (stdout and stderr inherited: the program's
/// stdout lines are its acknowledgements), and replays the log once.
pub fn record(dir: &Path, program: &[String], opts: RunOptions) -> Result<Recorded, RunError> {
    let bad_dir = |why: String| RunError::Dir {
        path: dir.to_path_buf(),
        why,
    };
    let dir = dir.canonicalize().map_err(|e| bad_dir(e.to_string()))?;
    if !dir.is_dir() {
        return Err(bad_dir("not a directory".into()));
    }
    let snapshot = Snapshot::take(&dir)?;
    match Command::new("strace").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(RunError::NoStrace(o.status.to_string())),
        Err(e) => return Err(RunError::NoStrace(e.to_string())),
    }
    let cwd = std::env::current_dir().map_err(io("the current directory"))?;
    let log_dir = default_scratch().join(format!("crashsafe-record-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).map_err(io(format!("creating {}", log_dir.display())))?;
    let log_path = log_dir.join("strace.log");
    let status = strace_command(&log_path, opts.cap).args(program).status();
    let log = std::fs::read_to_string(&log_path);
    let _ = std::fs::remove_dir_all(&log_dir);
    let status = status.map_err(|e| RunError::NoStrace(e.to_string()))?;
    let program_line = program.join(" ");
    let log = match log {
        Ok(log) if !log.trim().is_empty() => log,
        _ => {
            return Err(RunError::NoLog {
                program: program_line,
                status: status.to_string(),
            })
        }
    };
    if !status.success() {
        return Err(RunError::ProgramFailed {
            program: program_line,
            status,
        });
    }
    let recording = Recording {
        dir: dir.to_string_lossy().into_owned(),
        cwd: cwd.to_string_lossy().into_owned(),
        program: program.to_vec(),
        ignore_mmap: opts.ignore_mmap,
        umask: current_umask(),
        snapshot,
        log,
    };
    let events = parse_log(&recording.log)?;
    let fs = SimFs::from_image(&recording.snapshot.to_image());
    let mut acks = AckLog::new();
    replay_log(&events, &recording.settings(), &fs, &mut acks)?;
    Ok(Recorded {
        recording,
        trace_ops: fs.op_count(),
        acks: acks.entries().len(),
    })
}

/// `strace` with the options the recorder's parser expects, logging to `log`, up to the `--`
/// after which the traced command goes. `read` and `readv` are logged raw (numbers only): the
/// recorder needs only their descriptor and return value, and the bytes they return (every
/// library and script a program loads) would otherwise be most of the log. `--seccomp-bpf`
/// stops the program only at the traced calls (not at every `stat`, `brk`...): the same log,
/// less overhead.
pub(crate) fn strace_command(log: &Path, cap: usize) -> Command {
    let mut command = Command::new("strace");
    command
        .args(["-f", "--seccomp-bpf", "-qq", "-xx", "-X", "raw", "-y"])
        .args(["-e", "raw=read,readv"])
        .arg("-s")
        .arg(cap.to_string())
        .arg("-e")
        .arg(format!("trace={}", TRACED_SYSCALLS.join(",")))
        .arg("-o")
        .arg(log)
        .arg("--");
    command
}

/// This process's umask (inherited by the recorded program), from `/proc/self/status`; 022 if
/// it cannot be read.
pub(crate) fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}
