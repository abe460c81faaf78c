//! Hostile or damaged journal directories, and the journal's single writer: a name at the
//! sequence limit, a name that is not UTF-8, an entry rotted after it was durable, `inspect`
//! changing nothing, a missing parent directory reported before anything is written,
//! `--parents`, two processes on one root, and a directory where recovery would rewrite a
//! commit record through.

mod common;

use common::{entry_name, intent, jdir, p, record, Fixture};
use crashsafe::format::{self, DecodeError};
use crashsafe::fs::real::RealFs;
use crashsafe::fs::{Fs, LockMode};
use crashsafe::journal::recover::MAX_SEQ;
use crashsafe::journal::{inspect_dir, Journal, JournalError, Refusal, Update};
use crashsafe::sim::{SimFs, TraceOp};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn crashsafe(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crashsafe"));
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const OLD: &[u8] = b"old content";
const NEW: &[u8] = b"new content";

/// An intent for `d/t` from `OLD` to `NEW` that never got further than its entry.
fn untouched_intent(seq: u64) -> format::Entry {
    intent(
        seq,
        false,
        vec![record(seq, 0, "d/t", Some(OLD), Some(NEW), None)],
    )
}

fn with_target() -> Fixture {
    let f = Fixture::new();
    f.write("d/t", OLD);
    f
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers

#[test]
fn an_entry_named_at_the_sequence_limit_is_refused_without_overflow() {
    let f = with_target();
    let name = "ffffffffffffffff.intent";
    f.put_entry_bytes(name, &format::encode(&untouched_intent(u64::MAX)).unwrap());
    // Opening computes the next sequence number from the names: no overflow (this test runs in
    // debug, where an overflow panics).
    let mut journal = f.journal();
    assert!(!journal.is_ready());
    let report = journal.recover().unwrap();
    assert_eq!(
        report.refused,
        vec![(name.to_string(), Refusal::SequenceAtLimit)]
    );
    assert_eq!(
        report.max_seq, None,
        "a refused limit name counts for nothing"
    );
    assert!(f.entries().contains(&name.to_string()), "left in place");
    assert_eq!(f.read("d/t").unwrap(), OLD);
    drop(journal);

    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "refused entry ffffffffffffffff.intent: sequence number ffffffffffffffff is past the \
             last one the journal uses; left in place"
        ),
        "{stdout}"
    );
}

