//! The journal against the usual ways of replacing a file durably, on a real temporary directory:
//!
//! - `commit_4k`, `commit_1m`: one file replaced per iteration by `journal` (`Journal::commit`,
//!   `SyncMode::PerFile`), `naive_atomic_replace` (write a temp file with `std::fs`, `sync_all`,
//!   rename, fsync the directory) and `atomic_write_file` (the `atomic-write-file` crate).
//! - `batch_4k`: 1, 8 and 64 files replaced per iteration, by `Journal::commit_batch`
//!   (non-atomic) with `SyncMode::Syncfs` and with `SyncMode::PerFile`, and by the naive replace
//!   done file after file; throughput in updates, so updates/sec compare directly.
//! - `recovery`: `recover` over 1, 100 and 10,000 pending entries (atomic one-update intents past
//!   their commit point, each rolled forward); the pending state is built, untimed, per iteration.
//! - `interleaved` (run first, outside criterion): the comparison of issue #12, every method in
//!   one run, interleaved round by round so that a change in the machine's load hits them all
//!   alike, the filesystem and the device let settle before each method's turn; prints
//!   updates/s, the ratio to the naive replace, and the device's writes, cache flushes and
//!   discards per update (Linux). See [`interleaved`].

use crashsafe::format::{self, temp_path, Content, Digest, Entry, EntryKind, UpdateRecord};
use crashsafe::fs::real::RealFs;
use crashsafe::journal::Source;
use crashsafe::journal::{recover::recover, Journal, JournalOptions, SyncMode, Update};
use crashsafe::path::RelPath;
use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const JOURNAL_DIR: &str = ".crashsafe/journal";

fn journal(root: &Path, sync: SyncMode) -> Journal<RealFs> {
    let fs = RealFs::open(root).unwrap();
    let options = JournalOptions { sync };
    Journal::open_with(fs, RelPath::new(JOURNAL_DIR).unwrap(), options).unwrap()
}

/// Two contents of `len` bytes that differ, so that every iteration really replaces the file.
fn contents(len: usize) -> [Vec<u8>; 2] {
    [vec![b'a'; len], vec![b'b'; len]]
}

/// The textbook durable replace: temp file, fsync, rename, fsync the directory.
fn naive_atomic_replace(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&temp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&temp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

fn with_atomic_write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = atomic_write_file::AtomicWriteFile::open(path)?;
    f.write_all(bytes)?;
    f.commit()
}

fn commit_one(c: &mut Criterion, group_name: &str, len: usize) {
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(len as u64));
    let data = contents(len);

    let tmp = tempfile::tempdir().unwrap();
    let mut j = journal(tmp.path(), SyncMode::PerFile);
    let target = RelPath::new("file.bin").unwrap();
    let mut i = 0;
    group.bench_function("journal", |b| {
        b.iter(|| {
            i += 1;
            j.commit(Update::write(target.clone(), data[i % 2].clone()))
                .unwrap();
        })
    });

    let tmp = tempfile::tempdir().unwrap();
    let mut i = 0;
    group.bench_function("naive_atomic_replace", |b| {
        b.iter(|| {
            i += 1;
            naive_atomic_replace(tmp.path(), "file.bin", &data[i % 2]).unwrap();
        })
    });

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("file.bin");
    let mut i = 0;
    group.bench_function("atomic_write_file", |b| {
        b.iter(|| {
            i += 1;
            with_atomic_write_file(&path, &data[i % 2]).unwrap();
        })
    });
    group.finish();
}

fn commit_4k(c: &mut Criterion) {
    commit_one(c, "commit_4k", 4 << 10);
}

fn commit_1m(c: &mut Criterion) {
    commit_one(c, "commit_1m", 1 << 20);
}

fn batch_4k(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_4k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let data = contents(4 << 10);
    for n in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(n as u64));
        let names: Vec<String> = (0..n).map(|k| format!("file-{k}.bin")).collect();
        for (label, sync) in [
            ("journal_syncfs", SyncMode::Syncfs),
            ("journal_perfile", SyncMode::PerFile),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let mut j = journal(tmp.path(), sync);
            let targets: Vec<RelPath> = names.iter().map(|s| RelPath::new(s).unwrap()).collect();
            let mut i = 0;
            group.bench_function(BenchmarkId::new(label, n), |b| {
                b.iter(|| {
                    i += 1;
                    let updates = targets
                        .iter()
                        .map(|t| Update::write(t.clone(), data[i % 2].clone()))
                        .collect();
                    j.commit_batch(updates, false).unwrap();
                })
            });
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut i = 0;
        group.bench_function(BenchmarkId::new("naive_atomic_replace", n), |b| {
            b.iter(|| {
                i += 1;
                for name in &names {
                    naive_atomic_replace(tmp.path(), name, &data[i % 2]).unwrap();
                }
            })
        });
    }
    group.finish();
}

