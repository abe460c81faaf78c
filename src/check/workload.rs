//! Journal workloads: transactions run through the journal on the simulated filesystem, as a
//! [`Subject`] the explorer can crash at every operation.
//!
//! A workload is data (serializable), so that a generated one can travel inside a replay token:
//! its name is either a built-in suite name or `gen-` followed by the hex of its postcard encoding.

use super::known_bad::KnownBad;
use super::oracle::{self, JournalAck, PlannedUpdate};
use crate::journal::{
    Journal, JournalError, JournalOptions, Source, Standard, Steps, SyncMode, Update,
};
use crate::path::RelPath;
use crate::sim::{
    AckLog, CheckContext, Factoring, Image, Node, PathSet, SimFs, Subject, UnreadFilesFn, Violation,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One update of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSpec {
    /// The target, relative to the root.
    pub target: RelPath,
    /// The new content; `None` deletes the target.
    pub new: Option<Vec<u8>>,
    /// How the new content reaches the journal (ignored for a deletion).
    pub via: Delivery,
    /// An increment: its path and content.
    pub increment: Option<(RelPath, Vec<u8>)>,
}

/// How an update's new content reaches the journal. The oracle knows the bytes from the spec
/// whichever way they travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Delivery {
    /// [`Update::write`]: bytes in memory, whose digest the entry records.
    #[default]
    Bytes,
    /// [`Update::stream`]: a reader yielding at most one 4 KiB block per read, so a content
    /// larger than a block takes several writes; the entry records the new content as unknown
    /// and recovery decides from the old content alone.
    Stream,
    /// [`Update::copy_from`]: a host file the workload writes, outside the simulated
    /// filesystem, before the commit and removes after it (see [`HostFile`]).
    HostFile,
}

/// What a workload does when a commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OnFailure {
    /// Stop: the failed transaction stays uncertain for the oracle.
    #[default]
    Stop,
    /// Do what `JournalError::Poisoned` tells a caller: reopen the journal on the same
    /// filesystem, run recovery, and, if it recovered everything, go on with the remaining
    /// transactions. The outcome recovery chose for the failed transaction (read from the live
    /// view once it returned) is then settled: a later crash must not undo it.
    ReopenAndRecover,
}

/// One transaction: a single update, or a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnSpec {
    /// The updates.
    pub updates: Vec<UpdateSpec>,
    /// All-or-nothing.
    pub atomic: bool,
}

/// How the journal is configured for a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SyncSpec {
    /// fsync per file and directory.
    #[default]
    PerFile,
    /// syncfs per step.
    Syncfs,
}

/// A journal workload: the files present before it, then its transactions in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Directories present before the workload (parents are created as needed).
    pub dirs: Vec<RelPath>,
    /// Files present before the workload.
    pub files: Vec<(RelPath, Vec<u8>)>,
    /// The transactions, committed one after the other; what a failed commit leads to is
    /// [`Workload::on_failure`].
    pub txns: Vec<TxnSpec>,
    /// How the journal syncs.
    pub sync: SyncSpec,
    /// What happens after a failed commit.
    pub on_failure: OnFailure,
}

/// A workload run through the journal, or through a known-bad protocol: the explorer's subject.
#[derive(Debug, Clone)]
pub struct JournalSubject {
    /// The name the suite and replay tokens know it by.
    pub name: String,
    /// What it does.
    pub workload: Workload,
    /// A known-bad protocol, for the self-test; `None`: the journal's own.
    pub known_bad: Option<KnownBad>,
}

/// Where the workloads keep their journal.
pub fn journal_dir() -> RelPath {
    RelPath::new(crate::journal::DEFAULT_JOURNAL_DIR).expect("the default is a plain path")
}

impl Workload {
    /// The name of a generated workload: `gen-` and the hex of its encoding.
    pub fn generated_name(&self) -> String {
        let bytes = postcard::to_allocvec(self).expect("a workload always encodes");
        let mut name = String::from("gen-");
        for b in bytes {
            name.push_str(&format!("{b:02x}"));
        }
        name
    }

    /// Decodes a [`Workload::generated_name`].
    pub fn from_generated_name(name: &str) -> Option<Workload> {
        let hex = name.strip_prefix("gen-")?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        postcard::from_bytes(&bytes).ok()
    }

    /// How many updates the workload commits.
    pub fn update_count(&self) -> usize {
        self.txns.iter().map(|t| t.updates.len()).sum()
    }

