use super::*;
use crate::fs::Fs;
use crate::path::RelPath;
use crate::sim::{Posix, SimFs};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn past_the_bound_the_states_are_all_but_k_at_most_k_and_samples() {
    let fs = SimFs::new();
    for i in 0..10 {
        fs.mkdir(&p(&format!("d{i}"))).unwrap();
    }
    let trace = fs.trace();
    let res = Posix.resolve(&trace);
    let mut walk = CrashWalk::new(&Posix, &Image::new(), &trace, &res, 4096);
    let point = walk.point(10);
    assert_eq!(point.combinations(), 1024);
    let count = |bounds: &Bounds, seed: u64| {
        let mut states = Vec::new();
        point.for_each_state(bounds, seed, |i, c| {
            states.push((i, c.to_vec()));
            ControlFlow::Continue(())
        });
        states
    };
    assert_eq!(
        count(
            &Bounds {
                full_bound: 1024,
                ..Bounds::default()
            },
            0
        )
        .len(),
        1024
    );
    let bounded = Bounds {
        full_bound: 1000,
        k: 2,
        samples: 0,
    };
    // 1 + 10 + 45 with at most two lost, as many with at most two persisted: disjoint.
    assert_eq!(count(&bounded, 0).len(), 112);
    let sampled = Bounds {
        samples: 16,
        ..bounded
    };
    let a = count(&sampled, 7);
    assert!(a.len() > 112 && a.len() <= 128);
    assert_eq!(a, count(&sampled, 7), "seeded");
    let (i, choice) = a.last().unwrap();
    assert_eq!(point.state(&sampled, 7, *i).as_ref(), Some(choice));
}

/// The trace of [`states_built_on_prefixes_are_the_states_built_on_the_checkpoint`]:
/// barriers, a failed fsync, renames over names, unlinks and hard links.
fn prefix_test_trace() -> Vec<TraceOp> {
    use crate::sim::fs::{Fault, FaultKind};
    let fs = SimFs::new();
    fs.mkdir(&p("d")).unwrap();
    fs.fsync_dir(&RelPath::root()).unwrap();
    let mut a = fs.create_new(&p("d/a")).unwrap();
    fs.write_at(&mut a, 0, b"first").unwrap();
    fs.fsync(&mut a).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    // Mutating call 14 fails: the fsync of `b`.
    fs.set_fault(Some(Fault {
        at: 14,
        kind: FaultKind::Eio,
    }));
    for (i, name) in ["d/t1", "d/t2", "d/t3"].iter().enumerate() {
        let mut t = fs.create_new(&p(name)).unwrap();
        fs.write_at(&mut t, 0, &[b'x'; 9000][..3000 * (i + 1)])
            .unwrap();
    }
    let mut b = fs.create_new(&p("d/b")).unwrap();
    fs.write_at(&mut b, 0, b"bee").unwrap();
    assert!(fs.fsync(&mut b).is_err(), "the fault fires");
    fs.rename(&p("d/t1"), &p("d/a")).unwrap();
    fs.link(&p("d/t2"), &p("d/t2-also")).unwrap();
    fs.unlink(&p("d/t3")).unwrap();
    fs.rename(&p("d/t2"), &p("d/b")).unwrap();
    fs.write_at(&mut a, 3, b"late").unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    fs.unlink(&p("d/t2-also")).unwrap();
    fs.trace()
}

/// A walk keeping prefixes builds every state (every crash point, every model, every
/// choice enumerated, random samples included) as the walk building from the checkpoint
/// does, on a trace with barriers, a failed fsync (writes dropped for good), renames over
/// names, unlinks and hard links; and most states are built on a prefix past the
/// checkpoint.
#[test]
fn states_built_on_prefixes_are_the_states_built_on_the_checkpoint() {
    let trace = prefix_test_trace();
    assert!(trace
        .iter()
        .any(|op| matches!(op, TraceOp::FailedFsync { .. })));
    let bounds = Bounds {
        full_bound: 64,
        k: 1,
        samples: 8,
    };
    let mut on_prefix = 0;
    let mut states = 0;
    for model in crate::sim::all_models() {
        let res = model.resolve(&trace);
        let mut plain = CrashWalk::new(model.as_ref(), &Image::new(), &trace, &res, 4096);
        let mut kept = plain.clone().keeping_prefixes();
        for cp in 0..=trace.len() {
            let (x, y) = (plain.point(cp), kept.point(cp));
            x.for_each_state(&bounds, cp as u64, |_, choice| {
                let (image, base) = y.build_on(choice);
                assert_eq!(
                    image,
                    x.build(choice),
                    "{} at {cp}: {choice:?}",
                    model.name()
                );
                assert_eq!(x.build_on(choice).1, None);
                on_prefix += usize::from(base.is_some_and(|i| i > 0));
                states += 1;
                ControlFlow::Continue(())
            });
        }
    }
    assert!(
        on_prefix * 3 > states,
        "{on_prefix} of {states} on a prefix"
    );
}

