//! Transactions whose intent is written with their data and never fsynced (issue #12), and the
//! registry of directories that lets recovery find the temp files such a transaction leaves when its intent
//! never became durable (`src/journal/registry.rs`, `src/journal/recover.rs`, "Orphans"): the
//! protocol's trace and its fsync count, orphans removed, look-alikes left alone, a damaged
//! registry refused with nothing done.

mod common;

use common::{jdir, p, Fixture};
use crashsafe::check::known_bad::KnownBad;
use crashsafe::check::workload::{
    Delivery, JournalSubject, OnFailure, SyncSpec, TxnSpec, UpdateSpec, Workload,
};
use crashsafe::journal::commit::MAX_PENDING_INTENTS;
use crashsafe::journal::registry::RegistryError;
use crashsafe::journal::{registry, Journal, JournalError, Source, Update};
use crashsafe::path::RelPath;
use crashsafe::sim::{explore, model_by_name, ExploreConfig, Image, SimFs};

const ORPHAN: &str = "a/.crashsafe-00000000000000ff-0.tmp";
const ORPHAN_SCRATCH: &str = "a/.crashsafe-00000000000000ff-1.rec";

/// A root whose journal has registered `a` (by committing `a/x`), with `b` unregistered.
fn registered_a() -> Fixture {
    let f = Fixture::new();
    f.write("a/x", b"old");
    f.write("b/y", b"b");
    let mut journal = f.journal();
    journal.commit(Update::write(p("a/x"), "new")).unwrap();
    drop(journal);
    assert_eq!(f.registry_files().len(), 1);
    f
}

/// The operations of the journal's `n`-th commit (1-based) of `a/x` on the simulator, one line
/// each, and how many of them are fsync-family calls.
fn nth_commit_trace(n: usize) -> (Vec<String>, usize) {
    let mut image = Image::new();
    image.put_file(&p("a/x"), b"old");
    let fs = SimFs::from_image(&image);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    for i in 1..n {
        journal
            .commit(Update::write(p("a/x"), format!("v{i}")))
            .unwrap();
    }
    let start = fs.op_count();
    journal.commit(Update::write(p("a/x"), "new")).unwrap();
    let trace = &fs.trace()[start..];
    let fsyncs = trace.iter().filter(|op| op.is_fsync_family()).count();
    (trace.iter().map(|op| op.to_string()).collect(), fsyncs)
}

#[test]
fn a_single_update_without_an_increment_costs_two_fsyncs_in_two_rounds() {
    // The first commit of a session registers `a`, with the session's floor: the registry file
    // and the journal directory, then the temp, then `a`.
    let (first, fsyncs) = nth_commit_trace(1);
    assert_eq!(fsyncs, 4, "{first:#?}");
    // Later ones: the intent written but never fsynced, the temp fsynced, the switch, the
    // target's directory.
    let (trace, fsyncs) = nth_commit_trace(3);
    let expected = [
        "create .crashsafe/journal/0000000000000003.intent",
        "write .crashsafe/journal/0000000000000003.intent @0+130",
        "create a/.crashsafe-0000000000000003-0.tmp",
        "set_mode a/.crashsafe-0000000000000003-0.tmp 0644",
        "write a/.crashsafe-0000000000000003-0.tmp @0+3",
        "fsync a/.crashsafe-0000000000000003-0.tmp",
        "rename a/.crashsafe-0000000000000003-0.tmp -> a/x",
        "fsync_dir a",
        "unlink .crashsafe/journal/0000000000000003.intent",
    ];
    assert_eq!(trace, expected);
    assert_eq!(fsyncs, 2);
}

/// The operations of a session's second commit of `a/x` with an increment `inc/2` (the first,
/// with `inc/1`, registered `a` and `inc`), one line each, and how many are fsync-family calls.
fn second_increment_commit_trace() -> (Vec<String>, usize) {
    let mut image = Image::new();
    image.put_file(&p("a/x"), b"old");
    image.put_dir(&p("inc"));
    let fs = SimFs::from_image(&image);
    let mut journal = Journal::open(&fs, jdir()).unwrap();
    let update = |content: &str, inc: &str| {
        Update::write(p("a/x"), content.to_string())
            .with_increment(p(inc), Source::Bytes(b"d".to_vec()))
    };
    journal.commit(update("v1", "inc/1")).unwrap();
    let start = fs.op_count();
    journal.commit(update("new", "inc/2")).unwrap();
    let trace = &fs.trace()[start..];
    let fsyncs = trace.iter().filter(|op| op.is_fsync_family()).count();
    (trace.iter().map(|op| op.to_string()).collect(), fsyncs)
}

