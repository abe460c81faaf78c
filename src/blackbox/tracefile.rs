//! The file `crashsafe record` writes and `crashsafe check --trace` reads: a magic line, a format
//! version, then (postcard) the snapshot of `DIR`, the program's command line and exit status,
//! and the original strace log, from which the trace is derived again on load.

use super::record::RecordSettings;
use super::snapshot::Snapshot;
use super::strace::{parse_log, Event, ParseError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The first bytes of a trace file.
pub const MAGIC: &[u8] = b"crashsafe-blackbox-trace\n";
/// The format version; bumped on any incompatible change.
pub const VERSION: u32 = 1;

/// One recorded run of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// The directory under test, absolute, as it was when recorded.
    pub dir: String,
    /// The program's working directory, absolute.
    pub cwd: String,
    /// The program and its arguments.
    pub program: Vec<String>,
    /// Whether writable shared mmaps of files under `dir` were accepted.
    pub ignore_mmap: bool,
    /// The umask the program started with.
    pub umask: u32,
    /// `dir` before the run.
    pub snapshot: Snapshot,
    /// The strace log, as strace wrote it.
    pub log: String,
}

/// Why a trace file could not be read (the file is left as it is).
#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    /// Not a trace file.
    #[error("not a crashsafe trace file (no {:?} header)", String::from_utf8_lossy(MAGIC).trim_end())]
    NotATrace,
    /// A version this build does not read.
    #[error("trace format version {0}, this build reads version {VERSION}")]
    Version(u32),
    /// The body does not decode.
    #[error("the trace file is corrupt: {0}")]
    Corrupt(String),
    /// The log inside does not parse.
    #[error("the trace file's strace log does not parse: {0}")]
    Log(#[from] ParseError),
}

impl Recording {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend(postcard::to_allocvec(self).expect("a recording serializes"));
        out
    }

    /// Reads a file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, TraceFileError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(TraceFileError::NotATrace)?;
        let (version, body) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| TraceFileError::Corrupt("no version".into()))?;
        let version = u32::from_le_bytes(*version);
        if version != VERSION {
            return Err(TraceFileError::Version(version));
        }
        let (rec, tail) = postcard::take_from_bytes::<Recording>(body)
            .map_err(|e| TraceFileError::Corrupt(e.to_string()))?;
        if !tail.is_empty() {
            return Err(TraceFileError::Corrupt(format!(
                "{} bytes after the end",
                tail.len()
            )));
        }
        Ok(rec)
    }

    /// The recorder's settings for this run.
    pub fn settings(&self) -> RecordSettings {
        RecordSettings {
            dir: PathBuf::from(&self.dir),
            cwd: PathBuf::from(&self.cwd),
            ignore_mmap: self.ignore_mmap,
            umask: self.umask,
        }
    }

    /// The parsed log.
    pub fn events(&self) -> Result<Vec<Event>, ParseError> {
        parse_log(&self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Recording {
        Recording {
            dir: "/d".into(),
            cwd: "/".into(),
            program: vec!["true".into()],
            ignore_mmap: false,
            umask: 0o022,
            snapshot: Snapshot::default(),
            log: "1  close(3) = 0\n".into(),
        }
    }

    #[test]
    fn a_recording_round_trips_and_bad_files_are_refused() {
        let bytes = sample().to_bytes();
        assert_eq!(Recording::from_bytes(&bytes).unwrap(), sample());
        assert!(matches!(
            Recording::from_bytes(b"hello"),
            Err(TraceFileError::NotATrace)
        ));
        let mut v2 = bytes.clone();
        v2[MAGIC.len()] = 2;
        assert!(matches!(
            Recording::from_bytes(&v2),
            Err(TraceFileError::Version(2))
        ));
        let cut = &bytes[..bytes.len() - 3];
        assert!(matches!(
            Recording::from_bytes(cut),
            Err(TraceFileError::Corrupt(_))
        ));
        let mut long = bytes;
        long.push(0);
        assert!(matches!(
            Recording::from_bytes(&long),
            Err(TraceFileError::Corrupt(_))
        ));
    }
}
