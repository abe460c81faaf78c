//! Integration tests of the real Linux backend, each in its own temporary directory.

use crashsafe::fs::real::RealFs;
use crashsafe::fs::{DirEntry, FileKind, FileMode, Fs, FsErrorKind, Metadata, Op, RenameFlags};
use crashsafe::path::RelPath;
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// A root directory inside a temp dir, with a sibling `outside` directory that must never be
/// touched, and the backend opened on the root.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    fs: RealFs,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"outside data").unwrap();
    std::fs::create_dir(outside.join("sub")).unwrap();
    let fs = RealFs::open(&root).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        outside,
        fs,
    }
}

/// Every name under `dir`, recursively, with the contents of regular files.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.insert(path.clone(), None);
            out.extend(snapshot(&path));
        } else {
            out.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn write_file(fs: &RealFs, path: &str, data: &[u8]) {
    let mut f = fs.create_new(&p(path)).unwrap();
    fs.write_at(&mut f, 0, data).unwrap();
}

fn read_file(fs: &RealFs, path: &str) -> Vec<u8> {
    crashsafe::fs::read_capped(fs, &p(path), 1 << 20).unwrap()
}

#[test]
fn create_new_write_and_read_back_roundtrips() {
    let fx = fixture();
    write_file(&fx.fs, "a.txt", b"hello");
    assert_eq!(read_file(&fx.fs, "a.txt"), b"hello");
    assert_eq!(std::fs::read(fx.root.join("a.txt")).unwrap(), b"hello");
}

#[test]
fn create_new_refuses_an_existing_file_and_keeps_its_content() {
    let fx = fixture();
    write_file(&fx.fs, "a", b"old");
    let err = fx.fs.create_new(&p("a")).unwrap_err();
    assert_eq!(err.kind, FsErrorKind::AlreadyExists);
    assert_eq!(err.op, Op::CreateNew);
    assert_eq!(err.path, "a");
    assert!(err.errno.is_some());
    assert_eq!(read_file(&fx.fs, "a"), b"old");
}

#[test]
fn create_new_in_a_missing_directory_is_not_found() {
    let fx = fixture();
    assert_eq!(
        fx.fs.create_new(&p("nope/a")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
}

#[test]
fn write_at_offsets_then_read_back_sees_every_byte() {
    let fx = fixture();
    let mut f = fx.fs.create_new(&p("f")).unwrap();
    fx.fs.write_at(&mut f, 4, b"5678").unwrap();
    fx.fs.write_at(&mut f, 0, b"1234").unwrap();
    fx.fs.write_at(&mut f, 10, b"xy").unwrap();
    let mut buf = [0u8; 3];
    assert_eq!(fx.fs.read_at(&mut f, 2, &mut buf).unwrap(), 3);
    assert_eq!(&buf, b"345");
    assert_eq!(read_file(&fx.fs, "f"), b"12345678\0\0xy");
    let mut end = [0u8; 4];
    assert_eq!(
        fx.fs.read_at(&mut f, 12, &mut end).unwrap(),
        0,
        "0 at end of file"
    );
    let big = vec![7u8; 300_000];
    fx.fs.write_at(&mut f, 0, &big).unwrap();
    assert_eq!(read_file(&fx.fs, "f"), big);
}

#[test]
fn fsync_fdatasync_fsync_dir_and_syncfs_succeed() {
    let fx = fixture();
    fx.fs.mkdir(&p("d")).unwrap();
    let mut f = fx.fs.create_new(&p("d/f")).unwrap();
    fx.fs.write_at(&mut f, 0, b"x").unwrap();
    fx.fs.fsync(&mut f).unwrap();
    fx.fs.fdatasync(&mut f).unwrap();
    fx.fs.fsync_dir(&p("d")).unwrap();
    fx.fs.fsync_dir(&RelPath::root()).unwrap();
    fx.fs.syncfs().unwrap();
}

/// A barrier group of more calls than the backend has threads: all succeed together; with a
/// missing directory among them, the error names that call, and every other call still ran.
#[test]
fn sync_group_issues_every_call_and_reports_the_first_failure_in_order() {
    let fx = fixture();
    let mut files: Vec<_> = (0..40)
        .map(|k| {
            let mut f = fx.fs.create_new(&p(&format!("f{k}"))).unwrap();
            fx.fs.write_at(&mut f, 0, b"data").unwrap();
            f
        })
        .collect();
    fx.fs.mkdir(&p("d")).unwrap();
    let mut refs: Vec<_> = files.iter_mut().collect();
    fx.fs
        .sync_group(&mut refs, &[RelPath::root(), p("d")])
        .unwrap();
    let err = fx
        .fs
        .sync_group(&mut refs, &[p("d"), p("missing"), p("also-missing")])
        .unwrap_err();
    assert_eq!(err.op, Op::FsyncDir);
    assert_eq!(err.kind, FsErrorKind::NotFound);
    assert_eq!(err.path, "missing");
    fx.fs.sync_group(&mut [], &[]).unwrap();
    assert_eq!(read_file(&fx.fs, "f39"), b"data");
}

#[test]
fn sync_group_of_two_calls_or_of_directories_only_reports_like_one_call_at_a_time() {
    let fx = fixture();
    let mut files: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let mut f = fx.fs.create_new(&p(name)).unwrap();
            fx.fs.write_at(&mut f, 0, name.as_bytes()).unwrap();
            f
        })
        .collect();
    let mut refs: Vec<_> = files.iter_mut().collect();
    fx.fs.sync_group(&mut refs, &[]).unwrap();
    fx.fs
        .sync_group(&mut refs[..1], &[RelPath::root()])
        .unwrap();
    let err = fx
        .fs
        .sync_group(&mut refs[..1], &[p("missing")])
        .unwrap_err();
    assert_eq!((err.op, err.kind), (Op::FsyncDir, FsErrorKind::NotFound));
    assert_eq!(err.path, "missing");
    fx.fs.mkdir(&p("d")).unwrap();
    let dirs = [p("gone"), RelPath::root(), p("d"), p("also-gone")];
    let err = fx.fs.sync_group(&mut [], &dirs).unwrap_err();
    assert_eq!((err.op, err.path.as_str()), (Op::FsyncDir, "gone"));
    fx.fs.sync_group(&mut [], &dirs[1..3]).unwrap();
}

/// The files under `dir` that a descriptor of this process still holds although their name is
/// gone (`/proc/self/fd` shows them as `PATH (deleted)`).
fn held_deleted(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|t| t.starts_with(&prefix) && t.ends_with(" (deleted)"))
        .collect()
}

