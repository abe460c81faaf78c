//! From the parsed `strace` log to the harness's trace: the calls replayed through per-process
//! descriptor tables onto a [`SimFs`] seeded with the snapshot of `DIR`.
//!
//! The recorder keeps, for every process, a descriptor table (descriptor → open file
//! description, with the close-on-exec flag) and a current directory. An open file description
//! holds what the descriptor names (a file or directory under `DIR` as a [`SimFile`], the
//! program's standard output, or something outside `DIR`), its offset and `O_APPEND`.
//! `dup`/`dup2`/`dup3`/`fcntl(F_DUPFD*)` share a description; `fork`/`clone` copy the table, or
//! share it with `CLONE_FILES`; a successful `exec` drops the close-on-exec descriptors. Paths
//! are resolved lexically against the current directory or the `*at` call's directory
//! descriptor; only those under `DIR` are modelled.
//!
//! Each successful call that changes `DIR` is applied to the [`SimFs`] through the [`Fs`] trait,
//! which records the [`crate::sim::TraceOp`]s (with inodes). A call that changes `DIR` in a way
//! the harness cannot model (a rename or hard link across `DIR`'s boundary, a writable shared
//! `mmap` of a file in it, `O_TMPFILE`, `io_uring`, a copy whose bytes are not in the log, the
//! mode of a directory...) is a
//! [`RecordError`] naming the syscall and quoting the line: never a silently wrong trace.
//!
//! Bytes the program writes to its standard output (when that is not a file under `DIR`) are its
//! acknowledgements: each line is pushed as an ack at the point of the trace where it was
//! written. `sync_file_range` promises nothing about durability (its man page) and is not a
//! barrier; `utimensat` and other metadata-only calls are not traced. A new file gets the mode
//! its `open` asked for less the process's umask (followed through `umask` calls); a new
//! directory gets 0755 whatever `mkdir` asked (directory modes are not modelled).

use super::strace::{is_process_creation, readable, Arg, Call, Event, EventKind, Ret};
use crate::fs::{FileKind, FileMode, Fs, FsError, RenameFlags};
use crate::path::RelPath;
use crate::sim::{AckLog, SimFile, SimFs};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Component, PathBuf};
use std::rc::Rc;

/// The `-e trace=` list `record` passes to strace: every call the recorder interprets, and the
/// ones it refuses when they touch `DIR`.
pub const TRACED_SYSCALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "read",
    "readv",
    "lseek",
    "write",
    "pwrite64",
    "writev",
    "pwritev",
    "pwritev2",
    "truncate",
    "ftruncate",
    "fallocate",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "chmod",
    "fchmod",
    "fchmodat",
    "umask",
    "fsync",
    "fdatasync",
    "sync",
    "syncfs",
    "sync_file_range",
    "copy_file_range",
    "sendfile",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "chdir",
    "fchdir",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "mmap",
    "io_uring_setup",
];

// Linux x86-64 / generic flag values, as `-X raw` prints them.
const O_ACCMODE: i64 = 0o3;
const O_CREAT: i64 = 0o100;
const O_EXCL: i64 = 0o200;
const O_TRUNC: i64 = 0o1000;
const O_APPEND: i64 = 0o2000;
const O_DIRECTORY: i64 = 0o200000;
const O_CLOEXEC: i64 = 0o2000000;
const O_TMPFILE_ONLY: i64 = 0o20000000;
const AT_FDCWD: i64 = -100;
const AT_REMOVEDIR: i64 = 0x200;
const CLONE_FS: i64 = 0x200;
const CLONE_FILES: i64 = 0x400;
const RENAME_NOREPLACE: i64 = 1;
const RENAME_EXCHANGE: i64 = 2;
const AT_SYMLINK_FOLLOW: i64 = 0x400;
const F_DUPFD: i64 = 0;
const F_SETFD: i64 = 2;
const F_SETFL: i64 = 4;
const F_DUPFD_CLOEXEC: i64 = 1030;
const FD_CLOEXEC: i64 = 1;
const MAP_SHARED: i64 = 0x1;
const PROT_WRITE: i64 = 0x2;
const FALLOC_FL_KEEP_SIZE: i64 = 0x1;
const FALLOC_FL_PUNCH_HOLE: i64 = 0x2;

/// Why a log could not be turned into a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The call changes `DIR` in a way the harness does not model.
    Unmodelled(String),
    /// The simulated filesystem refused a call the real one accepted: the log and the snapshot
    /// disagree (another process changed `DIR`, or a symlink was followed).
    Diverged(FsError),
    /// A write's bytes were cut at strace's `-s` cap.
    Truncated,
    /// The line is not the call the recorder expected (missing or odd arguments).
    Malformed(String),
}

/// A log that could not be turned into a trace: which call, on which line, and why. Nothing is
/// written anywhere when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strace line {line_no}, {syscall}: {}\n  the call: {decoded}\n  as logged: {text}", describe(.kind))]
pub struct RecordError {
    /// The syscall.
    pub syscall: String,
    /// The 1-based line of the log.
    pub line_no: usize,
    /// The original line(s).
    pub text: String,
    /// The call with its strings decoded.
    pub decoded: String,
    /// What went wrong.
    pub kind: RecordErrorKind,
}

