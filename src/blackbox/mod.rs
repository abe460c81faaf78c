//! Black-box mode: any program's file system calls, recorded with `strace`, turned into the
//! harness's trace, and every crash state checked with the user's checker.
//!
//! - [`strace`]: our parser of the `strace` log;
//! - [`record`]: the log replayed through per-process descriptor tables onto a simulated
//!   directory, which records the trace;
//! - [`snapshot`]: the directory before the run, and crash states written out as directories;
//! - [`tracefile`]: the versioned file `record` writes;
//! - [`run`]: the program run under strace, and the recording checked;
//! - [`checker`]: the user's checker run on a crash state;
//! - [`recovery`]: the user's recovery command run under strace on a crash state, its
//!   operations replayed onto the simulator;
//! - [`subject`]: a recording as a harness [`crate::sim::Subject`].

pub mod checker;
pub mod record;
pub mod recovery;
pub mod run;
pub mod snapshot;
pub mod strace;
pub mod subject;
pub mod tracefile;
