//! The journal's rules that a mutation of their code would otherwise leave unnoticed, each pinned
//! where it meets the disk (the real filesystem; the simulator where a test must see the order of
//! barriers or inject a failure): what `inspect` says about every pending update (through the
//! library and the binary); the entry-size cap at exactly its limit and one byte over; every
//! shape of an entry file's name; an update whose new content equals its old one, with and
//! without its increment; recovery's judgements at their edges; what each known-bad recovery of
//! the self-test gets wrong; the last sequence number and the journal directory's length; the
//! protocol's barriers in order; streamed and copied sources; owners; a staged increment's
//! rename finished or undone by recovery, and which increments recovery rewrites; and the names
//! a commit derives for its own files. Pending entries are built by hand, as a crash would leave
//! them.

mod common;

use common::{commit_record, intent, jdir, p, raw_entry, record, Fixture};
use crashsafe::check::known_bad::KnownBad;
use crashsafe::format::{self, Content, DecodeError, MAX_ENTRY_LEN, MAX_PAYLOAD_LEN};
use crashsafe::fs::{
    DirEntry, FileKind, FileMode, Fs, FsError, FsErrorKind, FsResult, LockError, LockMode,
    Metadata, Op, Owner, RenameFlags,
};
use crashsafe::journal::recover::{
    entry_files, next_seq_after, parse_name, EntryFile, PendingEntry, TargetHolds, MAX_SEQ,
};
use crashsafe::journal::{
    inspect_dir, is_no_space, Inspection, Journal, JournalError, JournalOptions, RecoveryReport,
    Refusal, Source, Update,
};
use crashsafe::path::{PathError, RelPath, MAX_PATH_LEN};
use crashsafe::sim::{Fault, FaultKind, Image, Node, SimFs, TraceOp};
use std::process::{Command, Output};
use std::time::Duration;

const OLD: &[u8] = b"old content";
const NEW: &[u8] = b"new content, not the old";
const INC: &[u8] = b"the increment";

fn inspect(f: &Fixture) -> Inspection {
    inspect_dir(&f.fs(), &jdir(), Duration::ZERO).unwrap()
}

/// Runs `crashsafe inspect` on the fixture's root.
fn inspect_cli(f: &Fixture) -> (i32, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
        .arg("inspect")
        .arg(&f.root)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited normally"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A pending one-update entry (seq 1) for `t` from `OLD` to `new` (`None`: a deletion), with the
/// increment `t.1` holding `INC`.
fn pending_update(f: &Fixture, new: Option<&[u8]>) {
    f.write("t", OLD);
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), new, Some(("t.1", INC)))],
    ));
}

// ---------------------------------------------------------------------------------------------
// `inspect`: one verdict per update

/// What `inspect` shows of each update of `entry`: what its target holds, whether its temp file
/// and its increment exist.
fn shown(entry: &PendingEntry) -> Vec<(TargetHolds, bool, bool)> {
    entry
        .updates
        .iter()
        .map(|u| (u.target, u.temp_exists, u.increment_exists))
        .collect()
}

#[test]
fn inspect_says_the_target_holds_the_old_content_with_temp_and_increment_present() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write(".crashsafe-0000000000000001-0.tmp", NEW);
    f.write("t.1", INC);
    let found = inspect(&f);
    assert_eq!(found.pending.len(), 1, "{found:?}");
    assert_eq!(found.pending[0].name, "0000000000000001.intent");
    assert_eq!(
        shown(&found.pending[0]),
        vec![(TargetHolds::Old, true, true)]
    );
    assert!(!found.pending[0].committed_record);
    let (code, text) = inspect_cli(&f);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "  write t: target holds the old content (did not happen: recovery undoes it); temp \
             .crashsafe-0000000000000001-0.tmp present; increment t.1 present\n"
        ),
        "{text}"
    );
}

#[test]
fn inspect_says_the_target_holds_the_new_content_with_temp_and_increment_absent() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write("t", NEW);
    let found = inspect(&f);
    assert_eq!(
        shown(&found.pending[0]),
        vec![(TargetHolds::New, false, false)]
    );
    let (code, text) = inspect_cli(&f);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "  write t: target holds the new content (happened: recovery keeps it); temp \
             .crashsafe-0000000000000001-0.tmp absent; increment t.1 absent\n"
        ),
        "{text}"
    );
}

#[test]
fn inspect_says_a_target_holding_other_bytes_holds_neither() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write("t", b"something else entirely");
    assert_eq!(
        shown(&inspect(&f).pending[0]),
        vec![(TargetHolds::Neither, false, false)]
    );
    let (_, text) = inspect_cli(&f);
    assert!(
        text.contains("write t: target holds neither the old nor the new content"),
        "{text}"
    );
}

#[test]
fn inspect_says_a_deleted_target_holds_the_new_content() {
    let f = Fixture::new();
    pending_update(&f, None);
    std::fs::remove_file(f.at("t")).unwrap();
    f.write("t.1", INC);
    assert_eq!(
        shown(&inspect(&f).pending[0]),
        vec![(TargetHolds::New, false, true)]
    );
    let (_, text) = inspect_cli(&f);
    assert!(
        text.contains("  delete t: target holds the new content (happened: recovery keeps it); increment t.1 \
             present\n"),
        "{text}"
    );
}

#[test]
fn inspect_judges_a_streamed_update_from_the_old_content_alone() {
    // A stream's new content is unknown: a target holding the old content holds the old; any
    // other content is taken as the new.
    let f = Fixture::new();
    f.write("t", OLD);
    let mut entry = intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), Some(NEW), None)],
    );
    entry.updates[0].new = Content::Unknown;
    f.put_entry(&entry);
    assert_eq!(
        shown(&inspect(&f).pending[0]),
        vec![(TargetHolds::Old, false, false)]
    );
    assert!(inspect_cli(&f)
        .1
        .contains("write t: target holds the old content"));

    f.write("t", b"whatever the stream yielded");
    assert_eq!(
        shown(&inspect(&f).pending[0]),
        vec![(TargetHolds::New, false, false)]
    );
    assert!(inspect_cli(&f)
        .1
        .contains("write t: target holds the new content"));
}

#[test]
fn inspect_tells_an_atomic_batch_past_its_commit_point_from_one_before_it() {
    let f = Fixture::new();
    f.write("a", OLD);
    f.put_entry(&intent(
        1,
        true,
        vec![record(1, 0, "a", Some(OLD), Some(NEW), None)],
    ));
    let found = inspect(&f);
    assert!(!found.pending[0].committed_record);
    let (_, text) = inspect_cli(&f);
    assert!(
        text.contains(
            "entry 0000000000000001.intent: 1 update(s), atomic, before its commit point\n"
        ),
        "{text}"
    );

    f.put_entry(&commit_record(1));
    let found = inspect(&f);
    assert!(found.pending[0].committed_record, "{found:?}");
    assert!(found.orphan_commits.is_empty(), "{found:?}");
    let (_, text) = inspect_cli(&f);
    assert!(
        text.contains(
            "entry 0000000000000001.intent: 1 update(s), atomic, past its commit point (will roll \
             forward)\n"
        ),
        "{text}"
    );
}

/// A copy of a commit record that a stopped recovery left (`<seq>.commit.rec`): `inspect`
/// names it and says recovery removes it, and leaves it in place; it is no refusal.
#[test]
fn inspect_lists_a_commit_records_copy_as_recoverys_to_remove() {
    let f = Fixture::new();
    f.put_entry(&commit_record(3));
    f.put_entry_bytes("0000000000000003.commit.rec", b"cut short");
    let found = inspect(&f);
    assert_eq!(found.record_scratches, vec!["0000000000000003.commit.rec"]);
    assert!(found.refused.is_empty(), "{found:?}");
    let (code, text) = inspect_cli(&f);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "0000000000000003.commit.rec: a copy of a commit record that a stopped recovery was \
             making durable (recovery removes it)"
        ),
        "{text}"
    );
    assert_eq!(
        f.read(&format!("{}/0000000000000003.commit.rec", jdir())),
        Some(b"cut short".to_vec())
    );
}