fn describe(kind: &RecordErrorKind) -> String {
    match kind {
        RecordErrorKind::Unmodelled(why) => {
            format!("changes the directory in a way crashsafe does not model ({why})")
        }
        RecordErrorKind::Diverged(e) => format!(
            "the simulated directory refused what the real one did ({e}): did something else \
             change the directory, or did the program go through a symlink?"
        ),
        RecordErrorKind::Truncated => {
            "the written bytes were cut by strace's -s cap; record again with a larger --cap"
                .to_string()
        }
        RecordErrorKind::Malformed(why) => format!("unexpected arguments ({why})"),
    }
}

/// What the recorder needs besides the log.
#[derive(Debug, Clone)]
pub struct RecordSettings {
    /// The directory under test, absolute and without symlinks.
    pub dir: PathBuf,
    /// The program's initial working directory, absolute.
    pub cwd: PathBuf,
    /// Accept writable shared `mmap`s of files under `DIR` (their writes are not seen).
    pub ignore_mmap: bool,
    /// The program's umask when it started (the `umask` calls it makes are followed).
    pub umask: u32,
}

/// What a replay produced besides the trace in the [`SimFs`]: for each trace operation, the
/// index of the log event that issued it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// `op_events[i]`: the event (index into the log) that issued trace operation `i`.
    pub op_events: Vec<usize>,
}

/// Replays `events` onto `fs` (seeded with the snapshot), pushing the program's stdout lines to
/// `acks`. See the module doc.
pub fn replay_log(
    events: &[Event],
    settings: &RecordSettings,
    fs: &SimFs,
    acks: &mut AckLog<String>,
) -> Result<Replayed, RecordError> {
    let mut r = Recorder {
        settings,
        fs,
        procs: BTreeMap::new(),
        stdout_line: Vec::new(),
        acks,
    };
    let mut out = Replayed::default();
    for (i, event) in events.iter().enumerate() {
        let EventKind::Call(call) = &event.kind else {
            continue;
        };
        let before = fs.op_count();
        r.call(event.pid, call).map_err(|kind| RecordError {
            syscall: call.name.clone(),
            line_no: event.line_no,
            text: event.text.clone(),
            decoded: readable(event),
            kind,
        })?;
        out.op_events
            .extend(std::iter::repeat_n(i, fs.op_count() - before));
    }
    if !r.stdout_line.is_empty() {
        let line = String::from_utf8_lossy(&r.stdout_line).into_owned();
        r.acks.push(fs.op_count(), line);
    }
    Ok(out)
}

/// What a descriptor names.
#[derive(Debug, Clone)]
enum Target {
    /// A file under `DIR`.
    File(SimFile),
    /// A directory under `DIR` (or `DIR` itself), by the path it was opened under.
    Dir(RelPath),
    /// The program's standard output (its acknowledgements).
    Stdout,
    /// Anything outside `DIR`: its absolute path, when known.
    Outside(Option<PathBuf>),
}

#[derive(Debug)]
struct Description {
    target: Target,
    offset: u64,
    append: bool,
}

type Desc = Rc<RefCell<Description>>;

#[derive(Debug, Clone)]
struct FdEntry {
    desc: Desc,
    cloexec: bool,
}

type FdTable = Rc<RefCell<BTreeMap<i64, FdEntry>>>;

#[derive(Debug, Clone)]
struct Process {
    fds: FdTable,
    cwd: Rc<RefCell<PathBuf>>,
    /// Shared with `CLONE_FS`, like the cwd.
    umask: Rc<Cell<u32>>,
}

/// Where a path lands.
enum Loc {
    /// Under `DIR` (the root is `DIR` itself).
    In(RelPath),
    /// Outside `DIR`.
    Out(PathBuf),
}

struct Recorder<'a> {
    settings: &'a RecordSettings,
    fs: &'a SimFs,
    procs: BTreeMap<u32, Process>,
    stdout_line: Vec<u8>,
    acks: &'a mut AckLog<String>,
}

type Res<T> = Result<T, RecordErrorKind>;

fn malformed(what: &str) -> RecordErrorKind {
    RecordErrorKind::Malformed(what.to_string())
}

fn unmodelled(what: impl Into<String>) -> RecordErrorKind {
    RecordErrorKind::Unmodelled(what.into())
}

fn num(call: &Call, i: usize) -> Res<i64> {
    call.args
        .get(i)
        .and_then(Arg::num)
        .ok_or_else(|| malformed(&format!("argument {} is not a number", i + 1)))
}

fn bytes(call: &Call, i: usize) -> Res<&[u8]> {
    match call.args.get(i) {
        Some(Arg::Str { bytes, .. }) => Ok(bytes),
        _ => Err(malformed(&format!("argument {} is not a string", i + 1))),
    }
}

