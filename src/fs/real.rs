//! The real Linux backend: every operation is resolved relative to a descriptor of the root,
//! walking the path one component at a time with `O_NOFOLLOW`, so that no symlink, intermediate
//! or final, is ever followed and nothing outside the root can be reached through one.
//!
//! Two small pools of threads that live as long as the backend take work off the caller's
//! thread (`workers`): a barrier group's fsyncs, issued together ([`Fs::sync_group`]), and the
//! closing of a descriptor held on a file that a `rename` replaced or an `unlink` removed, so
//! that freeing (and, with `discard`, discarding) its blocks happens beside the caller's next
//! calls instead of inside this one ([`RealFs::settle`] waits for them).

use super::{
    DirEntry, DirName, FileKind, FileMode, Fs, FsError, FsErrorKind, FsResult, LockError, LockMode,
    Metadata, Op, Owner, RenameFlags,
};
use crate::path::RelPath;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod workers;
use workers::Workers;

/// Flags to hold a name's file without opening it for access (`O_PATH`, which never blocks, on a
/// fifo either) and without following a symlink.
const HOLD_FLAGS: OFlags = OFlags::PATH.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// Flags to open a directory that is walked through or listed: never a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A filesystem rooted at one directory, held open by descriptor for the backend's lifetime.
///
/// The root path itself is resolved once, by [`RealFs::open`]; its last component must not be a
/// symlink. Every later operation is relative to the root descriptor, so renaming or replacing
/// the root's path afterwards does not redirect the backend.
#[derive(Debug)]
pub struct RealFs {
    root: OwnedFd,
    /// The threads that fsync a barrier group's files together ([`Fs::sync_group`]).
    syncers: Workers,
    /// The threads that close the descriptors holding replaced and unlinked files (see
    /// [`RealFs::release`]).
    closers: Workers,
}

/// How many threads close the descriptors of replaced and unlinked files at most.
pub const MAX_CLOSE_THREADS: usize = 16;

/// How many replaced or unlinked files may wait for their descriptor's close before
/// [`RealFs`] closes them on the caller's thread again (so that the space they hold is never
/// far behind).
pub const MAX_DEFERRED_CLOSES: usize = 1024;

/// How many threads [`RealFs`]'s barrier group ([`Fs::sync_group`]) uses at most: the caller's
/// and up to this many less one workers, which live as long as the backend.
pub const MAX_SYNC_THREADS: usize = 16;

/// How many calls (files and directories) a barrier group must have for [`RealFs`] to issue
/// them on several threads; a single call is issued on the caller's.
pub const MIN_CONCURRENT_SYNCS: usize = 2;

/// `fsync` of one file of a barrier group.
fn fsync_file(file: &RealFile) -> FsResult<()> {
    rustix::fs::fsync(&file.fd).map_err(|e| os_error(Op::Fsync, &file.path, e))
}

/// A file opened by [`RealFs`]: its descriptor (closed on drop) and the path it was opened at,
/// for error messages.
#[derive(Debug)]
pub struct RealFile {
    fd: OwnedFd,
    path: RelPath,
}

impl RealFile {
    /// The path this file was opened at.
    pub fn path(&self) -> &RelPath {
        &self.path
    }
}

/// A directory descriptor: the root, borrowed, or one opened while walking a path.
enum DirFd<'a> {
    Root(BorrowedFd<'a>),
    Owned(OwnedFd),
}

impl AsFd for DirFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Root(fd) => *fd,
            DirFd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// Maps an errno to the portable kind, keeping the raw number.
