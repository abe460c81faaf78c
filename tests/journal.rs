//! The journal on the real filesystem (`RealFs` in a temp dir): what a commit does and refuses,
//! and recovery from the state left by stopping the protocol after each of its steps, built by
//! hand (entry bytes from `format::encode`, temps and increments with `std::fs`). After each
//! recovery the whole tree is compared with what the rules say, and a second recovery must
//! change nothing.

mod common;

use common::{commit_record, intent, jdir, p, record, Fixture, Node};
use crashsafe::format::{self, temp_path};
use crashsafe::fs::FileKind;
use crashsafe::journal::{
    Journal, JournalError, JournalOptions, RecoveryReport, Source, SyncMode, Update,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Asserts that no temp file or entry remains.
fn assert_clean(f: &Fixture) {
    assert_eq!(f.temps(), Vec::<PathBuf>::new(), "temp files left");
    assert_eq!(f.entries(), Vec::<String>::new(), "entries left");
}

/// `base` with each `(path, content)` applied: `Some` writes the file, `None` removes it.
fn with_changes(
    base: &BTreeMap<PathBuf, Node>,
    changes: &[(&str, Option<&[u8]>)],
) -> BTreeMap<PathBuf, Node> {
    let mut out = base.clone();
    for (path, content) in changes {
        match content {
            Some(c) => out.insert(PathBuf::from(path), Node::File(c.to_vec())),
            None => out.remove(&PathBuf::from(path)),
        };
    }
    out
}

/// Runs recovery, checks the tree against `expected` and that nothing outside the root changed,
/// then runs it again and checks that it does nothing.
fn recover_and_check(f: &Fixture, expected: &BTreeMap<PathBuf, Node>) -> RecoveryReport {
    let outside = f.snapshot_outside();
    let mut journal = f.journal();
    let report = journal.recover().unwrap();
    assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    assert_eq!(
        &f.snapshot(),
        expected,
        "after recovery; report: {report:#?}"
    );
    assert_clean(f);
    assert!(journal.is_ready());
    drop(journal); // the journal holds its directory's lock until dropped
    let again = f.journal().recover().unwrap();
    assert_eq!(
        again,
        RecoveryReport::default(),
        "second recovery did something"
    );
    assert_eq!(&f.snapshot(), expected, "after the second recovery");
    assert_eq!(
        f.snapshot_outside(),
        outside,
        "something outside the root changed"
    );
    report
}

/// A root with the journal directory made, a target `d/t` holding `OLD`, an `inc` directory and
/// an unrelated file; returns it with the snapshot of that starting tree.
fn setup() -> (Fixture, BTreeMap<PathBuf, Node>) {
    let f = Fixture::new();
    f.write("d/t", OLD);
    f.write("d/other", b"unrelated");
    f.write("keep", b"kept");
    std::fs::create_dir(f.at("inc")).unwrap();
    drop(f.journal());
    let base = f.snapshot();
    (f, base)
}

const OLD: &[u8] = b"old content of d/t";
const NEW: &[u8] = b"the new content of d/t, longer than the old";
const INC: &[u8] = b"increment: reverse diff of d/t";
const SEQ: u64 = 7;

fn temp(target: &str, seq: u64, index: usize) -> String {
    temp_path(&p(target), seq, index).as_str().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Commits

#[test]
fn commit_creates_a_new_file() {
    let f = Fixture::new();
    let mut j = f.journal();
    let receipt = j
        .commit(Update::write(p("new.txt"), b"hello".to_vec()))
        .unwrap();
    assert_eq!(receipt.targets, vec![p("new.txt")]);
    assert_eq!(f.read("new.txt").unwrap(), b"hello");
    assert_clean(&f);
}

#[test]
fn commit_replaces_an_existing_file_and_keeps_the_increment() {
    let (f, base) = setup();
    let mut j = f.journal();
    j.commit(
        Update::write(p("d/t"), NEW).with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec())),
    )
    .unwrap();
    assert_eq!(
        f.snapshot(),
        with_changes(&base, &[("d/t", Some(NEW)), ("inc/t.1", Some(INC))])
    );
    assert_clean(&f);
}

#[test]
fn commit_deletes_a_file_and_keeps_the_increment() {
    let (f, base) = setup();
    let mut j = f.journal();
    j.commit(Update::delete(p("d/t")).with_increment(p("inc/t.1"), Source::Bytes(OLD.to_vec())))
        .unwrap();
    assert_eq!(
        f.snapshot(),
        with_changes(&base, &[("d/t", None), ("inc/t.1", Some(OLD))])
    );
    assert_clean(&f);
}

