//! Transactions without an increment or a commit point make their intent durable together with
//! their data, their temps in the journal directory (see `src/journal/commit.rs`, `Shape`):
//! explored under every persistence model, with crashes inside recovery to depth 2 and injected
//! I/O errors, including the sequences where an earlier transaction's entry, its removal not yet
//! durable, could come back after a later one changed its target.

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
fn a_replace_a_creation_and_a_stream_without_increments_are_clean() {
    let txns = vec![
        single(write("a/x.txt", bytes(3, 4096), Delivery::Bytes)),
        single(write("c/new.txt", bytes(4, 10), Delivery::Bytes)),
        single(write("a/b/y.txt", bytes(5, 8193), Delivery::Stream)),
    ];
    assert_clean_everywhere(
        "merged-three",
        workload(txns, SyncSpec::PerFile, OnFailure::Stop),
    );
}

/// An increment's transaction, then one that writes the target's old content back without an
/// increment: the first entry, back after a power loss, would judge its update undone and remove
/// the acknowledged increment, unless the second transaction's barrier made its removal durable.
#[test]
fn an_increment_s_entry_cannot_come_back_after_its_target_is_restored() {
    let txns = vec![
        single(with_inc(
            write("a/x.txt", bytes(6, 4097), Delivery::Bytes),
            "inc/x.1",
            7,
        )),
        single(write("a/x.txt", bytes(1, 4097), Delivery::Bytes)),
        single(write("a/x.txt", bytes(8, 20), Delivery::Bytes)),
    ];
    assert_clean_everywhere(
        "increment-then-restore",
        workload(txns, SyncSpec::PerFile, OnFailure::ReopenAndRecover),
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
        "merged-batch",
        workload(txns.clone(), SyncSpec::PerFile, OnFailure::Stop),
    );
    assert_clean_everywhere(
        "merged-batch-syncfs",
        workload(txns, SyncSpec::Syncfs, OnFailure::ReopenAndRecover),
    );
}