fn error_kind(e: Errno) -> FsErrorKind {
    match e {
        Errno::NOENT => FsErrorKind::NotFound,
        Errno::EXIST => FsErrorKind::AlreadyExists,
        Errno::NOTDIR => FsErrorKind::NotADirectory,
        Errno::ISDIR => FsErrorKind::IsADirectory,
        Errno::LOOP => FsErrorKind::Symlink,
        Errno::NOTEMPTY => FsErrorKind::NotEmpty,
        Errno::NOSPC | Errno::DQUOT => FsErrorKind::NoSpace,
        Errno::IO => FsErrorKind::Io,
        Errno::XDEV => FsErrorKind::CrossDevice,
        Errno::ACCESS | Errno::PERM => FsErrorKind::PermissionDenied,
        _ => FsErrorKind::Other,
    }
}

/// An [`FsError`] from `op` on `path` that failed with `e`.
fn os_error(op: Op, path: &RelPath, e: Errno) -> FsError {
    FsError {
        op,
        path: path.to_string(),
        kind: error_kind(e),
        errno: Some(e.raw_os_error()),
    }
}

/// The kind of a name from its `st_mode`.
fn kind_of(file_type: FileType) -> FileKind {
    match file_type {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// The metadata `stat` reports for a `Stat`.
fn metadata_of(st: &Stat) -> Metadata {
    let kind = kind_of(FileType::from_raw_mode(st.st_mode));
    let len = match kind {
        FileKind::File => u64::try_from(st.st_size).unwrap_or(0),
        _ => 0,
    };
    // `st_nlink` is `u64` on 64-bit Linux and `u32` on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let nlink = st.st_nlink as u64;
    Metadata {
        kind,
        len,
        mode: FileMode::from_st_mode(st.st_mode),
        nlink,
        owner: Some(Owner {
            uid: st.st_uid,
            gid: st.st_gid,
        }),
    }
}

impl RealFs {
    /// The backend of the open directory `root`; its worker threads start when first needed.
    fn with_root(root: OwnedFd) -> RealFs {
        RealFs {
            root,
            syncers: Workers::new("crashsafe-fsync", MAX_SYNC_THREADS - 1),
            closers: Workers::new("crashsafe-close", MAX_CLOSE_THREADS),
        }
    }

    /// Carries out a barrier group's calls (`files`' fsyncs, then `dirs`'), several at once if
    /// there are at least [`MIN_CONCURRENT_SYNCS`]: the first on this thread, every other one
    /// on a worker, through a descriptor of its own (a duplicate of the file's, or the
    /// directory opened here). Returns the results in the order of the calls.
    fn sync_calls(&self, files: &[&RealFile], dirs: &[RelPath]) -> Vec<FsResult<()>> {
        let count = files.len() + dirs.len();
        if count < MIN_CONCURRENT_SYNCS {
            let mut results: Vec<FsResult<()>> = files.iter().map(|f| fsync_file(f)).collect();
            results.extend(dirs.iter().map(|d| self.fsync_dir(d)));
            return results;
        }
        let mut results: Vec<Option<FsResult<()>>> = (0..count).map(|_| None).collect();
        let (sender, receiver) = mpsc::channel();
        for (index, result) in results.iter_mut().enumerate().skip(1) {
            let call = match index.checked_sub(files.len()) {
                None => self.file_call(files[index]),
                Some(d) => self.dir_call(&dirs[d]),
            };
            match call {
                Ok((fd, op, path)) => {
                    let sender = sender.clone();
                    self.syncers.submit(Box::new(move || {
                        let done = rustix::fs::fsync(&fd).map_err(|e| os_error(op, &path, e));
                        let _ = sender.send((index, done));
                    }));
                }
                // No descriptor for a worker (out of descriptors, or the directory cannot be
                // opened): the call is made here, as without workers, and reports what it finds.
                Err(_) => *result = Some(self.sync_here(index, files, dirs)),
            }
        }
        drop(sender);
        results[0] = Some(self.sync_here(0, files, dirs));
        self.syncers.help();
        for (index, result) in receiver {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                // A call that never reported (its worker panicked) made nothing durable.
                result.unwrap_or_else(|| {
                    let (op, path) = match index.checked_sub(files.len()) {
                        None => (Op::Fsync, &files[index].path),
                        Some(d) => (Op::FsyncDir, &dirs[d]),
                    };
                    Err(FsError::new(op, path, FsErrorKind::Other))
                })
            })
            .collect()
    }

    /// Call `index` of a barrier group (`files`' fsyncs, then `dirs`'), made on this thread.
    fn sync_here(&self, index: usize, files: &[&RealFile], dirs: &[RelPath]) -> FsResult<()> {
        match index.checked_sub(files.len()) {
            None => fsync_file(files[index]),
            Some(d) => self.fsync_dir(&dirs[d]),
        }
    }

    /// A file's fsync for a worker: a duplicate of its descriptor.
    fn file_call(&self, file: &RealFile) -> FsResult<(OwnedFd, Op, RelPath)> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&file.fd, 0)
            .map_err(|e| os_error(Op::Fsync, &file.path, e))?;
        Ok((fd, Op::Fsync, file.path.clone()))
    }

    /// A directory's fsync for a worker: the directory opened as [`Fs::fsync_dir`] opens it.
    fn dir_call(&self, path: &RelPath) -> FsResult<(OwnedFd, Op, RelPath)> {
        const OP: Op = Op::FsyncDir;
        let fd = match self.open_dir(OP, path)? {
            DirFd::Root(root) => {
                rustix::io::fcntl_dupfd_cloexec(root, 0).map_err(|e| os_error(OP, path, e))?
            }
            DirFd::Owned(fd) => fd,
        };
        Ok((fd, OP, path.clone()))
    }

    /// A descriptor holding the file `name` in `dir` (`O_PATH`: no access, no side effect), taken
    /// before a rename over it or an unlink of it, or `None` if there is none to take.
    fn hold(dir: &DirFd<'_>, name: &str) -> Option<OwnedFd> {
        rustix::fs::openat(dir, name, HOLD_FLAGS, Mode::empty()).ok()
    }

    /// Closes a descriptor taken by [`RealFs::hold`] on a worker thread, unless
    /// [`MAX_DEFERRED_CLOSES`] are waiting already.
    ///
    /// Renaming over a file, or unlinking it, frees its blocks when its last name and
    /// descriptor are gone — on ext4 inside the `rename` or `unlink` call itself, and on a
    /// filesystem mounted with `discard` that includes a synchronous discard request to the
    /// device for each file, which a virtual disk may answer in milliseconds (`BENCHMARKS.md`,
    /// "Issue #12"). Holding the file open until a worker closes it moves that off the caller's
    /// path, and lets the discards of a batch's replaced files overlap. It changes nothing the
    /// caller relies on: the name's change is what the call did, and the durability of that is
    /// the directory's fsync; only the space comes back a little later.
    fn release(&self, fd: Option<OwnedFd>) {
        if let Some(fd) = fd {
            if self.closers.backlog() < MAX_DEFERRED_CLOSES {
                self.closers.submit(Box::new(move || drop(fd)));
            }
        }
    }

    /// Returns once every replaced or unlinked file whose close this backend deferred (its
    /// `rename` over a file and its `unlink` close the file's last descriptor on a worker thread,
    /// off the caller's path) is closed, and so its space freed. Nothing needs it for
    /// correctness; a caller that measures its own work, or the free space, may.
    pub fn settle(&self) {
        self.closers.settle();
    }

    /// Opens the directory at `root` (`O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC`). A root whose
    /// last component is a symlink is refused with [`FsErrorKind::Symlink`]; one that is not a
    /// directory with [`FsErrorKind::NotADirectory`].
    pub fn open(root: &Path) -> FsResult<RealFs> {
        let error = |e: Errno, kind: FsErrorKind| FsError {
            op: Op::Open,
            path: root.display().to_string(),
            kind,
            errno: Some(e.raw_os_error()),
        };
        match rustix::fs::open(root, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(RealFs::with_root(fd)),
            Err(e @ Errno::NOTDIR) => match rustix::fs::lstat(root) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    Err(error(e, FsErrorKind::Symlink))
                }
                _ => Err(error(e, FsErrorKind::NotADirectory)),
            },
            Err(e) => Err(error(e, error_kind(e))),
        }
    }

    /// Creates the directory at `root` if it is missing (one level, mode 0o777 less the umask),
    /// then opens it as [`RealFs::open`] does.
    pub fn open_or_create(root: &Path) -> FsResult<RealFs> {
        match std::fs::create_dir(root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let errno = e.raw_os_error();
                let kind = errno.map_or(FsErrorKind::Other, |n| {
                    error_kind(Errno::from_raw_os_error(n))
                });
                return Err(FsError {
                    op: Op::OpenOrCreate,
                    path: root.display().to_string(),
                    kind,
                    errno,
                });
            }
        }
        RealFs::open(root)
    }

    /// Opens the directory `name` inside `dir` without following a symlink; a symlink is
    /// reported as [`FsErrorKind::Symlink`] whether the kernel said `ELOOP` or `ENOTDIR`.
    fn open_subdir(op: Op, path: &RelPath, dir: BorrowedFd<'_>, name: &str) -> FsResult<OwnedFd> {
        match rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(fd),
            Err(e @ Errno::NOTDIR) => {
                let is_link = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                let mut err = os_error(op, path, e);
                if is_link {
                    err.kind = FsErrorKind::Symlink;
                }
                Err(err)
            }
            Err(e) => Err(os_error(op, path, e)),
        }
    }

    /// Walks `components` from the root, each one a directory that is not a symlink.
    /// `path` is only for error messages.
    fn walk<'a, 'b>(
        &'a self,
        op: Op,
        path: &RelPath,
        components: impl Iterator<Item = &'b str>,
    ) -> FsResult<DirFd<'a>> {
        let mut current = DirFd::Root(self.root.as_fd());
        for component in components {
            let next = Self::open_subdir(op, path, current.as_fd(), component)?;
            current = DirFd::Owned(next);
        }
        Ok(current)
    }

    /// Opens the directory `path` itself (the root for [`RelPath::root`]).
    fn open_dir(&self, op: Op, path: &RelPath) -> FsResult<DirFd<'_>> {
        self.walk(op, path, path.components())
    }

    /// Opens the directory holding `path` and returns it with the final name. The root is
    /// resolved as `.` in itself, so that each syscall reports what it would for the root.
    fn open_parent<'p>(&self, op: Op, path: &'p RelPath) -> FsResult<(DirFd<'_>, &'p str)> {
        match path.file_name() {
            None => Ok((DirFd::Root(self.root.as_fd()), ".")),
            Some(name) => {
                let mut components = path.components();
                components.next_back();
                Ok((self.walk(op, path, components)?, name))
            }
        }
    }

    /// Opens an existing regular file with `access` (`O_RDONLY` or `O_RDWR`), never following
    /// a symlink and never creating or truncating; anything but a regular file is refused.
    fn open_existing(&self, op: Op, path: &RelPath, access: OFlags) -> FsResult<RealFile> {
        let (dir, name) = self.open_parent(op, path)?;
        // O_NONBLOCK so that opening a fifo does not wait for a writer; it is refused below.
        let flags = access | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::empty())
            .map_err(|e| os_error(op, path, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| os_error(op, path, e))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => {}
            FileType::Directory => return Err(FsError::new(op, path, FsErrorKind::IsADirectory)),
            _ => return Err(FsError::new(op, path, FsErrorKind::Unsupported)),
        }
        let status = rustix::fs::fcntl_getfl(&fd).map_err(|e| os_error(op, path, e))?;
        rustix::fs::fcntl_setfl(&fd, status - OFlags::NONBLOCK)
            .map_err(|e| os_error(op, path, e))?;
        Ok(RealFile {
            fd,
            path: path.clone(),
        })
    }
}

