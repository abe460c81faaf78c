//! The operations a [`SimFs`](super::SimFs) records: one [`TraceOp`] per mutating call.

use crate::fs::{FileMode, Op};
use crate::path::RelPath;
use std::fmt;
use std::sync::Arc;

/// An inode number inside an [`Image`](super::Image) (the root directory is inode 0).
pub type Ino = u64;

/// Which synchronisation call a [`TraceOp::FailedFsync`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncCall {
    /// `fsync` on a file.
    Fsync,
    /// `fdatasync` on a file.
    Fdatasync,
    /// `fsync` on a directory.
    FsyncDir,
    /// `syncfs`.
    Syncfs,
}

impl SyncCall {
    /// The call's name, as the trait method.
    pub fn name(self) -> &'static str {
        match self {
            SyncCall::Fsync => "fsync",
            SyncCall::Fdatasync => "fdatasync",
            SyncCall::FsyncDir => "fsync_dir",
            SyncCall::Syncfs => "syncfs",
        }
    }

    /// The call as an [`Op`].
    pub fn op(self) -> Op {
        match self {
            SyncCall::Fsync => Op::Fsync,
            SyncCall::Fdatasync => Op::Fdatasync,
            SyncCall::FsyncDir => Op::FsyncDir,
            SyncCall::Syncfs => Op::Syncfs,
        }
    }
}

/// One mutating call that a [`SimFs`](super::SimFs) recorded. Each one is a crash point: crash
/// point `i` is the state after the first `i` operations of a trace.
///
/// Every operation carries the inodes it touches (so that a crash state can be rebuilt by inode,
/// whatever became of the names) and the paths it was called with (for display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceOp {
    /// `create_new`: a new empty file `ino` with permission bits `mode`, named `path` in
    /// directory `dir`.
    Create {
        /// The new name.
        path: RelPath,
        /// The new file's inode.
        ino: Ino,
        /// The directory it was created in.
        dir: Ino,
        /// The new file's permission bits.
        mode: FileMode,
    },
    /// `write_at`: `data` (of `len` bytes) written at `offset` in file `ino`.
    Write {
        /// The file written.
        ino: Ino,
        /// The path it was opened under.
        path: RelPath,
        /// Where the write starts.
        offset: u64,
        /// How many bytes were written (`data.len()`).
        len: u64,
        /// The bytes written.
        data: Arc<Vec<u8>>,
    },
    /// `set_len`: file `ino` truncated or extended (with zeros) to `len` bytes.
    SetLen {
        /// The file.
        ino: Ino,
        /// The path it was opened under.
        path: RelPath,
        /// The new length.
        len: u64,
    },
    /// `set_mode`: file `ino`'s permission bits set to `mode`.
    SetMode {
        /// The file.
        ino: Ino,
        /// The path it was opened under.
        path: RelPath,
        /// The new permission bits.
        mode: FileMode,
    },
    /// A successful `fsync` of file `ino`.
    Fsync {
        /// The file.
        ino: Ino,
        /// The path it was opened under.
        path: RelPath,
    },
    /// A successful `fdatasync` of file `ino`.
    Fdatasync {
        /// The file.
        ino: Ino,
        /// The path it was opened under.
        path: RelPath,
    },
    /// `rename` of `from` (inode `ino`, in directory `from_dir`) to `to` (in `to_dir`); with
    /// `no_replace` (`RENAME_NOREPLACE`), only onto a free name.
    Rename {
        /// The old name.
        from: RelPath,
        /// The new name.
        to: RelPath,
        /// The inode renamed.
        ino: Ino,
        /// The directory that held `from`.
        from_dir: Ino,
        /// The directory that holds `to`.
        to_dir: Ino,
        /// Whether the rename refuses to replace an existing `to` (`RENAME_NOREPLACE`).
        no_replace: bool,
    },
    /// `rename_with` and `RENAME_EXCHANGE`: names `from` (inode `from_ino`, in `from_dir`) and
    /// `to` (inode `to_ino`, in `to_dir`) swapped atomically.
    Exchange {
        /// The first name.
        from: RelPath,
        /// The second name.
        to: RelPath,
        /// The inode `from` named before the swap.
        from_ino: Ino,
        /// The inode `to` named before the swap.
        to_ino: Ino,
        /// The directory that holds `from`.
        from_dir: Ino,
        /// The directory that holds `to`.
        to_dir: Ino,
    },
    /// `link`: inode `ino` (named `existing`) given the new name `new` in directory `dir`.
    Link {
        /// The name linked from.
        existing: RelPath,
        /// The new name.
        new: RelPath,
        /// The inode.
        ino: Ino,
        /// The directory that holds `new`.
        dir: Ino,
    },
    /// `rmdir` of the empty directory `ino`, named `path` in directory `dir`.
    Rmdir {
        /// The name removed.
        path: RelPath,
        /// The directory removed.
        ino: Ino,
        /// The directory that held it.
        dir: Ino,
    },
    /// `unlink` of `path` (inode `ino`, in directory `dir`).
    Unlink {
        /// The name removed.
        path: RelPath,
        /// The inode it named.
        ino: Ino,
        /// The directory that held it.
        dir: Ino,
    },
    /// `mkdir`: a new directory `ino` named `path` in directory `dir`.
    Mkdir {
        /// The new name.
        path: RelPath,
        /// The new directory's inode.
        ino: Ino,
        /// The directory it was made in.
        dir: Ino,
    },
    /// `symlink`: a new symlink `ino` named `path`, pointing at `target`, in directory `dir`.
    Symlink {
        /// The new name.
        path: RelPath,
        /// What the link points at.
        target: String,
        /// The new link's inode.
        ino: Ino,
        /// The directory it was made in.
        dir: Ino,
    },
    /// A successful `fsync` of directory `ino`.
    FsyncDir {
        /// The directory's path.
        path: RelPath,
        /// The directory.
        ino: Ino,
    },
    /// A successful `syncfs`.
    Syncfs,
    /// A synchronisation call that failed: what it was meant to make durable is dropped.
    FailedFsync {
        /// Which call.
        call: SyncCall,
        /// The file or directory (the root for `syncfs`).
        path: RelPath,
        /// Its inode (0 for `syncfs`).
        ino: Ino,
    },
}

