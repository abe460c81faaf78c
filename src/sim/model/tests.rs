//! The models' rules, each shown on a small trace.

use super::*;
use crate::fs::Fs;
use crate::path::RelPath;
use crate::sim::{states_at, Bounds, Image, Node, SimFs, SyncCall};
use std::collections::BTreeSet;
use std::sync::Arc;

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// The contents of `path` in every state `model` allows at the end of `fs`'s trace.
fn outcomes(model: &dyn Model, base: &Image, fs: &SimFs, path: &str) -> BTreeSet<String> {
    let trace = fs.trace();
    let states = states_at(model, base, &trace, trace.len(), &Bounds::default(), 4);
    states
        .iter()
        .map(|img| match img.get(&p(path)) {
            Some(Node::File(d)) => String::from_utf8_lossy(&d).into_owned(),
            Some(other) => format!("{other:?}"),
            None => "absent".into(),
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn base() -> Image {
    let mut img = Image::new();
    img.put_file(&p("d/old"), b"old");
    img
}

#[test]
fn posix_loses_a_write_that_was_not_fsynced_but_not_one_that_was() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.open_read(&p("d/old")).unwrap();
    drop(f);
    f = fs.create_new(&p("d/new")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    fs.write_at(&mut f, 0, b"abcdefgh").unwrap();
    let got = outcomes(&Posix, &base(), &fs, "d/new");
    // Lost, whole, as zeros, or torn at 4-byte blocks.
    assert_eq!(
        got,
        set(&["", "abcdefgh", "\0\0\0\0\0\0\0\0", "abcd", "\0\0\0\0efgh"])
    );
    fs.fsync(&mut f).unwrap();
    assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&["abcdefgh"]));
    assert_eq!(outcomes(&Prefix, &base(), &fs, "d/new"), set(&["abcdefgh"]));
}

#[test]
fn posix_loses_a_create_until_its_directory_is_fsynced() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.create_new(&p("d/new")).unwrap();
    fs.write_at(&mut f, 0, b"x").unwrap();
    fs.fsync(&mut f).unwrap();
    // fsync of the file does not make its directory entry durable.
    assert_eq!(
        outcomes(&Posix, &base(), &fs, "d/new"),
        set(&["absent", "x"])
    );
    fs.fsync_dir(&p("d")).unwrap();
    assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&["x"]));
}

#[test]
fn prefix_loses_nothing() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.create_new(&p("d/new")).unwrap();
    fs.write_at(&mut f, 0, b"x").unwrap();
    fs.rename(&p("d/new"), &p("d/old")).unwrap();
    let trace = fs.trace();
    for cp in 0..=trace.len() {
        let states = states_at(&Prefix, &base(), &trace, cp, &Bounds::default(), 4096);
        assert_eq!(states.len(), 1, "one state per crash point");
    }
    assert_eq!(outcomes(&Prefix, &base(), &fs, "d/old"), set(&["x"]));
}

#[test]
fn a_rename_is_atomic_and_needs_both_directories_synced() {
    let mut img = base();
    img.put_dir(&p("e"));
    let fs = SimFs::from_image(&img);
    fs.rename(&p("d/old"), &p("e/moved")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    let trace = fs.trace();
    let states = states_at(&Posix, &img, &trace, trace.len(), &Bounds::default(), 4096);
    let shapes: BTreeSet<(bool, bool)> = states
        .iter()
        .map(|s| (s.get(&p("d/old")).is_some(), s.get(&p("e/moved")).is_some()))
        .collect();
    assert_eq!(shapes, [(false, true), (true, false)].into_iter().collect());
    fs.fsync_dir(&p("e")).unwrap();
    let trace = fs.trace();
    let states = states_at(&Posix, &img, &trace, trace.len(), &Bounds::default(), 4096);
    assert_eq!(states.len(), 1);
}

#[test]
fn a_failed_fsync_drops_the_data_for_good() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.create_new(&p("d/new")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    fs.write_at(&mut f, 0, b"x").unwrap();
    fs.set_fault(Some(crate::sim::Fault {
        at: 3,
        kind: crate::sim::FaultKind::Eio,
    }));
    assert!(fs.fsync(&mut f).is_err());
    fs.fsync(&mut f).unwrap();
    assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&[""]));
    assert_eq!(
        fs.image().get(&p("d/new")),
        Some(Node::File(Arc::new(b"x".to_vec())))
    );
}

