//! What recovery and batches cost in barriers, counted on the simulated filesystem's trace.
//!
//! The reference journal fsynced a directory once per file it deleted; crashsafe's recovery
//! fsyncs each directory it touched once, whatever the number of entries. And a batch shares its
//! barriers: with `syncfs` a 64-update batch pays a handful of barriers in all.

use crashsafe::format::{encode, temp_path, Content, Digest, Entry, EntryKind, UpdateRecord};
use crashsafe::journal::{Journal, JournalOptions, SyncMode, Update};
use crashsafe::path::RelPath;
use crashsafe::sim::{Image, SimFs, TraceOp};

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("plain")
}

/// `n` interrupted single-update transactions, each with its temp file written, spread over
/// `dirs` directories.
fn pending(n: usize, dirs: usize) -> Image {
    let mut image = Image::new();
    image.put_dir(&p(".crashsafe/journal"));
    for i in 0..n {
        let seq = i as u64 + 1;
        let target = p(&format!("d{}/f{i}", i % dirs));
        let temp = temp_path(&target, seq, 0);
        image.put_file(&temp, b"new");
        let entry = Entry {
            seq,
            kind: EntryKind::Intent { atomic: false },
            updates: vec![UpdateRecord {
                target,
                temp: Some(temp),
                old: Content::Absent,
                new: Content::Present(Digest::of(b"new")),
                increment: None,
            }],
        };
        image.put_file(
            &p(&format!(".crashsafe/journal/{seq:016x}.intent")),
            &encode(&entry).unwrap(),
        );
    }
    image
}

fn barriers(trace: &[TraceOp]) -> usize {
    trace.iter().filter(|op| op.is_fsync_family()).count()
}

/// Recovering 1, 10 or 200 entries spread over 3 directories costs the same 4 directory fsyncs:
/// the 3 directories whose temp files it removed, then the journal's.
#[test]
fn recovery_fsyncs_once_per_directory_touched_not_per_entry() {
    for n in [3, 10, 200] {
        let fs = SimFs::from_image(&pending(n, 3));
        let mut journal = Journal::open(&fs, p(".crashsafe/journal")).unwrap();
        let report = journal.recover().unwrap();
        assert_eq!(report.outcomes.len(), n);
        assert_eq!(barriers(&fs.trace()), 4, "{n} entries");
        assert_eq!(report.dirs_synced, 4);
    }
}

/// A 64-update batch pays few barriers: its intent is written with its temps and never fsynced
/// (no increment, not atomic), so with `syncfs` it pays two in all (data, publish), and the
/// session's first batch one more to register its directories; with per-file fsyncs, one per
/// temp file and one per target directory, and the first batch the registry file's and the
/// journal directory's.
#[test]
fn a_batch_shares_its_barriers() {
    let cases = [
        (SyncMode::Syncfs, [3, 2]),
        (SyncMode::PerFile, [64 + 4 + 2, 64 + 4]),
    ];
    for (sync, limits) in cases {
        let mut setup = Image::new();
        for d in 0..4 {
            setup.put_dir(&p(&format!("d{d}")));
        }
        setup.put_dir(&p(".crashsafe/journal"));
        let fs = SimFs::from_image(&setup);
        let options = JournalOptions { sync };
        let mut journal = Journal::open_with(&fs, p(".crashsafe/journal"), options).unwrap();
        for (round, limit) in limits.into_iter().enumerate() {
            // Opening an empty journal syncs its directory once; the commit's barriers follow.
            let opened = fs.op_count();
            let updates = (0..64)
                .map(|i| {
                    let content = vec![(i + round) as u8; 100];
                    Update::write(p(&format!("d{}/f{i}", i % 4)), content)
                })
                .collect();
            journal.commit_batch(updates, false).unwrap();
            let used = barriers(&fs.trace()[opened..]);
            assert_eq!(
                used, limit,
                "{sync:?}, batch {round}: barriers for 64 updates"
            );
            assert!(
                used as f64 / 64.0 <= 1.125,
                "{sync:?}: over 1.125 barriers per update"
            );
        }
    }
}
