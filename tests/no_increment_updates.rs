//! Updates without an increment, which no workload of the built-in suite commits (each of its
//! updates carries one): replaces, a creation, a stream, a non-atomic batch, with fsync per file
//! and with `syncfs`, explored under every persistence model with crashes inside recovery to
//! depth 2 and injected I/O errors. Among them the sequence a protocol that leaves the journal
//! directory out of a transaction's first barrier gets wrong (issue #12, "Speed"): an
//! increment's transaction, then one writing the target's old content back; if the first entry's
//! removal is not durable before the second switches, that entry comes back after a power loss,
//! judges its update undone and removes the acknowledged increment.

use crashsafe::check::known_bad::KnownBad;
use crashsafe::check::workload::{
    Delivery, JournalSubject, OnFailure, SyncSpec, TxnSpec, UpdateSpec, Workload,
};
use crashsafe::path::RelPath;
use crashsafe::sim::{all_models, explore, ExploreConfig};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn write(target: &str, content: Vec<u8>, via: Delivery) -> UpdateSpec {
    UpdateSpec {
        target: p(target),
        new: Some(content),
        via,
        increment: None,
    }
}

fn single(u: UpdateSpec) -> TxnSpec {
    TxnSpec {
        updates: vec![u],
        atomic: false,
    }
}

fn with_inc(mut u: UpdateSpec, inc: &str, seed: u8) -> UpdateSpec {
    u.increment = Some((p(inc), bytes(seed, 100)));
    u
}

fn workload(txns: Vec<TxnSpec>, sync: SyncSpec, on_failure: OnFailure) -> Workload {
    Workload {
        dirs: vec![p("a/b"), p("c"), p("inc")],
        files: vec![
            (p("a/x.txt"), bytes(1, 4097)),
            (p("a/b/y.txt"), bytes(2, 10)),
        ],
        txns,
        sync,
        on_failure,
    }
}

fn assert_clean_everywhere(name: &str, workload: Workload) {
    let subject = JournalSubject {
        name: name.to_owned(),
        workload,
        known_bad: None,
    };
    let config = ExploreConfig {
        inject_errors: true,
        ..ExploreConfig::default()
    };
    for model in all_models() {
        let report = explore(&subject, model.as_ref(), &config);
        assert!(report.crash_states > 0, "{name} explored no crash state");
        if let Some(c) = report.violations.first() {
            panic!(
                "{name} under {}: {} violation(s); the smallest:\n{}",
                model.name(),
                report.violation_count,
                c.description
            );
        }
    }
}

#[test]
fn replaces_a_creation_and_a_stream_without_increments_are_clean() {
    let txns = vec![
        single(write("a/x.txt", bytes(3, 4096), Delivery::Bytes)),
        single(write("c/new.txt", bytes(4, 10), Delivery::Bytes)),
        single(write("a/b/y.txt", bytes(5, 8193), Delivery::Stream)),
    ];
    assert_clean_everywhere(
        "no-increment-three",
        workload(txns, SyncSpec::PerFile, OnFailure::Stop),
    );
}

/// An increment's transaction, then one that writes the target's old content back without an
/// increment (see the module doc).
fn increment_then_restore() -> Vec<TxnSpec> {
    vec![
        single(with_inc(
            write("a/x.txt", bytes(6, 4097), Delivery::Bytes),
            "inc/x.1",
            7,
        )),
        single(write("a/x.txt", bytes(1, 4097), Delivery::Bytes)),
        single(write("a/x.txt", bytes(8, 20), Delivery::Bytes)),
    ]
}

#[test]
fn an_increment_s_entry_cannot_come_back_after_its_target_is_restored() {
    assert_clean_everywhere(
        "increment-then-restore",
        workload(
            increment_then_restore(),
            SyncSpec::PerFile,
            OnFailure::ReopenAndRecover,
        ),
    );
}

/// The sequence can fail: the known-bad protocol that leaves the journal directory out of the
/// intent's barrier breaks `history` on it.
#[test]
fn the_sequence_catches_a_protocol_leaving_the_journal_directory_out_of_the_intent_s_barrier() {
    let subject = JournalSubject {
        name: "increment-then-restore+no-journal-dir-fsync".to_owned(),
        workload: workload(increment_then_restore(), SyncSpec::PerFile, OnFailure::Stop),
        known_bad: Some(KnownBad::NoJournalDirFsync),
    };
    let posix = crashsafe::sim::model_by_name("posix").expect("posix exists");
    let report = explore(&subject, posix.as_ref(), &ExploreConfig::default());
    assert!(
        report.by_invariant.iter().any(|f| f.invariant == "history"),
        "no history violation: {:?}",
        report.by_invariant
    );
}

#[test]
fn a_batch_without_increments_and_syncfs_are_clean() {
    let batch = TxnSpec {
        updates: vec![
            write("a/x.txt", bytes(9, 4097), Delivery::Bytes),
            write("c/z.txt", bytes(10, 10), Delivery::HostFile),
            UpdateSpec {
                target: p("a/b/y.txt"),
                new: None,
                via: Delivery::Bytes,
                increment: None,
            },
        ],
        atomic: false,
    };
    let txns = vec![
        batch,
        single(write("a/x.txt", bytes(1, 4097), Delivery::Bytes)),
    ];
    assert_clean_everywhere(
        "no-increment-batch",
        workload(txns.clone(), SyncSpec::PerFile, OnFailure::Stop),
    );
    assert_clean_everywhere(
        "no-increment-batch-syncfs",
        workload(txns, SyncSpec::Syncfs, OnFailure::ReopenAndRecover),
    );
}