#[test]
fn sequence_numbers_increase_across_commits_and_reopens() {
    let f = Fixture::new();
    let mut j = f.journal();
    let a = j.commit(Update::write(p("a"), b"1".to_vec())).unwrap().seq;
    let b = j.commit(Update::write(p("a"), b"2".to_vec())).unwrap().seq;
    assert!(b > a);
    drop(j); // the journal holds its directory's lock until dropped
    let c = f
        .journal()
        .commit(Update::write(p("a"), b"3".to_vec()))
        .unwrap()
        .seq;
    assert!(c >= 1);
    assert_eq!(f.read("a").unwrap(), b"3");
    assert_clean(&f);
}

#[test]
fn batch_commits_every_update() {
    let (f, base) = setup();
    let mut j = f.journal();
    j.commit_batch(
        vec![
            Update::write(p("d/t"), NEW).with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec())),
            Update::write(p("created"), b"c".to_vec()),
            Update::delete(p("keep")),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        f.snapshot(),
        with_changes(
            &base,
            &[
                ("d/t", Some(NEW)),
                ("inc/t.1", Some(INC)),
                ("created", Some(b"c")),
                ("keep", None)
            ]
        )
    );
    assert_clean(&f);
}

#[test]
fn atomic_batch_commits_every_update() {
    let (f, base) = setup();
    let mut j = f.journal();
    j.commit_batch(
        vec![
            Update::write(p("d/t"), NEW).with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec())),
            Update::write(p("d/other"), b"o2".to_vec()),
            Update::delete(p("keep")),
        ],
        true,
    )
    .unwrap();
    assert_eq!(
        f.snapshot(),
        with_changes(
            &base,
            &[
                ("d/t", Some(NEW)),
                ("inc/t.1", Some(INC)),
                ("d/other", Some(b"o2")),
                ("keep", None)
            ]
        )
    );
    assert_clean(&f);
}

#[test]
fn syncfs_mode_commits_a_batch() {
    let (f, base) = setup();
    let opts = JournalOptions {
        sync: SyncMode::Syncfs,
    };
    let mut j = Journal::open_with(f.fs(), jdir(), opts).unwrap();
    j.commit_batch(
        vec![Update::write(p("d/t"), NEW), Update::delete(p("keep"))],
        true,
    )
    .unwrap();
    assert_eq!(
        f.snapshot(),
        with_changes(&base, &[("d/t", Some(NEW)), ("keep", None)])
    );
    assert_clean(&f);
}

#[test]
fn stream_source_writes_what_the_reader_yields() {
    let f = Fixture::new();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut j = f.journal();
    j.commit(Update::stream(p("s"), std::io::Cursor::new(data.clone())))
        .unwrap();
    assert_eq!(f.read("s").unwrap(), data);
    assert_clean(&f);
}

#[test]
fn copy_from_source_copies_the_host_file() {
    let f = Fixture::new();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let src = f.tmp.path().join("source.bin");
    std::fs::write(&src, &data).unwrap();
    let inc_src = f.tmp.path().join("inc.bin");
    std::fs::write(&inc_src, b"inc").unwrap();
    let mut j = f.journal();
    j.commit(Update::copy_from(p("c"), &src).with_increment(p("c.inc"), Source::File(inc_src)))
        .unwrap();
    assert_eq!(f.read("c").unwrap(), data);
    assert_eq!(f.read("c.inc").unwrap(), b"inc");
    assert_clean(&f);
}

#[test]
fn missing_source_file_is_a_source_error_with_nothing_written() {
    let (f, base) = setup();
    let mut j = f.journal();
    let err = j
        .commit(Update::copy_from(p("d/t"), f.tmp.path().join("nope")))
        .unwrap_err();
    assert!(matches!(err, JournalError::Source { .. }), "{err:?}");
    assert_eq!(f.snapshot(), base);
}

