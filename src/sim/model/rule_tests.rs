//! The models' rules pinned one by one on hand-built traces: the exact resolution of every
//! operation (`tests.rs` shows the rules through the crash images at the end of a trace; these
//! pin the crash point from which each rule applies, which the images at the end cannot show),
//! and the exact variants of a write.
//!
//! `cargo mutants -f src/sim/model/posix.rs -f src/sim/model/ext4.rs -f src/sim/model.rs` with
//! these tests misses only mutants no trace can tell apart from the original:
//!
//! - `Ext4Ordered::resolve`, `res[j].at < earliest` as `<=`: an equal point changes nothing;
//! - `Ext4Ordered::resolve`, the safe rename's `res[w].at > res[j].at` as `>=`: a write resolved
//!   at the very point its rename became durable was resolved by the same barrier (a syncfs,
//!   durable like the rename), or settled unseen there (its file's only name durably gone, so
//!   no image shows it either way);
//! - `write_variants`, `mask & (1 << b) != 0` as `== 0`: each mask then lists the complement
//!   of its blocks, and the complements of every proper non-empty subset are the same family;
//! - `Model::close`'s default body replaced by `()`: it is `()`.

use super::*;
use crate::fs::FileMode;
use crate::path::RelPath;
use crate::sim::trace::Ino;
use crate::sim::SyncCall;
use std::sync::Arc;

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// Directories of the hand-built traces: `d` is inode 1, `e` inode 2.
const D: Ino = 1;
const E: Ino = 2;

fn dir_path(dir: Ino) -> RelPath {
    p(if dir == D { "d" } else { "e" })
}

fn create(name: &str, ino: Ino, dir: Ino) -> TraceOp {
    TraceOp::Create {
        path: dir_path(dir).join(name).unwrap(),
        ino,
        dir,
        mode: FileMode::FILE_DEFAULT,
    }
}

/// A write of `len` bytes at `offset` to inode `ino`.
fn write_of(ino: Ino, offset: u64, len: u64) -> TraceOp {
    TraceOp::Write {
        ino,
        path: p("d/f"),
        offset,
        len,
        data: Arc::new(vec![b'x'; len as usize]),
    }
}

fn write(ino: Ino) -> TraceOp {
    write_of(ino, 0, 2)
}

fn rename_in(dir: Ino, ino: Ino) -> TraceOp {
    TraceOp::Rename {
        from: dir_path(dir).join("t").unwrap(),
        to: dir_path(dir).join("f").unwrap(),
        ino,
        from_dir: dir,
        to_dir: dir,
        no_replace: false,
    }
}

fn fsync(ino: Ino) -> TraceOp {
    TraceOp::Fsync {
        ino,
        path: p("d/f"),
    }
}

fn fsync_dir(dir: Ino) -> TraceOp {
    TraceOp::FsyncDir {
        ino: dir,
        path: dir_path(dir),
    }
}

fn failed(call: SyncCall, ino: Ino) -> TraceOp {
    TraceOp::FailedFsync {
        call,
        path: p("d"),
        ino,
    }
}

const PENDING: Resolution = Resolution::PENDING;
fn durable(at: usize) -> Resolution {
    Resolution::durable(at)
}
fn dropped(at: usize) -> Resolution {
    Resolution::dropped(at)
}

#[test]
fn a_sync_call_is_resolved_right_after_itself() {
    let trace = vec![create("a", 10, D), fsync_dir(D), write(10), fsync(10)];
    for model in all_models() {
        let res = model.resolve(&trace);
        assert_eq!(res[1], durable(2), "{}", model.name());
        assert_eq!(res[3], durable(4), "{}", model.name());
    }
}

#[test]
fn posix_fsync_of_a_directory_covers_a_rename_within_it() {
    let trace = vec![create("t", 10, D), rename_in(D, 10), fsync_dir(D)];
    assert_eq!(
        Posix.resolve(&trace),
        vec![durable(3), durable(3), durable(3)]
    );
}

#[test]
fn posix_syncfs_covers_every_pending_operation() {
    let trace = vec![
        create("a", 10, D),
        write(10),
        create("b", 11, E),
        TraceOp::SetMode {
            ino: 11,
            path: p("e/b"),
            mode: FileMode::new(0o600).unwrap(),
        },
        TraceOp::Syncfs,
    ];
    assert_eq!(Posix.resolve(&trace), vec![durable(5); 5]);
}

/// ext4: a durable directory operation makes every earlier one durable from the same crash
/// point on, also one its own directory's fsync would cover only later.
#[test]
fn ext4_brings_earlier_metadata_to_the_earliest_later_durable_point() {
    let trace = vec![
        create("a", 10, D),
        create("b", 11, E),
        fsync_dir(E),
        fsync_dir(D),
    ];
    assert_eq!(
        Posix.resolve(&trace),
        vec![durable(4), durable(3), durable(3), durable(4)]
    );
    assert_eq!(
        Ext4Ordered.resolve(&trace),
        vec![durable(3), durable(3), durable(3), durable(4)]
    );
}

