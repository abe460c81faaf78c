//! Black-box mode end to end, through the real binary: `crashsafe record` runs a small program
//! under strace, `crashsafe check --trace` explores its crash states with the program's checker.
//! Each known-bad protocol in `examples/blackbox/` is caught under `posix`; its correct twin is
//! clean under every model. The tests skip, saying why, only where strace or ptrace is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crashsafe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crashsafe"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/blackbox")
}

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Why black-box tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    match Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .output()
    {
        Err(e) => Some(format!("strace is not installed ({e})")),
        Ok(o) if !o.status.success() => Some(format!(
            "strace cannot trace here (ptrace not permitted?): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => match Command::new(python()).arg("-c").arg("pass").status() {
            Ok(s) if s.success() => None,
            _ => Some("python3 is not installed".into()),
        },
    }
}

macro_rules! require_strace {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// Skips a test, saying why, where the `sqlite3` command is missing.
macro_rules! require_sqlite {
    () => {
        if Command::new("sqlite3").arg("-version").output().is_err() {
            eprintln!("SKIPPED: sqlite3 is not installed");
            return;
        }
    };
}

/// Records `examples/blackbox/sqlite/txns.sh` committing `txns` transactions with `PRAGMA
/// synchronous=<sync>` in `case`'s directory; the recording must succeed.
fn record_sqlite_txns(case: &Case, txns: &str, sync: &str) {
    let rec = crashsafe()
        .arg("record")
        .arg("--dir")
        .arg(case.dir())
        .arg("--out")
        .arg(case.trace())
        .arg("--")
        .arg("sh")
        .arg(examples().join("sqlite").join("txns.sh"))
        .arg(case.dir())
        .args([txns, sync])
        .output()
        .unwrap();
    assert!(rec.status.success(), "{}", text(&rec));
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory with `DIR` (`d`) inside, seeded with `files`.
struct Case {
    tmp: tempfile::TempDir,
}

impl Case {
    fn new(files: &[(&str, &str)]) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        for (path, content) in files {
            let full = tmp.path().join("d").join(path);
            if path.ends_with('/') {
                std::fs::create_dir_all(full).unwrap();
            } else {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(full, content).unwrap();
            }
        }
        Case { tmp }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("d")
    }

    fn trace(&self) -> PathBuf {
        self.tmp.path().join("trace")
    }

    fn record(&self, script: &str, args: &[&str]) -> Output {
        crashsafe()
            .arg("record")
            .arg("--dir")
            .arg(self.dir())
            .arg("--out")
            .arg(self.trace())
            .arg("--")
            .arg(python())
            .arg(examples().join(script))
            .arg(self.dir())
            .args(args)
            .output()
            .unwrap()
    }

    /// `check --trace` with `--jobs 2` unless `extra` says otherwise.
    fn check(&self, checker: &str, extra: &[&str]) -> Output {
        let mut cmd = crashsafe();
        cmd.arg("check")
            .arg("--trace")
            .arg(self.trace())
            .arg("--checker")
            .arg(checker);
        if !extra.contains(&"--jobs") {
            cmd.args(["--jobs", "2"]);
        }
        cmd.args(extra).output().unwrap()
    }
}

fn py_checker(script: &str) -> String {
    format!("{} {}", python(), examples().join(script).display())
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Records `script args`, checks it under `posix` and returns the check's output.
fn run_case(files: &[(&str, &str)], script: &str, args: &[&str], checker: &str) -> Output {
    let case = Case::new(files);
    let rec = case.record(script, args);
    assert!(rec.status.success(), "record failed: {}", text(&rec));
    let before = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    let out = case.check(checker, &[]);
    let after = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    assert_eq!(before, after, "check changed DIR or the trace");
    out
}

fn assert_caught(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("smallest counterexample under posix"),
        "{}",
        text(out)
    );
    assert!(
        s.contains("strace line"),
        "quotes the strace lines: {}",
        text(out)
    );
}

fn assert_clean(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no violation"));
}

#[test]
fn replace_without_fsync_is_caught_and_its_twin_is_clean() {
    require_strace!();
    let files = [("config", "old\n")];
    let checker = py_checker("replace_check.py");
    let bad = run_case(&files, "replace.py", &["new", "--no-fsync"], &checker);
    assert_caught(&bad);
    assert!(String::from_utf8_lossy(&bad.stdout).contains("config is torn"));
    assert_clean(&run_case(&files, "replace.py", &["new"], &checker));
}

#[test]
fn append_acknowledged_before_fdatasync_is_caught_and_its_twin_is_clean() {
    require_strace!();
    let checker = py_checker("append_check.py");
    let bad = run_case(&[], "append.py", &["3", "--ack-early"], &checker);
    assert_caught(&bad);
    assert!(String::from_utf8_lossy(&bad.stdout).contains("was acknowledged"));
    assert_clean(&run_case(&[], "append.py", &["3"], &checker));
}

#[test]
fn new_file_without_directory_fsync_is_caught_and_its_twin_is_clean() {
    require_strace!();
    let files = [("inbox/", "")];
    let checker = format!("sh {}", examples().join("newfile_check.sh").display());
    let bad = run_case(&files, "newfile.py", &["--no-dir-fsync"], &checker);
    assert_caught(&bad);
    assert!(String::from_utf8_lossy(&bad.stdout).contains("inbox/msg is missing"));
    assert_clean(&run_case(&files, "newfile.py", &[], &checker));
}

#[test]
fn a_replay_token_shows_the_same_state_again() {
    require_strace!();
    let case = Case::new(&[("config", "old\n")]);
    assert!(case
        .record("replace.py", &["new", "--no-fsync"])
        .status
        .success());
    let checker = py_checker("replace_check.py");
    let out = case.check(&checker, &["--model", "posix"]);
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let token = s
        .split_whitespace()
        .find(|w| w.starts_with("cs2:blackbox-") && w.contains(":posix:"))
        .unwrap_or_else(|| panic!("no token in {s}"));
    let again = case.check(&checker, &["--replay", token]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("config is torn"));
    // The token names its recording: against another one it is refused.
    let other = Case::new(&[("config", "old\n")]);
    assert!(other
        .record("replace.py", &["newer", "--no-fsync"])
        .status
        .success());
    let wrong = other.check(&checker, &["--replay", token]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("subject"));
}

#[test]
fn json_report_and_kept_failures() {
    require_strace!();
    let case = Case::new(&[]);
    assert!(case
        .record("append.py", &["2", "--ack-early"])
        .status
        .success());
    let json = case.tmp.path().join("report.json");
    let keep = case.tmp.path().join("kept");
    let out = case.check(
        &py_checker("append_check.py"),
        &[
            "--model".as_ref(),
            "posix".as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
            "--keep-failures".as_ref(),
            keep.as_os_str(),
        ]
        .map(|s: &std::ffi::OsStr| s.to_str().unwrap()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["models"][0]["model"], "posix");
    assert!(report["models"][0]["violations"].as_u64().unwrap() > 0);
    // JUnit too, and the same counts with one job as with two.
    let junit = case.tmp.path().join("junit.xml");
    let json1 = case.tmp.path().join("report1.json");
    let one = case.check(
        &py_checker("append_check.py"),
        &[
            "--model",
            "posix",
            "--jobs",
            "1",
            "--json",
            json1.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(one.status.code(), Some(1), "{}", text(&one));
    let report1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json1).unwrap()).unwrap();
    for field in ["crash_states", "distinct_states", "violations"] {
        assert_eq!(
            report1["models"][0][field], report["models"][0][field],
            "{field}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"posix\"") && xml.contains("<failure"),
        "{xml}"
    );
    let kept: Vec<_> = std::fs::read_dir(&keep).unwrap().collect();
    assert!(!kept.is_empty());
    let first = kept[0].as_ref().unwrap().path();
    assert!(first.join("state").is_dir() && first.join("acks").is_file());
}

#[test]
fn a_failing_program_or_an_unmodelled_call_gets_a_clear_error() {
    require_strace!();
    // A program that exits non-zero.
    let case = Case::new(&[]);
    let out = crashsafe()
        .args(["record", "--dir"])
        .arg(case.dir())
        .arg("--out")
        .arg(case.trace())
        .args(["--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited with"));
    assert!(!case.trace().exists(), "nothing recorded");
    // A rename into DIR from outside it: unmodelled, named, with its line.
    let outside = case.tmp.path().join("elsewhere");
    std::fs::write(&outside, "x").unwrap();
    let out = crashsafe()
        .args(["record", "--dir"])
        .arg(case.dir())
        .arg("--out")
        .arg(case.trace())
        .args(["--", "mv"])
        .arg(&outside)
        .arg(case.dir().join("moved"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        err.contains("rename") && err.contains("into the directory"),
        "{err}"
    );
    assert!(err.contains("strace line"), "{err}");
}

#[test]
fn a_bad_checker_or_trace_gets_a_clear_error() {
    require_strace!();
    // A checker that rejects the uncrashed state.
    let case = Case::new(&[("config", "old\n")]);
    assert!(case.record("replace.py", &["new"]).status.success());
    let out = case.check("false", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("on the initial state"));
    // A checker that hangs: killed at the timeout, reported on the initial state.
    let out = case.check("sleep 30; true", &["--timeout", "0.3"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timed out"),
        "{}",
        text(&out)
    );
    // A checker without a trace.
    let out = crashsafe()
        .args(["check", "--checker", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace"));
    // Not a trace file.
    std::fs::write(case.trace(), "hello").unwrap();
    let out = case.check("true", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a crashsafe trace file"));
}

#[test]
fn the_one_shot_form_records_and_checks() {
    require_strace!();
    let case = Case::new(&[]);
    let out = crashsafe()
        .args(["check", "--dir"])
        .arg(case.dir())
        .args([
            "--checker",
            &py_checker("append_check.py"),
            "--model",
            "posix",
        ])
        .arg("--")
        .arg(python())
        .arg(examples().join("append.py"))
        .arg(case.dir())
        .args(["2", "--ack-early"])
        .output()
        .unwrap();
    assert_caught(&out);
}

#[test]
fn sqlite_with_synchronous_off_loses_acknowledged_transactions() {
    require_strace!();
    require_sqlite!();
    let case = Case::new(&[]);
    let sqlite = examples().join("sqlite");
    record_sqlite_txns(&case, "1", "OFF");
    let checker = format!("sh {}", sqlite.join("check.sh").display());
    let out = case.check(&checker, &["--model", "posix"]);
    assert_caught(&out);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("was acknowledged but is missing")
            || s.contains("integrity_check")
            || s.contains("table t is missing"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_writable_shared_mmap_is_refused_unless_ignored() {
    require_strace!();
    require_sqlite!();
    // SQLite in WAL mode maps its -shm file shared and writable.
    let record = |case: &Case, extra: &[&str]| {
        let db = case.dir().join("db");
        crashsafe()
            .arg("record")
            .args(extra)
            .arg("--dir")
            .arg(case.dir())
            .arg("--out")
            .arg(case.trace())
            .args(["--", "sqlite3"])
            .arg(&db)
            .arg("PRAGMA journal_mode=WAL; CREATE TABLE t(id); INSERT INTO t VALUES(1);")
            .output()
            .unwrap()
    };
    let case = Case::new(&[]);
    let out = record(&case, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mmap") && err.contains("db-shm"), "{err}");
    assert!(err.contains("--ignore-mmap"), "{err}");
    let case = Case::new(&[]);
    let out = record(&case, &["--ignore-mmap"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Records `journal.py` on a directory holding the old `data`.
fn journal_case() -> Case {
    let case = Case::new(&[("data", "old contents\n")]);
    let rec = case.record("journal.py", &[]);
    assert!(rec.status.success(), "record failed: {}", text(&rec));
    case
}

/// `check` of `case` with `journal_recover.py FLAGS` as `--recover` and `extra` options; DIR and
/// the trace are left as they were.
fn check_journal(case: &Case, flags: &str, extra: &[&str]) -> Output {
    let recover = format!("{} {flags}", py_checker("journal_recover.py"));
    let mut args = vec!["--recover", &recover];
    args.extend_from_slice(extra);
    let before = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    let out = case.check(&py_checker("journal_check.py"), &args);
    let after = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    assert_eq!(before, after, "check changed DIR or the trace");
    out
}

/// The violations of each crash kind in a `--json` report of one model.
fn violations_by_kind(json: &Path) -> Vec<(String, u64)> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    report["models"][0]["by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["crash_kind"].as_str().unwrap().to_string(),
                k["violations"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn crashes_inside_the_recover_command_are_explored() {
    require_strace!();
    let case = journal_case();
    // Recovery that removes the journal before rewriting the data: only a power loss inside
    // recovery shows it, so with --depth 0 it passes and with crashes inside recovery it fails.
    let flat = check_journal(
        &case,
        "--unlink-first",
        &["--model", "prefix", "--depth", "0"],
    );
    assert_clean(&flat);
    let deep = check_journal(&case, "--unlink-first", &["--model", "prefix"]);
    assert_eq!(deep.status.code(), Some(1), "{}", text(&deep));
    let s = String::from_utf8_lossy(&deep.stdout);
    assert!(s.contains("recovery #1, run on the state above"), "{s}");
    assert!(s.contains("data is b''"), "{s}");
    // The correct recovery is clean under the strictest model, crashes inside it included.
    assert_clean(&check_journal(&case, "", &["--model", "posix"]));
}

#[test]
fn a_process_crash_runs_the_recover_command_on_the_live_view() {
    require_strace!();
    let case = journal_case();
    // Recovery that acts on a journal it has not made durable: after a process crash it reads
    // the journal from the page cache; a power loss then loses the journal and keeps the
    // truncated data. Only process crashes show it.
    let json = case.tmp.path().join("process.json");
    let out = check_journal(
        &case,
        "--no-journal-fsync",
        &["--model", "ext4-ordered", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("process crash: the workload's process died"),
        "{s}"
    );
    assert!(s.contains("[recovery]"), "{s}");
    let kinds = violations_by_kind(&json);
    assert_eq!(kinds[0], ("power".to_string(), 0), "{kinds:?}");
    assert_eq!(kinds[1].0, "process");
    assert!(kinds[1].1 > 0, "{kinds:?}");
    // A recovery operation is not annotated with a line of the program's log.
    let recovery_line = s
        .lines()
        .position(|l| l.contains("[recovery]"))
        .expect("a recovery operation");
    let next = s.lines().nth(recovery_line + 1).unwrap_or("");
    assert!(!next.contains("strace line"), "{s}");
    // Its replay token names the process crash, and replays it (recovery traced again).
    let token = s
        .split_whitespace()
        .find(|w| w.starts_with("cs2:blackbox-") && w.contains(":c=process@"))
        .unwrap_or_else(|| panic!("no process token in {s}"));
    let again = check_journal(&case, "--no-journal-fsync", &["--replay", token]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("data is b''"));
    // The correct recovery fsyncs the journal first: clean under the same model.
    assert_clean(&check_journal(&case, "", &["--model", "ext4-ordered"]));
}

#[test]
fn a_failing_or_unmodelled_recover_command_is_reported() {
    require_strace!();
    let case = journal_case();
    // Recovery that fails on the uncrashed state: nothing is explored.
    let out = case.check(
        &py_checker("journal_check.py"),
        &["--recover", "false", "--model", "prefix"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("on the initial state") && err.contains("the recover command failed"),
        "{err}"
    );
    // Recovery that renames a file out of the state: unmodelled, named with its line.
    let out = case.check(
        &py_checker("journal_check.py"),
        &[
            "--recover",
            "mv data ../elsewhere && true",
            "--model",
            "prefix",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot follow") && err.contains("rename"),
        "{err}"
    );
    // Recovery that changes DIR by its own path instead of the state it is given: refused,
    // saying DIR may have changed.
    let stray = case.dir().join("stray");
    let out = case.check(
        &py_checker("journal_check.py"),
        &[
            "--recover",
            &format!("touch '{}' && true", stray.display()),
            "--model",
            "prefix",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("itself") && err.contains("may be changed now"),
        "{err}"
    );
}

#[test]
fn a_missing_strace_and_an_unmodelled_call_are_clear_errors() {
    // Without strace on the PATH (no skip needed: this is the case being tested).
    let case = Case::new(&[]);
    let empty = case.tmp.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let out = crashsafe()
        .env("PATH", &empty)
        .args(["record", "--dir"])
        .arg(case.dir())
        .arg("--out")
        .arg(case.trace())
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strace is not installed") && err.contains("nothing was recorded"),
        "{err}"
    );
    assert!(!case.trace().exists());
    // A call that changes DIR in a way the harness does not model: a FIFO made in it.
    require_strace!();
    let out = crashsafe()
        .args(["record", "--dir"])
        .arg(case.dir())
        .arg("--out")
        .arg(case.trace())
        .args(["--", "mkfifo"])
        .arg(case.dir().join("fifo"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mknod") && err.contains("FIFO") && err.contains("strace line"),
        "{err}"
    );
    assert!(!case.trace().exists());
}

#[test]
fn sqlite_recovery_runs_traced_with_process_crashes_explored() {
    require_strace!();
    require_sqlite!();
    let case = Case::new(&[]);
    let sqlite = examples().join("sqlite");
    record_sqlite_txns(&case, "1", "FULL");
    // SQLite's own recovery: opening the database rolls a hot journal back.
    let json = case.tmp.path().join("sqlite.json");
    let before = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    let out = case.check(
        &format!("sh {}", sqlite.join("check.sh").display()),
        &[
            "--recover",
            "sqlite3 -batch app.db 'PRAGMA user_version;' >/dev/null; true",
            "--model",
            "posix",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let after = (tree(&case.dir()), std::fs::read(case.trace()).unwrap());
    assert_eq!(before, after, "check changed DIR or the trace");
    // The journal's unlink is not made durable (see the README): violations, all the checker's
    // (recovery itself never failed nor did anything unmodelled).
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let model = &report["models"][0];
    let process = &model["by_kind"][1];
    assert_eq!(process["crash_kind"], "process");
    assert!(
        process["distinct_states"].as_u64().unwrap() > 0,
        "recovery on the live views issued operations: {model}"
    );
    for w in model["per_workload"].as_array().unwrap() {
        for c in w["counterexamples"].as_array().unwrap() {
            assert_eq!(c["invariant"], "checker", "{c}");
        }
    }
}
