//! The test set that cargo-mutants runs against every mutant (see `.cargo/mutants.toml`): the
//! fast integration test files, compiled as modules of this one test binary.
//!
//! Each mutant is a rebuild of the crate, and every test binary that depends on it is then
//! compiled again and linked again; one binary instead of thirteen is most of what makes a
//! mutant cheap. The files stay separate targets for `cargo test`; this target is
//! `test = false` in Cargo.toml, so `cargo test` does not run their tests twice, and
//! `cargo test --test mutation_suite` builds and runs it on demand.
//!
//! A file added here must not change process-wide state (the working directory, environment
//! variables, the umask): its tests run in threads beside all the others.

// Each file declares `mod common;` as it does in its own target, so the helpers are compiled once
// per file that uses them: the same code, a module each, which is what clippy's lint reports.
#![allow(clippy::duplicate_mod)]

#[path = "atomic_replace_example.rs"]
mod atomic_replace_example;
#[path = "cli.rs"]
mod cli;
#[path = "format.rs"]
mod format;
#[path = "fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "hostile_journal.rs"]
mod hostile_journal;
#[path = "io_errors.rs"]
mod io_errors;
#[path = "journal.rs"]
mod journal;
#[path = "journal_rules.rs"]
mod journal_rules;
#[path = "known_bad_steps.rs"]
mod known_bad_steps;
#[path = "live_view_recovery.rs"]
mod live_view_recovery;
#[path = "no_increment_updates.rs"]
mod no_increment_updates;
#[path = "path_rules.rs"]
mod path_rules;
#[path = "real_fs.rs"]
mod real_fs;
#[path = "recovery_cost.rs"]
mod recovery_cost;
#[path = "registry.rs"]
mod registry;
#[path = "review_regressions.rs"]
mod review_regressions;
#[path = "security.rs"]
mod security;
