//! The command-line tool: argument parsing and exit codes. Each subcommand lives in its own
//! module; this one only dispatches.
//!
//! Exit codes: 0 done, 1 entries refused or corrupt (or, for `check`, a violation), 2 usage or
//! I/O error.

/// `println!` that ignores a closed pipe (`crashsafe inspect ROOT | head -1` must not panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod blackbox;
mod check;
mod journal_cmds;

use crate::fs::FileMode;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// crashsafe: crash-safe file updates, and a harness that proves them.
#[derive(Debug, Parser)]
#[command(name = "crashsafe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Commit one update (or a batch from a manifest) through the journal under ROOT.
    Update(UpdateArgs),
    /// List the journal's pending, torn and refused entries without changing anything.
    Inspect(RootArgs),
    /// Finish or undo the transactions a crash interrupted, and print what was done.
    Recover(RootArgs),
    /// Explore every crash state of the built-in workloads under the persistence models, or
    /// (with --trace or --dir) of a recorded program, judged by the user's checker.
    Check(check::CheckArgs),
    /// Run a program under strace and record its file system calls under DIR as a trace.
    Record(blackbox::RecordArgs),
}

/// Where the journal is.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// The directory whose files the journal updates.
    pub root: PathBuf,
    /// The journal's directory, relative to ROOT (default: .crashsafe/journal).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// If another crashsafe process holds the journal, wait up to this many seconds for it
    /// (default 0: fail at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = parse_wait)]
    pub wait: f64,
}

/// Parses `--mode`: permission bits in octal, at most `7777`.
fn parse_mode(s: &str) -> Result<FileMode, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .and_then(FileMode::new)
        .ok_or_else(|| format!("{s:?} is not an octal mode between 0 and 7777"))
}

/// Parses `--wait`: a finite number of seconds, not negative.
fn parse_wait(s: &str) -> Result<f64, String> {
    let seconds: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !seconds.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&seconds) {
        return Err(format!("{s} is not between 0 and a year of seconds"));
    }
    Ok(seconds)
}

/// How `update` makes writes durable.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum SyncArg {
    /// fsync each file and directory touched.
    #[default]
    PerFile,
    /// One syncfs per step, whatever the batch size.
    Syncfs,
}

/// Arguments of `crashsafe update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Where the journal is.
    #[command(flatten)]
    pub root: RootArgs,
    /// The file to replace, create or delete, relative to ROOT.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub target: Option<String>,
    /// Take the new content from this file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["delete", "batch"])]
    pub from: Option<PathBuf>,
    /// Delete the target.
    #[arg(long, conflicts_with = "batch")]
    pub delete: bool,
    /// Also write an increment file at this path (relative to ROOT).
    #[arg(
        long,
        value_name = "PATH",
        requires = "increment_from",
        conflicts_with = "batch"
    )]
    pub increment: Option<String>,
    /// The increment's content.
    #[arg(long, value_name = "FILE", requires = "increment")]
    pub increment_from: Option<PathBuf>,
    /// Commit every update listed in MANIFEST, one per line: TARGET then SOURCE (a file, or `-`
    /// to delete), then optionally INCREMENT and INCREMENT_SOURCE. Fields are separated by tabs,
    /// or by spaces on a line without tabs; blank lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "MANIFEST")]
    pub batch: Option<PathBuf>,
    /// All-or-nothing: after a crash every update of the batch is done, or none.
    #[arg(long, requires = "batch")]
    pub atomic: bool,
    /// How writes are made durable.
    #[arg(long, value_enum, default_value_t)]
    pub sync: SyncArg,
    /// Give every target (and its increment) exactly these permission bits, in octal (`0600`).
    /// Without it a replaced target keeps its mode and a created one gets what the umask leaves
    /// of 0644.
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode, conflicts_with = "delete")]
    pub mode: Option<FileMode>,
    /// Create the missing directories on the way to each target and increment first (durably:
    /// each new directory's parent is fsynced). They stay if the update then fails.
    #[arg(long)]
    pub parents: bool,
}

/// The exit status of a subcommand that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok,
    /// Entries refused or corrupt, or a violation found.
    Refused,
}

/// An error that ends the command with exit code 2, with a message for the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

/// Runs the command line and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Update(args) => journal_cmds::update(&args),
        Command::Inspect(args) => journal_cmds::inspect(&args),
        Command::Recover(args) => journal_cmds::recover(&args),
        Command::Check(args) => check::check(&args),
        Command::Record(args) => blackbox::record(&args),
    };
    match result {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::Refused) => ExitCode::from(1),
        Err(Failure(message)) => {
            eprintln!("crashsafe: {message}");
            ExitCode::from(2)
        }
    }
}
