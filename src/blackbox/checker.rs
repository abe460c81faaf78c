//! Running the user's checker on a crash state (after recovery): materialize it as a real
//! directory and run the checker in it (exit 0 = consistent). The recovery command runs
//! elsewhere, traced ([`super::recovery`]); the process helpers here serve both.
//!
//! A command runs as `sh -c 'CMD "$1"' crashsafe STATE_DIR` (or, when `CMD` is plain words, as
//! those words and `STATE_DIR` without the shell), with `STATE_DIR` as its working directory and
//! the variable `CRASHSAFE_STATE` naming it; the checker also gets `CRASHSAFE_ACKS`, a file
//! holding the acknowledged stdout lines the crash state must keep (one per line). A command
//! that runs past the timeout is killed with its whole process group.

use super::snapshot::materialize;
use crate::path::RelPath;
use crate::sim::Image;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The user's commands and how to run them.
#[derive(Debug, Clone)]
pub struct Checker {
    /// The checker's command line (run by `sh -c`, the state's directory appended).
    pub check: String,
    /// The per-command time limit.
    pub timeout: Duration,
    /// Where to copy each failing crash state (as it was before recovery).
    pub keep_failures: Option<PathBuf>,
    /// Where the states are materialized (a fresh directory is made under it per state).
    pub scratch: PathBuf,
    /// The snapshot's directory permission bits, by path.
    pub dir_modes: BTreeMap<RelPath, u32>,
}

/// What the commands said about one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The checker exited 0.
    Consistent,
    /// The checker failed.
    Failed {
        /// The exit status, as text.
        status: String,
        /// The end of its stdout and stderr.
        output: String,
    },
    /// The checker ran past the timeout.
    TimedOut,
    /// Recovery failed, the state could not be materialized, or the checker could not start.
    Error(String),
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The scratch directory for states: `$TMPDIR`, or `/dev/shm` (a tmpfs) when `TMPDIR` is unset
/// and it exists.
pub fn default_scratch() -> PathBuf {
    if std::env::var_os("TMPDIR").is_none() {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            return shm.to_path_buf();
        }
    }
    std::env::temp_dir()
}

/// A fresh empty directory under `parent`.
pub(crate) fn fresh_dir(parent: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{prefix}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

impl Checker {
    /// Materializes `image`, writes `acks` and runs the checker.
    pub fn judge(&self, image: &Image, acks: &[String]) -> Verdict {
        let work = match fresh_dir(&self.scratch, "crashsafe-state") {
            Ok(w) => w,
            Err(e) => {
                return Verdict::Error(format!(
                    "cannot make a directory under {}: {e}",
                    self.scratch.display()
                ))
            }
        };
        let verdict = self.judge_in(&work, image, acks);
        let _ = make_writable_and_remove(&work);
        verdict
    }

    fn judge_in(&self, work: &Path, image: &Image, acks: &[String]) -> Verdict {
        let state = work.join("state");
        let acks_file = work.join("acks");
        let setup = fs::create_dir(&state)
            .and_then(|()| materialize(image, &self.dir_modes, &state))
            .and_then(|()| fs::write(&acks_file, ack_text(acks)));
        if let Err(e) = setup {
            return Verdict::Error(format!("cannot write the crash state: {e}"));
        }
        let out_path = work.join("checker.out");
        let spawned = File::create(&out_path).and_then(|out| {
            command_line(&self.check, &state)
                .env("CRASHSAFE_ACKS", &acks_file)
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
        });
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return Verdict::Error(format!("cannot run the checker {:?}: {e}", self.check))
            }
        };
        match wait_for(&mut child, self.timeout) {
            Ok(Some(status)) if status.success() => Verdict::Consistent,
            Ok(Some(status)) => Verdict::Failed {
                status: describe_status(status),
                output: tail(&fs::read(&out_path).unwrap_or_default()),
            },
            Ok(None) => Verdict::TimedOut,
            Err(e) => Verdict::Error(format!("waiting for the checker: {e}")),
        }
    }

    /// Copies `image` (and its acks) to a new directory under `--keep-failures`, returning it.
    pub fn keep(&self, image: &Image, acks: &[String], name: &str) -> Option<PathBuf> {
        let dir = self.keep_failures.as_ref()?;
        let dest = dir.join(name);
        let result = fs::create_dir_all(dir)
            .and_then(|()| match fs::create_dir(&dest) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            })
            .and_then(|()| {
                let state = dest.join("state");
                if state.exists() {
                    return Ok(());
                }
                fs::create_dir(&state)?;
                materialize(image, &self.dir_modes, &state)?;
                fs::write(dest.join("acks"), ack_text(acks))
            });
        result.ok().map(|()| dest)
    }
}