/// The trace of [`changed_entries_give_the_hashes_of_the_built_state`]: files in two
/// directories, writes (through a handle whose name was renamed, through handles whose
/// only name was unlinked or replaced), a truncation, a mode
/// change, renames over names and across directories, unlinks, a symlink, a barrier, and at
/// the end a hard link and a directory made (operations past which the computation gives up).
fn unbuilt_test_trace() -> Vec<TraceOp> {
    let fs = SimFs::new();
    fs.mkdir(&p("d")).unwrap();
    fs.mkdir(&p("e")).unwrap();
    fs.fsync_dir(&RelPath::root()).unwrap();
    let mut files: Vec<_> = ["d/a", "d/b", "e/c"]
        .iter()
        .map(|name| {
            let mut f = fs.create_new(&p(name)).unwrap();
            fs.write_at(&mut f, 0, name.as_bytes()).unwrap();
            fs.fsync(&mut f).unwrap();
            f
        })
        .collect();
    fs.fsync_dir(&p("d")).unwrap();
    fs.fsync_dir(&p("e")).unwrap();
    let mut t = fs.create_new(&p("d/t")).unwrap();
    fs.write_at(&mut t, 0, &[b'x'; 5000]).unwrap();
    fs.rename(&p("d/t"), &p("d/a")).unwrap();
    fs.write_at(&mut t, 4000, b"late").unwrap();
    // Through a handle on the inode the rename replaced.
    fs.write_at(&mut files[0], 1, b"replaced").unwrap();
    fs.unlink(&p("d/b")).unwrap();
    // Through a handle whose only name is gone (in states where the unlink persisted).
    fs.write_at(&mut files[1], 0, b"gone").unwrap();
    let mut u = fs.create_new(&p("e/u")).unwrap();
    fs.write_at(&mut u, 0, b"you").unwrap();
    fs.set_len(&mut u, 2).unwrap();
    fs.set_mode(&mut u, crate::fs::FileMode::new(0o600).unwrap())
        .unwrap();
    fs.rename(&p("e/u"), &p("d/b")).unwrap();
    fs.symlink(&p("e/s"), "c").unwrap();
    fs.rename(&p("e/c"), &p("e/c2")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    fs.unlink(&p("e/c2")).unwrap();
    fs.link(&p("d/a"), &p("e/a-also")).unwrap();
    fs.mkdir(&p("e/sub")).unwrap();
    fs.trace()
}

/// Wherever [`CrashPoint::changed_entries`] tells a state's entries from another's without
/// building them, the group hashes it gives are those of the state built (every model,
/// every crash point, every state against the all-persisted, the all-lost and the first
/// state enumerated); and it tells most states apart before the trace's hard operations.
#[test]
fn changed_entries_give_the_hashes_of_the_built_state() {
    let trace = unbuilt_test_trace();
    let bounds = Bounds {
        full_bound: 256,
        k: 1,
        samples: 8,
    };
    // Three groups: the paths in `d`, in `e`, and the directories.
    let mut group = |path: &str| match path.split_once('/') {
        Some(("d", _)) => 1,
        Some(("e", _)) => 2,
        _ => 0,
    };
    let (mut told, mut states) = (0, 0);
    for model in crate::sim::all_models() {
        let res = model.resolve(&trace);
        let mut walk =
            CrashWalk::new(model.as_ref(), &Image::new(), &trace, &res, 4096).keeping_prefixes();
        for cp in 0..=trace.len() {
            let point = walk.point(cp);
            let mut chosen = Vec::new();
            point.for_each_state(&bounds, cp as u64, |_, c| {
                chosen.push(c.to_vec());
                ControlFlow::Continue(())
            });
            let full = vec![0u16; point.pending.len()];
            let references = [full, point.all_lost(), chosen[0].clone()];
            for reference in &references {
                let base = point.build(reference).group_hashes(3, &mut group);
                for choice in &chosen {
                    states += 1;
                    let Some(changes) = point.changed_entries(reference, choice) else {
                        continue;
                    };
                    told += 1;
                    let mut sums = base.clone();
                    for c in &changes {
                        let g = group(c.path.as_str());
                        sums[g] = sums[g].wrapping_sub(c.before).wrapping_add(c.after);
                    }
                    let built = point.build(choice).group_hashes(3, &mut group);
                    assert_eq!(sums, built, "{} at {cp}: {choice:?}", model.name());
                }
            }
        }
    }
    assert!(told * 2 > states, "{told} of {states} told unbuilt");
}

#[test]
fn the_checkpoint_follows_the_barriers() {
    let fs = SimFs::new();
    let mut f = fs.create_new(&p("log")).unwrap();
    fs.fsync_dir(&RelPath::root()).unwrap();
    for i in 0..100u64 {
        fs.write_at(&mut f, i, b"x").unwrap();
        fs.fsync(&mut f).unwrap();
    }
    fs.write_at(&mut f, 100, b"y").unwrap();
    let trace = fs.trace();
    let res = Posix.resolve(&trace);
    let mut walk = CrashWalk::new(&Posix, &Image::new(), &trace, &res, 4096);
    let point = walk.point(trace.len());
    assert_eq!(point.durable_prefix(), trace.len() - 1);
    assert_eq!(point.pending.len(), 1);
    let states: Vec<Image> = {
        let mut out = Vec::new();
        point.for_each_state(&Bounds::default(), 0, |_, c| {
            out.push(point.build(c));
            ControlFlow::Continue(())
        });
        out
    };
    let lens: Vec<usize> = states
        .iter()
        .map(|s| match s.get(&p("log")) {
            Some(crate::sim::Node::File(d)) => d.len(),
            _ => 0,
        })
        .collect();
    assert_eq!(lens, [101, 100, 101], "full, lost, zeros");
}

/// Inside recovery: at most [`RECOVERY_FULL_BOUND`] states in full, k one less, at most
/// [`RECOVERY_SAMPLES`] samples; bounds already tighter stay as they are.
#[test]
fn the_bounds_inside_recovery_are_tighter() {
    let wide = Bounds {
        full_bound: 100_000,
        k: 3,
        samples: 50,
    };
    let expected = Bounds {
        full_bound: RECOVERY_FULL_BOUND,
        k: 2,
        samples: RECOVERY_SAMPLES,
    };
    assert_eq!(wide.for_recovery(), expected);
    let narrow = Bounds {
        full_bound: 8,
        k: 0,
        samples: 1,
    };
    assert_eq!(narrow.for_recovery(), narrow);
}

/// The least size a file may have, from the checkpoint on: its checkpoint size, lowered by
/// every truncation since (not raised by a later growth), and 0 once its inode is created anew;
/// a file not in the checkpoint has none (size 0 for the zeros variant).
#[test]
fn the_least_size_of_a_file_counts_truncations_and_creations_since_the_checkpoint() {
    let mut img = Image::new();
    img.put_file(&p("d/f"), b"abcdefgh");
    let ino = img.ino(&p("d/f")).unwrap();
    let set_len = |len| TraceOp::SetLen {
        ino,
        path: p("d/f"),
        len,
    };
    let mut least = LeastLens::default();
    assert_eq!(least.min_len(&img, ino), Some(8));
    least.see(&set_len(3));
    assert_eq!(least.min_len(&img, ino), Some(3));
    least.see(&set_len(5));
    assert_eq!(least.min_len(&img, ino), Some(3));
    least.see(&TraceOp::Create {
        path: p("d/g"),
        ino,
        dir: img.ino(&p("d")).unwrap(),
        mode: crate::fs::FileMode::FILE_DEFAULT,
    });
    assert_eq!(least.min_len(&img, ino), Some(0));
    assert_eq!(least.min_len(&img, ino + 100), None);
}

/// A factored walk enumerating a crash point in full keeps only the choices that depart from
/// everything persisted in one factor at most (shared operations with any): two writes to
/// factor 0's file, one to factor 1's, one to a shared file give 2 × 5 of the 16 combinations
/// (factor 0 alone in its 4 ways, or factor 1 alone, or neither; the shared write either way).
#[test]
fn a_factored_walk_enumerates_departures_in_one_factor_at_most() {
    use crate::sim::factor::{Factoring, PathSet};
    let mut base = Image::new();
    for name in ["d/a", "d/b", "d/c"] {
        base.put_file(&p(name), b"abcdefgh");
    }
    let fs = SimFs::from_image(&base);
    for (name, offset) in [("d/a", 0), ("d/a", 4), ("d/b", 0), ("d/c", 0)] {
        let mut f = fs.open_write(&p(name)).unwrap();
        fs.write_at(&mut f, offset, b"xy").unwrap();
    }
    let trace = fs.trace();
    let res = Posix.resolve(&trace);
    let factoring = Factoring::new(vec![
        vec![PathSet::Path(p("d/a"))],
        vec![PathSet::Path(p("d/b"))],
    ]);
    let mut walk = CrashWalk::new(&Posix, &base, &trace, &res, 4).factored(Some(&factoring));
    let point = walk.point(trace.len());
    assert_eq!(point.pending.len(), 4);
    let bounds = Bounds {
        full_bound: 1000,
        k: 2,
        samples: 0,
    };
    let mut choices = Vec::new();
    point.for_each_state(&bounds, 0, |_, c| {
        choices.push(c.to_vec());
        ControlFlow::Continue(())
    });
    assert_eq!(choices.len(), 10, "{choices:?}");
    let departs = |c: &Vec<u16>, i: usize| c[i] != 0;
    for c in &choices {
        let in_a = departs(c, 0) || departs(c, 1);
        assert!(!(in_a && departs(c, 2)), "departs in two factors: {c:?}");
    }
    assert!(choices.iter().any(|c| departs(c, 0) && departs(c, 1)));
    assert!(choices.iter().any(|c| departs(c, 2) && departs(c, 3)));
}
