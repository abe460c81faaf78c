#![doc = include_str!("../README.md")]
//!
//! crashsafe: crash-safe file updates through a journal, and a harness that proves them.
//!
//! - [`journal`]: commit updates (replace, create, delete a file, with an optional increment)
//!   so that a crash at any moment leaves, after [`journal::Journal::recover`], every target
//!   wholly old or wholly new.
//! - [`fs`]: the filesystem trait the journal is written against, and the real Linux backend.
//! - [`format`](mod@format): the journal's versioned, checksummed entry format.
//! - [`path`]: root-relative paths of plain components.
//! - [`sim`] and [`check`]: the simulated filesystem, the crash-state explorer and the journal's
//!   harness.
//! - `cli` (with the default `cli` feature): the `crashsafe` command. Without default features
//!   the crate does not depend on clap, indicatif or serde_json.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blackbox;
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod format;
pub mod fs;
pub mod journal;
pub mod path;
pub mod sim;
