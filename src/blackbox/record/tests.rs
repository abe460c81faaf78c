use super::*;
use crate::blackbox::strace::parse_log;
use crate::sim::{Image, Node, TraceOp};

fn settings() -> RecordSettings {
    RecordSettings {
        dir: PathBuf::from("/tmp/stx/d"),
        cwd: PathBuf::from("/tmp/stx"),
        ignore_mmap: false,
        umask: 0o022,
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("\\x{b:02x}")).collect()
}

type Replay = (Vec<TraceOp>, Image, Vec<(usize, String)>);

/// Replays `log` on an empty directory: the trace, the final image and the acks.
fn run(log: &str) -> Result<Replay, RecordError> {
    let events = parse_log(log).unwrap();
    let fs = SimFs::new();
    let mut acks = AckLog::new();
    replay_log(&events, &settings(), &fs, &mut acks)?;
    Ok((fs.trace(), fs.image(), acks.entries().to_vec()))
}

fn file(image: &Image, p: &str) -> Option<Vec<u8>> {
    match image.get(&RelPath::new(p).unwrap()) {
        Some(Node::File(d)) => Some(d.to_vec()),
        _ => None,
    }
}

#[test]
fn the_python_fixture_replays_into_the_tree_the_program_left() {
    let log = std::fs::read_to_string(format!(
        "{}/tests/fixtures/strace/python_ops.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (trace, image, acks) = run(&log).unwrap();
    // write "hello\n\0\xff", pwrite "xy" at 2, writev "abcd" at the shared offset 8,
    // ftruncate to 3, then renamed to "data"; a symlink, a link then unlinked; the child's append.
    assert_eq!(file(&image, "data").unwrap(), b"hex");
    assert_eq!(
        image.get(&RelPath::new("sub/ln").unwrap()),
        Some(Node::Symlink("data".into()))
    );
    assert!(file(&image, "hard").is_none());
    assert_eq!(file(&image, "sub/child").unwrap(), b"x");
    assert_eq!(
        image.mode(&RelPath::new("data").unwrap()).unwrap().bits(),
        0o644 & !0o022
    );
    // After the ack, only the child's create and append.
    assert_eq!(acks, vec![(trace.len() - 2, "committed 1".to_string())]);
    let names: Vec<String> = trace.iter().map(|op| op.to_string()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("fsync_dir")),
        "{names:?}"
    );
}

#[test]
fn umask_and_chmod_set_modes() {
    let log = format!(
        "1  umask(077) = 022\n\
         1  openat(-100, \"{f}\", 0x241, 0666) = 3\n\
         1  openat(-100, \"{g}\", 0x241, 0666) = 4\n\
         1  fchmod(4, 0640) = 0\n\
         1  mkdir(\"{sub}\", 0700) = 0\n\
         1  chmod(\"{sub}\", 0700) = 0\n",
        f = hex("d/f"),
        g = hex("d/g"),
        sub = hex("d/sub"),
    );
    let e = run(&log).unwrap_err();
    assert_eq!((e.syscall.as_str(), e.line_no), ("chmod", 6), "{e}");
    let ok: String = log.lines().take(5).map(|l| format!("{l}\n")).collect();
    let (_, image, _) = run(&ok).unwrap();
    let mode = |p: &str| image.mode(&RelPath::new(p).unwrap()).unwrap().bits();
    assert_eq!((mode("f"), mode("g")), (0o600, 0o640));
}

#[test]
fn writes_follow_the_description_offset_and_short_writes() {
    let d = hex("/tmp/stx/d");
    let log = format!(
        "1  openat(-100<{d}>, \"{}\", 0x241, 0644) = 3<{d}>\n\
         1  write(3, \"{}\", 5) = 3\n\
         1  write(3, \"{}\", 2) = 2\n\
         1  pwrite64(3, \"{}\", 1, 0) = 1\n\
         1  dup(3) = 4\n\
         1  write(4, \"{}\", 1) = 1\n\
         1  close(3) = 0\n\
         1  openat(-100, \"{}\", 0x441, 0644) = 5\n\
         1  write(5, \"{}\", 2) = 2\n\
         1  fsync(5) = 0\n",
        hex("d/f"),
        hex("hello"),
        hex("XY"),
        hex("J"),
        hex("!"),
        hex("d/g"),
        hex("ab"),
    );
    let (trace, image, _) = run(&log).unwrap();
    // A short write (3 of 5 bytes) moves the offset by 3; pwrite does not move it; the dup
    // shares the offset.
    assert_eq!(file(&image, "f").unwrap(), b"JelXY!");
    assert_eq!(file(&image, "g").unwrap(), b"ab");
    assert!(matches!(trace.last(), Some(TraceOp::Fsync { .. })));
}

#[test]
fn append_mode_writes_at_the_end_and_stdout_lines_are_acks() {
    let log = format!(
        "1  openat(-100, \"{}\", 0x441, 0644) = 3\n\
         1  write(3, \"{}\", 3) = 3\n\
         1  write(1<pipe:[5]>, \"{}\", 7) = 7\n\
         1  lseek(3, 0, 0) = 0\n\
         1  write(3, \"{}\", 3) = 3\n\
         1  fdatasync(3) = 0\n\
         1  write(1, \"{}\", 4) = 4\n",
        hex("d/log"),
        hex("a1\n"),
        hex("ok 1\nok"),
        hex("a2\n"),
        hex(" 2\n."),
    );
    let (trace, image, acks) = run(&log).unwrap();
    assert_eq!(file(&image, "log").unwrap(), b"a1\na2\n");
    assert_eq!(
        acks,
        vec![
            (2, "ok 1".to_string()),
            (4, "ok 2".to_string()),
            (4, ".".to_string())
        ]
    );
    assert_eq!(trace.len(), 4);
}

#[test]
fn fork_copies_the_table_clone_files_shares_it_and_exec_drops_cloexec() {
    let log = format!(
        "1  openat(-100, \"{f}\", 0x241, 0644) = 3\n\
         1  clone(child_stack=NULL, flags=0x1200000|17) = 2\n\
         2  close(3) = 0\n\
         1  write(3, \"{a}\", 1) = 1\n\
         1  clone(child_stack=NULL, flags=0x400|17) = 7\n\
         7  close(3) = 0\n\
         1  write(3<{f}>, \"{a}\", 1) = 1\n",
        f = hex("/tmp/stx/d/f"),
        a = hex("a"),
    );
    let e = run(&log).unwrap_err();
    assert_eq!(e.line_no, 7, "7 closed the shared descriptor 3: {e}");
    assert_eq!(e.syscall, "write");
    let log = format!(
        "1  openat(-100, \"{f}\", 0x80241, 0644) = 3\n\
         1  execve(\"/bin/x\", [], 0x0 /* 3 vars */) = 0\n\
         1  write(3, \"{a}\", 1) = 1\n",
        f = hex("d/f"),
        a = hex("a"),
    );
    // Descriptor 3 was close-on-exec: after exec it is not the file under DIR any more.
    let (_, image, _) = run(&log).unwrap();
    assert_eq!(file(&image, "f").unwrap(), b"");
}

#[test]
fn at_calls_resolve_against_their_directory_descriptor_and_chdir() {
    let log = format!(
        "1  mkdir(\"{sub}\", 0777) = 0\n\
         1  openat(-100, \"{sub}\", 0x10000) = 3\n\
         1  openat(3, \"{x}\", 0x41, 0600) = 4\n\
         1  chdir(\"{sub}\") = 0\n\
         1  openat(-100, \"{y}\", 0x41, 0600) = 5\n\
         1  renameat(3, \"{x}\", -100, \"{z}\") = 0\n\
         1  fsync(3) = 0\n",
        sub = hex("d/sub"),
        x = hex("x"),
        y = hex("y"),
        z = hex("../z"),
    );
    let (trace, image, _) = run(&log).unwrap();
    assert!(file(&image, "sub/y").is_some());
    assert!(file(&image, "z").is_some());
    assert!(file(&image, "sub/x").is_none());
    assert!(matches!(trace.last(), Some(TraceOp::FsyncDir { .. })));
}

#[test]
fn unmodelled_changes_are_errors_naming_the_syscall_and_line() {
    let cases = [
        format!("1  rename(\"{}\", \"{}\") = 0\n", hex("/etc/x"), hex("d/x")),
        format!(
            "1  openat(-100, \"{}\", 0x42, 0644) = 3\n1  mmap(NULL, 4096, 0x3, 0x1, 3, 0) = 0x7f00\n",
            hex("d/db")
        ),
        "1  io_uring_setup(8, {}) = 3\n".to_string(),
        format!(
            "1  write(9<{}>, \"{}\", 1) = 1\n",
            hex("/tmp/stx/d/f"),
            hex("a")
        ),
        format!(
            "1  openat(-100, \"{}\", 0x42, 0644) = 3\n1  write(3, \"{}\"..., 9) = 9\n",
            hex("d/db"),
            hex("ab")
        ),
    ];
    let names = ["rename", "mmap", "io_uring_setup", "write", "write"];
    for (log, name) in cases.iter().zip(names) {
        let e = run(log).unwrap_err();
        assert_eq!(e.syscall, name, "{e}");
        assert!(e.to_string().contains("strace line"), "{e}");
    }
    // Outside DIR, the same calls are fine.
    run(&format!(
        "1  rename(\"{}\", \"{}\") = 0\n",
        hex("/etc/x"),
        hex("/etc/y")
    ))
    .unwrap();
}

#[test]
fn copies_fallocate_and_links_between_files_of_the_directory() {
    let log = std::fs::read_to_string(format!(
        "{}/tests/fixtures/strace/copy_ops.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let events = parse_log(&log).unwrap();
    let fs = SimFs::new();
    let settings = RecordSettings {
        dir: PathBuf::from("/tmp/stx/d2"),
        ..settings()
    };
    replay_log(&events, &settings, &fs, &mut AckLog::new()).unwrap();
    let image = fs.image();
    // What the real file held after the run (`od -c`): copy_file_range at the shared offset,
    // then at explicit offsets, sendfile at the offset, fallocate to 20 bytes.
    let mut want = b"012312\x00\x00\x00\x00789".to_vec();
    want.resize(20, 0);
    assert_eq!(file(&image, "dst").unwrap(), want);
    assert_eq!(file(&image, "dst2").unwrap(), want);
    assert_eq!(image.nlink(&RelPath::new("dst").unwrap()), Some(2));
}

#[test]
fn a_copy_from_outside_the_directory_is_refused() {
    let log = format!(
        "1  openat(-100, \"{}\", 0x0) = 3\n\
         1  openat(-100, \"{}\", 0x42, 0644) = 4\n\
         1  sendfile(4, 3, NULL, 5) = 5\n",
        hex("/etc/hosts"),
        hex("d/copy"),
    );
    let e = run(&log).unwrap_err();
    assert_eq!((e.syscall.as_str(), e.line_no), ("sendfile", 3), "{e}");
    assert!(e.to_string().contains("not in the log"), "{e}");
}

#[test]
fn standard_output_redirected_into_the_directory_is_not_an_ack_channel() {
    let log = format!(
        "1  write(1<{}>, \"{}\", 3) = 3\n",
        hex("/tmp/stx/d/out"),
        hex("ok\n")
    );
    let e = run(&log).unwrap_err();
    assert_eq!(e.syscall, "write");
    assert!(e.to_string().contains("standard output"), "{e}");
    // Elsewhere, it is.
    let log = format!(
        "1  write(1<{}>, \"{}\", 3) = 3\n",
        hex("/dev/pts/0"),
        hex("ok\n")
    );
    assert_eq!(run(&log).unwrap().2, vec![(0, "ok".to_string())]);
}

#[test]
fn a_read_logged_raw_advances_the_offset_by_its_hex_return_value() {
    // `-e raw=read,readv`: the descriptor, buffer and count as hex numbers, no bytes.
    let log = format!(
        "1  openat(-100, \"{f}\", 0x42, 0644) = 3\n\
         1  write(3, \"{abcd}\", 4) = 4\n\
         1  lseek(3, 0, 0) = 0\n\
         1  read(0x3, 0x7ffc33bf4298, 0x2) = 0x2\n\
         1  readv(0x3, 0x7ffc33bf4000, 0x1) = 0x1\n\
         1  read(0x3, 0x7ffc33bf4298, 0x10) = -1 EAGAIN (Resource temporarily unavailable)\n\
         1  write(3, \"{xy}\", 2) = 2\n",
        f = hex("/tmp/stx/d/f"),
        abcd = hex("abcd"),
        xy = hex("XY"),
    );
    let (_, image, _) = run(&log).unwrap();
    assert_eq!(file(&image, "f").unwrap(), b"abcXY");
}
