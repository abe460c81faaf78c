//! `crashsafe update`, `inspect` and `recover`: the journal on a real directory.

use super::{Failure, RootArgs, Status, SyncArg, UpdateArgs};
use crate::format::{Content, EntryKind};
use crate::fs::real::RealFs;
use crate::journal::{
    inspect_dir, Change, Journal, JournalError, JournalOptions, PendingEntry, RecoveryReport,
    Source, SyncMode, TargetHolds, Update, UpdateOutcome, DEFAULT_JOURNAL_DIR,
};
use crate::path::RelPath;
use std::path::Path;
use std::time::Duration;

/// Opens the real root and the journal in it, waiting `--wait` for another holder.
fn open(root: &RootArgs, sync: SyncMode) -> Result<Journal<RealFs>, Failure> {
    let fs = open_root(root)?;
    let dir = journal_dir(root)?;
    Journal::open_waiting(fs, dir, JournalOptions { sync }, wait(root))
        .map_err(|e| open_failure(&e))
}

/// Opens the real root.
fn open_root(root: &RootArgs) -> Result<RealFs, Failure> {
    RealFs::open(&root.root)
        .map_err(|e| Failure(format!("cannot open the root {}: {e}", root.root.display())))
}

/// `--wait` as a duration.
fn wait(root: &RootArgs) -> Duration {
    Duration::from_secs_f64(root.wait)
}

/// The message for a journal that could not be opened (or inspected).
fn open_failure(e: &JournalError) -> Failure {
    match e {
        JournalError::Locked { .. } => Failure(format!(
            "{e}\nretry when it is done, or give --wait SECONDS to wait for it"
        )),
        _ => Failure(format!("cannot open the journal: {e}")),
    }
}

/// The journal's directory relative to the root: `--journal`, or the default.
fn journal_dir(root: &RootArgs) -> Result<RelPath, Failure> {
    let Some(given) = &root.journal else {
        return Ok(RelPath::new(DEFAULT_JOURNAL_DIR).expect("the default is a plain path"));
    };
    let relative = if given.is_absolute() {
        let root_abs = std::fs::canonicalize(&root.root)?;
        given.strip_prefix(&root_abs).map_err(|_| {
            Failure(format!(
                "--journal {} is not inside the root {}: the journal must live under the root",
                given.display(),
                root_abs.display()
            ))
        })?
    } else {
        given.as_path()
    };
    rel(&relative.to_string_lossy(), "--journal")
}

fn rel(s: &str, what: &str) -> Result<RelPath, Failure> {
    RelPath::new(s).map_err(|e| Failure(format!("{what}: {e}")))
}

/// `crashsafe update`.
pub fn update(args: &UpdateArgs) -> Result<Status, Failure> {
    let sync = match args.sync {
        SyncArg::PerFile => SyncMode::PerFile,
        SyncArg::Syncfs => SyncMode::Syncfs,
    };
    if args.atomic && args.batch.is_none() {
        // clap's `requires = "batch"` is not enforced when TARGET, which conflicts with
        // `--batch`, is given: check it here.
        return Err(Failure(
            "--atomic applies to a batch: give --batch MANIFEST (one update is atomic anyway)"
                .into(),
        ));
    }
    let mut updates = match &args.batch {
        Some(manifest) => read_manifest(manifest)?,
        None => vec![single_update(args)?],
    };
    if let Some(mode) = args.mode {
        for u in &mut updates {
            if !matches!(u.change, Change::Delete) {
                u.mode = Some(mode);
            }
        }
    }
    let mut journal = open(&args.root, sync)?;
    if !recover_first(&mut journal, args)? {
        return Ok(Status::Refused);
    }
    if args.parents {
        create_parents(&mut journal, &updates)?;
    }
    let n = updates.len();
    let receipt = match journal.commit_batch(updates, args.atomic) {
        Ok(receipt) => receipt,
        Err(e) => return Err(commit_failure(e, journal.is_ready(), args)),
    };
    outln!(
        "committed {n} update{} (transaction {}): {}",
        if n == 1 { "" } else { "s" },
        receipt.seq,
        receipt
            .targets
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Status::Ok)
}

/// Recovers the journal before an update; `false` if refused entries block the journal
/// (nothing is committed then).
///
/// Recovery runs even when no entry is pending: a transaction whose intent joined its data's
/// barrier and never became durable leaves no entry, only its temp file, which the sweep of the
/// registered directories removes (see `src/journal/recover.rs`, "Orphans"). A recovery with
/// nothing to do reads the journal and registered directories and writes nothing; it says
/// nothing then.
fn recover_first(journal: &mut Journal<RealFs>, args: &UpdateArgs) -> Result<bool, Failure> {
    if !journal.is_ready() {
        eprintln!("crashsafe: the journal has pending entries; recovering them first");
    }
    let report = journal
        .recover()
        .map_err(|e| Failure(format!("recovery failed: {e}")))?;
    if !nothing_done(&report) {
        print_recovery(&report, &mut std::io::stderr());
    }
    if report.refused.is_empty() {
        return Ok(true);
    }
    eprintln!(
        "crashsafe: nothing committed: refused entries block the journal; see `crashsafe \
         inspect {}`",
        args.root.root.display()
    );
    Ok(false)
}

