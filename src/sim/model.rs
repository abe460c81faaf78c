//! Persistence models: which subsets of the operations issued before a crash may be on disk.
//!
//! A model answers three questions, and adding a model is one new type implementing [`Model`]:
//!
//! 1. **Barrier coverage** ([`Model::resolve`]): for each operation of a trace, from which crash
//!    point on it is no longer pending (made durable by a barrier, or dropped for good by a
//!    failed one). Before that point the operation is *pending*.
//! 2. **Variants** ([`Model::variants`]): the ways one pending operation may reach the disk:
//!    wholly ([`Variant::Full`]), not at all ([`Variant::Lost`]), torn at block granularity
//!    ([`Variant::Torn`]) or, for an append, as zeros ([`Variant::Zeros`]).
//! 3. **Ordering** ([`Model::close`]): a choice of one variant per pending operation is adjusted
//!    to the model's ordering rules (for example ext4's "directory operations persist in order").
//!
//! The crash-state builder applies, in issue order, the durable operations and the chosen
//! variants of the pending ones; an operation whose precondition does not hold in the state being
//! rebuilt (a rename of a name whose create was lost) is a no-op.
//!
//! Sources: T. S. Pillai et al., "All File Systems Are Not Created Equal: On the Complexity of
//! Crafting Crash-Consistent Applications" (ALICE), OSDI'14, tables 2 and 3 (the persistence
//! properties of ext4 and of the abstract model); Linux `fsync(2)` (what fsync and fdatasync
//! promise); Rebello et al., "Can Applications Recover from fsync Failures?", ATC'20 (a failed
//! fsync drops the dirty data it was meant to flush).

use super::image::blocks_touched;
use super::trace::{Ino, SyncCall, TraceOp};
use std::collections::{BTreeMap, BTreeSet};

/// How one pending operation reaches the disk in a crash state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Wholly, as issued.
    Full,
    /// Not at all.
    Lost,
    /// A write whose file size was extended but whose bytes never arrived (zeros).
    Zeros,
    /// A write of which only these blocks (numbered from 0, the first block the write touches)
    /// arrived.
    Torn(Vec<u32>),
}

impl Variant {
    /// Whether anything of the operation reached the disk.
    pub fn persists(&self) -> bool {
        !matches!(self, Variant::Lost)
    }
}

/// When an operation stops being pending: from crash point `at` on it is durable (`kept`) or
/// dropped for good (`!kept`). [`Resolution::PENDING`] never stops being pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// The first crash point at which the operation is resolved (`usize::MAX`: never).
    pub at: usize,
    /// Whether it is then on disk (durable) or dropped (lost in every later crash state).
    pub kept: bool,
}

impl Resolution {
    /// Pending at every crash point.
    pub const PENDING: Resolution = Resolution {
        at: usize::MAX,
        kept: false,
    };

    /// Durable from crash point `at` on.
    pub fn durable(at: usize) -> Resolution {
        Resolution { at, kept: true }
    }

    /// Dropped (never on disk) from crash point `at` on.
    pub fn dropped(at: usize) -> Resolution {
        Resolution { at, kept: false }
    }

    /// Whether the operation is resolved at crash point `cp`.
    pub fn resolved_at(&self, cp: usize) -> bool {
        self.at <= cp
    }
}

/// What a model may need to know about a pending operation to list its variants.
#[derive(Debug, Clone, Copy)]
pub struct OpContext {
    /// The torn-write granularity, in bytes.
    pub block_size: u64,
    /// For a write: the file's size in the durable checkpoint (`None` if the file is not there).
    pub durable_len: Option<u64>,
}

/// One pending operation at a crash point, with its variants.
#[derive(Debug, Clone)]
pub struct PendingOp<'t> {
    /// Its index in the trace.
    pub index: usize,
    /// The operation.
    pub op: &'t TraceOp,
    /// The variants the model allows (never empty; the first is [`Variant::Full`]).
    pub variants: Vec<Variant>,
}

impl PendingOp<'_> {
    /// The position of `variant` in [`PendingOp::variants`], if the model allows it.
    pub fn position(&self, variant: &Variant) -> Option<u16> {
        self.variants
            .iter()
            .position(|v| v == variant)
            .map(|i| i as u16)
    }

    /// Whether `choice` (a position in [`PendingOp::variants`]) persists anything.
    pub fn persists(&self, choice: u16) -> bool {
        self.variants[choice as usize].persists()
    }
}

