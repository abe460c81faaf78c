//! Real process crashes: the test binary re-executes itself as a child that commits updates in
//! a loop and prints `@crashsafe-ack <counter>` after each commit returns `Ok`; the parent SIGKILLs it at a
//! seeded random moment, runs recovery, and checks the whole root against a model of every
//! acknowledged transaction plus, for the one in flight, either its old or its new state (all or
//! nothing for an atomic batch): every target wholly one content, every acknowledged update
//! present with its increment, an increment iff its update stands, no temp, no entry, nothing
//! else. The same root carries on across rounds, so each child starts from a recovered history.
//!
//! `CRASHSAFE_KILL_ROUNDS=N` runs N rounds (default 20); `CRASHSAFE_KILL_SEED=S` replays a seed.
//! Without it the seed is taken from the clock; either way the test prints
//! `process_crash seed S (N rounds); replay: …` (visible with `-- --nocapture`), and a failure
//! repeats the seed and the replay command in its message, e.g.
//!
//! ```text
//! CRASHSAFE_KILL_SEED=1234 CRASHSAFE_KILL_ROUNDS=20 cargo test --test process_crash -- \
//!     --exact sigkill_at_random_moments_then_recovery_keeps_every_invariant --nocapture
//! ```

mod common;

use common::{jdir, p, snapshot, Node};
use crashsafe::fs::real::RealFs;
use crashsafe::journal::recover::update_happened;
use crashsafe::journal::{Journal, Source, Update};
use crashsafe::sim::rng::SplitMix64;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "CRASHSAFE_CHILD_ROOT";
const START_ENV: &str = "CRASHSAFE_CHILD_START";
/// What the child prints before each acknowledged counter. libtest may print
/// `test child_commits_until_killed ... ` on the same line first, so it is searched for.
const ACK: &str = "@crashsafe-ack ";
const CHILD_TEST: &str = "child_commits_until_killed";
const TARGETS: [&str; 4] = ["t0", "t1", "d/t2", "d/t3"];
/// Counters of round r start at r * ROUND_SPAN, so every content ever written is unique.
const ROUND_SPAN: u64 = 1_000_000;
/// A child stops by itself after this many commits, should the parent never kill it.
const CHILD_CAP: u64 = 2_000;

/// One update of the deterministic workload.
#[derive(Debug, Clone)]
struct Op {
    target: &'static str,
    /// `None` deletes the target.
    new: Option<Vec<u8>>,
    /// Streamed from a reader rather than given as bytes.
    stream: bool,
    increment: Option<(String, Vec<u8>)>,
}

/// Sizes straddling the 4 KiB block and the 256 KiB copy chunk.
const SIZES: [usize; 7] = [40, 4095, 4096, 4097, 12_289, 100, 262_145];

/// Content `i` of transaction `c`: a header naming them, then filler, `size` bytes in all.
fn content(c: u64, i: usize, target: &str) -> Vec<u8> {
    let size = SIZES[(c as usize * 3 + i) % SIZES.len()];
    let mut out = format!("c={c} i={i} t={target};").into_bytes();
    let mut x = c.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64;
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    out
}

fn increment(c: u64, i: usize) -> Option<(String, Vec<u8>)> {
    Some((
        format!("inc/{c}.{i}"),
        format!("increment {c}.{i}").into_bytes(),
    ))
}

/// Transaction `c`: its updates and whether it is an atomic batch.
fn transaction(c: u64) -> (Vec<Op>, bool) {
    let t = |k: u64| TARGETS[(k % TARGETS.len() as u64) as usize];
    let write = |i: usize, target: &'static str, inc: bool, stream: bool| Op {
        target,
        new: Some(content(c, i, target)),
        stream,
        increment: if inc { increment(c, i) } else { None },
    };
    match c % 8 {
        0 | 1 => (vec![write(0, t(c), true, false)], false),
        2 => (vec![write(0, t(c), false, true)], false),
        3 => (
            vec![Op {
                target: t(c / 8),
                new: None,
                stream: false,
                increment: None,
            }],
            false,
        ),
        4 => (
            vec![
                write(0, t(c), true, false),
                write(1, t(c + 1), false, false),
            ],
            false,
        ),
        5 => (
            vec![
                write(0, t(c), true, false),
                write(1, t(c + 1), true, true),
                Op {
                    target: t(c + 2),
                    new: None,
                    stream: false,
                    increment: increment(c, 2),
                },
            ],
            true,
        ),
        6 => (
            vec![
                write(0, t(c), false, false),
                write(1, t(c + 3), true, false),
            ],
            true,
        ),
        _ => (vec![write(0, t(c), true, false)], false),
    }
}

fn to_update(op: &Op) -> Update {
    let target = p(op.target);
    let update = match (&op.new, op.stream) {
        (None, _) => Update::delete(target),
        (Some(data), false) => Update::write(target, data.clone()),
        (Some(data), true) => Update::stream(target, std::io::Cursor::new(data.clone())),
    };
    match &op.increment {
        Some((path, data)) => update.with_increment(p(path), Source::Bytes(data.clone())),
        None => update,
    }
}