/// Creates the missing parent directories of every target and increment (`--parents`).
fn create_parents(journal: &mut Journal<RealFs>, updates: &[Update]) -> Result<(), Failure> {
    let paths = updates
        .iter()
        .flat_map(|u| std::iter::once(&u.target).chain(u.increment.as_ref().map(|(p, _)| p)));
    for path in paths {
        let created = journal.create_parent_dirs(path).map_err(|e| {
            Failure(format!(
                "--parents: {e}\nnothing was committed; directories created before this one stay"
            ))
        })?;
        for dir in created {
            eprintln!("crashsafe: created the directory {dir}");
        }
    }
    Ok(())
}

/// The message for a commit that failed. `nothing_written`: the journal is still ready, so the
/// failure came before the first write (a check refused the transaction).
fn commit_failure(e: JournalError, nothing_written: bool, args: &UpdateArgs) -> Failure {
    let root = args.root.root.display();
    if nothing_written {
        let hint = match &e {
            JournalError::MissingParent(_) if !args.parents => {
                "\ngive --parents to create the missing directories"
            }
            _ => "",
        };
        let said = matches!(
            e,
            JournalError::MissingParent(_)
                | JournalError::SequenceExhausted
                | JournalError::Locked { .. }
        );
        let nothing = if said { "" } else { "; nothing was changed" };
        return Failure(format!("{e}{nothing}{hint}"));
    }
    Failure(format!(
        "{e}\nthe update was not committed; run `crashsafe recover {root}` to clean up before \
         retrying"
    ))
}

fn single_update(args: &UpdateArgs) -> Result<Update, Failure> {
    let target = rel(args.target.as_deref().unwrap_or_default(), "TARGET")?;
    let mut update = match (&args.from, args.delete) {
        (Some(from), false) => Update::copy_from(target, from.clone()),
        (None, true) => Update::delete(target),
        _ => {
            return Err(Failure(
                "give exactly one of --from FILE or --delete".into(),
            ))
        }
    };
    if let (Some(inc), Some(src)) = (&args.increment, &args.increment_from) {
        update = update.with_increment(rel(inc, "--increment")?, Source::File(src.clone()));
    }
    Ok(update)
}

/// Parses a batch manifest; errors name the line.
pub fn read_manifest(path: &Path) -> Result<Vec<Update>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read the manifest {}: {e}", path.display())))?;
    let mut updates = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| Failure(format!("{}:{}: {m}", path.display(), i + 1));
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            trimmed.split_whitespace().collect()
        };
        let (target, source, increment) = match fields.as_slice() {
            [t, s] => (t, s, None),
            [t, s, i, is] => (t, s, Some((i, is))),
            _ => {
                return Err(at(format!(
                    "expected TARGET SOURCE [INCREMENT INCREMENT_SOURCE], found {} fields",
                    fields.len()
                )))
            }
        };
        let target = RelPath::new(target).map_err(|e| at(format!("target: {e}")))?;
        let mut update = match *source {
            "-" => Update::delete(target),
            file => Update::copy_from(target, file),
        };
        if let Some((inc, inc_source)) = increment {
            let inc = RelPath::new(inc).map_err(|e| at(format!("increment: {e}")))?;
            update = update.with_increment(inc, Source::File((*inc_source).into()));
        }
        updates.push(update);
    }
    if updates.is_empty() {
        return Err(Failure(format!(
            "the manifest {} lists no update",
            path.display()
        )));
    }
    Ok(updates)
}

/// `crashsafe inspect`.
pub fn inspect(args: &RootArgs) -> Result<Status, Failure> {
    // Not `open`: that creates the journal directory if it is missing, and inspecting changes
    // nothing.
    let fs = open_root(args)?;
    let dir = journal_dir(args)?;
    let inspection = inspect_dir(&fs, &dir, wait(args)).map_err(|e| open_failure(&e))?;
    outln!(
        "journal {}/{dir}: {} pending, {} torn, {} refused",
        args.root.display(),
        inspection.pending.len(),
        inspection.torn.len(),
        inspection.refused.len()
    );
    inspection.pending.iter().for_each(print_pending);
    for name in &inspection.stale {
        outln!(
            "stale entry {name}: below the journal's floor (finished; recovery removes it \
             without acting)"
        );
    }
    for name in &inspection.orphan_commits {
        outln!("commit record {name} without its intent (finished; recovery removes it)");
    }
    for name in &inspection.record_scratches {
        outln!(
            "{name}: a copy of a commit record that a stopped recovery was making durable \
             (recovery removes it)"
        );
    }
    for (name, e) in &inspection.torn {
        outln!("torn entry {name}: {e} (never durable; recovery discards it)");
    }
    for (name, r) in &inspection.refused {
        outln!("refused entry {name}: {r} (recovery leaves it; examine it, then move it away)");
    }
    for path in &inspection.orphans {
        outln!(
            "orphan {path}: a temp file no entry names, left by a transaction whose intent never \
             became durable (recovery removes it)"
        );
    }
    if inspection.torn.is_empty() && inspection.refused.is_empty() {
        Ok(Status::Ok)
    } else {
        Ok(Status::Refused)
    }
}

