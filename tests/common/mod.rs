//! Helpers shared by the integration tests: paths, a root with an untouchable sibling, whole-tree
//! snapshots, and hand-built journal entries.
#![allow(dead_code)]

use crashsafe::format::{self, Content, Digest, Entry, EntryKind, IncrementRecord, UpdateRecord};
use crashsafe::fs::real::RealFs;
use crashsafe::journal::{Journal, JournalOptions, DEFAULT_JOURNAL_DIR};
use crashsafe::path::RelPath;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A checked path; panics on an unsafe one.
pub fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// The default journal directory.
pub fn jdir() -> RelPath {
    p(DEFAULT_JOURNAL_DIR)
}

/// A root directory inside a temp dir, with a sibling `outside` directory that must never be
/// touched.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub outside: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"outside data").unwrap();
        std::fs::write(outside.join("x"), b"outside x").unwrap();
        std::fs::create_dir(outside.join("sub")).unwrap();
        std::fs::write(outside.join("sub/file"), b"outside sub file").unwrap();
        Fixture { tmp, root, outside }
    }

    /// The host path of a root-relative path.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a file under the root, creating its parents.
    pub fn write(&self, rel: &str, data: &[u8]) {
        let path = self.at(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }

    /// Reads a file under the root; `None` if absent.
    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        match std::fs::read(self.at(rel)) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("reading {rel}: {e}"),
        }
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.at(rel)).is_ok()
    }

    pub fn fs(&self) -> RealFs {
        RealFs::open(&self.root).unwrap()
    }

    /// Opens the journal in the default directory, waiting a little for its lock: a test in
    /// the same binary that spawns a process while an earlier journal of this fixture was open
    /// shares the locked directory's descriptor with the child until the child's `exec`, so the
    /// lock can outlive the journal's drop by that instant.
    pub fn journal(&self) -> Journal<RealFs> {
        let wait = std::time::Duration::from_secs(5);
        Journal::open_waiting(self.fs(), jdir(), JournalOptions::default(), wait).unwrap()
    }

    /// Writes raw bytes as the journal entry file `name`, creating the journal directory.
    pub fn put_entry_bytes(&self, name: &str, bytes: &[u8]) {
        let dir = self.root.join(DEFAULT_JOURNAL_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    /// Encodes `entry` and writes it under its proper name.
    pub fn put_entry(&self, entry: &Entry) {
        let bytes = format::encode(entry).unwrap();
        self.put_entry_bytes(&entry_name(entry), &bytes);
    }

    /// The entry files in the journal directory (empty if it does not exist); floor and registry
    /// files, which the journal keeps on purpose, are left out (see [`Fixture::floors`],
    /// [`Fixture::registry_files`]).
    pub fn entries(&self) -> Vec<String> {
        names_in(&self.root.join(DEFAULT_JOURNAL_DIR))
    }

    /// The floor files in the journal directory.
    pub fn floors(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.root.join(DEFAULT_JOURNAL_DIR)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| is_floor_name(n))
            .collect();
        names.sort();
        names
    }

    /// The registry files in the journal directory (see `src/journal/registry.rs`).
    pub fn registry_files(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.root.join(DEFAULT_JOURNAL_DIR)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                matches!(
                    crashsafe::journal::recover::parse_name(n),
                    Some((_, crashsafe::journal::recover::EntryFile::Dirs))
                )
            })
            .collect();
        names.sort();
        names
    }

    /// Every temp file (`.crashsafe-*.tmp`) anywhere under the root.
    pub fn temps(&self) -> Vec<PathBuf> {
        snapshot(&self.root)
            .into_keys()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".crashsafe-") && n.ends_with(".tmp"))
            })
            .collect()
    }

    pub fn snapshot(&self) -> BTreeMap<PathBuf, Node> {
        snapshot(&self.root)
    }

    pub fn snapshot_outside(&self) -> BTreeMap<PathBuf, Node> {
        snapshot(&self.outside)
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// The sorted names in a directory (empty if it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !is_bookkeeping_name(n))
        .collect();
    names.sort();
    names
}

