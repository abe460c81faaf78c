//! The disk image: a snapshot of a filesystem tree, cheap to clone.
//!
//! An [`Image`] is inode-based: every file, directory and symlink is an inode; a directory maps
//! names to inode numbers. File data and directory tables sit behind [`Arc`]s, so a clone copies
//! only the inode table and shares the rest until one side writes (copy on write). The simulator
//! keeps one image for the live view and rebuilds crash states as images; equality and
//! [`Image::fingerprint`] only look at the *visible* tree (paths, kinds, bytes), never at inode
//! numbers.

use super::model::Variant;
use super::trace::{Ino, TraceOp};
use crate::fs::{FileKind, FsErrorKind};
use crate::path::RelPath;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The root directory's inode number.
pub(crate) const ROOT: Ino = 0;

/// What a path names, as [`Image::get`] and [`Image::walk`] report it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Node {
    /// A regular file and its bytes.
    File(Arc<Vec<u8>>),
    /// A directory.
    Dir,
    /// A symbolic link and its target.
    Symlink(String),
}

/// One inode.
#[derive(Clone, Debug)]
pub(crate) enum Inode {
    File(Arc<Vec<u8>>),
    Dir(Arc<BTreeMap<String, Ino>>),
    Symlink(Arc<str>),
}

impl Inode {
    pub(crate) fn kind(&self) -> FileKind {
        match self {
            Inode::File(_) => FileKind::File,
            Inode::Dir(_) => FileKind::Dir,
            Inode::Symlink(_) => FileKind::Symlink,
        }
    }
}

/// A snapshot of a filesystem tree. See the module doc.
#[derive(Clone)]
pub struct Image {
    inodes: BTreeMap<Ino, Inode>,
    next_ino: Ino,
}

impl Default for Image {
    fn default() -> Self {
        Image::new()
    }
}

impl Image {
    /// An image holding only the (empty) root directory.
    pub fn new() -> Image {
        let mut inodes = BTreeMap::new();
        inodes.insert(ROOT, Inode::Dir(Arc::default()));
        Image {
            inodes,
            next_ino: ROOT + 1,
        }
    }

    /// What `path` names, without following any symlink (a path through a symlink names
    /// nothing); the root is a directory.
    pub fn get(&self, path: &RelPath) -> Option<Node> {
        let ino = self.resolve(path).ok()?;
        Some(match self.inodes.get(&ino)? {
            Inode::File(data) => Node::File(data.clone()),
            Inode::Dir(_) => Node::Dir,
            Inode::Symlink(t) => Node::Symlink(t.to_string()),
        })
    }

    /// Every path but the root, sorted, with what it names.
    pub fn walk(&self) -> BTreeMap<RelPath, Node> {
        let mut out = BTreeMap::new();
        self.visit(ROOT, &mut String::new(), &mut |path, inode| {
            let node = match inode {
                Inode::File(data) => Node::File(data.clone()),
                Inode::Dir(_) => Node::Dir,
                Inode::Symlink(t) => Node::Symlink(t.to_string()),
            };
            out.insert(
                RelPath::new(path).expect("image names are checked components"),
                node,
            );
        });
        out
    }