impl Recorder<'_> {
    fn process(&mut self, pid: u32) -> Res<Process> {
        if let Some(p) = self.procs.get(&pid) {
            return Ok(p.clone());
        }
        if !self.procs.is_empty() {
            return Err(unmodelled(format!(
                "process {pid} appears before the call that created it"
            )));
        }
        // The first process: stdin, stdout and stderr inherited from `record`.
        let mut fds = BTreeMap::new();
        for (fd, target) in [
            (0, Target::Outside(None)),
            (1, Target::Stdout),
            (2, Target::Outside(None)),
        ] {
            let desc = Rc::new(RefCell::new(Description {
                target,
                offset: 0,
                append: false,
            }));
            fds.insert(
                fd,
                FdEntry {
                    desc,
                    cloexec: false,
                },
            );
        }
        let p = Process {
            fds: Rc::new(RefCell::new(fds)),
            cwd: Rc::new(RefCell::new(self.settings.cwd.clone())),
            umask: Rc::new(Cell::new(self.settings.umask)),
        };
        self.procs.insert(pid, p.clone());
        Ok(p)
    }

    /// Applies one call. The body is the table of modelled syscalls, one arm each (long, but
    /// one place to read what is modelled).
    fn call(&mut self, pid: u32, call: &Call) -> Res<()> {
        let proc = self.process(pid)?;
        let ret = match &call.ret {
            Ret::Value(v, _) => *v,
            Ret::Error(_) => return Ok(()),
            Ret::Unknown => return self.unfinished(&proc, call),
        };
        if is_process_creation(&call.name) {
            return self.spawn(&proc, call, ret);
        }
        match call.name.as_str() {
            "open" => self.open(&proc, call, None, 0, 1, ret),
            "openat" => self.open(&proc, call, Some(0), 1, 2, ret),
            "creat" => {
                let flags = O_CREAT | O_TRUNC | 1;
                let path = bytes(call, 0)?;
                let loc = self.resolve(&proc, None, path)?;
                let mode = num(call, 1)?;
                self.open_loc(&proc, loc, flags, mode, ret)
            }
            "openat2" => self.refuse_in_dir(&proc, call, Some(0), 1, "openat2"),
            "close" => {
                proc.fds.borrow_mut().remove(&num(call, 0)?);
                Ok(())
            }
            "read" | "readv" => self.advance(&proc, call, ret),
            "lseek" => {
                self.desc(&proc, call, 0)?.borrow_mut().offset = ret as u64;
                Ok(())
            }
            "write" => {
                let data = self.data(call, ret, bytes(call, 1)?)?;
                self.write(&proc, call, None, data)
            }
            "pwrite64" => {
                let data = self.data(call, ret, bytes(call, 1)?)?;
                self.write(&proc, call, Some(num(call, 3)?), data)
            }
            "writev" | "pwritev" | "pwritev2" => {
                let gathered = iovecs(call)?;
                let data = self.data(call, ret, &gathered)?;
                let offset = match call.name.as_str() {
                    "writev" => None,
                    _ => Some(num(call, 3)?).filter(|&o| o >= 0),
                };
                self.write(&proc, call, offset, data)
            }
            "fsync" | "fdatasync" => self.fsync(&proc, call),
            "sync" | "syncfs" => self.sync_all(),
            "sync_file_range" => Ok(()),
            "rename" => self.rename(&proc, call, None, 0, None, 1, 0),
            "renameat" => self.rename(&proc, call, Some(0), 1, Some(2), 3, 0),
            "renameat2" => {
                let flags = num(call, 4)?;
                self.rename(&proc, call, Some(0), 1, Some(2), 3, flags)
            }
            "unlink" => self.unlink(&proc, call, None, 0, 0),
            "unlinkat" => {
                let flags = num(call, 2)?;
                self.unlink(&proc, call, Some(0), 1, flags)
            }
            "rmdir" => self.unlink(&proc, call, None, 0, AT_REMOVEDIR),
            "mkdir" => self.mkdir(&proc, call, None, 0),
            "mkdirat" => self.mkdir(&proc, call, Some(0), 1),
            "symlink" => self.symlink(&proc, call, None, 1),
            "symlinkat" => self.symlink(&proc, call, Some(1), 2),
            "link" => self.link(&proc, call, None, 0, None, 1),
            "linkat" => self.link(&proc, call, Some(0), 1, Some(2), 3),
            "chmod" | "fchmod" | "fchmodat" => self.chmod(&proc, call),
            "umask" => {
                proc.umask.set(num(call, 0)? as u32 & 0o777);
                Ok(())
            }
            "mknod" => self.refuse_in_dir(&proc, call, None, 0, "a FIFO, socket or device node"),
            "mknodat" => {
                self.refuse_in_dir(&proc, call, Some(0), 1, "a FIFO, socket or device node")
            }
            "truncate" => self.truncate_path(&proc, call),
            "ftruncate" => {
                let desc = self.desc(&proc, call, 0)?;
                let len = num(call, 1)? as u64;
                self.set_len(&desc, len)
            }
            "fallocate" => self.fallocate(&proc, call),
            "copy_file_range" => self.copy(&proc, call, 0, 2, 1, ret),
            "sendfile" => self.copy(&proc, call, 1, 0, 2, ret),
            "dup" => self.dup(&proc, call, ret, false),
            "dup2" => self.dup(&proc, call, ret, false),
            "dup3" => {
                let cloexec = num(call, 2)? & O_CLOEXEC != 0;
                self.dup(&proc, call, ret, cloexec)
            }
            "fcntl" => self.fcntl(&proc, call, ret),
            "chdir" => {
                let loc = self.resolve(&proc, None, bytes(call, 0)?)?;
                *proc.cwd.borrow_mut() = self.absolute(&loc);
                Ok(())
            }
            "fchdir" => {
                let path = self.dir_path(&proc, call.args.first())?;
                *proc.cwd.borrow_mut() = path;
                Ok(())
            }
            "execve" | "execveat" => {
                proc.fds.borrow_mut().retain(|_, e| !e.cloexec);
                Ok(())
            }
            "mmap" => self.mmap(&proc, call),
            "io_uring_setup" => Err(unmodelled(
                "io_uring: its reads and writes are not system calls strace can show",
            )),
            _ => Ok(()),
        }
    }

    /// A call that never returned (`= ?`): harmless unless it was writing under `DIR`.
    fn unfinished(&mut self, proc: &Process, call: &Call) -> Res<()> {
        let writes = matches!(
            call.name.as_str(),
            "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2"
        );
        if writes {
            if let Ok(desc) = self.desc(proc, call, 0) {
                if matches!(desc.borrow().target, Target::File(_)) {
                    return Err(unmodelled(
                        "a write under the directory never returned: how much of it happened is unknown",
                    ));
                }
            }
        }
        Ok(())
    }

    fn spawn(&mut self, parent: &Process, call: &Call, child: i64) -> Res<()> {
        let flags = match call.name.as_str() {
            "clone" => call
                .args
                .iter()
                .find_map(|a| match a {
                    Arg::Named(n, v) if n == "flags" => v.num(),
                    _ => None,
                })
                .ok_or_else(|| malformed("clone without flags="))?,
            "clone3" => {
                let args = match call.args.first() {
                    Some(Arg::Changed(before, _)) => &**before,
                    Some(a) => a,
                    None => return Err(malformed("clone3 without arguments")),
                };
                args.field("flags")
                    .and_then(Arg::num)
                    .ok_or_else(|| malformed("clone3 without flags"))?
            }
            _ => 0,
        };
        let fds = if flags & CLONE_FILES != 0 {
            parent.fds.clone()
        } else {
            Rc::new(RefCell::new(parent.fds.borrow().clone()))
        };
        let (cwd, umask) = if flags & CLONE_FS != 0 {
            (parent.cwd.clone(), parent.umask.clone())
        } else {
            (
                Rc::new(RefCell::new(parent.cwd.borrow().clone())),
                Rc::new(Cell::new(parent.umask.get())),
            )
        };
        let pid = u32::try_from(child).map_err(|_| malformed("bad child pid"))?;
        self.procs.insert(pid, Process { fds, cwd, umask });
        Ok(())
    }

    /// The description of the descriptor in argument `i`; an unknown descriptor is one the
    /// program inherited (outside `DIR`, or refused if `-y` names a path under it).
    fn desc(&self, proc: &Process, call: &Call, i: usize) -> Res<Desc> {
        let arg = call.args.get(i);
        let fd = arg
            .and_then(Arg::num)
            .ok_or_else(|| malformed("no descriptor"))?;
        if let Some(e) = proc.fds.borrow().get(&fd) {
            return Ok(e.desc.clone());
        }
        let path = match arg {
            Some(Arg::Fd { path, .. }) => path_of(path),
            _ => None,
        };
        if let Some(p) = &path {
            if p.starts_with(&self.settings.dir) {
                return Err(unmodelled(format!(
                    "descriptor {fd} names {} under the directory but was opened before the \
                     program started or by a call that is not traced",
                    p.display()
                )));
            }
        }
        Ok(Rc::new(RefCell::new(Description {
            target: Target::Outside(path),
            offset: 0,
            append: false,
        })))
    }

    /// The absolute path a directory descriptor (or `AT_FDCWD`) stands for.
    fn dir_path(&self, proc: &Process, arg: Option<&Arg>) -> Res<PathBuf> {
        let fd = arg
            .and_then(Arg::num)
            .ok_or_else(|| malformed("no directory descriptor"))?;
        if fd == AT_FDCWD {
            return Ok(proc.cwd.borrow().clone());
        }
        if let Some(e) = proc.fds.borrow().get(&fd) {
            match &e.desc.borrow().target {
                Target::Dir(rel) => return Ok(self.absolute(&Loc::In(rel.clone()))),
                Target::Outside(Some(p)) => return Ok(p.clone()),
                _ => {}
            }
        }
        match arg {
            Some(Arg::Fd { path, .. }) => path_of(path).ok_or_else(|| {
                malformed("a directory descriptor whose path strace could not show")
            }),
            _ => Err(malformed("an unknown directory descriptor")),
        }
    }

    /// Where `name`, relative to `dirfd` (or the cwd), lands.
    fn resolve(&self, proc: &Process, dirfd: Option<&Arg>, name: &[u8]) -> Res<Loc> {
        let name = path_of(name).ok_or_else(|| malformed("a path that is not UTF-8"))?;
        let base = match dirfd {
            _ if name.is_absolute() => PathBuf::from("/"),
            None => proc.cwd.borrow().clone(),
            Some(arg) => self.dir_path(proc, Some(arg))?,
        };
        let mut out = PathBuf::from("/");
        for c in base.join(&name).components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(n) => out.push(n),
                _ => {}
            }
        }
        match out.strip_prefix(&self.settings.dir) {
            Ok(rest) if rest.as_os_str().is_empty() => Ok(Loc::In(RelPath::root())),
            Ok(rest) => {
                let s = rest.to_str().ok_or_else(|| malformed("a non-UTF-8 path"))?;
                RelPath::new(s)
                    .map(Loc::In)
                    .map_err(|e| malformed(&e.to_string()))
            }
            Err(_) => Ok(Loc::Out(out)),
        }
    }

    fn absolute(&self, loc: &Loc) -> PathBuf {
        match loc {
            Loc::In(rel) if rel.is_root() => self.settings.dir.clone(),
            Loc::In(rel) => self.settings.dir.join(rel.as_str()),
            Loc::Out(p) => p.clone(),
        }
    }

    fn install(&self, proc: &Process, fd: i64, target: Target, flags: i64) {
        let desc = Rc::new(RefCell::new(Description {
            target,
            offset: 0,
            append: flags & O_APPEND != 0,
        }));
        proc.fds.borrow_mut().insert(
            fd,
            FdEntry {
                desc,
                cloexec: flags & O_CLOEXEC != 0,
            },
        );
    }

    fn open(
        &mut self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
        flags_i: usize,
        fd: i64,
    ) -> Res<()> {
        let loc = self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )?;
        let flags = num(call, flags_i)?;
        let mode = match flags & O_CREAT {
            0 => 0,
            _ => num(call, flags_i + 1)?,
        };
        self.open_loc(proc, loc, flags, mode, fd)
    }

    fn open_loc(&mut self, proc: &Process, loc: Loc, flags: i64, mode: i64, fd: i64) -> Res<()> {
        let rel = match loc {
            Loc::Out(p) => {
                self.install(proc, fd, Target::Outside(Some(p)), flags);
                return Ok(());
            }
            Loc::In(rel) => rel,
        };
        if flags & O_TMPFILE_ONLY != 0 {
            return Err(unmodelled("O_TMPFILE"));
        }
        let existing = self.fs.stat(&rel).map_err(RecordErrorKind::Diverged)?;
        let target = match existing.map(|m| m.kind) {
            Some(FileKind::Dir) => Target::Dir(rel),
            Some(FileKind::File) if flags & O_DIRECTORY == 0 => {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                    return Err(unmodelled("O_CREAT|O_EXCL succeeded on an existing file"));
                }
                let writable = flags & O_ACCMODE != 0;
                let file = self.open_existing(&rel, writable)?;
                let target = Target::File(file);
                if writable && flags & O_TRUNC != 0 {
                    let desc = Rc::new(RefCell::new(Description {
                        target: target.clone(),
                        offset: 0,
                        append: false,
                    }));
                    self.set_len(&desc, 0)?;
                }
                target
            }
            None if flags & O_CREAT != 0 => {
                let bits = (mode as u32) & 0o7777 & !proc.umask.get();
                let mode = FileMode::new(bits).ok_or_else(|| malformed("a bad mode"))?;
                Target::File(
                    self.fs
                        .create_new_with_mode(&rel, mode)
                        .map_err(RecordErrorKind::Diverged)?,
                )
            }
            _ => {
                return Err(unmodelled(format!(
                    "opened {rel}, which the simulated directory does not hold as a file or \
                     directory (a symlink followed, or something else made it)"
                )))
            }
        };
        self.install(proc, fd, target, flags);
        Ok(())
    }

    /// Opens an existing file under `DIR`, for writing if `writable`.
    fn open_existing(&self, rel: &RelPath, writable: bool) -> Res<SimFile> {
        match writable {
            true => self.fs.open_write(rel),
            false => self.fs.open_read(rel),
        }
        .map_err(RecordErrorKind::Diverged)
    }

    fn set_len(&self, desc: &Desc, len: u64) -> Res<()> {
        match &mut desc.borrow_mut().target {
            Target::File(file) => self
                .fs
                .set_len(file, len)
                .map_err(RecordErrorKind::Diverged),
            Target::Dir(_) => Err(malformed("a directory's length")),
            _ => Ok(()),
        }
    }

    /// `chmod`/`fchmod`/`fchmodat`: a file's mode under `DIR` is modelled, a directory's is not.
    fn chmod(&self, proc: &Process, call: &Call) -> Res<()> {
        let (target, mode) = match call.name.as_str() {
            "fchmod" => (
                self.desc(proc, call, 0)?.borrow().target.clone(),
                num(call, 1)?,
            ),
            name => {
                let (dirfd, path_i) = if name == "chmod" {
                    (None, 0)
                } else {
                    (Some(0), 1)
                };
                let loc = self.resolve(
                    proc,
                    dirfd.and_then(|i| call.args.get(i)),
                    bytes(call, path_i)?,
                )?;
                let Loc::In(rel) = loc else { return Ok(()) };
                let kind = self
                    .fs
                    .stat(&rel)
                    .map_err(RecordErrorKind::Diverged)?
                    .map(|m| m.kind);
                let target = match kind {
                    Some(FileKind::File) => Target::File(self.open_existing(&rel, false)?),
                    _ => Target::Dir(rel),
                };
                (target, num(call, path_i + 1)?)
            }
        };
        let mode = FileMode::new(mode as u32 & 0o7777).ok_or_else(|| malformed("a bad mode"))?;
        match target {
            Target::File(mut file) => self
                .fs
                .set_mode(&mut file, mode)
                .map_err(RecordErrorKind::Diverged),
            Target::Dir(rel) => Err(unmodelled(format!(
                "the mode of the directory {rel} (directory modes are not modelled)"
            ))),
            _ => Ok(()),
        }
    }

    fn refuse_in_dir(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
        what: &str,
    ) -> Res<()> {
        let loc = self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )?;
        match loc {
            Loc::In(_) => Err(unmodelled(what.to_string())),
            Loc::Out(_) => Ok(()),
        }
    }

    /// The bytes a write of `ret` bytes took from `buf`.
    fn data<'b>(&self, _call: &Call, ret: i64, buf: &'b [u8]) -> Res<&'b [u8]> {
        let n = usize::try_from(ret).map_err(|_| malformed("a negative byte count"))?;
        buf.get(..n).ok_or(RecordErrorKind::Truncated)
    }

    fn advance(&self, proc: &Process, call: &Call, ret: i64) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        desc.borrow_mut().offset += ret.max(0) as u64;
        Ok(())
    }

    fn write(&mut self, proc: &Process, call: &Call, at: Option<i64>, data: &[u8]) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        // Cross-check with `-y`: standard output redirected into DIR is not an ack channel.
        if matches!(desc.borrow().target, Target::Stdout) {
            if let Some(Arg::Fd { path, .. }) = call.args.first() {
                if path_of(path).is_some_and(|p| p.starts_with(&self.settings.dir)) {
                    return Err(unmodelled(
                        "the program's standard output is a file in the directory; redirect it \
                         elsewhere (its lines are the acknowledgements)",
                    ));
                }
            }
        }
        self.write_desc(&desc, at, data)
    }

    /// A write of `data` through `desc`, at `at` or at the description's offset.
    fn write_desc(&mut self, desc: &Desc, at: Option<i64>, data: &[u8]) -> Res<()> {
        let mut d = desc.borrow_mut();
        let (append, cur) = (d.append, d.offset);
        match &mut d.target {
            Target::File(file) => {
                let offset = match at {
                    Some(o) => o as u64,
                    None if append => self.len_of(file)?,
                    None => cur,
                };
                if !data.is_empty() {
                    self.fs
                        .write_at(file, offset, data)
                        .map_err(RecordErrorKind::Diverged)?;
                }
                if at.is_none() {
                    d.offset = offset + data.len() as u64;
                }
                Ok(())
            }
            Target::Stdout => {
                drop(d);
                self.stdout(data);
                Ok(())
            }
            Target::Dir(_) => Err(malformed("a write to a directory")),
            Target::Outside(_) => {
                if at.is_none() {
                    d.offset += data.len() as u64;
                }
                Ok(())
            }
        }
    }

    /// The current length of an open file. Its path may name another file by now (after a
    /// rename), so the length is found through the handle: the first position with no byte.
    fn len_of(&self, file: &SimFile) -> Res<u64> {
        let mut f = file.clone();
        let mut probe = [0u8; 1];
        let mut has_byte_at = |p: u64| {
            self.fs
                .read_at(&mut f, p, &mut probe)
                .map(|n| n == 1)
                .map_err(RecordErrorKind::Diverged)
        };
        // Double to an upper bound, then bisect: `lo` bytes exist, byte `hi - 1` does not.
        let (mut lo, mut hi) = (0u64, 1u64);
        while has_byte_at(hi - 1)? {
            lo = hi;
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if has_byte_at(mid - 1)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    fn stdout(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.stdout_line).into_owned();
                self.stdout_line.clear();
                self.acks.push(self.fs.op_count(), line);
            } else {
                self.stdout_line.push(b);
            }
        }
    }

    fn fsync(&self, proc: &Process, call: &Call) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        let mut d = desc.borrow_mut();
        let data_only = call.name == "fdatasync";
        match &mut d.target {
            Target::File(file) if data_only => self.fs.fdatasync(file),
            Target::File(file) => self.fs.fsync(file),
            Target::Dir(opened) => {
                // A directory renamed since it was opened: `-y` shows its name now.
                let now = match call.args.first() {
                    Some(Arg::Fd { path, .. }) => path_of(path).and_then(|p| {
                        self.resolve(proc, None, p.as_os_str().as_encoded_bytes())
                            .ok()
                    }),
                    _ => None,
                };
                let rel = match now {
                    Some(Loc::In(rel)) => rel,
                    _ => opened.clone(),
                };
                self.fs.fsync_dir(&rel)
            }
            _ => return Ok(()),
        }
        .map_err(RecordErrorKind::Diverged)
    }

    fn sync_all(&self) -> Res<()> {
        self.fs.syncfs().map_err(RecordErrorKind::Diverged)
    }

    fn two_paths(
        &self,
        proc: &Process,
        call: &Call,
        (dir_a, a): (Option<usize>, usize),
        (dir_b, b): (Option<usize>, usize),
    ) -> Res<(Loc, Loc)> {
        let from = self.resolve(proc, dir_a.and_then(|i| call.args.get(i)), bytes(call, a)?)?;
        let to = self.resolve(proc, dir_b.and_then(|i| call.args.get(i)), bytes(call, b)?)?;
        Ok((from, to))
    }

    #[allow(clippy::too_many_arguments)]
    fn rename(
        &self,
        proc: &Process,
        call: &Call,
        dir_a: Option<usize>,
        a: usize,
        dir_b: Option<usize>,
        b: usize,
        flags: i64,
    ) -> Res<()> {
        let (from, to) = self.two_paths(proc, call, (dir_a, a), (dir_b, b))?;
        match (from, to) {
            (Loc::In(from), Loc::In(to)) => {
                let flags = match flags {
                    0 => RenameFlags::REPLACE,
                    RENAME_NOREPLACE => RenameFlags::NO_REPLACE,
                    RENAME_EXCHANGE => RenameFlags::EXCHANGE,
                    other => return Err(unmodelled(format!("renameat2 flags {other:#x}"))),
                };
                self.fs
                    .rename_with(&from, &to, flags)
                    .map_err(RecordErrorKind::Diverged)
            }
            (Loc::Out(_), Loc::Out(_)) => Ok(()),
            (Loc::In(from), Loc::Out(to)) => Err(unmodelled(format!(
                "a rename of {from} out of the directory, to {}",
                to.display()
            ))),
            (Loc::Out(from), Loc::In(to)) => Err(unmodelled(format!(
                "a rename of {} into the directory, as {to}",
                from.display()
            ))),
        }
    }

    fn unlink(
        &self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
        flags: i64,
    ) -> Res<()> {
        let loc = self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )?;
        let Loc::In(rel) = loc else { return Ok(()) };
        match flags & AT_REMOVEDIR {
            0 => self.fs.unlink(&rel),
            _ => self.fs.rmdir(&rel),
        }
        .map_err(RecordErrorKind::Diverged)
    }

    fn mkdir(&self, proc: &Process, call: &Call, dirfd: Option<usize>, path_i: usize) -> Res<()> {
        let loc = self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )?;
        let Loc::In(rel) = loc else { return Ok(()) };
        self.fs.mkdir(&rel).map_err(RecordErrorKind::Diverged)
    }

    fn symlink(&self, proc: &Process, call: &Call, dirfd: Option<usize>, path_i: usize) -> Res<()> {
        let target = String::from_utf8(bytes(call, 0)?.to_vec())
            .map_err(|_| malformed("a symlink target that is not UTF-8"))?;
        let loc = self.resolve(
            proc,
            dirfd.and_then(|i| call.args.get(i)),
            bytes(call, path_i)?,
        )?;
        let Loc::In(rel) = loc else { return Ok(()) };
        self.fs
            .symlink(&rel, &target)
            .map_err(RecordErrorKind::Diverged)
    }

    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        proc: &Process,
        call: &Call,
        dir_a: Option<usize>,
        a: usize,
        dir_b: Option<usize>,
        b: usize,
    ) -> Res<()> {
        let (from, to) = self.two_paths(proc, call, (dir_a, a), (dir_b, b))?;
        let follow = call.name == "linkat" && num(call, 4)? & AT_SYMLINK_FOLLOW != 0;
        match (from, to) {
            (Loc::Out(_), Loc::Out(_)) => Ok(()),
            (Loc::In(from), Loc::In(to)) => {
                let is_symlink = self
                    .fs
                    .stat(&from)
                    .map_err(RecordErrorKind::Diverged)?
                    .is_some_and(|m| m.kind == FileKind::Symlink);
                if follow && is_symlink {
                    return Err(unmodelled("linkat with AT_SYMLINK_FOLLOW on a symlink"));
                }
                self.fs.link(&from, &to).map_err(RecordErrorKind::Diverged)
            }
            (Loc::Out(from), Loc::In(to)) => Err(unmodelled(format!(
                "a hard link {to} to {}, outside the directory",
                from.display()
            ))),
            (Loc::In(_), Loc::Out(to)) => Err(unmodelled(format!(
                "a hard link out of the directory, at {}",
                to.display()
            ))),
        }
    }

    fn truncate_path(&self, proc: &Process, call: &Call) -> Res<()> {
        let loc = self.resolve(proc, None, bytes(call, 0)?)?;
        let Loc::In(rel) = loc else { return Ok(()) };
        let file = self.open_existing(&rel, true)?;
        let desc = Rc::new(RefCell::new(Description {
            target: Target::File(file),
            offset: 0,
            append: false,
        }));
        self.set_len(&desc, num(call, 1)? as u64)
    }

    fn fallocate(&mut self, proc: &Process, call: &Call) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        let (mode, offset, len) = (num(call, 1)?, num(call, 2)? as u64, num(call, 3)? as u64);
        let file = match &desc.borrow().target {
            Target::File(f) => f.clone(),
            _ => return Ok(()),
        };
        let size = self.len_of(&file)?;
        match mode {
            0 if offset + len > size => self.set_len(&desc, offset + len),
            0 | FALLOC_FL_KEEP_SIZE => Ok(()),
            m if m == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
                let end = (offset + len).min(size);
                if end > offset {
                    let zeros = vec![0u8; (end - offset) as usize];
                    let mut f = file;
                    self.fs
                        .write_at(&mut f, offset, &zeros)
                        .map_err(RecordErrorKind::Diverged)?;
                }
                Ok(())
            }
            m => Err(unmodelled(format!("fallocate mode {m:#x}"))),
        }
    }

    /// `copy_file_range` / `sendfile`: the bytes come from the source descriptor; modelled when
    /// the source is under `DIR` too (its bytes are in the simulated directory).
    fn copy(
        &mut self,
        proc: &Process,
        call: &Call,
        in_i: usize,
        out_i: usize,
        in_off_i: usize,
        ret: i64,
    ) -> Res<()> {
        let out = self.desc(proc, call, out_i)?;
        let input = self.desc(proc, call, in_i)?;
        let out_off_given = match call.name.as_str() {
            "copy_file_range" => pointer_value(call.args.get(3)),
            _ => None,
        };
        if !matches!(out.borrow().target, Target::File(_)) {
            // Into something outside DIR: only the source's offset moves.
            if pointer_value(call.args.get(in_off_i)).is_none() {
                input.borrow_mut().offset += ret.max(0) as u64;
            }
            return Ok(());
        }
        let Target::File(src) = input.borrow().target.clone() else {
            return Err(unmodelled(
                "a copy into the directory from outside it: the bytes are not in the log",
            ));
        };
        let in_off = pointer_value(call.args.get(in_off_i));
        let start = in_off.unwrap_or(input.borrow().offset);
        let mut buf = vec![0u8; ret.max(0) as usize];
        let mut src = src;
        let n = self
            .fs
            .read_at(&mut src, start, &mut buf)
            .map_err(RecordErrorKind::Diverged)?;
        if n != buf.len() {
            return Err(malformed(
                "the copy's source is shorter than what was copied",
            ));
        }
        if in_off.is_none() {
            input.borrow_mut().offset += n as u64;
        }
        let at = out_off_given.map(|o| o as i64);
        self.write_desc(&out, at, &buf)
    }

    fn dup(&self, proc: &Process, call: &Call, new_fd: i64, cloexec: bool) -> Res<()> {
        let desc = self.desc(proc, call, 0)?;
        proc.fds
            .borrow_mut()
            .insert(new_fd, FdEntry { desc, cloexec });
        Ok(())
    }

    fn fcntl(&self, proc: &Process, call: &Call, ret: i64) -> Res<()> {
        let cmd = num(call, 1)?;
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => self.dup(proc, call, ret, cmd == F_DUPFD_CLOEXEC),
            F_SETFD => {
                let fd = num(call, 0)?;
                let arg = num(call, 2)?;
                if let Some(e) = proc.fds.borrow_mut().get_mut(&fd) {
                    e.cloexec = arg & FD_CLOEXEC != 0;
                }
                Ok(())
            }
            F_SETFL => {
                let desc = self.desc(proc, call, 0)?;
                desc.borrow_mut().append = num(call, 2)? & O_APPEND != 0;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn mmap(&self, proc: &Process, call: &Call) -> Res<()> {
        let (prot, flags, fd) = (num(call, 2)?, num(call, 3)?, num(call, 4)?);
        if fd < 0 || prot & PROT_WRITE == 0 || flags & MAP_SHARED == 0 {
            return Ok(());
        }
        let desc = self.desc(proc, call, 4)?;
        let d = desc.borrow();
        match &d.target {
            Target::File(file) if !self.settings.ignore_mmap => Err(unmodelled(format!(
                "a writable shared mmap of {}: its writes are not system calls (pass \
                 --ignore-mmap if that file's durability does not matter)",
                file.path()
            ))),
            _ => Ok(()),
        }
    }
}

/// The bytes of a `writev`-family call's iovec array (argument 2), in order.
fn iovecs(call: &Call) -> Res<Vec<u8>> {
    let Some(Arg::Array(items)) = call.args.get(1) else {
        return Err(malformed("argument 2 is not an iovec array"));
    };
    let mut out = Vec::new();
    for item in items {
        match item.field("iov_base") {
            Some(Arg::Str { bytes, truncated }) => {
                let len = item.field("iov_len").and_then(Arg::num).unwrap_or(0) as usize;
                if *truncated && bytes.len() < len {
                    // Keep what strace showed; `data` refuses if the return value needs more.
                    out.extend_from_slice(bytes);
                    return Ok(out);
                }
                out.extend_from_slice(bytes);
            }
            _ => return Err(malformed("an iovec without iov_base")),
        }
    }
    Ok(out)
}

/// `[5]` or `[5] => [9]` → 5; `NULL` → none.
fn pointer_value(arg: Option<&Arg>) -> Option<u64> {
    match arg? {
        Arg::Array(v) => v.first().and_then(Arg::num).map(|n| n as u64),
        Arg::Changed(before, _) => pointer_value(Some(before)),
        _ => None,
    }
}

fn path_of(bytes: &[u8]) -> Option<PathBuf> {
    std::str::from_utf8(bytes).ok().map(PathBuf::from)
}

#[cfg(test)]
mod tests;