/// ext4: a metadata operation dropped by a failed fsync of its directory stays dropped when no
/// later durable one carries it, and it does not make an earlier pending one durable.
#[test]
fn ext4_a_dropped_metadata_operation_carries_nothing() {
    let trace = vec![
        create("c", 12, E),
        create("a", 10, D),
        failed(SyncCall::FsyncDir, D),
        create("b", 11, E),
    ];
    assert_eq!(
        Ext4Ordered.resolve(&trace),
        vec![PENDING, dropped(3), durable(3), PENDING]
    );
}

/// ext4: the journal commits in order, so a directory fsync that makes a later create durable
/// made the earlier one durable too, even if the earlier one's own directory fsync fails
/// afterwards: that failure has nothing left to drop.
///
/// The bug this pins: the ordering rule lowered only the point of an operation already durable
/// or still pending, so a create made durable at crash point 3 by the fsync of `e` and then
/// "dropped" at 4 by a failed fsync of `d` was lost in every crash state from 4 on, a state
/// ext4 cannot reach (and one that would blame a correct program).
#[test]
fn ext4_a_failed_sync_cannot_drop_what_the_journal_already_committed() {
    let trace = vec![
        create("a", 10, D),
        create("b", 11, E),
        fsync_dir(E),
        failed(SyncCall::FsyncDir, D),
    ];
    assert_eq!(Posix.resolve(&trace)[0], dropped(4));
    assert_eq!(Ext4Ordered.resolve(&trace)[0], durable(3));
}

/// ext4's safe rename: a durable rename makes the earlier writes to its inode durable from the
/// rename's point on (not a write to another inode, not a later write), and leaves a write
/// already durable earlier as it was.
#[test]
fn ext4_a_durable_rename_brings_the_earlier_writes_to_its_inode() {
    let trace = vec![
        create("t", 10, D),
        write(10),
        write(11),
        write(10),
        fsync(10),
        write(10),
        rename_in(D, 10),
        write(10),
        fsync_dir(D),
    ];
    let posix = Posix.resolve(&trace);
    assert_eq!(posix[1], durable(5));
    assert_eq!(posix[5], PENDING);
    let ext4 = Ext4Ordered.resolve(&trace);
    assert_eq!(ext4[1], durable(5), "already durable before the rename");
    assert_eq!(ext4[2], PENDING, "another inode");
    assert_eq!(ext4[3], durable(5));
    assert_eq!(ext4[5], durable(9), "brought by the rename");
    assert_eq!(ext4[6], durable(9));
    assert_eq!(ext4[7], PENDING, "issued after the rename");
}

/// ext4's safe rename lowers the point of a write made durable later than its rename.
#[test]
fn ext4_a_rename_durable_first_makes_its_write_durable_first() {
    let trace = vec![
        create("t", 10, D),
        write(10),
        rename_in(D, 10),
        fsync_dir(D),
        fsync(10),
    ];
    assert_eq!(Posix.resolve(&trace)[1], durable(5));
    assert_eq!(Ext4Ordered.resolve(&trace)[1], durable(4));
}

/// A rename dropped by a failed directory fsync brings nothing: its file's write stays pending.
#[test]
fn ext4_a_dropped_rename_brings_no_write() {
    let trace = vec![
        create("t", 10, D),
        write(10),
        rename_in(D, 10),
        failed(SyncCall::FsyncDir, D),
    ];
    let res = Ext4Ordered.resolve(&trace);
    assert_eq!(res[2], dropped(4));
    assert_eq!(res[1], PENDING);
}

/// A write whose fsync failed after its rename was durable was on disk with the rename: the
/// failure cannot take it back. (The same bug as the create above, for the safe-rename rule.)
#[test]
fn ext4_a_failed_fsync_after_a_durable_rename_leaves_the_write_durable() {
    let trace = vec![
        create("t", 10, D),
        write(10),
        rename_in(D, 10),
        fsync_dir(D),
        failed(SyncCall::Fsync, 10),
    ];
    assert_eq!(Posix.resolve(&trace)[1], dropped(5));
    assert_eq!(Ext4Ordered.resolve(&trace)[1], durable(4));
}

fn write_at(offset: u64, len: u64) -> TraceOp {
    write_of(10, offset, len)
}

fn variants(zeros: bool, offset: u64, len: u64, min_len: u64) -> Vec<Variant> {
    let cx = OpContext {
        block_size: 4,
        min_len: Some(min_len),
    };
    write_variants(&write_at(offset, len), &cx, zeros)
}

fn torn(sets: &[&[u32]]) -> Vec<Variant> {
    sets.iter().map(|s| Variant::Torn(s.to_vec())).collect()
}