#[test]
fn no_file_replaced_or_unlinked_is_left_open_after_settle_or_drop() {
    let fx = fixture();
    for k in 0..20 {
        for name in [format!("new{k}"), format!("old{k}"), format!("gone{k}")] {
            write_file(&fx.fs, &name, name.as_bytes());
        }
        let (new, old, gone) = (
            p(&format!("new{k}")),
            p(&format!("old{k}")),
            p(&format!("gone{k}")),
        );
        fx.fs.rename(&new, &old).unwrap();
        fx.fs.unlink(&gone).unwrap();
        assert_eq!(
            read_file(&fx.fs, &format!("old{k}")),
            format!("new{k}").as_bytes()
        );
        assert_eq!(fx.fs.stat(&gone).unwrap(), None);
    }
    fx.fs.settle();
    assert_eq!(held_deleted(&fx.root), Vec::<String>::new());
    let Fixture { fs, root, _tmp, .. } = fx;
    write_file(&fs, "x", b"1");
    write_file(&fs, "y", b"2");
    fs.rename(&p("x"), &p("y")).unwrap();
    drop(fs);
    assert_eq!(held_deleted(&root), Vec::<String>::new());
}

#[test]
fn open_read_refuses_a_directory_and_a_missing_file() {
    let fx = fixture();
    fx.fs.mkdir(&p("d")).unwrap();
    assert_eq!(
        fx.fs.open_read(&p("d")).unwrap_err().kind,
        FsErrorKind::IsADirectory
    );
    assert_eq!(
        fx.fs.open_read(&RelPath::root()).unwrap_err().kind,
        FsErrorKind::IsADirectory
    );
    assert_eq!(
        fx.fs.open_read(&p("missing")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
}

#[test]
fn open_read_refuses_a_fifo_without_blocking() {
    let fx = fixture();
    let status = std::process::Command::new("mkfifo")
        .arg(fx.root.join("fifo"))
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this machine
    }
    assert_eq!(
        fx.fs.open_read(&p("fifo")).unwrap_err().kind,
        FsErrorKind::Unsupported
    );
    assert_eq!(
        fx.fs.stat(&p("fifo")).unwrap().unwrap().kind,
        FileKind::Other
    );
}

#[test]
fn renaming_over_a_fifo_and_unlinking_one_never_block() {
    let fx = fixture();
    for name in ["fifo-1", "fifo-2"] {
        let status = std::process::Command::new("mkfifo")
            .arg(fx.root.join(name))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this machine
        }
    }
    write_file(&fx.fs, "new", b"new");
    let Fixture { fs, root, _tmp, .. } = fx;
    // Opening a fifo to read waits for a writer: the calls run on a thread of their own, so that
    // a backend that did would fail this test instead of hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        fs.rename(&p("new"), &p("fifo-1")).unwrap();
        fs.unlink(&p("fifo-2")).unwrap();
        fs.settle();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("rename over a fifo or unlink of one blocked");
    assert_eq!(std::fs::read(root.join("fifo-1")).unwrap(), b"new");
    assert!(!root.join("fifo-2").exists());
}