#[test]
fn a_single_update_with_an_increment_costs_seven_fsyncs_in_two_rounds() {
    // The intent, the temp, the increment under its temp name, the journal directory and the
    // increment's directory in one round; the switch renames the increment into place, then the
    // temp over the target; the target's and the increment's directories in the second round.
    let (trace, fsyncs) = second_increment_commit_trace();
    let expected = [
        "create .crashsafe/journal/0000000000000002.intent",
        "write .crashsafe/journal/0000000000000002.intent @0+170",
        "create a/.crashsafe-0000000000000002-0.tmp",
        "set_mode a/.crashsafe-0000000000000002-0.tmp 0644",
        "write a/.crashsafe-0000000000000002-0.tmp @0+3",
        "create inc/.crashsafe-0000000000000002-0.inc",
        "set_mode inc/.crashsafe-0000000000000002-0.inc 0644",
        "write inc/.crashsafe-0000000000000002-0.inc @0+1",
        "fsync .crashsafe/journal/0000000000000002.intent",
        "fsync a/.crashsafe-0000000000000002-0.tmp",
        "fsync inc/.crashsafe-0000000000000002-0.inc",
        "fsync_dir .crashsafe/journal",
        "fsync_dir inc",
        "rename inc/.crashsafe-0000000000000002-0.inc -> inc/2",
        "rename a/.crashsafe-0000000000000002-0.tmp -> a/x",
        "fsync_dir a",
        "fsync_dir inc",
        "unlink .crashsafe/journal/0000000000000002.intent",
    ];
    assert_eq!(trace, expected);
    assert_eq!(fsyncs, 7);
}

#[test]
fn an_orphan_increment_temp_in_a_registered_directory_is_removed() {
    let f = Fixture::new();
    f.write("a/x", b"old");
    std::fs::create_dir(f.at("inc")).unwrap();
    let mut journal = f.journal();
    let update =
        Update::write(p("a/x"), "new").with_increment(p("inc/1"), Source::Bytes(b"d".to_vec()));
    journal.commit(update).unwrap();
    drop(journal);
    let orphan = "inc/.crashsafe-00000000000000ff-0.inc";
    f.write(orphan, b"an increment whose intent never became durable");
    let report = f.journal().recover().unwrap();
    assert_eq!(sorted(&report.orphans_removed), [orphan]);
    assert!(!f.exists(orphan));
    assert_eq!(f.read("inc/1").unwrap(), b"d");
    assert_eq!(f.read("a/x").unwrap(), b"new");
}

#[test]
fn every_few_plain_updates_one_fsyncs_the_journal_directory_with_its_temp() {
    // The first commit fsyncs the journal directory (its registration); then every
    // MAX_PENDING_INTENTS-th one does, in its first barrier, so that no more intents than that
    // are pending in it at any crash point.
    let n = MAX_PENDING_INTENTS;
    for i in 2..=2 * n + 2 {
        let (trace, fsyncs) = nth_commit_trace(i);
        let syncs_journal = trace.iter().any(|op| op == "fsync_dir .crashsafe/journal");
        let due = (i - 1) % n == 0;
        assert_eq!(syncs_journal, due, "commit {i}: {trace:#?}");
        assert_eq!(fsyncs, if due { 3 } else { 2 }, "commit {i}: {trace:#?}");
        if due {
            // In the first round, before the switch, and still without the intent's fsync.
            let dir = trace
                .iter()
                .position(|op| op == "fsync_dir .crashsafe/journal");
            let rename = trace.iter().position(|op| op.starts_with("rename "));
            assert!(dir < rename, "{trace:#?}");
            assert!(!trace
                .iter()
                .any(|op| op.starts_with("fsync .crashsafe/journal/")));
        }
    }
}