#[test]
fn pending_entries_at_open_need_recovery_before_a_commit() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(SEQ, 0, "d/t", Some(OLD), Some(NEW), None)],
    ));
    let mut j = f.journal();
    assert!(!j.is_ready());
    let err = j.commit(Update::write(p("x"), b"x".to_vec())).unwrap_err();
    assert!(matches!(err, JournalError::NeedsRecovery), "{err:?}");
    assert!(!f.exists("x"));
    j.recover().unwrap();
    assert!(j.is_ready());
    let receipt = j.commit(Update::write(p("x"), b"x".to_vec())).unwrap();
    assert!(
        receipt.seq > SEQ,
        "the next seq follows the recovered entries"
    );
    assert_eq!(f.snapshot(), with_changes(&base, &[("x", Some(b"x"))]));
}

#[test]
fn duplicate_target_in_a_batch_is_rejected_with_nothing_written() {
    let (f, base) = setup();
    let mut j = f.journal();
    let err = j
        .commit_batch(
            vec![
                Update::write(p("new"), b"1".to_vec()),
                Update::write(p("d/t"), NEW),
                Update::write(p("d/t"), b"again".to_vec()),
            ],
            false,
        )
        .unwrap_err();
    assert!(
        matches!(err, JournalError::DuplicatePath(ref d) if *d == p("d/t")),
        "{err:?}"
    );
    assert_eq!(f.snapshot(), base);
    assert!(j.is_ready(), "a refused commit leaves the journal usable");
}

#[test]
fn increment_naming_another_target_is_rejected_with_nothing_written() {
    let (f, base) = setup();
    let mut j = f.journal();
    let err = j
        .commit_batch(
            vec![
                Update::write(p("a"), b"1".to_vec())
                    .with_increment(p("b"), Source::Bytes(b"i".to_vec())),
                Update::write(p("b"), b"2".to_vec()),
            ],
            true,
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::DuplicatePath(_)), "{err:?}");
    assert_eq!(f.snapshot(), base);
}

#[test]
fn existing_increment_path_is_refused_with_increment_exists() {
    let (f, _) = setup();
    f.write("inc/t.1", b"earlier increment");
    let base = f.snapshot();
    let mut j = f.journal();
    let err = j
        .commit(
            Update::write(p("d/t"), NEW).with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec())),
        )
        .unwrap_err();
    assert!(
        matches!(err, JournalError::IncrementExists(ref i) if *i == p("inc/t.1")),
        "{err:?}"
    );
    assert_eq!(f.snapshot(), base);
}

#[test]
fn target_inside_the_journal_dir_is_refused() {
    let (f, base) = setup();
    let mut j = f.journal();
    for target in [
        ".crashsafe/journal/0000000000000001.intent",
        ".crashsafe/journal",
        ".crashsafe",
    ] {
        let err = j
            .commit(Update::write(p(target), b"x".to_vec()))
            .unwrap_err();
        assert!(
            matches!(err, JournalError::InsideJournal(_)),
            "{target}: {err:?}"
        );
    }
    let err = j
        .commit(
            Update::write(p("a"), b"x".to_vec())
                .with_increment(p(".crashsafe/journal/i"), Source::Bytes(vec![])),
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::InsideJournal(_)), "{err:?}");
    assert_eq!(f.snapshot(), base);
}

#[test]
fn target_that_is_a_directory_is_refused() {
    let (f, base) = setup();
    let mut j = f.journal();
    for update in [
        Update::write(p("d"), b"x".to_vec()),
        Update::delete(p("inc")),
    ] {
        let err = j.commit(update).unwrap_err();
        assert!(
            matches!(
                err,
                JournalError::NotARegularFile {
                    kind: FileKind::Dir,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(f.snapshot(), base);
}

#[test]
fn empty_batch_is_refused() {
    let f = Fixture::new();
    let err = f.journal().commit_batch(vec![], true).unwrap_err();
    assert!(matches!(err, JournalError::Empty), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Recovery from each partial state of a single update (d/t: OLD -> NEW, increment inc/t.1)

fn single_intent() -> format::Entry {
    intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/t",
            Some(OLD),
            Some(NEW),
            Some(("inc/t.1", INC)),
        )],
    )
}

#[test]
fn recovery_after_intent_only_leaves_the_old_content() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    let r = recover_and_check(&f, &base);
    assert!(!r.outcomes[0].done);
}

#[test]
fn recovery_after_intent_and_partial_temp_removes_the_temp_and_keeps_the_old_content() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    f.write(&temp("d/t", SEQ, 0), &NEW[..10]);
    let r = recover_and_check(&f, &base);
    assert!(!r.outcomes[0].done);
    assert_eq!(r.outcomes[0].removed, vec![temp_path(&p("d/t"), SEQ, 0)]);
}

#[test]
fn recovery_after_full_temp_and_partial_increment_removes_both() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", &INC[..5]);
    recover_and_check(&f, &base);
}