/// Prints one pending entry and what each of its updates' paths show (`inspect`).
fn print_pending(p: &PendingEntry) {
    let atomic = matches!(p.entry.kind, EntryKind::Intent { atomic: true });
    outln!(
        "entry {}: {} update(s){}",
        p.name,
        p.entry.updates.len(),
        match (atomic, p.committed_record) {
            (false, _) => String::new(),
            (true, true) => ", atomic, past its commit point (will roll forward)".into(),
            (true, false) => ", atomic, before its commit point".into(),
        }
    );
    for (u, seen) in p.entry.updates.iter().zip(&p.updates) {
        let (temp, inc) = (&seen.temp_exists, &seen.increment_exists);
        let state = match seen.target {
            TargetHolds::New => "holds the new content",
            TargetHolds::Old => "holds the old content",
            TargetHolds::Neither => "holds neither the old nor the new content",
        };
        let change = match u.new {
            Content::Absent => "delete",
            _ => "write",
        };
        out!("  {change} {}: target {state}", u.target);
        if !atomic {
            out!(
                " ({})",
                match seen.happened {
                    true => "happened: recovery keeps it",
                    false => "did not happen: recovery undoes it",
                }
            );
        }
        if let Some(t) = &u.temp {
            out!("; temp {t} {}", if *temp { "present" } else { "absent" });
        }
        if let Some(i) = &u.increment {
            out!(
                "; increment {} {}",
                i.path,
                if *inc { "present" } else { "absent" }
            );
        }
        outln!();
    }
}

/// `crashsafe recover`.
pub fn recover(args: &RootArgs) -> Result<Status, Failure> {
    let mut journal = open(args, SyncMode::PerFile)?;
    let report = journal
        .recover()
        .map_err(|e| Failure(format!("recovery failed: {e}")))?;
    print_recovery(&report, &mut std::io::stdout());
    if report.refused.is_empty() {
        Ok(Status::Ok)
    } else {
        Ok(Status::Refused)
    }
}

/// One line of `recover`'s output: what recovery did with one update of a pending entry.
fn outcome_line(o: &UpdateOutcome) -> String {
    let verb = match (o.done, o.rolled_forward, o.rewritten) {
        (true, true, _) => "rolled forward",
        (true, false, true) => "kept (the update had happened; rewritten to make it durable)",
        (true, false, false) => "kept (the update had happened)",
        (false, _, _) => "rolled back (the update had not happened)",
    };
    let removed = if o.removed.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = o.removed.iter().map(|p| p.to_string()).collect();
        format!("; removed {}", names.join(", "))
    };
    format!("transaction {} {}: {verb}{removed}", o.seq, o.target)
}

/// Whether recovery changed nothing and refused nothing: no update acted on, no entry (stale,
/// torn or acted on) or orphan removed, no file rewritten, no directory fsynced.
fn nothing_done(report: &RecoveryReport) -> bool {
    report.outcomes.is_empty()
        && report.removed_entries.is_empty()
        && report.refused.is_empty()
        && report.orphans_removed.is_empty()
        && report.files_rewritten == 0
        && report.dirs_synced == 0
}

fn print_recovery(report: &RecoveryReport, out: &mut dyn std::io::Write) {
    let mut say = |s: String| {
        let _ = writeln!(out, "{s}");
    };
    if nothing_done(report) {
        say("recovery: nothing to do".into());
    }
    for o in &report.outcomes {
        say(outcome_line(o));
    }
    for (name, e) in &report.discarded {
        say(format!("discarded torn entry {name}: {e}"));
    }
    for path in &report.orphans_removed {
        say(format!(
            "removed {path}: a temp file of a transaction whose intent never became durable"
        ));
    }
    for (name, why) in &report.registry_discarded {
        say(format!("discarded torn registry file {name}: {why}"));
    }
    for (name, r) in &report.refused {
        say(format!(
            "refused entry {name}: {r}; left in place, nothing it names was touched"
        ));
    }
    say(format!(
        "recovery: {} entr{} removed, {} file{} rewritten, {} director{} fsynced",
        report.removed_entries.len(),
        if report.removed_entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        report.files_rewritten,
        if report.files_rewritten == 1 { "" } else { "s" },
        report.dirs_synced,
        if report.dirs_synced == 1 { "y" } else { "ies" }
    ));
}