#[test]
fn the_last_sequence_number_is_used_and_then_commits_are_refused_until_reopened() {
    let f = with_target();
    let entry = untouched_intent(MAX_SEQ);
    f.put_entry(&entry);
    let mut journal = f.journal();
    let report = journal.recover().unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(report.removed_entries, vec![entry_name(&entry)]);
    // The numbers are used up in this session: refused, nothing written.
    let err = journal
        .commit(Update::write(p("d/t"), b"x".to_vec()))
        .unwrap_err();
    assert!(matches!(err, JournalError::SequenceExhausted), "{err:?}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert!(journal.is_ready());
    assert_eq!(f.read("d/t").unwrap(), OLD);
    assert!(f.entries().is_empty());
    drop(journal);
    // The journal directory is empty now, so a new session starts again at 1.
    let receipt = f
        .journal()
        .commit(Update::write(p("d/t"), b"x".to_vec()))
        .unwrap();
    assert_eq!(receipt.seq, 1);
}

// ---------------------------------------------------------------------------------------------
// Names that are not UTF-8

#[test]
fn a_non_utf8_name_is_refused_and_left_while_the_rest_recovers() {
    use std::os::unix::ffi::OsStrExt;
    let f = with_target();
    let entry = untouched_intent(3);
    f.put_entry(&entry);
    let bad = std::ffi::OsStr::from_bytes(b"0000000000000002.int\xffnt");
    let bad_path = f
        .root
        .join(crashsafe::journal::DEFAULT_JOURNAL_DIR)
        .join(bad);
    if std::fs::write(&bad_path, b"junk").is_err() {
        return; // the filesystem refuses non-UTF-8 names itself
    }
    let mut journal = f.journal();
    let report = journal.recover().unwrap();
    assert_eq!(
        report.refused,
        vec![(
            "0000000000000002.int\\xffnt".to_string(),
            Refusal::NotUtf8Name
        )]
    );
    // The good entry was acted on and removed; the bad name is still there.
    assert_eq!(report.removed_entries, vec![entry_name(&entry)]);
    assert_eq!(report.outcomes.len(), 1);
    assert!(!report.outcomes[0].done);
    assert!(bad_path.exists());
    assert_eq!(f.read("d/t").unwrap(), OLD);
    drop(journal);

    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stdout).contains(
            "refused entry 0000000000000002.int\\xffnt: the name is not UTF-8, so not a journal \
             entry name; left in place"
        ),
        "{}",
        text(&out.stdout)
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged entries

/// An update of `d/t` that happened (the target holds the new content, the increment is there)
/// and whose entry is still in the journal, its bytes passed through `damage`.
fn happened_with_damaged_entry(damage: impl FnOnce(&mut Vec<u8>)) -> (Fixture, String) {
    let f = Fixture::new();
    f.write("d/t", NEW);
    f.write("inc/t.1", b"increment");
    let entry = intent(
        5,
        false,
        vec![record(
            5,
            0,
            "d/t",
            Some(OLD),
            Some(NEW),
            Some(("inc/t.1", b"increment")),
        )],
    );
    let mut bytes = format::encode(&entry).unwrap();
    damage(&mut bytes);
    let name = entry_name(&entry);
    f.put_entry_bytes(&name, &bytes);
    (f, name)
}

#[test]
fn a_full_length_entry_with_a_bad_checksum_is_refused_and_kept_with_what_it_names() {
    let (f, name) = happened_with_damaged_entry(|bytes| {
        let at = bytes.len() - 3;
        bytes[at] ^= 0x10; // bit rot inside a digest
    });
    let mut journal = f.journal();
    let report = journal.recover().unwrap();
    assert_eq!(report.refused.len(), 1, "{report:?}");
    let (refused, why) = &report.refused[0];
    assert_eq!(refused, &name);
    assert!(
        matches!(why, Refusal::Decode(DecodeError::ChecksumMismatch { .. })),
        "{why:?}"
    );
    assert!(report.discarded.is_empty(), "not discarded as torn");
    // The entry, the target and the increment it names are all kept.
    assert_eq!(f.entries(), vec![name.clone()]);
    assert_eq!(f.read("d/t").unwrap(), NEW);
    assert_eq!(f.read("inc/t.1").unwrap(), b"increment");
    assert!(!journal.is_ready(), "a refused entry blocks commits");
    drop(journal);

    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("refused entry {name}: checksum mismatch")),
        "{stdout}"
    );
}

#[test]
fn a_foreign_file_under_an_entry_name_is_refused_not_discarded() {
    let (f, name) = happened_with_damaged_entry(|bytes| {
        *bytes = b"#!/bin/sh\necho not an entry\n".to_vec();
    });
    let report = f.journal().recover().unwrap();
    assert_eq!(
        report.refused,
        vec![(
            name.clone(),
            Refusal::Decode(DecodeError::BadMagic(*b"#!/b"))
        )]
    );
    assert_eq!(f.entries(), vec![name]);
    assert_eq!(f.read("inc/t.1").unwrap(), b"increment");
}

#[test]
fn an_entry_shorter_than_its_header_says_is_torn_and_discarded() {
    let (f, name) = happened_with_damaged_entry(|bytes| bytes.truncate(bytes.len() - 10));
    let report = f.journal().recover().unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(report.discarded.len(), 1);
    assert!(matches!(
        report.discarded[0],
        (ref n, DecodeError::Truncated { .. }) if *n == name
    ));
    assert!(f.entries().is_empty());
}

#[test]
fn a_small_entry_with_zeros_after_its_header_is_refused_a_sector_is_written_whole() {
    let (f, name) = happened_with_damaged_entry(|bytes| {
        assert!(bytes.len() < format::TORN_SECTOR);
        bytes[format::HEADER_LEN + 3..].fill(0);
    });
    let report = f.journal().recover().unwrap();
    assert!(report.discarded.is_empty(), "{report:?}");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(f.entries(), vec![name]);
}