#[test]
fn recovery_after_full_temp_and_increment_removes_both_and_keeps_the_old_content() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", INC);
    let r = recover_and_check(&f, &base);
    assert!(!r.outcomes[0].done);
    assert_eq!(r.outcomes[0].removed.len(), 2);
}

#[test]
fn recovery_after_a_crash_inside_recovery_that_removed_the_temp_removes_the_increment() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    f.write("inc/t.1", INC);
    recover_and_check(&f, &base);
}

#[test]
fn recovery_after_rename_before_entry_removal_keeps_the_new_content_and_the_increment() {
    let (f, base) = setup();
    f.put_entry(&single_intent());
    f.write("inc/t.1", INC);
    f.write("d/t", NEW); // the temp, renamed over the target
    let r = recover_and_check(
        &f,
        &with_changes(&base, &[("d/t", Some(NEW)), ("inc/t.1", Some(INC))]),
    );
    assert!(r.outcomes[0].done && !r.outcomes[0].rolled_forward);
}

#[test]
fn recovery_after_creation_renamed_keeps_the_created_file() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/new",
            None,
            Some(NEW),
            Some(("inc/n", INC)),
        )],
    ));
    f.write("inc/n", INC);
    f.write("d/new", NEW);
    recover_and_check(
        &f,
        &with_changes(&base, &[("d/new", Some(NEW)), ("inc/n", Some(INC))]),
    );
}

#[test]
fn recovery_of_a_creation_before_rename_leaves_the_target_absent() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/new",
            None,
            Some(NEW),
            Some(("inc/n", INC)),
        )],
    ));
    f.write("inc/n", INC);
    f.write(&temp("d/new", SEQ, 0), NEW);
    recover_and_check(&f, &base);
}

#[test]
fn recovery_of_a_deletion_before_unlink_keeps_the_target_and_drops_the_increment() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/t",
            Some(OLD),
            None,
            Some(("inc/t.1", OLD)),
        )],
    ));
    f.write("inc/t.1", OLD);
    recover_and_check(&f, &base);
}

#[test]
fn recovery_of_a_deletion_after_unlink_keeps_the_increment() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/t",
            Some(OLD),
            None,
            Some(("inc/t.1", OLD)),
        )],
    ));
    f.write("inc/t.1", OLD);
    std::fs::remove_file(f.at("d/t")).unwrap();
    recover_and_check(
        &f,
        &with_changes(&base, &[("d/t", None), ("inc/t.1", Some(OLD))]),
    );
}

#[test]
fn recovery_of_a_stream_update_judges_from_the_old_content_alone() {
    // Stream updates record the new content as Unknown.
    let entry = || {
        let mut e = single_intent();
        e.updates[0].new = format::Content::Unknown;
        e
    };
    let (f, base) = setup();
    f.put_entry(&entry());
    f.write(&temp("d/t", SEQ, 0), b"streamed, partly");
    f.write("inc/t.1", INC);
    recover_and_check(&f, &base);

    let (f, base) = setup();
    f.put_entry(&entry());
    f.write("inc/t.1", INC);
    f.write("d/t", b"streamed");
    recover_and_check(
        &f,
        &with_changes(&base, &[("d/t", Some(b"streamed")), ("inc/t.1", Some(INC))]),
    );
}

#[test]
fn recovery_after_success_with_the_entry_left_changes_nothing_but_the_entry() {
    // The commit finished and a later transaction ran; only the entry's removal was lost.
    let (f, _) = setup();
    f.write("d/t", NEW);
    f.write("inc/t.1", INC);
    let base = f.snapshot();
    f.put_entry(&single_intent());
    recover_and_check(&f, &base);
}

#[test]
fn recovery_discards_a_truncated_intent() {
    let (f, base) = setup();
    let bytes = format::encode(&single_intent()).unwrap();
    for len in [0, 7, format::HEADER_LEN, bytes.len() - 1] {
        f.put_entry_bytes(&common::entry_name(&single_intent()), &bytes[..len]);
        let r = recover_and_check(&f, &base);
        assert_eq!(r.discarded.len(), 1, "{len} bytes");
    }
}

