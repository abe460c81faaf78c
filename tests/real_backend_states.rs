//! The simulator's crash states, recovered by the *real* backend.
//!
//! `crash_consistency.rs` proves recovery correct on [`SimFs`], the in-memory filesystem. This
//! file checks that the proof carries over to [`RealFs`], the Linux backend the journal runs on
//! in production: for a workload and a persistence model, the workload is run once on the
//! simulator, every crash point of its trace is walked with [`CrashWalk`], and every crash state
//! the model allows there is enumerated with [`Bounds::default`] and seed 0 (that is all of them
//! wherever a crash point has at most `full_bound` = 4096; past it, the explorer's bounded set:
//! all but / at most k = 2 pending operations persisted, plus 16 seeded samples), then
//! deduplicated by (fingerprint, acknowledgements visible). Each distinct state is then
//!
//! 1. written into a fresh real temporary directory (directories, files with their exact bytes,
//!    symlinks), and read back to confirm the copy is faithful;
//! 2. recovered by the journal over [`RealFs`], with the workload's sync mode; recovery must
//!    succeed and refuse no entry;
//! 3. read back into an [`Image`] and judged by the same oracle as the simulator
//!    ([`oracle::check`]) against the acknowledgements visible at that crash point;
//! 4. recovered a second time on the real directory, which must change nothing (idempotence);
//! 5. recovered by the simulator too ([`Subject::recover`] on [`SimFs::from_image`]), which must
//!    end the same way (both succeed, or both fail with the same error) and leave the very same
//!    tree as the real backend: the two backends agree on every state.
//!
//! A last test runs the same check on known-bad protocols (the self-test's defects) and requires
//! violations, so that a clean run above means something.
//!
//! What runs by default: `create-delete` and `batch-1-atomic` under every model in
//! [`all_models`], every distinct state; `batch-8-atomic` under `posix`, at most [`DEFAULT_CAP`]
//! of its ~13,700 distinct states, and `batch-8-atomic-syncfs` under `posix`, at most
//! [`SYNCFS_CAP`] of its ~11,200, picked with a deterministic stride (every n-th state in crash
//! point order, so that they spread over the whole trace). `CRASHSAFE_REAL_STATES=all` checks
//! every distinct state of every workload here (minutes: each state costs a few real fsyncs);
//! `CRASHSAFE_REAL_STATES=N` caps each (model, workload) at `N` states:
//!
//! ```text
//! CRASHSAFE_REAL_STATES=all cargo test --test real_backend_states -- --nocapture
//! ```
//!
//! Each run prints (to stderr) how many crash points, states and distinct states it saw and how
//! many it checked; a failure names the model, the crash point, the state index (its number in
//! `CrashPoint::for_each_state` with seed 0) and every problem found, listing both trees when
//! the real and simulated recoveries differ.