// ---------------------------------------------------------------------------------------------
// `inspect` changes nothing

#[test]
fn inspect_creates_no_journal_directory() {
    let f = with_target();
    let before = f.snapshot();
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        text(&out.stdout).contains("0 pending, 0 torn, 0 refused"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !f.exists(".crashsafe"),
        "inspect created the journal directory"
    );
    assert_eq!(f.snapshot(), before);
}

#[test]
fn inspect_issues_no_mutating_call_on_a_pending_journal() {
    let fs = SimFs::new();
    {
        let mut journal = Journal::open(&fs, jdir()).unwrap();
        journal
            .commit(Update::write(p("a"), b"one".to_vec()))
            .unwrap();
    }
    // Leave an entry pending: an intent written by hand, as a crash would leave it.
    let entry = intent(
        9,
        false,
        vec![record(9, 0, "a", Some(b"one"), Some(b"two"), None)],
    );
    let path = jdir().join(&entry_name(&entry)).unwrap();
    let mut file = fs.create_new(&path).unwrap();
    fs.write_at(&mut file, 0, &format::encode(&entry).unwrap())
        .unwrap();
    let ops = fs.op_count();
    let calls = fs.calls().len();
    let inspection = inspect_dir(&fs, &jdir(), Duration::ZERO).unwrap();
    assert_eq!(inspection.pending.len(), 1);
    assert_eq!(fs.op_count(), ops, "inspect added to the trace");
    assert_eq!(fs.calls().len(), calls, "inspect made a mutating call");
    // Nor does it on a root without a journal.
    let empty = SimFs::new();
    assert_eq!(
        inspect_dir(&empty, &jdir(), Duration::ZERO).unwrap(),
        Default::default()
    );
    assert_eq!(empty.op_count(), 0);
    assert!(empty.calls().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Missing parents, and `--parents`

#[test]
fn a_missing_parent_is_reported_before_anything_is_written() {
    let f = with_target();
    let mut journal = f.journal();
    let err = journal
        .commit(Update::write(p("no/such/f"), b"x".to_vec()))
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::MissingParent(path) if *path == p("no/such/f")),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the directory of no/such/f does not exist; nothing was changed"
    );
    assert!(journal.is_ready(), "nothing to recover");
    assert!(f.entries().is_empty());
    // The same for an increment.
    let err = journal
        .commit(
            Update::write(p("d/t"), b"x".to_vec())
                .with_increment(p("gone/t.1"), crashsafe::journal::Source::Bytes(vec![1])),
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::MissingParent(_)), "{err:?}");
    assert_eq!(f.read("d/t").unwrap(), OLD);
}

