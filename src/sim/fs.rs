//! [`SimFs`]: the in-memory [`Fs`] that records every mutating call as a [`TraceOp`].

use super::image::{Image, Inode, ROOT};
use super::trace::{Ino, SyncCall, TraceOp};
use crate::fs::{
    DirEntry, DirName, FileKind, FileMode, Fs, FsError, FsErrorKind, FsResult, LockError, LockMode,
    Metadata, Op, Owner, RenameFlags,
};
use crate::path::RelPath;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which error an injected [`Fault`] raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// The device fails: [`FsErrorKind::Io`].
    Eio,
    /// The disk is full: [`FsErrorKind::NoSpace`], on calls that allocate (`create_new`,
    /// `write_at`, `set_len`, `mkdir`, `rename`, `rename_with`, `link`, `symlink`); on any other
    /// call it acts as [`FaultKind::Eio`].
    NoSpace,
}

impl FaultKind {
    /// Both kinds, in order.
    pub const ALL: [FaultKind; 2] = [FaultKind::Eio, FaultKind::NoSpace];

    /// `"eio"` or `"nospace"`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Eio => "eio",
            FaultKind::NoSpace => "nospace",
        }
    }
}

/// An injected failure: the `at`-th mutating call (0-based, counting every call to a mutating
/// method whether or not it succeeds) fails with `kind` and is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fault {
    /// Which mutating call fails.
    pub at: usize,
    /// How it fails.
    pub kind: FaultKind,
}

/// One call to a mutating method, as [`SimFs::calls`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRecord {
    /// The method.
    pub op: Op,
    /// Whether the call allocates space (so that [`FaultKind::NoSpace`] applies to it).
    pub allocates: bool,
}

/// An open file of a [`SimFs`]: an inode, the path it was opened under, and whether it may be
/// written. It keeps working after its name is unlinked or renamed.
#[derive(Debug, Clone)]
pub struct SimFile {
    ino: Ino,
    path: RelPath,
    writable: bool,
}

impl SimFile {
    /// The path the file was opened (or created) under.
    pub fn path(&self) -> &RelPath {
        &self.path
    }
}

struct Inner {
    image: Image,
    /// Files unlinked or replaced while possibly still open: their bytes, for open handles.
    orphans: BTreeMap<Ino, Arc<Vec<u8>>>,
    trace: Vec<TraceOp>,
    calls: Vec<CallRecord>,
    fault: Option<Fault>,
    fault_fired: Option<usize>,
}

/// The simulated filesystem: a live [`Image`] that every call reads and changes, and the trace of
/// the mutating calls from which the explorer rebuilds what a crash could leave on disk.
///
/// Methods take `&self` (the state sits in a [`RefCell`]): a `SimFs` is `Send` but not `Sync`;
/// build one per thread.
pub struct SimFs {
    inner: RefCell<Inner>,
}

impl Default for SimFs {
    fn default() -> Self {
        SimFs::new()
    }
}

/// The largest file the simulator holds (it keeps files in memory): a write or `set_len` past it
/// fails with [`FsErrorKind::NoSpace`] and changes nothing.
pub const MAX_SIM_FILE_LEN: u64 = 1 << 30;

fn err(op: Op, path: &RelPath, kind: FsErrorKind) -> FsError {
    FsError::new(op, path, kind)
}

impl SimFs {
    /// An empty filesystem: the root directory only.
    pub fn new() -> SimFs {
        SimFs::from_image(&Image::new())
    }

    /// A filesystem whose live (and durable) state is `image`, with an empty trace.
    pub fn from_image(image: &Image) -> SimFs {
        SimFs {
            inner: RefCell::new(Inner {
                image: image.clone(),
                orphans: BTreeMap::new(),
                trace: Vec::new(),
                calls: Vec::new(),
                fault: None,
                fault_fired: None,
            }),
        }
    }

    /// The live view now (what a reader sees, durable or not).
    pub fn image(&self) -> Image {
        self.inner.borrow().image.clone()
    }