#[test]
fn inspect_lists_a_commit_record_without_its_intent_as_finished() {
    let f = Fixture::new();
    f.put_entry(&commit_record(3));
    let found = inspect(&f);
    assert_eq!(found.orphan_commits, vec!["0000000000000003.commit"]);
    assert!(
        found.pending.is_empty() && found.refused.is_empty(),
        "{found:?}"
    );
    let (code, text) = inspect_cli(&f);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "commit record 0000000000000003.commit without its intent (finished; recovery \
             removes it)"
        ),
        "{text}"
    );
}

#[test]
fn inspect_refuses_an_entry_whose_target_is_a_directory_and_exits_1() {
    let f = Fixture::new();
    std::fs::create_dir(f.at("t")).unwrap();
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), Some(NEW), None)],
    ));
    let found = inspect(&f);
    assert!(found.pending.is_empty(), "{found:?}");
    assert_eq!(
        found.refused,
        vec![(
            "0000000000000001.intent".to_string(),
            Refusal::NotARegularFile {
                path: p("t"),
                kind: crashsafe::fs::FileKind::Dir
            }
        )]
    );
    let (code, text) = inspect_cli(&f);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("0 pending, 0 torn, 1 refused"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The entry-size cap, where recovery reads an entry from disk

/// An entry file of `len` bytes: a header claiming a `len - HEADER_LEN`-byte payload, with its
/// checksum, and a payload of non-zero bytes that is not a valid entry.
fn oversized_garbage(len: usize) -> Vec<u8> {
    let payload = vec![1u8; len - format::HEADER_LEN];
    let mut bytes = raw_entry(&payload);
    if payload.len() > MAX_PAYLOAD_LEN {
        // `raw_entry` writes the real length; a header never claims more than the cap.
        bytes[8..12].copy_from_slice(&(MAX_PAYLOAD_LEN as u32).to_le_bytes());
    }
    bytes
}

#[test]
fn an_entry_of_exactly_the_cap_is_read_and_judged_by_its_content() {
    let f = Fixture::new();
    f.put_entry_bytes("0000000000000001.intent", &oversized_garbage(MAX_ENTRY_LEN));
    let found = inspect(&f);
    assert_eq!(found.refused.len(), 1, "{found:?}");
    // Read whole: it decodes as a commit record with bytes after it, not as too large.
    assert!(
        matches!(&found.refused[0].1, Refusal::Decode(DecodeError::Payload(m)) if m.contains("bytes after the entry")),
        "{:?}",
        found.refused
    );
    let report = f.journal().recover().unwrap();
    assert_eq!(report.refused, found.refused);
    assert_eq!(report.max_seq, Some(1));
    assert_eq!(f.entries(), vec!["0000000000000001.intent"]);
}

#[test]
fn an_entry_one_byte_over_the_cap_is_refused_as_too_large_unread() {
    let f = Fixture::new();
    f.put_entry_bytes(
        "0000000000000001.intent",
        &oversized_garbage(MAX_ENTRY_LEN + 1),
    );
    let expected = vec![(
        "0000000000000001.intent".to_string(),
        Refusal::Decode(DecodeError::TooLarge(MAX_ENTRY_LEN as u64 + 1)),
    )];
    assert_eq!(inspect(&f).refused, expected);
    let report = f.journal().recover().unwrap();
    assert_eq!(report.refused, expected);
    assert_eq!(f.entries(), vec!["0000000000000001.intent"]);
}

#[test]
fn a_valid_entry_longer_than_one_read_chunk_is_recovered() {
    // 20 KiB of entry: read in more than one chunk, each counted against the cap by its length.
    let f = Fixture::new();
    let mut updates = Vec::new();
    for i in 0..150 {
        let target = format!("dir-with-a-long-name-to-fill-the-entry/target-number-{i:04}");
        updates.push(record(1, i, &target, None, Some(NEW), None));
    }
    std::fs::create_dir(f.at("dir-with-a-long-name-to-fill-the-entry")).unwrap();
    let entry = intent(1, false, updates);
    let bytes = format::encode(&entry).unwrap();
    assert!(bytes.len() > 20 * 1024, "{}", bytes.len());
    f.put_entry(&entry);
    let report = f.journal().recover().unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.outcomes.len(), 150);
    assert!(f.entries().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Entry file names

#[test]
fn parse_name_accepts_sixteen_lowercase_hex_digits_and_a_known_kind() {
    assert_eq!(
        parse_name("0000000000000001.intent"),
        Some((1, EntryFile::Intent))
    );
    assert_eq!(
        parse_name("00000000000000ff.commit"),
        Some((255, EntryFile::Commit))
    );
    assert_eq!(
        parse_name("0123456789abcdef.intent"),
        Some((0x0123_4567_89ab_cdef, EntryFile::Intent))
    );
    assert_eq!(
        parse_name("ffffffffffffffff.commit"),
        Some((u64::MAX, EntryFile::Commit))
    );
    assert_eq!(
        parse_name("0000000000000002.commit.rec"),
        Some((2, EntryFile::CommitScratch))
    );
    assert_eq!(parse_name("0000000000000002.intent.rec"), None);
}

#[test]
fn parse_name_refuses_every_other_shape() {
    for name in [
        "000000000000001.intent",   // 15 digits
        "00000000000000001.intent", // 17 digits
        "000000000000000A.intent",  // uppercase
        "000000000000000g.intent",  // not hex
        "00000000000000-1.intent",  // a sign
        "000000000000000 .intent",  // a space
        "0000000000000001.intent.tmp",
        "0000000000000001.Intent",
        "0000000000000001.",
        "0000000000000001",
        ".intent",
        "",
    ] {
        assert_eq!(parse_name(name), None, "{name:?}");
    }
}

#[test]
fn recovery_refuses_a_file_named_unlike_an_entry_and_leaves_it() {
    let f = Fixture::new();
    let entry = format::encode(&commit_record(1)).unwrap();
    f.put_entry_bytes("000000000000000A.commit", &entry);
    let expected = vec![("000000000000000A.commit".to_string(), Refusal::UnknownName)];
    assert_eq!(inspect(&f).refused, expected);
    let report = f.journal().recover().unwrap();
    assert_eq!(report.refused, expected);
    assert_eq!(report.max_seq, None);
    assert_eq!(f.entries(), vec!["000000000000000A.commit"]);
}

// ---------------------------------------------------------------------------------------------
// An update whose new content equals the old: the target cannot tell, the increment decides

/// A pending update of `t` from `OLD` to `OLD`, with the increment `t.1` recorded as `INC`.
fn equal_content_update(f: &Fixture) {
    f.write("t", OLD);
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), Some(OLD), Some(("t.1", INC)))],
    ));
}

#[test]
fn an_equal_content_update_with_its_complete_increment_is_done() {
    let f = Fixture::new();
    equal_content_update(&f);
    f.write("t.1", INC);
    let report = f.journal().recover().unwrap();
    assert_eq!(report.outcomes.len(), 1);
    assert!(report.outcomes[0].done, "{report:?}");
    assert!(report.outcomes[0].removed.is_empty(), "{report:?}");
    // The increment, complete only in the live view perhaps, is made durable by a rewrite.
    assert_eq!(report.files_rewritten, 1);
    assert_eq!(f.read("t.1").unwrap(), INC);
    assert_eq!(f.read("t").unwrap(), OLD);
    assert!(f.entries().is_empty());
}