impl TraceOp {
    /// Whether this is a synchronisation call: `fsync`, `fdatasync`, `fsync_dir` or `syncfs`,
    /// successful or failed.
    pub fn is_fsync_family(&self) -> bool {
        matches!(
            self,
            TraceOp::Fsync { .. }
                | TraceOp::Fdatasync { .. }
                | TraceOp::FsyncDir { .. }
                | TraceOp::Syncfs
                | TraceOp::FailedFsync { .. }
        )
    }

    /// Whether applying this operation can change an image (everything but the fsync family).
    pub fn changes_image(&self) -> bool {
        !self.is_fsync_family()
    }

    /// Whether this operation changes a directory's entries (create, rename, exchange, link,
    /// unlink, rmdir, mkdir, symlink).
    pub fn is_dir_op(&self) -> bool {
        matches!(
            self,
            TraceOp::Create { .. }
                | TraceOp::Rename { .. }
                | TraceOp::Exchange { .. }
                | TraceOp::Link { .. }
                | TraceOp::Unlink { .. }
                | TraceOp::Rmdir { .. }
                | TraceOp::Mkdir { .. }
                | TraceOp::Symlink { .. }
        )
    }

    /// Whether this operation changes filesystem metadata that a journaling filesystem logs:
    /// a directory operation, a `set_len` (the size) or a `set_mode` (the inode's mode).
    pub fn is_metadata_op(&self) -> bool {
        self.is_dir_op() || matches!(self, TraceOp::SetLen { .. } | TraceOp::SetMode { .. })
    }

    /// The directories whose entries this operation changes (empty for a non-directory
    /// operation); a rename or exchange across directories changes two.
    pub fn dirs(&self) -> Vec<Ino> {
        match self {
            TraceOp::Create { dir, .. }
            | TraceOp::Link { dir, .. }
            | TraceOp::Unlink { dir, .. }
            | TraceOp::Rmdir { dir, .. }
            | TraceOp::Mkdir { dir, .. }
            | TraceOp::Symlink { dir, .. } => vec![*dir],
            TraceOp::Rename {
                from_dir, to_dir, ..
            }
            | TraceOp::Exchange {
                from_dir, to_dir, ..
            } => {
                if from_dir == to_dir {
                    vec![*from_dir]
                } else {
                    vec![*from_dir, *to_dir]
                }
            }
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for TraceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceOp::Create { path, mode, .. } if *mode != FileMode::FILE_DEFAULT => {
                write!(f, "create {path} mode {mode}")
            }
            TraceOp::Create { path, .. } => write!(f, "create {path}"),
            TraceOp::Write {
                path, offset, len, ..
            } => write!(f, "write {path} @{offset}+{len}"),
            TraceOp::Fsync { path, .. } => write!(f, "fsync {path}"),
            TraceOp::Fdatasync { path, .. } => write!(f, "fdatasync {path}"),
            TraceOp::SetLen { path, len, .. } => write!(f, "set_len {path} {len}"),
            TraceOp::SetMode { path, mode, .. } => write!(f, "set_mode {path} {mode}"),
            TraceOp::Rename {
                from,
                to,
                no_replace: false,
                ..
            } => write!(f, "rename {from} -> {to}"),
            TraceOp::Rename { from, to, .. } => write!(f, "rename {from} -> {to} (noreplace)"),
            TraceOp::Exchange { from, to, .. } => write!(f, "exchange {from} <-> {to}"),
            TraceOp::Link { existing, new, .. } => write!(f, "link {existing} -> {new}"),
            TraceOp::Unlink { path, .. } => write!(f, "unlink {path}"),
            TraceOp::Rmdir { path, .. } => write!(f, "rmdir {path}"),
            TraceOp::Mkdir { path, .. } => write!(f, "mkdir {path}"),
            TraceOp::Symlink { path, target, .. } => write!(f, "symlink {path} -> {target}"),
            TraceOp::FsyncDir { path, .. } => write!(f, "fsync_dir {path}"),
            TraceOp::Syncfs => f.write_str("syncfs"),
            TraceOp::FailedFsync {
                call: SyncCall::Syncfs,
                ..
            } => f.write_str("syncfs FAILED (EIO)"),
            TraceOp::FailedFsync { call, path, .. } => {
                write!(f, "{} {path} FAILED (EIO)", call.name())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_short_line() {
        let p = RelPath::new("a/b.tmp").unwrap();
        let w = TraceOp::Write {
            ino: 3,
            path: p.clone(),
            offset: 0,
            len: 4096,
            data: Arc::new(vec![0; 4096]),
        };
        assert_eq!(w.to_string(), "write a/b.tmp @0+4096");
        assert!(!w.is_fsync_family());
        let s = TraceOp::FsyncDir {
            path: RelPath::root(),
            ino: 0,
        };
        assert_eq!(s.to_string(), "fsync_dir .");
        assert!(s.is_fsync_family());
        let failed = TraceOp::FailedFsync {
            call: SyncCall::Fsync,
            path: p,
            ino: 3,
        };
        assert_eq!(failed.to_string(), "fsync a/b.tmp FAILED (EIO)");
    }
}
