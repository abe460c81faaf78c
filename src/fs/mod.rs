//! The filesystem trait: the file operations that storage code uses (the journal's, and those of
//! logs, pagers and atomic replaces: open for writing, truncate, modes, links, rmdir, rename
//! flags), one method per syscall, so that the simulator can put a crash point between any two of
//! them.
//!
//! Two backends implement it: [`real::RealFs`] (Linux, every operation relative to a directory
//! descriptor, never following a symlink) and [`crate::sim::SimFs`] (an in-memory filesystem that
//! records every operation and can rebuild what a crash would leave on disk).
//!
//! Contract shared by both backends:
//! - every path is a [`RelPath`] resolved under the backend's root; no component, intermediate or
//!   final, is followed if it is a symlink: the operation fails with [`FsErrorKind::Symlink`]
//!   (`link` and `rename` act on a symlink itself when it is the final component, as `linkat`
//!   without `AT_SYMLINK_FOLLOW` and `renameat` do);
//! - `create_new` is `O_CREAT|O_EXCL`: it never opens or truncates an existing file;
//!   `open_write` opens an existing regular file read-write and never truncates it;
//! - `write_at` writes every byte or returns an error; a short write is retried inside. An
//!   *append* is `write_at` at the file's current length (there is no `O_APPEND`: the caller
//!   knows the length, from `stat` or its own bookkeeping);
//! - `read_dir` returns the entries sorted by name, without `.` and `..`; a name that is not
//!   UTF-8 is listed as [`DirName::NotUtf8`], never an error for the whole directory;
//! - `fsync`/`fdatasync` make one file's data durable (`fsync` also its mode), `fsync_dir` one
//!   directory's entries, and `syncfs` everything on the filesystem.

pub mod real;

use crate::path::RelPath;
use std::fmt;

/// What went wrong in a filesystem operation, portable across backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsErrorKind {
    /// The path, or one of its parents, does not exist (`ENOENT`).
    NotFound,
    /// `create_new` or `mkdir` met an existing name (`EEXIST`).
    AlreadyExists,
    /// A parent component is not a directory (`ENOTDIR`).
    NotADirectory,
    /// A file operation met a directory (`EISDIR`).
    IsADirectory,
    /// The path, or one of its parents, is a symlink, which is never followed (`ELOOP`).
    Symlink,
    /// A directory to remove or replace is not empty (`ENOTEMPTY`).
    NotEmpty,
    /// The disk is full (`ENOSPC`, `EDQUOT`).
    NoSpace,
    /// The device reported an I/O error (`EIO`); after a failed fsync the data may be gone.
    Io,
    /// A rename crossed filesystems (`EXDEV`).
    CrossDevice,
    /// Permission denied (`EACCES`, `EPERM`).
    PermissionDenied,
    /// The file is not a regular file or directory (a socket, a device…).
    Unsupported,
    /// Anything else; the errno is kept in [`FsError::errno`].
    Other,
}

impl fmt::Display for FsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsErrorKind::NotFound => "not found",
            FsErrorKind::AlreadyExists => "already exists",
            FsErrorKind::NotADirectory => "a parent is not a directory",
            FsErrorKind::IsADirectory => "is a directory",
            FsErrorKind::Symlink => "is or goes through a symlink, which crashsafe never follows",
            FsErrorKind::NotEmpty => "directory not empty",
            FsErrorKind::NoSpace => "no space left on device",
            FsErrorKind::Io => "I/O error",
            FsErrorKind::CrossDevice => "crosses filesystems",
            FsErrorKind::PermissionDenied => "permission denied",
            FsErrorKind::Unsupported => "not a regular file or directory",
            FsErrorKind::Other => "operation failed",
        })
    }
}

