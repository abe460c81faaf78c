//! Recovery over an arbitrary journal directory in the simulated filesystem.
//!
//! The fuzzer lays out a tiny tree: entry files holding arbitrary bytes or well-formed entries
//! (naming targets, temps and increments from a small namespace), some of those temps and
//! increments present, files, directories and symlinks here and there. Then `recover` runs, and:
//!
//! - it must not panic (an error is fine: a symlink in the way, say);
//! - it must change nothing but the paths some valid entry names (targets, temps, increments) and
//!   the entry files themselves;
//! - after a successful recovery, a second one changes nothing.
#![no_main]

use arbitrary::Arbitrary;
use crashsafe::format::{
    self, temp_path, Content, Digest, Entry, EntryKind, IncrementRecord, UpdateRecord,
};
use crashsafe::journal::recover::recover;
use crashsafe::path::RelPath;
use crashsafe::sim::{Image, Node, SimFs};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, BTreeSet};

const JOURNAL: &str = ".crashsafe/journal";
/// Targets and increments come from here; "s" may be made a symlink, "d" a file.
const NAMES: &[&str] = &["a", "b", "d/a", "d/b", "s/x", "i/1", "i/2"];
/// Where the fuzzer may put a plain node: the names above, their directories, the journal's.
const PLACES: &[&str] = &[
    "a",
    "b",
    "d",
    "d/a",
    "d/b",
    "s",
    "s/x",
    "i",
    "i/1",
    ".crashsafe",
];
const CONTENTS: &[&[u8]] = &[b"", b"old", b"new", b"inc"];
const LINK_TARGETS: &[&str] = &["a", "d", "../outside", "/etc", ".crashsafe/journal"];
const MAX_ENTRIES: usize = 6;
const MAX_UPDATES: usize = 4;
const MAX_NODES: usize = 10;

fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[i as usize % list.len()]
}

