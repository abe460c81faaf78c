//! How one traced operation changes an [`Image`] in a crash state: [`Image::apply`] and its
//! per-operation cases, each a no-op where the state lacks what the operation needs (an earlier
//! operation lost), and a write as its [`Variant`] says it reached the disk (whole, lost, its
//! blocks zero-filled, or some of its blocks).

use super::{Image, Inode};
use crate::path::RelPath;
use crate::sim::model::Variant;
use crate::sim::trace::{Ino, TraceOp};
use std::sync::Arc;

impl Image {
    /// Applies one traced operation as `variant` says it reached the disk. An operation whose
    /// precondition does not hold here (its directory or inode is missing, its name is taken or
    /// gone) is a no-op, as in a crash state where an earlier operation was lost.
    pub(crate) fn apply(&mut self, op: &TraceOp, variant: &Variant, block_size: u64) {
        if matches!(variant, Variant::Lost) {
            return;
        }
        match op {
            TraceOp::Create {
                path,
                ino,
                dir,
                mode,
            } => self.insert_new(path, *ino, *dir, Inode::file(Arc::default(), *mode)),
            TraceOp::Mkdir { path, ino, dir } => {
                self.insert_new(path, *ino, *dir, Inode::Dir(Arc::default()))
            }
            TraceOp::Symlink {
                path,
                target,
                ino,
                dir,
            } => self.insert_new(path, *ino, *dir, Inode::Symlink(Arc::from(target.as_str()))),
            TraceOp::Link { new, ino, dir, .. } => self.apply_link(new, *ino, *dir),
            TraceOp::Unlink { path, ino, dir } => {
                if self.names(*dir, path, *ino) {
                    self.unlink_entry(*dir, path.file_name().unwrap_or_default());
                }
            }
            TraceOp::Rmdir { path, ino, dir } => {
                let empty = self.dir(*ino).is_some_and(|d| d.is_empty());
                if empty && self.names(*dir, path, *ino) {
                    self.unlink_entry(*dir, path.file_name().unwrap_or_default());
                }
            }
            TraceOp::Rename { .. } => self.apply_rename(op),
            TraceOp::Exchange { .. } => self.apply_exchange(op),
            TraceOp::Write {
                ino, offset, data, ..
            } => {
                let Some(file) = self.file_mut(*ino) else {
                    return;
                };
                apply_write(file, *offset, data, variant, block_size);
            }
            TraceOp::SetLen { ino, len, .. } => self.set_file_len(*ino, *len),
            TraceOp::SetMode { ino, mode, .. } => self.set_file_mode(*ino, *mode),
            TraceOp::Fsync { .. }
            | TraceOp::Fdatasync { .. }
            | TraceOp::FsyncDir { .. }
            | TraceOp::Syncfs
            | TraceOp::FailedFsync { .. } => {}
        }
    }

    /// A traced `link`: only if the inode is still here (not a directory) and the name free.
    fn apply_link(&mut self, new: &RelPath, ino: Ino, dir: Ino) {
        let name = new.file_name().unwrap_or_default();
        let linkable = matches!(
            self.inodes.get(&ino),
            Some(Inode::File { .. } | Inode::Symlink(_))
        );
        if linkable && self.dir(dir).is_some_and(|d| !d.contains_key(name)) {
            self.link(dir, name, ino);
        }
    }

    /// A traced rename: only if `from` still names the inode, the move is legal here, a
    /// no-replace rename finds `to` free, and `to` is not already a name of the inode.
    fn apply_rename(&mut self, op: &TraceOp) {
        let TraceOp::Rename {
            from,
            to,
            ino,
            from_dir,
            to_dir,
            no_replace,
        } = op
        else {
            return;
        };
        let (from_name, to_name) = (
            from.file_name().unwrap_or_default(),
            to.file_name().unwrap_or_default(),
        );
        let target = self.dir(*to_dir).and_then(|d| d.get(to_name)).copied();
        if self.names(*from_dir, from, *ino)
            && !(*no_replace && target.is_some())
            && target != Some(*ino)
            && self.check_rename(*ino, *to_dir, to_name).is_ok()
        {
            self.move_entry(*from_dir, from_name, *to_dir, to_name);
        }
    }

    /// A traced exchange: only if both names still name their inodes and the swap is legal.
    fn apply_exchange(&mut self, op: &TraceOp) {
        let TraceOp::Exchange {
            from,
            to,
            from_ino,
            to_ino,
            from_dir,
            to_dir,
        } = op
        else {
            return;
        };
        if self.names(*from_dir, from, *from_ino)
            && self.names(*to_dir, to, *to_ino)
            && self.check_exchange(*from_ino, *from_dir, *to_ino, *to_dir)
        {
            let (a, b) = (
                from.file_name().unwrap_or_default(),
                to.file_name().unwrap_or_default(),
            );
            self.exchange_entries(*from_dir, a, *to_dir, b);
        }
    }

    /// Whether `path`'s last name in directory `dir` names inode `ino` here.
    fn names(&self, dir: Ino, path: &RelPath, ino: Ino) -> bool {
        let name = path.file_name().unwrap_or_default();
        self.dir(dir).and_then(|d| d.get(name)) == Some(&ino)
    }

    fn insert_new(&mut self, path: &RelPath, ino: Ino, dir: Ino, inode: Inode) {
        let name = path.file_name().unwrap_or_default();
        if self.inodes.contains_key(&ino) {
            return;
        }
        if self.dir(dir).is_some_and(|d| !d.contains_key(name)) {
            self.insert(dir, name, ino, inode);
        }
    }
}

/// The byte range `[start, end)` of the `i`-th block a write of `len` bytes at `offset` touches.
pub(crate) fn block_range(offset: u64, len: u64, i: u64, block_size: u64) -> (u64, u64) {
    let first = offset / block_size;
    let start = ((first + i) * block_size).max(offset);
    let end = ((first + i + 1) * block_size).min(offset + len);
    (start, end)
}

/// How many blocks a write of `len` bytes at `offset` touches.
pub(crate) fn blocks_touched(offset: u64, len: u64, block_size: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    (offset + len - 1) / block_size - offset / block_size + 1
}

fn write_bytes(file: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let (start, end) = (offset as usize, offset as usize + bytes.len());
    if file.len() < end {
        file.resize(end, 0);
    }
    file[start..end].copy_from_slice(bytes);
}

pub(super) fn apply_write(
    file: &mut Vec<u8>,
    offset: u64,
    data: &[u8],
    variant: &Variant,
    bs: u64,
) {
    match variant {
        Variant::Lost => {}
        Variant::Full => write_bytes(file, offset, data),
        Variant::Zeros => {
            let end = offset as usize + data.len();
            if file.len() < end {
                file.resize(end, 0);
            }
        }
        Variant::Torn(blocks) => {
            for &b in blocks {
                let (start, end) = block_range(offset, data.len() as u64, b as u64, bs);
                let slice = &data[(start - offset) as usize..(end - offset) as usize];
                write_bytes(file, start, slice);
            }
        }
    }
}