    /// The live view and the operations recorded, taken without copying.
    pub fn into_parts(self) -> (Image, Vec<TraceOp>) {
        let inner = self.inner.into_inner();
        (inner.image, inner.trace)
    }

    /// How many operations the trace holds: the index of the current crash point.
    pub fn op_count(&self) -> usize {
        self.inner.borrow().trace.len()
    }

    /// The operations recorded so far.
    pub fn trace(&self) -> Vec<TraceOp> {
        self.inner.borrow().trace.clone()
    }

    /// Every call to a mutating method so far, failed or not (what [`Fault::at`] counts).
    pub fn calls(&self) -> Vec<CallRecord> {
        self.inner.borrow().calls.clone()
    }

    /// Arms (or, with `None`, disarms) an injected fault.
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut inner = self.inner.borrow_mut();
        inner.fault = fault;
        inner.fault_fired = None;
    }

    /// The trace length when the armed fault fired, if it has.
    pub fn fault_fired_at(&self) -> Option<usize> {
        self.inner.borrow().fault_fired
    }

    fn sync(&self, call: SyncCall, path: &RelPath, ino: Ino, op: TraceOp) -> FsResult<()> {
        let inner = &mut *self.inner.borrow_mut();
        if let Err(e) = inner.begin(call.op(), path, false) {
            inner.trace.push(TraceOp::FailedFsync {
                call,
                path: path.clone(),
                ino,
            });
            return Err(e);
        }
        inner.trace.push(op);
        Ok(())
    }
}

impl Inner {
    /// Counts a mutating call and fires the armed fault if it is this one.
    fn begin(&mut self, op: Op, path: &RelPath, allocates: bool) -> FsResult<()> {
        let index = self.calls.len();
        self.calls.push(CallRecord { op, allocates });
        match self.fault {
            Some(fault) if fault.at == index => {
                self.fault_fired = Some(self.trace.len());
                let kind = match fault.kind {
                    FaultKind::NoSpace if allocates => FsErrorKind::NoSpace,
                    _ => FsErrorKind::Io,
                };
                Err(err(op, path, kind))
            }
            _ => Ok(()),
        }
    }

