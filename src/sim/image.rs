//! The disk image: a snapshot of a filesystem tree, cheap to clone.
//!
//! An [`Image`] is inode-based: every file, directory and symlink is an inode; a directory maps
//! names to inode numbers. File data and directory tables sit behind [`Arc`]s, so a clone copies
//! only the inode table and shares the rest until one side writes (copy on write). The simulator
//! keeps one image for the live view and rebuilds crash states as images; equality and
//! [`Image::fingerprint`] only look at the *visible* tree (paths, kinds, bytes, a file's mode and
//! its number of names), never at inode numbers.
//!
//! An inode may have several names (hard links): it lives while a name refers to it, and is
//! dropped with its last name.

use super::trace::Ino;
use crate::fs::{FileKind, FileMode, FsErrorKind};
use crate::path::RelPath;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The root directory's inode number.
pub(crate) const ROOT: Ino = 0;

pub(crate) use apply::blocks_touched;

/// What a path names, as [`Image::get`] and [`Image::walk`] report it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Node {
    /// A regular file and its bytes.
    File(Arc<Vec<u8>>),
    /// A directory.
    Dir,
    /// A symbolic link and its target.
    Symlink(String),
}

/// A directory's table: each name and the inode it names. A name is an `Arc<str>`, so that
/// copying a table (on the first change to a directory shared with another image) copies
/// pointers, not every name's bytes.
pub(crate) type Entries = BTreeMap<Arc<str>, Ino>;

/// One inode.
#[derive(Clone, Debug)]
pub(crate) enum Inode {
    /// A regular file. `hash` caches the xxh3-128 hash of `data` for [`Image::fingerprint`]:
    /// computed on first use, shared by every clone that shares `data`, and reset by
    /// [`Image::file_mut`], the only way to change `data` in place.
    File {
        data: Arc<Vec<u8>>,
        mode: FileMode,
        hash: ContentHash,
    },
    Dir(Arc<Entries>),
    Symlink(Arc<str>),
}

impl Inode {
    /// A regular file with `data` and permission bits `mode`.
    pub(crate) fn file(data: Arc<Vec<u8>>, mode: FileMode) -> Inode {
        Inode::File {
            data,
            mode,
            hash: ContentHash::default(),
        }
    }

    pub(crate) fn kind(&self) -> FileKind {
        match self {
            Inode::File { .. } => FileKind::File,
            Inode::Dir(_) => FileKind::Dir,
            Inode::Symlink(_) => FileKind::Symlink,
        }
    }

    /// The permission bits (directories and symlinks have fixed ones here).
    pub(crate) fn mode(&self) -> FileMode {
        match self {
            Inode::File { mode, .. } => *mode,
            Inode::Dir(_) => FileMode::DIR_DEFAULT,
            Inode::Symlink(_) => FileMode::SYMLINK,
        }
    }

    fn node(&self) -> Node {
        match self {
            Inode::File { data, .. } => Node::File(data.clone()),
            Inode::Dir(_) => Node::Dir,
            Inode::Symlink(t) => Node::Symlink(t.to_string()),
        }
    }
}

/// A file's content hash, computed on first use and then kept (see [`Inode::File`]). Cloning
/// it copies the value (three loads), which a `OnceLock` does through its synchronisation: a
/// crash state's image clones every inode of its checkpoint.
///
/// Threads may race to fill it: each computes the hash of the same bytes (the bytes cannot
/// change while the inode is shared: [`Image::file_mut`] takes it by `&mut` and resets the
/// cache), so they store the same two halves, and a reader reads them only after one writer
/// published both (`known`, release and acquire).
#[derive(Debug, Default)]
pub(crate) struct ContentHash {
    known: AtomicBool,
    low: AtomicU64,
    high: AtomicU64,
}