/// Found by cargo-mutants (a mutant of recovery's plan that only this case tells apart): a
/// finished write whose target someone deleted before recovery ran made recovery try to rewrite
/// the target through a scratch copy, fail with NotFound, and fail the same way on every later
/// run, so the journal could never be used again. The update happened (the target no longer
/// holds the old content); recovery keeps its increment, leaves the deletion alone and finishes.
#[test]
fn a_finished_write_whose_target_was_deleted_since_is_left_deleted_and_recovery_finishes() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write("t.1", INC);
    std::fs::remove_file(f.at("t")).unwrap();
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert!(!report.outcomes[0].rewritten, "{report:?}");
    // The increment is rewritten (its rename into place may not be durable); the target is not.
    assert_eq!(report.files_rewritten, 1);
    assert!(!f.exists("t"));
    assert_eq!(f.read("t.1").unwrap(), INC);
    assert!(f.entries().is_empty());
    assert!(f.journal().recover().unwrap().outcomes.is_empty());
}

#[test]
fn an_equal_content_update_with_a_partial_increment_is_not_done() {
    let f = Fixture::new();
    equal_content_update(&f);
    f.write("t.1", &INC[..5]);
    let report = f.journal().recover().unwrap();
    assert!(!report.outcomes[0].done, "{report:?}");
    assert_eq!(report.outcomes[0].removed, vec![p("t.1")]);
    assert_eq!(report.files_rewritten, 0);
    assert!(!f.exists("t.1"));
    assert_eq!(f.read("t").unwrap(), OLD);
}

#[test]
fn an_equal_content_update_whose_increment_is_missing_did_not_happen() {
    // The increment is made durable before the switch and recovery never removes a done
    // update's increment: without it, the switch cannot have happened. (Before the one
    // `update_happened` rule, recovery called this case done; the disk ends the same either way
    // — nothing to keep or remove, the target holds its content — but `inspect` and the report
    // now tell the truth.)
    let f = Fixture::new();
    equal_content_update(&f);
    let report = f.journal().recover().unwrap();
    assert!(!report.outcomes[0].done, "{report:?}");
    assert!(report.outcomes[0].removed.is_empty());
    assert_eq!(report.files_rewritten, 0);
    assert!(!f.exists("t.1"));
    assert_eq!(f.read("t").unwrap(), OLD);
}

#[test]
fn an_equal_content_update_without_an_increment_is_done_and_changes_nothing() {
    let f = Fixture::new();
    f.write("t", OLD);
    let before = f.snapshot();
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), Some(OLD), None)],
    ));
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(report.files_rewritten, 0);
    let mut after = f.snapshot();
    after.retain(|path, _| !path.starts_with(".crashsafe"));
    assert_eq!(after, before);
}

#[test]
fn an_atomic_batch_that_changes_no_target_is_judged_update_by_update() {
    // No target can show which side of the commit point such a batch is on: without its commit
    // record, a complete increment still makes the update done.
    let f = Fixture::new();
    f.write("t", OLD);
    f.write("t.1", INC);
    f.put_entry(&intent(
        1,
        true,
        vec![record(1, 0, "t", Some(OLD), Some(OLD), Some(("t.1", INC)))],
    ));
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert!(!report.outcomes[0].rolled_forward, "{report:?}");
    assert_eq!(f.read("t.1").unwrap(), INC);
}

// ---------------------------------------------------------------------------------------------
// The known-bad recoveries of the self-test: each must make exactly its mistake, or the
// harness's proof that it catches that mistake proves nothing.

fn recover_with(f: &Fixture, known_bad: KnownBad) -> RecoveryReport {
    let options = JournalOptions::default();
    let wait = std::time::Duration::ZERO;
    let mut journal = Journal::open_with_steps(f.fs(), jdir(), options, wait, known_bad).unwrap();
    journal.recover().unwrap()
}

/// A pending update of `d/t` from `OLD` to `NEW` with the increment `d/t.1` holding `INC`,
/// the target holding `target` (`None`: absent), and no temp file.
fn switched_or_not(f: &Fixture, new: Option<&[u8]>, target: Option<&[u8]>) {
    f.write("d/t.1", INC);
    match target {
        Some(bytes) => f.write("d/t", bytes),
        None => std::fs::create_dir_all(f.at("d")).unwrap(),
    }
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "d/t", Some(OLD), new, Some(("d/t.1", INC)))],
    ));
}

#[test]
fn commit_by_file_type_takes_a_replaced_file_for_untouched() {
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(NEW));
    let report = recover_with(&f, KnownBad::CommitByFileType);
    assert!(!report.outcomes[0].done, "{report:?}");
    assert!(
        !f.exists("d/t.1"),
        "the increment of a done update is deleted"
    );
    assert_eq!(f.read("d/t").unwrap(), NEW);
}

#[test]
fn commit_by_file_type_takes_a_deleted_file_for_done() {
    let f = Fixture::new();
    switched_or_not(&f, None, None);
    let report = recover_with(&f, KnownBad::CommitByFileType);
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(f.read("d/t.1").unwrap(), INC);
}

#[test]
fn decide_by_temp_presence_keeps_the_increment_of_an_update_whose_temp_is_gone() {
    // The state a crash inside recovery leaves after it removed the temp of an update not done.
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    let report = recover_with(&f, KnownBad::DecideByTempPresence);
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(
        f.read("d/t.1").unwrap(),
        INC,
        "kept for an update never done"
    );
    assert_eq!(f.read("d/t").unwrap(), OLD);
}

#[test]
fn decide_by_temp_presence_judges_a_deletion_by_its_target() {
    // A deletion has no temp: the defect cannot apply, and the target still holding its old
    // content means not done.
    let f = Fixture::new();
    switched_or_not(&f, None, Some(OLD));
    let report = recover_with(&f, KnownBad::DecideByTempPresence);
    assert!(!report.outcomes[0].done, "{report:?}");
    assert!(!f.exists("d/t.1"));
    assert_eq!(f.read("d/t").unwrap(), OLD);
}

#[test]
fn recovery_trusting_the_live_view_rewrites_nothing_and_syncs_no_directory_it_did_not_change() {
    // Done and switched: the correct recovery rewrites the target; the defect does not.
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(NEW));
    let report = recover_with(&f, KnownBad::RecoveryTrustsLiveView);
    assert!(
        report.outcomes[0].done && !report.outcomes[0].rewritten,
        "{report:?}"
    );
    assert_eq!(report.files_rewritten, 0);
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(NEW));
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].rewritten, "{report:?}");
    // The target and the increment (whose rename into place may not be durable).
    assert_eq!(report.files_rewritten, 2);

    // Not done, temp already gone: the correct recovery still fsyncs the temp's directory `d`
    // (and the journal's); the defect only the journal's.
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    std::fs::remove_file(f.at("d/t.1")).unwrap();
    let report = recover_with(&f, KnownBad::RecoveryTrustsLiveView);
    assert_eq!(report.dirs_synced, 1, "{report:?}");
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    std::fs::remove_file(f.at("d/t.1")).unwrap();
    let report = f.journal().recover().unwrap();
    assert_eq!(report.dirs_synced, 2, "{report:?}");
}

#[test]
fn recovery_trusting_the_live_view_leaves_an_equal_content_increment_as_it_found_it() {
    let f = Fixture::new();
    equal_content_update(&f);
    f.write("t.1", INC);
    let report = recover_with(&f, KnownBad::RecoveryTrustsLiveView);
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(report.files_rewritten, 0);
    assert_eq!(f.read("t.1").unwrap(), INC);
}

