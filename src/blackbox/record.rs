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
use crate::fs::{FileKind, FileMode, Fs, RenameFlags};
use crate::path::RelPath;
use crate::sim::{AckLog, SimFile, SimFs};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Component, PathBuf};
use std::rc::Rc;

mod data;
mod error;
mod names;
mod procs;

use data::iovecs;
use error::{malformed, unmodelled};
pub use error::{RecordError, RecordErrorKind};
use procs::{Desc, Description, Loc, Process, Target};

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

/// The replay in progress: the settings, the simulated `DIR`, every process seen so far, and the
/// standard-output line being assembled.
struct Recorder<'a> {
    settings: &'a RecordSettings,
    fs: &'a SimFs,
    procs: BTreeMap<u32, Process>,
    stdout_line: Vec<u8>,
    acks: &'a mut AckLog<String>,
}

type Res<T> = Result<T, RecordErrorKind>;

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
    /// Applies one call. Long because the body is the table of modelled syscalls, one arm
    /// each: one place to read what is modelled.
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

    fn open(
        &mut self,
        proc: &Process,
        call: &Call,
        dirfd: Option<usize>,
        path_i: usize,
        flags_i: usize,
        fd: i64,
    ) -> Res<()> {
        let loc = self.path_arg(proc, call, dirfd, path_i)?;
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
                let loc = self.path_arg(proc, call, dirfd, path_i)?;
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
        let loc = self.path_arg(proc, call, dirfd, path_i)?;
        match loc {
            Loc::In(_) => Err(unmodelled(what.to_string())),
            Loc::Out(_) => Ok(()),
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