fn path(s: &str) -> RelPath {
    RelPath::new(s).expect("namespace paths are valid")
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ContentDesc {
    Absent,
    Unknown,
    Of(u8),
}

impl ContentDesc {
    fn build(self) -> Content {
        match self {
            ContentDesc::Absent => Content::Absent,
            ContentDesc::Unknown => Content::Unknown,
            ContentDesc::Of(i) => Content::Present(Digest::of(pick(CONTENTS, i))),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct UpdateDesc {
    target: u8,
    old: ContentDesc,
    new: ContentDesc,
    increment: Option<(u8, ContentDesc)>,
    /// Put the temp in place with this content.
    temp_present: Option<u8>,
    /// Put the increment in place with this content.
    increment_present: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum EntryDesc {
    /// Arbitrary bytes under an entry-like name (seq, commit?) or a junk one.
    Raw {
        seq: u8,
        commit: bool,
        junk_name: bool,
        bytes: Vec<u8>,
    },
    /// A well-formed intent, maybe with its commit record, maybe cut short.
    Intent {
        seq: u8,
        atomic: bool,
        commit_record: bool,
        updates: Vec<UpdateDesc>,
        truncate: Option<u16>,
    },
}

#[derive(Arbitrary, Debug)]
enum NodeDesc {
    File(u8),
    Dir,
    Symlink(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    nodes: Vec<(u8, NodeDesc)>,
    entries: Vec<EntryDesc>,
}

fn entry_name(seq: u64, commit: bool) -> String {
    format!("{seq:016x}.{}", if commit { "commit" } else { "intent" })
}

/// Whether `p` can be created: walking down from the root, every proper ancestor is a
/// directory until the first missing one (`Image::put_*` panics under a file or a symlink).
fn placeable(image: &Image, p: &RelPath) -> bool {
    let mut ancestors = Vec::new();
    let mut cur = p.parent();
    while let Some(dir) = cur {
        if dir.is_root() {
            break;
        }
        cur = dir.parent();
        ancestors.push(dir);
    }
    for dir in ancestors.iter().rev() {
        match image.get(dir) {
            Some(Node::Dir) => {}
            None => return true,
            Some(_) => return false,
        }
    }
    true
}

fn put_file(image: &mut Image, p: &RelPath, data: &[u8]) {
    if placeable(image, p) && !matches!(image.get(p), Some(Node::Dir)) {
        image.put_file(p, data);
    }
}

fn build_entry(seq: u64, atomic: bool, updates: &[UpdateDesc]) -> Entry {
    let mut records = Vec::new();
    let mut names = BTreeSet::new();
    for u in updates.iter().take(MAX_UPDATES) {
        let index = records.len();
        let target = path(pick(NAMES, u.target));
        let new = u.new.build();
        let temp = (new != Content::Absent).then(|| temp_path(&target, seq, index));
        let old = match u.old.build() {
            Content::Unknown => Content::Absent,
            c => c,
        };
        if names.contains(&target) || temp.as_ref().is_some_and(|t| names.contains(t)) {
            continue;
        }
        names.insert(target.clone());
        names.extend(temp.clone());
        let increment = u.increment.and_then(|(p, c)| {
            let p = path(pick(NAMES, p));
            names.insert(p.clone()).then(|| IncrementRecord {
                path: p,
                content: c.build(),
            })
        });
        records.push(UpdateRecord {
            target,
            temp,
            old,
            new,
            increment,
        });
    }
    Entry {
        seq,
        kind: EntryKind::Intent { atomic },
        updates: records,
    }
}

fn build(input: &Input) -> Image {
    let mut image = Image::new();
    let journal = path(JOURNAL);
    for (place, node) in input.nodes.iter().take(MAX_NODES) {
        let p = path(pick(PLACES, *place));
        if !placeable(&image, &p) || image.get(&p).is_some() {
            continue;
        }
        match node {
            NodeDesc::File(c) => image.put_file(&p, pick(CONTENTS, *c)),
            NodeDesc::Dir => image.put_dir(&p),
            NodeDesc::Symlink(t) => image.put_symlink(&p, pick(LINK_TARGETS, *t)),
        }
    }
    if !placeable(&image, &journal.join("x").unwrap()) {
        // `.crashsafe` is a file or a symlink: still worth a recovery run, with no entries.
        return image;
    }
    image.put_dir(&journal);
    for e in input.entries.iter().take(MAX_ENTRIES) {
        put_entry(&mut image, &journal, e);
    }
    image
}

/// Writes the entry `e` describes into `journal`: raw bytes under an entry's (or a junk) name,
/// or a well-formed intent (possibly cut short), its commit record, and the temps and
/// increments it names.
fn put_entry(image: &mut Image, journal: &RelPath, e: &EntryDesc) {
    match e {
        EntryDesc::Raw {
            seq,
            commit,
            junk_name,
            bytes,
        } => {
            let name = if *junk_name {
                format!("junk-{seq}")
            } else {
                entry_name(*seq as u64, *commit)
            };
            put_file(image, &journal.join(&name).unwrap(), bytes);
        }
        EntryDesc::Intent {
            seq,
            atomic,
            commit_record,
            updates,
            truncate,
        } => {
            let seq = *seq as u64;
            let entry = build_entry(seq, *atomic, updates);
            let mut bytes = format::encode(&entry).expect("a tiny entry encodes");
            if let Some(n) = truncate {
                bytes.truncate(*n as usize % (bytes.len() + 1));
            }
            put_file(image, &journal.join(&entry_name(seq, false)).unwrap(), &bytes);
            if *commit_record {
                let commit = Entry {
                    seq,
                    kind: EntryKind::Commit,
                    updates: vec![],
                };
                let bytes = format::encode(&commit).expect("a commit record encodes");
                put_file(image, &journal.join(&entry_name(seq, true)).unwrap(), &bytes);
            }
            for (u, d) in entry.updates.iter().zip(updates.iter()) {
                if let (Some(t), Some(c)) = (&u.temp, d.temp_present) {
                    put_file(image, t, pick(CONTENTS, c));
                }
                if let (Some(i), Some(c)) = (&u.increment, d.increment_present) {
                    put_file(image, &i.path, pick(CONTENTS, c));
                }
            }
        }
    }
}

/// The paths recovery may change: the entry files, whatever a valid entry among them names, and
/// recovery's scratch files for its updates.
fn allowed(before: &BTreeMap<RelPath, Node>) -> BTreeSet<RelPath> {
    let journal = path(JOURNAL);
    let mut out = BTreeSet::new();
    for (p, node) in before {
        if p.parent().as_ref() != Some(&journal) {
            continue;
        }
        out.insert(p.clone());
        if let Node::File(bytes) = node {
            if let Ok(entry) = format::decode(bytes) {
                for (index, u) in entry.updates.into_iter().enumerate() {
                    // Recovery's scratch files, beside the target and the increment.
                    let increment = u.increment.map(|i| i.path);
                    for beside in std::iter::once(&u.target).chain(increment.as_ref()) {
                        out.extend(format::try_scratch_path(beside, entry.seq, index).ok());
                    }
                    out.insert(u.target);
                    out.extend(u.temp);
                    out.extend(increment);
                }
            }
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let image = build(&input);
    let before = image.walk();
    let fs = SimFs::from_image(&image);
    let dir = path(JOURNAL);
    let first = recover(&fs, &dir);
    let after = fs.image().walk();
    let may_change = allowed(&before);
    let keys: BTreeSet<&RelPath> = before.keys().chain(after.keys()).collect();
    for p in keys {
        if before.get(p) != after.get(p) {
            assert!(
                may_change.contains(p),
                "recovery changed {p}, which no valid entry names: {:?} -> {:?}\nresult: {first:?}",
                before.get(p),
                after.get(p)
            );
        }
    }
    if first.is_ok() {
        let second = recover(&fs, &dir);
        let again = fs.image().walk();
        assert!(
            again == after,
            "a second recovery changed the tree\nfirst: {first:?}\nsecond: {second:?}\nbefore: {before:?}\nafter first: {after:?}\nafter second: {again:?}"
        );
    }
});