#[test]
fn roll_forward_without_commit_record_installs_a_torn_temp() {
    // An atomic batch that crashed before its commit point, one temp complete, one torn.
    let f = Fixture::new();
    f.write("a", OLD);
    f.write("b", OLD);
    f.put_entry(&intent(
        1,
        true,
        vec![
            record(1, 0, "a", Some(OLD), Some(NEW), None),
            record(1, 1, "b", Some(OLD), Some(NEW), None),
        ],
    ));
    f.write(".crashsafe-0000000000000001-0.tmp", NEW);
    f.write(".crashsafe-0000000000000001-1.tmp", &NEW[..3]);
    let report = recover_with(&f, KnownBad::RollForwardWithoutCommitRecord);
    assert!(report.refused.is_empty(), "{report:?}");
    assert!(
        report.outcomes.iter().all(|o| o.rolled_forward),
        "{report:?}"
    );
    assert_eq!(f.read("a").unwrap(), NEW);
    assert_eq!(f.read("b").unwrap(), &NEW[..3], "the torn temp installed");
}

#[test]
fn roll_forward_without_commit_record_rolls_back_a_batch_with_no_temp_written() {
    let f = Fixture::new();
    f.write("a", OLD);
    f.put_entry(&intent(
        1,
        true,
        vec![record(1, 0, "a", Some(OLD), Some(NEW), None)],
    ));
    let report = recover_with(&f, KnownBad::RollForwardWithoutCommitRecord);
    assert!(!report.outcomes[0].done, "{report:?}");
    assert_eq!(f.read("a").unwrap(), OLD);
}

#[test]
fn no_recovery_dir_fsync_removes_the_entry_before_anything_is_made_durable() {
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    let report = recover_with(&f, KnownBad::NoRecoveryDirFsync);
    assert_eq!(report.dirs_synced, 0, "{report:?}");
    assert!(report.removed_entries.is_empty(), "{report:?}");
    assert!(f.entries().is_empty(), "the entry went first");
    assert!(!f.exists("d/t.1"));

    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    let report = f.journal().recover().unwrap();
    assert_eq!(report.dirs_synced, 2, "{report:?}");
    assert_eq!(report.removed_entries, vec!["0000000000000001.intent"]);
}

// ---------------------------------------------------------------------------------------------
// The journal itself: sequence numbers, its directory, and the protocol's barriers in order

#[test]
fn the_largest_sequence_number_a_transaction_may_use_is_used() {
    let f = Fixture::new();
    f.write("t", OLD);
    f.put_entry(&commit_record(MAX_SEQ - 1));
    let mut journal = f.journal();
    journal.recover().unwrap();
    let receipt = journal.commit(Update::write(p("t"), NEW.to_vec())).unwrap();
    assert_eq!(receipt.seq, MAX_SEQ);
    assert_eq!(f.read("t").unwrap(), NEW);
    let err = journal
        .commit(Update::write(p("t"), OLD.to_vec()))
        .unwrap_err();
    assert!(matches!(err, JournalError::SequenceExhausted), "{err:?}");
}

/// A journal directory path of `len` bytes: components of at most 200 bytes.
fn dir_of_len(len: usize) -> RelPath {
    let mut s = String::new();
    while s.len() < len {
        if !s.is_empty() {
            s.push('/');
        }
        let take = (len - s.len()).min(200);
        s.push_str(&"j".repeat(take));
    }
    assert_eq!(s.len(), len);
    p(&s)
}

#[test]
fn a_journal_directory_with_room_for_exactly_the_entry_names_is_accepted_and_one_byte_more_is_not()
{
    // `<dir>/<16 hex digits>.intent` must fit in a path: 24 bytes after the directory.
    let fits = dir_of_len(MAX_PATH_LEN - 24);
    let over = dir_of_len(MAX_PATH_LEN - 23);
    let fs = SimFs::new();
    assert_eq!(
        inspect_dir(&fs, &fits, Duration::ZERO).unwrap(),
        Inspection::default()
    );
    let err = inspect_dir(&fs, &over, Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, JournalError::Path(PathError::TooLong(_))),
        "{err:?}"
    );
    let mut journal = Journal::open(&fs, fits.clone()).unwrap();
    journal.commit(Update::write(p("t"), NEW.to_vec())).unwrap();
    assert!(matches!(
        Journal::open(&fs, over).map(|_| ()),
        Err(JournalError::Path(PathError::TooLong(_)))
    ));
}

#[test]
fn inspect_through_a_file_where_the_journal_directory_should_be_fails() {
    // A missing journal directory has nothing pending; one that cannot be reached is an error,
    // not an empty journal.
    let f = Fixture::new();
    f.write(".crashsafe", b"a file, not a directory");
    let err = inspect_dir(&f.fs(), &jdir(), Duration::ZERO).unwrap_err();
    assert!(matches!(err, JournalError::Fs(_)), "{err:?}");
    let g = Fixture::new();
    assert_eq!(inspect(&g), Inspection::default());
    assert!(!g.exists(".crashsafe"));
}

#[test]
fn only_a_full_disk_is_no_space() {
    assert!(!is_no_space(&JournalError::Empty));
    let eio = FsError::new(Op::WriteAt, &p("t"), FsErrorKind::Io);
    assert!(!is_no_space(&JournalError::Fs(eio)));
    let full = FsError::new(Op::WriteAt, &p("t"), FsErrorKind::NoSpace);
    assert!(is_no_space(&JournalError::Fs(full)));
}

/// The position in `trace` of the first operation `matches` accepts.
fn at(trace: &[TraceOp], what: &str, matches: impl Fn(&TraceOp) -> bool) -> usize {
    trace
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("no {what} in {trace:#?}"))
}

fn fsync_of(trace: &[TraceOp], path: &str) -> usize {
    at(
        trace,
        &format!("fsync of {path}"),
        |op| matches!(op, TraceOp::Fsync { path: q, .. } if q.as_str() == path),
    )
}

fn fsync_dir_of(trace: &[TraceOp], path: &str) -> usize {
    at(
        trace,
        &format!("directory fsync of {path}"),
        |op| matches!(op, TraceOp::FsyncDir { path: q, .. } if q.as_str() == path),
    )
}

fn created(trace: &[TraceOp], path: &str) -> usize {
    at(
        trace,
        &format!("creation of {path}"),
        |op| matches!(op, TraceOp::Create { path: q, .. } if q.as_str() == path),
    )
}

fn renamed_onto(trace: &[TraceOp], path: &str) -> usize {
    at(
        trace,
        &format!("rename onto {path}"),
        |op| matches!(op, TraceOp::Rename { to, .. } if to.as_str() == path),
    )
}

fn unlinked(trace: &[TraceOp], path: &str) -> usize {
    at(
        trace,
        &format!("unlink of {path}"),
        |op| matches!(op, TraceOp::Unlink { path: q, .. } if q.as_str() == path),
    )
}

fn sim_with(files: &[(&str, &[u8])], dirs: &[&str]) -> SimFs {
    let mut image = Image::new();
    for d in dirs {
        image.put_dir(&p(d));
    }
    for (path, data) in files {
        image.put_file(&p(path), data);
    }
    SimFs::from_image(&image)
}