/// A filesystem operation, named after the [`Fs`] method (or helper) that failed or was called.
/// Its `Display` is the method's name (`fsync`, `rename`…), as error messages print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// [`Fs::create_new`] or [`Fs::create_new_with_mode`] (one syscall: `openat(O_CREAT|O_EXCL)`).
    CreateNew,
    /// [`Fs::open_read`].
    OpenRead,
    /// [`Fs::open_write`].
    OpenWrite,
    /// [`Fs::write_at`].
    WriteAt,
    /// [`Fs::read_at`].
    ReadAt,
    /// [`Fs::set_len`].
    SetLen,
    /// [`Fs::set_mode`].
    SetMode,
    /// [`Fs::fsync`].
    Fsync,
    /// [`Fs::fdatasync`].
    Fdatasync,
    /// [`Fs::rename`], or [`Fs::rename_with`] without flags.
    Rename,
    /// [`Fs::rename_with`] with a flag set (`renameat2`).
    RenameWith,
    /// [`Fs::unlink`].
    Unlink,
    /// [`Fs::rmdir`].
    Rmdir,
    /// [`Fs::mkdir`] (and [`create_dir_all`]).
    Mkdir,
    /// [`Fs::link`].
    Link,
    /// [`Fs::symlink`].
    Symlink,
    /// [`Fs::read_dir`].
    ReadDir,
    /// [`Fs::stat`].
    Stat,
    /// [`Fs::fsync_dir`].
    FsyncDir,
    /// [`Fs::syncfs`].
    Syncfs,
    /// [`read_capped`] on a file longer than its cap.
    Read,
    /// Opening a backend's root directory ([`real::RealFs::open`]).
    Open,
    /// Creating and opening a backend's root ([`real::RealFs::open_or_create`]).
    OpenOrCreate,
    /// [`Fs::lock_dir`].
    LockDir,
    /// [`Fs::set_owner`].
    SetOwner,
}

impl Op {
    /// The method's name, as messages print it.
    pub fn name(self) -> &'static str {
        match self {
            Op::CreateNew => "create_new",
            Op::OpenRead => "open_read",
            Op::OpenWrite => "open_write",
            Op::WriteAt => "write_at",
            Op::ReadAt => "read_at",
            Op::SetLen => "set_len",
            Op::SetMode => "set_mode",
            Op::Fsync => "fsync",
            Op::Fdatasync => "fdatasync",
            Op::Rename => "rename",
            Op::RenameWith => "rename_with",
            Op::Unlink => "unlink",
            Op::Rmdir => "rmdir",
            Op::Mkdir => "mkdir",
            Op::Link => "link",
            Op::Symlink => "symlink",
            Op::ReadDir => "read_dir",
            Op::Stat => "stat",
            Op::FsyncDir => "fsync_dir",
            Op::Syncfs => "syncfs",
            Op::Read => "read",
            Op::Open => "open",
            Op::OpenOrCreate => "open_or_create",
            Op::LockDir => "lock_dir",
            Op::SetOwner => "set_owner",
        }
    }

    /// Whether this is a synchronisation call (`fsync`, `fdatasync`, `fsync_dir`, `syncfs`).
    pub fn is_sync(self) -> bool {
        matches!(self, Op::Fsync | Op::Fdatasync | Op::FsyncDir | Op::Syncfs)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The permission bits of a file (`st_mode & 0o7777`: rwx for user, group, other, and the
/// set-uid, set-gid and sticky bits). `Display` prints them in octal, as `0644`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileMode(u16);

impl FileMode {
    /// `0644`: what [`Fs::create_new`] gives a file (before the umask, on a real filesystem).
    pub const FILE_DEFAULT: FileMode = FileMode(0o644);
    /// `0755`: what [`Fs::mkdir`] gives a directory (before the umask, on a real filesystem).
    pub const DIR_DEFAULT: FileMode = FileMode(0o755);
    /// `0777`: the mode Linux reports for every symlink.
    pub const SYMLINK: FileMode = FileMode(0o777);

    /// The mode with these permission bits, or `None` if `bits` has any bit outside `0o7777`.
    pub const fn new(bits: u32) -> Option<FileMode> {
        if bits & !0o7777 == 0 {
            Some(FileMode(bits as u16))
        } else {
            None
        }
    }

    /// The permission bits of a raw `st_mode` (the file type bits are dropped).
    pub const fn from_st_mode(st_mode: u32) -> FileMode {
        FileMode((st_mode & 0o7777) as u16)
    }

    /// The permission bits.
    pub const fn bits(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// How [`Fs::rename_with`] treats the destination (`renameat2` flags). The default (no flag) is
/// a plain `rename`: an existing destination is atomically replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RenameFlags {
    /// `RENAME_NOREPLACE`: fail with [`FsErrorKind::AlreadyExists`] if the destination exists.
    pub no_replace: bool,
    /// `RENAME_EXCHANGE`: atomically swap the two names, both of which must exist.
    pub exchange: bool,
}

impl RenameFlags {
    /// No flag: a plain rename.
    pub const REPLACE: RenameFlags = RenameFlags {
        no_replace: false,
        exchange: false,
    };
    /// `RENAME_NOREPLACE` only.
    pub const NO_REPLACE: RenameFlags = RenameFlags {
        no_replace: true,
        exchange: false,
    };
    /// `RENAME_EXCHANGE` only.
    pub const EXCHANGE: RenameFlags = RenameFlags {
        no_replace: false,
        exchange: true,
    };

    /// The operation these flags make: [`Op::Rename`] without flags, else [`Op::RenameWith`].
    pub fn op(self) -> Op {
        if self == RenameFlags::REPLACE {
            Op::Rename
        } else {
            Op::RenameWith
        }
    }
}

/// A failed filesystem operation: which operation, on which path, and what kind of failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op} {path}: {kind}{}", errno.map(|e| format!(" (errno {e})")).unwrap_or_default())]
pub struct FsError {
    /// The operation, named as the trait method (`fsync`, `rename`…).
    pub op: Op,
    /// The path it was applied to (the source, for a rename).
    pub path: String,
    /// The kind of failure.
    pub kind: FsErrorKind,
    /// The OS error number, when there was one.
    pub errno: Option<i32>,
}

impl FsError {
    /// An error of `kind` from `op` on `path`, without an errno.
    pub fn new(op: Op, path: &RelPath, kind: FsErrorKind) -> FsError {
        FsError {
            op,
            path: path.to_string(),
            kind,
            errno: None,
        }
    }
}

/// The result of a filesystem operation.
pub type FsResult<T> = Result<T, FsError>;

/// What a name refers to, as `lstat` sees it (a symlink is never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// What `stat` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// The kind of the name itself.
    pub kind: FileKind,
    /// The length in bytes (0 for anything but a regular file).
    pub len: u64,
    /// The permission bits.
    pub mode: FileMode,
    /// How many names refer to the inode (hard links; `st_nlink`). Only a regular file's count
    /// is portable between backends (directories count their subdirectories on Linux).
    pub nlink: u64,
    /// The owner and group, on a backend that has them (`None` in the simulator).
    pub owner: Option<Owner>,
}

/// A file's owner and group (`st_uid`, `st_gid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    /// The owning user's id.
    pub uid: u32,
    /// The owning group's id.
    pub gid: u32,
}

/// One name in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// The name (one component).
    pub name: DirName,
    /// What it is.
    pub kind: FileKind,
}