#[test]
fn only_a_write_past_the_durable_size_may_persist_as_zeros() {
    use Variant::*;
    assert_eq!(
        variants(true, 4, 4, 8),
        vec![Full, Lost],
        "ends at the size"
    );
    assert_eq!(variants(true, 4, 4, 7), vec![Full, Lost, Zeros]);
    assert_eq!(variants(true, 8, 0, 8), vec![Full, Lost], "empty");
    assert_eq!(
        variants(true, 9, 0, 8),
        vec![Full, Lost],
        "empty, past the size"
    );
    assert_eq!(variants(false, 4, 4, 7), vec![Full, Lost], "ext4-ordered");
    let not_a_write = create("a", 10, D);
    let cx = OpContext {
        block_size: 4,
        min_len: None,
    };
    assert_eq!(write_variants(&not_a_write, &cx, true), vec![Full, Lost]);
}

#[test]
fn a_write_over_up_to_four_blocks_tears_into_every_proper_subset() {
    use Variant::*;
    let mut two = vec![Full, Lost];
    two.extend(torn(&[&[0], &[1]]));
    assert_eq!(variants(false, 2, 4, 8), two);
    let mut three = vec![Full, Lost];
    three.extend(torn(&[&[0], &[0, 1], &[0, 2], &[1], &[1, 2], &[2]]));
    assert_eq!(variants(false, 0, 12, 12), three);
    assert_eq!(variants(false, 0, 16, 16).len(), 2 + 14);
}

#[test]
fn a_write_over_more_blocks_tears_into_prefixes_suffixes_and_all_but_one() {
    use Variant::*;
    let mut five = vec![Full, Lost];
    five.extend(torn(&[
        &[0],
        &[0, 1],
        &[0, 1, 2],
        &[0, 1, 2, 3],
        &[0, 1, 2, 4],
        &[0, 1, 3, 4],
        &[0, 2, 3, 4],
        &[1, 2, 3, 4],
        &[2, 3, 4],
        &[3, 4],
        &[4],
    ]));
    assert_eq!(variants(false, 0, 20, 20), five);
}

#[test]
fn a_pending_operation_finds_its_variants_by_value() {
    let op = write_at(0, 8);
    let pending = PendingOp {
        index: 0,
        op: &op,
        variants: variants(true, 0, 8, 0),
    };
    assert_eq!(pending.position(&Variant::Full), Some(0));
    assert_eq!(pending.position(&Variant::Lost), Some(1));
    assert_eq!(pending.position(&Variant::Zeros), Some(2));
    assert_eq!(pending.position(&Variant::Torn(vec![1])), Some(4));
    assert_eq!(pending.position(&Variant::Torn(vec![2])), None);
    assert!(pending.persists(0) && !pending.persists(1) && pending.persists(2));
}

/// Every choice of variants `close` leaves as it is.
fn close_is_identity(model: &dyn Model, trace: &[TraceOp]) -> bool {
    let ops: Vec<PendingOp> = trace
        .iter()
        .enumerate()
        .map(|(index, op)| PendingOp {
            index,
            op,
            variants: vec![Variant::Full, Variant::Lost],
        })
        .collect();
    (0u32..1 << ops.len()).all(|bits| {
        let choice: Vec<u16> = (0..ops.len()).map(|i| (bits >> i & 1) as u16).collect();
        let mut closed = choice.clone();
        model.close(&ops, &mut closed);
        closed == choice
    })
}

/// A model that claims independent operations lets the explorer check factors instead of their
/// product; the claim holds only if `close` allows every combination. Posix and prefix claim it
/// (the reduction is used), ext4-ordered must not (its ordering rules remove combinations).
#[test]
fn a_model_claims_independent_operations_exactly_when_its_close_allows_every_combination() {
    let trace = vec![
        create("t", 10, D),
        write(10),
        rename_in(D, 10),
        create("b", 11, E),
    ];
    assert!(Posix.independent_ops());
    assert!(close_is_identity(&Posix, &trace));
    assert!(Prefix.independent_ops());
    assert!(close_is_identity(&Prefix, &trace));
    assert!(!Ext4Ordered.independent_ops());
    assert!(!close_is_identity(&Ext4Ordered, &trace));
}

/// The names the CLI and replay tokens use, and one line each that says what the model keeps.
#[test]
fn each_model_says_what_it_keeps() {
    let lines: Vec<(&str, &str)> = all_models()
        .iter()
        .map(|m| (m.name(), m.summary()))
        .collect();
    assert!(lines[0].1.contains("in order"), "{lines:?}");
    assert!(lines[1].1.contains("data=ordered"), "{lines:?}");
    assert!(lines[2].1.contains("fsync"), "{lines:?}");
}

/// The trait's contract: a pending operation's variants start with [`Variant::Full`] (the
/// explorer's all-persisted base is position 0), under every model, also under prefix, whose
/// operations are never pending.
#[test]
fn every_model_lists_the_full_variant_first() {
    let cx = OpContext {
        block_size: 4,
        min_len: Some(0),
    };
    for model in all_models() {
        for op in [write_at(0, 8), create("a", 10, D), fsync_dir(D)] {
            let variants = model.variants(&op, &cx);
            assert_eq!(variants.first(), Some(&Variant::Full), "{}", model.name());
        }
    }
}