    fn options(&self) -> JournalOptions {
        let sync = match self.sync {
            SyncSpec::PerFile => SyncMode::PerFile,
            SyncSpec::Syncfs => SyncMode::Syncfs,
        };
        JournalOptions { sync }
    }
}

impl JournalSubject {
    /// Runs the journal's recovery, configured as this subject's, on any filesystem (the
    /// simulator's, or a real directory holding a crash state). A refused entry is an error.
    pub fn recover_on<F: crate::fs::Fs>(&self, fs: F) -> Result<(), String> {
        match self.known_bad {
            None => self.recover_with(fs, Standard),
            Some(known_bad) => self.recover_with(fs, known_bad),
        }
    }

    fn recover_with<F: crate::fs::Fs, S: Steps>(&self, fs: F, steps: S) -> Result<(), String> {
        let mut journal = open(fs, self.workload.options(), steps)
            .map_err(|e| format!("opening the journal: {e}"))?;
        let report = journal
            .recover()
            .map_err(|e| format!("recovery failed: {e}"))?;
        if let Some((name, why)) = report.refused.first() {
            return Err(format!("recovery refused entry {name}: {why}"));
        }
        Ok(())
    }

    /// Runs the workload through a journal carrying out its steps as `steps` says.
    fn run_with<S: Steps + Copy>(&self, fs: &SimFs, acks: &mut AckLog<JournalAck>, steps: S) {
        let options = self.workload.options();
        let Ok(mut journal) = open(fs, options, steps) else {
            return;
        };
        for (index, txn) in self.workload.txns.iter().enumerate() {
            acks.push(fs.op_count(), begin(&fs.image(), index, txn));
            match commit(&mut journal, txn) {
                Ok(()) => acks.push(fs.op_count(), JournalAck::Committed { txn: index }),
                Err(_) if self.workload.on_failure == OnFailure::ReopenAndRecover => {
                    match reopen_and_recover(fs, options, steps) {
                        Some(reopened) => journal = reopened,
                        None => return,
                    }
                    let live = fs.image();
                    let found = txn
                        .updates
                        .iter()
                        .map(|u| file_content(&live, &u.target))
                        .collect();
                    acks.push(fs.op_count(), JournalAck::Recovered { txn: index, found });
                }
                Err(_) => return,
            }
        }
    }
}

/// Opens the workloads' journal on `fs`, without waiting for a lock.
fn open<F: crate::fs::Fs, S: Steps>(
    fs: F,
    options: JournalOptions,
    steps: S,
) -> Result<Journal<F, S>, JournalError> {
    Journal::open_with_steps(fs, journal_dir(), options, Duration::ZERO, steps)
}

impl Subject for JournalSubject {
    type Ack = JournalAck;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn setup(&self) -> Image {
        let mut image = Image::new();
        for d in &self.workload.dirs {
            image.put_dir(d);
        }
        for (path, bytes) in &self.workload.files {
            image.put_file(path, bytes);
        }
        image
    }

    fn run(&self, fs: &SimFs, acks: &mut AckLog<JournalAck>) {
        match self.known_bad {
            None => self.run_with(fs, acks, Standard),
            Some(known_bad) => self.run_with(fs, acks, known_bad),
        }
    }

    fn recover(&self, fs: &SimFs) -> Result<(), String> {
        self.recover_on(fs)
    }

    fn check(&self, ctx: &CheckContext<'_, JournalAck>) -> Vec<Violation> {
        oracle::check(ctx.setup, ctx.recovered, ctx.acks, &journal_dir())
    }

    /// The oracle reads the setup, the recovered image and the acks only.
    fn check_reads_crashed(&self) -> bool {
        false
    }

    /// One factor per update ([`Workload::factoring`]), an atomic batch's an agreement group;
    /// for a known-bad protocol an atomic batch is one factor: its recovery may decide the
    /// batch from what it sees of every update (one rolls forward without a commit record).
    fn factoring(&self) -> Option<Factoring> {
        let batches = match self.known_bad {
            None => AtomicBatch::FactorPerUpdate,
            Some(_) => AtomicBatch::OneFactor,
        };
        self.workload.factoring(batches)
    }

    /// The temp files and increments of an atomic batch that must roll back
    /// ([`Workload::unread_files`], from the workload's [`UnreadPlan`] made once), for the
    /// journal's own recovery only: a known-bad one may read them (one rolls forward without a
    /// commit record).
    fn unread_files(&self) -> UnreadFilesFn<'_> {
        match self.known_bad {
            None => {
                let plan = UnreadPlan::new(&self.workload);
                Box::new(move |image| plan.unread_files(image))
            }
            Some(_) => Box::new(|_| Vec::new()),
        }
    }
}

