//! Why a log could not be turned into a trace: the error a replay stops with, and the
//! shorthands the call handlers build it with.

use crate::fs::FsError;

/// Why a log could not be turned into a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The call changes `DIR` in a way the harness does not model.
    Unmodelled(String),
    /// The simulated filesystem refused a call the real one accepted: the log and the snapshot
    /// disagree (another process changed `DIR`, or a symlink was followed).
    Diverged(FsError),
    /// A write's bytes were cut at strace's `-s` cap.
    Truncated,
    /// The line is not the call the recorder expected (missing or odd arguments).
    Malformed(String),
}

/// A log that could not be turned into a trace: which call, on which line, and why. Nothing is
/// written anywhere when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strace line {line_no}, {syscall}: {}\n  the call: {decoded}\n  as logged: {text}", describe(.kind))]
pub struct RecordError {
    /// The syscall.
    pub syscall: String,
    /// The 1-based line of the log.
    pub line_no: usize,
    /// The original line(s).
    pub text: String,
    /// The call with its strings decoded.
    pub decoded: String,
    /// What went wrong.
    pub kind: RecordErrorKind,
}

fn describe(kind: &RecordErrorKind) -> String {
    match kind {
        RecordErrorKind::Unmodelled(why) => {
            format!("changes the directory in a way crashsafe does not model ({why})")
        }
        RecordErrorKind::Diverged(e) => format!(
            "the simulated directory refused what the real one did ({e}): did something else \
             change the directory, or did the program go through a symlink?"
        ),
        RecordErrorKind::Truncated => {
            "the written bytes were cut by strace's -s cap; record again with a larger --cap"
                .to_string()
        }
        RecordErrorKind::Malformed(why) => format!("unexpected arguments ({why})"),
    }
}

pub(super) fn malformed(what: &str) -> RecordErrorKind {
    RecordErrorKind::Malformed(what.to_string())
}

pub(super) fn unmodelled(what: impl Into<String>) -> RecordErrorKind {
    RecordErrorKind::Unmodelled(what.into())
}