    /// The parent directory of `path` and its last name, which must be free.
    fn free_name<'p>(&self, op: Op, path: &'p RelPath) -> FsResult<(Ino, &'p str)> {
        if path.is_root() {
            return Err(err(op, path, FsErrorKind::AlreadyExists));
        }
        let (dir, name) = self
            .image
            .resolve_parent(path)
            .map_err(|k| err(op, path, k))?;
        if self.image.dir(dir).is_some_and(|d| d.contains_key(name)) {
            return Err(err(op, path, FsErrorKind::AlreadyExists));
        }
        Ok((dir, name))
    }

    /// For a call on two names (rename, exchange, link), as the real backend does it: walks
    /// `from`'s parent, then `to`'s, then looks `from` up (which must exist). Returns `from`'s
    /// directory, name and inode, and `to`'s directory and name.
    fn two_names<'p>(
        &self,
        op: Op,
        from: &'p RelPath,
        to: &'p RelPath,
    ) -> FsResult<(Ino, &'p str, Ino, Ino, &'p str)> {
        let (from_dir, from_name) = self
            .image
            .resolve_parent(from)
            .map_err(|k| err(op, from, k))?;
        let (to_dir, to_name) = self.image.resolve_parent(to).map_err(|k| err(op, to, k))?;
        let ino = self
            .image
            .dir(from_dir)
            .and_then(|d| d.get(from_name).copied());
        let ino = ino.ok_or_else(|| err(op, from, FsErrorKind::NotFound))?;
        Ok((from_dir, from_name, ino, to_dir, to_name))
    }

    /// Resolves a name that must exist, with its parent directory.
    fn existing<'p>(&self, op: Op, path: &'p RelPath) -> FsResult<(Ino, &'p str, Ino)> {
        let (dir, name) = self
            .image
            .resolve_parent(path)
            .map_err(|k| err(op, path, k))?;
        let ino = self.image.dir(dir).and_then(|d| d.get(name).copied());
        let ino = ino.ok_or_else(|| err(op, path, FsErrorKind::NotFound))?;
        Ok((dir, name, ino))
    }

    /// Resolves a path that must be a directory.
    fn directory(&self, op: Op, path: &RelPath) -> FsResult<Ino> {
        let ino = self.image.resolve(path).map_err(|k| err(op, path, k))?;
        match self.image.inode(ino) {
            Some(Inode::Dir(_)) => Ok(ino),
            Some(Inode::Symlink(_)) => Err(err(op, path, FsErrorKind::Symlink)),
            _ => Err(err(op, path, FsErrorKind::NotADirectory)),
        }
    }

    /// Keeps the bytes of a file that lost its last name, for handles still open on it.
    fn orphan(&mut self, removed: Option<(Ino, Inode)>) {
        if let Some((ino, Inode::File { data, .. })) = removed {
            self.orphans.insert(ino, data);
        }
    }

    /// The bytes of an open file: its inode's, or the orphaned copy once its last name is gone.
    fn bytes_mut(&mut self, ino: Ino) -> &mut Vec<u8> {
        match self.image.file_mut(ino) {
            Some(bytes) => bytes,
            None => Arc::make_mut(self.orphans.entry(ino).or_default()),
        }
    }

    /// Counts a call on an open file, which must be writable, and checks that the file would not
    /// grow past [`MAX_SIM_FILE_LEN`]. A file opened read-only is refused with
    /// [`FsErrorKind::Other`], as the kernel refuses it (`pwrite`: `EBADF`, `ftruncate`:
    /// `EINVAL`).
    fn begin_write(&mut self, op: Op, file: &SimFile, end: Option<u64>) -> FsResult<()> {
        self.begin(op, &file.path, true)?;
        if !file.writable {
            return Err(err(op, &file.path, FsErrorKind::Other));
        }
        match end {
            Some(end) if end <= MAX_SIM_FILE_LEN => Ok(()),
            _ => Err(err(op, &file.path, FsErrorKind::NoSpace)),
        }
    }

    /// Opens an existing regular file (never through or at a symlink).
    fn open_existing(&self, op: Op, path: &RelPath, writable: bool) -> FsResult<SimFile> {
        let ino = self.image.resolve(path).map_err(|k| err(op, path, k))?;
        match self.image.inode(ino) {
            Some(Inode::File { .. }) => Ok(SimFile {
                ino,
                path: path.clone(),
                writable,
            }),
            Some(Inode::Dir(_)) => Err(err(op, path, FsErrorKind::IsADirectory)),
            _ => Err(err(op, path, FsErrorKind::Symlink)),
        }
    }

    /// Renames without flags or with `RENAME_NOREPLACE` (see [`Fs::rename_with`]).
    fn rename(&mut self, from: &RelPath, to: &RelPath, no_replace: bool) -> FsResult<()> {
        let op = if no_replace {
            Op::RenameWith
        } else {
            Op::Rename
        };
        let (from_dir, from_name, ino, to_dir, to_name) = self.two_names(op, from, to)?;
        let replaced = self.image.dir(to_dir).and_then(|d| d.get(to_name).copied());
        if no_replace && replaced.is_some() {
            return Err(err(op, to, FsErrorKind::AlreadyExists));
        }
        self.image
            .check_rename(ino, to_dir, to_name)
            .map_err(|k| err(op, from, k))?;
        if replaced != Some(ino) {
            let dropped = self.image.move_entry(from_dir, from_name, to_dir, to_name);
            self.orphan(dropped);
        }
        self.trace.push(TraceOp::Rename {
            from: from.clone(),
            to: to.clone(),
            ino,
            from_dir,
            to_dir,
            no_replace,
        });
        Ok(())
    }

    /// Swaps two existing names (`RENAME_EXCHANGE`).
    fn exchange(&mut self, from: &RelPath, to: &RelPath) -> FsResult<()> {
        const OP: Op = Op::RenameWith;
        let (from_dir, from_name, from_ino, to_dir, to_name) = self.two_names(OP, from, to)?;
        let to_ino = self.image.dir(to_dir).and_then(|d| d.get(to_name).copied());
        let to_ino = to_ino.ok_or_else(|| err(OP, to, FsErrorKind::NotFound))?;
        if !self
            .image
            .check_exchange(from_ino, from_dir, to_ino, to_dir)
        {
            return Err(err(OP, from, FsErrorKind::Other));
        }
        self.image
            .exchange_entries(from_dir, from_name, to_dir, to_name);
        self.trace.push(TraceOp::Exchange {
            from: from.clone(),
            to: to.clone(),
            from_ino,
            to_ino,
            from_dir,
            to_dir,
        });
        Ok(())
    }
}

