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

#[test]
fn the_contract_errors() {
    let mut img = Image::new();
    img.put_file(&p("f"), b"x");
    img.put_file(&p("full/x"), b"x");
    img.put_dir(&p("empty"));
    img.put_symlink(&p("l"), "full");
    let fs = SimFs::from_image(&img);
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
    // Renaming a directory, and over an empty one, is allowed.
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