/// A persistence model. See the module doc; implement this trait to add one.
pub trait Model: Send + Sync {
    /// The model's name, as the CLI and replay tokens spell it.
    fn name(&self) -> &'static str;

    /// One line: what the model is and where it comes from.
    fn summary(&self) -> &'static str;

    /// When each operation of `trace` stops being pending (one entry per operation). Operations
    /// that change nothing on disk (the fsync family) must be resolved right after themselves.
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution>;

    /// The ways a pending `op` may reach the disk; the first must be [`Variant::Full`].
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant>;

    /// Adjusts `choice` (one position in `pending[i].variants` per pending operation, in issue
    /// order) to the model's ordering rules. The default allows every combination.
    fn close(&self, pending: &[PendingOp<'_>], choice: &mut [u16]) {
        let _ = (pending, choice);
    }

    /// Whether the pending operations reach the disk independently of one another: every
    /// combination of variants is a crash state ([`Model::close`] changes nothing). Only then
    /// may the explorer check a subject's independent factors instead of their product
    /// ([`super::factor`]). The default, `false`, claims nothing.
    fn independent_ops(&self) -> bool {
        false
    }
}

/// Every built-in model: prefix, ext4-ordered, posix.
pub fn all_models() -> Vec<Box<dyn Model>> {
    vec![Box::new(Prefix), Box::new(Ext4Ordered), Box::new(Posix)]
}

/// The built-in model called `name` (`prefix`, `ext4-ordered`, `posix`).
pub fn model_by_name(name: &str) -> Option<Box<dyn Model>> {
    all_models().into_iter().find(|m| m.name() == name)
}

/// The disk holds exactly the operations issued before the crash point, in order: one state per
/// crash point. What a process crash with an intact page cache gives, or a filesystem that
/// persists every operation synchronously and in order (ALICE's "sequential" ideal). It hides any
/// missing fsync; it is the baseline against which the weaker models find bugs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prefix;

impl Model for Prefix {
    fn name(&self) -> &'static str {
        "prefix"
    }
    fn summary(&self) -> &'static str {
        "every operation issued before the crash is on disk, in order (process crash)"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        (0..trace.len())
            .map(|j| Resolution::durable(j + 1))
            .collect()
    }
    fn variants(&self, _: &TraceOp, _: &OpContext) -> Vec<Variant> {
        vec![Variant::Full]
    }
    /// One variant per operation, no ordering rule.
    fn independent_ops(&self) -> bool {
        true
    }
}

/// The weakest model a correct program may assume (POSIX and Linux `fsync(2)`; ALICE's abstract
/// persistence model, OSDI'14 table 3):
///
/// - `fsync` of a file makes that inode's earlier writes, `set_len`s and `set_mode`s durable;
///   `fdatasync` its writes and `set_len`s only (`fdatasync(2)`: it flushes the metadata needed
///   to read the data back, such as the size, not the mode); neither makes its directory entry
///   durable;
/// - `fsync` of a directory makes that directory's earlier entry operations durable (create,
///   link, unlink, rmdir, mkdir, symlink in it); a rename or exchange is covered once every
///   directory it touches has been fsynced after it;
/// - `syncfs` covers everything before it;
/// - a failed sync drops what it was meant to flush, for good ("fsyncgate", ATC'20);
/// - any operation not covered may be lost independently of the others, in any order: an
///   unsynced write to one file may be lost while a later, synced write to another file
///   persisted;
/// - an overwrite within one block is atomic (all or nothing); a write that spans several
///   blocks may persist torn at block granularity (some of its blocks; "All File Systems Are Not
///   Created Equal" observed this on every file system tested);
/// - an append (a write past the durable size) may persist as zeros: the size update reached the
///   disk before the data (ALICE table 3, "appends are not atomic"; ext4 `data=writeback`);
/// - `set_len`, `set_mode`, `link`, `rmdir`, a rename and an exchange are each atomic, but may
///   be lost: a shrink leaves the old length or the new one, a growth the old length or the new
///   one with zeros.
#[derive(Debug, Clone, Copy, Default)]
pub struct Posix;

impl Model for Posix {
    fn name(&self) -> &'static str {
        "posix"
    }
    fn summary(&self) -> &'static str {
        "only fsync'd data and fsync'd directory entries survive; writes may tear or be zeros"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        posix_resolutions(trace)
    }
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant> {
        write_variants(op, cx, true)
    }
    /// "Any operation not covered may be lost independently of the others, in any order."
    fn independent_ops(&self) -> bool {
        true
    }
}