/// The child: commits transactions from `CRASHSAFE_CHILD_START` on until killed. Does nothing
/// unless `CRASHSAFE_CHILD_ROOT` is set.
#[test]
fn child_commits_until_killed() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let mut journal = Journal::open(RealFs::open(Path::new(&root)).unwrap(), jdir()).unwrap();
    if !journal.is_ready() {
        journal.recover().unwrap();
    }
    let mut stdout = std::io::stdout().lock();
    for c in start..start + CHILD_CAP {
        let (ops, atomic) = transaction(c);
        let updates = ops.iter().map(to_update).collect();
        journal.commit_batch(updates, atomic).unwrap();
        writeln!(stdout, "{ACK}{c}").unwrap();
        stdout.flush().unwrap();
    }
}

/// Kills the child if the parent panics before it does.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the root must hold: targets and increments.
#[derive(Debug, Clone, Default)]
struct Model {
    files: BTreeMap<String, Vec<u8>>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match &op.new {
            Some(data) => self.files.insert(op.target.to_string(), data.clone()),
            None => self.files.remove(op.target),
        };
        if let Some((path, data)) = &op.increment {
            self.files.insert(path.clone(), data.clone());
        }
    }

    fn tree(&self) -> BTreeMap<PathBuf, Node> {
        let mut out = BTreeMap::new();
        for dir in [".crashsafe", ".crashsafe/journal", "d", "inc"] {
            out.insert(PathBuf::from(dir), Node::Dir);
        }
        for (path, data) in &self.files {
            out.insert(PathBuf::from(path), Node::File(data.clone()));
        }
        out
    }
}

fn describe(data: Option<&Vec<u8>>) -> String {
    match data {
        None => "absent".into(),
        Some(d) => {
            let head = d.iter().take(32).map(|&b| b as char).collect::<String>();
            format!("{} bytes starting {head:?}", d.len())
        }
    }
}

/// The counter acknowledged on a line of the child's output, if any.
fn parse_ack(line: &str) -> Option<u64> {
    let at = line.rfind(ACK)?;
    Some(
        line[at + ACK.len()..]
            .trim()
            .parse()
            .expect("an acknowledged counter"),
    )
}

