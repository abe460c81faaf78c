//! A full disk and a failed fsync, injected by the simulated filesystem: each gives a typed
//! error, nothing is acknowledged, nothing is lost, and after a failed fsync the journal refuses
//! to go on until it is reopened and recovered (on Linux a retried fsync can succeed falsely).

use crashsafe::fs::{FsErrorKind, Op};
use crashsafe::journal::{Journal, JournalError, Update};
use crashsafe::path::RelPath;
use crashsafe::sim::{Fault, FaultKind, Image, Node, SimFs};

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("plain")
}

fn setup() -> SimFs {
    let mut image = Image::new();
    image.put_dir(&p(".crashsafe/journal"));
    image.put_file(&p("a.txt"), b"old");
    SimFs::from_image(&image)
}

/// The index of the first call named `op` when committing one update on a fresh setup.
fn call_index(op: Op) -> usize {
    let fs = setup();
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    journal.commit(Update::write(p("a.txt"), "new")).unwrap();
    fs.calls()
        .iter()
        .position(|c| c.op == op)
        .expect("the commit makes that call")
}

fn content(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
    match fs.image().get(&p(path)) {
        Some(Node::File(data)) => Some(data.as_ref().clone()),
        _ => None,
    }
}

#[test]
fn a_failed_fsync_poisons_the_journal_until_reopened_and_recovered() {
    let fs = setup();
    fs.set_fault(Some(Fault {
        at: call_index(Op::Fsync),
        kind: FaultKind::Eio,
    }));
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    let err = journal
        .commit(Update::write(p("a.txt"), "new"))
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::Fs(e) if e.kind == FsErrorKind::Io && e.op == Op::Fsync),
        "{err:?}"
    );
    let again = journal
        .commit(Update::write(p("a.txt"), "newer"))
        .unwrap_err();
    assert!(matches!(again, JournalError::Poisoned(_)), "{again:?}");
    assert!(matches!(journal.recover(), Err(JournalError::Poisoned(_))));
    assert_eq!(
        content(&fs, "a.txt").as_deref(),
        Some(&b"old"[..]),
        "nothing was switched"
    );
    drop(journal);
    let mut reopened = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    reopened.recover().unwrap();
    reopened.commit(Update::write(p("a.txt"), "newer")).unwrap();
    assert_eq!(content(&fs, "a.txt").as_deref(), Some(&b"newer"[..]));
}

#[test]
fn a_full_disk_is_a_typed_error_and_recovery_cleans_up() {
    let fs = setup();
    let writes = {
        let probe = setup();
        let mut journal = Journal::open(&probe, p(".crashsafe/journal")).unwrap();
        journal.commit(Update::write(p("a.txt"), "new")).unwrap();
        probe
            .calls()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.op == Op::WriteAt)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    // The last write is the temp file's (after the registry file's and the intent's): the
    // intent is written, the temp half there.
    fs.set_fault(Some(Fault {
        at: *writes.last().unwrap(),
        kind: FaultKind::NoSpace,
    }));
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    let err = journal
        .commit(Update::write(p("a.txt"), "new"))
        .unwrap_err();
    assert!(crashsafe::journal::is_no_space(&err), "{err:?}");
    assert!(matches!(
        journal.commit(Update::write(p("a.txt"), "x")),
        Err(JournalError::NeedsRecovery)
    ));
    let report = journal.recover().unwrap();
    assert_eq!(report.outcomes.len(), 1);
    assert!(!report.outcomes[0].done);
    assert_eq!(content(&fs, "a.txt").as_deref(), Some(&b"old"[..]));
    let names: Vec<_> = fs
        .image()
        .walk()
        .into_keys()
        .map(|k| k.to_string())
        .filter(|k| !is_floor(k))
        .collect();
    assert_eq!(
        names,
        [".crashsafe", ".crashsafe/journal", "a.txt"],
        "temp and entry removed"
    );
    journal.commit(Update::write(p("a.txt"), "new")).unwrap();
}

/// Whether a path names a journal floor or registry file, which the journal keeps on purpose
/// (see `src/journal/recover.rs`, "The floor", and `src/journal/registry.rs`).
fn is_floor(path: &str) -> bool {
    use crashsafe::journal::recover::{parse_name, EntryFile};
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        parse_name(name),
        Some((_, EntryFile::Floor | EntryFile::Dirs))
    )
}