#[test]
fn ext4_keeps_directory_operations_in_order_and_renames_safe() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.create_new(&p("d/t")).unwrap();
    fs.write_at(&mut f, 0, b"new").unwrap();
    fs.rename(&p("d/t"), &p("d/old")).unwrap();
    fs.create_new(&p("d/later")).unwrap();
    let trace = fs.trace();
    let states = states_at(
        &Ext4Ordered,
        &base(),
        &trace,
        trace.len(),
        &Bounds::default(),
        4,
    );
    for s in &states {
        let old = s.get(&p("d/old"));
        // Safe rename: the renamed file never shows up empty.
        assert!(
            old == Some(Node::File(Arc::new(b"old".to_vec())))
                || old == Some(Node::File(Arc::new(b"new".to_vec()))),
            "{s:?}"
        );
        // In order: `later` persisted implies the rename persisted.
        if s.get(&p("d/later")).is_some() {
            assert_eq!(old, Some(Node::File(Arc::new(b"new".to_vec()))));
        }
    }
    assert_eq!(
        outcomes(&Ext4Ordered, &base(), &fs, "d/old"),
        set(&["new", "old"])
    );
    // Posix has neither rule: the rename may persist without the data.
    assert!(outcomes(&Posix, &base(), &fs, "d/old").contains(""));
}

#[test]
fn models_are_found_by_name() {
    let names: Vec<&str> = all_models().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["prefix", "ext4-ordered", "posix"]);
    assert_eq!(model_by_name("posix").unwrap().name(), "posix");
    assert!(model_by_name("ext3").is_none());
}

/// A durable image holding `path` with `data`.
fn with_file(path: &str, data: &[u8]) -> Image {
    let mut img = Image::new();
    img.put_dir(&p("d"));
    img.put_file(&p(path), data);
    img
}

/// Runs `ops` on a `SimFs` over `base`, returning it for [`outcomes`].
fn run(base: &Image, ops: impl FnOnce(&SimFs)) -> SimFs {
    let fs = SimFs::from_image(base);
    ops(&fs);
    fs
}

/// The modes `path` may have after a crash at the end of the trace.
fn modes(model: &dyn Model, base: &Image, fs: &SimFs, path: &str) -> BTreeSet<String> {
    let trace = fs.trace();
    states_at(model, base, &trace, trace.len(), &Bounds::default(), 4)
        .iter()
        .map(|img| {
            img.mode(&p(path))
                .map_or("absent".into(), |m| m.to_string())
        })
        .collect()
}

#[test]
fn an_overwrite_within_one_block_is_atomic_and_across_blocks_tears() {
    let base = with_file("d/f", b"abcdefgh");
    let one = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.write_at(&mut f, 4, b"WXYZ").unwrap();
    });
    let two = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.write_at(&mut f, 2, b"WXYZ").unwrap();
    });
    for model in [&Posix as &dyn Model, &Ext4Ordered] {
        assert_eq!(
            outcomes(model, &base, &one, "d/f"),
            set(&["abcdWXYZ", "abcdefgh"]),
            "{}",
            model.name()
        );
        assert_eq!(
            outcomes(model, &base, &two, "d/f"),
            set(&["abWXYZgh", "abWXefgh", "abcdYZgh", "abcdefgh"]),
            "{}",
            model.name()
        );
    }
    assert_eq!(outcomes(&Prefix, &base, &two, "d/f"), set(&["abWXYZgh"]));
}