/// Starts the child at `start`, kills it after `acks` acknowledgements plus `delay`, and returns
/// every counter it acknowledged, checked to be `start, start + 1, ...`.
fn kill_child(root: &Path, start: u64, acks: u64, delay: Duration) -> Result<Vec<u64>, String> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, root)
        .env(START_ENV, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let mut lines = BufReader::new(guard.0.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while (acked.len() as u64) < acks {
        match lines.next() {
            Some(line) => {
                let line = line.unwrap();
                if let Some(c) = parse_ack(&line) {
                    acked.push(c);
                }
            }
            None => return Err(format!("the child exited early after {} acks", acked.len())),
        }
    }
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
    guard.0.kill().unwrap();
    guard.0.wait().unwrap();
    for line in lines {
        if let Some(c) = parse_ack(&line.unwrap()) {
            acked.push(c);
        }
    }
    let expected: Vec<u64> = (start..start + acked.len() as u64).collect();
    if acked != expected {
        return Err(format!("acks out of order: {acked:?}"));
    }
    Ok(acked)
}

/// What differs between the tree `found` and the tree `want`, one line per path.
fn tree_diff(found: &BTreeMap<PathBuf, Node>, want: &BTreeMap<PathBuf, Node>) -> Vec<String> {
    let mut diff = Vec::new();
    for (k, v) in want {
        match found.get(k) {
            Some(f) if f == v => {}
            Some(_) => diff.push(format!("{} differs", k.display())),
            None => diff.push(format!("{} missing", k.display())),
        }
    }
    for k in found.keys().filter(|k| !want.contains_key(*k)) {
        diff.push(format!("{} unexpected", k.display()));
    }
    diff
}

/// One round: start the child at `start`, kill it after `acks` acknowledgements plus `delay`,
/// recover, and check against `model`, which is brought up to date.
fn round(
    root: &Path,
    model: &mut Model,
    start: u64,
    acks: u64,
    delay: Duration,
) -> Result<String, String> {
    let acked = kill_child(root, start, acks, delay)?;
    for &c in &acked {
        for op in transaction(c).0 {
            model.apply(&op);
        }
    }

    let mut journal = Journal::open(RealFs::open(root).unwrap(), jdir()).unwrap();
    let report = journal
        .recover()
        .map_err(|e| format!("recovery failed: {e}"))?;
    if !report.refused.is_empty() {
        return Err(format!("recovery refused entries: {:?}", report.refused));
    }
    let found = snapshot(root);
    let in_flight = start + acked.len() as u64;
    let applied = in_flight_applied(model, in_flight, &found)?;
    for (op, &done) in transaction(in_flight).0.iter().zip(&applied) {
        if done {
            model.apply(op);
        }
    }
    let want = model.tree();
    if found != want {
        return Err(format!(
            "after recovery (in flight: transaction {in_flight}, applied {applied:?}): {}",
            tree_diff(&found, &want).join("; ")
        ));
    }
    let again = journal
        .recover()
        .map_err(|e| format!("second recovery failed: {e}"))?;
    if !again.outcomes.is_empty() || snapshot(root) != want {
        return Err(format!("second recovery was not a no-op: {again:?}"));
    }
    Ok(format!(
        "{} acked, recovery acted on {} update(s) and discarded {} torn entr(ies); \
         transaction {in_flight} {}",
        acked.len(),
        report.outcomes.len(),
        report.discarded.len(),
        if applied.iter().all(|&d| d) {
            "done"
        } else if applied.iter().any(|&d| d) {
            "partly done"
        } else {
            "not done"
        }
    ))
}

/// The transaction in flight (`in_flight`, after those `model` holds), done or not per update
/// in the recovered tree `found`; all or none for an atomic batch.
fn in_flight_applied(
    model: &Model,
    in_flight: u64,
    found: &BTreeMap<PathBuf, Node>,
) -> Result<Vec<bool>, String> {
    let file = |path: &str| match found.get(Path::new(path)) {
        Some(Node::File(d)) => Some(d.clone()),
        Some(other) => panic!("{path} is {other:?}"),
        None => None,
    };
    let (ops, atomic) = transaction(in_flight);
    let mut applied = Vec::new();
    for op in &ops {
        let old = model.files.get(op.target).cloned();
        let now = file(op.target);
        if now != old && now != op.new {
            return Err(format!(
                "transaction {in_flight}: {} is {}, neither its old content ({}) nor its new ({})",
                op.target,
                describe(now.as_ref()),
                describe(old.as_ref()),
                describe(op.new.as_ref()),
            ));
        }
        // The journal's one rule (a deletion of an absent target: only the increment can tell).
        let increment = op.increment.as_ref();
        let increment_complete = increment.map(|(i, bytes)| || file(i).as_ref() == Some(bytes));
        applied.push(update_happened(&old, &op.new, &now, increment_complete));
    }
    if atomic && applied.iter().any(|&d| d != applied[0]) {
        return Err(format!(
            "atomic transaction {in_flight} is half done: {applied:?} for {:?}",
            ops.iter().map(|o| o.target).collect::<Vec<_>>()
        ));
    }
    Ok(applied)
}

#[test]
fn sigkill_at_random_moments_then_recovery_keeps_every_invariant() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let rounds: u64 = std::env::var("CRASHSAFE_KILL_ROUNDS")
        .ok()
        .map(|s| s.parse().expect("CRASHSAFE_KILL_ROUNDS is a number"))
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASHSAFE_KILL_SEED")
        .ok()
        .map(|s| s.parse().expect("CRASHSAFE_KILL_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let replay = format!(
        "CRASHSAFE_KILL_SEED={seed} CRASHSAFE_KILL_ROUNDS={rounds} cargo test --test process_crash -- \
         --exact sigkill_at_random_moments_then_recovery_keeps_every_invariant --nocapture"
    );
    println!("process_crash seed {seed} ({rounds} rounds); replay: {replay}");
    let mut rng = SplitMix64::new(seed);
    let mut below = |n: u64| rng.below(n).expect("a non-empty range");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for dir in ["d", "inc"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let mut model = Model::default();
    for r in 0..rounds {
        let start = (r + 1) * ROUND_SPAN + below(8);
        let acks = below(6);
        let delay = Duration::from_micros(below(25_000));
        match round(&root, &mut model, start, acks, delay) {
            Ok(summary) => {
                println!("round {r}: start {start}, kill after {acks} acks + {delay:?}: {summary}")
            }
            Err(e) => panic!(
                "round {r} (start {start}, kill after {acks} acks + {delay:?}): {e}\nseed {seed}; \
                 replay: {replay}"
            ),
        }
    }
}

#[test]
fn workload_contents_are_unique_and_straddle_4_kib() {
    let mut seen = std::collections::BTreeSet::new();
    let mut sizes = std::collections::BTreeSet::new();
    for c in 0..64 {
        let (ops, _) = transaction(ROUND_SPAN + c);
        let targets: std::collections::BTreeSet<_> = ops.iter().map(|o| o.target).collect();
        assert_eq!(
            targets.len(),
            ops.len(),
            "transaction {c} names a target twice"
        );
        for op in ops {
            if let Some(d) = op.new {
                sizes.insert(d.len());
                assert!(seen.insert(d), "content repeated");
            }
        }
    }
    assert!(sizes.contains(&4095) && sizes.contains(&4096) && sizes.contains(&4097));
}