/// Words the shell itself gives meaning to as a command (reserved words and builtins that have
/// no program of their own): a command starting with one always runs through `sh`.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "alias", "bg", "break", "case", "cd", "command", "continue", "do", "done", "elif",
    "else", "esac", "eval", "exec", "exit", "export", "fc", "fg", "fi", "for", "getopts", "hash",
    "if", "in", "jobs", "local", "read", "readonly", "return", "set", "shift", "then", "times",
    "trap", "type", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The process that runs `cmd` on `state` (its working directory, in a process group of its
/// own, stdin closed): `sh -c 'CMD "$1"' crashsafe STATE`, or, when `CMD`
/// is plain words (no character the shell would treat specially), those words and `STATE`
/// without the shell, which is the same command one `exec` cheaper.
pub(crate) fn command_line(cmd: &str, state: &Path) -> Command {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=,:@%".contains(c);
    let words: Vec<&str> = cmd.split_ascii_whitespace().collect();
    let direct = !words.is_empty()
        && cmd.chars().all(|c| plain(c) || c == ' ')
        && !words[0].contains('=')
        && !SHELL_WORDS.contains(&words[0]);
    let mut command;
    if direct {
        command = Command::new(words[0]);
        command.args(&words[1..]);
    } else {
        command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{cmd} \"$1\""))
            .arg("crashsafe");
    }
    use std::os::unix::process::CommandExt;
    command
        .arg(state)
        .current_dir(state)
        .env("CRASHSAFE_STATE", state)
        .stdin(Stdio::null())
        .process_group(0);
    command
}

fn ack_text(acks: &[String]) -> String {
    let mut s = String::new();
    for a in acks {
        s.push_str(a);
        s.push('\n');
    }
    s
}

/// An exit status as text.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_string(),
    }
}

/// The last 2000 bytes of a command's output, as text.
pub(crate) fn tail(out: &[u8]) -> String {
    let start = out.len().saturating_sub(2000);
    String::from_utf8_lossy(&out[start..])
        .trim_end()
        .to_string()
}

/// Waits up to `timeout`; past it, kills the child's process group and returns `None`.
pub(crate) fn wait_for(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    // Short pauses: a checker run takes a few milliseconds, and every pause past its end is
    // time its worker thread stands idle.
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if start.elapsed() >= timeout {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .arg(format!("-{}", child.id()))
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_micros(500));
    }
}

/// Removes a scratch directory even if a command left read-only directories in it.
pub(crate) fn make_writable_and_remove(dir: &Path) -> std::io::Result<()> {
    if fs::remove_dir_all(dir).is_ok() {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    fn open_up(p: &Path) {
        if let Ok(meta) = fs::symlink_metadata(p) {
            if meta.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                if let Ok(rd) = fs::read_dir(p) {
                    for e in rd.flatten() {
                        open_up(&e.path());
                    }
                }
            }
        }
    }
    open_up(dir);
    fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(cmd: &str) -> Vec<String> {
        let c = command_line(cmd, Path::new("/s"));
        std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn plain_words_run_directly_and_anything_else_through_the_shell() {
        assert_eq!(spelled("sh /x/check.sh"), ["sh", "/x/check.sh", "/s"]);
        assert_eq!(
            spelled("python3 -u check.py --mode=strict"),
            ["python3", "-u", "check.py", "--mode=strict", "/s"]
        );
        for shell in [
            "check.sh; true",
            "exit 3",
            "cd sub",
            "FOO=1 prog",
            "a $HOME",
            "a *",
        ] {
            assert_eq!(
                spelled(shell),
                ["sh", "-c", &format!("{shell} \"$1\""), "crashsafe", "/s"],
                "{shell}"
            );
        }
    }

    #[test]
    fn the_checker_sees_the_state_and_the_acks_and_its_exit_is_the_verdict() {
        let scratch = tempfile::tempdir().unwrap();
        let checker = |check: &str| Checker {
            check: check.to_string(),
            timeout: Duration::from_secs(30),
            keep_failures: None,
            scratch: scratch.path().to_path_buf(),
            dir_modes: BTreeMap::new(),
        };
        let mut image = Image::new();
        image.put_file(&RelPath::new("f").unwrap(), b"x");
        let acks = ["one".to_string()];
        // Through the shell (`&&`), the state's directory appended to the last `test -d`.
        let ok = "test -f f && grep -qx one \"$CRASHSAFE_ACKS\" && test -d";
        assert_eq!(checker(ok).judge(&image, &acks), Verdict::Consistent);
        assert!(matches!(
            checker(ok).judge(&image, &[]),
            Verdict::Failed { .. }
        ));
        assert!(matches!(
            checker("false").judge(&image, &acks),
            Verdict::Failed { .. }
        ));
        assert_eq!(checker("true").judge(&image, &acks), Verdict::Consistent);
        // Every state's directory is removed afterwards.
        assert_eq!(fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