/// ALICE's ext4 (`data=ordered`) model, OSDI'14 table 2, with the ext4 documentation's journal
/// (`Documentation/filesystems/ext4`: metadata is journaled by jbd2, whose transactions commit in
/// order; in `data=ordered` mode a transaction's data blocks are written before it commits):
///
/// - metadata operations persist in issue order among themselves: directory operations (create,
///   link, unlink, rmdir, mkdir, symlink, rename, exchange) and the inode changes `set_len` and
///   `set_mode` all go through the one journal, so the persisted subset of the pending ones is a
///   prefix of them, and a durable one makes every earlier one durable (an fsync commits the
///   whole running transaction);
/// - a renamed file's data persists before the rename ("safe rename", ext4's `auto_da_alloc`):
///   if a rename persisted, every earlier write to the renamed inode persisted (an exchange is
///   not covered: `auto_da_alloc` only detects the replace-via-rename pattern);
/// - other file data may be lost, reordered (an unsynced write to one file may be lost while a
///   later synced write to another persisted: ordered mode orders data before the metadata that
///   exposes it, not writes among themselves) or torn at block granularity across blocks, while
///   an overwrite within one block is atomic;
/// - an append never shows zeros (ordered mode writes data blocks before committing the new
///   size), unlike [`Posix`];
/// - fsync, fdatasync, fsync of a directory and syncfs cover what they cover under [`Posix`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Ext4Ordered;

impl Model for Ext4Ordered {
    fn name(&self) -> &'static str {
        "ext4-ordered"
    }
    fn summary(&self) -> &'static str {
        "ext4 data=ordered: directory operations in order, data before a rename of its file"
    }
    fn resolve(&self, trace: &[TraceOp]) -> Vec<Resolution> {
        let mut res = posix_resolutions(trace);
        // A durable metadata operation makes every earlier one durable (issue order).
        let mut earliest = usize::MAX;
        for j in (0..trace.len()).rev() {
            if !trace[j].is_metadata_op() {
                continue;
            }
            if res[j].kept && res[j].at < earliest {
                earliest = res[j].at;
            }
            if res[j] == Resolution::PENDING && earliest != usize::MAX {
                res[j] = Resolution::durable(earliest);
            } else if res[j].kept && res[j].at > earliest {
                res[j].at = earliest;
            }
        }
        // Safe rename: a durable rename makes the earlier writes to its inode durable.
        let mut writes: BTreeMap<Ino, Vec<usize>> = BTreeMap::new();
        for j in 0..trace.len() {
            match &trace[j] {
                TraceOp::Write { ino, .. } => writes.entry(*ino).or_default().push(j),
                TraceOp::Rename { ino, .. } if res[j].kept => {
                    for &w in writes.get(ino).into_iter().flatten() {
                        if res[w] == Resolution::PENDING || (res[w].kept && res[w].at > res[j].at) {
                            res[w] = Resolution::durable(res[j].at);
                        }
                    }
                }
                _ => {}
            }
        }
        res
    }
    fn variants(&self, op: &TraceOp, cx: &OpContext) -> Vec<Variant> {
        write_variants(op, cx, false)
    }
    fn close(&self, pending: &[PendingOp<'_>], choice: &mut [u16]) {
        // Metadata operations: once one is lost, every later one is lost.
        let mut lost = false;
        for (p, c) in pending.iter().zip(choice.iter_mut()) {
            if !p.op.is_metadata_op() {
                continue;
            }
            if lost {
                *c = p.position(&Variant::Lost).unwrap_or(*c);
            } else if !p.persists(*c) {
                lost = true;
            }
        }
        // Safe rename: a persisted rename brings every earlier write to its inode with it.
        for r in (0..pending.len()).rev() {
            let TraceOp::Rename { ino, .. } = pending[r].op else {
                continue;
            };
            if !pending[r].persists(choice[r]) {
                continue;
            }
            for w in 0..r {
                if matches!(pending[w].op, TraceOp::Write { ino: i, .. } if i == ino) {
                    choice[w] = 0;
                }
            }
        }
    }
}