#[test]
fn an_orphan_temp_and_scratch_in_a_registered_directory_are_removed() {
    let f = registered_a();
    f.write(ORPHAN, b"half a transaction");
    f.write(ORPHAN_SCRATCH, b"half a recovery");
    let mut journal = f.journal();
    assert!(journal.is_ready(), "an orphan does not block commits");
    let report = journal.recover().unwrap();
    assert_eq!(sorted(&report.orphans_removed), [ORPHAN, ORPHAN_SCRATCH]);
    assert!(!f.exists(ORPHAN) && !f.exists(ORPHAN_SCRATCH));
    assert_eq!(f.read("a/x").unwrap(), b"new");
    assert!(f.entries().is_empty());
    // Recovering again finds nothing.
    assert!(journal.recover().unwrap().orphans_removed.is_empty());
}

/// The paths as strings, sorted.
fn sorted(paths: &[RelPath]) -> Vec<String> {
    let mut out: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    out.sort();
    out
}

/// `inspect` used to say nothing about orphans, so a user looking at a stray
/// `.crashsafe-…tmp` beside a file could not learn from it that recovery would remove it.
#[test]
fn inspect_lists_orphans_and_leaves_them() {
    let f = registered_a();
    f.write(ORPHAN, b"half a transaction");
    f.write(ORPHAN_SCRATCH, b"half a recovery");
    let journal = f.journal();
    let before = f.snapshot();
    let inspection = journal.inspect().unwrap();
    assert_eq!(sorted(&inspection.orphans), [ORPHAN, ORPHAN_SCRATCH]);
    assert_eq!(f.snapshot(), before, "inspect changes nothing");
}

#[test]
fn temp_like_names_that_are_not_the_journal_s_are_left_alone() {
    let f = registered_a();
    let lookalikes = [
        "a/.crashsafe-foo.tmp",
        "a/.crashsafe-00000000000000ff-01.tmp",
        "a/.crashsafe-00000000000000FF-0.tmp",
        "a/.crashsafe-00000000000000ff-0.tmp.bak",
        "a/.crashsafe-00000000000000ff-+1.tmp",
        "a/crashsafe-00000000000000ff-0.tmp",
        "a/.crashsafe-0000000000000ff-0.tmp",
        // The journal's name, in a directory the journal never registered.
        "b/.crashsafe-00000000000000ff-0.tmp",
    ];
    for name in lookalikes {
        f.write(name, b"someone else's");
    }
    // A directory with the journal's name is not a temp file.
    std::fs::create_dir(f.at("a/.crashsafe-00000000000000ff-2.tmp")).unwrap();
    let before = f.snapshot();
    let mut journal = f.journal();
    assert!(journal.inspect().unwrap().orphans.is_empty());
    let report = journal.recover().unwrap();
    assert!(report.orphans_removed.is_empty(), "{report:?}");
    assert_eq!(f.snapshot(), before);
}

#[test]
fn a_temp_named_like_a_refused_entry_s_is_kept_with_it() {
    let f = registered_a();
    f.write(ORPHAN, b"named by the refused entry");
    f.put_entry_bytes(
        "00000000000000ff.intent",
        b"not an entry at all, and long enough",
    );
    let report = f.journal().recover().unwrap();
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.orphans_removed.is_empty());
    assert!(f.exists(ORPHAN));
}

/// `recover` fails with `check` on its error, leaving the tree as it was.
fn assert_refused_and_nothing_done(f: &Fixture, check: impl Fn(&JournalError) -> bool) {
    let before = f.snapshot();
    let entries = f.entries();
    let registry = f.registry_files();
    let err = f.journal().recover().unwrap_err();
    assert!(check(&err), "{err:?}");
    assert!(
        err.to_string().contains("recovery changed nothing"),
        "{err}"
    );
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.entries(), entries);
    assert_eq!(f.registry_files(), registry);
}