impl Workload {
    /// The workload's independent factors ([`crate::sim::factor`]): each update is a factor
    /// of its target, its increment and the names the journal and its recovery give that
    /// update beside them (`.crashsafe-<seq>-<index>.tmp`, `.inc` beside the increment, and
    /// `.rec`); updates sharing any of those are one factor. The updates of an atomic batch
    /// form one agreement group ([`AtomicBatch::FactorPerUpdate`]), or the batch is one factor
    /// ([`AtomicBatch::OneFactor`], or an update that may leave its target's content as it
    /// was, see below). Everything else (the journal directory and its entries and
    /// floors, the directories) is shared. `None` where the argument below does not hold: a
    /// target, increment or directory of them that the setup does not have as it needs, or a
    /// path under the journal.
    ///
    /// Why the journal keeps the promise (see `src/journal/recover.rs` for the rules):
    /// recovery reads the journal directory (shared), then for each update of an entry observes
    /// its target, temp, increment, increment temp and scratch names (the update's factor) and
    /// the target's directory (shared, from the setup), and decides *done* from those alone for
    /// a non-atomic entry; what it does for the update (rewrite through the scratch name, unlink
    /// the temp, the increment, leftovers) touches that factor's names only; the directory
    /// fsyncs and the entry removals touch shared paths and happen alike whatever each update's
    /// verdict. An entry is refused (a `recovery-error`) for what one path of it shows, which
    /// that path's factor alone shows. The oracle judges each target and increment from its own
    /// content and the acks, the journal directory from its entries, and every other path from
    /// its own content, each violation naming the path it is about.
    ///
    /// An atomic batch is decided once: it rolls forward if its commit record exists (a shared
    /// path) or one of its targets is *switched* (`recover::rolls_forward`), and each update's
    /// actions depend on that decision and its own factor. Promise 3 of `crate::sim::factor`
    /// ("Agreement groups") holds: the decision is told by the shared part and by any one
    /// update's part. A target is switched only once the record is durable: the commit
    /// switches after the commit point's barrier, and recovery, before it changes any target,
    /// rewrites the record it sees with operations of its own and fsyncs the journal directory
    /// (it may see a record the disk never kept, after a process crash or a failed fsync in the
    /// commit point). So a state with the intent and without the record has no target switched
    /// (before the commit point, or rolled back), or is a retired batch whose intent came back
    /// without its record (recovery and the commit make every switch durable before they unlink
    /// the two, which then reach the disk in either order; and a later transaction changes
    /// nothing before the journal directory's fsync makes the unlinks durable, see
    /// `commit::JournalDirPending`): every target switched. Either way
    /// each update's own target tells which, unless its new content is one its target held
    /// before: such a batch is one factor. A batch rolled forward without a violation has every
    /// target switched, one rolled back none. `batch-atomic` is the group's agreement
    /// violation: each update's outcome (its target stands or not) is read from its own
    /// target. `check::suite`'s tests check the claim in every state explored of small atomic
    /// batches (`tests/decision.rs`) and compare the full and the reduced exploration on them,
    /// with crashes inside recovery, process crashes and injected errors. A known-bad
    /// protocol's recovery may decide the batch from every update (one rolls forward on the
    /// temps it finds), so for it the batch is one factor.
    pub fn factoring(&self, batches: AtomicBatch) -> Option<Factoring> {
        let mut setup = Image::new();
        for d in &self.dirs {
            setup.put_dir(d);
        }
        for (path, bytes) in &self.files {
            setup.put_file(path, bytes);
        }
        let mut groups = Vec::new();
        let mut exact = Vec::new();
        let mut had = ContentsHad::new(self);
        for txn in &self.txns {
            let mut batch = Vec::new();
            let one_factor = batches == AtomicBatch::OneFactor || had.may_keep_a_content(txn);
            for (index, u) in txn.updates.iter().enumerate() {
                let group = update_paths(&setup, index, u, &mut exact)?;
                if txn.atomic && one_factor {
                    batch.extend(group);
                } else {
                    groups.push(group);
                }
            }
            if !batch.is_empty() {
                groups.push(batch);
            }
        }
        // A name both exact and matched by a journal name would belong to two factors.
        let named = |p: &RelPath| p.file_name().is_some_and(|n| n.starts_with(".crashsafe-"));
        if exact.iter().any(named) {
            return None;
        }
        Some(Factoring::new(groups))
    }
}

