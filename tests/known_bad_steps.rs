//! The known-bad protocols against the journal's own commit, through the public seam
//! (`journal::steps::Steps`): the journal's own trace line by line, and what each commit-side
//! known-bad protocol changes in it. An integration test rather than a unit test of
//! `src/check/known_bad.rs`, so that the mutation test set (`tests/mutation_suite.rs`) runs it
//! against the step primitives of `src/journal/commit.rs` that only these protocols use.

use crashsafe::check::known_bad::KnownBad;
use crashsafe::journal::{Journal, JournalOptions, Source, Update, DEFAULT_JOURNAL_DIR};
use crashsafe::journal::{Standard, Steps, SyncMode};
use crashsafe::path::RelPath;
use crashsafe::sim::{Image, SimFs};
use std::time::Duration;

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// The commits the tests trace.
#[derive(Clone, Copy)]
enum Txn {
    /// `d/t` replaced, with an increment.
    One,
    /// `d/t` and `d/u` replaced in one atomic batch.
    AtomicBatch,
    /// `d/t` replaced and `d/u` deleted, each on its own.
    WriteAndDelete,
}

/// The operations of one commit of `txn` through `steps` (from after the journal is
/// opened), one line each.
fn commit_trace<S: Steps>(steps: S, txn: Txn) -> Vec<String> {
    commit_trace_with(steps, txn, JournalOptions::default())
}

/// [`commit_trace`] with the journal opened with `options`.
fn commit_trace_with<S: Steps>(steps: S, txn: Txn, options: JournalOptions) -> Vec<String> {
    let mut image = Image::new();
    image.put_file(&p("d/t"), b"old t");
    image.put_file(&p("d/u"), b"old u");
    image.put_dir(&p("inc"));
    let fs = SimFs::from_image(&image);
    let dir = p(DEFAULT_JOURNAL_DIR);
    let mut journal = Journal::open_with_steps(&fs, dir, options, Duration::ZERO, steps)
        .expect("the journal opens");
    let start = fs.op_count();
    let t = Update::write(p("d/t"), "new t");
    let result = match txn {
        Txn::One => journal.commit(t.with_increment(p("inc/1"), Source::Bytes(b"i".to_vec()))),
        Txn::AtomicBatch => journal.commit_batch(vec![t, Update::write(p("d/u"), "new u")], true),
        Txn::WriteAndDelete => journal.commit_batch(vec![t, Update::delete(p("d/u"))], false),
    };
    result.expect("the commit succeeds");
    fs.trace()[start..]
        .iter()
        .map(|op| op.to_string())
        .collect()
}

fn position(trace: &[String], line: &str) -> usize {
    trace
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} is not in {trace:#?}"))
}

#[test]
fn every_name_parses_back_to_its_protocol() {
    for known_bad in KnownBad::ALL {
        assert_eq!(KnownBad::from_name(known_bad.name()), Some(known_bad));
        assert!(!known_bad.breaks().is_empty(), "{known_bad:?}");
    }
    assert_eq!(KnownBad::from_name("no-such-bug"), None);
}

const JOURNAL_FSYNC: &str = "fsync_dir .crashsafe/journal";
const TEMP_WRITE: &str = "write d/.crashsafe-0000000000000001-0.tmp @0+5";
const SWITCH: &str = "rename d/.crashsafe-0000000000000001-0.tmp -> d/t";
const REGISTRY_CREATE: &str = "create .crashsafe/journal/0000000000000001.dirs";
const INTENT_FSYNC: &str = "fsync .crashsafe/journal/0000000000000001.intent";
const INCREMENT_CREATE: &str = "create inc/.crashsafe-0000000000000001-0.inc";
const INCREMENT_FSYNC: &str = "fsync inc/.crashsafe-0000000000000001-0.inc";
const INCREMENT_SWITCH: &str = "rename inc/.crashsafe-0000000000000001-0.inc -> inc/1";
const PUBLISH: &str = "fsync_dir d";
const CLEAN: &str = "unlink .crashsafe/journal/0000000000000001.intent";

/// `trace` without the line `line`, which it must hold.
fn without(trace: &[String], line: &str) -> Vec<String> {
    let mut out = trace.to_vec();
    out.remove(position(trace, line));
    out
}

/// `trace` without the first line `line` after the line `after`, which it must hold.
fn without_after(trace: &[String], line: &str, after: &str) -> Vec<String> {
    let start = position(trace, after);
    let mut out = trace.to_vec();
    out.remove(start + position(&trace[start..], line));
    out
}

/// `trace` with `line` moved to just before `before`.
fn moved_before(trace: &[String], line: &str, before: &str) -> Vec<String> {
    let mut out = without(trace, line);
    out.insert(position(&out, before), line.to_string());
    out
}