#[test]
fn recovery_discards_a_zero_filled_intent() {
    let (f, base) = setup();
    let len = format::encode(&single_intent()).unwrap().len();
    f.put_entry_bytes(&common::entry_name(&single_intent()), &vec![0u8; len]);
    let r = recover_and_check(&f, &base);
    assert_eq!(r.discarded.len(), 1);
    // An intact first sector with the rest of the entry zero-filled (the blocks after the first
    // never arrived) is torn too. A sector is written whole or not at all, so this needs an
    // entry longer than one sector (the hostile-journal tests show the shorter case refused).
    let sector = format::TORN_SECTOR;
    let mut intent = single_intent();
    for i in 0..24 {
        let target = format!("d/other-{i}");
        intent
            .updates
            .push(record(SEQ, i + 1, &target, None, Some(NEW), None));
    }
    let mut bytes = format::encode(&intent).unwrap();
    assert!(bytes.len() > 2 * sector);
    bytes[sector..].fill(0);
    f.put_entry_bytes(&common::entry_name(&intent), &bytes);
    assert_eq!(recover_and_check(&f, &base).discarded.len(), 1);
}

#[test]
fn recovery_of_a_non_atomic_batch_judges_each_update_on_its_own() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![
            record(SEQ, 0, "d/t", Some(OLD), Some(NEW), Some(("inc/t.1", INC))),
            record(
                SEQ,
                1,
                "d/other",
                Some(b"unrelated"),
                Some(b"o2"),
                Some(("inc/o.1", b"oi")),
            ),
            record(
                SEQ,
                2,
                "keep",
                Some(b"kept"),
                None,
                Some(("inc/k.1", b"kept")),
            ),
        ],
    ));
    // The first was renamed; the second's temp is whole; the deletion did not happen.
    f.write("inc/t.1", INC);
    f.write("inc/o.1", b"oi");
    f.write("inc/k.1", b"kept");
    f.write("d/t", NEW);
    f.write(&temp("d/other", SEQ, 1), b"o2");
    let r = recover_and_check(
        &f,
        &with_changes(&base, &[("d/t", Some(NEW)), ("inc/t.1", Some(INC))]),
    );
    let done: Vec<bool> = r.outcomes.iter().map(|o| o.done).collect();
    assert_eq!(done, [true, false, false]);
}

// ---------------------------------------------------------------------------------------------
// Atomic batches

fn atomic_intent() -> format::Entry {
    intent(
        SEQ,
        true,
        vec![
            record(SEQ, 0, "d/t", Some(OLD), Some(NEW), Some(("inc/t.1", INC))),
            record(SEQ, 1, "d/created", None, Some(b"created"), None),
            record(
                SEQ,
                2,
                "keep",
                Some(b"kept"),
                None,
                Some(("inc/k.1", b"kept")),
            ),
        ],
    )
}

fn atomic_all_new(base: &BTreeMap<PathBuf, Node>) -> BTreeMap<PathBuf, Node> {
    with_changes(
        base,
        &[
            ("d/t", Some(NEW)),
            ("inc/t.1", Some(INC)),
            ("d/created", Some(b"created")),
            ("keep", None),
            ("inc/k.1", Some(b"kept")),
        ],
    )
}

#[test]
fn atomic_batch_before_its_commit_record_rolls_back() {
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"crea"); // partial
    let r = recover_and_check(&f, &base);
    assert!(r.outcomes.iter().all(|o| !o.done));
}

#[test]
fn atomic_batch_with_every_temp_durable_but_no_commit_record_rolls_back() {
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"created");
    f.write("inc/k.1", b"kept");
    recover_and_check(&f, &base);
}

#[test]
fn atomic_batch_with_its_commit_record_and_nothing_renamed_rolls_forward() {
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.put_entry(&commit_record(SEQ));
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"created");
    f.write("inc/k.1", b"kept");
    let r = recover_and_check(&f, &atomic_all_new(&base));
    assert!(r.outcomes.iter().all(|o| o.done && o.rolled_forward));
}