#[test]
fn a_commit_makes_each_step_durable_before_the_next() {
    let fs = sim_with(&[("d/t", OLD)], &["d", "inc"]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let before = fs.trace().len();
    journal
        .commit(
            Update::write(p("d/t"), NEW.to_vec())
                .with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec())),
        )
        .unwrap();
    let trace = fs.trace().split_off(before);
    let intent = ".crashsafe/journal/0000000000000001.intent";
    let temp = "d/.crashsafe-0000000000000001-0.tmp";
    let staged = "inc/.crashsafe-0000000000000001-0.inc";
    // 1, 2. Registered before anything under the journal's names is created: the target's and
    // the increment's directories.
    let registered = fsync_of(&trace, ".crashsafe/journal/0000000000000001.dirs");
    assert!(registered < created(&trace, temp));
    assert!(registered < created(&trace, staged));
    // The intent, the journal directory, the temp, the increment under its temp name and that
    // name's directory, all durable before either rename of the switch.
    let increment_switch = renamed_onto(&trace, "inc/t.1");
    let switch = renamed_onto(&trace, "d/t");
    let first_rename = increment_switch.min(switch);
    assert!(fsync_of(&trace, intent) < first_rename);
    assert!(fsync_dir_of(&trace, ".crashsafe/journal") < first_rename);
    assert!(fsync_of(&trace, temp) < first_rename);
    assert!(fsync_of(&trace, staged) < first_rename);
    assert!(fsync_dir_of(&trace, "inc") < first_rename);
    // The increment appears at its own path only through that rename.
    assert!(!trace
        .iter()
        .any(|op| matches!(op, TraceOp::Create { path: q, .. } if q.as_str() == "inc/t.1")));
    // 5. The increment's directory is published with the target's, after the switch.
    let publish_inc = trace
        .iter()
        .rposition(|op| matches!(op, TraceOp::FsyncDir { path: q, .. } if q.as_str() == "inc"))
        .unwrap();
    assert!(increment_switch < publish_inc);
    assert!(publish_inc < unlinked(&trace, intent));
    // 5. The target's directory before the entry goes.
    assert!(switch < fsync_dir_of(&trace, "d"));
    assert!(fsync_dir_of(&trace, "d") < unlinked(&trace, intent));
    assert_eq!(
        fs.image().get(&p("d/t")),
        Some(Node::File(NEW.to_vec().into()))
    );
}

