//! The `crashsafe` binary: `update` (one file, deletion, increment, batch manifests), `inspect`
//! and `recover`, with their exit codes (0 done, 1 refused or corrupt, 2 usage or I/O error).

mod common;

use common::{intent, record, Fixture};
use std::path::Path;
use std::process::{Command, Output};

fn crashsafe(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crashsafe"));
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fixture with host source files `src/new`, `src/inc`, `src/b` beside the root.
fn with_sources() -> Fixture {
    let f = Fixture::new();
    let src = f.tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("new"), b"new content").unwrap();
    std::fs::write(src.join("inc"), b"increment").unwrap();
    std::fs::write(src.join("b"), b"bbb").unwrap();
    f
}

fn src(f: &Fixture, name: &str) -> std::path::PathBuf {
    f.tmp.path().join("src").join(name)
}

#[test]
fn update_from_a_file_with_an_increment_exits_0() {
    let f = with_sources();
    f.write("t", b"old");
    let out = crashsafe(&[
        &"update",
        &f.root,
        &"t",
        &"--from",
        &src(&f, "new"),
        &"--increment",
        &"t.1",
        &"--increment-from",
        &src(&f, "inc"),
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stdout(&out).contains("committed 1 update"),
        "{}",
        stdout(&out)
    );
    assert_eq!(f.read("t").unwrap(), b"new content");
    assert_eq!(f.read("t.1").unwrap(), b"increment");
    assert!(f.entries().is_empty());
}

#[test]
fn update_delete_exits_0() {
    let f = with_sources();
    f.write("t", b"old");
    let out = crashsafe(&[&"update", &f.root, &"t", &"--delete"]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(!f.exists("t"));
}

#[test]
fn update_batch_commits_the_manifest() {
    let f = with_sources();
    f.write("gone", b"x");
    let manifest = f.tmp.path().join("manifest");
    std::fs::write(
        &manifest,
        format!(
            "# a comment\n\na {}\nb\t{}\tb.1\t{}\ngone -\n",
            src(&f, "new").display(),
            src(&f, "b").display(),
            src(&f, "inc").display()
        ),
    )
    .unwrap();
    for atomic in [false, true] {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"update", &f.root, &"--batch", &manifest];
        if atomic {
            args.push(&"--atomic");
            std::fs::remove_file(f.at("b.1")).unwrap();
            f.write("gone", b"x");
        }
        let out = crashsafe(&args);
        assert_eq!(code(&out), 0, "{out:?}");
        assert!(
            stdout(&out).contains("committed 3 updates"),
            "{}",
            stdout(&out)
        );
        assert_eq!(f.read("a").unwrap(), b"new content");
        assert_eq!(f.read("b").unwrap(), b"bbb");
        assert_eq!(f.read("b.1").unwrap(), b"increment");
        assert!(!f.exists("gone"));
    }
}

#[test]
fn bad_manifest_line_is_reported_as_manifest_colon_line_and_exits_2() {
    let f = with_sources();
    let manifest = f.tmp.path().join("manifest");
    std::fs::write(
        &manifest,
        format!("a {}\n# ok\nonly-one-field\n", src(&f, "new").display()),
    )
    .unwrap();
    let out = crashsafe(&[&"update", &f.root, &"--batch", &manifest]);
    assert_eq!(code(&out), 2, "{out:?}");
    let expected = format!("{}:3: ", manifest.display());
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert!(!f.exists("a"), "nothing committed");

    std::fs::write(&manifest, "../escape /dev/null\n").unwrap();
    let out = crashsafe(&[&"update", &f.root, &"--batch", &manifest]);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(
        stderr(&out).contains(&format!("{}:1: target", manifest.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let f = with_sources();
    for args in [
        vec![],
        vec!["update"],
        vec!["frobnicate"],
        vec!["update", f.root.to_str().unwrap(), "t"], // neither --from nor --delete
        vec![
            "update",
            f.root.to_str().unwrap(),
            "t",
            "--delete",
            "--from",
            "x",
        ],
        vec![
            "update",
            f.root.to_str().unwrap(),
            "--atomic",
            "t",
            "--delete",
        ],
        vec![
            "update",
            f.root.to_str().unwrap(),
            "t",
            "--delete",
            "--increment",
            "i",
        ],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crashsafe"));
        let out = cmd.args(&args).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {out:?}");
    }
    assert!(!f.exists("t"));
}

/// Regression: `--atomic` is declared `requires = "batch"`, but clap does not enforce a
/// requirement when an argument conflicting with it is present, and TARGET conflicts with
/// `--batch`. So `crashsafe update ROOT t --delete --atomic` committed and exited 0, silently
/// ignoring a flag that the help says needs `--batch`. It is now a usage error (exit 2), and
/// nothing is committed.
#[test]
fn atomic_without_batch_is_a_usage_error_and_commits_nothing() {
    let f = with_sources();
    f.write("t", b"old");
    for args in [
        vec![
            "update",
            f.root.to_str().unwrap(),
            "--atomic",
            "t",
            "--delete",
        ],
        vec![
            "update",
            f.root.to_str().unwrap(),
            "t",
            "--delete",
            "--atomic",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {out:?}");
        assert!(stderr(&out).contains("--batch"), "{}", stderr(&out));
    }
    assert_eq!(f.read("t").unwrap(), b"old");
    assert!(f.entries().is_empty());
}

#[test]
fn help_exits_0() {
    assert_eq!(code(&crashsafe(&[&"--help"])), 0);
}

#[test]
fn unsafe_target_or_missing_root_or_refused_commit_exits_2() {
    let f = with_sources();
    let out = crashsafe(&[&"update", &f.root, &"../x", &"--from", &src(&f, "new")]);
    assert_eq!(code(&out), 2, "{out:?}");
    let out = crashsafe(&[&"recover", &f.tmp.path().join("no-such-root")]);
    assert_eq!(code(&out), 2, "{out:?}");
    f.write("t.1", b"exists");
    let out = crashsafe(&[
        &"update",
        &f.root,
        &"t",
        &"--from",
        &src(&f, "new"),
        &"--increment",
        &"t.1",
        &"--increment-from",
        &src(&f, "inc"),
    ]);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(
        stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert!(!f.exists("t"));
}

#[test]
fn inspect_and_recover_on_a_clean_journal_exit_0() {
    let f = Fixture::new();
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stdout(&out).contains("0 pending, 0 torn, 0 refused"),
        "{}",
        stdout(&out)
    );
    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(stdout(&out).contains("nothing to do"), "{}", stdout(&out));
}

#[test]
fn inspect_lists_a_pending_entry_and_recover_rolls_it_back() {
    let f = Fixture::new();
    f.write("t", b"old");
    f.write("t.1", b"inc");
    let entry = intent(
        1,
        false,
        vec![record(
            1,
            0,
            "t",
            Some(b"old"),
            Some(b"new"),
            Some(("t.1", b"inc")),
        )],
    );
    f.put_entry(&entry);
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("1 pending"), "{text}");
    assert!(
        text.contains("write t: target holds the old content"),
        "{text}"
    );
    assert!(text.contains("increment t.1 present"), "{text}");
    assert_eq!(f.entries().len(), 1, "inspect changes nothing");

    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(stdout(&out).contains("rolled back"), "{}", stdout(&out));
    assert_eq!(f.read("t").unwrap(), b"old");
    assert!(!f.exists("t.1"));
    assert!(f.entries().is_empty());
}

#[test]
fn inspect_and_recover_exit_1_on_a_corrupt_entry() {
    let f = Fixture::new();
    let entry = intent(1, false, vec![record(1, 0, "t", None, None, None)]);
    let mut bytes = crashsafe::format::encode(&entry).unwrap();
    bytes[6] = 1; // reserved bits: written whole by something else
    f.put_entry_bytes("0000000000000001.intent", &bytes);
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(stdout(&out).contains("refused entry"), "{}", stdout(&out));
    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(code(&out), 1, "{out:?}");
    assert_eq!(f.entries().len(), 1, "a refused entry stays");
    // A refusal is something recovery has to say, though it changed nothing.
    let text = stdout(&out);
    assert!(!text.contains("nothing to do"), "{text}");
    // An update is blocked by the refused entry.
    let out = crashsafe(&[&"update", &f.root, &"t", &"--delete"]);
    assert_eq!(code(&out), 1, "{out:?}");
}

#[test]
fn inspect_exits_1_on_a_torn_entry_and_recover_discards_it() {
    let f = Fixture::new();
    f.put_entry_bytes("0000000000000001.intent", b"CSJE\x01\x00");
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(code(&out), 1, "{out:?}");
    assert!(stdout(&out).contains("torn entry"), "{}", stdout(&out));
    let out = crashsafe(&[&"recover", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stdout(&out).contains("discarded torn entry"),
        "{}",
        stdout(&out)
    );
    assert!(f.entries().is_empty());
}

#[test]
fn update_recovers_pending_entries_first() {
    let f = with_sources();
    f.write("t", b"old");
    f.write("t.1", b"inc");
    let entry = intent(
        1,
        false,
        vec![record(
            1,
            0,
            "t",
            Some(b"old"),
            Some(b"new"),
            Some(("t.1", b"inc")),
        )],
    );
    f.put_entry(&entry);
    let out = crashsafe(&[&"update", &f.root, &"u", &"--from", &src(&f, "b")]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stderr(&out).contains("recovering them first"),
        "{}",
        stderr(&out)
    );
    assert!(!f.exists("t.1"));
    assert_eq!(f.read("u").unwrap(), b"bbb");
    assert!(f.entries().is_empty());
}

/// A plain replace whose intent joined its data's barrier can leave, after a power loss, only
/// its temp file: no entry names it, so the journal opens ready and `update` used to commit
/// straight away, leaving the orphan beside the user's file until someone ran `recover`. Now
/// `update` always recovers first (quietly when there is nothing to do), and the sweep of the
/// registered directories removes it. `inspect` lists it first.
#[test]
fn update_sweeps_an_orphan_temp_left_without_an_entry() {
    let f = with_sources();
    f.write("a/x", b"old");
    let first = crashsafe(&[&"update", &f.root, &"a/x", &"--from", &src(&f, "new")]);
    assert_eq!(code(&first), 0, "{first:?}");
    assert_eq!(stderr(&first), "", "nothing to recover, nothing said");
    let orphan = "a/.crashsafe-00000000000000ff-0.tmp";
    f.write(orphan, b"half a transaction");
    // `inspect` lists it, changing nothing, and exits 0 (an orphan blocks nothing).
    let out = crashsafe(&[&"inspect", &f.root]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stdout(&out).contains(&format!("orphan {orphan}: a temp file no entry names")),
        "{}",
        stdout(&out)
    );
    assert!(f.exists(orphan));
    let out = crashsafe(&[&"update", &f.root, &"a/y", &"--from", &src(&f, "b")]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(
        stderr(&out).contains(&format!("removed {orphan}")),
        "{}",
        stderr(&out)
    );
    assert!(!f.exists(orphan));
    assert_eq!(f.read("a/x").unwrap(), b"new content");
    assert_eq!(f.read("a/y").unwrap(), b"bbb");
    assert!(f.entries().is_empty());
}

fn journal_override(journal: &dyn AsRef<std::ffi::OsStr>, f: &Fixture, dir: &Path) {
    let out = crashsafe(&[
        &"update",
        &f.root,
        &"t",
        &"--from",
        &src(f, "new"),
        &"--journal",
        journal,
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(dir.is_dir(), "the journal lives in {}", dir.display());
    assert!(!f.exists(".crashsafe"), "the default journal was not used");
    let entry = intent(
        9,
        false,
        vec![record(9, 0, "t", Some(b"new content"), None, None)],
    );
    let bytes = crashsafe::format::encode(&entry).unwrap();
    std::fs::write(dir.join("0000000000000009.intent"), bytes).unwrap();
    let out = crashsafe(&[&"inspect", &f.root, &"--journal", journal]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(stdout(&out).contains("1 pending"), "{}", stdout(&out));
    let out = crashsafe(&[&"recover", &f.root, &"--journal", journal]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert!(common::names_in(dir).is_empty());
}

#[test]
fn journal_override_relative_to_the_root() {
    let f = with_sources();
    journal_override(&"state/j", &f, &f.at("state/j"));
}

#[test]
fn journal_override_absolute_inside_the_root() {
    let f = with_sources();
    let abs = std::fs::canonicalize(&f.root).unwrap().join("jj");
    journal_override(&abs, &f, &f.at("jj"));
}

#[test]
fn journal_override_outside_the_root_exits_2() {
    let f = with_sources();
    let out = crashsafe(&[&"recover", &f.root, &"--journal", &f.outside]);
    assert_eq!(code(&out), 2, "{out:?}");
    let out = crashsafe(&[&"recover", &f.root, &"--journal", &"../outside"]);
    assert_eq!(code(&out), 2, "{out:?}");
}