/// A recovery that stopped while making a commit record durable leaves its copy,
/// `<seq>.commit.rec`: `inspect` lists it without changing anything, and the next recovery
/// removes it, rewrites the record through that name again (one file rewritten, before any
/// target changes) and rolls the batch forward, leaving nothing behind.
#[test]
fn a_commit_records_copy_left_by_a_stopped_recovery_is_listed_then_removed() {
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.put_entry(&commit_record(SEQ));
    let copy = format!("{SEQ:016x}.commit.rec");
    f.put_entry_bytes(&copy, b"a copy cut short");
    f.write(&temp("d/t", SEQ, 0), NEW);
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"created");
    f.write("inc/k.1", b"kept");
    let before = f.snapshot();
    let wait = std::time::Duration::ZERO;
    let found = crashsafe::journal::inspect_dir(&f.fs(), &jdir(), wait).unwrap();
    assert_eq!(found.record_scratches, vec![copy]);
    assert_eq!(found.pending.len(), 1);
    assert_eq!(f.snapshot(), before, "inspect changed nothing");
    let r = recover_and_check(&f, &atomic_all_new(&base));
    assert!(r.outcomes.iter().all(|o| o.done && o.rolled_forward));
    assert_eq!(r.files_rewritten, 1, "the record, and no target");
}

#[test]
fn atomic_batch_with_its_commit_record_and_some_targets_renamed_rolls_forward() {
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.put_entry(&commit_record(SEQ));
    f.write("d/t", NEW); // renamed
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"created");
    f.write("inc/k.1", b"kept");
    let r = recover_and_check(&f, &atomic_all_new(&base));
    let forward: Vec<bool> = r.outcomes.iter().map(|o| o.rolled_forward).collect();
    assert_eq!(forward, [false, true, true]);
    assert!(r.outcomes.iter().all(|o| o.done));
}

#[test]
fn atomic_batch_after_its_commit_record_was_removed_rolls_forward_from_its_targets() {
    // Step 6 removes the commit record first, then the intent: a crash in between.
    let (f, base) = setup();
    f.put_entry(&atomic_intent());
    f.write("d/t", NEW);
    f.write("inc/t.1", INC);
    f.write("d/created", b"created");
    std::fs::remove_file(f.at("keep")).unwrap();
    f.write("inc/k.1", b"kept");
    recover_and_check(&f, &atomic_all_new(&base));
}

#[test]
fn atomic_batch_that_must_roll_forward_without_its_temp_is_refused_and_left_alone() {
    let (f, _) = setup();
    f.put_entry(&atomic_intent());
    f.put_entry(&commit_record(SEQ));
    f.write("d/t", NEW);
    f.write("inc/t.1", INC);
    f.write(&temp("d/created", SEQ, 1), b"crea"); // not the recorded content
    f.write("inc/k.1", b"kept");
    let before = f.snapshot();
    let r = f.journal().recover().unwrap();
    assert_eq!(r.refused.len(), 2, "{r:?}");
    assert!(r
        .refused
        .iter()
        .all(|(_, why)| matches!(why, crashsafe::journal::Refusal::TempMismatch(_))));
    assert_eq!(f.snapshot(), before);
}

#[test]
fn commit_record_without_its_intent_is_removed_and_nothing_else_changes() {
    let (f, base) = setup();
    f.put_entry(&commit_record(SEQ));
    let r = recover_and_check(&f, &base);
    assert!(r.outcomes.is_empty());
    assert_eq!(r.removed_entries.len(), 1);
}

#[test]
fn several_entries_are_recovered_in_sequence_order() {
    // seq 7 finished (its entry left), seq 8 renamed d/t again but kept its entry too.
    let (f, base) = setup();
    const NEWER: &[u8] = b"newer content";
    f.put_entry(&single_intent());
    f.put_entry(&intent(
        SEQ + 1,
        false,
        vec![record(
            SEQ + 1,
            0,
            "d/t",
            Some(NEW),
            Some(NEWER),
            Some(("inc/t.2", b"i2")),
        )],
    ));
    f.write("inc/t.1", INC);
    f.write("inc/t.2", b"i2");
    f.write("d/t", NEWER);
    let r = recover_and_check(
        &f,
        &with_changes(
            &base,
            &[
                ("d/t", Some(NEWER)),
                ("inc/t.1", Some(INC)),
                ("inc/t.2", Some(b"i2")),
            ],
        ),
    );
    assert!(r.outcomes.iter().all(|o| o.done));
}