use crashsafe::check::oracle::{self, JournalAck};
use crashsafe::check::suite::subject_by_name;
use crashsafe::check::workload::{journal_dir, JournalSubject};
use crashsafe::fs::real::RealFs;
use crashsafe::fs::{FileMode, Fs, FsError, FsErrorKind, RenameFlags};
use crashsafe::path::RelPath;
use crashsafe::sim::{
    all_models, model_by_name, AckLog, Bounds, CrashWalk, ExploreConfig, Image, Model, Node, SimFs,
    Subject, TraceOp,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

/// States checked per (model, workload) when a workload is capped and the environment does not
/// say otherwise.
const DEFAULT_CAP: usize = 300;

/// The cap for the `syncfs` workload, whose every recovery flushes the whole filesystem.
const SYNCFS_CAP: usize = 100;

/// How many failures a panic message spells out (all are counted).
const SHOWN_FAILURES: usize = 8;

// ---------------------------------------------------------------------------------------------
// Images and real directories.

/// Writes `image` under `root` (an existing, empty directory): every directory, every regular
/// file with exactly its bytes and mode (hard links as hard links), every symlink with its
/// target (never followed).
fn materialize(image: &Image, root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut first_name: BTreeMap<u64, std::path::PathBuf> = BTreeMap::new();
    for (path, node) in image.walk() {
        let host = root.join(path.as_str());
        match node {
            Node::Dir => std::fs::create_dir_all(&host)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", host.display())),
            Node::File(data) => {
                if let Some(parent) = host.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                let ino = image.ino(&path).expect("a walked name exists");
                if let Some(first) = first_name.get(&ino) {
                    std::fs::hard_link(first, &host)
                        .unwrap_or_else(|e| panic!("link {}: {e}", host.display()));
                    continue;
                }
                first_name.insert(ino, host.clone());
                std::fs::write(&host, data.as_slice())
                    .unwrap_or_else(|e| panic!("write {}: {e}", host.display()));
                let mode = image.mode(&path).expect("a walked name has a mode");
                std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode.bits()))
                    .unwrap_or_else(|e| panic!("chmod {}: {e}", host.display()));
            }
            Node::Symlink(target) => {
                if let Some(parent) = host.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                std::os::unix::fs::symlink(&target, &host)
                    .unwrap_or_else(|e| panic!("symlink {}: {e}", host.display()));
            }
        }
    }
}

/// Reads the tree under `root` into an image, recursively, never following a symlink: files
/// with their mode, names of one inode as hard links.
fn read_back(root: &Path) -> Image {
    fn visit(
        dir: &Path,
        rel: &RelPath,
        image: &mut Image,
        seen: &mut BTreeMap<(u64, u64), RelPath>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry
                .file_name()
                .into_string()
                .unwrap_or_else(|n| panic!("non-UTF-8 name {n:?} under {}", dir.display()));
            let path = rel
                .join(&name)
                .expect("a name read from disk is a plain component");
            let host = entry.path();
            let meta = std::fs::symlink_metadata(&host).unwrap();
            let kind = meta.file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&host).unwrap();
                let target = target.to_str().expect("UTF-8 symlink target");
                image.put_symlink(&path, target);
            } else if kind.is_dir() {
                image.put_dir(&path);
                visit(&host, &path, image, seen);
            } else if kind.is_file() {
                match seen.get(&(meta.dev(), meta.ino())) {
                    Some(first) => image.put_hard_link(first, &path),
                    None => {
                        let mode = FileMode::from_st_mode(meta.mode());
                        let data = std::fs::read(&host).unwrap();
                        image.put_file_with_mode(&path, &data, mode);
                        seen.insert((meta.dev(), meta.ino()), path.clone());
                    }
                }
            } else {
                panic!(
                    "{} is neither a file, a directory nor a symlink",
                    host.display()
                );
            }
        }
    }
    let mut image = Image::new();
    visit(root, &RelPath::root(), &mut image, &mut BTreeMap::new());
    image
}

/// A short, stable digest of some bytes for listings (FNV-1a, 64 bits).
fn short_hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn describe_node(node: &Node) -> String {
    match node {
        Node::Dir => "dir".to_string(),
        Node::File(data) => format!("file {} bytes #{:016x}", data.len(), short_hash(data)),
        Node::Symlink(target) => format!("symlink -> {target}"),
    }
}

/// One line per path: what it is, a file's length and digest.
fn listing(image: &Image) -> String {
    let mut out = String::new();
    for (path, node) in image.walk() {
        out.push_str(&format!("    {path}  {}\n", describe_node(&node)));
    }
    if out.is_empty() {
        out.push_str("    (empty)\n");
    }
    out
}

