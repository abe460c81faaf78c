//! Tests of the simulated filesystem's contract, trace and faults.

use super::*;
use crate::fs::read_capped;

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn files_are_created_written_renamed_and_traced() {
    let fs = SimFs::new();
    fs.mkdir(&p("d")).unwrap();
    let mut f = fs.create_new(&p("d/a.tmp")).unwrap();
    fs.write_at(&mut f, 0, b"hello").unwrap();
    fs.write_at(&mut f, 7, b"!").unwrap();
    fs.fsync(&mut f).unwrap();
    fs.rename(&p("d/a.tmp"), &p("d/a")).unwrap();
    fs.fsync_dir(&p("d")).unwrap();
    assert_eq!(read_capped(&fs, &p("d/a"), 100).unwrap(), b"hello\0\0!");
    let lines: Vec<String> = fs.trace().iter().map(|op| op.to_string()).collect();
    assert_eq!(
        lines,
        [
            "mkdir d",
            "create d/a.tmp",
            "write d/a.tmp @0+5",
            "write d/a.tmp @7+1",
            "fsync d/a.tmp",
            "rename d/a.tmp -> d/a",
            "fsync_dir d"
        ]
    );
    assert_eq!(fs.op_count(), 7);
    let mut r = fs.open_read(&p("d/a")).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(fs.read_at(&mut r, 6, &mut buf).unwrap(), 2);
    assert_eq!(fs.read_at(&mut r, 60, &mut buf).unwrap(), 0);
    assert_eq!(fs.op_count(), 7, "reads are not traced");
}

/// A file `f`, a directory `full` holding `x`, an empty directory, and a symlink `l` to `full`.
fn contract_fs() -> SimFs {
    let mut img = Image::new();
    img.put_file(&p("f"), b"x");
    img.put_file(&p("full/x"), b"x");
    img.put_dir(&p("empty"));
    img.put_symlink(&p("l"), "full");
    SimFs::from_image(&img)
}

#[test]
fn the_contract_errors() {
    let fs = contract_fs();
    let kind = |r: FsResult<()>| r.unwrap_err().kind;
    assert_eq!(
        kind(fs.create_new(&p("f")).map(drop)),
        FsErrorKind::AlreadyExists
    );
    assert_eq!(
        kind(fs.create_new(&p("nope/x")).map(drop)),
        FsErrorKind::NotFound
    );
    assert_eq!(
        kind(fs.create_new(&p("f/x")).map(drop)),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        kind(fs.create_new(&p("l/x")).map(drop)),
        FsErrorKind::Symlink
    );
    assert_eq!(kind(fs.open_read(&p("l")).map(drop)), FsErrorKind::Symlink);
    assert_eq!(
        kind(fs.open_read(&p("empty")).map(drop)),
        FsErrorKind::IsADirectory
    );
    assert_eq!(kind(fs.unlink(&p("empty"))), FsErrorKind::IsADirectory);
    assert_eq!(kind(fs.unlink(&p("gone"))), FsErrorKind::NotFound);
    assert_eq!(
        kind(fs.rename(&p("empty"), &p("full"))),
        FsErrorKind::NotEmpty
    );
    assert_eq!(
        kind(fs.rename(&p("f"), &p("empty"))),
        FsErrorKind::IsADirectory
    );
    assert_eq!(kind(fs.mkdir(&p("f"))), FsErrorKind::AlreadyExists);
    assert_eq!(kind(fs.read_dir(&p("l")).map(drop)), FsErrorKind::Symlink);
    assert_eq!(fs.stat(&p("l")).unwrap().unwrap().kind, FileKind::Symlink);
    assert_eq!(fs.stat(&p("zz")).unwrap(), None);
    assert_eq!(fs.op_count(), 0, "failed calls are not traced");
    assert_eq!(fs.calls().len(), 9, "but they are counted");
}

#[test]
fn a_directory_renames_over_an_empty_one_and_a_symlink_is_made() {
    let fs = contract_fs();
    fs.rename(&p("full"), &p("empty")).unwrap();
    let names: Vec<String> = fs
        .read_dir(&RelPath::root())
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["empty", "f", "l"]);
    assert_eq!(
        fs.image().get(&p("empty/x")),
        Some(crate::sim::Node::File(Arc::new(b"x".to_vec())))
    );
    fs.symlink(&p("l2"), "f").unwrap();
    assert_eq!(fs.trace().last().unwrap().to_string(), "symlink l2 -> f");
}