#[test]
fn an_append_may_show_zeros_under_posix_never_under_ext4_ordered() {
    let base = with_file("d/log", b"abcd");
    let fs = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/log")).unwrap();
        fs.write_at(&mut f, 4, b"efgh").unwrap();
    });
    assert_eq!(
        outcomes(&Posix, &base, &fs, "d/log"),
        set(&["abcd", "abcdefgh", "abcd\0\0\0\0"])
    );
    assert_eq!(
        outcomes(&Ext4Ordered, &base, &fs, "d/log"),
        set(&["abcd", "abcdefgh"])
    );
    let synced = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/log")).unwrap();
        fs.write_at(&mut f, 4, b"efgh").unwrap();
        fs.fdatasync(&mut f).unwrap();
    });
    for model in all_models() {
        assert_eq!(
            outcomes(model.as_ref(), &base, &synced, "d/log"),
            set(&["abcdefgh"])
        );
    }
}

#[test]
fn set_len_shrinks_or_grows_atomically_and_fdatasync_makes_it_durable() {
    let base = with_file("d/f", b"abcdefgh");
    let shrink = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 3).unwrap();
    });
    let grow = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 10).unwrap();
    });
    let synced = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 3).unwrap();
        fs.fdatasync(&mut f).unwrap();
    });
    for model in [&Posix as &dyn Model, &Ext4Ordered] {
        assert_eq!(
            outcomes(model, &base, &shrink, "d/f"),
            set(&["abc", "abcdefgh"])
        );
        assert_eq!(
            outcomes(model, &base, &grow, "d/f"),
            set(&["abcdefgh", "abcdefgh\0\0"])
        );
        assert_eq!(outcomes(model, &base, &synced, "d/f"), set(&["abc"]));
    }
}

#[test]
fn link_and_rmdir_are_directory_operations_covered_by_fsync_of_the_directory() {
    let mut base = with_file("d/f", b"x");
    base.put_dir(&p("d/sub"));
    let unsynced = run(&base, |fs| {
        fs.link(&p("d/f"), &p("d/g")).unwrap();
        fs.rmdir(&p("d/sub")).unwrap();
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.fsync(&mut f).unwrap(); // a file's fsync does not cover its names
    });
    let synced = run(&base, |fs| {
        fs.link(&p("d/f"), &p("d/g")).unwrap();
        fs.rmdir(&p("d/sub")).unwrap();
        fs.fsync_dir(&p("d")).unwrap();
    });
    assert_eq!(
        outcomes(&Posix, &base, &unsynced, "d/g"),
        set(&["absent", "x"])
    );
    assert_eq!(
        outcomes(&Posix, &base, &unsynced, "d/sub"),
        set(&["Dir", "absent"])
    );
    for model in all_models() {
        let m = model.as_ref();
        assert_eq!(outcomes(m, &base, &synced, "d/g"), set(&["x"]));
        assert_eq!(outcomes(m, &base, &synced, "d/sub"), set(&["absent"]));
    }
    // ext4-ordered: the rmdir persisted only with the earlier link.
    let trace = unsynced.trace();
    for s in states_at(
        &Ext4Ordered,
        &base,
        &trace,
        trace.len(),
        &Bounds::default(),
        4,
    ) {
        if s.get(&p("d/sub")).is_none() {
            assert!(s.get(&p("d/g")).is_some(), "{s:?}");
        }
    }
}

#[test]
fn set_mode_is_inode_metadata_covered_by_fsync_not_fdatasync() {
    let base = with_file("d/f", b"x");
    let with = |sync: fn(&SimFs, &mut crate::sim::SimFile)| {
        run(&base, move |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.set_mode(&mut f, crate::fs::FileMode::new(0o600).unwrap())
                .unwrap();
            sync(fs, &mut f);
        })
    };
    let datasynced = with(|fs, f| fs.fdatasync(f).unwrap());
    let synced = with(|fs, f| fs.fsync(f).unwrap());
    for model in [&Posix as &dyn Model, &Ext4Ordered] {
        assert_eq!(
            modes(model, &base, &datasynced, "d/f"),
            set(&["0600", "0644"]),
            "{}",
            model.name()
        );
        assert_eq!(modes(model, &base, &synced, "d/f"), set(&["0600"]));
    }
}