impl Fs for SimFs {
    type File = SimFile;
    type DirLock = SimDirLock;

    fn create_new_with_mode(&self, path: &RelPath, mode: FileMode) -> FsResult<SimFile> {
        const OP: Op = Op::CreateNew;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, path, true)?;
        let (dir, name) = inner.free_name(OP, path)?;
        let ino = inner.image.alloc_ino();
        inner
            .image
            .insert(dir, name, ino, Inode::file(Arc::default(), mode));
        inner.trace.push(TraceOp::Create {
            path: path.clone(),
            ino,
            dir,
            mode,
        });
        Ok(SimFile {
            ino,
            path: path.clone(),
            writable: true,
        })
    }

    fn open_read(&self, path: &RelPath) -> FsResult<SimFile> {
        self.inner.borrow().open_existing(Op::OpenRead, path, false)
    }

    fn open_write(&self, path: &RelPath) -> FsResult<SimFile> {
        self.inner.borrow().open_existing(Op::OpenWrite, path, true)
    }

    fn write_at(&self, file: &mut SimFile, offset: u64, data: &[u8]) -> FsResult<()> {
        let inner = &mut *self.inner.borrow_mut();
        let end = offset.checked_add(data.len() as u64);
        inner.begin_write(Op::WriteAt, file, end)?;
        let bytes = inner.bytes_mut(file.ino);
        let (start, end) = (offset as usize, offset as usize + data.len());
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        inner.trace.push(TraceOp::Write {
            ino: file.ino,
            path: file.path.clone(),
            offset,
            len: data.len() as u64,
            data: Arc::new(data.to_vec()),
        });
        Ok(())
    }

    fn set_len(&self, file: &mut SimFile, len: u64) -> FsResult<()> {
        let inner = &mut *self.inner.borrow_mut();
        inner.begin_write(Op::SetLen, file, Some(len))?;
        inner.bytes_mut(file.ino).resize(len as usize, 0);
        inner.trace.push(TraceOp::SetLen {
            ino: file.ino,
            path: file.path.clone(),
            len,
        });
        Ok(())
    }

    fn set_mode(&self, file: &mut SimFile, mode: FileMode) -> FsResult<()> {
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(Op::SetMode, &file.path, false)?;
        inner.image.set_file_mode(file.ino, mode);
        inner.trace.push(TraceOp::SetMode {
            ino: file.ino,
            path: file.path.clone(),
            mode,
        });
        Ok(())
    }

    /// The simulator has no owners ([`Metadata::owner`] is `None`): refused, nothing recorded.
    fn set_owner(&self, file: &mut SimFile, _owner: Owner) -> FsResult<()> {
        Err(err(Op::SetOwner, &file.path, FsErrorKind::Unsupported))
    }

    fn read_at(&self, file: &mut SimFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        let inner = self.inner.borrow();
        let bytes: &[u8] = match inner.image.inode(file.ino) {
            Some(Inode::File { data, .. }) => data,
            _ => inner
                .orphans
                .get(&file.ino)
                .map(|d| d.as_slice())
                .unwrap_or_default(),
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn fsync(&self, file: &mut SimFile) -> FsResult<()> {
        let op = TraceOp::Fsync {
            ino: file.ino,
            path: file.path.clone(),
        };
        self.sync(SyncCall::Fsync, &file.path, file.ino, op)
    }

    fn fdatasync(&self, file: &mut SimFile) -> FsResult<()> {
        let op = TraceOp::Fdatasync {
            ino: file.ino,
            path: file.path.clone(),
        };
        self.sync(SyncCall::Fdatasync, &file.path, file.ino, op)
    }

    fn rename_with(&self, from: &RelPath, to: &RelPath, flags: RenameFlags) -> FsResult<()> {
        let op = flags.op();
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(op, from, true)?;
        if flags.no_replace && flags.exchange {
            return Err(err(op, from, FsErrorKind::Other));
        }
        if from.is_root() || to.is_root() {
            return Err(err(op, from, FsErrorKind::PermissionDenied));
        }
        if flags.exchange {
            inner.exchange(from, to)
        } else {
            inner.rename(from, to, flags.no_replace)
        }
    }

    fn unlink(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Unlink;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, path, false)?;
        if path.is_root() {
            return Err(err(OP, path, FsErrorKind::IsADirectory));
        }
        let (dir, name, ino) = inner.existing(OP, path)?;
        if matches!(inner.image.inode(ino), Some(Inode::Dir(_))) {
            return Err(err(OP, path, FsErrorKind::IsADirectory));
        }
        let removed = inner.image.unlink_entry(dir, name);
        inner.orphan(removed);
        inner.trace.push(TraceOp::Unlink {
            path: path.clone(),
            ino,
            dir,
        });
        Ok(())
    }

    fn rmdir(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Rmdir;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, path, false)?;
        if path.is_root() {
            // `unlinkat(".", AT_REMOVEDIR)` is EINVAL.
            return Err(err(OP, path, FsErrorKind::Other));
        }
        let (dir, name, ino) = inner.existing(OP, path)?;
        match inner.image.dir(ino) {
            None => return Err(err(OP, path, FsErrorKind::NotADirectory)),
            Some(entries) if !entries.is_empty() => {
                return Err(err(OP, path, FsErrorKind::NotEmpty))
            }
            Some(_) => {}
        }
        inner.image.unlink_entry(dir, name);
        inner.trace.push(TraceOp::Rmdir {
            path: path.clone(),
            ino,
            dir,
        });
        Ok(())
    }

    fn mkdir(&self, path: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Mkdir;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, path, true)?;
        let (dir, name) = inner.free_name(OP, path)?;
        let ino = inner.image.alloc_ino();
        inner
            .image
            .insert(dir, name, ino, Inode::Dir(Arc::default()));
        inner.trace.push(TraceOp::Mkdir {
            path: path.clone(),
            ino,
            dir,
        });
        Ok(())
    }

    fn link(&self, existing: &RelPath, new: &RelPath) -> FsResult<()> {
        const OP: Op = Op::Link;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, existing, true)?;
        if existing.is_root() {
            return Err(err(OP, existing, FsErrorKind::PermissionDenied));
        }
        // As `linkat(2)`: the source is looked up (ENOENT), the new name checked (EEXIST), and
        // only then a directory refused (EPERM).
        let (_, _, ino, dir, name) = inner.two_names(OP, existing, new)?;
        if new.is_root() || inner.image.dir(dir).is_some_and(|d| d.contains_key(name)) {
            return Err(err(OP, new, FsErrorKind::AlreadyExists));
        }
        if matches!(inner.image.inode(ino), Some(Inode::Dir(_))) {
            return Err(err(OP, existing, FsErrorKind::PermissionDenied));
        }
        inner.image.link(dir, name, ino);
        inner.trace.push(TraceOp::Link {
            existing: existing.clone(),
            new: new.clone(),
            ino,
            dir,
        });
        Ok(())
    }

    fn symlink(&self, path: &RelPath, target: &str) -> FsResult<()> {
        const OP: Op = Op::Symlink;
        let inner = &mut *self.inner.borrow_mut();
        inner.begin(OP, path, true)?;
        if target.is_empty() {
            // `symlink(2)`: an empty target is ENOENT.
            return Err(err(OP, path, FsErrorKind::NotFound));
        }
        if target.contains('\0') {
            return Err(err(OP, path, FsErrorKind::Other));
        }
        let (dir, name) = inner.free_name(OP, path)?;
        let ino = inner.image.alloc_ino();
        inner
            .image
            .insert(dir, name, ino, Inode::Symlink(Arc::from(target)));
        inner.trace.push(TraceOp::Symlink {
            path: path.clone(),
            target: target.to_owned(),
            ino,
            dir,
        });
        Ok(())
    }

    fn read_dir(&self, dir: &RelPath) -> FsResult<Vec<DirEntry>> {
        let inner = self.inner.borrow();
        let ino = inner.directory(Op::ReadDir, dir)?;
        let entries = inner.image.dir(ino).expect("a directory");
        Ok(entries
            .iter()
            .map(|(name, child)| DirEntry {
                name: DirName::Utf8(name.to_string()),
                kind: inner
                    .image
                    .inode(*child)
                    .map_or(FileKind::Other, Inode::kind),
            })
            .collect())
    }

    fn stat(&self, path: &RelPath) -> FsResult<Option<Metadata>> {
        let inner = self.inner.borrow();
        let ino = if path.is_root() {
            ROOT
        } else {
            let (dir, name) = inner
                .image
                .resolve_parent(path)
                .map_err(|k| err(Op::Stat, path, k))?;
            match inner.image.dir(dir).and_then(|d| d.get(name)) {
                Some(&ino) => ino,
                None => return Ok(None),
            }
        };
        Ok(inner.image.inode(ino).map(|inode| Metadata {
            kind: inode.kind(),
            len: inner.image.file_len(ino).unwrap_or(0),
            mode: inode.mode(),
            nlink: inner.image.link_count(ino),
            owner: None,
        }))
    }

    fn fsync_dir(&self, dir: &RelPath) -> FsResult<()> {
        let resolved = self.inner.borrow().directory(Op::FsyncDir, dir);
        let ino = match resolved {
            Ok(ino) => ino,
            Err(e) => {
                // Still a mutating call: count it (and let an armed fault fire on it).
                self.inner.borrow_mut().begin(Op::FsyncDir, dir, false)?;
                return Err(e);
            }
        };
        let op = TraceOp::FsyncDir {
            path: dir.clone(),
            ino,
        };
        self.sync(SyncCall::FsyncDir, dir, ino, op)
    }

    fn syncfs(&self) -> FsResult<()> {
        self.sync(SyncCall::Syncfs, &RelPath::root(), ROOT, TraceOp::Syncfs)
    }

    /// The simulator runs one workload in one process, with nobody to exclude: the lock checks
    /// that `dir` is a directory and returns a guard that excludes nothing. It is not a mutating
    /// call: it is neither traced (a lock is not on disk, so a crash state does not depend on it)
    /// nor counted for fault injection.
    fn lock_dir(
        &self,
        dir: &RelPath,
        _mode: LockMode,
        _wait: std::time::Duration,
    ) -> Result<SimDirLock, LockError> {
        self.inner.borrow().directory(Op::LockDir, dir)?;
        Ok(SimDirLock(()))
    }
}

/// The guard [`SimFs::lock_dir`] returns: it holds nothing (see there).
#[derive(Debug)]
pub struct SimDirLock(());

#[cfg(test)]
mod tests;