/// Regression: a target whose directory no longer exists (removed by hand after the crash, or
/// named by a foreign entry) made `stat` fail with `NotFound`, and recovery returned that I/O
/// error before acting on any entry: the journal stayed blocked for every transaction, and
/// `crashsafe recover` exited 2, until someone edited the journal by hand. Recovery's own rule
/// (`classify`) is that a missing parent means the target is absent; it now is, and the
/// entry is recovered like any other (here: a creation that did not happen loses its increment).
#[test]
fn recovery_treats_a_target_whose_directory_vanished_as_absent() {
    let (f, base) = setup();
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "gone/x",
            None,
            Some(NEW),
            Some(("inc/x.1", INC)),
        )],
    ));
    f.write("inc/x.1", INC);
    // Another interrupted transaction, which must not stay blocked behind it.
    f.put_entry(&intent(
        SEQ + 1,
        false,
        vec![record(SEQ + 1, 0, "d/t", Some(OLD), Some(NEW), None)],
    ));
    f.write(&temp("d/t", SEQ + 1, 0), NEW);
    let r = recover_and_check(&f, &base);
    assert_eq!(r.outcomes.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The floor (src/journal/recover.rs, "The floor")

/// A session's first commit leaves one floor file, numbered like its intent; the next session
/// numbers from at least a span above it, its first commit replaces the old floor, and its later
/// commits keep the new one. (A mutation of the span test to `seq + floor` wrote a new floor at
/// every commit of a second session, whose numbers are past the span already; no test noticed.)
#[test]
fn each_committing_session_leaves_one_floor_and_numbers_above_the_last() {
    use crashsafe::journal::recover::FLOOR_SPAN;
    let f = Fixture::new();
    let mut j = f.journal();
    assert!(f.floors().is_empty(), "opening writes nothing");
    let first = j.commit(Update::write(p("a"), b"1".to_vec())).unwrap().seq;
    let second = j.commit(Update::write(p("a"), b"2".to_vec())).unwrap().seq;
    assert_eq!(second, first + 1);
    assert_eq!(f.floors(), vec![format!("{first:016x}.floor")]);
    drop(j);
    let mut j = f.journal();
    j.recover().unwrap();
    assert_eq!(f.floors().len(), 1, "recovery writes no floor");
    let third = j.commit(Update::write(p("a"), b"3".to_vec())).unwrap().seq;
    assert!(third >= first + FLOOR_SPAN, "{third} vs {first}");
    assert_eq!(f.floors(), vec![format!("{third:016x}.floor")]);
    // The session numbers past a floor that is itself above the span: its next commit is one
    // number on, not a span on, so it keeps the floor (a test of `seq - floor`, not of `seq`).
    let fourth = j.commit(Update::write(p("a"), b"4".to_vec())).unwrap().seq;
    assert_eq!(fourth, third + 1);
    assert_eq!(f.floors(), vec![format!("{third:016x}.floor")]);
    assert_eq!(f.read("a").unwrap(), b"4");
    assert_clean(&f);
}

/// An entry numbered below the floor came back after its removal was lost: recovery removes it
/// (and its commit record) without acting. Acted on, this atomic batch past its commit point
/// would be refused (its temp is long gone) and the journal would stay blocked.
#[test]
fn an_entry_below_the_floor_is_removed_without_acting() {
    let (f, base) = setup();
    let stale = intent(
        SEQ,
        true,
        vec![record(SEQ, 0, "d/t", Some(NEW), Some(b"gone"), None)],
    );
    f.put_entry(&stale);
    f.put_entry(&commit_record(SEQ));
    f.put_entry_bytes(&format!("{:016x}.floor", SEQ + 1), b"");
    let mut j = f.journal();
    assert!(!j.is_ready());
    let inspection = j.inspect().unwrap();
    assert_eq!(inspection.stale.len(), 2, "{inspection:?}");
    assert!(inspection.pending.is_empty());
    let report = j.recover().unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert!(report.outcomes.is_empty(), "{report:?}");
    let mut stale_names = report.stale.clone();
    stale_names.sort();
    assert_eq!(
        stale_names,
        vec![format!("{SEQ:016x}.commit"), format!("{SEQ:016x}.intent")]
    );
    assert!(j.is_ready());
    assert_eq!(f.snapshot(), base, "nothing it names was touched");
    assert_clean(&f);
    let receipt = j.commit(Update::write(p("x"), b"x".to_vec())).unwrap();
    assert!(receipt.seq > SEQ + 1);
}

/// An entry at or above the floor is a live one: it is acted on as usual.
#[test]
fn an_entry_at_the_floor_is_recovered() {
    let (f, base) = setup();
    f.write("d/t", NEW);
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(SEQ, 0, "d/t", Some(OLD), Some(NEW), None)],
    ));
    f.put_entry_bytes(&format!("{SEQ:016x}.floor"), b"");
    let report = recover_and_check(&f, &with_changes(&base, &[("d/t", Some(NEW))]));
    assert!(report.stale.is_empty());
    assert_eq!(report.outcomes.len(), 1);
    assert!(report.outcomes[0].done);
}