/// A name found in a directory. Linux names are bytes; one that is not UTF-8 cannot be a
/// [`RelPath`] component, so it is reported as such instead of failing the whole listing, and a
/// caller can refuse that one name and go on with the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DirName {
    /// A UTF-8 name.
    Utf8(String),
    /// A name that is not valid UTF-8, as its raw bytes.
    NotUtf8(Vec<u8>),
}

impl DirName {
    /// The name as a string, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            DirName::Utf8(s) => Some(s),
            DirName::NotUtf8(_) => None,
        }
    }

    /// The name's bytes, as the kernel gave them.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            DirName::Utf8(s) => s.as_bytes(),
            DirName::NotUtf8(bytes) => bytes,
        }
    }
}

impl From<&str> for DirName {
    fn from(s: &str) -> DirName {
        DirName::Utf8(s.to_owned())
    }
}

/// Shows a UTF-8 name as is, and any other with its invalid bytes escaped (`\xff`).
impl fmt::Display for DirName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirName::Utf8(s) => f.write_str(s),
            DirName::NotUtf8(bytes) => write!(f, "{}", bytes.escape_ascii()),
        }
    }
}

/// How a directory is locked by [`Fs::lock_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Many holders at once, none exclusive (`LOCK_SH`): readers such as `inspect`.
    Shared,
    /// One holder, no shared ones (`LOCK_EX`): the journal's one writer.
    Exclusive,
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockMode::Shared => "shared",
            LockMode::Exclusive => "exclusive",
        })
    }
}

/// Why [`Fs::lock_dir`] returned without the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another holder kept a conflicting lock for the whole wait.
    #[error("{path} is locked by {}", holder.map_or_else(|| "another process".to_string(), |pid| format!("process {pid}")))]
    Busy {
        /// The directory.
        path: String,
        /// The holder's process id, when the backend can tell (best effort).
        holder: Option<u32>,
    },
    /// Opening or locking the directory failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// The file operations that storage code uses, one per syscall. See the module doc for the