impl Fs for RealFs {
    type File = RealFile;
    type DirLock = RealDirLock;

    fn create_new_with_mode(&self, path: &RelPath, mode: FileMode) -> FsResult<RealFile> {
        const OP: Op = Op::CreateNew;
        let (dir, name) = self.open_parent(OP, path)?;
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(mode.bits()))
            .map_err(|e| os_error(OP, path, e))?;
        Ok(RealFile {
            fd,
            path: path.clone(),
        })
    }

    fn open_read(&self, path: &RelPath) -> FsResult<RealFile> {
        self.open_existing(Op::OpenRead, path, OFlags::RDONLY)
    }

    fn open_write(&self, path: &RelPath) -> FsResult<RealFile> {
        self.open_existing(Op::OpenWrite, path, OFlags::RDWR)
    }

    fn write_at(&self, file: &mut RealFile, offset: u64, data: &[u8]) -> FsResult<()> {
        const OP: Op = Op::WriteAt;
        let mut written = 0usize;
        while written < data.len() {
            let at = offset
                .checked_add(written as u64)
                .ok_or_else(|| FsError::new(OP, &file.path, FsErrorKind::Other))?;
            match rustix::io::pwrite(&file.fd, &data[written..], at) {
                Ok(0) => return Err(FsError::new(OP, &file.path, FsErrorKind::NoSpace)),
                Ok(n) => written += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(os_error(OP, &file.path, e)),
            }
        }
        Ok(())
    }

    fn set_len(&self, file: &mut RealFile, len: u64) -> FsResult<()> {
        rustix::fs::ftruncate(&file.fd, len).map_err(|e| os_error(Op::SetLen, &file.path, e))
    }

    fn set_mode(&self, file: &mut RealFile, mode: FileMode) -> FsResult<()> {
        rustix::fs::fchmod(&file.fd, Mode::from_raw_mode(mode.bits()))
            .map_err(|e| os_error(Op::SetMode, &file.path, e))
    }

    fn set_owner(&self, file: &mut RealFile, owner: Owner) -> FsResult<()> {
        let uid = rustix::fs::Uid::from_raw(owner.uid);
        let gid = rustix::fs::Gid::from_raw(owner.gid);
        rustix::fs::fchown(&file.fd, Some(uid), Some(gid))
            .map_err(|e| os_error(Op::SetOwner, &file.path, e))
    }

    fn read_at(&self, file: &mut RealFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        loop {
            match rustix::io::pread(&file.fd, &mut *buf, offset) {
                Ok(n) => return Ok(n),
                Err(Errno::INTR) => {}
                Err(e) => return Err(os_error(Op::ReadAt, &file.path, e)),
            }
        }
    }

    fn fsync(&self, file: &mut RealFile) -> FsResult<()> {
        rustix::fs::fsync(&file.fd).map_err(|e| os_error(Op::Fsync, &file.path, e))
    }

    fn fdatasync(&self, file: &mut RealFile) -> FsResult<()> {
        rustix::fs::fdatasync(&file.fd).map_err(|e| os_error(Op::Fdatasync, &file.path, e))
    }

    fn rename_with(&self, from: &RelPath, to: &RelPath, flags: RenameFlags) -> FsResult<()> {
        let op = flags.op();
        if flags.no_replace && flags.exchange {
            return Err(FsError::new(op, from, FsErrorKind::Other));
        }
        let (from_dir, from_name) = self.open_parent(op, from)?;
        let (to_dir, to_name) = self.open_parent(op, to)?;
        let result = if flags == RenameFlags::REPLACE {
            let replaced = Self::hold(&to_dir, to_name);
            let result = rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name);
            self.release(replaced);
            result
        } else {
            let raw = if flags.exchange {
                rustix::fs::RenameFlags::EXCHANGE
            } else {
                rustix::fs::RenameFlags::NOREPLACE
            };
            rustix::fs::renameat_with(&from_dir, from_name, &to_dir, to_name, raw)
        };
        result.map_err(|e| os_error(op, from, e))
    }

    fn unlink(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Unlink;
        let (dir, name) = self.open_parent(OP, path)?;
        let unlinked = Self::hold(&dir, name);
        let result = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
        self.release(unlinked);
        result.map_err(|e| os_error(OP, path, e))
    }

    fn rmdir(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Rmdir;
        let (dir, name) = self.open_parent(OP, path)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR).map_err(|e| os_error(OP, path, e))
    }

    fn mkdir(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Mkdir;
        let (dir, name) = self.open_parent(OP, path)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755))
            .map_err(|e| os_error(OP, path, e))
    }

    fn link(&self, existing: &RelPath, new: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Link;
        let (from_dir, from_name) = self.open_parent(OP, existing)?;
        let (to_dir, to_name) = self.open_parent(OP, new)?;
        rustix::fs::linkat(&from_dir, from_name, &to_dir, to_name, AtFlags::empty())
            .map_err(|e| os_error(OP, existing, e))
    }

    fn symlink(&self, path: &RelPath, target: &str) -> FsResult<()> {
        const OP: Op = Op::Symlink;
        if target.is_empty() {
            return Err(FsError::new(OP, path, FsErrorKind::NotFound));
        }
        let (dir, name) = self.open_parent(OP, path)?;
        rustix::fs::symlinkat(target, &dir, name).map_err(|e| os_error(OP, path, e))
    }

    fn read_dir(&self, path: &RelPath) -> FsResult<Vec<DirEntry>> {
        const OP: Op = Op::ReadDir;
        let mut dir = match self.open_dir(OP, path)? {
            // A fresh descriptor of the root, so that listing never moves the root's offset.
            DirFd::Root(fd) => Dir::read_from(fd),
            DirFd::Owned(fd) => Dir::new(fd),
        }
        .map_err(|e| os_error(OP, path, e))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| os_error(OP, path, e))?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    let fd = dir.fd().map_err(|e| os_error(OP, path, e))?;
                    let st = rustix::fs::statat(fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| os_error(OP, path, e))?;
                    kind_of(FileType::from_raw_mode(st.st_mode))
                }
                file_type => kind_of(file_type),
            };
            let name = match std::str::from_utf8(raw) {
                Ok(name) => DirName::Utf8(name.to_owned()),
                Err(_) => DirName::NotUtf8(raw.to_vec()),
            };
            entries.push(DirEntry { name, kind });
        }
        entries.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(entries)
    }

    fn stat(&self, path: &RelPath) -> FsResult<Option<Metadata>> {
        const OP: Op = Op::Stat;
        let (dir, name) = self.open_parent(OP, path)?;
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(metadata_of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(os_error(OP, path, e)),
        }
    }

    fn fsync_dir(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::FsyncDir;
        let dir = self.open_dir(OP, path)?;
        rustix::fs::fsync(&dir).map_err(|e| os_error(OP, path, e))
    }

    fn syncfs(&self) -> FsResult<()> {
        rustix::fs::syncfs(&self.root).map_err(|e| os_error(Op::Syncfs, &RelPath::root(), e))
    }

    /// Issues the group's calls — the files' fsyncs and the directories' — at once when there are
    /// at least [`MIN_CONCURRENT_SYNCS`], on up to [`MAX_SYNC_THREADS`] threads (this one and the
    /// backend's long-lived workers: no thread is created per group once the pool has grown), so
    /// that the device sees their writes and cache flushes together and may merge them. Errors
    /// are reported in the order of the calls, after all returned.
    fn sync_group(&self, files: &mut [&mut RealFile], dirs: &[RelPath]) -> FsResult<()> {
        let files: Vec<&RealFile> = files.iter().map(|f| &**f).collect();
        self.sync_calls(&files, dirs).into_iter().collect()
    }

    fn lock_dir(
        &self,
        path: &RelPath,
        mode: LockMode,
        wait: Duration,
    ) -> Result<RealDirLock, LockError> {
        const OP: Op = Op::LockDir;
        // A descriptor of its own, even for the root: `flock` locks an open file description,
        // and the root's is shared by every operation of this backend.
        let fd = match self.open_dir(OP, path)? {
            DirFd::Root(root) => Self::open_subdir(OP, path, root, ".")?,
            DirFd::Owned(fd) => fd,
        };
        let operation = match mode {
            LockMode::Shared => FlockOperation::NonBlockingLockShared,
            LockMode::Exclusive => FlockOperation::NonBlockingLockExclusive,
        };
        let deadline = Instant::now() + wait;
        loop {
            match rustix::fs::flock(&fd, operation) {
                Ok(()) => return Ok(RealDirLock { fd }),
                Err(Errno::INTR) => {}
                Err(Errno::WOULDBLOCK) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(LockError::Busy {
                            path: path.to_string(),
                            holder: lock_holder(&fd),
                        });
                    }
                    std::thread::sleep(LOCK_POLL.min(deadline - now));
                }
                Err(e) => return Err(os_error(OP, path, e).into()),
            }
        }
    }
}