/// The variants of a pending operation under the posix-like models: full or lost; a write that
/// spans several blocks may also tear; an append may persist as zeros when `zeros` is set.
///
/// Torn variants: every proper non-empty subset of the blocks when the write spans at most 4
/// blocks; past that (to keep the count linear), every proper prefix, every proper suffix and
/// every all-but-one-block subset.
pub fn write_variants(op: &TraceOp, cx: &OpContext, zeros: bool) -> Vec<Variant> {
    let mut out = vec![Variant::Full, Variant::Lost];
    let TraceOp::Write { offset, len, .. } = op else {
        return out;
    };
    if zeros && offset + len > cx.durable_len.unwrap_or(0) && *len > 0 {
        out.push(Variant::Zeros);
    }
    let blocks = blocks_touched(*offset, *len, cx.block_size.max(1)) as u32;
    if blocks >= 2 {
        let mut torn: BTreeSet<Vec<u32>> = BTreeSet::new();
        if blocks <= 4 {
            for mask in 1u32..(1 << blocks) - 1 {
                torn.insert((0..blocks).filter(|b| mask & (1 << b) != 0).collect());
            }
        } else {
            for i in 1..blocks {
                torn.insert((0..i).collect());
                torn.insert((i..blocks).collect());
            }
            for skip in 0..blocks {
                torn.insert((0..blocks).filter(|&b| b != skip).collect());
            }
        }
        out.extend(torn.into_iter().map(Variant::Torn));
    }
    out
}

/// Barrier coverage under [`Posix`] (see its doc): fsync covers the inode's earlier writes,
/// `set_len`s and `set_mode`s, fdatasync its writes and `set_len`s only (the size is needed to
/// read the data back; the mode is not, `fdatasync(2)`), fsync of a directory its earlier entry
/// operations (a rename or exchange once every directory it touches is synced), syncfs
/// everything; a failed sync drops what it would have covered.
pub fn posix_resolutions(trace: &[TraceOp]) -> Vec<Resolution> {
    let mut cover = Coverage {
        res: vec![Resolution::PENDING; trace.len()],
        ..Coverage::default()
    };
    for (j, op) in trace.iter().enumerate() {
        cover.step(j, op);
        if op.is_fsync_family() {
            cover.res[j] = Resolution::durable(j + 1);
        }
    }
    cover.res
}

/// The operations not yet covered by a barrier, by what covers them (see [`posix_resolutions`]).
#[derive(Default)]
struct Coverage {
    res: Vec<Resolution>,
    /// Writes and `set_len`s, by inode: covered by fsync and fdatasync.
    data: BTreeMap<Ino, Vec<usize>>,
    /// `set_mode`s, by inode: covered by fsync only.
    meta: BTreeMap<Ino, Vec<usize>>,
    /// Directory operations, by directory: covered by fsync of the directory.
    dirs: BTreeMap<Ino, Vec<usize>>,
    /// For a pending rename or exchange: the directories still to be synced after it.
    needs: BTreeMap<usize, Vec<Ino>>,
}

impl Coverage {
    fn step(&mut self, j: usize, op: &TraceOp) {
        let next = j + 1;
        match op {
            TraceOp::Write { ino, .. } | TraceOp::SetLen { ino, .. } => {
                self.data.entry(*ino).or_default().push(j)
            }
            TraceOp::SetMode { ino, .. } => self.meta.entry(*ino).or_default().push(j),
            TraceOp::Fsync { ino, .. } => {
                let done = self.take_file(*ino, true);
                self.settle(done, Resolution::durable(next));
            }
            TraceOp::Fdatasync { ino, .. } => {
                let done = self.take_file(*ino, false);
                self.settle(done, Resolution::durable(next));
            }
            TraceOp::FsyncDir { ino, .. } => self.sync_dir(*ino, next),
            TraceOp::Syncfs => {
                let all = self.take_all();
                self.settle(all, Resolution::durable(next));
            }
            TraceOp::FailedFsync { call, ino, .. } => {
                let dropped = match call {
                    SyncCall::Fsync => self.take_file(*ino, true),
                    SyncCall::Fdatasync => self.take_file(*ino, false),
                    SyncCall::FsyncDir => self.dirs.remove(ino).unwrap_or_default(),
                    SyncCall::Syncfs => self.take_all(),
                };
                self.settle(dropped, Resolution::dropped(next));
            }
            _ => {
                let dirs = op.dirs();
                for d in &dirs {
                    self.dirs.entry(*d).or_default().push(j);
                }
                if matches!(op, TraceOp::Rename { .. } | TraceOp::Exchange { .. }) {
                    self.needs.insert(j, dirs);
                }
            }
        }
    }