#[test]
fn a_registered_directory_reached_through_a_symlink_is_refused_and_nothing_is_done() {
    let f = registered_a();
    // An orphan elsewhere that a recovery would remove: it must stay.
    f.write("c/x", b"c");
    f.put_entry_bytes(
        "00000000000000f0.dirs",
        &registry::encode(&[p("c"), p("link/inner")]),
    );
    f.write("c/.crashsafe-00000000000000ff-0.tmp", b"orphan");
    f.write("real/inner/.crashsafe-00000000000000ff-0.tmp", b"not ours");
    std::os::unix::fs::symlink(f.at("real"), f.at("link")).unwrap();
    assert_refused_and_nothing_done(
        &f,
        |e| matches!(e, JournalError::UnsafeRegisteredDir { dir, .. } if dir.as_str() == "link/inner"),
    );
    // The registered directory itself replaced by a symlink to outside the root.
    std::fs::remove_file(f.at("link")).unwrap();
    std::fs::remove_dir_all(f.at("a")).unwrap();
    std::os::unix::fs::symlink(&f.outside, f.at("a")).unwrap();
    std::fs::create_dir_all(f.at("real/inner/x")).unwrap();
    std::fs::rename(f.at("real"), f.at("link")).unwrap();
    assert_refused_and_nothing_done(
        &f,
        |e| matches!(e, JournalError::UnsafeRegisteredDir { dir, .. } if dir.as_str() == "a"),
    );
}

#[test]
fn a_damaged_registry_file_is_refused_and_nothing_is_done() {
    let f = registered_a();
    f.write(ORPHAN, b"orphan");
    let name = f.registry_files().remove(0);
    let path = f.at(&format!("{}/{name}", jdir()));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let journal = f.journal();
    assert!(!journal.is_ready(), "a damaged registry blocks commits");
    drop(journal);
    assert_refused_and_nothing_done(
        &f,
        |e| matches!(e, JournalError::BadRegistry { file, .. } if *file == name),
    );
    assert!(f.exists(ORPHAN));
}

#[test]
fn a_torn_registry_file_is_removed_and_a_gone_directory_is_skipped() {
    let f = registered_a();
    let torn = "00000000000000f0.dirs";
    let whole = registry::encode(&[p("gone")]);
    f.put_entry_bytes(torn, &whole[..whole.len() - 3]);
    f.put_entry_bytes("00000000000000f1.dirs", &registry::encode(&[p("gone/too")]));
    f.write(ORPHAN, b"orphan");
    let mut journal = f.journal();
    assert!(
        !journal.is_ready(),
        "a torn registry file waits for recovery"
    );
    let report = journal.recover().unwrap();
    assert_eq!(report.registry_discarded.len(), 1, "{report:?}");
    assert_eq!(report.registry_discarded[0].0, torn);
    assert!(!f.registry_files().contains(&torn.to_string()));
    assert!(!f.exists(ORPHAN));
    assert!(journal.is_ready());
}