#[test]
fn the_journal_s_own_steps_run_in_protocol_order() {
    let expected = [
        "create .crashsafe/journal/0000000000000001.floor",
        REGISTRY_CREATE,
        "write .crashsafe/journal/0000000000000001.dirs @0+46",
        "fsync .crashsafe/journal/0000000000000001.dirs",
        JOURNAL_FSYNC,
        "create .crashsafe/journal/0000000000000001.intent",
        "write .crashsafe/journal/0000000000000001.intent @0+170",
        "create d/.crashsafe-0000000000000001-0.tmp",
        "set_mode d/.crashsafe-0000000000000001-0.tmp 0644",
        TEMP_WRITE,
        INCREMENT_CREATE,
        "set_mode inc/.crashsafe-0000000000000001-0.inc 0644",
        "write inc/.crashsafe-0000000000000001-0.inc @0+1",
        INTENT_FSYNC,
        "fsync d/.crashsafe-0000000000000001-0.tmp",
        INCREMENT_FSYNC,
        JOURNAL_FSYNC,
        "fsync_dir inc",
        INCREMENT_SWITCH,
        SWITCH,
        PUBLISH,
        "fsync_dir inc",
        CLEAN,
    ];
    assert_eq!(commit_trace(Standard, Txn::One), expected);
}

#[test]
fn each_commit_side_protocol_changes_its_step_and_nothing_else() {
    let standard = commit_trace(Standard, Txn::One);
    let cases = [
        (
            // The journal directory's fsync in the first round (the registration's, before
            // the intent is created, stays).
            KnownBad::NoJournalDirFsync,
            without_after(&standard, JOURNAL_FSYNC, INTENT_FSYNC),
        ),
        (
            KnownBad::NoIncrementFsync,
            without(&standard, INCREMENT_FSYNC),
        ),
        (
            // No publish: neither the target's directory nor the increment's.
            KnownBad::AckBeforeTargetDirFsync,
            without_after(&without(&standard, PUBLISH), "fsync_dir inc", SWITCH),
        ),
        (
            KnownBad::EntryRemovedBeforeTargetDirFsync,
            moved_before(&standard, CLEAN, PUBLISH),
        ),
        (
            KnownBad::RenameBeforeTempFsync,
            moved_before(&standard, SWITCH, INCREMENT_CREATE),
        ),
        (
            KnownBad::IncrementInPlaceBeforeIntentDurable,
            moved_before(&standard, INCREMENT_SWITCH, INTENT_FSYNC),
        ),
    ];
    for (known_bad, expected) in cases {
        assert_eq!(
            commit_trace(known_bad, Txn::One),
            expected,
            "{}",
            known_bad.name()
        );
    }
    // The recovery-side protocols commit as the journal does.
    for known_bad in [KnownBad::CommitByFileType, KnownBad::RecoveryTrustsLiveView] {
        assert_eq!(
            commit_trace(known_bad, Txn::One),
            standard,
            "{}",
            known_bad.name()
        );
    }
}

#[test]
fn rename_before_all_temps_durable_switches_each_temp_before_the_commit_point() {
    let second_temp = "create d/.crashsafe-0000000000000001-1.tmp";
    let commit = "create .crashsafe/journal/0000000000000001.commit";
    let standard = commit_trace(Standard, Txn::AtomicBatch);
    assert!(position(&standard, SWITCH) > position(&standard, commit));
    let bad = commit_trace(KnownBad::RenameBeforeAllTempsDurable, Txn::AtomicBatch);
    let switch = position(&bad, SWITCH);
    assert_eq!(bad[switch - 1], "fsync d/.crashsafe-0000000000000001-0.tmp");
    assert!(switch < position(&bad, second_temp));
    assert!(switch < position(&bad, commit));
}

#[test]
fn protocols_that_rename_early_switch_each_temp_once_and_still_delete() {
    let standard = commit_trace(Standard, Txn::WriteAndDelete);
    let delete = "unlink d/u";
    assert!(position(&standard, SWITCH) < position(&standard, delete));
    for known_bad in [
        KnownBad::RenameBeforeTempFsync,
        KnownBad::RenameBeforeAllTempsDurable,
    ] {
        let bad = commit_trace(known_bad, Txn::WriteAndDelete);
        let switches = bad.iter().filter(|l| l.as_str() == SWITCH).count();
        assert_eq!(switches, 1, "{}: {bad:#?}", known_bad.name());
        assert!(position(&bad, SWITCH) < position(&bad, "fsync_dir d"));
        assert!(position(&bad, delete) > position(&bad, SWITCH));
    }
}

/// Under `syncfs` the journal fsyncs no single file, and neither does the early renamer: it
/// renames the first temp as soon as it is written, with no fsync of it in between (its
/// per-file fsync belongs to the per-file mode only).
#[test]
fn the_early_renamer_fsyncs_its_temp_only_in_per_file_mode() {
    let options = JournalOptions {
        sync: SyncMode::Syncfs,
    };
    let bad = commit_trace_with(
        KnownBad::RenameBeforeAllTempsDurable,
        Txn::AtomicBatch,
        options,
    );
    let switch = position(&bad, SWITCH);
    assert!(
        !bad[..switch].iter().any(|l| l.starts_with("fsync ")),
        "{bad:#?}"
    );
}
