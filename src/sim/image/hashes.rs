//! The image's hashes: the fingerprint of its visible tree (whole, or blind to the bytes of
//! files recovery never reads), and the per-group hashes that key a state's parts
//! ([`crate::sim::cover`]), from scratch or from a reference image by a walk of the two trees
//! side by side.

use super::{Image, Inode, ROOT};
use crate::path::RelPath;
use crate::sim::trace::Ino;
use std::sync::Arc;

impl Image {
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
    /// [`crate::sim::Subject::unread_files`]). A path of `unread` that names nothing, a directory, a
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