#[test]
fn an_atomic_batch_makes_its_temps_durable_then_its_commit_record_before_any_switch() {
    let fs = sim_with(&[("a/x", OLD), ("b/y", OLD)], &["a", "b"]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let before = fs.trace().len();
    journal
        .commit_batch(
            vec![
                Update::write(p("a/x"), NEW.to_vec()),
                Update::write(p("b/y"), NEW.to_vec()),
            ],
            true,
        )
        .unwrap();
    let trace = fs.trace().split_off(before);
    let commit = ".crashsafe/journal/0000000000000001.commit";
    let record = created(&trace, commit);
    for dir in ["a", "b"] {
        assert!(fsync_dir_of(&trace, dir) < record, "{dir}");
    }
    let durable = fsync_of(&trace, commit);
    let journal_synced = trace
        .iter()
        .enumerate()
        .skip(durable)
        .position(|(_, op)| {
            matches!(op, TraceOp::FsyncDir { path, .. } if path.as_str() == ".crashsafe/journal")
        })
        .expect("the journal directory is fsynced after the commit record")
        + durable;
    assert!(journal_synced < renamed_onto(&trace, "a/x"));
    assert!(journal_synced < renamed_onto(&trace, "b/y"));
}

/// A step keeps at most this many files open for its barrier (a batch of any size must not run
/// out of descriptors); `MAX_OPEN_IN_STEP` in src/journal/mod.rs.
const OPEN_FILES_PER_STEP: usize = 256;

#[test]
fn a_batch_over_the_open_file_limit_makes_each_full_group_of_temps_durable_before_the_next() {
    let count = OPEN_FILES_PER_STEP + 44;
    let fs = sim_with(&[], &["d"]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let before = fs.trace().len();
    let updates = (0..count)
        .map(|i| Update::write(p(&format!("d/f{i}")), NEW.to_vec()))
        .collect();
    let receipt = journal.commit_batch(updates, false).unwrap();
    let trace = fs.trace().split_off(before);
    let temp = |i: usize| format::temp_path(&p(&format!("d/f{i}")), receipt.seq, i).to_string();
    // The intent file (written with the temps: no increment, not atomic) is never fsynced, so
    // the first group is the first OPEN_FILES_PER_STEP temps.
    let group = OPEN_FILES_PER_STEP;
    let last_of_group = created(&trace, &temp(group - 1));
    let first_after = created(&trace, &temp(group));
    // The first group: all its temps written, then all made durable, before the next temp.
    for i in 0..group {
        let synced = fsync_of(&trace, &temp(i));
        assert!(last_of_group < synced && synced < first_after, "temp {i}");
    }
    // The rest wait for the step's own barrier, after the last temp.
    let last = created(&trace, &temp(count - 1));
    for i in group..count {
        assert!(fsync_of(&trace, &temp(i)) > last, "temp {i}");
    }
    for i in [0, OPEN_FILES_PER_STEP, count - 1] {
        let target = p(&format!("d/f{i}"));
        let node = fs.image().get(&target);
        assert_eq!(node, Some(Node::File(NEW.to_vec().into())), "{target}");
    }
}

#[test]
fn a_failed_write_needs_recovery_but_does_not_poison_the_journal() {
    // Not a barrier: nothing the kernel may have dropped, so recovery may run at once.
    let fs = sim_with(&[("t", OLD)], &[]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    // create_new of the session's floor, of the intent, then the intent's write
    let first_write = fs.calls().len() + 2;
    fs.set_fault(Some(Fault {
        at: first_write,
        kind: FaultKind::Eio,
    }));
    let err = journal
        .commit(Update::write(p("t"), NEW.to_vec()))
        .unwrap_err();
    assert!(
        matches!(err, JournalError::Fs(ref e) if e.op == Op::WriteAt),
        "{err:?}"
    );
    assert!(!journal.is_ready());
    assert!(journal.recover().is_ok());
    assert!(journal.is_ready());
}

// ---------------------------------------------------------------------------------------------
// Owners: a process that may not give a file away keeps it

#[test]
fn an_unprivileged_update_of_another_users_file_succeeds_and_the_file_becomes_the_callers() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let f = Fixture::new();
    f.write("t", OLD);
    if std::fs::symlink_metadata(f.at("t")).unwrap().uid() != 0 {
        eprintln!("skipped: only root can set up another user's file and run as a third");
        return;
    }
    const NOBODY: u32 = 65534;
    let chmod = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    chmod(f.tmp.path(), 0o755);
    chmod(&f.root, 0o777);
    chmod(&f.at("t"), 0o666);
    std::os::unix::fs::chown(f.at("t"), Some(4242), Some(4242)).unwrap();
    let source = f.tmp.path().join("new");
    std::fs::write(&source, NEW).unwrap();
    chmod(&source, 0o644);

    // As `nobody`: giving the temp file to 4242 is refused (EPERM), which is no reason to fail.
    let out = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
        .arg("update")
        .arg(&f.root)
        .arg("t")
        .arg("--from")
        .arg(&source)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(f.read("t").unwrap(), NEW);
    let meta = std::fs::symlink_metadata(f.at("t")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    assert_eq!(meta.mode() & 0o7777, 0o666, "the mode is kept");
}

// ---------------------------------------------------------------------------------------------
// Recovery's judgements at their edges

#[test]
fn an_entry_whose_content_disagrees_with_its_name_is_refused() {
    let f = Fixture::new();
    f.write("t", OLD);
    // The sequence number differs, the kind matches.
    let other_seq = intent(
        2,
        false,
        vec![record(2, 0, "t", Some(OLD), Some(NEW), None)],
    );
    f.put_entry_bytes(
        "0000000000000001.intent",
        &format::encode(&other_seq).unwrap(),
    );
    // The sequence number matches, the kind differs.
    f.put_entry_bytes(
        "0000000000000003.commit",
        &format::encode(&intent(
            3,
            false,
            vec![record(3, 0, "u", None, Some(NEW), None)],
        ))
        .unwrap(),
    );
    let expected = vec![
        ("0000000000000001.intent".to_string(), Refusal::NameMismatch),
        ("0000000000000003.commit".to_string(), Refusal::NameMismatch),
    ];
    let mut refused = inspect(&f).refused;
    refused.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(refused, expected);
    assert_eq!(f.journal().recover().unwrap().max_seq, Some(3));
    assert_eq!(f.entries().len(), 2);
}

#[test]
fn an_entry_naming_the_journal_directory_or_a_directory_above_it_is_refused() {
    for (target, named) in [
        (".crashsafe/journal/x", ".crashsafe/journal/x"),
        (".crashsafe", ".crashsafe"),
    ] {
        let f = Fixture::new();
        f.put_entry(&intent(
            1,
            false,
            vec![record(1, 0, target, None, None, None)],
        ));
        let report = f.journal().recover().unwrap();
        assert_eq!(
            report.refused,
            vec![(
                "0000000000000001.intent".to_string(),
                Refusal::InsideJournal(p(named))
            )],
            "{target}"
        );
    }
}

#[test]
fn a_scratch_file_left_by_a_recovery_that_crashed_is_removed() {
    let f = Fixture::new();
    switched_or_not(&f, Some(NEW), Some(OLD));
    f.write("d/.crashsafe-0000000000000001-0.rec", b"half a copy");
    let report = f.journal().recover().unwrap();
    assert!(!report.outcomes[0].done);
    assert!(
        report.outcomes[0]
            .removed
            .contains(&p("d/.crashsafe-0000000000000001-0.rec")),
        "{report:?}"
    );
    assert!(!f.exists("d/.crashsafe-0000000000000001-0.rec"));
    assert_eq!(f.read("d/t").unwrap(), OLD);
}

#[test]
fn a_batch_past_its_commit_point_whose_temp_holds_other_bytes_is_refused_not_installed() {
    let f = Fixture::new();
    f.write("a", OLD);
    f.put_entry(&intent(
        1,
        true,
        vec![record(1, 0, "a", Some(OLD), Some(NEW), None)],
    ));
    f.put_entry(&commit_record(1));
    f.write(".crashsafe-0000000000000001-0.tmp", &NEW[..4]);
    let report = f.journal().recover().unwrap();
    assert_eq!(
        report.refused[0].1,
        Refusal::TempMismatch(p(".crashsafe-0000000000000001-0.tmp"))
    );
    assert_eq!(f.read("a").unwrap(), OLD);
}

#[test]
fn a_target_holding_recoverys_tombstone_counts_as_deleted_and_is_erased() {
    // A recovery that crashed while making a deletion durable leaves its tombstone at the name.
    let f = Fixture::new();
    switched_or_not(
        &f,
        None,
        Some(b"crashsafe recovery: deleting this name for entry 0000000000000001, update 0\n"),
    );
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert!(report.outcomes[0].rewritten, "{report:?}");
    assert!(!f.exists("d/t"), "the tombstone is erased");
    assert_eq!(f.read("d/t.1").unwrap(), INC);
}

#[test]
fn an_equal_content_update_never_rewrites_its_target() {
    // The target changed under the update (not by it): only the increment is made durable.
    let f = Fixture::new();
    equal_content_update(&f);
    f.write("t.1", INC);
    f.write("t", b"changed by someone else");
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert!(!report.outcomes[0].rewritten, "{report:?}");
    assert_eq!(report.files_rewritten, 1);
    assert_eq!(f.read("t").unwrap(), b"changed by someone else");
}

#[test]
fn a_creation_whose_directories_are_all_gone_is_not_done_and_needs_nothing() {
    let f = Fixture::new();
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "gone/sub/t", None, Some(NEW), None)],
    ));
    let report = f.journal().recover().unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert!(!report.outcomes[0].done, "{report:?}");
    assert!(report.outcomes[0].removed.is_empty());
    assert_eq!(report.dirs_synced, 1, "only the journal's");
    assert!(f.entries().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Streamed sources: an interrupted read is retried, any other failure stops the commit

/// A reader that fails once with `first_error`, then yields `data`.
struct FailsOnce {
    first_error: Option<std::io::ErrorKind>,
    data: &'static [u8],
}

impl std::io::Read for FailsOnce {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(kind) = self.first_error.take() {
            return Err(std::io::Error::new(kind, "the reader failed"));
        }
        let n = buf.len().min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn an_interrupted_read_of_a_stream_is_retried() {
    let fs = sim_with(&[("t", OLD)], &[]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let reader = FailsOnce {
        first_error: Some(std::io::ErrorKind::Interrupted),
        data: NEW,
    };
    journal.commit(Update::stream(p("t"), reader)).unwrap();
    assert_eq!(
        fs.image().get(&p("t")),
        Some(Node::File(NEW.to_vec().into()))
    );
}

#[test]
fn a_failed_read_of_a_stream_stops_the_commit_and_recovery_keeps_the_old_content() {
    let fs = sim_with(&[("t", OLD)], &[]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let reader = FailsOnce {
        first_error: Some(std::io::ErrorKind::Other),
        data: NEW,
    };
    let err = journal.commit(Update::stream(p("t"), reader)).unwrap_err();
    match &err {
        JournalError::Source { path, error } => {
            assert_eq!(path, "<reader>");
            assert!(error.contains("the reader failed"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    journal.recover().unwrap();
    assert_eq!(
        fs.image().get(&p("t")),
        Some(Node::File(OLD.to_vec().into()))
    );
}

#[test]
fn a_source_file_that_changes_between_its_digest_and_its_copy_is_refused() {
    // `/proc/self/io` counts the bytes this process has read: reading it for the digest
    // changes what the copy reads.
    let f = Fixture::new();
    f.write("t", OLD);
    let mut journal = f.journal();
    let err = journal
        .commit(Update::copy_from(p("t"), "/proc/self/io"))
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::SourceChanged(t) if t == "t"),
        "{err:?}"
    );
    journal.recover().unwrap();
    assert_eq!(f.read("t").unwrap(), OLD);
}

#[test]
fn a_stream_longer_than_one_read_is_copied_whole() {
    let fs = sim_with(&[("t", OLD)], &[]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let data: Vec<u8> = (0..700 * 1024).map(|i| (i % 251) as u8).collect();
    journal
        .commit(Update::stream(p("t"), std::io::Cursor::new(data.clone())))
        .unwrap();
    assert_eq!(fs.image().get(&p("t")), Some(Node::File(data.into())));
}

#[test]
fn deleting_an_absent_target_succeeds_and_changes_nothing() {
    let fs = sim_with(&[("other", OLD)], &[]);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    // The session's first transaction leaves its floor; the deletion is the second.
    journal
        .commit(Update::write(p("other"), NEW.to_vec()))
        .unwrap();
    let before = fs.image();
    journal.commit(Update::delete(p("t"))).unwrap();
    assert!(journal.is_ready());
    assert_eq!(fs.image(), before);
}

#[test]
fn a_journal_reports_its_directory_and_what_is_pending() {
    let f = Fixture::new();
    f.write("t", OLD);
    f.put_entry(&intent(
        1,
        false,
        vec![record(1, 0, "t", Some(OLD), Some(NEW), None)],
    ));
    let from_outside = inspect(&f);
    assert_eq!(from_outside.pending.len(), 1);
    let journal = f.journal();
    assert_eq!(journal.dir(), &jdir());
    assert!(!journal.is_ready());
    assert_eq!(journal.inspect().unwrap(), from_outside);
}

#[test]
fn the_root_cannot_be_the_journal_directory() {
    let fs = SimFs::new();
    assert!(matches!(
        Journal::open(&fs, RelPath::root()).map(|_| ()),
        Err(JournalError::InsideJournal(d)) if d.is_root()
    ));
    assert!(matches!(
        inspect_dir(&fs, &RelPath::root(), Duration::ZERO),
        Err(JournalError::InsideJournal(_))
    ));
}

/// The simulator with owners: every regular file belongs to user and group 4242, and giving a
/// file to anyone fails with `refusal`, as `fchown` does for a process that may not. A `stat` of
/// `failing_stat` fails with an I/O error.
struct OwnedSim {
    inner: SimFs,
    refusal: FsErrorKind,
    failing_stat: Option<RelPath>,
}

impl Fs for OwnedSim {
    type File = <SimFs as Fs>::File;
    type DirLock = <SimFs as Fs>::DirLock;
    fn create_new(&self, path: &RelPath) -> FsResult<Self::File> {
        self.inner.create_new(path)
    }
    fn create_new_with_mode(&self, path: &RelPath, mode: FileMode) -> FsResult<Self::File> {
        self.inner.create_new_with_mode(path, mode)
    }
    fn open_read(&self, path: &RelPath) -> FsResult<Self::File> {
        self.inner.open_read(path)
    }
    fn open_write(&self, path: &RelPath) -> FsResult<Self::File> {
        self.inner.open_write(path)
    }
    fn write_at(&self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<()> {
        self.inner.write_at(file, offset, data)
    }
    fn set_len(&self, file: &mut Self::File, len: u64) -> FsResult<()> {
        self.inner.set_len(file, len)
    }
    fn set_mode(&self, file: &mut Self::File, mode: FileMode) -> FsResult<()> {
        self.inner.set_mode(file, mode)
    }
    fn set_owner(&self, _file: &mut Self::File, _owner: Owner) -> FsResult<()> {
        Err(FsError::new(Op::SetOwner, &p("t"), self.refusal))
    }
    fn read_at(&self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        self.inner.read_at(file, offset, buf)
    }
    fn fsync(&self, file: &mut Self::File) -> FsResult<()> {
        self.inner.fsync(file)
    }
    fn fdatasync(&self, file: &mut Self::File) -> FsResult<()> {
        self.inner.fdatasync(file)
    }
    fn rename(&self, from: &RelPath, to: &RelPath) -> FsResult<()> {
        self.inner.rename(from, to)
    }
    fn rename_with(&self, from: &RelPath, to: &RelPath, flags: RenameFlags) -> FsResult<()> {
        self.inner.rename_with(from, to, flags)
    }
    fn unlink(&self, path: &RelPath) -> FsResult<()> {
        self.inner.unlink(path)
    }
    fn rmdir(&self, path: &RelPath) -> FsResult<()> {
        self.inner.rmdir(path)
    }
    fn mkdir(&self, path: &RelPath) -> FsResult<()> {
        self.inner.mkdir(path)
    }
    fn link(&self, existing: &RelPath, new: &RelPath) -> FsResult<()> {
        self.inner.link(existing, new)
    }
    fn symlink(&self, path: &RelPath, target: &str) -> FsResult<()> {
        self.inner.symlink(path, target)
    }
    fn read_dir(&self, dir: &RelPath) -> FsResult<Vec<DirEntry>> {
        self.inner.read_dir(dir)
    }
    fn stat(&self, path: &RelPath) -> FsResult<Option<Metadata>> {
        if self.failing_stat.as_ref() == Some(path) {
            return Err(FsError::new(Op::Stat, path, FsErrorKind::Io));
        }
        Ok(self.inner.stat(path)?.map(|m| Metadata {
            owner: (m.kind == FileKind::File).then_some(Owner {
                uid: 4242,
                gid: 4242,
            }),
            ..m
        }))
    }
    fn fsync_dir(&self, dir: &RelPath) -> FsResult<()> {
        self.inner.fsync_dir(dir)
    }
    fn syncfs(&self) -> FsResult<()> {
        self.inner.syncfs()
    }
    fn lock_dir(
        &self,
        dir: &RelPath,
        mode: LockMode,
        wait: Duration,
    ) -> Result<Self::DirLock, LockError> {
        self.inner.lock_dir(dir, mode, wait)
    }
}

#[test]
fn a_refusal_to_give_a_file_away_is_no_reason_to_fail_but_any_other_error_is() {
    let owned = |refusal| OwnedSim {
        inner: sim_with(&[("t", OLD)], &[]),
        refusal,
        failing_stat: None,
    };
    let fs = owned(FsErrorKind::PermissionDenied);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    journal.commit(Update::write(p("t"), NEW.to_vec())).unwrap();
    assert_eq!(
        fs.inner.image().get(&p("t")),
        Some(Node::File(NEW.to_vec().into()))
    );

    let fs = owned(FsErrorKind::Io);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let err = journal
        .commit(Update::write(p("t"), NEW.to_vec()))
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::Fs(e) if e.op == Op::SetOwner && e.kind == FsErrorKind::Io),
        "{err:?}"
    );
    journal.recover().unwrap();
    assert_eq!(
        fs.inner.image().get(&p("t")),
        Some(Node::File(OLD.to_vec().into()))
    );
}

/// Recovery takes an error reading an update's directory for what it is, not for "no such
/// directory": it stops there and changes nothing.
#[test]
fn an_error_reading_an_updates_directory_stops_recovery_and_changes_nothing() {
    let entry = format::encode(&intent(
        1,
        false,
        vec![record(1, 0, "d/t", Some(OLD), Some(NEW), None)],
    ))
    .unwrap();
    let name = ".crashsafe/journal/0000000000000001.intent";
    let inner = sim_with(
        &[("d/t", OLD), (name, &entry)],
        &["d", ".crashsafe", jdir().as_str()],
    );
    let journal = recovery_stops_at_a_failed_stat_of_d(inner);
    assert!(!journal.is_ready());
}

/// Recovers `inner` with every `stat` of `d` failing with an I/O error, and asserts that
/// recovery returned that error having changed nothing; returns the journal.
fn recovery_stops_at_a_failed_stat_of_d(inner: SimFs) -> Journal<OwnedSim> {
    let fs = OwnedSim {
        inner,
        refusal: FsErrorKind::PermissionDenied,
        failing_stat: Some(p("d")),
    };
    let before = fs.inner.image();
    let mut journal = Journal::open(fs, jdir()).unwrap();
    let err = journal.recover().unwrap_err();
    assert!(
        matches!(&err, JournalError::Fs(e) if e.op == Op::Stat && e.kind == FsErrorKind::Io),
        "{err:?}"
    );
    assert_eq!(journal.fs().inner.image(), before);
    journal
}

#[test]
fn the_next_sequence_number_follows_the_highest_entry_name_refused_or_not() {
    let f = Fixture::new();
    let names = |f: &Fixture| entry_files(&f.fs(), &jdir()).unwrap();
    drop(f.journal());
    assert_eq!(next_seq_after(&names(&f)), Some(1), "an empty journal");
    f.put_entry_bytes("notes.txt", b"not an entry");
    f.put_entry_bytes("ffffffffffffffff.intent", b"past the last number");
    assert_eq!(next_seq_after(&names(&f)), Some(1), "no entry name");
    f.put_entry_bytes("0000000000000005.intent", b"garbage, refused");
    f.put_entry_bytes("0000000000000009.commit", b"garbage, refused");
    f.put_entry_bytes("0000000000000007.intent", b"garbage, refused");
    assert_eq!(next_seq_after(&names(&f)), Some(10));
    let at_limit = [DirEntry {
        name: format!("{MAX_SEQ:016x}.intent").as_str().into(),
        kind: FileKind::File,
    }];
    assert_eq!(next_seq_after(&at_limit), Some(u64::MAX));
}

#[test]
fn a_change_prints_what_it_does_and_hides_a_streams_reader() {
    let write = Update::write(p("t"), b"ab".to_vec());
    assert_eq!(format!("{:?}", write.change), "Write(Bytes([97, 98]))");
    let stream = Update::stream(p("t"), std::io::empty());
    assert_eq!(format!("{:?}", stream.change), "Stream(..)");
    assert_eq!(format!("{:?}", Update::delete(p("t")).change), "Delete");
}

/// Recovery stats each registered directory before it changes anything. An I/O error there is
/// that error, not a refusal of the directory as unsafe (which would send a user looking for a
/// symlink that is not there): it stops recovery, and nothing is changed.
#[test]
fn an_io_error_stating_a_registered_directory_is_an_io_error_and_changes_nothing() {
    let inner = sim_with(&[("d/t", OLD)], &["d"]);
    Journal::open(&inner, jdir())
        .unwrap()
        .commit(Update::write(p("d/t"), NEW))
        .unwrap();
    recovery_stops_at_a_failed_stat_of_d(inner);
}

// ---------------------------------------------------------------------------------------------
// A staged increment (`commit::Shape::IntentWithData`): written under `.crashsafe-<seq>-<i>.inc`
// beside its path and renamed into place at the switch, the two renames of an update reaching
// the disk in either order. Recovery finishes or undoes that rename by the update's verdict.

/// The name `pending_update`'s increment `t.1` is staged under until the switch.
const STAGED: &str = ".crashsafe-0000000000000001-0.inc";

/// Pins recovery's finishing of a staged increment's rename: a crash after the target's
/// switch but before the increment's rename leaves the update done with its increment under its
/// temp name. Without the rename recovery would lose the increment of an update that stands
/// (or, taking the increment for present, fail rewriting a file that is not there).
#[test]
fn a_done_update_whose_increment_is_still_staged_has_it_renamed_into_place() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write("t", NEW);
    f.write(STAGED, INC);
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    // Renamed, not removed: the report lists nothing removed.
    assert!(report.outcomes[0].removed.is_empty(), "{report:?}");
    assert_eq!(f.read("t.1").unwrap(), INC);
    assert!(!f.exists(STAGED));
    assert_eq!(f.read("t").unwrap(), NEW);
    assert!(f.entries().is_empty());
}

/// Pins that only a staged increment holding its recorded content is renamed into place: one
/// holding other bytes (the barrier before the switch makes the real one durable, so these are
/// not the journal's) is removed, and the increment's path is left empty. Without the check
/// recovery would publish bytes the entry never recorded as the caller's increment.
#[test]
fn a_staged_increment_holding_other_bytes_is_removed_not_renamed_into_place() {
    let f = Fixture::new();
    pending_update(&f, Some(NEW));
    f.write("t", NEW);
    f.write(STAGED, b"not the increment");
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(report.outcomes[0].removed, vec![p(STAGED)], "{report:?}");
    assert!(!f.exists("t.1"));
    assert!(!f.exists(STAGED));
    assert_eq!(f.read("t").unwrap(), NEW);
}

/// Pins the undoing of a staged increment's rename: a crash after the increment's rename but
/// before the target's switch leaves the update not done with its increment in place, and one
/// before either rename leaves it staged. Either is removed; without that an update that did
/// not happen would leave its increment behind as if it had.
#[test]
fn an_update_not_done_has_its_increment_removed_whether_staged_or_renamed() {
    for at in ["t.1", STAGED] {
        let f = Fixture::new();
        pending_update(&f, Some(NEW));
        f.write(at, INC);
        let report = f.journal().recover().unwrap();
        assert!(!report.outcomes[0].done, "{at}: {report:?}");
        assert!(
            report.outcomes[0].removed.contains(&p(at)),
            "{at}: {report:?}"
        );
        assert!(!f.exists("t.1"), "{at}");
        assert!(!f.exists(STAGED), "{at}");
        assert_eq!(f.read("t").unwrap(), OLD, "{at}");
    }
}

/// Pins that only [`Shape::IntentWithData`] stages its increments: an atomic batch and a
/// transaction with a deletion make their intent durable first ([`Shape::IntentFirst`]) and
/// write each increment at its own path, after that intent and never through a rename. Staging
/// them too would add a rename per increment to the protocols whose rollback recovery the
/// explorations check, and a name recovery of those entries does not need.
///
/// [`Shape::IntentWithData`]: crashsafe::journal::commit::Shape::IntentWithData
/// [`Shape::IntentFirst`]: crashsafe::journal::commit::Shape::IntentFirst
#[test]
fn an_intent_first_transaction_writes_its_increment_at_its_own_path() {
    let with_inc = |u: Update| u.with_increment(p("inc/t.1"), Source::Bytes(INC.into()));
    let batches = [
        (vec![with_inc(Update::write(p("d/t"), NEW.to_vec()))], true),
        (vec![with_inc(Update::delete(p("d/t")))], false),
    ];
    for (updates, atomic) in batches {
        let fs = sim_with(&[("d/t", OLD)], &["d", "inc"]);
        let mut journal = Journal::open(&fs, jdir()).unwrap();
        let before = fs.trace().len();
        journal.commit_batch(updates, atomic).unwrap();
        let trace = fs.trace().split_off(before);
        let intent = ".crashsafe/journal/0000000000000001.intent";
        assert!(
            fsync_of(&trace, intent) < created(&trace, "inc/t.1"),
            "{trace:#?}"
        );
        assert!(
            !trace
                .iter()
                .any(|op| matches!(op, TraceOp::Rename { to, .. } if to.as_str() == "inc/t.1")),
            "{trace:#?}"
        );
        assert_eq!(
            fs.image().get(&p("inc/t.1")),
            Some(Node::File(INC.to_vec().into()))
        );
    }
}

/// Pins which increments recovery rewrites in an entry that does not stage them
/// ([`Shape::IntentFirst`]): only one that judged an update whose new content equals its old
/// done (the live view may show that increment ahead of the disk, and the verdict rests on it).
/// Any other was made durable at its own path before the switch, so rewriting it (as recovery
/// did with the rule's `==` turned to `!=`) is a copy and two fsyncs for nothing, and skipping
/// the equal-content one could let the verdict outlive its increment.
///
/// [`Shape::IntentFirst`]: crashsafe::journal::commit::Shape::IntentFirst
#[test]
fn an_unstaged_increment_is_rewritten_only_when_it_alone_says_the_update_happened() {
    // Equal contents, in an atomic batch: the increment alone says the update happened.
    let f = Fixture::new();
    f.write("t", OLD);
    f.write("t.1", INC);
    f.put_entry(&intent(
        1,
        true,
        vec![record(1, 0, "t", Some(OLD), Some(OLD), Some(("t.1", INC)))],
    ));
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(report.files_rewritten, 1, "{report:?}");
    assert_eq!(f.read("t.1").unwrap(), INC);
    // A deletion that happened: the target says so, and its increment is left as it is.
    let f = Fixture::new();
    pending_update(&f, None);
    std::fs::remove_file(f.at("t")).unwrap();
    f.write("t.1", INC);
    let report = f.journal().recover().unwrap();
    assert!(report.outcomes[0].done, "{report:?}");
    assert_eq!(report.files_rewritten, 0, "{report:?}");
    assert_eq!(f.read("t.1").unwrap(), INC);
    assert!(!f.exists("t"));
}

/// Pins that a commit refuses a name the journal derives for a file of its own (the temp, and
/// the increment's temp name) that exists already, before it changes anything: the file there
/// is someone else's, and a commit that found out only when creating its temp would already
/// have registered its directories and written its intent, leaving the journal to recover.
#[test]
fn a_commit_whose_own_names_exist_already_is_refused_before_anything_changes() {
    let taken = [
        "d/.crashsafe-0000000000000001-0.tmp",
        "inc/.crashsafe-0000000000000001-0.inc",
    ];
    for existing in taken {
        let fs = sim_with(&[("d/t", OLD), (existing, b"someone's")], &["d", "inc"]);
        let mut journal = Journal::open(&fs, jdir()).unwrap();
        let before = fs.image();
        let update = Update::write(p("d/t"), NEW.to_vec())
            .with_increment(p("inc/t.1"), Source::Bytes(INC.to_vec()));
        let err = journal.commit(update).unwrap_err();
        assert!(
            matches!(&err, JournalError::Fs(e)
                if e.kind == FsErrorKind::AlreadyExists && e.path == existing),
            "{existing}: {err:?}"
        );
        assert_eq!(fs.image(), before, "{existing}");
        assert!(journal.is_ready(), "{existing}");
    }
}