#[test]
fn cli_update_with_a_missing_parent_says_nothing_was_changed_and_suggests_parents() {
    let f = with_target();
    let src = f.tmp.path().join("src");
    std::fs::write(&src, b"content").unwrap();
    let out = crashsafe(&[&"update", &f.root, &"no/such/f", &"--from", &src]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the directory of no/such/f does not exist; nothing was changed"),
        "{stderr}"
    );
    assert!(stderr.contains("--parents"), "{stderr}");
    assert!(!stderr.contains("recover"), "{stderr}");
    assert!(!f.exists("no"));
    assert!(f.entries().is_empty());
    assert!(f.temps().is_empty());

    let out = crashsafe(&[
        &"update",
        &f.root,
        &"no/such/f",
        &"--from",
        &src,
        &"--parents",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(f.read("no/such/f").unwrap(), b"content");
    assert!(text(&out.stderr).contains("created the directory no/such"));
}

#[test]
fn parents_are_created_durably_each_new_directory_and_its_parent_fsynced() {
    let fs = SimFs::new();
    fs.mkdir(&p("a")).unwrap();
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let start = fs.op_count();
    let created = journal.create_parent_dirs(&p("a/b/c/file")).unwrap();
    assert_eq!(created, vec![p("a/b"), p("a/b/c")]);
    let ops = &fs.trace()[start..];
    let position = |want: &dyn Fn(&TraceOp) -> bool| ops.iter().position(want);
    let fsynced =
        |dir: &str| position(&|op| matches!(op, TraceOp::FsyncDir { path, .. } if *path == p(dir)));
    let made =
        |dir: &str| position(&|op| matches!(op, TraceOp::Mkdir { path, .. } if *path == p(dir)));
    // Each new directory's entry is in a directory fsynced after it was made.
    for (dir, parent) in [("a/b", "a"), ("a/b/c", "a/b")] {
        let made = made(dir).unwrap_or_else(|| panic!("{dir} made: {ops:?}"));
        let synced = fsynced(parent).unwrap_or_else(|| panic!("{parent} fsynced: {ops:?}"));
        assert!(
            synced > made,
            "{parent} fsynced before {dir} was made: {ops:?}"
        );
    }
    assert!(fsynced("a/b/c").is_some(), "{ops:?}");
    journal
        .commit(Update::write(p("a/b/c/file"), b"x".to_vec()))
        .unwrap();
    // Refused inside the journal, nothing created.
    let err = journal
        .create_parent_dirs(&jdir().join("x/y").unwrap())
        .unwrap_err();
    assert!(matches!(err, JournalError::InsideJournal(_)), "{err:?}");
    assert!(fs.stat(&jdir().join("x").unwrap()).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// One writer at a time

#[test]
fn a_second_journal_on_the_same_directory_is_refused_naming_the_holder() {
    let f = with_target();
    let first = f.journal();
    let err = Journal::open(f.fs(), jdir()).unwrap_err();
    match &err {
        JournalError::Locked {
            holder,
            mode,
            waited,
            ..
        } => {
            assert_eq!(*holder, Some(std::process::id()));
            assert_eq!(*mode, LockMode::Exclusive);
            assert_eq!(*waited, Duration::ZERO);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("is in use by process {}", std::process::id())),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    // A reader is refused too while the writer holds it.
    let err = inspect_dir(&f.fs(), &jdir(), Duration::from_millis(50)).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Locked {
                mode: LockMode::Shared,
                ..
            }
        ),
        "{err:?}"
    );
    // A waiting open succeeds once the holder lets go.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(first);
    });
    let mut second = Journal::open_waiting(
        RealFs::open(&f.root).unwrap(),
        jdir(),
        Default::default(),
        Duration::from_secs(20),
    )
    .unwrap();
    releaser.join().unwrap();
    second
        .commit(Update::write(p("d/t"), NEW.to_vec()))
        .unwrap();
}

#[test]
fn readers_share_the_lock() {
    let f = with_target();
    drop(f.journal()); // create the journal directory
    let fs = f.fs();
    let _held = fs
        .lock_dir(&jdir(), LockMode::Shared, Duration::ZERO)
        .unwrap();
    inspect_dir(&f.fs(), &jdir(), Duration::ZERO).unwrap();
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A writer is not.
    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Makes a fifo at `path`.
fn mkfifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

/// `crashsafe update --wait 30 ROOT TARGET --from SOURCE`, started.
fn spawn_update(f: &Fixture, target: &str, source: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_crashsafe"))
        .args(["update", "--wait", "30"])
        .arg(&f.root)
        .arg(target)
        .arg("--from")
        .arg(source)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (up to 30 s) until another process holds the journal: a brief shared lock of ours
/// fails then.
fn wait_until_locked(f: &Fixture) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let fs = f.fs();
        if fs.stat(&jdir()).unwrap_or(None).is_some()
            && matches!(
                inspect_dir(&fs, &jdir(), Duration::ZERO),
                Err(JournalError::Locked { .. })
            )
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first never locked"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Feeds an update whose source is `fifo` its content. It reads the source once to digest it,
/// then opens it again to copy it into its temp file. Each open for writing waits for a reader,
/// but pairs at once with a reader still open: before the second feed, wait for the temp file,
/// which the update creates only after it closed its first read.
fn feed_fifo_twice(f: &Fixture, fifo: &std::path::Path) {
    use std::io::Write;
    for round in 0..2 {
        if round == 1 {
            let until = std::time::Instant::now() + Duration::from_secs(30);
            while f.temps().is_empty() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut w = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        w.write_all(NEW).unwrap();
    }
}

#[test]
fn two_processes_never_both_act_the_second_waits_or_fails_naming_the_first() {
    let f = with_target();
    let fifo = f.tmp.path().join("fifo");
    mkfifo(&fifo);
    let other = f.tmp.path().join("other");
    std::fs::write(&other, b"other content").unwrap();
    // The first process takes the journal, then blocks reading its source (the fifo).
    let first = spawn_update(&f, "d/t", &fifo);
    wait_until_locked(&f);
    // The second process, not waiting, fails at once, naming the first; it changed nothing.
    let out = crashsafe(&[&"update", &f.root, &"e", &"--from", &other]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("is in use by process {}", first.id())),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(stderr.contains("--wait"), "{stderr}");
    assert!(!f.exists("e"));
    // A second process that waits gets its turn after the first.
    let second = spawn_update(&f, "e", &other);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !f.exists("e"),
        "the second acted while the first held the journal"
    );
    feed_fifo_twice(&f, &fifo);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let second = second.wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert_eq!(f.read("d/t").unwrap(), NEW);
    assert_eq!(f.read("e").unwrap(), b"other content");
    assert!(f.entries().is_empty());
    assert!(f.temps().is_empty());
}

#[test]
fn concurrent_updates_of_one_target_serialise_and_leave_one_whole_content() {
    let f = with_target();
    let sources: Vec<_> = (0..4)
        .map(|i| {
            let path = f.tmp.path().join(format!("src{i}"));
            std::fs::write(&path, format!("content {i} ").repeat(1000)).unwrap();
            path
        })
        .collect();
    let children: Vec<_> = sources
        .iter()
        .map(|src| {
            Command::new(env!("CARGO_BIN_EXE_crashsafe"))
                .args(["update", "--wait", "60"])
                .arg(&f.root)
                .arg("d/t")
                .arg("--from")
                .arg(src)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let content = f.read("d/t").unwrap();
    let whole: Vec<Vec<u8>> = sources.iter().map(|s| std::fs::read(s).unwrap()).collect();
    assert!(whole.contains(&content), "a mixed or torn target");
    assert!(f.entries().is_empty());
    assert!(f.temps().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The name a commit record is rewritten through

/// An atomic batch past its commit point, whose record recovery would rewrite through
/// `<seq>.commit.rec`, finds a directory there: the directory is refused (not an entry), and so
/// is the batch (its intent and its record), with nothing changed; the directory stays.
#[test]
fn a_directory_where_a_commit_records_copy_goes_refuses_the_batch_and_changes_nothing() {
    let f = with_target();
    let batch = intent(
        1,
        true,
        vec![record(1, 0, "d/t", Some(OLD), Some(NEW), None)],
    );
    f.put_entry(&batch);
    f.put_entry(&common::commit_record(1));
    f.write(&format::temp_path(&p("d/t"), 1, 0).to_string(), NEW);
    let copy = "0000000000000001.commit.rec";
    std::fs::create_dir(f.root.join(jdir().as_str()).join(copy)).unwrap();
    let before = f.snapshot();
    let report = f.journal().recover().unwrap();
    let mut refused: Vec<String> = report.refused.iter().map(|(n, _)| n.clone()).collect();
    refused.sort();
    assert_eq!(
        refused,
        ["0000000000000001.commit", copy, "0000000000000001.intent"]
    );
    let batch_refusal = &report
        .refused
        .iter()
        .find(|(n, _)| n.ends_with(".intent"))
        .unwrap()
        .1;
    assert!(
        matches!(batch_refusal, Refusal::NotARegularFile { path, .. } if path.as_str().ends_with(copy)),
        "{batch_refusal:?}"
    );
    assert!(report.outcomes.is_empty());
    assert_eq!(f.snapshot(), before, "nothing changed");
}
