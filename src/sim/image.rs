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

use super::model::Variant;
use super::trace::{Ino, TraceOp};
use crate::fs::{FileKind, FileMode, FsErrorKind};
use crate::path::RelPath;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The root directory's inode number.
pub(crate) const ROOT: Ino = 0;

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

    /// A 128-bit content hash of the visible tree (paths, kinds, bytes, a file's mode and number
    /// of names): images with equal visible trees have equal fingerprints, whatever their inode
    /// numbers.
    pub fn fingerprint(&self) -> u128 {
        // xxh3-128: not cryptographic, but its collisions are as rare as random ones (2^-128),
        // and it is several times faster than a cryptographic hash on the small files here. A
        // file's bytes enter as their own xxh3-128 hash, cached in the inode, so a state built
        // from a checkpoint rehashes only the files it changed.
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut entry = Vec::with_capacity(128);
        self.visit(ROOT, &mut String::new(), &mut |path, ino, inode| {
            self.encode_entry(path, ino, inode, &mut entry);
            hasher.update(&entry);
        });
        hasher.digest128()
    }

    /// [`Image::fingerprint`], except that the regular files `unread` names with one name only
    /// enter by their path, mode and number of names, not by their length or bytes: two images
    /// that differ only in those files' bytes get the same value. Equal to the fingerprint when
    /// `unread` is empty (so is what a subject declaring nothing gets: see
    /// [`super::Subject::unread_files`]). A path of `unread` that names nothing, a directory, a
    /// symlink or a file with several names changes nothing.
    pub fn fingerprint_unread(&self, unread: &[RelPath]) -> u128 {
        if unread.is_empty() {
            return self.fingerprint();
        }
        // A file with one name is reached by the walk at that name only, and a path of
        // `unread` names it exactly when the walk reaches it there (a path through a symlink or
        // a file resolves to nothing, and the walk enters directories only): so the files
        // masked are those the walk reaches at a path of `unread`, with one name. The paths
        // are looked up by their xxh3-64 hash first, not resolved one by one.
        let mut masked: Vec<(u64, &str)> = unread
            .iter()
            .map(|path| {
                (
                    xxhash_rust::xxh3::xxh3_64(path.as_str().as_bytes()),
                    path.as_str(),
                )
            })
            .collect();
        masked.sort_unstable();
        let is_masked = |path: &str| {
            let key = xxhash_rust::xxh3::xxh3_64(path.as_bytes());
            let from = masked.partition_point(|&(k, _)| k < key);
            masked[from..]
                .iter()
                .take_while(|&&(k, _)| k == key)
                .any(|&(_, p)| p == path)
        };
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut entry = Vec::with_capacity(128);
        self.visit(ROOT, &mut String::new(), &mut |path, ino, inode| {
            match inode {
                Inode::File { mode, .. } if self.links_of(ino) == 1 && is_masked(path) => {
                    entry.clear();
                    entry.extend_from_slice(&(path.len() as u64).to_le_bytes());
                    entry.extend_from_slice(path.as_bytes());
                    entry.push(4);
                    entry.extend_from_slice(&mode.bits().to_le_bytes());
                    entry.extend_from_slice(&self.links_of(ino).to_le_bytes());
                }
                _ => self.encode_entry(path, ino, inode, &mut entry),
            }
            hasher.update(&entry);
        });
        hasher.digest128()
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

    /// One path of the visible tree as the fingerprints hash it: the path, its kind, and a
    /// file's mode, number of names, length and content hash, or a symlink's target.
    fn encode_entry(&self, path: &str, ino: Ino, inode: &Inode, entry: &mut Vec<u8>) {
        entry.clear();
        entry.extend_from_slice(&(path.len() as u64).to_le_bytes());
        entry.extend_from_slice(path.as_bytes());
        match inode {
            Inode::File { data, mode, hash } => {
                let content = hash.get_or_init(|| xxhash_rust::xxh3::xxh3_128(data));
                entry.push(1);
                entry.extend_from_slice(&mode.bits().to_le_bytes());
                entry.extend_from_slice(&self.links_of(ino).to_le_bytes());
                entry.extend_from_slice(&(data.len() as u64).to_le_bytes());
                entry.extend_from_slice(&content.to_le_bytes());
            }
            Inode::Dir(_) => entry.push(2),
            Inode::Symlink(t) => {
                entry.push(3);
                entry.extend_from_slice(&(t.len() as u64).to_le_bytes());
                entry.extend_from_slice(t.as_bytes());
            }
        }
    }

    /// A 128-bit hash per group of paths: `group` puts each path of the visible tree in one of
    /// `groups` groups, and group `g`'s hash covers exactly what [`Image::fingerprint`] covers
    /// of its paths (an empty group hashes to 0). Two images whose paths of group `g` are the
    /// same, with the same kinds, bytes, modes and numbers of names, have the same hash for `g`.
    pub(crate) fn group_hashes(
        &self,
        groups: usize,
        group: &mut dyn FnMut(&str) -> usize,
    ) -> Vec<u128> {
        // A group's hash is the sum (mod 2^128) of the xxh3-128 hashes of its paths' entries.
        // A path occurs once in a tree, and its entry starts with the path, so the sum is over a
        // set of distinct entries: two different sets collide only by chance, as two random
        // 128-bit values do. A sum, unlike a chained hash, can be updated by the entries that
        // changed alone ([`Image::group_hashes_from`]).
        let mut out = vec![0u128; groups];
        let mut entry = Vec::with_capacity(128);
        self.visit(ROOT, &mut String::new(), &mut |path, ino, inode| {
            self.encode_entry(path, ino, inode, &mut entry);
            let g = group(path);
            out[g] = out[g].wrapping_add(xxhash_rust::xxh3::xxh3_128(&entry));
        });
        out
    }

    /// [`Image::group_hashes`] of this image, computed from those of `reference`
    /// (`reference_hashes`, computed with the same `group`): only the paths whose entries differ
    /// between the two trees are hashed. Equal to `self.group_hashes(..)` for any two images;
    /// cheap when this one was made from a clone of `reference` (the directory tables and file
    /// bytes it did not change are shared, and found equal by pointer).
    pub(crate) fn group_hashes_from(
        &self,
        reference: &Image,
        reference_hashes: &[u128],
        group: &mut dyn FnMut(&str) -> usize,
    ) -> Vec<u128> {
        let mut diff = TreeDiff {
            old: reference,
            new: self,
            sums: reference_hashes.to_vec(),
            group,
            path: String::new(),
            entry: Vec::with_capacity(128),
        };
        diff.dirs(ROOT, ROOT);
        diff.sums
    }
    /// The hash [`Image::group_hashes`] adds to its group for the entry `name` of directory
    /// `dir`, whose path is `path`: `Some(0)` when there is no such entry (or its inode is
    /// missing, which the walks skip alike), `None` when it names a directory (whose hash is not
    /// its entry's alone: the entries below it count too).
    pub(crate) fn entry_hash(&self, path: &str, dir: Ino, name: &str) -> Option<u128> {
        let Some(&ino) = self.dir(dir).and_then(|d| d.get(name)) else {
            return Some(0);
        };
        match self.inodes.get(&ino) {
            None => Some(0),
            Some(Inode::Dir(_)) => None,
            Some(inode) => {
                let mut entry = Vec::with_capacity(64 + path.len());
                self.encode_entry(path, ino, inode, &mut entry);
                Some(xxhash_rust::xxh3::xxh3_128(&entry))
            }
        }
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

/// The walk of [`Image::group_hashes_from`]: two trees side by side, the group sums of `old`
/// turned into those of `new` by taking out each entry of `old` that `new` does not have
/// unchanged and adding each entry of `new` that `old` does not have unchanged.
struct TreeDiff<'a, 'g> {
    old: &'a Image,
    new: &'a Image,
    sums: Vec<u128>,
    group: &'g mut dyn FnMut(&str) -> usize,
    /// The path of the directory being compared (the root: empty).
    path: String,
    entry: Vec<u8>,
}

impl TreeDiff<'_, '_> {
    /// Compares directory `old_dir` of `old` with directory `new_dir` of `new`, both at `path`.
    fn dirs(&mut self, old_dir: Ino, new_dir: Ino) {
        let (Some(a), Some(b)) = (self.old.dir(old_dir), self.new.dir(new_dir)) else {
            return;
        };
        if std::ptr::eq(a, b) {
            for (name, &ino) in a.iter() {
                self.pair(name, Some(ino), Some(ino));
            }
            return;
        }
        let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
        loop {
            let order = match (a.peek(), b.peek()) {
                (None, None) => return,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                // Names a copied table still shares are one allocation: equal at a glance.
                (Some((x, _)), Some((y, _))) if Arc::ptr_eq(x, y) => std::cmp::Ordering::Equal,
                (Some((x, _)), Some((y, _))) => x.cmp(y),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (name, &ino) = a.next().expect("peeked");
                    self.pair(name, Some(ino), None);
                }
                std::cmp::Ordering::Greater => {
                    let (name, &ino) = b.next().expect("peeked");
                    self.pair(name, None, Some(ino));
                }
                std::cmp::Ordering::Equal => {
                    let (name, &x) = a.next().expect("peeked");
                    let (_, &y) = b.next().expect("peeked");
                    self.pair(name, Some(x), Some(y));
                }
            }
        }
    }

    /// Compares what `name` (in the directory at `path`) names in `old` (`old_ino`) and in
    /// `new` (`new_ino`); `None`: no such entry, or its inode is missing (which the walks of
    /// [`Image::visit`] skip alike).
    fn pair(&mut self, name: &str, old_ino: Option<Ino>, new_ino: Option<Ino>) {
        let a = old_ino.and_then(|i| Some((i, self.old.inode(i)?)));
        let b = new_ino.and_then(|i| Some((i, self.new.inode(i)?)));
        if let (Some((x, i)), Some((y, j))) = (a, b) {
            if self.same_entry(x, i, y, j) {
                return;
            }
        }
        let len = self.path.len();
        if len > 0 {
            self.path.push('/');
        }
        self.path.push_str(name);
        match (a, b) {
            (Some((x, Inode::Dir(_))), Some((y, Inode::Dir(_)))) => self.dirs(x, y),
            _ => {
                if let Some((x, _)) = a {
                    self.subtree(false, x);
                }
                if let Some((y, _)) = b {
                    self.subtree(true, y);
                }
            }
        }
        self.path.truncate(len);
    }

    /// Whether entry `x` (`i`) of `old` and `y` (`j`) of `new`, at one path and neither a
    /// directory, encode alike: the same kind, mode, number of names and bytes or target.
    fn same_entry(&self, x: Ino, i: &Inode, y: Ino, j: &Inode) -> bool {
        let contents = match (i, j) {
            (
                Inode::File {
                    data: d, mode: m, ..
                },
                Inode::File {
                    data: e, mode: n, ..
                },
            ) => m == n && (Arc::ptr_eq(d, e) || d == e),
            (Inode::Symlink(s), Inode::Symlink(t)) => s == t,
            _ => false,
        };
        contents && self.old.links_of(x) == self.new.links_of(y)
    }

    /// Takes out of the sums (`add` false: from `old`) or adds to them (`add` true: from
    /// `new`) the entry at `path`, inode `ino`, and every entry below it.
    fn subtree(&mut self, add: bool, ino: Ino) {
        let image = if add { self.new } else { self.old };
        let Some(inode) = image.inode(ino) else {
            return;
        };
        let (sums, group, entry) = (&mut self.sums, &mut *self.group, &mut self.entry);
        let mut account = |path: &str, ino: Ino, inode: &Inode| {
            image.encode_entry(path, ino, inode, entry);
            let h = xxhash_rust::xxh3::xxh3_128(entry);
            let g = group(path);
            sums[g] = if add {
                sums[g].wrapping_add(h)
            } else {
                sums[g].wrapping_sub(h)
            };
        };
        account(&self.path, ino, inode);
        if matches!(inode, Inode::Dir(_)) {
            let mut path = self.path.clone();
            image.visit(ino, &mut path, &mut account);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn the_fingerprint_blind_to_unread_files_ignores_their_bytes_only() {
        let image = |t: &[u8], other: &[u8]| {
            let mut i = Image::new();
            i.put_file(&p("d/t.tmp"), t);
            i.put_file(&p("d/x"), other);
            i
        };
        let unread = [p("d/t.tmp"), p("d/missing"), p("d")];
        let base = image(b"one", b"x");
        assert_eq!(base.fingerprint_unread(&[]), base.fingerprint());
        assert_ne!(base.fingerprint_unread(&unread), base.fingerprint());
        let blind = |i: &Image| i.fingerprint_unread(&unread);
        assert_eq!(blind(&image(b"a longer content", b"x")), blind(&base));
        assert_eq!(blind(&image(b"", b"x")), blind(&base), "nor its length");
        assert_ne!(
            blind(&image(b"one", b"y")),
            blind(&base),
            "other files count"
        );
        let mut gone = base.clone();
        gone.unlink_entry(gone.resolve(&p("d")).unwrap(), "t.tmp");
        assert_ne!(blind(&gone), blind(&base), "whether it exists counts");
        let mut moded = base.clone();
        let ino = moded.resolve(&p("d/t.tmp")).unwrap();
        moded.set_file_mode(ino, FileMode::new(0o600).unwrap());
        assert_ne!(blind(&moded), blind(&base), "its mode counts");
        let linked = |t: &[u8]| {
            let mut i = image(t, b"x");
            i.put_hard_link(&p("d/t.tmp"), &p("d/u"));
            i
        };
        assert_ne!(
            blind(&linked(b"one")),
            blind(&linked(b"two")),
            "a file with two names is never blind"
        );
        let mut through = base.clone();
        through.put_symlink(&p("s"), "d");
        assert_eq!(
            through.fingerprint_unread(&[p("s/t.tmp")]),
            through.fingerprint(),
            "a path through a symlink names nothing"
        );
    }

    /// The names and directories [`random_change`] picks from.
    const CHANGED_NAMES: [&str; 9] = [
        "a/x", "a/y", "b/z", "b/c/w", "top", "b/l", "b/x2", "a/n", "b/c/n",
    ];
    const CHANGED_DIRS: [&str; 4] = ["a", "b", "b/c", "a/sub"];

    /// A tree of files, directories, a symlink and a hard link, for the hash tests.
    fn diff_reference() -> Image {
        let mut reference = Image::new();
        for d in ["a", "b", "b/c"] {
            reference.put_dir(&p(d));
        }
        for (i, f) in ["a/x", "a/y", "b/z", "b/c/w", "top"].iter().enumerate() {
            reference.put_file(&p(f), &[i as u8; 3]);
        }
        reference.put_symlink(&p("b/l"), "../a/x");
        reference.put_hard_link(&p("a/x"), &p("b/x2"));
        reference
    }

    /// One change to `image`, chosen by `pick`: a file written, created, removed, renamed,
    /// given a second name or its mode set, or a directory removed or made.
    fn random_change(image: &mut Image, round: usize, pick: &mut impl FnMut(usize) -> usize) {
        let name = p(CHANGED_NAMES[pick(CHANGED_NAMES.len())]);
        let other = p(CHANGED_NAMES[pick(CHANGED_NAMES.len())]);
        match pick(7) {
            0 => {
                if let Ok(ino) = image.resolve(&name) {
                    if let Some(data) = image.file_mut(ino) {
                        data.push(round as u8);
                    }
                }
            }
            1 => {
                if image.get(&name) != Some(Node::Dir) {
                    image.put_file(&name, &[round as u8]);
                }
            }
            2 => {
                if let (Some(parent), Some(last)) = (name.parent(), name.file_name()) {
                    if let Ok(dir) = image.resolve(&parent) {
                        image.unlink_entry(dir, last);
                    }
                }
            }
            3 => {
                let (Ok(ino), Ok((to_dir, to_name))) =
                    (image.resolve(&name), image.resolve_parent(&other))
                else {
                    return;
                };
                let from_dir = image.resolve(&name.parent().unwrap()).unwrap();
                if image.check_rename(ino, to_dir, to_name).is_ok() {
                    image.move_entry(from_dir, name.file_name().unwrap(), to_dir, to_name);
                }
            }
            4 => {
                let linkable = matches!(image.get(&name), Some(Node::File(_)));
                if linkable && image.get(&other) != Some(Node::Dir) {
                    image.put_hard_link(&name, &other);
                }
            }
            5 => {
                if let Ok(ino) = image.resolve(&name) {
                    image.set_file_mode(ino, FileMode::new(0o600).unwrap());
                }
            }
            _ => {
                let dir = p(CHANGED_DIRS[pick(CHANGED_DIRS.len())]);
                if let (Some(parent), Some(last)) = (dir.parent(), dir.file_name()) {
                    match image.resolve(&parent) {
                        Ok(at) if pick(2) == 0 => {
                            image.unlink_entry(at, last);
                        }
                        Ok(_) if image.get(&dir).is_none() => image.put_dir(&dir),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Group hashes computed from a reference equal those computed from scratch, whatever
    /// was changed since the clone: files written, created, removed, renamed across
    /// directories, given a second name, modes set, symlinks, whole subtrees dropped.
    #[test]
    fn group_hashes_from_a_reference_equal_those_from_scratch() {
        use super::super::rng::SplitMix64;
        let mut group = |path: &str| path.bytes().map(usize::from).sum::<usize>() % 3;
        let reference = diff_reference();
        let hashes = reference.group_hashes(3, &mut group);
        assert_eq!(
            reference.group_hashes_from(&reference, &hashes, &mut group),
            hashes
        );
        let mut rng = SplitMix64::new(11);
        let mut pick = |n: usize| rng.below(n as u64).unwrap_or(0) as usize;
        let mut changed = 0;
        for round in 0..300 {
            let mut image = reference.clone();
            for _ in 0..1 + round % 4 {
                random_change(&mut image, round, &mut pick);
            }
            assert_eq!(
                image.group_hashes_from(&reference, &hashes, &mut group),
                image.group_hashes(3, &mut group),
                "round {round}: {image:?}"
            );
            let back =
                reference.group_hashes_from(&image, &image.group_hashes(3, &mut group), &mut group);
            assert_eq!(back, hashes, "round {round}, the other way");
            changed += usize::from(back != image.group_hashes(3, &mut group));
        }
        assert!(changed > 200, "the rounds change the tree: {changed}");
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
    fn a_cached_content_hash_follows_every_change_to_the_file() {
        let mut a = Image::new();
        a.put_file(&p("d/f"), b"one");
        let before = a.fingerprint();
        // A clone shares the data and its cached hash; a write to one side resets its hash.
        let mut b = a.clone();
        let ino = b.ino(&p("d/f")).unwrap();
        b.file_mut(ino).unwrap()[0] = b'O';
        assert_ne!(b.fingerprint(), before);
        assert_eq!(
            a.fingerprint(),
            before,
            "the other side keeps its content and hash"
        );
        let mut fresh = Image::new();
        fresh.put_file(&p("d/f"), b"One");
        assert_eq!(b.fingerprint(), fresh.fingerprint());
        b.set_file_len(ino, 1);
        fresh.put_file(&p("d/f"), b"O");
        assert_eq!(b.fingerprint(), fresh.fingerprint());
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

    fn full(img: &mut Image, op: TraceOp) {
        img.apply(&op, &Variant::Full, 4096);
    }

    #[test]
    fn modes_and_names_are_part_of_the_visible_tree() {
        let mut a = Image::new();
        a.put_file(&p("x"), b"1");
        let mut b = a.clone();
        b.put_file_with_mode(&p("x"), b"1", FileMode::new(0o600).unwrap());
        assert_ne!(a, b);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(b.mode(&p("x")), FileMode::new(0o600));
        assert_eq!(format!("{b:?}"), r#"[x: 1 bytes "1" mode 0600]"#);
        let mut c = a.clone();
        c.put_file(&p("y"), b"1");
        let mut d = a.clone();
        d.put_hard_link(&p("x"), &p("y"));
        assert_eq!(c.walk(), d.walk(), "same paths and bytes");
        assert_ne!(c, d, "but one inode has two names");
        assert_ne!(c.fingerprint(), d.fingerprint());
        assert_eq!(d.nlink(&p("y")), Some(2));
        assert_eq!(
            format!("{d:?}"),
            r#"[x: 1 bytes "1" (2 names), y: 1 bytes "1" (2 names)]"#
        );
    }

    #[test]
    fn the_inode_table_is_a_map_for_small_and_huge_numbers_alike() {
        let mut t: Table<u32> = Table::default();
        for ino in [3, 0, u64::MAX, Table::<u32>::DENSE, Table::<u32>::DENSE - 1] {
            assert!(!t.contains_key(&ino));
            assert_eq!(t.insert(ino, 1), None, "{ino}");
            assert_eq!(t.insert(ino, 2), Some(1), "{ino}");
            *t.or_insert(ino, 7) += 1;
            assert_eq!(t.get(&ino), Some(&3), "{ino}");
        }
        assert_eq!(
            t.slots.len(),
            Table::<u32>::DENSE as usize,
            "numbers past DENSE stay sparse"
        );
        assert_eq!(t.sparse.len(), 2);
        assert_eq!(t.remove(&u64::MAX), Some(3));
        assert_eq!(t.remove(&3), Some(3));
        assert_eq!(t.remove(&3), None);
        assert_eq!(t.get(&4), None, "a slot never set");
        assert_eq!(*t.or_insert(4, 9), 9);
    }

    #[test]
    fn an_inode_lives_while_a_name_refers_to_it() {
        let mut img = Image::new();
        img.put_file(&p("a"), b"data");
        img.put_hard_link(&p("a"), &p("d/b"));
        let ino = img.resolve(&p("a")).unwrap();
        let d = img.resolve(&p("d")).unwrap();
        let unlink = |path: &str, dir| TraceOp::Unlink {
            path: p(path),
            ino,
            dir,
        };
        let link = |existing: &str, new: &str| TraceOp::Link {
            existing: p(existing),
            new: p(new),
            ino,
            dir: ROOT,
        };
        full(&mut img, unlink("a", ROOT));
        assert_eq!(
            img.get(&p("d/b")),
            Some(Node::File(Arc::new(b"data".to_vec())))
        );
        assert_eq!(img.nlink(&p("d/b")), Some(1));
        full(&mut img, link("d/b", "c"));
        assert_eq!(img.nlink(&p("c")), Some(2));
        full(&mut img, unlink("d/b", d));
        full(&mut img, unlink("c", ROOT));
        assert_eq!(
            img.inode(ino).map(Inode::kind),
            None,
            "the last name dropped it"
        );
        // A link whose inode is gone (its create was lost) is a no-op.
        full(&mut img, link("d/b", "e"));
        assert_eq!(img.get(&p("e")), None);
    }

    /// Files `f` (`abcdef`) and `g` (`G`), a directory `full` holding `x`, an empty directory.
    fn precondition_image() -> Image {
        let mut img = Image::new();
        img.put_file(&p("f"), b"abcdef");
        img.put_file(&p("g"), b"G");
        img.put_file(&p("full/x"), b"x");
        img.put_dir(&p("empty"));
        img
    }

    #[test]
    fn set_len_cuts_or_zero_extends_and_set_mode_applies_unless_lost() {
        let mut img = precondition_image();
        let f = img.resolve(&p("f")).unwrap();
        let g = img.resolve(&p("g")).unwrap();
        let set_len = |len| TraceOp::SetLen {
            ino: f,
            path: p("f"),
            len,
        };
        full(&mut img, set_len(3));
        assert_eq!(
            img.get(&p("f")),
            Some(Node::File(Arc::new(b"abc".to_vec())))
        );
        full(&mut img, set_len(5));
        assert_eq!(
            img.get(&p("f")),
            Some(Node::File(Arc::new(b"abc\0\0".to_vec())))
        );
        let mode = FileMode::new(0o600).unwrap();
        full(
            &mut img,
            TraceOp::SetMode {
                ino: f,
                path: p("f"),
                mode,
            },
        );
        assert_eq!(img.mode(&p("f")), Some(mode));
        img.apply(
            &TraceOp::SetMode {
                ino: g,
                path: p("g"),
                mode,
            },
            &Variant::Lost,
            4096,
        );
        assert_eq!(img.mode(&p("g")), Some(FileMode::FILE_DEFAULT), "lost");
    }

    #[test]
    fn rmdir_applies_only_to_an_empty_directory() {
        let mut img = precondition_image();
        let rmdir = |img: &Image, path: &str| TraceOp::Rmdir {
            path: p(path),
            ino: img.resolve(&p(path)).unwrap(),
            dir: ROOT,
        };
        let before = img.clone();
        // Rmdir of a directory that is not empty here (an unlink inside was lost): no-op.
        full(&mut img, rmdir(&before, "full"));
        assert_eq!(img, before);
        full(&mut img, rmdir(&before, "empty"));
        assert_eq!(img.get(&p("empty")), None);
    }

    #[test]
    fn a_rename_onto_a_taken_name_without_replace_and_a_repeated_exchange_are_no_ops() {
        let mut img = precondition_image();
        let f = img.resolve(&p("f")).unwrap();
        let g = img.resolve(&p("g")).unwrap();
        let mode = FileMode::new(0o600).unwrap();
        full(
            &mut img,
            TraceOp::SetMode {
                ino: f,
                path: p("f"),
                mode,
            },
        );
        // A no-replace rename onto a name taken here (its unlink was lost): no-op.
        let taken = TraceOp::Rename {
            from: p("f"),
            to: p("g"),
            ino: f,
            from_dir: ROOT,
            to_dir: ROOT,
            no_replace: true,
        };
        let before = img.clone();
        full(&mut img, taken);
        assert_eq!(img, before);
        let exchange = TraceOp::Exchange {
            from: p("f"),
            to: p("g"),
            from_ino: f,
            to_ino: g,
            from_dir: ROOT,
            to_dir: ROOT,
        };
        full(&mut img, exchange.clone());
        assert_eq!(img.get(&p("f")), Some(Node::File(Arc::new(b"G".to_vec()))));
        assert_eq!(
            img.mode(&p("g")),
            Some(mode),
            "the inode moved with its mode"
        );
        // The same exchange again finds the names swapped: a no-op.
        let before = img.clone();
        full(&mut img, exchange);
        assert_eq!(img, before);
    }
}