impl ContentHash {
    /// The hash, computed by `hash` if it is not known yet.
    fn get_or_init(&self, hash: impl FnOnce() -> u128) -> u128 {
        if let Some(known) = self.get() {
            return known;
        }
        let value = hash();
        self.low.store(value as u64, Ordering::Relaxed);
        self.high.store((value >> 64) as u64, Ordering::Relaxed);
        self.known.store(true, Ordering::Release);
        value
    }

    fn get(&self) -> Option<u128> {
        self.known.load(Ordering::Acquire).then(|| {
            let low = self.low.load(Ordering::Relaxed);
            let high = self.high.load(Ordering::Relaxed);
            (u128::from(high) << 64) | u128::from(low)
        })
    }
}

impl Clone for ContentHash {
    fn clone(&self) -> Self {
        match self.get() {
            None => ContentHash::default(),
            Some(value) => ContentHash {
                known: AtomicBool::new(true),
                low: AtomicU64::new(value as u64),
                high: AtomicU64::new((value >> 64) as u64),
            },
        }
    }
}

/// A map from inode numbers, which [`Image::alloc_ino`] hands out one after the other from the
/// root's: a vector indexed by number (a lookup is an index, a clone one copy of contiguous
/// slots), with an ordered map for numbers past [`Table::DENSE`] so that no number, however
/// large, allocates a huge vector.
#[derive(Clone, Debug)]
struct Table<T> {
    slots: Vec<Option<T>>,
    sparse: BTreeMap<Ino, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }
}

impl<T> Table<T> {
    /// Numbers below this live in the vector.
    const DENSE: Ino = 1 << 20;

    fn slot(ino: Ino) -> Option<usize> {
        (ino < Self::DENSE).then_some(ino as usize)
    }

    fn get(&self, ino: &Ino) -> Option<&T> {
        match Self::slot(*ino) {
            Some(i) => self.slots.get(i)?.as_ref(),
            None => self.sparse.get(ino),
        }
    }

    fn get_mut(&mut self, ino: &Ino) -> Option<&mut T> {
        match Self::slot(*ino) {
            Some(i) => self.slots.get_mut(i)?.as_mut(),
            None => self.sparse.get_mut(ino),
        }
    }

    fn contains_key(&self, ino: &Ino) -> bool {
        self.get(ino).is_some()
    }

    fn insert(&mut self, ino: Ino, value: T) -> Option<T> {
        match Self::slot(ino) {
            Some(i) => {
                if self.slots.len() <= i {
                    self.slots.resize_with(i + 1, || None);
                }
                self.slots[i].replace(value)
            }
            None => self.sparse.insert(ino, value),
        }
    }

    fn remove(&mut self, ino: &Ino) -> Option<T> {
        match Self::slot(*ino) {
            Some(i) => self.slots.get_mut(i)?.take(),
            None => self.sparse.remove(ino),
        }
    }

    /// The value at `ino`, set to `default` first if there is none.
    fn or_insert(&mut self, ino: Ino, default: T) -> &mut T {
        if !self.contains_key(&ino) {
            self.insert(ino, default);
        }
        self.get_mut(&ino).expect("just inserted")
    }
}