    /// Removes and returns what a sync of file `ino` covers (its mode changes with `fsync`).
    fn take_file(&mut self, ino: Ino, with_meta: bool) -> Vec<usize> {
        let mut out = self.data.remove(&ino).unwrap_or_default();
        if with_meta {
            out.extend(self.meta.remove(&ino).unwrap_or_default());
        }
        out
    }

    fn take_all(&mut self) -> Vec<usize> {
        let all = self
            .data
            .values()
            .chain(self.meta.values())
            .chain(self.dirs.values())
            .flatten()
            .copied()
            .collect();
        self.data.clear();
        self.meta.clear();
        self.dirs.clear();
        all
    }

    /// Marks every still pending operation of `ops` as `resolution`.
    fn settle(&mut self, ops: Vec<usize>, resolution: Resolution) {
        for e in ops {
            if self.res[e] == Resolution::PENDING {
                self.res[e] = resolution;
            }
        }
    }

    /// fsync of directory `dir`: its entry operations are durable, a rename or exchange once the
    /// last directory it touches is synced.
    fn sync_dir(&mut self, dir: Ino, next: usize) {
        for e in self.dirs.remove(&dir).unwrap_or_default() {
            if self.res[e] != Resolution::PENDING {
                continue;
            }
            match self.needs.get_mut(&e) {
                Some(needs) => {
                    needs.retain(|d| *d != dir);
                    if needs.is_empty() {
                        self.res[e] = Resolution::durable(next);
                    }
                }
                None => self.res[e] = Resolution::durable(next),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Fs;
    use crate::path::RelPath;
    use crate::sim::{states_at, Bounds, Image, Node, SimFs};
    use std::sync::Arc;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    /// The contents of `path` in every state `model` allows at the end of `fs`'s trace.
    fn outcomes(model: &dyn Model, base: &Image, fs: &SimFs, path: &str) -> BTreeSet<String> {
        let trace = fs.trace();
        let states = states_at(model, base, &trace, trace.len(), &Bounds::default(), 4);
        states
            .iter()
            .map(|img| match img.get(&p(path)) {
                Some(Node::File(d)) => String::from_utf8_lossy(&d).into_owned(),
                Some(other) => format!("{other:?}"),
                None => "absent".into(),
            })
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn base() -> Image {
        let mut img = Image::new();
        img.put_file(&p("d/old"), b"old");
        img
    }

    #[test]
    fn posix_loses_a_write_that_was_not_fsynced_but_not_one_that_was() {
        let fs = SimFs::from_image(&base());
        let mut f = fs.open_read(&p("d/old")).unwrap();
        drop(f);
        f = fs.create_new(&p("d/new")).unwrap();
        fs.fsync_dir(&p("d")).unwrap();
        fs.write_at(&mut f, 0, b"abcdefgh").unwrap();
        let got = outcomes(&Posix, &base(), &fs, "d/new");
        // Lost, whole, as zeros, or torn at 4-byte blocks.
        assert_eq!(
            got,
            set(&["", "abcdefgh", "\0\0\0\0\0\0\0\0", "abcd", "\0\0\0\0efgh"])
        );
        fs.fsync(&mut f).unwrap();
        assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&["abcdefgh"]));
        assert_eq!(outcomes(&Prefix, &base(), &fs, "d/new"), set(&["abcdefgh"]));
    }

    #[test]
    fn posix_loses_a_create_until_its_directory_is_fsynced() {
        let fs = SimFs::from_image(&base());
        let mut f = fs.create_new(&p("d/new")).unwrap();
        fs.write_at(&mut f, 0, b"x").unwrap();
        fs.fsync(&mut f).unwrap();
        // fsync of the file does not make its directory entry durable.
        assert_eq!(
            outcomes(&Posix, &base(), &fs, "d/new"),
            set(&["absent", "x"])
        );
        fs.fsync_dir(&p("d")).unwrap();
        assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&["x"]));
    }

    #[test]
    fn prefix_loses_nothing() {
        let fs = SimFs::from_image(&base());
        let mut f = fs.create_new(&p("d/new")).unwrap();
        fs.write_at(&mut f, 0, b"x").unwrap();
        fs.rename(&p("d/new"), &p("d/old")).unwrap();
        let trace = fs.trace();
        for cp in 0..=trace.len() {
            let states = states_at(&Prefix, &base(), &trace, cp, &Bounds::default(), 4096);
            assert_eq!(states.len(), 1, "one state per crash point");
        }
        assert_eq!(outcomes(&Prefix, &base(), &fs, "d/old"), set(&["x"]));
    }