/// How often a waiting [`RealFs::lock_dir`] tries again (`flock` itself has no timeout).
const LOCK_POLL: Duration = Duration::from_millis(20);

/// A directory locked with `flock` by [`RealFs::lock_dir`]; closing the descriptor on drop
/// releases the lock.
#[derive(Debug)]
pub struct RealDirLock {
    #[allow(dead_code)] // held for its lock, released when closed
    fd: OwnedFd,
}

/// The process holding a `flock` on the file behind `fd`, found in `/proc/locks` (Linux), or
/// `None` when it cannot be told. Best effort: the lock may have changed hands since.
fn lock_holder(fd: &OwnedFd) -> Option<u32> {
    let st = rustix::fs::fstat(fd).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let device = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
    locks
        .lines()
        .find_map(|line| flock_holder_in(line, device, st.st_ino))
}

/// Parses one line of `/proc/locks` (`1: FLOCK  ADVISORY  WRITE 4242 08:02:131 0 EOF`): the pid
/// of a granted `flock` on inode `ino` of device `(major, minor)`. Waiters (`1: -> FLOCK ...`)
/// and other lock kinds are skipped.
fn flock_holder_in(line: &str, (major, minor): (u32, u32), ino: u64) -> Option<u32> {
    let mut fields = line.split_whitespace().skip(1);
    if fields.next()? != "FLOCK" {
        return None;
    }
    let pid = fields.nth(2)?.parse().ok()?;
    let mut id = fields.next()?.split(':');
    let found_major = u32::from_str_radix(id.next()?, 16).ok()?;
    let found_minor = u32::from_str_radix(id.next()?, 16).ok()?;
    let found_ino: u64 = id.next()?.parse().ok()?;
    (found_major == major && found_minor == minor && found_ino == ino).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::flock_holder_in;

    #[test]
    fn a_granted_flock_line_names_its_pid_and_others_do_not() {
        let line = "3: FLOCK  ADVISORY  WRITE 4242 08:1f:131 0 EOF";
        assert_eq!(flock_holder_in(line, (8, 0x1f), 131), Some(4242));
        assert_eq!(flock_holder_in(line, (8, 0x1f), 132), None);
        assert_eq!(flock_holder_in(line, (8, 0x1e), 131), None);
        let waiter = "3: -> FLOCK  ADVISORY  WRITE 77 08:1f:131 0 EOF";
        assert_eq!(flock_holder_in(waiter, (8, 0x1f), 131), None);
        let posix = "4: POSIX  ADVISORY  WRITE 4242 08:1f:131 0 EOF";
        assert_eq!(flock_holder_in(posix, (8, 0x1f), 131), None);
    }
}