/// The paths of update `index` of a transaction, `u`, for [`Workload::factoring`]: its target
/// and increment (added to `exact` too) and the journal's names beside each; `None` if one of
/// them, or its directory, is not as the setup `setup` must have it.
fn update_paths(
    setup: &Image,
    index: usize,
    u: &UpdateSpec,
    exact: &mut Vec<RelPath>,
) -> Option<Vec<PathSet>> {
    let journal = journal_dir();
    let names = |dir: &RelPath, ext: &str| PathSet::Names {
        dir: dir.clone(),
        prefix: ".crashsafe-".to_string(),
        suffix: format!("-{index}.{ext}"),
    };
    let mut group = Vec::new();
    for path in std::iter::once(&u.target).chain(u.increment.as_ref().map(|i| &i.0)) {
        let dir = path.parent()?;
        let fits = matches!(setup.get(&dir), Some(Node::Dir))
            && !matches!(setup.get(path), Some(Node::Dir | Node::Symlink(_)))
            && !path.starts_with(&journal);
        if !fits {
            return None;
        }
        exact.push(path.clone());
        group.push(PathSet::Path(path.clone()));
        group.push(names(&dir, "rec"));
        if path == &u.target {
            group.push(names(&dir, "tmp"));
        } else {
            // The increment's temp name (`journal::commit::Shape::IntentWithData`).
            group.push(names(&dir, "inc"));
        }
    }
    Some(group)
}

/// Every content each path of a workload may hold when a transaction starts: its setup content
/// (or none), and each content an earlier update gave it, whether that update committed or not.
struct ContentsHad<'w> {
    had: BTreeMap<&'w RelPath, BTreeSet<Option<&'w [u8]>>>,
}

impl<'w> ContentsHad<'w> {
    /// The setup's contents.
    fn new(w: &'w Workload) -> Self {
        let mut had: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for (path, bytes) in &w.files {
            had.entry(path).or_default().insert(Some(bytes.as_slice()));
        }
        ContentsHad { had }
    }

    /// Whether an update of the atomic transaction `txn` may give its target a content it
    /// already holds (then no target shows which side of the commit point the batch is on, and
    /// recovery decides it from every update: see [`Workload::factoring`]); then records
    /// `txn`'s contents. A streamed content counts as unknown, unequal to any.
    fn may_keep_a_content(&mut self, txn: &'w TxnSpec) -> bool {
        let mut may = false;
        for u in &txn.updates {
            let had = self.had.entry(&u.target).or_default();
            may |= match (&u.new, u.via) {
                (None, _) => had.is_empty() || had.contains(&None),
                (Some(_), Delivery::Stream) => false,
                (Some(new), _) => had.contains(&Some(new.as_slice())),
            };
            had.insert(u.new.as_deref());
        }
        txn.atomic && may
    }
}

/// How [`Workload::factoring`] declares an atomic batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomicBatch {
    /// One factor per update, the batch's factors an agreement group: the journal's own
    /// recovery.
    FactorPerUpdate,
    /// The whole batch one factor: a recovery that may decide the batch from every update.
    OneFactor,
}

impl Workload {
    /// In a workload of one atomic batch that changes some target, and in a crash image where
    /// the journal directory holds no commit record and every target still holds its content
    /// from the setup: the batch's temp files (`.crashsafe-<seq>-<index>.tmp` beside each
    /// target) and increments. Nothing otherwise.
    ///
    /// Why recovery and the oracle never read their bytes there (see `src/journal/recover.rs`):
    /// the intent was written while the targets held their setup content, which is its *old*
    /// content (no other transaction touches them), and some update changes its target, so
    /// recovery judges the batch as a whole: it rolls forward only with a commit record (a
    /// `<seq>.commit` file) or a target that no longer holds its old content, and there is
    /// neither. Rolling back, it reads the targets, `stat`s each temp, increment and scratch
    /// name for its kind, unlinks the temps and increments (kept for an update judged done
    /// only, and none is), and never opens them; without a readable intent the temps are
    /// orphans, removed by name. Neither does it create a commit record or change a target, so
    /// every crash state inside it is again such an image, where the temps and increments still
    /// there are named again. A recovery that succeeds removes them all, so the recovered
    /// images are equal and so are the oracle's verdicts; one that fails, fails for what the
    /// journal directory or a target shows.
    pub fn unread_files(&self, image: &Image) -> Vec<RelPath> {
        UnreadPlan::new(self).unread_files(image)
    }
}

