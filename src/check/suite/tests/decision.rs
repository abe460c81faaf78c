//! The atomic batch's decision, read from the journal directory alone: the promise that lets
//! the clean parts of `crate::sim::cover` key an atomic batch update by update
//! (`Workload::factoring`).

use super::*;
use crate::check::workload::journal_dir;
use crate::journal::recover::{inspect, TargetHolds};
use std::sync::Mutex;

/// What an atomic batch's decision looked like in the crash states recovery started from,
/// where its intent was there without its commit record: every state in which some of its
/// targets were switched and others not (a state whose decision, roll forward or back, neither
/// the journal directory nor a single update's paths tell), and how many targets were switched
/// in the others (so that a test shows it met both sides).
#[derive(Default)]
pub(super) struct Decisions {
    split: BTreeSet<String>,
    unsplit: BTreeSet<usize>,
}

impl Decisions {
    /// Notes the state `fs` holds.
    pub(super) fn note(&mut self, fs: &SimFs) {
        let Ok(inspection) = inspect(fs, &journal_dir()) else {
            return;
        };
        for pending in inspection.pending {
            let atomic = matches!(
                pending.entry.kind,
                crate::format::EntryKind::Intent { atomic: true }
            );
            if !atomic || pending.committed_record {
                continue;
            }
            // An update whose new content is its old cannot show a switch: the batch is a
            // single factor in the factoring then.
            let switched: Vec<bool> = (pending.entry.updates.iter().zip(&pending.updates))
                .filter(|(u, _)| u.new != u.old)
                .map(|(_, seen)| seen.target != TargetHolds::Old)
                .collect();
            let count = switched.iter().filter(|&&s| s).count();
            if count == 0 || count == switched.len() {
                self.unsplit.insert(count);
            } else {
                self.split
                    .insert(format!("{}: switched {switched:?}", pending.name));
            }
        }
    }
}

/// Regression: recovery used to roll an atomic batch forward on a commit record that only the
/// live view showed (after a process crash, or a failed fsync of the record), renaming temps
/// over targets before the record was durable. A power loss then left the intent without its
/// record and some targets switched: a state the next recovery decided from the targets it
/// found switched, which no single update's paths and not the journal directory tell. That is
/// harmless for the journal (it rolls forward all the same), but it broke what the explorer's
/// clean parts rely on to key an atomic batch update by update. Recovery now makes the record
/// durable with operations of its own first, so in every state explored, under every model,
/// with process crashes at every point, crashes nested two deep and errors injected (with
/// per-file barriers or syncfs, and with a reopening and a recovery in the same boot after a
/// failed barrier; a later transaction giving a target its old content back), an intent
/// without its record has every target switched (a retired batch's entry coming back) or
/// none.
#[test]
fn an_atomic_batchs_decision_is_told_by_its_journal_directory_in_every_state_explored() {
    let config = small_batch_config();
    // Per-file barriers and syncfs; and a failed barrier followed by a reopening and a
    // recovery in the same boot (the live view holding what the failure dropped).
    let variants = [
        (SyncSpec::PerFile, false),
        (SyncSpec::Syncfs, false),
        (SyncSpec::PerFile, true),
    ];
    for (sync, reopen) in variants {
        for n in [2, 4] {
            // After the batch, its first target gets its old content back: were the batch's
            // intent to come back after that, the target would read as not switched.
            let restore = single(write("a/x.txt", 1, 5000));
            let mut workload = base(vec![mixed_batch(n, true, 7), restore], sync);
            if reopen {
                workload = reopening(workload);
            }
            let inner = JournalSubject {
                name: format!("atomic-{n}-{sync:?}-reopen-{reopen}"),
                workload,
                known_bad: None,
            };
            for model in crate::sim::all_models() {
                let witness = Probe {
                    decisions: Some(Mutex::default()),
                    ..Probe::with_factoring(inner.clone(), Declares::Nothing, None)
                };
                let report = crate::sim::explore(&witness, model.as_ref(), &config);
                assert_eq!(report.violation_count, 0);
                let decisions = witness.decisions.unwrap().into_inner().unwrap();
                let at = format!("{} under {}", inner.name, model.name());
                assert!(decisions.split.is_empty(), "{at}: {:?}", decisions.split);
                // Both sides met: before the commit point, and a retired batch's intent back.
                assert_eq!(decisions.unsplit, BTreeSet::from([0, n]), "{at}");
            }
        }
    }
}

/// An update that may give its target a content it held before cannot show, from its target,
/// which side of the commit point its batch is on: its atomic batch is one factor (a
/// creation, a stream, or a new content is still one factor per update).
#[test]
fn an_atomic_batch_with_an_update_that_may_keep_its_content_is_one_factor() {
    use crate::check::workload::AtomicBatch;
    let factors = |updates: Vec<UpdateSpec>| {
        let txn = TxnSpec {
            updates,
            atomic: true,
        };
        let w = base(vec![txn], SyncSpec::PerFile);
        w.factoring(AtomicBatch::FactorPerUpdate).map(|f| f.len())
    };
    let fresh = || write("c/z.txt", 9, 10);
    assert_eq!(factors(vec![write("a/x.txt", 5, 10), fresh()]), Some(2));
    assert_eq!(factors(vec![write("a/x.txt", 1, 5000), fresh()]), Some(1));
    assert_eq!(factors(vec![delete("a/new.txt"), fresh()]), Some(1));
    assert_eq!(factors(vec![write("a/new.txt", 1, 10), fresh()]), Some(2));
    let streamed = delivered(write("a/x.txt", 1, 5000), Delivery::Stream);
    assert_eq!(factors(vec![streamed, fresh()]), Some(2));
    // An earlier transaction's content counts, whether it committed or not: with it the batch
    // is one factor (which the earlier update, on the same target, joins); without, two.
    let batch = |seed: u8| TxnSpec {
        updates: vec![write("a/x.txt", seed, 10), fresh()],
        atomic: true,
    };
    let after = |seed: u8| {
        let w = base(
            vec![single(write("a/x.txt", 5, 10)), batch(seed)],
            SyncSpec::PerFile,
        );
        w.factoring(AtomicBatch::FactorPerUpdate).map(|f| f.len())
    };
    assert_eq!(after(5), Some(1));
    assert_eq!(after(6), Some(2));
}