/// Only a regular file is a floor: a directory under a floor's name does not make the entries
/// below it stale, so the update it would hide is still recovered.
#[test]
fn a_directory_named_like_a_floor_is_no_floor() {
    let (f, _) = setup();
    f.write("d/t", NEW);
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(SEQ, 0, "d/t", Some(OLD), Some(NEW), None)],
    ));
    let fake_floor = f.at(&format!("{}/{:016x}.floor", jdir(), SEQ + 1));
    std::fs::create_dir(&fake_floor).unwrap();
    let mut j = f.journal();
    let inspection = j.inspect().unwrap();
    assert!(inspection.stale.is_empty(), "{inspection:?}");
    assert_eq!(inspection.pending.len(), 1, "{inspection:?}");
    let report = j.recover().unwrap();
    assert!(report.stale.is_empty(), "{report:?}");
    assert_eq!(report.outcomes.len(), 1, "{report:?}");
    assert!(report.outcomes[0].done, "{report:?}");
    // The directory itself is not the journal's to remove: refused, and left for a human.
    let name = format!("{:016x}.floor", SEQ + 1);
    assert_eq!(
        report.refused,
        vec![(name, crashsafe::journal::Refusal::NotAFile(FileKind::Dir))],
        "{report:?}"
    );
    assert!(fake_floor.is_dir());
    assert_eq!(f.read("d/t").as_deref(), Some(NEW));
}

/// Recovery finishes a deletion through a tombstone: the target rewritten to a text naming the
/// entry and the update, then removed. A write whose new content is, by chance, that very text is
/// still a write: recovery keeps it.
#[test]
fn a_done_write_of_the_tombstone_text_is_kept_not_erased() {
    let (f, _) = setup();
    let tombstone =
        format!("crashsafe recovery: deleting this name for entry {SEQ:016x}, update 0\n");
    f.write("d/t", tombstone.as_bytes());
    f.put_entry(&intent(
        SEQ,
        false,
        vec![record(
            SEQ,
            0,
            "d/t",
            Some(OLD),
            Some(tombstone.as_bytes()),
            None,
        )],
    ));
    let report = f.journal().recover().unwrap();
    assert_eq!(report.outcomes.len(), 1, "{report:?}");
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(f.read("d/t").as_deref(), Some(tombstone.as_bytes()));
    assert_clean(&f);
}

/// `inspect` reports, for each update, what recovery then decides: one rule
/// (`recover::update_happened`) for both, including an update whose new content equals its old,
/// judged by its increment.
#[test]
fn inspect_reports_whether_each_update_happened_as_recovery_then_decides() {
    use crashsafe::journal::TargetHolds;
    let (f, _) = setup();
    f.write("d/a", NEW);
    f.write("d/b", OLD);
    f.write("d/c", OLD);
    f.write("inc/c.1", INC);
    f.put_entry(&intent(
        SEQ,
        false,
        vec![
            record(SEQ, 0, "d/a", Some(OLD), Some(NEW), None),
            record(SEQ, 1, "d/b", Some(OLD), Some(NEW), None),
            record(SEQ, 2, "d/c", Some(OLD), Some(OLD), Some(("inc/c.1", INC))),
        ],
    ));
    let mut j = f.journal();
    let inspection = j.inspect().unwrap();
    let seen = &inspection.pending[0].updates;
    let holds: Vec<TargetHolds> = seen.iter().map(|u| u.target).collect();
    assert_eq!(
        holds,
        [TargetHolds::New, TargetHolds::Old, TargetHolds::New]
    );
    let happened: Vec<bool> = seen.iter().map(|u| u.happened).collect();
    assert_eq!(happened, [true, false, true]);
    assert!(seen[2].increment_exists);
    let report = j.recover().unwrap();
    let done: Vec<bool> = report.outcomes.iter().map(|o| o.done).collect();
    assert_eq!(done, happened);
    assert_eq!(f.read("inc/c.1").unwrap(), INC);
}