/// What [`Workload::unread_files`] needs from the workload alone, worked out once: whether it
/// is one atomic batch that changes some target, its increments, and its targets by directory
/// with their content in the setup. It is then asked for every crash state the explorer builds.
pub struct UnreadPlan<'w> {
    /// `None` unless the workload is one atomic batch that changes some target.
    batch: Option<BatchPlan<'w>>,
}

/// [`UnreadPlan`] of one atomic batch that changes some target.
struct BatchPlan<'w> {
    journal: RelPath,
    increments: Vec<RelPath>,
    /// Each directory holding a target, in order, with its targets.
    dirs: Vec<TargetDir<'w>>,
}

/// The targets of an atomic batch in one directory.
struct TargetDir<'w> {
    dir: RelPath,
    /// Each target's name and its content in the setup (`None`: the setup has no such file).
    targets: Vec<(&'w str, Option<&'w [u8]>)>,
    /// The indexes of the updates whose target is here.
    indexes: Vec<usize>,
}

impl<'w> UnreadPlan<'w> {
    /// The plan of `workload`.
    pub fn new(workload: &'w Workload) -> UnreadPlan<'w> {
        let [txn] = workload.txns.as_slice() else {
            return UnreadPlan { batch: None };
        };
        let setup: BTreeMap<&str, &[u8]> = workload
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let held = |path: &RelPath| setup.get(path.as_str()).copied();
        let changes = txn
            .updates
            .iter()
            .any(|u| u.new.as_deref() != held(&u.target));
        if !txn.atomic || !changes {
            return UnreadPlan { batch: None };
        }
        let mut dirs: BTreeMap<&str, TargetDir<'w>> = BTreeMap::new();
        for (index, u) in txn.updates.iter().enumerate() {
            let (Some(dir), Some(name)) = (u.target.parent_str(), u.target.file_name()) else {
                continue;
            };
            let here = dirs.entry(dir).or_insert_with(|| TargetDir {
                dir: u.target.parent().expect("a path with a parent string"),
                targets: Vec::new(),
                indexes: Vec::new(),
            });
            here.targets.push((name, held(&u.target)));
            here.indexes.push(index);
        }
        UnreadPlan {
            batch: Some(BatchPlan {
                journal: journal_dir(),
                increments: txn
                    .updates
                    .iter()
                    .filter_map(|u| u.increment.as_ref().map(|(path, _)| path.clone()))
                    .collect(),
                dirs: dirs.into_values().collect(),
            }),
        }
    }

    /// [`Workload::unread_files`] of the plan's workload in `image`.
    pub fn unread_files(&self, image: &Image) -> Vec<RelPath> {
        let Some(batch) = &self.batch else {
            return Vec::new();
        };
        // Cheapest first: this runs for every crash state the explorer builds.
        if image
            .names_in(&batch.journal)
            .any(|n| n.ends_with(".commit"))
        {
            return Vec::new();
        }
        let mut unread = batch.increments.clone();
        for here in &batch.dirs {
            let view = image.dir_view(&here.dir);
            let untouched = here
                .targets
                .iter()
                .all(|&(name, held)| view.as_ref().and_then(|v| v.file_bytes(name)) == held);
            if !untouched {
                return Vec::new();
            }
            let Some(view) = view else { continue };
            let temps = view
                .names()
                .filter(|name| temp_index(name).is_some_and(|i| here.indexes.contains(&i)));
            unread.extend(temps.filter_map(|name| here.dir.join(name).ok()));
        }
        unread
    }
}

/// The update index of a temp file's name, `.crashsafe-<seq>-<index>.tmp` (a non-empty `seq`,
/// `index` in decimal without a leading zero), as the journal names them.
fn temp_index(name: &str) -> Option<usize> {
    let middle = name.strip_prefix(".crashsafe-")?.strip_suffix(".tmp")?;
    let (seq, index) = middle.rsplit_once('-')?;
    let plain = index.bytes().all(|b| b.is_ascii_digit()) && !index.is_empty();
    let leading_zero = index.len() > 1 && index.starts_with('0');
    (!seq.is_empty() && plain && !leading_zero)
        .then(|| index.parse().ok())
        .flatten()
}

/// The acknowledgement announcing transaction `index`, with its targets' contents in `live`.
fn begin(live: &Image, index: usize, txn: &TxnSpec) -> JournalAck {
    let updates = txn
        .updates
        .iter()
        .map(|u| PlannedUpdate {
            target: u.target.clone(),
            old: file_content(live, &u.target),
            new: u.new.clone(),
            increment: u.increment.clone(),
        })
        .collect();
    JournalAck::Begin {
        txn: index,
        updates,
        atomic: txn.atomic,
    }
}

/// Commits one transaction as its spec says. Host files written for it live until it returns.
///
/// A host file that cannot be written is not a crash state of the journal but a broken harness
/// environment: carrying on would make this run differ from every other run of the workload, so
/// it panics, naming the file.
fn commit<S: Steps>(journal: &mut Journal<&SimFs, S>, txn: &TxnSpec) -> Result<(), JournalError> {
    let mut host_files = Vec::new();
    let mut updates = Vec::with_capacity(txn.updates.len());
    for u in &txn.updates {
        let update = match (&u.new, u.via) {
            (None, _) => Update::delete(u.target.clone()),
            (Some(bytes), Delivery::Bytes) => Update::write(u.target.clone(), bytes.clone()),
            (Some(bytes), Delivery::Stream) => {
                Update::stream(u.target.clone(), BlockReader::new(bytes.clone()))
            }
            (Some(bytes), Delivery::HostFile) => {
                let file = HostFile::create(bytes)
                    .unwrap_or_else(|e| panic!("the workload cannot run: {e}"));
                let update = Update::copy_from(u.target.clone(), file.path.clone());
                host_files.push(file);
                update
            }
        };
        updates.push(match &u.increment {
            Some((path, bytes)) => {
                update.with_increment(path.clone(), Source::Bytes(bytes.clone()))
            }
            None => update,
        });
    }
    journal.commit_batch(updates, txn.atomic).map(drop)
}

/// Reopens the journal on `fs` and recovers it; `None` if either fails or an entry is refused.
fn reopen_and_recover<S: Steps>(
    fs: &SimFs,
    options: JournalOptions,
    steps: S,
) -> Option<Journal<&SimFs, S>> {
    let mut journal = open(fs, options, steps).ok()?;
    let report = journal.recover().ok()?;
    report.refused.is_empty().then_some(journal)
}

/// A reader over bytes that yields at most one 4 KiB block per read.
struct BlockReader {
    bytes: Vec<u8>,
    pos: usize,
}

impl BlockReader {
    fn new(bytes: Vec<u8>) -> BlockReader {
        BlockReader { bytes, pos: 0 }
    }
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.bytes[self.pos..];
        let n = rest.len().min(buf.len()).min(4096);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// A host file holding a [`Delivery::HostFile`] content, created fresh under the host's temp
/// directory (a unique name per process and per file, so parallel runs never share one) and
/// removed when dropped. `Source::File` reads a host path; writing the spec's bytes there just
/// before the commit keeps every run of the workload identical: the simulated filesystem's trace
/// holds only what the journal copied, never the host path.
pub struct HostFile {
    path: PathBuf,
}

impl HostFile {
    /// Writes `bytes` to a new host file.
    pub fn create(bytes: &[u8]) -> Result<HostFile, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("crashsafe-workload-{}-{n}.src", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, bytes));
        let file = HostFile { path };
        match written {
            Ok(()) => Ok(file),
            Err(e) => Err(format!(
                "writing the host file {}: {e}",
                file.path.display()
            )),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A regular file's content in an image, `None` if absent (or not a file).
pub fn file_content(image: &Image, path: &RelPath) -> Option<Vec<u8>> {
    match image.get(path) {
        Some(Node::File(data)) => Some(data.as_ref().clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::temp_index;

    #[test]
    fn a_temp_names_its_update_index_as_the_journal_spells_it() {
        assert_eq!(temp_index(".crashsafe-00000000000000a1-12.tmp"), Some(12));
        assert_eq!(temp_index(".crashsafe-x-y-0.tmp"), Some(0));
        for not_a_temp in [
            ".crashsafe--3.tmp",
            ".crashsafe-1-012.tmp",
            ".crashsafe-1-.tmp",
            ".crashsafe-1-3.rec",
            ".crashsafe-1-3x.tmp",
            "crashsafe-1-3.tmp",
            ".crashsafe-3.tmp",
        ] {
            assert_eq!(temp_index(not_a_temp), None, "{not_a_temp}");
        }
    }
}