/// A root holding `n` pending transactions, each an atomic one-update intent with its commit
/// record, its temp complete and its target still old (absent): recovery renames every temp.
fn pending_state(n: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let journal_dir = root.join(JOURNAL_DIR);
    std::fs::create_dir_all(&journal_dir).unwrap();
    let new = b"new content";
    for k in 0..n {
        let seq = k as u64 + 1;
        let target = RelPath::new(&format!("file-{k}.bin")).unwrap();
        let temp = temp_path(&target, seq, 0);
        std::fs::write(root.join(temp.as_str()), new).unwrap();
        let intent = Entry {
            seq,
            kind: EntryKind::Intent { atomic: true },
            updates: vec![UpdateRecord {
                target,
                temp: Some(temp),
                old: Content::Absent,
                new: Content::Present(Digest::of(new)),
                increment: None,
            }],
        };
        let commit = Entry {
            seq,
            kind: EntryKind::Commit,
            updates: vec![],
        };
        std::fs::write(
            journal_dir.join(format!("{seq:016x}.intent")),
            format::encode(&intent).unwrap(),
        )
        .unwrap();
        std::fs::write(
            journal_dir.join(format!("{seq:016x}.commit")),
            format::encode(&commit).unwrap(),
        )
        .unwrap();
    }
    tmp
}

fn recovery(c: &mut Criterion) {
    let mut group = c.benchmark_group("recovery");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(2));
    let dir = RelPath::new(JOURNAL_DIR).unwrap();
    for n in [1usize, 100, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || pending_state(n),
                |tmp| {
                    let fs = RealFs::open(tmp.path()).unwrap();
                    let report = recover(&fs, &dir).unwrap();
                    assert_eq!(report.outcomes.len(), n);
                    tmp // dropped (the tree removed) after timing
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// One way of making updates durable, as the interleaved comparison runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// [`naive_atomic_replace`], one file after another.
    Naive,
    /// The `atomic-write-file` crate, one file after another.
    AtomicWriteFile,
    /// `Journal::commit` of one update, no increment, `SyncMode::PerFile`.
    Commit,
    /// `Journal::commit` of one update with an increment as large as the content.
    CommitWithIncrement,
    /// The same with `SyncMode::Syncfs`: each round of barriers one `syncfs`.
    CommitWithIncrementSyncfs,
    /// The floor under [`Method::CommitWithIncrement`]: [`naive_atomic_replace`] of the target,
    /// then of the increment as a new file in `inc/` (four fsync-family calls, no intent, and
    /// nothing that ties the two together: a crash between them leaves one without the other).
    /// Its ratio to naive bounds what a protocol making the same two files durable with
    /// per-file calls can reach on the disk measured.
    NaiveWithIncrement,
    /// One `Journal::commit_batch` of all the updates (non-atomic), `SyncMode::PerFile`.
    BatchPerFile,
    /// The same with `SyncMode::Syncfs`.
    BatchSyncfs,
}

impl Method {
    const ALL: [Method; 8] = [
        Method::Naive,
        Method::AtomicWriteFile,
        Method::Commit,
        Method::CommitWithIncrement,
        Method::CommitWithIncrementSyncfs,
        Method::NaiveWithIncrement,
        Method::BatchPerFile,
        Method::BatchSyncfs,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::Naive => "naive replace (temp, fsync, rename, fsync dir)",
            Method::AtomicWriteFile => "atomic-write-file crate",
            Method::Commit => "commit, no increment",
            Method::CommitWithIncrement => "commit with an increment",
            Method::CommitWithIncrementSyncfs => "commit with an increment, Syncfs",
            Method::NaiveWithIncrement => "naive replace + naive increment (no atomicity)",
            Method::BatchPerFile => "commit_batch, per-file sync",
            Method::BatchSyncfs => "commit_batch, Syncfs",
        }
    }
}

/// A method's own root (one per method, kept across rounds) and, for the journal, its journal.
struct Bench {
    method: Method,
    root: tempfile::TempDir,
    journal: Option<Journal<RealFs>>,
}

impl Bench {
    fn new(method: Method, base: &Path) -> Bench {
        let root = tempfile::tempdir_in(base).unwrap();
        std::fs::create_dir(root.path().join("inc")).unwrap();
        let sync = match method {
            Method::BatchSyncfs | Method::CommitWithIncrementSyncfs => Some(SyncMode::Syncfs),
            Method::Commit | Method::CommitWithIncrement | Method::BatchPerFile => {
                Some(SyncMode::PerFile)
            }
            Method::Naive | Method::AtomicWriteFile | Method::NaiveWithIncrement => None,
        };
        let journal = sync.map(|sync| journal(root.path(), sync));
        Bench {
            method,
            root,
            journal,
        }
    }