/// The paths on which two images differ (what they name, their mode, their number of names),
/// one per line.
fn differences(a: &Image, b: &Image) -> String {
    let (wa, wb) = (a.walk(), b.walk());
    let paths: BTreeSet<&RelPath> = wa.keys().chain(wb.keys()).collect();
    let mut out = String::new();
    for p in paths {
        let (x, y) = (wa.get(p), wb.get(p));
        if x != y {
            let show = |n: Option<&Node>| n.map_or("absent".to_string(), describe_node);
            out.push_str(&format!("    {p}: {} vs {}\n", show(x), show(y)));
        } else if (a.mode(p), a.nlink(p)) != (b.mode(p), b.nlink(p)) {
            out.push_str(&format!(
                "    {p}: mode {:?} with {:?} names vs mode {:?} with {:?} names\n",
                a.mode(p),
                a.nlink(p),
                b.mode(p),
                b.nlink(p)
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Recovery on each backend.

/// Runs the journal's recovery over the real backend rooted at `root`, configured as the
/// subject's (its sync mode; its known-bad protocol, `None` for every built-in workload).
fn recover_real(root: &Path, subject: &JournalSubject) -> Result<(), String> {
    let fs = RealFs::open(root).map_err(|e| format!("opening the root: {e}"))?;
    subject.recover_on(fs)
}

/// Runs the subject's recovery on the simulator, from `crashed`: its result, and the tree it
/// left (whether it succeeded or not).
fn recover_sim(subject: &JournalSubject, crashed: &Image) -> (Result<(), String>, Image) {
    let fs = SimFs::from_image(crashed);
    let result = subject.recover(&fs);
    (result, fs.image())
}

// ---------------------------------------------------------------------------------------------
// Crash states.

/// One distinct crash state of the workload's trace.
struct State {
    cp: usize,
    index: usize,
    /// How many acknowledgements a crash at `cp` sees.
    visible: usize,
    image: Image,
}

/// What one (model, workload) run saw and checked.
struct Summary {
    crash_points: usize,
    /// Crash points with more states than `full_bound`, where the enumeration is the bounded one.
    bounded_points: usize,
    states: usize,
    distinct: usize,
    checked: usize,
    failures: Vec<String>,
}

/// How many states to check per (model, workload): `None` for all of them.
fn cap_from_env(default: Option<usize>) -> Option<usize> {
    match std::env::var("CRASHSAFE_REAL_STATES") {
        Ok(v) if v.eq_ignore_ascii_case("all") => None,
        Ok(v) => Some(
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("CRASHSAFE_REAL_STATES={v:?}: expected `all` or N")),
        ),
        Err(_) => default,
    }
}

/// The crash states of a trace under a model, as the default bounds enumerate them.
struct Enumerated {
    /// One per distinct (fingerprint, acknowledgements visible), first met first.
    distinct: Vec<State>,
    /// All of them, duplicates included.
    states: usize,
    /// Crash points with more states than `full_bound`, where the enumeration is the bounded one.
    bounded_points: usize,
}

/// Enumerates the crash states of `trace` (run from `setup`, acknowledging `acks`) under `model`
/// at every crash point, with the default bounds and seed 0.
fn enumerate(
    model: &dyn Model,
    setup: &Image,
    trace: &[TraceOp],
    acks: &AckLog<JournalAck>,
) -> Enumerated {
    let bounds = Bounds::default();
    let res = model.resolve(trace);
    let block_size = ExploreConfig::default().block_size;
    let mut walk = CrashWalk::new(model, setup, trace, &res, block_size);
    let mut seen: BTreeSet<(u128, usize)> = BTreeSet::new();
    let mut out = Enumerated {
        distinct: Vec::new(),
        states: 0,
        bounded_points: 0,
    };
    for cp in 0..=trace.len() {
        let point = walk.point(cp);
        if point.combinations() > bounds.full_bound as u128 {
            out.bounded_points += 1;
        }
        let visible = acks.visible_at(cp);
        point.for_each_state(&bounds, 0, |index, choice| {
            out.states += 1;
            let image = point.build(choice);
            if seen.insert((image.fingerprint(), visible)) {
                out.distinct.push(State {
                    cp,
                    index,
                    visible,
                    image,
                });
            }
            ControlFlow::Continue(())
        });
    }
    out
}

/// Runs `workload` on the simulator, enumerates its crash states under `model`, and checks
/// `cap` of the distinct ones (all if `None`, else a deterministic stride) on the real backend.
fn check_real(workload: &str, model: &dyn Model, cap: Option<usize>) -> Summary {
    let subject = subject_by_name(workload).expect("a built-in workload");
    let setup = subject.setup();
    let fs = SimFs::from_image(&setup);
    let mut acks: AckLog<JournalAck> = AckLog::new();
    subject.run(&fs, &mut acks);
    let trace = fs.trace();
    let committed = acks
        .entries()
        .iter()
        .filter(|(_, a)| matches!(a, JournalAck::Committed { .. }))
        .count();
    assert_eq!(
        committed,
        subject.workload.txns.len(),
        "{workload}: the fault-free run commits every transaction"
    );

    let Enumerated {
        distinct,
        states,
        bounded_points,
    } = enumerate(model, &setup, &trace, &acks);

    let stride = match cap {
        Some(cap) if distinct.len() > cap => distinct.len().div_ceil(cap.max(1)),
        _ => 1,
    };
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for state in distinct.iter().step_by(stride) {
        checked += 1;
        let problems = check_state(&subject, &setup, acks.entries(), state);
        if !problems.is_empty() {
            failures.push(format!(
                "{workload} under {}: crash point {}, state {} ({} ack(s) visible):\n{}",
                model.name(),
                state.cp,
                state.index,
                state.visible,
                problems.join("\n")
            ));
        }
    }
    Summary {
        crash_points: trace.len() + 1,
        bounded_points,
        states,
        distinct: distinct.len(),
        checked,
        failures,
    }
}

/// Checks one crash state on the real backend; every problem found, as text.
fn check_state(
    subject: &JournalSubject,
    setup: &Image,
    acks: &[(usize, JournalAck)],
    state: &State,
) -> Vec<String> {
    let mut problems = Vec::new();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    materialize(&state.image, &root);
    let written = read_back(&root);
    assert!(
        written == state.image,
        "the crash state was not written faithfully:\n{}",
        differences(&state.image, &written)
    );

    let real = recover_real(&root, subject);
    let recovered = read_back(&root);
    let (simulated, sim_tree) = recover_sim(subject, &state.image);
    if sim_tree != recovered {
        problems.push(format!(
            "  [backends] real and simulated recoveries left different trees (real vs sim):\n{}\
             \n  crashed state:\n{}  real recovery:\n{}  simulated recovery:\n{}",
            differences(&recovered, &sim_tree),
            listing(&state.image),
            listing(&recovered),
            listing(&sim_tree)
        ));
    }
    if real != simulated {
        problems.push(format!(
            "  [backends] real recovery gave {real:?}, simulated recovery {simulated:?}"
        ));
    }
    if let Err(e) = real {
        problems.push(format!("  [recovery-error] real recovery: {e}"));
        return problems;
    }

    for v in oracle::check(setup, &recovered, &acks[..state.visible], &journal_dir()) {
        problems.push(format!("  [{}] {}", v.invariant, v.message));
    }

    match recover_real(&root, subject) {
        Err(e) => problems.push(format!("  [idempotent] real recovery run again: {e}")),
        Ok(()) => {
            let twice = read_back(&root);
            if twice != recovered {
                problems.push(format!(
                    "  [idempotent] real recovery run again changed the tree:\n{}",
                    differences(&recovered, &twice)
                ));
            }
        }
    }
    problems
}

/// Runs [`check_real`] and reports; panics with the first failures if any.
fn run_and_assert(workload: &str, model: &dyn Model, cap: Option<usize>) {
    let started = Instant::now();
    let s = check_real(workload, model, cap);
    eprintln!(
        "real backend: {workload} under {}: {} crash points ({} past full_bound), {} states, \
         {} distinct (state, acks), {} checked on the real backend, {} failing, in {:.1?}",
        model.name(),
        s.crash_points,
        s.bounded_points,
        s.states,
        s.distinct,
        s.checked,
        s.failures.len(),
        started.elapsed()
    );
    assert!(
        s.checked > 0,
        "{workload} under {}: no state checked",
        model.name()
    );
    if !s.failures.is_empty() {
        let shown: Vec<&str> = s
            .failures
            .iter()
            .take(SHOWN_FAILURES)
            .map(String::as_str)
            .collect();
        panic!(
            "{} of {} crash states of {workload} under {} fail on the real backend; the first:\n{}",
            s.failures.len(),
            s.checked,
            model.name(),
            shown.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

/// The helpers themselves: an image with nested directories, an empty directory, empty, binary
/// and multi-block files and symlinks (one dangling, one to a directory) survives the trip to a
/// real directory and back unchanged, and no symlink is followed on the way back.
#[test]
fn an_image_round_trips_through_a_real_directory() {
    let p = |s: &str| RelPath::new(s).unwrap();
    let mut image = Image::new();
    image.put_dir(&p("a/b/c"));
    image.put_dir(&p("empty"));
    image.put_file(&p("a/empty.txt"), b"");
    image.put_file(
        &p("a/b/bin"),
        &(0..=255u8).cycle().take(9000).collect::<Vec<_>>(),
    );
    image.put_file(&p("top"), b"top");
    image.put_symlink(&p("a/dangling"), "../nowhere");
    image.put_symlink(&p("to-a"), "a");
    let tmp = tempfile::tempdir().unwrap();
    materialize(&image, tmp.path());
    let back = read_back(tmp.path());
    assert!(
        back == image,
        "the round trip changed the tree:\n{}",
        differences(&image, &back)
    );
    assert_eq!(back.fingerprint(), image.fingerprint());
    let walked: BTreeMap<RelPath, Node> = back.walk();
    assert!(
        !walked.contains_key(&p("to-a/empty.txt")),
        "a symlink was followed"
    );
    assert_eq!(walked.get(&p("to-a")), Some(&Node::Symlink("a".into())));
}

/// Every distinct crash state of `create-delete` (a creation, a deletion and the deletion of
/// the created file, each with an increment) under every model, recovered on the real backend.
#[test]
fn create_delete_every_crash_state_recovers_on_the_real_backend_under_every_model() {
    let cap = cap_from_env(None);
    for model in all_models() {
        run_and_assert("create-delete", model.as_ref(), cap);
    }
}

/// Every distinct crash state of `batch-1-atomic` (an atomic batch: commit record, roll
/// forward) under every model, recovered on the real backend.
#[test]
fn batch_1_atomic_every_crash_state_recovers_on_the_real_backend_under_every_model() {
    let cap = cap_from_env(None);
    for model in all_models() {
        run_and_assert("batch-1-atomic", model.as_ref(), cap);
    }
}

/// An atomic batch of 8 updates across directories under `posix`, the weakest model, on the
/// real backend (capped by default; `CRASHSAFE_REAL_STATES=all` for every state).
#[test]
fn batch_8_atomic_crash_states_recover_on_the_real_backend_under_posix() {
    let posix = model_by_name("posix").expect("posix exists");
    run_and_assert(
        "batch-8-atomic",
        posix.as_ref(),
        cap_from_env(Some(DEFAULT_CAP)),
    );
}

/// The check is not vacuous: with a known-bad protocol (`crashsafe check --self-test`'s
/// defects), the real backend's recoveries of the same crash states show violations, and the two
/// backends still agree on every tree recovery leaves, refusals included.
#[test]
fn known_bad_protocols_fail_on_the_real_backend_too() {
    let posix = model_by_name("posix").expect("posix exists");
    for (subject, invariant) in [
        ("create-delete+ack-before-target-dir-fsync", "[durable]"),
        ("create-delete+no-increment-fsync", "[history]"),
        (
            "batch-1-atomic+roll-forward-without-commit-record",
            "[atomic]",
        ),
    ] {
        let s = check_real(subject, posix.as_ref(), None);
        assert!(
            s.failures.iter().any(|f| f.contains(invariant)),
            "{subject}: no {invariant} violation on the real backend ({} of {} states fail)",
            s.failures.len(),
            s.checked
        );
        let disagree: Vec<&String> = s
            .failures
            .iter()
            .filter(|f| f.contains("[backends]"))
            .collect();
        assert!(
            disagree.is_empty(),
            "{subject}: the backends disagree:\n{}",
            disagree.first().map_or("", |f| f.as_str())
        );
    }
}

/// The same batch with one `syncfs` per step ([`SyncMode::Syncfs`]) under `posix` (capped by
/// default to [`SYNCFS_CAP`] states: every real `syncfs` flushes the whole filesystem).
#[test]
fn batch_8_atomic_syncfs_crash_states_recover_on_the_real_backend_under_posix() {
    let posix = model_by_name("posix").expect("posix exists");
    run_and_assert(
        "batch-8-atomic-syncfs",
        posix.as_ref(),
        cap_from_env(Some(SYNCFS_CAP)),
    );
}

// ---------------------------------------------------------------------------------------------
// The file API beyond the journal's: open_write, set_len, set_mode, link, rmdir, symlink,
// rename flags, on both backends.

#[allow(dead_code)]
#[path = "../examples/pager.rs"]
mod pager;
#[allow(dead_code)]
#[path = "../examples/wal.rs"]
mod wal;

/// Every new operation, and the failures the contract names, on any backend. Returns the kinds
/// of the failures, in order.
fn new_operations<F: Fs>(fs: &F) -> Result<Vec<FsErrorKind>, FsError> {
    let p = |s: &str| RelPath::new(s).unwrap();
    let mode = |bits: u32| FileMode::new(bits).unwrap();
    let mut failures = Vec::new();
    let mut fail =
        |r: Result<(), FsError>| failures.push(r.map_or_else(|e| e.kind, |()| panic!("succeeded")));
    fs.mkdir(&p("d"))?;
    fs.mkdir(&p("d/empty"))?;
    let mut a = fs.create_new_with_mode(&p("d/a"), mode(0o600))?;
    fs.write_at(&mut a, 0, b"0123456789")?;
    fs.set_len(&mut a, 4)?;
    fs.set_len(&mut a, 6)?;
    fs.set_mode(&mut a, mode(0o640))?;
    fs.fsync(&mut a)?;
    let mut again = fs.open_write(&p("d/a"))?;
    fs.write_at(&mut again, 6, b"xy")?;
    fs.fdatasync(&mut again)?;
    fs.link(&p("d/a"), &p("b"))?;
    fs.symlink(&p("s"), "d/a")?;
    let mut c = fs.create_new(&p("c"))?;
    fs.set_mode(&mut c, mode(0o604))?;
    fs.write_at(&mut c, 0, b"c")?;
    fail(fs.rename_with(&p("c"), &p("b"), RenameFlags::NO_REPLACE));
    fail(fs.link(&p("d"), &p("x")));
    fail(fs.link(&p("c"), &p("b")));
    fail(fs.rmdir(&p("d")));
    fail(fs.rmdir(&p("c")));
    fail(fs.open_write(&p("s")).map(drop));
    fail(fs.open_write(&p("d")).map(drop));
    fs.rename_with(&p("c"), &p("d/empty"), RenameFlags::EXCHANGE)?;
    fs.rmdir(&p("c"))?;
    fs.rename_with(&p("d/empty"), &p("c2"), RenameFlags::NO_REPLACE)?;
    fs.unlink(&p("d/a"))?;
    fs.fsync_dir(&p("d"))?;
    fs.syncfs()?;
    Ok(failures)
}

#[test]
fn the_new_operations_leave_the_same_tree_on_both_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let real = RealFs::open(tmp.path()).unwrap();
    let sim = SimFs::new();
    let real_failures = new_operations(&real).unwrap();
    let sim_failures = new_operations(&sim).unwrap();
    assert_eq!(real_failures, sim_failures);
    assert_eq!(
        sim_failures,
        [
            FsErrorKind::AlreadyExists,
            FsErrorKind::PermissionDenied,
            FsErrorKind::AlreadyExists,
            FsErrorKind::NotEmpty,
            FsErrorKind::NotADirectory,
            FsErrorKind::Symlink,
            FsErrorKind::IsADirectory,
        ]
    );
    let back = read_back(tmp.path());
    assert!(
        back == sim.image(),
        "the backends differ:\n{}",
        differences(&back, &sim.image())
    );
    let p = |s: &str| RelPath::new(s).unwrap();
    assert_eq!(back.nlink(&p("b")), Some(1), "d/a was unlinked");
    assert_eq!(back.mode(&p("b")), FileMode::new(0o640));
    assert_eq!(back.mode(&p("c2")), FileMode::new(0o604));
    for path in ["b", "c2", "s"] {
        assert_eq!(
            real.stat(&p(path))
                .unwrap()
                .map(|m| (m.kind, m.len, m.nlink)),
            sim.stat(&p(path))
                .unwrap()
                .map(|m| (m.kind, m.len, m.nlink)),
            "{path}"
        );
    }
}

/// Every distinct crash state of `subject` under `model`, recovered by `recover_on` on the real
/// backend and by the subject's recovery on the simulator: both must end alike. Returns how many
/// states were checked.
fn cross_check_example<S: Subject>(
    subject: &S,
    model: &dyn Model,
    block_size: usize,
    recover_on: impl Fn(&RealFs) -> Result<(), String>,
) -> usize {
    let setup = subject.setup();
    let fs = SimFs::from_image(&setup);
    let mut acks = AckLog::new();
    subject.run(&fs, &mut acks);
    let trace = fs.trace();
    let res = model.resolve(&trace);
    let mut walk = CrashWalk::new(model, &setup, &trace, &res, block_size);
    let mut seen = BTreeSet::new();
    let mut distinct = Vec::new();
    for cp in 0..=trace.len() {
        let point = walk.point(cp);
        point.for_each_state(&Bounds::default(), 0, |_, choice| {
            let image = point.build(choice);
            if seen.insert(image.fingerprint()) {
                distinct.push((cp, image));
            }
            ControlFlow::Continue(())
        });
    }
    for (cp, crashed) in &distinct {
        let name = format!(
            "{} under {}, crash point {cp}",
            subject.name(),
            model.name()
        );
        let tmp = tempfile::tempdir().unwrap();
        materialize(crashed, tmp.path());
        let copy = read_back(tmp.path());
        assert!(
            copy == *crashed,
            "{name}: unfaithful copy:\n{}",
            differences(crashed, &copy)
        );
        let real = RealFs::open(tmp.path()).unwrap();
        let real_result = recover_on(&real);
        let sim = SimFs::from_image(crashed);
        let sim_result = subject.recover(&sim);
        assert_eq!(real_result, sim_result, "{name}");
        let back = read_back(tmp.path());
        assert!(
            back == sim.image(),
            "{name}: the recoveries differ:\n{}",
            differences(&back, &sim.image())
        );
    }
    distinct.len()
}

#[test]
fn wal_and_pager_crash_states_recover_alike_on_both_backends() {
    // 16-byte blocks, so that the log's appends also tear.
    for model in all_models() {
        let model = model.as_ref();
        let wal = wal::Wal::new(wal::WalVariant::Correct, 3);
        let n = cross_check_example(&wal, model, 16, |fs| wal.recover_on(fs));
        assert!(n > 4, "{}: {n} states", model.name());
        let pager = pager::Pager::new(pager::PagerVariant::Correct);
        let n = cross_check_example(&pager, model, 16, pager::Pager::recover_on);
        assert!(n > 4, "{}: {n} states", model.name());
    }
}