    #[test]
    fn a_rename_is_atomic_and_needs_both_directories_synced() {
        let mut img = base();
        img.put_dir(&p("e"));
        let fs = SimFs::from_image(&img);
        fs.rename(&p("d/old"), &p("e/moved")).unwrap();
        fs.fsync_dir(&p("d")).unwrap();
        let trace = fs.trace();
        let states = states_at(&Posix, &img, &trace, trace.len(), &Bounds::default(), 4096);
        let shapes: BTreeSet<(bool, bool)> = states
            .iter()
            .map(|s| (s.get(&p("d/old")).is_some(), s.get(&p("e/moved")).is_some()))
            .collect();
        assert_eq!(shapes, [(false, true), (true, false)].into_iter().collect());
        fs.fsync_dir(&p("e")).unwrap();
        let trace = fs.trace();
        let states = states_at(&Posix, &img, &trace, trace.len(), &Bounds::default(), 4096);
        assert_eq!(states.len(), 1);
    }

    #[test]
    fn a_failed_fsync_drops_the_data_for_good() {
        let fs = SimFs::from_image(&base());
        let mut f = fs.create_new(&p("d/new")).unwrap();
        fs.fsync_dir(&p("d")).unwrap();
        fs.write_at(&mut f, 0, b"x").unwrap();
        fs.set_fault(Some(crate::sim::Fault {
            at: 3,
            kind: crate::sim::FaultKind::Eio,
        }));
        assert!(fs.fsync(&mut f).is_err());
        fs.fsync(&mut f).unwrap();
        assert_eq!(outcomes(&Posix, &base(), &fs, "d/new"), set(&[""]));
        assert_eq!(
            fs.image().get(&p("d/new")),
            Some(Node::File(Arc::new(b"x".to_vec())))
        );
    }

    #[test]
    fn ext4_keeps_directory_operations_in_order_and_renames_safe() {
        let fs = SimFs::from_image(&base());
        let mut f = fs.create_new(&p("d/t")).unwrap();
        fs.write_at(&mut f, 0, b"new").unwrap();
        fs.rename(&p("d/t"), &p("d/old")).unwrap();
        fs.create_new(&p("d/later")).unwrap();
        let trace = fs.trace();
        let states = states_at(
            &Ext4Ordered,
            &base(),
            &trace,
            trace.len(),
            &Bounds::default(),
            4,
        );
        for s in &states {
            let old = s.get(&p("d/old"));
            // Safe rename: the renamed file never shows up empty.
            assert!(
                old == Some(Node::File(Arc::new(b"old".to_vec())))
                    || old == Some(Node::File(Arc::new(b"new".to_vec()))),
                "{s:?}"
            );
            // In order: `later` persisted implies the rename persisted.
            if s.get(&p("d/later")).is_some() {
                assert_eq!(old, Some(Node::File(Arc::new(b"new".to_vec()))));
            }
        }
        assert_eq!(
            outcomes(&Ext4Ordered, &base(), &fs, "d/old"),
            set(&["new", "old"])
        );
        // Posix has neither rule: the rename may persist without the data.
        assert!(outcomes(&Posix, &base(), &fs, "d/old").contains(""));
    }

    #[test]
    fn models_are_found_by_name() {
        let names: Vec<&str> = all_models().iter().map(|m| m.name()).collect();
        assert_eq!(names, ["prefix", "ext4-ordered", "posix"]);
        assert_eq!(model_by_name("posix").unwrap().name(), "posix");
        assert!(model_by_name("ext3").is_none());
    }

    /// A durable image holding `path` with `data`.
    fn with_file(path: &str, data: &[u8]) -> Image {
        let mut img = Image::new();
        img.put_dir(&p("d"));
        img.put_file(&p(path), data);
        img
    }

    /// Runs `ops` on a `SimFs` over `base`, returning it for [`outcomes`].
    fn run(base: &Image, ops: impl FnOnce(&SimFs)) -> SimFs {
        let fs = SimFs::from_image(base);
        ops(&fs);
        fs
    }

    /// The modes `path` may have after a crash at the end of the trace.
    fn modes(model: &dyn Model, base: &Image, fs: &SimFs, path: &str) -> BTreeSet<String> {
        let trace = fs.trace();
        states_at(model, base, &trace, trace.len(), &Bounds::default(), 4)
            .iter()
            .map(|img| {
                img.mode(&p(path))
                    .map_or("absent".into(), |m| m.to_string())
            })
            .collect()
    }