/// contract.
///
/// There is no `fallocate`: on Linux it either changes no visible state (`FALLOC_FL_KEEP_SIZE`)
/// or grows the file with zeros exactly as [`Fs::set_len`] does, and what a crash may leave of
/// a later write into preallocated space (its bytes, torn blocks, or zeros) is already what the
/// persistence models allow for any write. No model needs it to be honest, so it is left out
/// until a subject needs to state its intent.
pub trait Fs {
    /// An open file. Closed when dropped.
    type File;
    /// A held directory lock, released when dropped.
    type DirLock: fmt::Debug;

    /// Creates a new, empty regular file with mode `0644` ([`FileMode::FILE_DEFAULT`]), failing
    /// if the name exists (`O_CREAT|O_EXCL`). Opened read-write.
    fn create_new(&self, path: &RelPath) -> FsResult<Self::File> {
        self.create_new_with_mode(path, FileMode::FILE_DEFAULT)
    }
    /// Creates a new, empty regular file with permission bits `mode`, failing if the name exists
    /// (`openat(O_CREAT|O_EXCL, mode)`). On a real filesystem the process umask clears bits of
    /// `mode`, as `open(2)` says; [`crate::sim::SimFs`] has no umask. Use [`Fs::set_mode`] for
    /// an exact mode.
    fn create_new_with_mode(&self, path: &RelPath, mode: FileMode) -> FsResult<Self::File>;
    /// Opens an existing regular file for reading; a symlink or directory is an error.
    fn open_read(&self, path: &RelPath) -> FsResult<Self::File>;
    /// Opens an existing regular file for reading and writing (`O_RDWR`), without truncating
    /// or creating it; a symlink or directory is an error.
    fn open_write(&self, path: &RelPath) -> FsResult<Self::File>;
    /// Writes all of `data` at `offset` (`pwrite`), growing the file if it ends past its length
    /// (a gap reads as zeros). An append is a `write_at` at the current length.
    fn write_at(&self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<()>;
    /// Sets the file's length (`ftruncate`): shrinking drops the bytes past `len`, growing adds
    /// bytes that read as zeros. The file must be open for writing.
    fn set_len(&self, file: &mut Self::File, len: u64) -> FsResult<()>;
    /// Sets the file's permission bits (`fchmod`). Inode metadata: made durable by `fsync`, not
    /// by `fdatasync`.
    fn set_mode(&self, file: &mut Self::File, mode: FileMode) -> FsResult<()>;
    /// Sets the file's owner and group (`fchown`). Only root may give a file away; an owner may
    /// set a group it belongs to; otherwise [`FsErrorKind::PermissionDenied`]. Linux clears the
    /// set-user-id and set-group-id bits of a file whose owner changes: set the mode after.
    /// A backend without owners (the simulator, whose [`Metadata::owner`] is `None`) refuses it
    /// with [`FsErrorKind::Unsupported`].
    fn set_owner(&self, file: &mut Self::File, owner: Owner) -> FsResult<()>;
    /// Reads up to `buf.len()` bytes at `offset` (`pread`); 0 means end of file.
    fn read_at(&self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> FsResult<usize>;
    /// Makes the file's data and size durable (`fsync`). Not its directory entry.
    fn fsync(&self, file: &mut Self::File) -> FsResult<()>;
    /// Makes the file's data and size durable without other metadata (`fdatasync`).
    fn fdatasync(&self, file: &mut Self::File) -> FsResult<()>;
    /// Renames `from` to `to`, atomically replacing a regular file at `to` (`renameat`): the
    /// same as [`Fs::rename_with`] with [`RenameFlags::REPLACE`].
    fn rename(&self, from: &RelPath, to: &RelPath) -> FsResult<()> {
        self.rename_with(from, to, RenameFlags::REPLACE)
    }
    /// Renames `from` to `to` as `flags` say (`renameat2`): without flags as [`Fs::rename`];
    /// with `no_replace`, failing with [`FsErrorKind::AlreadyExists`] if `to` exists; with
    /// `exchange`, atomically swapping the two names (both must exist). Both flags at once are
    /// refused ([`FsErrorKind::Other`], `EINVAL`), changing nothing.
    fn rename_with(&self, from: &RelPath, to: &RelPath, flags: RenameFlags) -> FsResult<()>;
    /// Removes a name that is not a directory (`unlinkat`). The inode lives on while another
    /// name (a hard link) or an open file refers to it.
    fn unlink(&self, path: &RelPath) -> FsResult<()>;
    /// Removes an empty directory (`unlinkat` with `AT_REMOVEDIR`).
    fn rmdir(&self, path: &RelPath) -> FsResult<()>;
    /// Creates a directory with mode `0755` (`mkdirat`).
    fn mkdir(&self, path: &RelPath) -> FsResult<()>;
    /// Gives the inode named `existing` a second name `new` (`linkat` without
    /// `AT_SYMLINK_FOLLOW`: a symlink is linked itself, never followed). `existing` may not be a
    /// directory ([`FsErrorKind::PermissionDenied`], `EPERM`); `new` must be free.
    fn link(&self, existing: &RelPath, new: &RelPath) -> FsResult<()>;
    /// Creates a symlink named `path` whose content is `target` (`symlinkat`; the target is
    /// stored, never resolved). The path comes first, as in the other methods.
    fn symlink(&self, path: &RelPath, target: &str) -> FsResult<()>;
    /// Lists a directory, sorted by name.
    fn read_dir(&self, dir: &RelPath) -> FsResult<Vec<DirEntry>>;
    /// Describes a name without following it (`fstatat` with `AT_SYMLINK_NOFOLLOW`); `None` when
    /// the name does not exist in an existing directory.
    fn stat(&self, path: &RelPath) -> FsResult<Option<Metadata>>;
    /// Makes a directory's entries durable (`fsync` on the directory's descriptor).
    fn fsync_dir(&self, dir: &RelPath) -> FsResult<()>;
    /// Makes everything on the filesystem durable (`syncfs`).
    fn syncfs(&self) -> FsResult<()>;
    /// A barrier group: makes each of `files` durable as [`Fs::fsync`] does and each of `dirs`
    /// as [`Fs::fsync_dir`] does, and returns once all of them are — or the first error, in the
    /// order given (files, then directories), once every call has returned. The calls are
    /// independent, so a backend may issue them concurrently ([`real::RealFs`] does, so that the
    /// filesystem can commit them together); the default issues them one after another, files
    /// first, which is what the simulator records. That order stands for every concurrent one: a
    /// crash while the group runs may find any subset of its calls done, and the states of such
    /// a subset are among the states of the crash before the group's first call (a call not yet
    /// issued may still find its writes on the disk).
    fn sync_group(&self, files: &mut [&mut Self::File], dirs: &[RelPath]) -> FsResult<()> {
        for file in files.iter_mut() {
            self.fsync(file)?;
        }
        for dir in dirs {
            self.fsync_dir(dir)?;
        }
        Ok(())
    }
    /// Locks the directory `dir` in `mode` (`flock`), retrying until `wait` has passed; the lock
    /// lasts until the returned guard is dropped. It is advisory: it excludes only others who
    /// lock too. Changes nothing on disk.
    fn lock_dir(
        &self,
        dir: &RelPath,
        mode: LockMode,
        wait: std::time::Duration,
    ) -> Result<Self::DirLock, LockError>;
}

/// A shared reference to a filesystem is a filesystem, so that a journal can borrow one (the
/// simulator hands its workloads `&SimFs`).
impl<T: Fs + ?Sized> Fs for &T {
    type File = T::File;
    type DirLock = T::DirLock;
    fn create_new(&self, path: &RelPath) -> FsResult<Self::File> {
        (**self).create_new(path)
    }
    fn create_new_with_mode(&self, path: &RelPath, mode: FileMode) -> FsResult<Self::File> {
        (**self).create_new_with_mode(path, mode)
    }
    fn open_read(&self, path: &RelPath) -> FsResult<Self::File> {
        (**self).open_read(path)
    }
    fn open_write(&self, path: &RelPath) -> FsResult<Self::File> {
        (**self).open_write(path)
    }
    fn write_at(&self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<()> {
        (**self).write_at(file, offset, data)
    }
    fn set_len(&self, file: &mut Self::File, len: u64) -> FsResult<()> {
        (**self).set_len(file, len)
    }
    fn set_mode(&self, file: &mut Self::File, mode: FileMode) -> FsResult<()> {
        (**self).set_mode(file, mode)
    }
    fn set_owner(&self, file: &mut Self::File, owner: Owner) -> FsResult<()> {
        (**self).set_owner(file, owner)
    }
    fn read_at(&self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        (**self).read_at(file, offset, buf)
    }
    fn fsync(&self, file: &mut Self::File) -> FsResult<()> {
        (**self).fsync(file)
    }
    fn fdatasync(&self, file: &mut Self::File) -> FsResult<()> {
        (**self).fdatasync(file)
    }
    fn rename(&self, from: &RelPath, to: &RelPath) -> FsResult<()> {
        (**self).rename(from, to)
    }
    fn rename_with(&self, from: &RelPath, to: &RelPath, flags: RenameFlags) -> FsResult<()> {
        (**self).rename_with(from, to, flags)
    }
    fn unlink(&self, path: &RelPath) -> FsResult<()> {
        (**self).unlink(path)
    }
    fn rmdir(&self, path: &RelPath) -> FsResult<()> {
        (**self).rmdir(path)
    }
    fn mkdir(&self, path: &RelPath) -> FsResult<()> {
        (**self).mkdir(path)
    }
    fn link(&self, existing: &RelPath, new: &RelPath) -> FsResult<()> {
        (**self).link(existing, new)
    }
    fn symlink(&self, path: &RelPath, target: &str) -> FsResult<()> {
        (**self).symlink(path, target)
    }
    fn read_dir(&self, dir: &RelPath) -> FsResult<Vec<DirEntry>> {
        (**self).read_dir(dir)
    }
    fn stat(&self, path: &RelPath) -> FsResult<Option<Metadata>> {
        (**self).stat(path)
    }
    fn fsync_dir(&self, dir: &RelPath) -> FsResult<()> {
        (**self).fsync_dir(dir)
    }
    fn syncfs(&self) -> FsResult<()> {
        (**self).syncfs()
    }
    fn sync_group(&self, files: &mut [&mut Self::File], dirs: &[RelPath]) -> FsResult<()> {
        (**self).sync_group(files, dirs)
    }
    fn lock_dir(
        &self,
        dir: &RelPath,
        mode: LockMode,
        wait: std::time::Duration,
    ) -> Result<Self::DirLock, LockError> {
        (**self).lock_dir(dir, mode, wait)
    }
}

/// Reads a whole file, failing with [`FsErrorKind::Other`] if it is longer than `cap` bytes.
pub fn read_capped<F: Fs + ?Sized>(fs: &F, path: &RelPath, cap: u64) -> FsResult<Vec<u8>> {
    let mut file = fs.open_read(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = fs.read_at(&mut file, out.len() as u64, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() as u64 + n as u64 > cap {
            return Err(FsError::new(Op::Read, path, FsErrorKind::Other));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Streams a file through `sink` in chunks, returning its length.
pub fn read_chunks<F: Fs + ?Sized>(
    fs: &F,
    path: &RelPath,
    mut sink: impl FnMut(&[u8]),
) -> FsResult<u64> {
    let mut file = fs.open_read(path)?;
    // Start small (most files are) and grow to 256 KiB for large ones.
    let mut buf = vec![0u8; 16 * 1024];
    let mut offset = 0u64;
    loop {
        let n = fs.read_at(&mut file, offset, &mut buf)?;
        if n == 0 {
            return Ok(offset);
        }
        sink(&buf[..n]);
        offset += n as u64;
        if n == buf.len() && buf.len() < 256 * 1024 {
            buf.resize(buf.len() * 4, 0);
        }
    }
}

/// Makes `path` and every missing parent a directory, like `mkdir -p`. Returns the directories it
/// created, outermost first, so that a caller can fsync their parents.
pub fn create_dir_all<F: Fs + ?Sized>(fs: &F, path: &RelPath) -> FsResult<Vec<RelPath>> {
    let mut created = Vec::new();
    let mut current = RelPath::root();
    for component in path.components() {
        current = current
            .join(component)
            .expect("a component of a checked path is a checked path");
        match fs.stat(&current)? {
            Some(Metadata {
                kind: FileKind::Dir,
                ..
            }) => {}
            Some(Metadata {
                kind: FileKind::Symlink,
                ..
            }) => return Err(FsError::new(Op::Mkdir, &current, FsErrorKind::Symlink)),
            Some(_) => {
                return Err(FsError::new(
                    Op::Mkdir,
                    &current,
                    FsErrorKind::NotADirectory,
                ))
            }
            None => match fs.mkdir(&current) {
                Ok(()) => created.push(current.clone()),
                // Made by someone else since the stat: fine if it is a directory.
                Err(e) if e.kind == FsErrorKind::AlreadyExists => {
                    let now = fs.stat(&current)?;
                    if now.map(|m| m.kind) != Some(FileKind::Dir) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            },
        }
    }
    Ok(created)
}