#[test]
fn an_unlinked_open_file_stays_readable_and_writable() {
    let fs = SimFs::new();
    let mut f = fs.create_new(&p("a")).unwrap();
    fs.write_at(&mut f, 0, b"abc").unwrap();
    fs.unlink(&p("a")).unwrap();
    fs.write_at(&mut f, 3, b"d").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(fs.read_at(&mut f, 0, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"abcd");
    assert_eq!(fs.image().walk().len(), 0);
}

#[test]
fn an_injected_fault_fails_one_call_and_is_not_applied() {
    let fs = SimFs::new();
    fs.set_fault(Some(Fault {
        at: 1,
        kind: FaultKind::NoSpace,
    }));
    let mut f = fs.create_new(&p("a")).unwrap();
    let e = fs.write_at(&mut f, 0, b"abc").unwrap_err();
    assert_eq!(e.kind, FsErrorKind::NoSpace);
    assert_eq!(fs.fault_fired_at(), Some(1));
    assert_eq!(
        fs.stat(&p("a")).unwrap().unwrap().len,
        0,
        "a failed write writes nothing"
    );
    fs.write_at(&mut f, 0, b"abc").unwrap();
    // NoSpace on a call that does not allocate acts as EIO; a failed fsync is traced.
    fs.set_fault(Some(Fault {
        at: 3,
        kind: FaultKind::NoSpace,
    }));
    assert_eq!(fs.fsync(&mut f).unwrap_err().kind, FsErrorKind::Io);
    assert!(matches!(
        fs.trace().last(),
        Some(TraceOp::FailedFsync {
            call: SyncCall::Fsync,
            ..
        })
    ));
    fs.fsync(&mut f).unwrap();
    assert_eq!(fs.calls().len(), 5);
}

#[test]
fn open_write_appends_overwrites_and_truncates_without_truncating_on_open() {
    let mut img = Image::new();
    img.put_file(&p("log"), b"abc");
    img.put_dir(&p("d"));
    img.put_symlink(&p("l"), "log");
    let fs = SimFs::from_image(&img);
    let mut f = fs.open_write(&p("log")).unwrap();
    assert_eq!(fs.op_count(), 0, "opening is not traced");
    assert_eq!(
        read_capped(&fs, &p("log"), 10).unwrap(),
        b"abc",
        "not truncated"
    );
    let len = fs.stat(&p("log")).unwrap().unwrap().len;
    fs.write_at(&mut f, len, b"de").unwrap(); // an append
    fs.write_at(&mut f, 0, b"A").unwrap(); // an overwrite
    assert_eq!(read_capped(&fs, &p("log"), 10).unwrap(), b"Abcde");
    fs.set_len(&mut f, 2).unwrap();
    assert_eq!(read_capped(&fs, &p("log"), 10).unwrap(), b"Ab");
    fs.set_len(&mut f, 4).unwrap();
    assert_eq!(read_capped(&fs, &p("log"), 10).unwrap(), b"Ab\0\0");
    let lines: Vec<String> = fs.trace().iter().map(|op| op.to_string()).collect();
    assert_eq!(
        lines,
        [
            "write log @3+2",
            "write log @0+1",
            "set_len log 2",
            "set_len log 4"
        ]
    );
    let kind = |r: FsResult<SimFile>| r.unwrap_err().kind;
    assert_eq!(kind(fs.open_write(&p("l"))), FsErrorKind::Symlink);
    assert_eq!(kind(fs.open_write(&p("d"))), FsErrorKind::IsADirectory);
    assert_eq!(kind(fs.open_write(&p("nope"))), FsErrorKind::NotFound);
    let mut r = fs.open_read(&p("log")).unwrap();
    let e = fs.set_len(&mut r, 0).unwrap_err();
    assert_eq!((e.op, e.kind), (Op::SetLen, FsErrorKind::Other));
    let e = fs.write_at(&mut r, 0, b"x").unwrap_err();
    assert_eq!((e.op, e.kind), (Op::WriteAt, FsErrorKind::Other));
    let e = fs.set_len(&mut f, MAX_SIM_FILE_LEN + 1).unwrap_err();
    assert_eq!(e.kind, FsErrorKind::NoSpace);
    assert_eq!(fs.stat(&p("log")).unwrap().unwrap().len, 4, "unchanged");
    assert_eq!(fs.op_count(), 4, "failed calls are not traced");
}

#[test]
fn modes_are_created_set_reported_and_traced() {
    let fs = SimFs::new();
    let mode = |s: u32| FileMode::new(s).unwrap();
    let mut f = fs.create_new_with_mode(&p("secret"), mode(0o600)).unwrap();
    assert_eq!(fs.stat(&p("secret")).unwrap().unwrap().mode, mode(0o600));
    let mut g = fs.create_new(&p("plain")).unwrap();
    assert_eq!(fs.stat(&p("plain")).unwrap().unwrap().mode, mode(0o644));
    fs.set_mode(&mut g, mode(0o640)).unwrap();
    assert_eq!(fs.image().mode(&p("plain")), Some(mode(0o640)));
    fs.set_mode(&mut f, mode(0o400)).unwrap();
    let lines: Vec<String> = fs.trace().iter().map(|op| op.to_string()).collect();
    assert_eq!(
        lines,
        [
            "create secret mode 0600",
            "create plain",
            "set_mode plain 0640",
            "set_mode secret 0400"
        ]
    );
    assert_eq!(FileMode::new(0o10000), None, "only permission bits");
}

#[test]
fn hard_links_share_an_inode_that_lives_while_a_name_remains() {
    let fs = SimFs::new();
    fs.mkdir(&p("d")).unwrap();
    let mut f = fs.create_new(&p("a")).unwrap();
    fs.write_at(&mut f, 0, b"one").unwrap();
    fs.link(&p("a"), &p("d/b")).unwrap();
    assert_eq!(fs.stat(&p("a")).unwrap().unwrap().nlink, 2);
    fs.write_at(&mut f, 0, b"two").unwrap();
    assert_eq!(
        read_capped(&fs, &p("d/b"), 10).unwrap(),
        b"two",
        "one inode"
    );
    fs.unlink(&p("a")).unwrap();
    assert_eq!(read_capped(&fs, &p("d/b"), 10).unwrap(), b"two");
    assert_eq!(fs.stat(&p("d/b")).unwrap().unwrap().nlink, 1);
    // A hard link renamed over its sibling name changes nothing (rename(2)).
    fs.link(&p("d/b"), &p("c")).unwrap();
    fs.rename(&p("c"), &p("d/b")).unwrap();
    assert!(fs.stat(&p("c")).unwrap().is_some());
    let kind = |r: FsResult<()>| r.unwrap_err().kind;
    assert_eq!(
        kind(fs.link(&p("d"), &p("e"))),
        FsErrorKind::PermissionDenied
    );
    assert_eq!(
        kind(fs.link(&p("c"), &p("d/b"))),
        FsErrorKind::AlreadyExists
    );
    assert_eq!(kind(fs.link(&p("zz"), &p("e"))), FsErrorKind::NotFound);
    assert_eq!(
        fs.trace().last().unwrap().to_string(),
        "rename c -> d/b",
        "failed links are not traced"
    );
    fs.symlink(&p("s"), "c").unwrap();
    fs.link(&p("s"), &p("s2")).unwrap();
    assert_eq!(
        fs.image().get(&p("s2")),
        Some(crate::sim::Node::Symlink("c".into())),
        "a symlink is linked itself, not followed"
    );
    assert_eq!(kind(fs.symlink(&p("s3"), "")), FsErrorKind::NotFound);
}

#[test]
fn rmdir_removes_only_an_empty_directory() {
    let mut img = Image::new();
    img.put_file(&p("full/x"), b"x");
    img.put_dir(&p("empty"));
    img.put_file(&p("f"), b"");
    let fs = SimFs::from_image(&img);
    let kind = |r: FsResult<()>| r.unwrap_err().kind;
    assert_eq!(kind(fs.rmdir(&p("full"))), FsErrorKind::NotEmpty);
    assert_eq!(kind(fs.rmdir(&p("f"))), FsErrorKind::NotADirectory);
    assert_eq!(kind(fs.rmdir(&p("gone"))), FsErrorKind::NotFound);
    assert_eq!(kind(fs.rmdir(&RelPath::root())), FsErrorKind::Other);
    fs.rmdir(&p("empty")).unwrap();
    assert_eq!(fs.stat(&p("empty")).unwrap(), None);
    assert_eq!(fs.trace().len(), 1);
    assert_eq!(fs.trace()[0].to_string(), "rmdir empty");
}

#[test]
fn rename_flags_refuse_to_replace_or_swap_two_names() {
    let mut img = Image::new();
    img.put_file(&p("a"), b"A");
    img.put_file(&p("b"), b"B");
    img.put_file(&p("d/c"), b"C");
    let fs = SimFs::from_image(&img);
    let kind = |r: FsResult<()>| r.unwrap_err().kind;
    let e = fs
        .rename_with(&p("a"), &p("b"), RenameFlags::NO_REPLACE)
        .unwrap_err();
    assert_eq!((e.op, e.kind), (Op::RenameWith, FsErrorKind::AlreadyExists));
    let both = RenameFlags {
        no_replace: true,
        exchange: true,
    };
    assert_eq!(
        kind(fs.rename_with(&p("a"), &p("z"), both)),
        FsErrorKind::Other
    );
    assert_eq!(
        kind(fs.rename_with(&p("a"), &p("z"), RenameFlags::EXCHANGE)),
        FsErrorKind::NotFound
    );
    assert_eq!(
        kind(fs.rename_with(&p("d"), &p("d/c"), RenameFlags::EXCHANGE)),
        FsErrorKind::Other,
        "a directory cannot swap with a name inside it"
    );
    assert_eq!(fs.op_count(), 0);
    fs.rename_with(&p("a"), &p("n"), RenameFlags::NO_REPLACE)
        .unwrap();
    fs.rename_with(&p("n"), &p("d/c"), RenameFlags::EXCHANGE)
        .unwrap();
    let img = fs.image();
    assert_eq!(
        img.get(&p("n")),
        Some(crate::sim::Node::File(Arc::new(b"C".to_vec())))
    );
    assert_eq!(
        img.get(&p("d/c")),
        Some(crate::sim::Node::File(Arc::new(b"A".to_vec())))
    );
    let lines: Vec<String> = fs.trace().iter().map(|op| op.to_string()).collect();
    assert_eq!(lines, ["rename a -> n (noreplace)", "exchange n <-> d/c"]);
    assert_eq!(
        fs.calls().iter().map(|c| c.op).collect::<Vec<_>>(),
        [Op::RenameWith; 6]
    );
}

#[test]
fn new_mutating_calls_are_counted_and_take_injected_faults() {
    let mut img = Image::new();
    img.put_file(&p("a"), b"abc");
    img.put_dir(&p("d"));
    let fs = SimFs::from_image(&img);
    let mut f = fs.open_write(&p("a")).unwrap();
    fs.set_fault(Some(Fault {
        at: 0,
        kind: FaultKind::NoSpace,
    }));
    assert_eq!(
        fs.link(&p("a"), &p("b")).unwrap_err().kind,
        FsErrorKind::NoSpace
    );
    fs.set_fault(Some(Fault {
        at: 1,
        kind: FaultKind::NoSpace,
    }));
    assert_eq!(
        fs.set_mode(&mut f, FileMode::new(0o600).unwrap())
            .unwrap_err()
            .kind,
        FsErrorKind::Io
    );
    fs.set_fault(Some(Fault {
        at: 2,
        kind: FaultKind::Eio,
    }));
    assert_eq!(fs.rmdir(&p("d")).unwrap_err().kind, FsErrorKind::Io);
    fs.set_fault(None);
    assert_eq!(fs.image(), img, "failed calls change nothing");
    let calls: Vec<(Op, bool)> = fs.calls().iter().map(|c| (c.op, c.allocates)).collect();
    assert_eq!(
        calls,
        [(Op::Link, true), (Op::SetMode, false), (Op::Rmdir, false)]
    );
}

#[test]
fn into_parts_hands_over_the_live_view_and_the_trace() {
    let fs = SimFs::new();
    fs.mkdir(&p("d")).unwrap();
    let mut f = fs.create_new(&p("d/a")).unwrap();
    fs.write_at(&mut f, 0, b"abc").unwrap();
    fs.unlink(&p("d/a")).unwrap();
    let (image, trace) = (fs.image(), fs.trace());
    assert_eq!(trace.len(), 4);
    assert_eq!(fs.into_parts(), (image, trace));
}