#[test]
fn rename_replaces_the_target_atomically_and_moves_across_dirs() {
    let fx = fixture();
    fx.fs.mkdir(&p("a")).unwrap();
    fx.fs.mkdir(&p("b")).unwrap();
    write_file(&fx.fs, "a/new", b"new");
    write_file(&fx.fs, "b/old", b"old");
    fx.fs.rename(&p("a/new"), &p("b/old")).unwrap();
    assert_eq!(read_file(&fx.fs, "b/old"), b"new");
    assert_eq!(fx.fs.stat(&p("a/new")).unwrap(), None);
    fx.fs.rename(&p("b/old"), &p("top")).unwrap();
    assert_eq!(read_file(&fx.fs, "top"), b"new");
    assert_eq!(
        fx.fs.rename(&p("gone"), &p("x")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
}

#[test]
fn unlink_removes_a_file_and_refuses_a_directory() {
    let fx = fixture();
    write_file(&fx.fs, "f", b"");
    fx.fs.unlink(&p("f")).unwrap();
    assert_eq!(fx.fs.stat(&p("f")).unwrap(), None);
    assert_eq!(
        fx.fs.unlink(&p("f")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
    fx.fs.mkdir(&p("d")).unwrap();
    assert_eq!(
        fx.fs.unlink(&p("d")).unwrap_err().kind,
        FsErrorKind::IsADirectory
    );
}

#[test]
fn mkdir_creates_a_directory_and_refuses_an_existing_name() {
    let fx = fixture();
    fx.fs.mkdir(&p("d")).unwrap();
    fx.fs.mkdir(&p("d/e")).unwrap();
    assert!(fx.root.join("d/e").is_dir());
    assert_eq!(
        fx.fs.mkdir(&p("d")).unwrap_err().kind,
        FsErrorKind::AlreadyExists
    );
    assert_eq!(
        fx.fs.mkdir(&RelPath::root()).unwrap_err().kind,
        FsErrorKind::AlreadyExists
    );
    assert_eq!(
        fx.fs.mkdir(&p("x/y")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
}

#[test]
fn read_dir_is_sorted_without_dot_entries_and_reports_kinds() {
    let fx = fixture();
    for name in ["zeta", "alpha", "Mid", "beta"] {
        write_file(&fx.fs, name, b"");
    }
    fx.fs.mkdir(&p("dir")).unwrap();
    symlink(&fx.outside, fx.root.join("link")).unwrap();
    let listing = fx.fs.read_dir(&RelPath::root()).unwrap();
    let names: Vec<&str> = listing.iter().filter_map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Mid", "alpha", "beta", "dir", "link", "zeta"]);
    assert!(listing.contains(&DirEntry {
        name: "dir".into(),
        kind: FileKind::Dir
    }));
    assert!(listing.contains(&DirEntry {
        name: "link".into(),
        kind: FileKind::Symlink
    }));
    assert!(listing.contains(&DirEntry {
        name: "alpha".into(),
        kind: FileKind::File
    }));
    assert_eq!(fx.fs.read_dir(&p("dir")).unwrap(), vec![]);
    // Listing the root twice gives the same answer (the root descriptor is not consumed).
    assert_eq!(fx.fs.read_dir(&RelPath::root()).unwrap(), listing);
}

/// The portable part of a `stat`: the kind, the length and the number of names.
fn kind_len_links(m: Metadata) -> (FileKind, u64, u64) {
    (m.kind, m.len, m.nlink)
}

#[test]
fn stat_reports_kind_and_len_none_for_missing_and_error_for_missing_parent() {
    let fx = fixture();
    write_file(&fx.fs, "f", b"12345");
    fx.fs.mkdir(&p("d")).unwrap();
    assert_eq!(
        fx.fs.stat(&p("f")).unwrap().map(kind_len_links),
        Some((FileKind::File, 5, 1))
    );
    assert_eq!(
        fx.fs.stat(&p("d")).unwrap().map(|m| (m.kind, m.len)),
        Some((FileKind::Dir, 0))
    );
    assert_eq!(
        fx.fs.stat(&RelPath::root()).unwrap().unwrap().kind,
        FileKind::Dir
    );
    assert_eq!(fx.fs.stat(&p("missing")).unwrap(), None);
    assert_eq!(fx.fs.stat(&p("d/missing")).unwrap(), None);
    let err = fx.fs.stat(&p("nodir/x")).unwrap_err();
    assert_eq!(err.kind, FsErrorKind::NotFound);
    assert_eq!(err.op, Op::Stat);
    assert_eq!(
        fx.fs.stat(&p("f/x")).unwrap_err().kind,
        FsErrorKind::NotADirectory
    );
}

#[test]
fn every_operation_under_a_symlinked_directory_fails_with_symlink_and_leaves_outside_unchanged() {
    let fx = fixture();
    symlink(&fx.outside, fx.root.join("link")).unwrap();
    write_file(&fx.fs, "local", b"l");
    let before = snapshot(&fx.outside);
    let fs = &fx.fs;
    let kinds = [
        ("create_new", fs.create_new(&p("link/new")).map(drop)),
        (
            "create_new deep",
            fs.create_new(&p("link/sub/new")).map(drop),
        ),
        ("open_read", fs.open_read(&p("link/secret")).map(drop)),
        ("stat", fs.stat(&p("link/secret")).map(drop)),
        ("stat missing", fs.stat(&p("link/missing")).map(drop)),
        ("unlink", fs.unlink(&p("link/secret"))),
        ("rename from", fs.rename(&p("link/secret"), &p("stolen"))),
        ("rename to", fs.rename(&p("local"), &p("link/planted"))),
        ("mkdir", fs.mkdir(&p("link/newdir"))),
        ("read_dir under", fs.read_dir(&p("link/sub")).map(drop)),
        ("read_dir of link", fs.read_dir(&p("link")).map(drop)),
        ("fsync_dir under", fs.fsync_dir(&p("link/sub"))),
        ("fsync_dir of link", fs.fsync_dir(&p("link"))),
    ];
    for (what, result) in kinds {
        assert_eq!(result.unwrap_err().kind, FsErrorKind::Symlink, "{what}");
    }
    assert_eq!(snapshot(&fx.outside), before);
    assert_eq!(
        read_file(fs, "local"),
        b"l",
        "the source of a refused rename stays"
    );
}

#[test]
fn open_read_of_a_symlinked_file_fails_with_symlink() {
    let fx = fixture();
    symlink(fx.outside.join("secret"), fx.root.join("file-link")).unwrap();
    assert_eq!(
        fx.fs.open_read(&p("file-link")).unwrap_err().kind,
        FsErrorKind::Symlink
    );
    assert_eq!(
        fx.fs.stat(&p("file-link")).unwrap().map(kind_len_links),
        Some((FileKind::Symlink, 0, 1))
    );
    let err = fx.fs.create_new(&p("file-link")).unwrap_err();
    assert_eq!(err.kind, FsErrorKind::AlreadyExists);
    assert_eq!(
        std::fs::read(fx.outside.join("secret")).unwrap(),
        b"outside data"
    );
}

#[test]
fn unlinking_a_symlink_removes_the_link_not_its_target() {
    let fx = fixture();
    symlink(fx.outside.join("secret"), fx.root.join("file-link")).unwrap();
    fx.fs.unlink(&p("file-link")).unwrap();
    assert_eq!(fx.fs.stat(&p("file-link")).unwrap(), None);
    assert_eq!(
        std::fs::read(fx.outside.join("secret")).unwrap(),
        b"outside data"
    );
}

#[test]
fn renaming_a_symlink_moves_the_link_not_its_target() {
    let fx = fixture();
    symlink(&fx.outside, fx.root.join("link")).unwrap();
    let before = snapshot(&fx.outside);
    fx.fs.rename(&p("link"), &p("moved")).unwrap();
    assert_eq!(
        fx.fs.stat(&p("moved")).unwrap().unwrap().kind,
        FileKind::Symlink
    );
    assert_eq!(snapshot(&fx.outside), before);
}

#[test]
fn open_refuses_a_symlinked_root() {
    let fx = fixture();
    let link = fx.root.parent().unwrap().join("root-link");
    symlink(&fx.root, &link).unwrap();
    let err = RealFs::open(&link).unwrap_err();
    assert_eq!(err.kind, FsErrorKind::Symlink);
    assert_eq!(err.op, Op::Open);
}

#[test]
fn open_refuses_a_missing_root_and_a_file_root() {
    let fx = fixture();
    let missing = fx.root.join("missing");
    assert_eq!(
        RealFs::open(&missing).unwrap_err().kind,
        FsErrorKind::NotFound
    );
    std::fs::write(fx.root.join("file"), b"").unwrap();
    let err = RealFs::open(&fx.root.join("file")).unwrap_err();
    assert_eq!(err.kind, FsErrorKind::NotADirectory);
}

#[test]
fn open_or_create_makes_a_missing_root_and_reopens_an_existing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("new-root");
    let fs = RealFs::open_or_create(&root).unwrap();
    write_file(&fs, "x", b"1");
    let again = RealFs::open_or_create(&root).unwrap();
    assert_eq!(read_file(&again, "x"), b"1");
    let deep = tmp.path().join("a/b");
    assert_eq!(
        RealFs::open_or_create(&deep).unwrap_err().kind,
        FsErrorKind::NotFound
    );
}

#[test]
fn create_dir_all_works_on_the_real_backend() {
    let fx = fixture();
    let created = crashsafe::fs::create_dir_all(&fx.fs, &p("a/b/c")).unwrap();
    assert_eq!(created, vec![p("a"), p("a/b"), p("a/b/c")]);
    assert!(fx.root.join("a/b/c").is_dir());
}

#[test]
fn real_fs_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RealFs>();
    assert_send_sync::<crashsafe::fs::real::RealFile>();
}

#[test]
fn read_dir_lists_a_non_utf8_name_as_such_beside_the_others() {
    use crashsafe::fs::DirName;
    use std::os::unix::ffi::OsStrExt;
    let fx = fixture();
    fx.fs.mkdir(&p("d")).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff");
    if std::fs::write(fx.root.join("d").join(name), b"").is_err() {
        return; // the filesystem refuses non-UTF-8 names itself
    }
    std::fs::write(fx.root.join("d/good"), b"").unwrap();
    let listing = fx.fs.read_dir(&p("d")).unwrap();
    assert_eq!(
        listing,
        vec![
            DirEntry {
                name: DirName::NotUtf8(b"bad\xff".to_vec()),
                kind: FileKind::File
            },
            DirEntry {
                name: "good".into(),
                kind: FileKind::File
            },
        ]
    );
    assert_eq!(listing[0].name.to_string(), "bad\\xff");
}

#[test]
fn an_intermediate_symlink_to_a_file_fails_with_symlink() {
    let fx = fixture();
    symlink(fx.outside.join("secret"), fx.root.join("file-link")).unwrap();
    assert_eq!(
        fx.fs.stat(&p("file-link/x")).unwrap_err().kind,
        FsErrorKind::Symlink
    );
    assert_eq!(
        fx.fs.create_new(&p("file-link/x")).unwrap_err().kind,
        FsErrorKind::Symlink
    );
}

#[test]
fn write_at_past_the_largest_offset_is_an_error_not_a_panic() {
    let fx = fixture();
    let mut f = fx.fs.create_new(&p("f")).unwrap();
    let err = fx.fs.write_at(&mut f, u64::MAX, b"ab").unwrap_err();
    assert_eq!(err.op, Op::WriteAt);
    assert_eq!(err.path, "f");
    let mut buf = [0u8; 4];
    assert!(fx.fs.read_at(&mut f, u64::MAX, &mut buf).is_err());
}

#[test]
fn operations_on_the_root_itself_report_what_the_syscall_would() {
    let fx = fixture();
    let root = RelPath::root();
    assert_eq!(
        fx.fs.create_new(&root).unwrap_err().kind,
        FsErrorKind::AlreadyExists
    );
    assert_eq!(
        fx.fs.unlink(&root).unwrap_err().kind,
        FsErrorKind::IsADirectory
    );
    assert!(fx.fs.rename(&root, &p("x")).is_err());
    let err = fx.fs.create_new(&root).unwrap_err();
    assert_eq!(err.path, ".");
}

fn read_all(fs: &RealFs, path: &str) -> Vec<u8> {
    crashsafe::fs::read_capped(fs, &p(path), 1 << 20).unwrap()
}

#[test]
fn open_write_appends_overwrites_and_set_len_truncates_and_grows() {
    let fx = fixture();
    write_file(&fx.fs, "log", b"abc");
    let mut f = fx.fs.open_write(&p("log")).unwrap();
    assert_eq!(read_all(&fx.fs, "log"), b"abc", "opening does not truncate");
    let len = fx.fs.stat(&p("log")).unwrap().unwrap().len;
    fx.fs.write_at(&mut f, len, b"de").unwrap();
    fx.fs.write_at(&mut f, 0, b"A").unwrap();
    assert_eq!(read_all(&fx.fs, "log"), b"Abcde");
    fx.fs.set_len(&mut f, 2).unwrap();
    assert_eq!(read_all(&fx.fs, "log"), b"Ab");
    fx.fs.set_len(&mut f, 4).unwrap();
    assert_eq!(read_all(&fx.fs, "log"), b"Ab\0\0");
    fx.fs.fdatasync(&mut f).unwrap();
    // A file opened for reading refuses both (EINVAL, EBADF), as the simulator does.
    let mut r = fx.fs.open_read(&p("log")).unwrap();
    assert_eq!(
        fx.fs.set_len(&mut r, 0).unwrap_err().kind,
        FsErrorKind::Other
    );
    assert_eq!(
        fx.fs.write_at(&mut r, 0, b"x").unwrap_err().kind,
        FsErrorKind::Other
    );
    assert_eq!(read_all(&fx.fs, "log"), b"Ab\0\0");
    symlink(fx.outside.join("secret"), fx.root.join("l")).unwrap();
    let err = fx.fs.open_write(&p("l")).unwrap_err();
    assert_eq!((err.op, err.kind), (Op::OpenWrite, FsErrorKind::Symlink));
    fx.fs.mkdir(&p("d")).unwrap();
    assert_eq!(
        fx.fs.open_write(&p("d")).unwrap_err().kind,
        FsErrorKind::IsADirectory
    );
    assert_eq!(
        fx.fs.open_write(&p("nope")).unwrap_err().kind,
        FsErrorKind::NotFound
    );
    assert_eq!(
        std::fs::read(fx.outside.join("secret")).unwrap(),
        b"outside data"
    );
}

#[test]
fn modes_are_set_exactly_by_set_mode_and_reported_by_stat() {
    let fx = fixture();
    let mode = |bits: u32| FileMode::new(bits).unwrap();
    let mut f = fx.fs.create_new_with_mode(&p("s"), mode(0o600)).unwrap();
    // 0600 has no bit a usual umask (022, 002, 077) clears.
    assert_eq!(fx.fs.stat(&p("s")).unwrap().unwrap().mode, mode(0o600));
    fx.fs.set_mode(&mut f, mode(0o640)).unwrap();
    fx.fs.fsync(&mut f).unwrap();
    assert_eq!(fx.fs.stat(&p("s")).unwrap().unwrap().mode, mode(0o640));
    use std::os::unix::fs::PermissionsExt;
    let seen = std::fs::metadata(fx.root.join("s")).unwrap().permissions();
    assert_eq!(seen.mode() & 0o7777, 0o640);
}

#[test]
fn link_rmdir_and_symlink_act_on_names_without_following() {
    let fx = fixture();
    write_file(&fx.fs, "a", b"one");
    fx.fs.mkdir(&p("d")).unwrap();
    fx.fs.link(&p("a"), &p("d/b")).unwrap();
    assert_eq!(fx.fs.stat(&p("a")).unwrap().unwrap().nlink, 2);
    fx.fs.unlink(&p("a")).unwrap();
    assert_eq!(read_all(&fx.fs, "d/b"), b"one");
    let err = fx.fs.link(&p("d"), &p("e")).unwrap_err();
    assert_eq!(
        (err.op, err.kind),
        (Op::Link, FsErrorKind::PermissionDenied)
    );
    assert_eq!(
        fx.fs.link(&p("d/b"), &p("d/b")).unwrap_err().kind,
        FsErrorKind::AlreadyExists
    );
    // A symlink is linked itself: the new name is a symlink too, never the outside file.
    symlink(fx.outside.join("secret"), fx.root.join("l")).unwrap();
    fx.fs.link(&p("l"), &p("l2")).unwrap();
    assert_eq!(
        fx.fs.stat(&p("l2")).unwrap().unwrap().kind,
        FileKind::Symlink
    );
    fx.fs.symlink(&p("s"), "d/b").unwrap();
    assert_eq!(
        std::fs::read_link(fx.root.join("s")).unwrap(),
        Path::new("d/b")
    );
    assert_eq!(
        fx.fs.symlink(&p("s2"), "").unwrap_err().kind,
        FsErrorKind::NotFound
    );
    assert_eq!(
        fx.fs.rmdir(&p("d")).unwrap_err().kind,
        FsErrorKind::NotEmpty
    );
    assert_eq!(
        fx.fs.rmdir(&p("s")).unwrap_err().kind,
        FsErrorKind::NotADirectory
    );
    fx.fs.unlink(&p("d/b")).unwrap();
    fx.fs.rmdir(&p("d")).unwrap();
    assert_eq!(fx.fs.stat(&p("d")).unwrap(), None);
    assert!(fx.outside.join("secret").exists());
}

#[test]
fn rename_with_no_replace_and_exchange() {
    let fx = fixture();
    write_file(&fx.fs, "a", b"A");
    write_file(&fx.fs, "b", b"B");
    let err = fx
        .fs
        .rename_with(&p("a"), &p("b"), RenameFlags::NO_REPLACE)
        .unwrap_err();
    assert_eq!(
        (err.op, err.kind),
        (Op::RenameWith, FsErrorKind::AlreadyExists)
    );
    let both = RenameFlags {
        no_replace: true,
        exchange: true,
    };
    assert_eq!(
        fx.fs.rename_with(&p("a"), &p("b"), both).unwrap_err().kind,
        FsErrorKind::Other
    );
    assert_eq!(read_all(&fx.fs, "a"), b"A", "nothing changed");
    fx.fs
        .rename_with(&p("a"), &p("c"), RenameFlags::NO_REPLACE)
        .unwrap();
    fx.fs
        .rename_with(&p("c"), &p("b"), RenameFlags::EXCHANGE)
        .unwrap();
    assert_eq!(read_all(&fx.fs, "c"), b"B");
    assert_eq!(read_all(&fx.fs, "b"), b"A");
    assert_eq!(
        fx.fs
            .rename_with(&p("c"), &p("zz"), RenameFlags::EXCHANGE)
            .unwrap_err()
            .kind,
        FsErrorKind::NotFound
    );
}