    /// Replaces `n` files of the root with `data` (round `round`), returning the time it took
    /// and, where the device's counters can be read, the requests the device completed meanwhile.
    fn run(&mut self, round: usize, n: usize, data: &[u8]) -> (Duration, Option<DeviceOps>) {
        let names: Vec<String> = (0..n).map(|k| format!("file-{k}.bin")).collect();
        let targets: Vec<RelPath> = names.iter().map(|s| RelPath::new(s).unwrap()).collect();
        let dir = self.root.path();
        let before = device_stat(dir);
        let start = Instant::now();
        match (self.method, self.journal.as_mut()) {
            (Method::Naive, _) => {
                for name in &names {
                    naive_atomic_replace(dir, name, data).unwrap();
                }
            }
            (Method::NaiveWithIncrement, _) => {
                for (k, name) in names.iter().enumerate() {
                    naive_atomic_replace(dir, name, data).unwrap();
                    naive_atomic_replace(&dir.join("inc"), &format!("{round}-{k}"), data).unwrap();
                }
            }
            (Method::AtomicWriteFile, _) => {
                for name in &names {
                    with_atomic_write_file(&dir.join(name), data).unwrap();
                }
            }
            (Method::Commit, Some(j)) => {
                for t in targets {
                    j.commit(Update::write(t, data.to_vec())).unwrap();
                }
            }
            (Method::CommitWithIncrement | Method::CommitWithIncrementSyncfs, Some(j)) => {
                for (k, t) in targets.into_iter().enumerate() {
                    let inc = RelPath::new(&format!("inc/{round}-{k}")).unwrap();
                    let update = Update::write(t, data.to_vec())
                        .with_increment(inc, Source::Bytes(data.to_vec()));
                    j.commit(update).unwrap();
                }
            }
            (Method::BatchPerFile | Method::BatchSyncfs, Some(j)) => {
                let updates = targets
                    .into_iter()
                    .map(|t| Update::write(t, data.to_vec()))
                    .collect();
                j.commit_batch(updates, false).unwrap();
            }
            (_, None) => unreachable!("the journal's methods have a journal"),
        }
        if let Some(j) = &self.journal {
            // What the backend left to its workers (the closes that free and discard the
            // replaced files' blocks) is this method's work: done before the clock stops, so
            // that it never lands in the next method's time.
            j.fs().settle();
        }
        let elapsed = start.elapsed();
        let ops = DeviceOps::between(before.as_deref(), device_stat(dir).as_deref());
        (elapsed, ops)
    }
}

/// The block device under `base`, as the kernel counts its work: the fields of
/// `/sys/dev/block/MAJOR:MINOR/stat` (Linux; see the kernel's `Documentation/block/stat.rst`),
/// or `None` where they cannot be read (another system, or a filesystem with no block device).
fn device_stat(base: &Path) -> Option<Vec<u64>> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(base).ok()?.dev();
    let path = format!(
        "/sys/dev/block/{}:{}/stat",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().map(|f| f.parse().ok()).collect()
}

/// What the device under the roots did during a method's runs, from [`device_stat`]: requests
/// completed, summed over the method's rounds. Whole-device counts, so another process's I/O in
/// the same window is counted too; unlike the times they hardly move with the machine's load.
#[derive(Debug, Clone, Copy, Default)]
struct DeviceOps {
    /// Write requests (field 5 of the stat file).
    writes: u64,
    /// Discard requests (field 12).
    discards: u64,
    /// Flush requests, the cache flushes an fsync ends with (field 16).
    flushes: u64,
}

impl DeviceOps {
    /// The requests completed between the stat reads `before` and `after`, if both were read.
    fn between(before: Option<&[u64]>, after: Option<&[u64]>) -> Option<DeviceOps> {
        let (a, b) = (before?, after?);
        let delta = |field: usize| Some(b.get(field)?.saturating_sub(*a.get(field)?));
        Some(DeviceOps {
            writes: delta(4)?,
            discards: delta(11)?,
            flushes: delta(15)?,
        })
    }

    fn add(&mut self, other: DeviceOps) {
        self.writes += other.writes;
        self.discards += other.discards;
        self.flushes += other.flushes;
    }
}