/// A snapshot of a filesystem tree. See the module doc.
#[derive(Clone)]
pub struct Image {
    inodes: Table<Inode>,
    /// How many directory entries name each inode (the root, named by none, is absent).
    links: Table<u32>,
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
        let mut inodes = Table::default();
        inodes.insert(ROOT, Inode::Dir(Arc::default()));
        Image {
            inodes,
            links: Table::default(),
            next_ino: ROOT + 1,
        }
    }

    /// What `path` names, without following any symlink (a path through a symlink names
    /// nothing); the root is a directory.
    pub fn get(&self, path: &RelPath) -> Option<Node> {
        let ino = self.resolve(path).ok()?;
        Some(self.inodes.get(&ino)?.node())
    }

    /// The permission bits of what `path` names (without following a symlink): a file's own,
    /// `0755` for a directory, `0777` for a symlink.
    pub fn mode(&self, path: &RelPath) -> Option<FileMode> {
        let ino = self.resolve(path).ok()?;
        Some(self.inodes.get(&ino)?.mode())
    }

    /// The inode number `path` names (without following a symlink). Numbers are private to one
    /// image and its clones: use them to tell which names are hard links to one inode, never to
    /// compare two unrelated images.
    pub fn ino(&self, path: &RelPath) -> Option<Ino> {
        let ino = self.resolve(path).ok()?;
        self.inodes.contains_key(&ino).then_some(ino)
    }

    /// How many names refer to what `path` names (hard links); 1 for the root.
    pub fn nlink(&self, path: &RelPath) -> Option<u64> {
        let ino = self.resolve(path).ok()?;
        self.inodes.contains_key(&ino).then(|| self.links_of(ino))
    }

    /// Every path but the root, sorted, with what it names.
    pub fn walk(&self) -> BTreeMap<RelPath, Node> {
        let mut out = BTreeMap::new();
        self.visit(ROOT, &mut String::new(), &mut |path, _, inode| {
            out.insert(
                RelPath::new(path).expect("image names are checked components"),
                inode.node(),
            );
        });
        out
    }

    /// Every path but the root, sorted, with what it names, its mode and its number of names:
    /// what equality compares.
    fn listing(&self) -> Vec<(String, Node, FileMode, u64)> {
        let mut out = Vec::new();
        self.visit(ROOT, &mut String::new(), &mut |path, ino, inode| {
            out.push((
                path.to_owned(),
                inode.node(),
                inode.mode(),
                self.links_of(ino),
            ));
        });
        out
    }

    fn links_of(&self, ino: Ino) -> u64 {
        u64::from(self.links.get(&ino).copied().unwrap_or(1))
    }

    /// The bytes of the regular file `path` names (without following a symlink), if it does.
    pub fn file_bytes(&self, path: &RelPath) -> Option<&[u8]> {
        match self.inodes.get(&self.resolve(path).ok()?)? {
            Inode::File { data, .. } => Some(data.as_slice()),
            _ => None,
        }
    }

    /// The names in the directory `dir` names (without following a symlink), in order; none if
    /// it names no directory.
    pub fn names_in(&self, dir: &RelPath) -> impl Iterator<Item = &str> {
        let entries = self.resolve(dir).ok().and_then(|ino| self.dir(ino));
        entries
            .into_iter()
            .flat_map(|d| d.keys().map(|name| &**name))
    }

    /// The directory `dir` names (without following a symlink), resolved once, to look at
    /// several of its names; `None` if it names no directory.
    pub fn dir_view(&self, dir: &RelPath) -> Option<DirView<'_>> {
        let entries = self.resolve(dir).ok().and_then(|ino| self.dir(ino))?;
        Some(DirView {
            image: self,
            entries,
        })
    }

    /// An excerpt of this image (see [`super::unbuilt`]): the directories of `names` (pairs of a
    /// directory's inode number and a name in it), each holding only those of `names` this image
    /// has, and the inodes these name, with their link counts; nothing else. `None` when one of
    /// the directories is missing, or a name names a directory or an inode with another name
    /// (the excerpt would not hold everything that inode's change shows).
    pub(crate) fn excerpt<'n>(
        &self,
        names: impl IntoIterator<Item = (Ino, &'n str)>,
    ) -> Option<Image> {
        let mut out = Image {
            inodes: Table::default(),
            links: Table::default(),
            next_ino: self.next_ino,
        };
        for (dir, name) in names {
            let entries = self.dir(dir)?;
            if !out.inodes.contains_key(&dir) {
                out.inodes.insert(dir, Inode::Dir(Arc::default()));
            }
            let Some((key, &ino)) = entries.get_key_value(name) else {
                continue;
            };
            let Some(inode) = self.inodes.get(&ino) else {
                continue;
            };
            if matches!(inode, Inode::Dir(_)) || self.links_of(ino) != 1 {
                return None;
            }
            out.inodes.insert(ino, inode.clone());
            out.links.insert(ino, 1);
            if let Some(Inode::Dir(d)) = out.inodes.get_mut(&dir) {
                Arc::make_mut(d).insert(Arc::clone(key), ino);
            }
        }
        Some(out)
    }

    /// Puts a file with `data` at `path`, creating missing parent directories and replacing
    /// whatever was there. A test-setup helper; panics if a parent is not a directory.
    pub fn put_file(&mut self, path: &RelPath, data: &[u8]) {
        self.put_file_with_mode(path, data, FileMode::FILE_DEFAULT);
    }

    /// Puts a file with `data` and permission bits `mode` at `path`, as [`Image::put_file`].
    pub fn put_file_with_mode(&mut self, path: &RelPath, data: &[u8], mode: FileMode) {
        self.put(path, Inode::file(Arc::new(data.to_vec()), mode));
    }

    /// Gives what `existing` names (not a directory) the further name `new`, creating `new`'s
    /// missing parents and replacing whatever `new` named. A test-setup helper; panics if
    /// `existing` is missing or a directory, or a parent of `new` is not a directory.
    pub fn put_hard_link(&mut self, existing: &RelPath, new: &RelPath) {
        let ino = self.resolve(existing).expect("the linked name exists");
        assert!(self.dir(ino).is_none(), "no hard link to a directory");
        let parent = new.parent().expect("cannot replace the root");
        self.put_dir(&parent);
        let dir = self.resolve(&parent).expect("the parent was just made");
        let name = new.file_name().expect("not the root");
        self.unlink_entry(dir, name);
        self.link(dir, name, ino);
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
        self.unlink_entry(dir, name);
        let ino = self.alloc_ino();
        self.inodes.insert(ino, inode);
        self.link(dir, name, ino);
    }

    // ---- crate-internal primitives used by SimFs and the crash-state builder ----

    /// Walks `path` from the root: every component but the last must be a directory (a symlink
    /// is [`FsErrorKind::Symlink`], anything else [`FsErrorKind::NotADirectory`]).
    pub(crate) fn resolve(&self, path: &RelPath) -> Result<Ino, FsErrorKind> {
        self.walk_from(ROOT, path.as_str())
    }

    /// Resolves `path`'s parent, which must be a directory, and returns it with the last name.
    pub(crate) fn resolve_parent<'p>(
        &self,
        path: &'p RelPath,
    ) -> Result<(Ino, &'p str), FsErrorKind> {
        let s = path.as_str();
        // A checked path has no empty component: no leading, trailing or doubled `/`.
        let (parents, name) = match s.bytes().rposition(|b| b == b'/') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => ("", s),
        };
        if name.is_empty() {
            return Err(FsErrorKind::Other);
        }
        let dir = self.walk_from(ROOT, parents)?;
        self.dir_or_err(dir)?;
        Ok((dir, name))
    }

    /// Walks the components of `path` (a checked path's string; `""` for none) from `dir`.
    /// The components are split by a plain scan of their bytes: they are short, and `str`'s
    /// searchers cost more than the scan there.
    fn walk_from(&self, mut dir: Ino, path: &str) -> Result<Ino, FsErrorKind> {
        let mut rest = path;
        while !rest.is_empty() {
            let (name, tail) = match rest.bytes().position(|b| b == b'/') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            dir = *self
                .dir_or_err(dir)?
                .get(name)
                .ok_or(FsErrorKind::NotFound)?;
            rest = tail;
        }
        Ok(dir)
    }

    fn dir_or_err(&self, ino: Ino) -> Result<&Entries, FsErrorKind> {
        match self.inodes.get(&ino) {
            Some(Inode::Dir(d)) => Ok(d),
            Some(Inode::Symlink(_)) => Err(FsErrorKind::Symlink),
            Some(Inode::File { .. }) => Err(FsErrorKind::NotADirectory),
            None => Err(FsErrorKind::NotFound),
        }
    }

    pub(crate) fn inode(&self, ino: Ino) -> Option<&Inode> {
        self.inodes.get(&ino)
    }

    pub(crate) fn dir(&self, ino: Ino) -> Option<&Entries> {
        match self.inodes.get(&ino) {
            Some(Inode::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> Option<&mut Entries> {
        match self.inodes.get_mut(&ino) {
            Some(Inode::Dir(d)) => Some(Arc::make_mut(d)),
            _ => None,
        }
    }

    pub(crate) fn file_len(&self, ino: Ino) -> Option<u64> {
        match self.inodes.get(&ino) {
            Some(Inode::File { data, .. }) => Some(data.len() as u64),
            _ => None,
        }
    }

    /// How many names refer to inode `ino` (0 if none; the root counts as one).
    pub(crate) fn link_count(&self, ino: Ino) -> u64 {
        if !self.inodes.contains_key(&ino) {
            return 0;
        }
        self.links_of(ino)
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

    /// Adds the name `name` in directory `dir` for the existing inode `ino` (one more link).
    pub(crate) fn link(&mut self, dir: Ino, name: &str, ino: Ino) {
        self.dir_mut(dir)
            .expect("linking into a directory")
            .insert(Arc::from(name), ino);
        *self.links.or_insert(ino, 0) += 1;
    }

    /// Removes `name` from `dir`; if it was the inode's last name, drops the inode (with
    /// everything below it that has no other name, for a directory). Returns the dropped inode's
    /// number and the inode itself; `None` if the name was missing or the inode lives on under
    /// another name.
    pub(crate) fn unlink_entry(&mut self, dir: Ino, name: &str) -> Option<(Ino, Inode)> {
        let ino = self.dir_mut(dir)?.remove(name)?;
        let dropped = self.release(ino)?;
        if let Inode::Dir(entries) = &dropped {
            let mut stack: Vec<Ino> = entries.values().copied().collect();
            while let Some(i) = stack.pop() {
                if let Some(Inode::Dir(d)) = self.release(i) {
                    stack.extend(d.values().copied());
                }
            }
        }
        Some((ino, dropped))
    }

    /// Counts one name fewer for `ino`; drops and returns the inode when none is left.
    fn release(&mut self, ino: Ino) -> Option<Inode> {
        let count = self.links.or_insert(ino, 1);
        *count = count.saturating_sub(1);
        if *count > 0 {
            return None;
        }
        self.links.remove(&ino);
        self.inodes.remove(&ino)
    }

    /// Moves entry `from_name` of `from_dir` to `to_name` of `to_dir`, unlinking what `to_name`
    /// named (see [`Image::unlink_entry`] for what is returned). The caller has checked that
    /// the move is legal.
    pub(crate) fn move_entry(
        &mut self,
        from_dir: Ino,
        from_name: &str,
        to_dir: Ino,
        to_name: &str,
    ) -> Option<(Ino, Inode)> {
        if from_dir == to_dir && from_name == to_name {
            return None;
        }
        let ino = self
            .dir_mut(from_dir)
            .and_then(|d| d.remove(from_name))
            .expect("source");
        let dropped = self.unlink_entry(to_dir, to_name);
        self.dir_mut(to_dir)
            .expect("moving into a directory")
            .insert(Arc::from(to_name), ino);
        dropped
    }

    /// Swaps what `a_name` in `a_dir` and `b_name` in `b_dir` name (`RENAME_EXCHANGE`). Both
    /// entries must exist.
    pub(crate) fn exchange_entries(&mut self, a_dir: Ino, a_name: &str, b_dir: Ino, b_name: &str) {
        let a = self.dir(a_dir).and_then(|d| d.get(a_name).copied());
        let b = self.dir(b_dir).and_then(|d| d.get(b_name).copied());
        let (Some(a), Some(b)) = (a, b) else { return };
        if let Some(d) = self.dir_mut(a_dir) {
            d.insert(Arc::from(a_name), b);
        }
        if let Some(d) = self.dir_mut(b_dir) {
            d.insert(Arc::from(b_name), a);
        }
    }

    /// Whether an exchange of `a` (in `a_dir`) with `b` (in `b_dir`) is legal here: neither may
    /// be a directory holding the other's parent (`EINVAL`).
    pub(crate) fn check_exchange(&self, a: Ino, a_dir: Ino, b: Ino, b_dir: Ino) -> bool {
        let moves_into_itself =
            |ino: Ino, dir: Ino| self.dir(ino).is_some() && self.is_within(dir, ino);
        a == b || !(moves_into_itself(a, b_dir) || moves_into_itself(b, a_dir))
    }

    /// Sets a file's length, dropping bytes past it or adding zeros.
    pub(crate) fn set_file_len(&mut self, ino: Ino, len: u64) {
        if let Some(data) = self.file_mut(ino) {
            data.resize(len as usize, 0);
        }
    }

    /// Sets a file's permission bits.
    pub(crate) fn set_file_mode(&mut self, ino: Ino, new: FileMode) {
        if let Some(Inode::File { mode, .. }) = self.inodes.get_mut(&ino) {
            *mode = new;
        }
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
            Some(Inode::File { data, hash, .. }) => {
                *hash = ContentHash::default();
                Some(Arc::make_mut(data))
            }
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

    /// Calls `f` with every path (but the root), its inode number and its inode, depth first in
    /// name order.
    fn visit(&self, dir: Ino, path: &mut String, f: &mut impl FnMut(&str, Ino, &Inode)) {
        let Some(entries) = self.dir(dir) else { return };
        for (name, &ino) in entries.iter() {
            let len = path.len();
            if len > 0 {
                path.push('/');
            }
            path.push_str(name);
            if let Some(inode) = self.inodes.get(&ino) {
                f(path, ino, inode);
                if matches!(inode, Inode::Dir(_)) {
                    self.visit(ino, path, f);
                }
            }
            path.truncate(len);
        }
    }
}

/// One directory of an [`Image`] ([`Image::dir_view`]).
pub struct DirView<'a> {
    image: &'a Image,
    entries: &'a Entries,
}

impl<'a> DirView<'a> {
    /// The bytes of the regular file `name` names in this directory, if it does.
    pub fn file_bytes(&self, name: &str) -> Option<&'a [u8]> {
        match self.image.inodes.get(self.entries.get(name)?)? {
            Inode::File { data, .. } => Some(data.as_slice()),
            _ => None,
        }
    }

    /// The names in this directory, in order.
    pub fn names(&self) -> impl Iterator<Item = &'a str> {
        self.entries.keys().map(|name| &**name)
    }
}

impl PartialEq for Image {
    fn eq(&self, other: &Image) -> bool {
        self.listing() == other.listing()
    }
}

impl Eq for Image {}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        self.visit(
            ROOT,
            &mut String::new(),
            &mut |path, ino, inode| match inode {
                Inode::File { data, mode, .. } => {
                    let shown = String::from_utf8_lossy(&data[..data.len().min(16)]).into_owned();
                    let more = if data.len() > 16 { "…" } else { "" };
                    let mode = if *mode == FileMode::FILE_DEFAULT {
                        String::new()
                    } else {
                        format!(" mode {mode}")
                    };
                    let links = match self.links_of(ino) {
                        1 => String::new(),
                        n => format!(" ({n} names)"),
                    };
                    list.entry(&format_args!(
                        "{path}: {} bytes {shown:?}{more}{mode}{links}",
                        data.len()
                    ));
                }
                Inode::Dir(_) => {
                    list.entry(&format_args!("{path}/"));
                }
                Inode::Symlink(t) => {
                    list.entry(&format_args!("{path} -> {t}"));
                }
            },
        );
        list.finish()
    }
}

mod apply;
mod hashes;
#[cfg(test)]
mod tests;