    #[test]
    fn an_overwrite_within_one_block_is_atomic_and_across_blocks_tears() {
        let base = with_file("d/f", b"abcdefgh");
        let one = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.write_at(&mut f, 4, b"WXYZ").unwrap();
        });
        let two = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.write_at(&mut f, 2, b"WXYZ").unwrap();
        });
        for model in [&Posix as &dyn Model, &Ext4Ordered] {
            assert_eq!(
                outcomes(model, &base, &one, "d/f"),
                set(&["abcdWXYZ", "abcdefgh"]),
                "{}",
                model.name()
            );
            assert_eq!(
                outcomes(model, &base, &two, "d/f"),
                set(&["abWXYZgh", "abWXefgh", "abcdYZgh", "abcdefgh"]),
                "{}",
                model.name()
            );
        }
        assert_eq!(outcomes(&Prefix, &base, &two, "d/f"), set(&["abWXYZgh"]));
    }

    #[test]
    fn an_append_may_show_zeros_under_posix_never_under_ext4_ordered() {
        let base = with_file("d/log", b"abcd");
        let fs = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/log")).unwrap();
            fs.write_at(&mut f, 4, b"efgh").unwrap();
        });
        assert_eq!(
            outcomes(&Posix, &base, &fs, "d/log"),
            set(&["abcd", "abcdefgh", "abcd\0\0\0\0"])
        );
        assert_eq!(
            outcomes(&Ext4Ordered, &base, &fs, "d/log"),
            set(&["abcd", "abcdefgh"])
        );
        let synced = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/log")).unwrap();
            fs.write_at(&mut f, 4, b"efgh").unwrap();
            fs.fdatasync(&mut f).unwrap();
        });
        for model in all_models() {
            assert_eq!(
                outcomes(model.as_ref(), &base, &synced, "d/log"),
                set(&["abcdefgh"])
            );
        }
    }

    #[test]
    fn set_len_shrinks_or_grows_atomically_and_fdatasync_makes_it_durable() {
        let base = with_file("d/f", b"abcdefgh");
        let shrink = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.set_len(&mut f, 3).unwrap();
        });
        let grow = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.set_len(&mut f, 10).unwrap();
        });
        let synced = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.set_len(&mut f, 3).unwrap();
            fs.fdatasync(&mut f).unwrap();
        });
        for model in [&Posix as &dyn Model, &Ext4Ordered] {
            assert_eq!(
                outcomes(model, &base, &shrink, "d/f"),
                set(&["abc", "abcdefgh"])
            );
            assert_eq!(
                outcomes(model, &base, &grow, "d/f"),
                set(&["abcdefgh", "abcdefgh\0\0"])
            );
            assert_eq!(outcomes(model, &base, &synced, "d/f"), set(&["abc"]));
        }
    }

    #[test]
    fn link_and_rmdir_are_directory_operations_covered_by_fsync_of_the_directory() {
        let mut base = with_file("d/f", b"x");
        base.put_dir(&p("d/sub"));
        let unsynced = run(&base, |fs| {
            fs.link(&p("d/f"), &p("d/g")).unwrap();
            fs.rmdir(&p("d/sub")).unwrap();
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.fsync(&mut f).unwrap(); // a file's fsync does not cover its names
        });
        let synced = run(&base, |fs| {
            fs.link(&p("d/f"), &p("d/g")).unwrap();
            fs.rmdir(&p("d/sub")).unwrap();
            fs.fsync_dir(&p("d")).unwrap();
        });
        assert_eq!(
            outcomes(&Posix, &base, &unsynced, "d/g"),
            set(&["absent", "x"])
        );
        assert_eq!(
            outcomes(&Posix, &base, &unsynced, "d/sub"),
            set(&["Dir", "absent"])
        );
        for model in all_models() {
            let m = model.as_ref();
            assert_eq!(outcomes(m, &base, &synced, "d/g"), set(&["x"]));
            assert_eq!(outcomes(m, &base, &synced, "d/sub"), set(&["absent"]));
        }
        // ext4-ordered: the rmdir persisted only with the earlier link.
        let trace = unsynced.trace();
        for s in states_at(
            &Ext4Ordered,
            &base,
            &trace,
            trace.len(),
            &Bounds::default(),
            4,
        ) {
            if s.get(&p("d/sub")).is_none() {
                assert!(s.get(&p("d/g")).is_some(), "{s:?}");
            }
        }
    }

    #[test]
    fn set_mode_is_inode_metadata_covered_by_fsync_not_fdatasync() {
        let base = with_file("d/f", b"x");
        let with = |sync: fn(&SimFs, &mut crate::sim::SimFile)| {
            run(&base, move |fs| {
                let mut f = fs.open_write(&p("d/f")).unwrap();
                fs.set_mode(&mut f, crate::fs::FileMode::new(0o600).unwrap())
                    .unwrap();
                sync(fs, &mut f);
            })
        };
        let datasynced = with(|fs, f| fs.fdatasync(f).unwrap());
        let synced = with(|fs, f| fs.fsync(f).unwrap());
        for model in [&Posix as &dyn Model, &Ext4Ordered] {
            assert_eq!(
                modes(model, &base, &datasynced, "d/f"),
                set(&["0600", "0644"]),
                "{}",
                model.name()
            );
            assert_eq!(modes(model, &base, &synced, "d/f"), set(&["0600"]));
        }
    }

    #[test]
    fn an_unsynced_write_to_one_file_may_be_lost_while_a_later_synced_one_to_another_is_not() {
        let mut base = with_file("d/a", b"a0");
        base.put_file(&p("d/b"), b"b0");
        let fs = run(&base, |fs| {
            let mut a = fs.open_write(&p("d/a")).unwrap();
            fs.write_at(&mut a, 0, b"a1").unwrap();
            let mut b = fs.open_write(&p("d/b")).unwrap();
            fs.write_at(&mut b, 0, b"b1").unwrap();
            fs.fsync(&mut b).unwrap();
        });
        let trace = fs.trace();
        let pairs = |model: &dyn Model| -> BTreeSet<(Option<Node>, Option<Node>)> {
            states_at(model, &base, &trace, trace.len(), &Bounds::default(), 4)
                .iter()
                .map(|s| (s.get(&p("d/a")), s.get(&p("d/b"))))
                .collect()
        };
        let file = |s: &[u8]| Some(Node::File(Arc::new(s.to_vec())));
        for model in [&Posix as &dyn Model, &Ext4Ordered] {
            let got = pairs(model);
            assert!(
                got.contains(&(file(b"a0"), file(b"b1"))),
                "{}",
                model.name()
            );
            assert!(
                got.iter().all(|(_, b)| *b == file(b"b1")),
                "{}",
                model.name()
            );
        }
        assert_eq!(
            pairs(&Prefix),
            [(file(b"a1"), file(b"b1"))].into_iter().collect()
        );
    }

    #[test]
    fn ext4_orders_set_len_and_set_mode_with_directory_operations() {
        let base = with_file("d/f", b"abcdefgh");
        let fs = run(&base, |fs| {
            let mut f = fs.open_write(&p("d/f")).unwrap();
            fs.set_len(&mut f, 2).unwrap();
            fs.mkdir(&p("d/m")).unwrap();
            fs.fsync_dir(&p("d")).unwrap();
        });
        // ext4: the mkdir is durable, so the earlier truncate (same journal) is too.
        assert_eq!(outcomes(&Ext4Ordered, &base, &fs, "d/f"), set(&["ab"]));
        // posix: the truncate was never synced.
        assert_eq!(
            outcomes(&Posix, &base, &fs, "d/f"),
            set(&["ab", "abcdefgh"])
        );
    }

    #[test]
    fn an_exchange_is_atomic_and_needs_both_directories_synced() {
        let mut base = with_file("d/a", b"A");
        base.put_file(&p("e/b"), b"B");
        let half = run(&base, |fs| {
            fs.rename_with(&p("d/a"), &p("e/b"), crate::fs::RenameFlags::EXCHANGE)
                .unwrap();
            fs.fsync_dir(&p("d")).unwrap();
        });
        let trace = half.trace();
        let pairs: BTreeSet<(Option<Node>, Option<Node>)> =
            states_at(&Posix, &base, &trace, trace.len(), &Bounds::default(), 4)
                .iter()
                .map(|s| (s.get(&p("d/a")), s.get(&p("e/b"))))
                .collect();
        let file = |s: &[u8]| Some(Node::File(Arc::new(s.to_vec())));
        assert_eq!(
            pairs,
            [(file(b"A"), file(b"B")), (file(b"B"), file(b"A"))]
                .into_iter()
                .collect(),
            "both names or neither: never one inode under two names"
        );
    }
}