    /// A 128-bit content hash of the visible tree (paths, kinds, bytes): images with equal
    /// visible trees have equal fingerprints, whatever their inode numbers.
    pub fn fingerprint(&self) -> u128 {
        // xxh3-128: not cryptographic, but its collisions are as rare as random ones (2^-128),
        // and it is several times faster than a cryptographic hash on the small files here.
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        self.visit(ROOT, &mut String::new(), &mut |path, inode| {
            hasher.update(&(path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            match inode {
                Inode::File(data) => {
                    hasher.update(&[1]);
                    hasher.update(&(data.len() as u64).to_le_bytes());
                    hasher.update(data);
                }
                Inode::Dir(_) => {
                    hasher.update(&[2]);
                }
                Inode::Symlink(t) => {
                    hasher.update(&[3]);
                    hasher.update(&(t.len() as u64).to_le_bytes());
                    hasher.update(t.as_bytes());
                }
            }
        });
        hasher.digest128()
    }

    /// Puts a file with `data` at `path`, creating missing parent directories and replacing
    /// whatever was there. A test-setup helper; panics if a parent is not a directory.
    pub fn put_file(&mut self, path: &RelPath, data: &[u8]) {
        self.put(path, Inode::File(Arc::new(data.to_vec())));
    }

    /// Makes `path` a directory (and its missing parents), keeping it if it already is one.
    pub fn put_dir(&mut self, path: &RelPath) {
        if path.is_root() || matches!(self.get(path), Some(Node::Dir)) {
            return;
        }
        self.put(path, Inode::Dir(Arc::default()));
    }

    /// Puts a symlink to `target` at `path`, creating missing parent directories.
    pub fn put_symlink(&mut self, path: &RelPath, target: &str) {
        self.put(path, Inode::Symlink(Arc::from(target)));
    }

    fn put(&mut self, path: &RelPath, inode: Inode) {
        let parent = path.parent().expect("cannot replace the root");
        self.put_dir(&parent);
        let dir = self.resolve(&parent).expect("the parent was just made");
        let name = path.file_name().expect("not the root");
        if let Some(old) = self.dir(dir).and_then(|d| d.get(name).copied()) {
            self.unlink_entry(dir, name);
            debug_assert!(!self.inodes.contains_key(&old));
        }
        let ino = self.alloc_ino();
        self.inodes.insert(ino, inode);
        self.link(dir, name, ino);
    }

    // ---- crate-internal primitives used by SimFs and the crash-state builder ----

    /// Walks `path` from the root: every component but the last must be a directory (a symlink
    /// is [`FsErrorKind::Symlink`], anything else [`FsErrorKind::NotADirectory`]).
    pub(crate) fn resolve(&self, path: &RelPath) -> Result<Ino, FsErrorKind> {
        let mut cur = ROOT;
        for name in path.components() {
            cur = *self
                .dir_or_err(cur)?
                .get(name)
                .ok_or(FsErrorKind::NotFound)?;
        }
        Ok(cur)
    }

    /// Resolves `path`'s parent, which must be a directory, and returns it with the last name.
    pub(crate) fn resolve_parent<'p>(
        &self,
        path: &'p RelPath,
    ) -> Result<(Ino, &'p str), FsErrorKind> {
        let name = path.file_name().ok_or(FsErrorKind::Other)?;
        let parent = path.parent().ok_or(FsErrorKind::Other)?;
        let dir = self.resolve(&parent)?;
        self.dir_or_err(dir)?;
        Ok((dir, name))
    }

    fn dir_or_err(&self, ino: Ino) -> Result<&BTreeMap<String, Ino>, FsErrorKind> {
        match self.inodes.get(&ino) {
            Some(Inode::Dir(d)) => Ok(d),
            Some(Inode::Symlink(_)) => Err(FsErrorKind::Symlink),
            Some(Inode::File(_)) => Err(FsErrorKind::NotADirectory),
            None => Err(FsErrorKind::NotFound),
        }
    }

    pub(crate) fn inode(&self, ino: Ino) -> Option<&Inode> {
        self.inodes.get(&ino)
    }

    pub(crate) fn dir(&self, ino: Ino) -> Option<&BTreeMap<String, Ino>> {
        match self.inodes.get(&ino) {
            Some(Inode::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> Option<&mut BTreeMap<String, Ino>> {
        match self.inodes.get_mut(&ino) {
            Some(Inode::Dir(d)) => Some(Arc::make_mut(d)),
            _ => None,
        }
    }

    pub(crate) fn file_len(&self, ino: Ino) -> Option<u64> {
        match self.inodes.get(&ino) {
            Some(Inode::File(d)) => Some(d.len() as u64),
            _ => None,
        }
    }

    pub(crate) fn alloc_ino(&mut self) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    /// Adds inode `ino` (which must be free) as `name` in directory `dir`.
    pub(crate) fn insert(&mut self, dir: Ino, name: &str, ino: Ino, inode: Inode) {
        self.inodes.insert(ino, inode);
        self.next_ino = self.next_ino.max(ino + 1);
        self.link(dir, name, ino);
    }

    fn link(&mut self, dir: Ino, name: &str, ino: Ino) {
        self.dir_mut(dir)
            .expect("linking into a directory")
            .insert(name.to_owned(), ino);
    }

    /// Removes `name` from `dir` and drops the inode it named (with everything below it, for a
    /// directory). Returns the removed inode's number and the inode itself.
    pub(crate) fn unlink_entry(&mut self, dir: Ino, name: &str) -> Option<(Ino, Inode)> {
        let ino = self.dir_mut(dir)?.remove(name)?;
        let inode = self.inodes.remove(&ino)?;
        if let Inode::Dir(entries) = &inode {
            let mut stack: Vec<Ino> = entries.values().copied().collect();
            while let Some(i) = stack.pop() {
                if let Some(Inode::Dir(d)) = self.inodes.remove(&i) {
                    stack.extend(d.values().copied());
                }
            }
        }
        Some((ino, inode))
    }

    /// Moves entry `from_name` of `from_dir` to `to_name` of `to_dir`, dropping what `to_name`
    /// named. The caller has checked that the move is legal.
    pub(crate) fn move_entry(
        &mut self,
        from_dir: Ino,
        from_name: &str,
        to_dir: Ino,
        to_name: &str,
    ) {
        if from_dir == to_dir && from_name == to_name {
            return;
        }
        let ino = self
            .dir_mut(from_dir)
            .and_then(|d| d.remove(from_name))
            .expect("source");
        self.unlink_entry(to_dir, to_name);
        self.link(to_dir, to_name, ino);
    }

    /// Whether `ino` is `ancestor` or lies below it.
    pub(crate) fn is_within(&self, ino: Ino, ancestor: Ino) -> bool {
        if ino == ancestor {
            return true;
        }
        let mut stack = vec![ancestor];
        while let Some(i) = stack.pop() {
            if let Some(d) = self.dir(i) {
                for &child in d.values() {
                    if child == ino {
                        return true;
                    }
                    stack.push(child);
                }
            }
        }
        false
    }

    /// Mutable access to a file's bytes (copy on write).
    pub(crate) fn file_mut(&mut self, ino: Ino) -> Option<&mut Vec<u8>> {
        match self.inodes.get_mut(&ino) {
            Some(Inode::File(data)) => Some(Arc::make_mut(data)),
            _ => None,
        }
    }

    /// Whether a rename of `ino` (in `from_dir` as `from_name`) onto `to_name` in `to_dir` is
    /// legal here; the error says why not.
    pub(crate) fn check_rename(
        &self,
        ino: Ino,
        to_dir: Ino,
        to_name: &str,
    ) -> Result<(), FsErrorKind> {
        let src_is_dir = matches!(self.inodes.get(&ino), Some(Inode::Dir(_)));
        if src_is_dir && self.is_within(to_dir, ino) {
            return Err(FsErrorKind::Other);
        }
        let Some(&dst) = self.dir(to_dir).ok_or(FsErrorKind::NotFound)?.get(to_name) else {
            return Ok(());
        };
        if dst == ino {
            return Ok(());
        }
        match (src_is_dir, self.inodes.get(&dst)) {
            (true, Some(Inode::Dir(d))) if !d.is_empty() => Err(FsErrorKind::NotEmpty),
            (true, Some(Inode::Dir(_))) => Ok(()),
            (true, Some(_)) => Err(FsErrorKind::NotADirectory),
            (false, Some(Inode::Dir(_))) => Err(FsErrorKind::IsADirectory),
            _ => Ok(()),
        }
    }

    /// Applies one traced operation as `variant` says it reached the disk. An operation whose
    /// precondition does not hold here (its directory or inode is missing, its name is taken or
    /// gone) is a no-op, as in a crash state where an earlier operation was lost.
    pub(crate) fn apply(&mut self, op: &TraceOp, variant: &Variant, block_size: u64) {
        if matches!(variant, Variant::Lost) {
            return;
        }
        match op {
            TraceOp::Create { path, ino, dir } => {
                self.insert_new(path, *ino, *dir, Inode::File(Arc::default()))
            }
            TraceOp::Mkdir { path, ino, dir } => {
                self.insert_new(path, *ino, *dir, Inode::Dir(Arc::default()))
            }
            TraceOp::Symlink {
                path,
                target,
                ino,
                dir,
            } => self.insert_new(path, *ino, *dir, Inode::Symlink(Arc::from(target.as_str()))),
            TraceOp::Unlink { path, ino, dir } => {
                let name = path.file_name().unwrap_or_default();
                if self.dir(*dir).and_then(|d| d.get(name)) == Some(ino) {
                    self.unlink_entry(*dir, name);
                }
            }
            TraceOp::Rename {
                from,
                to,
                ino,
                from_dir,
                to_dir,
            } => {
                let (from_name, to_name) = (
                    from.file_name().unwrap_or_default(),
                    to.file_name().unwrap_or_default(),
                );
                if self.dir(*from_dir).and_then(|d| d.get(from_name)) == Some(ino)
                    && self.check_rename(*ino, *to_dir, to_name).is_ok()
                {
                    self.move_entry(*from_dir, from_name, *to_dir, to_name);
                }
            }
            TraceOp::Write {
                ino, offset, data, ..
            } => {
                let Some(file) = self.file_mut(*ino) else {
                    return;
                };
                apply_write(file, *offset, data, variant, block_size);
            }
            _ => {}
        }
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

    /// Calls `f` with every path (but the root) and its inode, depth first in name order.
    fn visit(&self, dir: Ino, path: &mut String, f: &mut impl FnMut(&str, &Inode)) {
        let Some(entries) = self.dir(dir) else { return };
        for (name, &ino) in entries.iter() {
            let len = path.len();
            if len > 0 {
                path.push('/');
            }
            path.push_str(name);
            if let Some(inode) = self.inodes.get(&ino) {
                f(path, inode);
                if matches!(inode, Inode::Dir(_)) {
                    self.visit(ino, path, f);
                }
            }
            path.truncate(len);
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

fn apply_write(file: &mut Vec<u8>, offset: u64, data: &[u8], variant: &Variant, bs: u64) {
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

impl PartialEq for Image {
    fn eq(&self, other: &Image) -> bool {
        self.walk() == other.walk()
    }
}

impl Eq for Image {}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        self.visit(ROOT, &mut String::new(), &mut |path, inode| match inode {
            Inode::File(data) => {
                let shown = String::from_utf8_lossy(&data[..data.len().min(16)]).into_owned();
                let more = if data.len() > 16 { "…" } else { "" };
                list.entry(&format_args!(
                    "{path}: {} bytes {shown:?}{more}",
                    data.len()
                ));
            }
            Inode::Dir(_) => {
                list.entry(&format_args!("{path}/"));
            }
            Inode::Symlink(t) => {
                list.entry(&format_args!("{path} -> {t}"));
            }
        });
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn builders_make_parents_and_walk_is_sorted() {
        let mut img = Image::new();
        img.put_file(&p("b/c.txt"), b"hello");
        img.put_dir(&p("a"));
        img.put_symlink(&p("b/l"), "../x");
        let walked: Vec<String> = img.walk().keys().map(|k| k.to_string()).collect();
        assert_eq!(walked, ["a", "b", "b/c.txt", "b/l"]);
        assert_eq!(img.get(&RelPath::root()), Some(Node::Dir));
        assert_eq!(
            img.get(&p("b/c.txt")),
            Some(Node::File(Arc::new(b"hello".to_vec())))
        );
        assert_eq!(img.get(&p("b/l")), Some(Node::Symlink("../x".into())));
        assert_eq!(img.get(&p("b/l/x")), None, "never through a symlink");
        assert_eq!(img.resolve(&p("b/l/x")), Err(FsErrorKind::Symlink));
        assert_eq!(
            img.resolve(&p("b/c.txt/x")),
            Err(FsErrorKind::NotADirectory)
        );
        assert_eq!(
            format!("{img:?}"),
            r#"[a/, b/, b/c.txt: 5 bytes "hello", b/l -> ../x]"#
        );
    }

    #[test]
    fn fingerprint_and_equality_follow_the_visible_tree_only() {
        let mut a = Image::new();
        a.put_file(&p("x"), b"1");
        a.put_file(&p("y"), b"2");
        let mut b = Image::new();
        b.put_file(&p("y"), b"2");
        b.put_file(&p("x"), b"1");
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let before = a.fingerprint();
        let clone = a.clone();
        a.put_file(&p("x"), b"3");
        assert_ne!(a.fingerprint(), before);
        assert_eq!(
            clone.fingerprint(),
            before,
            "a clone does not see later writes"
        );
        let mut c = Image::new();
        c.put_file(&p("x/y"), b"");
        let mut d = Image::new();
        d.put_file(&p("x"), b"");
        d.put_file(&p("y"), b"");
        assert_ne!(c.fingerprint(), d.fingerprint());
    }

    #[test]
    fn torn_and_zero_writes_touch_only_what_they_say() {
        let data = b"AAAABBBBCC";
        assert_eq!(blocks_touched(2, 10, 4), 3);
        assert_eq!(block_range(2, 10, 0, 4), (2, 4));
        assert_eq!(block_range(2, 10, 2, 4), (8, 12));
        let mut f = b"xy".to_vec();
        apply_write(&mut f, 2, data, &Variant::Torn(vec![2]), 4);
        assert_eq!(f, b"xy\0\0\0\0\0\0BBCC");
        let mut g = b"xy".to_vec();
        apply_write(&mut g, 2, data, &Variant::Zeros, 4);
        assert_eq!(g, b"xy\0\0\0\0\0\0\0\0\0\0");
        let mut h = b"xy".to_vec();
        apply_write(&mut h, 2, data, &Variant::Full, 4);
        assert_eq!(h, b"xyAAAABBBBCC");
    }
}