/// The directories the one registry file names.
fn registered(f: &Fixture) -> Vec<String> {
    let files = f.registry_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(f.at(&format!("{}/{}", jdir(), files[0]))).unwrap();
    registry::decode(&bytes)
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn each_session_registers_anew_keeping_what_earlier_ones_registered() {
    let f = registered_a();
    let first = f.registry_files();
    // A later session (another process, as far as the journal can tell) trusts no registry
    // file it did not make durable itself: it registers `a` again, in a file that keeps every
    // directory registered so far, and removes the older file.
    let mut journal = f.journal();
    journal.commit(Update::write(p("a/x"), "newer")).unwrap();
    assert_ne!(f.registry_files(), first);
    assert_eq!(registered(&f), ["a"]);
    let second = f.registry_files();
    journal.commit(Update::write(p("a/x"), "newest")).unwrap();
    assert_eq!(f.registry_files(), second, "registered once per session");
    journal.commit(Update::write(p("b/y"), "bb")).unwrap();
    assert_eq!(registered(&f), ["a", "b"]);
    drop(journal);
    // Two processes at once on one root (each waiting for the other's lock), each updating a
    // file in a new directory: both directories end registered, no temp is left.
    let children: Vec<_> = ["d1/t", "d2/t"]
        .iter()
        .map(|target| {
            std::fs::create_dir_all(f.at(target).parent().unwrap()).unwrap();
            let source = f.tmp.path().join(target.replace('/', "-"));
            std::fs::write(&source, target.as_bytes()).unwrap();
            std::process::Command::new(env!("CARGO_BIN_EXE_crashsafe"))
                .args(["update", "--wait", "60"])
                .arg(&f.root)
                .arg(target)
                .arg("--from")
                .arg(&source)
                .output()
                .unwrap()
        })
        .collect();
    for out in children {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    assert_eq!(f.read("d1/t").unwrap(), b"d1/t");
    assert_eq!(f.read("d2/t").unwrap(), b"d2/t");
    assert_eq!(registered(&f), ["a", "b", "d1", "d2"]);
    assert!(f.temps().is_empty());
    let report = f.journal().recover().unwrap();
    assert!(report.orphans_removed.is_empty());
}

fn plain(target: &str, seed: u8, len: usize) -> TxnSpec {
    TxnSpec {
        updates: vec![UpdateSpec {
            target: p(target),
            new: Some((0..len).map(|i| seed.wrapping_add(i as u8)).collect()),
            via: Delivery::Bytes,
            increment: None,
        }],
        atomic: false,
    }
}

/// The harness catches a recovery that does not sweep: a temp written with an intent that
/// never became durable stays (`clean`), and the journal's own sweep leaves none.
#[test]
fn without_the_sweep_an_orphan_temp_stays() {
    let workload = Workload {
        dirs: vec![p("a")],
        files: vec![(p("a/x"), vec![1; 100])],
        txns: vec![plain("a/x", 2, 4097), plain("a/x", 3, 10)],
        sync: SyncSpec::PerFile,
        on_failure: OnFailure::Stop,
    };
    let posix = model_by_name("posix").unwrap();
    for known_bad in [Some(KnownBad::NoOrphanSweep), None] {
        let subject = JournalSubject {
            name: "plain-twice".into(),
            workload: workload.clone(),
            known_bad,
        };
        let report = explore(&subject, posix.as_ref(), &ExploreConfig::default());
        let clean = report.by_invariant.iter().any(|f| f.invariant == "clean");
        assert_eq!(clean, known_bad.is_some(), "{:?}", report.by_invariant);
        if known_bad.is_none() {
            assert_eq!(report.violation_count, 0, "{:?}", report.by_invariant);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The registry file's format (`registry::encode`, `registry::decode`). These were unit tests,
// which the mutation suite does not run: here they pin the decoder's rules for it too.

/// A registry file naming `body`'s path lines, with a matching header and checksum, built by
/// hand (as `encode` would, but for lines `encode` refuses to write).
fn hand_made_registry(body: &[u8]) -> Vec<u8> {
    const MAGIC: &str = "crashsafe-dirs 1 ";
    let rest = 1 + body.len() + "crc32c 00000000\n".len();
    let total = (1..=4)
        .map(|digits| MAGIC.len() + digits + rest)
        .find(|total| total.to_string().len() + MAGIC.len() + rest == *total)
        .expect("a small file's length has at most four digits");
    let mut bytes = format!("{MAGIC}{total}\n").into_bytes();
    bytes.extend_from_slice(body);
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(format!("crc32c {crc:08x}\n").as_bytes());
    assert_eq!(bytes.len(), total);
    bytes
}

#[test]
fn a_registry_file_decodes_to_what_it_names() {
    let dirs = vec![RelPath::root(), p("a/b c"), p("x\ny")];
    let bytes = registry::encode(&dirs);
    assert_eq!(registry::decode(&bytes).unwrap(), dirs);
    assert_eq!(
        registry::decode(&registry::encode(&[])).unwrap(),
        Vec::<RelPath>::new()
    );
    assert_eq!(
        registry::decode(&hand_made_registry(b"1 a\n")).unwrap(),
        [p("a")]
    );
}

#[test]
fn every_prefix_of_a_registry_file_and_a_zeroed_one_are_torn() {
    let bytes = registry::encode(&[p("a")]);
    for n in 0..bytes.len() {
        assert!(
            matches!(registry::decode(&bytes[..n]), Err(RegistryError::Torn(_))),
            "prefix of {n} bytes: {:?}",
            registry::decode(&bytes[..n])
        );
    }
    assert!(matches!(
        registry::decode(&vec![0; bytes.len()]),
        Err(RegistryError::Torn(_))
    ));
}

#[test]
fn a_registry_file_changed_after_it_was_whole_is_bad_and_says_why() {
    let bytes = registry::encode(&[p("a")]);
    let bad = |bytes: &[u8]| match registry::decode(bytes) {
        Err(RegistryError::Bad(why)) => why,
        other => panic!("expected Bad, got {other:?}"),
    };
    let mut flipped = bytes.clone();
    flipped[bytes.len() - 20] ^= 1;
    assert!(bad(&flipped).contains("checksum"), "{}", bad(&flipped));
    let mut longer = bytes.clone();
    longer.push(b'x');
    let why = bad(&longer);
    assert!(why.contains("where the header says"), "{why}");
    let why = bad(b"hello world\n");
    assert!(why.contains("bad header"), "{why}");
    let why = bad(b"hello world");
    assert!(why.contains("no header"), "{why}");
    let why = bad(&hand_made_registry(b"2 ..\n"));
    assert!(why.contains(".."), "an unsafe path: {why}");
}

#[test]
fn a_path_line_shorter_than_its_length_is_bad() {
    let why = match registry::decode(&hand_made_registry(b"2 a\n")) {
        Err(RegistryError::Bad(why)) => why,
        other => panic!("expected Bad, got {other:?}"),
    };
    assert!(why.contains("shorter than its length"), "{why}");
}

/// A registry naming enough directories to fill three sectors and part of a fourth.
fn large_registry() -> Vec<u8> {
    let dirs: Vec<RelPath> = (0..200).map(|i| p(&format!("dir{i:04}"))).collect();
    let bytes = registry::encode(&dirs);
    assert!(
        bytes.len() > 3 * 512 + 32 && bytes.len() % 512 != 0,
        "{}",
        bytes.len()
    );
    bytes
}

#[test]
fn a_registry_file_with_a_zeroed_sector_is_torn_but_a_short_zero_tail_is_not_evidence() {
    let torn = |bytes: &[u8]| matches!(registry::decode(bytes), Err(RegistryError::Torn(_)));
    // A whole sector after the first, zeroed: a write that did not fully arrive.
    let mut second = large_registry();
    second[512..1024].fill(0);
    assert!(torn(&second));
    // The last, partial sector zeroed, when it is at least 32 bytes long.
    let bytes = large_registry();
    let last = bytes.len() / 512 * 512;
    let mut tail = bytes.clone();
    tail[last..].fill(0);
    assert!(bytes.len() - last >= 32 && torn(&tail));
    // A zeroed run inside a sector, or a zero tail shorter than 32 bytes, is damage, not a tear.
    let mut run = bytes.clone();
    run[600..700].fill(0);
    assert!(!torn(&run));
    let short: Vec<u8> = {
        let mut b = hand_made_registry(b"1 a\n");
        let n = b.len();
        b[n - 20..].fill(0);
        b
    };
    assert!(
        !torn(&short),
        "a file under one sector has no sector to judge"
    );
    // The first sector zeroed: the file's first block never arrived. It used to be refused as
    // "bad header", which would have blocked the journal after a crash tore a registry of
    // more than one block.
    let mut first = bytes.clone();
    first[..512].fill(0);
    assert!(torn(&first), "{:?}", registry::decode(&first));
}

/// The size cap: a registry file of exactly `MAX_REGISTRY_LEN` bytes is read (and judged by its
/// content), one byte more is refused as over the cap without being decoded.
#[test]
fn a_registry_file_over_the_cap_is_refused_as_such() {
    for (len, over) in [
        (registry::MAX_REGISTRY_LEN, false),
        (registry::MAX_REGISTRY_LEN + 1, true),
    ] {
        let f = registered_a();
        let name = f.registry_files().remove(0);
        std::fs::write(f.at(&format!("{}/{name}", jdir())), vec![b'x'; len]).unwrap();
        let err = f.journal().recover().unwrap_err();
        let JournalError::BadRegistry { reason, .. } = &err else {
            panic!("expected BadRegistry, got {err:?}");
        };
        assert_eq!(reason.contains("bytes"), over, "{len} bytes: {reason}");
        assert_eq!(reason.contains("no header"), !over, "{len} bytes: {reason}");
    }
}