#[test]
fn an_unsynced_write_to_one_file_may_be_lost_while_a_later_synced_one_to_another_is_not() {
    let mut base = with_file("d/a", b"a0");
    base.put_file(&p("d/b"), b"b0");
    let fs = run(&base, |fs| {
        let mut a = fs.open_write(&p("d/a")).unwrap();
        fs.write_at(&mut a, 0, b"a1").unwrap();
        let mut b = fs.open_write(&p("d/b")).unwrap();
        fs.write_at(&mut b, 0, b"b1").unwrap();
        fs.fsync(&mut b).unwrap();
    });
    let trace = fs.trace();
    let pairs = |model: &dyn Model| -> BTreeSet<(Option<Node>, Option<Node>)> {
        states_at(model, &base, &trace, trace.len(), &Bounds::default(), 4)
            .iter()
            .map(|s| (s.get(&p("d/a")), s.get(&p("d/b"))))
            .collect()
    };
    let file = |s: &[u8]| Some(Node::File(Arc::new(s.to_vec())));
    for model in [&Posix as &dyn Model, &Ext4Ordered] {
        let got = pairs(model);
        assert!(
            got.contains(&(file(b"a0"), file(b"b1"))),
            "{}",
            model.name()
        );
        assert!(
            got.iter().all(|(_, b)| *b == file(b"b1")),
            "{}",
            model.name()
        );
    }
    assert_eq!(
        pairs(&Prefix),
        [(file(b"a1"), file(b"b1"))].into_iter().collect()
    );
}

#[test]
fn ext4_orders_set_len_and_set_mode_with_directory_operations() {
    let base = with_file("d/f", b"abcdefgh");
    let fs = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 2).unwrap();
        fs.mkdir(&p("d/m")).unwrap();
        fs.fsync_dir(&p("d")).unwrap();
    });
    // ext4: the mkdir is durable, so the earlier truncate (same journal) is too.
    assert_eq!(outcomes(&Ext4Ordered, &base, &fs, "d/f"), set(&["ab"]));
    // posix: the truncate was never synced.
    assert_eq!(
        outcomes(&Posix, &base, &fs, "d/f"),
        set(&["ab", "abcdefgh"])
    );
}

#[test]
fn an_exchange_is_atomic_and_needs_both_directories_synced() {
    let mut base = with_file("d/a", b"A");
    base.put_file(&p("e/b"), b"B");
    let half = run(&base, |fs| {
        fs.rename_with(&p("d/a"), &p("e/b"), crate::fs::RenameFlags::EXCHANGE)
            .unwrap();
        fs.fsync_dir(&p("d")).unwrap();
    });
    let trace = half.trace();
    let pairs: BTreeSet<(Option<Node>, Option<Node>)> =
        states_at(&Posix, &base, &trace, trace.len(), &Bounds::default(), 4)
            .iter()
            .map(|s| (s.get(&p("d/a")), s.get(&p("e/b"))))
            .collect();
    let file = |s: &[u8]| Some(Node::File(Arc::new(s.to_vec())));
    assert_eq!(
        pairs,
        [(file(b"A"), file(b"B")), (file(b"B"), file(b"A"))]
            .into_iter()
            .collect(),
        "both names or neither: never one inode under two names"
    );
}

/// The posix model with the barriers' coverage alone: no write is settled as unseen. The
/// reference against which `model/unseen.rs`'s reduction is compared.
struct PosixBarriersOnly;

impl Model for PosixBarriersOnly {
    fn name(&self) -> &'static str {
        "posix-barriers-only"
    }
    fn summary(&self) -> &'static str {
        "posix without settling unseen writes"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        posix::barrier_coverage(trace)
    }
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant> {
        Posix.variants(op, cx)
    }
    fn independent_ops(&self) -> bool {
        true
    }
}