/// How long [`settle`] waits at most for the device to go quiet.
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// Waits, untimed, until what earlier work left to the filesystem and the device is done, so
/// that a method's time holds only its own work: the filesystem under `base` is synced
/// (`syncfs`: the dirty data of the method before, and of the other processes' files, which
/// writeback would otherwise flush in the middle of the next method), then the device's counters
/// are polled until two reads 20 ms apart show no request in flight and no write or discard
/// completed in between (or [`SETTLE_LIMIT`] passes). With `discard` the blocks a replace or an
/// unlink frees are discarded: on ext4 with a journal when the transaction that freed them
/// commits (a backlog a later fsync waits on), without one inside the call that frees them (the
/// method pays, and the journal's deferred closes are waited for by `RealFs::settle` in
/// [`Bench::run`]); either way nothing of one method's is left for the next one, nor of the run
/// before (its roots removed at its end) for the first.
fn settle(base: &Path) {
    if let Ok(dir) = File::open(base) {
        let _ = rustix::fs::syncfs(&dir);
    }
    // Fields of the stat file: 4 writes completed, 8 requests in flight, 11 discards completed.
    let quiet = |a: &[u64], b: &[u64]| {
        b.get(8) == Some(&0) && a.get(4) == b.get(4) && a.get(11) == b.get(11)
    };
    let start = Instant::now();
    let Some(mut last) = device_stat(base) else {
        return;
    };
    while start.elapsed() < SETTLE_LIMIT {
        std::thread::sleep(Duration::from_millis(20));
        let Some(now) = device_stat(base) else {
            return;
        };
        if quiet(&last, &now) {
            return;
        }
        last = now;
    }
}

/// The comparison of issue #12 in one run: `rounds` rounds, each running every method on `n`
/// updates of 4 KiB (alternating two contents, so every update changes its file), in an order
/// that rotates from round to round; each method's updates/s is its total updates over its total
/// time, and its ratio is that over the naive replace's. Before each method's run the machine is
/// let [`settle`] (untimed), so that no method pays for the one before it, nor the first one
/// for the run before (its roots removed at its end). Beside the rates, each method's
/// [`DeviceOps`] per update: the work the disk was given, which repeats from run to run where
/// the times move with the load (and shows what a protocol change saved). The roots live under
/// `CRASHSAFE_BENCH_DIR` if set (the filesystem to measure), else the system's temp dir.
fn interleaved(rounds: usize, n: usize) {
    let base = std::env::var_os("CRASHSAFE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let data = contents(4 << 10);
    let mut benches: Vec<Bench> = Method::ALL.iter().map(|&m| Bench::new(m, &base)).collect();
    let mut totals = vec![Duration::ZERO; benches.len()];
    let mut ops = vec![Some(DeviceOps::default()); benches.len()];
    for round in 0..rounds {
        for k in 0..benches.len() {
            let index = (round + k) % benches.len();
            settle(&base);
            let (time, done) = benches[index].run(round, n, &data[round % 2]);
            totals[index] += time;
            ops[index] = ops[index].zip(done).map(|(mut sum, done)| {
                sum.add(done);
                sum
            });
        }
    }
    println!(
        "interleaved: {rounds} rounds of {n} updates of 4 KiB per method, under {}",
        base.display()
    );
    report(&benches, &totals, &ops, rounds * n);
    // The roots' removal frees every block they hold: let it settle before whatever runs next.
    drop(benches);
    settle(&base);
}

/// Prints each method's updates/s (`updates` over its total time), its ratio to the naive
/// replace's (the first method), and the device's requests per update where they were counted.
fn report(benches: &[Bench], totals: &[Duration], ops: &[Option<DeviceOps>], updates: usize) {
    let rate = |t: Duration| updates as f64 / t.as_secs_f64();
    let naive = rate(totals[0]);
    println!(
        "{:<48} {:>10} {:>9} {:>8} {:>8} {:>9}",
        "method", "updates/s", "vs naive", "writes/u", "flush/u", "discard/u"
    );
    for ((bench, total), ops) in benches.iter().zip(totals).zip(ops) {
        let per = |count: u64| format!("{:.2}", count as f64 / updates as f64);
        let (writes, flushes, discards) = match ops {
            Some(o) => (per(o.writes), per(o.flushes), per(o.discards)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<48} {:>10.0} {:>9.2} {:>8} {:>8} {:>9}",
            bench.method.name(),
            rate(*total),
            rate(*total) / naive,
            writes,
            flushes,
            discards
        );
    }
}

criterion_group!(benches, commit_4k, commit_1m, batch_4k, recovery);

/// Runs the interleaved comparison (when no filter excludes `interleaved`), then criterion's
/// groups. Under `cargo test --benches` (no `--bench` argument) the comparison runs one small
/// round, unmeasured, like criterion's own test mode.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let measuring = args.iter().any(|a| a == "--bench");
    let filter = args.iter().find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "interleaved".contains(f.as_str())) {
        match measuring {
            true => interleaved(8, 64),
            false => interleaved(1, 2),
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
