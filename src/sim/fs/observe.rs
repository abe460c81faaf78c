//! What a program observes of a [`SimFs`]: each call it makes through [`Fs`] and the reply it
//! gets, kept while [`SimFs::observe`] is on, and made again on another filesystem by
//! [`Call::make`].
//!
//! A reply is everything the call tells its caller: success or the error, the bytes read, the
//! listing, the metadata. A handle's inode number is not part of it ([`SimFile`] hides it), so a
//! handle is named by its serial, the count of handles the filesystem opened before it.

use super::{SimFile, SimFs};
use crate::fs::{
    DirEntry, FileMode, Fs, FsError, LockError, LockMode, Metadata, Owner, RenameFlags,
};
use crate::path::RelPath;

/// One call through [`Fs`], with its arguments (a handle by its serial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    CreateNew {
        path: RelPath,
        mode: FileMode,
    },
    OpenRead(RelPath),
    OpenWrite(RelPath),
    WriteAt {
        file: usize,
        offset: u64,
        data: Vec<u8>,
    },
    SetLen {
        file: usize,
        len: u64,
    },
    SetMode {
        file: usize,
        mode: FileMode,
    },
    SetOwner {
        file: usize,
        owner: Owner,
    },
    ReadAt {
        file: usize,
        offset: u64,
        len: usize,
    },
    Fsync(usize),
    Fdatasync(usize),
    RenameWith {
        from: RelPath,
        to: RelPath,
        flags: RenameFlags,
    },
    Unlink(RelPath),
    Rmdir(RelPath),
    Mkdir(RelPath),
    Link {
        existing: RelPath,
        new: RelPath,
    },
    Symlink {
        path: RelPath,
        target: String,
    },
    ReadDir(RelPath),
    Stat(RelPath),
    FsyncDir(RelPath),
    Syncfs,
    LockDir {
        dir: RelPath,
        mode: LockMode,
    },
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// Nothing but success.
    Done,
    /// A new handle (the next serial).
    Opened,
    /// The bytes a read returned.
    Read(Vec<u8>),
    /// A directory's entries.
    Listing(Vec<DirEntry>),
    /// What `stat` found.
    Stat(Option<Metadata>),
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A filesystem error.
    Fs(FsError),
    /// A lock error.
    Lock(LockError),
}

/// The reply to a call.
pub(crate) type Reply = Result<Value, Failure>;

/// One call and its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    pub call: Call,
    pub reply: Reply,
}

impl Call {
    /// Makes this call on `fs`, whose handles so far are `handles` (by serial; a new one is
    /// pushed). `None` if the call names a handle `fs` never opened.
    pub(crate) fn make(&self, fs: &SimFs, handles: &mut Vec<SimFile>) -> Option<Reply> {
        fn done<T>(r: Result<T, FsError>) -> Reply {
            r.map(|_| Value::Done).map_err(Failure::Fs)
        }
        let mut opened = |r: Result<SimFile, FsError>| match r {
            Ok(file) => {
                handles.push(file);
                Ok(Value::Opened)
            }
            Err(e) => Err(Failure::Fs(e)),
        };
        let reply = match self {
            Call::CreateNew { path, mode } => opened(fs.create_new_with_mode(path, *mode)),
            Call::OpenRead(path) => opened(fs.open_read(path)),
            Call::OpenWrite(path) => opened(fs.open_write(path)),
            Call::RenameWith { from, to, flags } => done(fs.rename_with(from, to, *flags)),
            Call::Unlink(path) => done(fs.unlink(path)),
            Call::Rmdir(path) => done(fs.rmdir(path)),
            Call::Mkdir(path) => done(fs.mkdir(path)),
            Call::Link { existing, new } => done(fs.link(existing, new)),
            Call::Symlink { path, target } => done(fs.symlink(path, target)),
            Call::ReadDir(dir) => fs.read_dir(dir).map(Value::Listing).map_err(Failure::Fs),
            Call::Stat(path) => fs.stat(path).map(Value::Stat).map_err(Failure::Fs),
            Call::FsyncDir(dir) => done(fs.fsync_dir(dir)),
            Call::Syncfs => done(fs.syncfs()),
            Call::LockDir { dir, mode } => fs
                .lock_dir(dir, *mode, std::time::Duration::ZERO)
                .map(|_| Value::Done)
                .map_err(Failure::Lock),
            _ => return self.make_on_file(fs, handles),
        };
        Some(reply)
    }

    /// [`Call::make`] for the calls on an open file.
    fn make_on_file(&self, fs: &SimFs, handles: &mut [SimFile]) -> Option<Reply> {
        fn done<T>(r: Result<T, FsError>) -> Reply {
            r.map(|_| Value::Done).map_err(Failure::Fs)
        }
        let serial = match self {
            Call::WriteAt { file, .. }
            | Call::SetLen { file, .. }
            | Call::SetMode { file, .. }
            | Call::SetOwner { file, .. }
            | Call::ReadAt { file, .. }
            | Call::Fsync(file)
            | Call::Fdatasync(file) => *file,
            _ => return None,
        };
        let handle = handles.get_mut(serial)?;
        let reply = match self {
            Call::WriteAt { offset, data, .. } => done(fs.write_at(handle, *offset, data)),
            Call::SetLen { len, .. } => done(fs.set_len(handle, *len)),
            Call::SetMode { mode, .. } => done(fs.set_mode(handle, *mode)),
            Call::SetOwner { owner, .. } => done(fs.set_owner(handle, *owner)),
            Call::ReadAt { offset, len, .. } => {
                let mut buf = vec![0; *len];
                match fs.read_at(handle, *offset, &mut buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Value::Read(buf))
                    }
                    Err(e) => Err(Failure::Fs(e)),
                }
            }
            Call::Fsync(_) => done(fs.fsync(handle)),
            Call::Fdatasync(_) => done(fs.fdatasync(handle)),
            _ => return None,
        };
        Some(reply)
    }

    /// About how many bytes the call keeps (for a memo's budget).
    pub(crate) fn weight(&self) -> usize {
        let payload = match self {
            Call::WriteAt { data, .. } => data.len(),
            Call::Symlink { target, .. } => target.len(),
            Call::RenameWith { from, to, .. }
            | Call::Link {
                existing: from,
                new: to,
            } => from.as_str().len() + to.as_str().len(),
            Call::CreateNew { path, .. }
            | Call::OpenRead(path)
            | Call::OpenWrite(path)
            | Call::Unlink(path)
            | Call::Rmdir(path)
            | Call::Mkdir(path)
            | Call::ReadDir(path)
            | Call::Stat(path)
            | Call::FsyncDir(path)
            | Call::LockDir { dir: path, .. } => path.as_str().len(),
            _ => 0,
        };
        std::mem::size_of::<Call>() + payload
    }
}

/// About how many bytes a reply keeps (for a memo's budget).
pub(crate) fn reply_weight(reply: &Reply) -> usize {
    let payload = match reply {
        Ok(Value::Read(bytes)) => bytes.len(),
        Ok(Value::Listing(entries)) => entries.len() * (std::mem::size_of::<DirEntry>() + 16),
        Err(Failure::Fs(e)) => e.path.len(),
        _ => 0,
    };
    std::mem::size_of::<Reply>() + payload
}