/// The fingerprints of the crash images `model` gives at each crash point of `trace`.
fn images_per_point(
    model: &dyn Model,
    base: &Image,
    trace: &[TraceOp],
    bounds: &Bounds,
) -> Vec<BTreeSet<u128>> {
    (0..=trace.len())
        .map(|cp| {
            states_at(model, base, trace, cp, bounds, 4)
                .iter()
                .map(Image::fingerprint)
                .collect()
        })
        .collect()
}

/// Two files written and unlinked without an fsync (as the journal's intents of plain replaces
/// are), around a replace of `d/old`; the second one written again through its still open
/// handle after its unlink, and again after the unlink is durable.
fn written_then_unlinked() -> (Image, Vec<TraceOp>) {
    let mut base = base();
    base.put_dir(&p("j"));
    let fs = SimFs::from_image(&base);
    let mut intent = fs.create_new(&p("j/1.intent")).unwrap();
    fs.write_at(&mut intent, 0, b"intent-1").unwrap();
    let mut temp = fs.create_new(&p("d/t")).unwrap();
    fs.write_at(&mut temp, 0, b"new").unwrap();
    fs.fsync(&mut temp).unwrap();
    fs.rename(&p("d/t"), &p("d/old")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    fs.unlink(&p("j/1.intent")).unwrap();
    let mut second = fs.create_new(&p("j/2.intent")).unwrap();
    fs.write_at(&mut second, 0, b"intent-2").unwrap();
    fs.unlink(&p("j/2.intent")).unwrap();
    fs.write_at(&mut second, 8, b"late").unwrap();
    fs.fsync_dir(&p("j")).unwrap();
    fs.write_at(&mut second, 12, b"later").unwrap();
    let mut other = fs.create_new(&p("d/other")).unwrap();
    fs.write_at(&mut other, 0, b"xy").unwrap();
    (base, fs.trace())
}

#[test]
fn a_write_to_a_file_whose_only_name_is_durably_gone_is_settled_unseen() {
    let (_, trace) = written_then_unlinked();
    let res = Posix.resolve(&trace);
    let fsync_j = trace
        .iter()
        .position(|op| matches!(op, TraceOp::FsyncDir { path, .. } if *path == p("j")))
        .unwrap();
    let writes: Vec<usize> = (0..trace.len())
        .filter(|&j| matches!(&trace[j], TraceOp::Write { path, .. } if path.starts_with(&p("j"))))
        .collect();
    assert_eq!(
        writes.len(),
        4,
        "two intents, one written again twice after its unlink"
    );
    for &w in &writes {
        // Unseen from the fsync of `j` on, or from right after a write issued later than that.
        let at = (fsync_j + 1).max(w + 1);
        assert_eq!(res[w], Resolution::unseen(at), "{}", trace[w]);
        assert_eq!(posix::barrier_coverage(&trace)[w], Resolution::PENDING);
    }
    assert!(
        writes[3] > fsync_j,
        "one write issued after the unlink was durable"
    );
    // The write to `d/other`, whose name is not gone, stays pending.
    let last = trace.len() - 1;
    assert_eq!(res[last], Resolution::PENDING);
}

/// A write made durable by the same `syncfs` that makes its file's unlink durable stays
/// durable: only a write still pending, or resolved later, is settled unseen.
#[test]
fn a_write_made_durable_with_its_unlink_stays_durable() {
    let fs = SimFs::from_image(&base());
    let mut f = fs.create_new(&p("d/s")).unwrap();
    fs.write_at(&mut f, 0, b"ss").unwrap();
    fs.unlink(&p("d/s")).unwrap();
    fs.syncfs().unwrap();
    let trace = fs.trace();
    assert_eq!(Posix.resolve(&trace)[1], Resolution::durable(4));
}

/// A trace by hand, for what a `SimFs` never records: the file created as inode 10 in
/// directory 1 (`j`), written, unlinked, then `then`.
fn by_hand(then: Vec<TraceOp>) -> Vec<TraceOp> {
    let (j, x) = (p("j"), p("j/x"));
    let mut trace = vec![
        TraceOp::Create {
            path: x.clone(),
            ino: 10,
            dir: 1,
            mode: crate::fs::FileMode::FILE_DEFAULT,
        },
        TraceOp::Write {
            ino: 10,
            path: x.clone(),
            offset: 0,
            len: 2,
            data: Arc::new(b"xx".to_vec()),
        },
        TraceOp::Unlink {
            path: x,
            ino: 10,
            dir: 1,
        },
    ];
    trace.extend(then);
    trace.push(TraceOp::FsyncDir { path: j, ino: 1 });
    trace
}

#[test]
fn a_write_is_not_settled_when_its_unlink_was_dropped_or_its_inode_number_reused() {
    let settled = |trace: &[TraceOp]| Posix.resolve(trace)[1].unseen;
    assert!(
        settled(&by_hand(Vec::new())),
        "the reference case is settled"
    );
    // A failed fsync of `j` drops the unlink: the name may still be there.
    let failed = TraceOp::FailedFsync {
        call: SyncCall::FsyncDir,
        path: p("j"),
        ino: 1,
    };
    let trace = by_hand(vec![failed]);
    assert!(!Posix.resolve(&trace)[2].kept, "the unlink is dropped");
    assert!(!settled(&trace));
    // Inode 10 created a second time: a write to it may be to the second file.
    let again = TraceOp::Create {
        path: p("j/y"),
        ino: 10,
        dir: 1,
        mode: crate::fs::FileMode::FILE_DEFAULT,
    };
    assert!(!settled(&by_hand(vec![again])));
}

/// The reduction of `model/unseen.rs` changes no crash image: with every state enumerated, each
/// crash point of a trace with unseen writes has the same set of images with and without it.
#[test]
fn settling_unseen_writes_leaves_every_crash_point_s_images_as_they_were() {
    let (base, trace) = written_then_unlinked();
    let all = Bounds {
        full_bound: usize::MAX,
        k: 2,
        samples: 0,
    };
    let reduced = images_per_point(&Posix, &base, &trace, &all);
    let full = images_per_point(&PosixBarriersOnly, &base, &trace, &all);
    assert_eq!(reduced, full);
    // Not vacuous: past the fsync of `j`, the reduced model has fewer pending operations.
    let cp = trace.len();
    let pending = |res: &[Resolution]| res.iter().filter(|r| !r.resolved_at(cp)).count();
    assert!(pending(&Posix.resolve(&trace)) < pending(&posix::barrier_coverage(&trace)));
}

#[test]
fn a_write_is_not_settled_while_its_file_has_another_name_or_its_unlink_is_not_durable() {
    let mut base = base();
    base.put_dir(&p("j"));
    let fs = SimFs::from_image(&base);
    // Linked under a second name: the unlink of the first leaves it visible.
    let mut linked = fs.create_new(&p("j/a")).unwrap();
    fs.write_at(&mut linked, 0, b"aa").unwrap();
    fs.link(&p("j/a"), &p("d/a")).unwrap();
    fs.unlink(&p("j/a")).unwrap();
    // Renamed before its unlink: a lost rename would leave the old name.
    let mut renamed = fs.create_new(&p("j/b")).unwrap();
    fs.write_at(&mut renamed, 0, b"bb").unwrap();
    fs.rename(&p("j/b"), &p("j/c")).unwrap();
    fs.unlink(&p("j/c")).unwrap();
    // Exchanged with another file before its unlink: a lost exchange would leave its name.
    let mut swapped = fs.create_new(&p("j/f")).unwrap();
    fs.write_at(&mut swapped, 0, b"ff").unwrap();
    fs.create_new(&p("j/g")).unwrap();
    fs.rename_with(&p("j/f"), &p("j/g"), crate::fs::RenameFlags::EXCHANGE)
        .unwrap();
    fs.unlink(&p("j/g")).unwrap();
    fs.unlink(&p("j/f")).unwrap();
    fs.fsync_dir(&p("j")).unwrap();
    // Unlinked, but its directory never fsynced afterwards.
    let mut pending = fs.create_new(&p("d/e")).unwrap();
    fs.write_at(&mut pending, 0, b"ee").unwrap();
    fs.unlink(&p("d/e")).unwrap();
    let trace = fs.trace();
    let res = Posix.resolve(&trace);
    for (j, op) in trace.iter().enumerate() {
        if let TraceOp::Write { .. } = op {
            assert!(!res[j].unseen, "{op} must stay pending");
        }
    }
}

/// On the journal's own traces (plain replaces, whose intents are written, never fsynced and
/// unlinked), the bounded enumeration of the reduced model reaches every image the unreduced one
/// does at every crash point (it may reach more: a departure in an unseen write no longer uses
/// up one of the k).
#[test]
fn on_a_run_of_plain_replaces_the_reduced_posix_model_misses_no_bounded_state() {
    use crate::journal::{Journal, Update};
    let base = base();
    let fs = SimFs::from_image(&base);
    let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
    for i in 0..5u8 {
        let target = if i % 2 == 0 { "d/old" } else { "d/n" };
        journal
            .commit(Update::write(p(target), vec![b'a' + i; 10]))
            .unwrap();
    }
    drop(journal);
    let trace = fs.trace();
    let bounds = Bounds {
        full_bound: 64,
        k: 1,
        samples: 0,
    };
    let reduced = images_per_point(&Posix, &base, &trace, &bounds);
    let full = images_per_point(&PosixBarriersOnly, &base, &trace, &bounds);
    for (cp, (r, f)) in reduced.iter().zip(&full).enumerate() {
        assert!(
            f.is_subset(r),
            "crash point {cp}: an image only the unreduced model reaches"
        );
    }
    let res = Posix.resolve(&trace);
    assert!(
        res.iter().any(|r| r.unseen),
        "the intents' writes are settled"
    );
}

/// The bug this pins: whether an append may persist as zeros was decided by the file's length
/// in the walk's checkpoint, which stops before the first operation still pending (of any file)
/// and so does not see a later truncation of the file, pending or made durable since. A file
/// of 8 bytes truncated to 0 (as `open(O_TRUNC)` does) and written again may show the new size
/// with zeros under posix (the size reached the disk, the data did not); the model withheld
/// that state, so a program whose checker would reject a zero-filled file was judged clean.
#[test]
fn an_append_after_a_truncation_may_show_zeros_under_posix() {
    let mut base = with_file("d/f", b"abcdefgh");
    base.put_file(&p("d/g"), b"g0");
    let truncated = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 0).unwrap();
        fs.write_at(&mut f, 0, b"wxyz").unwrap();
    });
    assert_eq!(
        outcomes(&Posix, &base, &truncated, "d/f"),
        set(&["", "\0\0\0\0", "abcdefgh", "wxyz", "wxyzefgh"])
    );
    // The truncation durable, behind another file's pending write: the checkpoint stops there.
    let durably = run(&base, |fs| {
        let mut g = fs.open_write(&p("d/g")).unwrap();
        fs.write_at(&mut g, 0, b"g1").unwrap();
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 0).unwrap();
        fs.fsync(&mut f).unwrap();
        fs.write_at(&mut f, 0, b"wxyz").unwrap();
    });
    assert_eq!(
        outcomes(&Posix, &base, &durably, "d/f"),
        set(&["", "\0\0\0\0", "wxyz"])
    );
    assert_eq!(
        outcomes(&Ext4Ordered, &base, &durably, "d/f"),
        set(&["", "wxyz"])
    );
    // Truncated, then grown back: the least size it may have is the truncation's.
    let regrown = run(&base, |fs| {
        let mut f = fs.open_write(&p("d/f")).unwrap();
        fs.set_len(&mut f, 0).unwrap();
        fs.set_len(&mut f, 8).unwrap();
        fs.write_at(&mut f, 0, b"wxyz").unwrap();
    });
    assert!(outcomes(&Posix, &base, &regrown, "d/f").contains("\0\0\0\0"));
}
