//! The snapshot of `DIR` taken before the program runs, and crash states written back out as
//! real directories for the user's checker.

use crate::fs::FileMode;
use crate::path::RelPath;
use crate::sim::{Image, Ino, Node};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One name under `DIR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A directory and its permission bits.
    Dir {
        /// Relative to `DIR`.
        path: RelPath,
        /// `st_mode & 0o7777`.
        mode: u32,
    },
    /// A regular file, its permission bits and bytes.
    File {
        /// Relative to `DIR`.
        path: RelPath,
        /// `st_mode & 0o7777`.
        mode: u32,
        /// The content.
        data: Vec<u8>,
    },
    /// A symbolic link and its target.
    Symlink {
        /// Relative to `DIR`.
        path: RelPath,
        /// What it points at.
        target: String,
    },
    /// A further name of a file met earlier in the walk (a hard link).
    HardLink {
        /// Relative to `DIR`.
        path: RelPath,
        /// The name it was first met under.
        existing: RelPath,
    },
}

/// The tree under `DIR`, sorted by path (parents first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every name but `DIR` itself.
    pub entries: Vec<Entry>,
}

/// Why `DIR` could not be snapshotted (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading the tree failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Something the harness cannot model.
    #[error("{path}: {why}")]
    Unsupported {
        /// Where.
        path: PathBuf,
        /// What it is.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Snapshot {
    /// Reads every file, directory and symlink under `dir` (never following a symlink).
    pub fn take(dir: &Path) -> Result<Snapshot, SnapshotError> {
        let mut walk = Walk {
            root: dir,
            out: Vec::new(),
            seen: BTreeMap::new(),
        };
        walk.dir(dir)?;
        Ok(Snapshot { entries: walk.out })
    }

    /// The snapshot as the simulator's image.
    pub fn to_image(&self) -> Image {
        let mut image = Image::new();
        for e in &self.entries {
            match e {
                Entry::Dir { path, .. } => image.put_dir(path),
                Entry::File { path, data, mode } => image.put_file_with_mode(
                    path,
                    data,
                    FileMode::new(*mode).unwrap_or(FileMode::FILE_DEFAULT),
                ),
                Entry::Symlink { path, target } => image.put_symlink(path, target),
                Entry::HardLink { path, existing } => image.put_hard_link(existing, path),
            }
        }
        image
    }

    /// The permission bits of each directory, by path (files carry theirs in the image).
    pub fn dir_modes(&self) -> BTreeMap<RelPath, u32> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Dir { path, mode } => Some((path.clone(), *mode)),
                _ => None,
            })
            .collect()
    }
}

/// Reading the tree under `root` into entries, in name order, each directory before its own.
struct Walk<'a> {
    root: &'a Path,
    out: Vec<Entry>,
    /// The first path of each multiply-linked file, by `(device, inode)`.
    seen: BTreeMap<(u64, u64), RelPath>,
}

impl Walk<'_> {
    /// Adds the entries under `dir`.
    fn dir(&mut self, dir: &Path) -> Result<(), SnapshotError> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(io(dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io(dir))?;
        names.sort();
        for name in names {
            let full = dir.join(&name);
            let rel = self.relative(&full)?;
            let meta = fs::symlink_metadata(&full).map_err(io(&full))?;
            let mode = meta.mode() & 0o7777;
            let ft = meta.file_type();
            if ft.is_dir() {
                self.out.push(Entry::Dir { path: rel, mode });
                self.dir(&full)?;
            } else if ft.is_file() {
                let entry = self.file(&full, rel, mode, &meta)?;
                self.out.push(entry);
            } else if ft.is_symlink() {
                let target = symlink_target(&full)?;
                self.out.push(Entry::Symlink { path: rel, target });
            } else {
                return Err(SnapshotError::Unsupported {
                    path: full,
                    why: "not a regular file, directory or symlink".into(),
                });
            }
        }
        Ok(())
    }

    /// `full` as a path relative to the root, refused if it is not UTF-8.
    fn relative(&self, full: &Path) -> Result<RelPath, SnapshotError> {
        full.strip_prefix(self.root)
            .ok()
            .and_then(|r| r.to_str())
            .and_then(|r| RelPath::new(r).ok())
            .ok_or_else(|| SnapshotError::Unsupported {
                path: full.to_path_buf(),
                why: "a name that is not UTF-8".into(),
            })
    }

    /// The regular file at `full` (permission bits `mode`): its bytes, or a hard link to the
    /// name its inode was first met under.
    fn file(
        &mut self,
        full: &Path,
        rel: RelPath,
        mode: u32,
        meta: &fs::Metadata,
    ) -> Result<Entry, SnapshotError> {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(existing) = self.seen.get(&key) {
                return Ok(Entry::HardLink {
                    path: rel,
                    existing: existing.clone(),
                });
            }
            self.seen.insert(key, rel.clone());
        }
        let data = fs::read(full).map_err(io(full))?;
        Ok(Entry::File {
            path: rel,
            mode,
            data,
        })
    }
}

/// What the symlink at `full` points at, refused if it is not UTF-8.
fn symlink_target(full: &Path) -> Result<String, SnapshotError> {
    let target = fs::read_link(full).map_err(io(full))?;
    target
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| SnapshotError::Unsupported {
            path: full.to_path_buf(),
            why: "a symlink target that is not UTF-8".into(),
        })
}

/// Writes `image` into the empty directory `dest`: files with their mode and hard links,
/// directories with the snapshot's mode for that path (`dir_modes`) or 0755, and the owner's
/// `rwx` kept so that the state can be written and removed.
pub fn materialize(
    image: &Image,
    dir_modes: &BTreeMap<RelPath, u32>,
    dest: &Path,
) -> std::io::Result<()> {
    let mut first_name: BTreeMap<Ino, PathBuf> = BTreeMap::new();
    let mut dirs = Vec::new();
    for (path, node) in image.walk() {
        let full = dest.join(path.as_str());
        match node {
            Node::Dir => {
                fs::create_dir(&full)?;
                dirs.push((full, dir_modes.get(&path).copied().unwrap_or(0o755)));
            }
            Node::File(data) => {
                let ino = image.resolve(&path).ok();
                if let Some(existing) = ino.and_then(|i| first_name.get(&i)) {
                    fs::hard_link(existing, &full)?;
                    continue;
                }
                fs::write(&full, &*data)?;
                let mode = image.mode(&path).map_or(0o644, |m| m.bits());
                fs::set_permissions(&full, fs::Permissions::from_mode(mode))?;
                if let Some(ino) = ino.filter(|_| image.nlink(&path).unwrap_or(1) > 1) {
                    first_name.insert(ino, full);
                }
            }
            Node::Symlink(target) => std::os::unix::fs::symlink(target, &full)?,
        }
    }
    // Modes of directories last, once their entries are written.
    for (dir, mode) in dirs.into_iter().rev() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_tree_round_trips_with_modes_symlinks_and_hard_links() {
        let src = tempfile::tempdir().unwrap();
        let d = src.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub/a"), b"alpha").unwrap();
        fs::set_permissions(d.join("sub/a"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::hard_link(d.join("sub/a"), d.join("b")).unwrap();
        symlink("sub/a", d.join("ln")).unwrap();
        fs::set_permissions(d.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
        let snap = Snapshot::take(d).unwrap();
        assert!(snap
            .entries
            .iter()
            .any(|e| matches!(e, Entry::HardLink { .. })));
        let image = snap.to_image();
        assert_eq!(image.nlink(&RelPath::new("b").unwrap()), Some(2));
        let out = tempfile::tempdir().unwrap();
        materialize(&image, &snap.dir_modes(), out.path()).unwrap();
        let o = out.path();
        assert_eq!(fs::read(o.join("b")).unwrap(), b"alpha");
        let (a, b) = (
            fs::metadata(o.join("sub/a")).unwrap(),
            fs::metadata(o.join("b")).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "one inode, two names");
        assert_eq!(a.mode() & 0o7777, 0o600);
        assert_eq!(fs::metadata(o.join("sub")).unwrap().mode() & 0o7777, 0o750);
        assert_eq!(fs::read_link(o.join("ln")).unwrap(), Path::new("sub/a"));
        // Taking the snapshot of the materialized tree gives the same snapshot.
        assert_eq!(Snapshot::take(o).unwrap(), snap);
    }

    #[test]
    fn what_cannot_be_modelled_is_refused() {
        let src = tempfile::tempdir().unwrap();
        let fifo = src.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return;
        }
        let e = Snapshot::take(src.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