/// Whether `name` is a journal floor file's (`<16 hex digits>.floor`): bookkeeping the journal
/// keeps on purpose (see `src/journal/recover.rs`, "The floor"), left out of [`names_in`] and
/// [`snapshot`].
pub fn is_floor_name(name: &str) -> bool {
    matches!(
        crashsafe::journal::recover::parse_name(name),
        Some((_, crashsafe::journal::recover::EntryFile::Floor))
    )
}

/// Whether `name` is a file the journal keeps on purpose in its directory: a floor
/// ([`is_floor_name`]) or a registry file (`<16 hex digits>.dirs`, see
/// `src/journal/registry.rs`). Left out of [`names_in`] and [`snapshot`].
pub fn is_bookkeeping_name(name: &str) -> bool {
    use crashsafe::journal::recover::{parse_name, EntryFile};
    matches!(
        parse_name(name),
        Some((_, EntryFile::Floor | EntryFile::Dirs))
    )
}

/// One name in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
}

/// Every name under `dir`, recursively, relative to `dir`, never following symlinks; journal floor
/// and registry files left out ([`is_bookkeeping_name`]).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if is_bookkeeping_name(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_symlink() {
                out.insert(rel, Node::Symlink(std::fs::read_link(&path).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, Node::Dir);
                walk(base, &path, out);
            } else {
                out.insert(rel, Node::File(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The file name an entry is stored under.
pub fn entry_name(entry: &Entry) -> String {
    let ext = match entry.kind {
        EntryKind::Intent { .. } => "intent",
        EntryKind::Commit => "commit",
    };
    format!("{:016x}.{ext}", entry.seq)
}

/// The content record of some bytes, or of an absent file.
pub fn content(data: Option<&[u8]>) -> Content {
    match data {
        Some(d) => Content::Present(Digest::of(d)),
        None => Content::Absent,
    }
}

/// A hand-built update record: `target` goes from `old` to `new` (`None` = absent), with its
/// proper temp, and an increment holding `inc` if given.
pub fn record(
    seq: u64,
    index: usize,
    target: &str,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
    inc: Option<(&str, &[u8])>,
) -> UpdateRecord {
    let target = p(target);
    UpdateRecord {
        temp: new.map(|_| format::temp_path(&target, seq, index)),
        target,
        old: content(old),
        new: content(new),
        increment: inc.map(|(path, data)| IncrementRecord {
            path: p(path),
            content: content(Some(data)),
        }),
    }
}

pub fn intent(seq: u64, atomic: bool, updates: Vec<UpdateRecord>) -> Entry {
    Entry {
        seq,
        kind: EntryKind::Intent { atomic },
        updates,
    }
}

pub fn commit_record(seq: u64) -> Entry {
    Entry {
        seq,
        kind: EntryKind::Commit,
        updates: Vec::new(),
    }
}

/// Builds an entry file by hand: header and the given payload, with a correct CRC.
pub fn raw_entry(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&format::MAGIC);
    out.extend_from_slice(&format::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Re-seals an entry whose payload was edited: fixes the length and CRC in the header.
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    raw_entry(&bytes[format::HEADER_LEN..])
}

/// A postcard varint.
pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A postcard string.
pub fn pstr(s: &str, out: &mut Vec<u8>) {
    varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// A postcard `Content`.
pub fn pcontent(c: Content, out: &mut Vec<u8>) {
    match c {
        Content::Absent => out.push(0),
        Content::Unknown => out.push(1),
        Content::Present(d) => {
            out.push(2);
            varint(d.len, out);
            out.extend_from_slice(&d.blake3);
        }
    }
}

/// A hand-encoded one-update intent payload whose paths are written verbatim, so that paths a
/// `RelPath` refuses (`../x`, `/etc/passwd`) can be put in a well-formed, checksummed entry.
pub fn raw_intent_payload(
    seq: u64,
    target: &str,
    temp: Option<&str>,
    old: Content,
    new: Content,
    inc: Option<(&str, Content)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    varint(seq, &mut out);
    out.push(0); // Intent
    out.push(0); // atomic: false
    varint(1, &mut out); // one update
    pstr(target, &mut out);
    match temp {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            pstr(t, &mut out);
        }
    }
    pcontent(old, &mut out);
    pcontent(new, &mut out);
    match inc {
        None => out.push(0),
        Some((path, c)) => {
            out.push(1);
            pstr(path, &mut out);
            pcontent(c, &mut out);
        }
    }
    out
}
