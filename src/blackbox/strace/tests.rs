use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/strace/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn calls<'a>(events: &'a [Event], name: &str) -> Vec<&'a Call> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call(c) if c.name == name => Some(c),
            _ => None,
        })
        .collect()
}

fn s(bytes: &[u8]) -> Arg {
    Arg::Str {
        bytes: bytes.to_vec(),
        truncated: false,
    }
}

#[test]
fn a_python_run_parses_names_data_flags_and_descriptors() {
    let events = parse_log(&fixture("python_ops.txt")).unwrap();
    let open = calls(&events, "openat")[0];
    assert_eq!(open.args[0].num(), Some(-100));
    assert_eq!(open.args[1], s(b"a,b>\"c.tmp"));
    assert_eq!(open.args[2], Arg::Num(0x80241));
    assert_eq!(open.args[3], Arg::Num(0o644));
    match &open.ret {
        Ret::Value(3, Some(path)) => assert!(path.ends_with(b"/d/a,b>\"c.tmp")),
        other => panic!("{other:?}"),
    }
    let write = calls(&events, "write")[0];
    assert_eq!(write.args[1], s(b"hello\n\x00\xff"));
    assert_eq!(write.ok(), Some(8));
    let writev = calls(&events, "writev")[0];
    let Arg::Array(iov) = &writev.args[1] else {
        panic!("{writev:?}")
    };
    assert_eq!(iov[1].field("iov_base"), Some(&s(b"cd")));
    assert_eq!(iov[1].field("iov_len"), Some(&Arg::Num(2)));
    let clone = calls(&events, "clone")[0];
    assert_eq!(
        clone.args[1],
        Arg::Named("flags".into(), Box::new(Arg::Num(0x1200000 | 17)))
    );
    assert_eq!(clone.ok(), Some(5760));
    assert_eq!(calls(&events, "exit_group")[0].ret, Ret::Unknown);
    assert!(events
        .iter()
        .any(|e| e.pid == 5759 && e.kind == EventKind::Signal("SIGCHLD".into())));
    let child: Vec<_> = events.iter().filter(|e| e.pid == 5760).collect();
    assert_eq!(child.len(), 4, "openat, write, close, exit_group");
    assert_eq!(calls(&events, "rename")[0].args[1], s(b"data"));
}

#[test]
fn unfinished_and_resumed_lines_make_one_call_with_both_lines() {
    let text = fixture("threads.txt");
    let events = parse_log(&text).unwrap();
    let open = events
        .iter()
        .find(|e| e.pid == 6141 && matches!(&e.kind, EventKind::Call(c) if c.name == "openat"))
        .unwrap();
    let EventKind::Call(c) = &open.kind else {
        unreachable!()
    };
    assert_eq!(c.args[1], s(b"t1"));
    assert_eq!(c.args[3], Arg::Num(0o600));
    assert!(matches!(&c.ret, Ret::Value(4, Some(p)) if p.ends_with(b"/t1")));
    assert_eq!(open.text.lines().count(), 2);
    assert!(open.text.contains("<unfinished ...>") && open.text.contains("resumed>"));
    // Every write of 6141 carries its data and its return value, whether split or not.
    let writes: Vec<&Call> = events
        .iter()
        .filter(|e| e.pid == 6141)
        .filter_map(|e| match &e.kind {
            EventKind::Call(c) if c.name == "write" => Some(c),
            _ => None,
        })
        .collect();
    for (i, w) in writes.iter().enumerate() {
        assert_eq!(w.args[1], s(format!("line {i}\n").as_bytes()));
    }
    // The last write is still unfinished where the log was cut: it never returned.
    assert_eq!(writes.last().unwrap().ret, Ret::Unknown);
    assert!(writes[..writes.len() - 1].iter().all(|w| w.ok().is_some()));
    let clone3 = calls(&events, "clone3");
    assert_eq!(clone3.len(), 3);
    assert_eq!(clone3[0].args[0].field("flags"), Some(&Arg::Num(0x3d0f00)));
    assert!(
        matches!(clone3[0].args[0], Arg::Changed(..)),
        "{:?}",
        clone3[0].args[0]
    );
}

#[test]
fn a_process_creating_call_comes_before_its_childs_first_calls() {
    let log = "10  clone(child_stack=NULL, flags=0x1200000|17 <unfinished ...>\n\
               11  close(3</x>) = 0\n\
               10  <... clone resumed>, child_tidptr=0x7f) = 11\n\
               10  close(4</y>) = 0\n";
    let events = parse_log(log).unwrap();
    let order: Vec<(u32, &str)> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Call(c) => (e.pid, c.name.as_str()),
            _ => (e.pid, "?"),
        })
        .collect();
    assert_eq!(order, [(10, "clone"), (11, "close"), (10, "close")]);
    let EventKind::Call(clone) = &events[0].kind else {
        unreachable!()
    };
    assert_eq!(clone.args.len(), 3);
    assert_eq!(clone.ok(), Some(11));
    assert_eq!(events[0].line_no, 1);
}

#[test]
fn errors_exits_kills_and_truncated_strings() {
    let log = "7  openat(-100</d>, \"\\x61\", 0x80000) = -1 ENOENT (No such file or directory)\n\
               7  write(1<pipe:[9]>, \"\\x61\\x62\"..., 4096) = 4096\n\
               7  close(5<\\x2f\\x73\\x68\\x6d>(deleted)) = 0\n\
               8  +++ killed by SIGKILL +++\n\
               7  +++ exited with 3 +++\n";
    let events = parse_log(log).unwrap();
    let EventKind::Call(open) = &events[0].kind else {
        panic!()
    };
    assert_eq!(open.ret, Ret::Error("ENOENT".into()));
    let EventKind::Call(write) = &events[1].kind else {
        panic!()
    };
    assert_eq!(
        write.args[1],
        Arg::Str {
            bytes: b"ab".to_vec(),
            truncated: true
        }
    );
    assert_eq!(
        write.args[0],
        Arg::Fd {
            fd: 1,
            path: b"pipe:[9]".to_vec()
        }
    );
    let EventKind::Call(close) = &events[2].kind else {
        panic!()
    };
    assert_eq!(
        close.args[0],
        Arg::Fd {
            fd: 5,
            path: b"/shm".to_vec()
        },
        "an unlinked file's descriptor"
    );
    assert_eq!(events[3].kind, EventKind::Killed("SIGKILL".into()));
    assert_eq!(events[4].kind, EventKind::Exited(3));
}

#[test]
fn bad_lines_are_errors_with_their_line_number() {
    let e = parse_log("7  close(3) = 0\nnot a log line\n").unwrap_err();
    assert_eq!(e.line_no, 2);
    let e = parse_log("7  close(3 = 0\n").unwrap_err();
    assert_eq!(e.line_no, 1);
    let e = parse_log("7  <... close resumed>) = 0\n").unwrap_err();
    assert!(e.reason.contains("never started"), "{e}");
    let e = parse_log("7  write(1, \"\\x6\", 1) = 1\n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
}
