//! The generic explorer: for a workload ([`Subject`]), every crash state a [`Model`] allows at
//! every crash point, recovery on each, and the subject's invariants checked after it.
//!
//! [`explore`] runs the workload once on a [`SimFs`] and, for each crash point of its trace and
//! each crash state there ([`super::states`]):
//!
//! 1. runs [`Subject::recover`] on [`SimFs::from_image`] of the state (an `Err` is a
//!    `recovery-error` violation);
//! 2. runs recovery again on what the first left: any change is an `idempotent` violation;
//! 3. calls [`Subject::check`];
//! 4. *crash during recovery*: the recovery's own operations are crash points under the same
//!    model; each of their states is recovered and checked the same way (with the same acks),
//!    recursively to [`ExploreConfig::recovery_depth`] levels.
//!
//! A state is checked once per distinct (durable image, acknowledgements visible): the same image
//! met again at a crash point with the same acks, at the same or a shallower remaining recovery
//! depth, is skipped. For a subject whose check ignores the crashed state
//! ([`Subject::check_reads_crashed`]), steps 2 and 3 run once per distinct (recovered image,
//! acks): every other state that recovers to that image gets the same verdict (see
//! `engine::Verdicts` for why that loses nothing). With [`ExploreConfig::inject_errors`], the workload is run again once per
//! mutating call and fault kind with that call failing ([`Fault`]), and the crash points from the
//! fault on are explored the same way.
//!
//! A subject that declares independent factors ([`Subject::factoring`]) has, under a model whose
//! operations persist independently, only the states departing in one factor enumerated at each
//! crash point, and only the factor that changed since the previous one ([`super::factor`]
//! says why the others' verdicts are those of states kept). Under any model, such a subject's
//! states that would not be explored deeper and whose every factor was already seen, with the
//! same shared paths and acks, in a state found clean are not checked (`src/sim/cover.rs` says
//! why they are clean).
//!
//! Work is spread over [`ExploreConfig::jobs`] threads; counts, violations and their order do not
//! depend on it. Violations come smallest first (fewest operations before the crash point, then
//! fewest non-durable operations persisted), each with a replay token ([`super::token`]) that
//! [`replay`] turns back into the same state.

use super::engine;
use super::factor::Factoring;
use super::fs::{Fault, SimFs};
use super::image::Image;
use super::model::Model;
use super::token::ReplayToken;
use crate::path::RelPath;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A workload to explore: how to set it up, run it, recover from a crash, and check the result.
pub trait Subject: Sync {
    /// What the workload acknowledges (or announces) as it runs; the checker gets the ones
    /// pushed before the crash point.
    type Ack: Clone + fmt::Debug + Send + Sync;

    /// The subject's name (in reports and replay tokens).
    fn name(&self) -> String;

    /// The durable image before the workload.
    fn setup(&self) -> Image;

    /// The workload. Push `acks.push(fs.op_count(), ack)` when something is acknowledged (or is
    /// about to start). It must be deterministic: replay runs it again.
    fn run(&self, fs: &SimFs, acks: &mut AckLog<Self::Ack>);

    /// Recovery, run on [`SimFs::from_image`] of a crash state.
    fn recover(&self, fs: &SimFs) -> Result<(), String>;

    /// The invariants, checked after recovery. Must depend only on `setup`, `crashed`,
    /// `recovered` and `acks` (`crash_point` is for messages): states are deduplicated on that.
    fn check(&self, ctx: &CheckContext<'_, Self::Ack>) -> Vec<Violation>;

    /// Whether [`Subject::check`] may read `crashed` or `crash_point`. A subject that answers
    /// `false` promises that its check is a function of `setup`, `recovered` and `acks` alone;
    /// the explorer then judges each distinct (recovered image, acks) once and gives every
    /// crash state that recovers to it that verdict (recovery run again included). The
    /// default, `true`, makes no such promise.
    fn check_reads_crashed(&self) -> bool {
        true
    }

    /// The workload's independent factors, if the subject declares any: disjoint sets of paths
    /// such that recovery and the check act on each factor as a function of the shared paths
    /// and that factor alone (the promise is spelled out in [`super::factor`]). The explorer
    /// then checks, at each crash point of the workload's runs, the states departing in one
    /// factor instead of their product, under a model whose operations persist independently.
    /// The default, `None`, declares nothing: every state is enumerated.
    fn factoring(&self) -> Option<Factoring> {
        None
    }

    /// The regular files of a crash image whose bytes (content and length) recovery and the
    /// check never read, as one function of the image: the explorer asks for it once per
    /// exploration (a subject works out there what it needs from itself alone) and calls it
    /// for every crash state. A subject declaring them promises, for any two images `I` and
    /// `J` that differ only in the bytes of files the function names in `I` (each with one
    /// name): it names the same files in `J`; recovery on `I` and on `J` issues the same
    /// operations and ends alike (the same error, or recovered images that are equal); and the
    /// check of the two recovered images is the same. The explorer then counts such states as
    /// one distinct state, checks the first it meets, and explores crashes inside that one's
    /// recovery only: its recovery's crash states are, one for one, those of the others' up to
    /// the same bytes, so the promise covers them too (see `src/sim/engine.rs`,
    /// `Shared::state_fp`). For that the promise also says: recovery's operations name those
    /// files only to unlink them, and in every crash state inside recovery on `I` the files of
    /// `I` still there are named again.
    /// The default names none: states are told apart by every byte.
    fn unread_files(&self) -> UnreadFilesFn<'_> {
        Box::new(|_| Vec::new())
    }
}

/// What [`Subject::unread_files`] returns: the files of a crash image whose bytes recovery
/// and the check never read.
pub type UnreadFilesFn<'a> = Box<dyn Fn(&Image) -> Vec<RelPath> + Sync + 'a>;

/// The acknowledgements a workload pushed, each with the trace length when it was pushed.
#[derive(Debug, Clone)]
pub struct AckLog<A> {
    entries: Vec<(usize, A)>,
}

impl<A> Default for AckLog<A> {
    fn default() -> Self {
        AckLog {
            entries: Vec::new(),
        }
    }
}

impl<A> AckLog<A> {
    /// An empty log.
    pub fn new() -> AckLog<A> {
        AckLog::default()
    }

    /// Records `ack`, pushed when the trace held `op_index` operations ([`SimFs::op_count`]). A
    /// crash at crash point `op_index` or later sees it.
    pub fn push(&mut self, op_index: usize, ack: A) {
        if let Some((last, _)) = self.entries.last() {
            debug_assert!(*last <= op_index, "acks are pushed in trace order");
        }
        self.entries.push((op_index, ack));
    }

    /// Every entry, in the order pushed.
    pub fn entries(&self) -> &[(usize, A)] {
        &self.entries
    }

    /// Drops the entries a crash at crash point `cp` does not see: what a process that died
    /// there had acknowledged.
    pub(crate) fn truncate_visible(&mut self, cp: usize) {
        let keep = self.visible_at(cp);
        self.entries.truncate(keep);
    }

    /// How many entries a crash at crash point `cp` sees.
    pub fn visible_at(&self, cp: usize) -> usize {
        self.entries.partition_point(|(i, _)| *i <= cp)
    }
}

/// What [`Subject::check`] gets.
#[derive(Debug)]
pub struct CheckContext<'a, A> {
    /// The durable image before the workload.
    pub setup: &'a Image,
    /// The crash state, before recovery.
    pub crashed: &'a Image,
    /// The image after recovery.
    pub recovered: &'a Image,
    /// The acks pushed at an op index at most the crash point of the workload trace.
    pub acks: &'a [(usize, A)],
    /// The crash point in the workload trace.
    pub crash_point: usize,
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's short name (`atomic`, `durable`, `idempotent`, `recovery-error`…).
    pub invariant: String,
    /// What was seen.
    pub message: String,
}

impl Violation {
    /// A violation of `invariant`.
    pub fn new(invariant: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation {
            invariant: invariant.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.message)
    }
}

/// How the process running the workload ended at a crash point.
///
/// - [`CrashKind::Power`]: power loss. Only what the model lets reach the disk survives;
///   recovery runs after reboot on that durable state.
/// - [`CrashKind::Process`]: the process dies (SIGKILL, OOM kill, a panic, an fsync error it
///   gives up on) but the machine keeps running. The kernel's page cache still holds everything
///   the process issued, durable or not, and recovery runs *in the same boot* on that live view
///   (after an EIO the live view even shows data that a failed fsync dropped for good). Recovery's
///   operations join the same trace, so a power loss at any point of recovery, or after it, may
///   leave any state the model allows over the workload's pending operations and recovery's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrashKind {
    /// Power loss: recovery runs on a crash state the model allows.
    Power,
    /// Process crash: recovery runs on the live view, then a power loss may follow.
    Process,
}

impl CrashKind {
    /// Both kinds, in report order.
    pub const ALL: [CrashKind; 2] = [CrashKind::Power, CrashKind::Process];

    /// The kind of a state reached after the process crash points `process` (none: power).
    pub(crate) fn of(process: &[usize]) -> CrashKind {
        if process.is_empty() {
            CrashKind::Power
        } else {
            CrashKind::Process
        }
    }

    /// `"power"` or `"process"`, as reports and replay tokens spell it.
    pub fn name(self) -> &'static str {
        match self {
            CrashKind::Power => "power",
            CrashKind::Process => "process",
        }
    }
}

impl fmt::Display for CrashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The counts of one crash kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Crash points explored: for [`CrashKind::Process`], the points of recovery (and nested
    /// recoveries) at which a power loss was explored, plus the process crash points themselves.
    pub crash_points: u64,
    /// Crash states enumerated.
    pub crash_states: u64,
    /// Distinct states checked first under this kind (a state met again, under either kind, is
    /// not checked twice; one skipped because its every part was seen clean, see
    /// `src/sim/cover.rs`, is not checked and not counted).
    pub distinct_states: u64,
    /// Violations found.
    pub violations: u64,
}

impl KindCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &KindCounts) {
        self.crash_points += other.crash_points;
        self.crash_states += other.crash_states;
        self.distinct_states += other.distinct_states;
        self.violations += other.violations;
    }
}

/// A progress callback: `(states done, states known so far)`.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How to explore.
#[derive(Clone)]
pub struct ExploreConfig {
    /// Past `full_bound`: every state that persists all but at most `k`, or at most `k`, of the
    /// pending operations (default 2).
    pub k: usize,
    /// Enumerate every state of a crash point when there are at most this many (default 4096).
    pub full_bound: usize,
    /// Past `full_bound`: this many seeded random states per crash point (default 16).
    pub samples: usize,
    /// The seed of the random samples (default 0).
    pub seed: u64,
    /// The torn-write granularity in bytes (default 4096).
    pub block_size: usize,
    /// Crash inside recovery, and inside the recovery after it…, to this depth (default 2).
    pub recovery_depth: usize,
    /// Also run the workload once per mutating call and fault kind with that call failing
    /// (default false).
    pub inject_errors: bool,
    /// Worker threads; 0 = all cores (default 0).
    pub jobs: usize,
    /// How many counterexamples to keep (all are counted; default 10).
    pub max_violations: usize,
    /// How many states go on to have crashes explored inside their recovery (0: all; default
    /// 4): at each crash point of the workload, that many of its distinct states; inside one
    /// recovery's exploration, that many of its states in all. They are chosen by fingerprint, a
    /// spread that depends neither on enumeration order nor on the thread count. Every state is
    /// still recovered and checked; this bounds only the nesting, whose cost is otherwise the
    /// product of the state counts of every level.
    pub recovery_fanout: usize,
    /// Also explore process crashes ([`CrashKind::Process`]): at every crash point, recovery on
    /// the live view, then every power-loss state over the workload's and recovery's operations
    /// (default true).
    pub process_crashes: bool,
    /// At how many crash points of each workload run the process crashes (0: every one, the
    /// default). Past it, that many points spread evenly from the run's first crash point to
    /// its last, both included.
    pub process_points: usize,
    /// Called periodically with `(states done, states known so far)`.
    pub progress: Option<Progress>,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig {
            k: 2,
            full_bound: 4096,
            samples: 16,
            seed: 0,
            block_size: 4096,
            recovery_depth: 2,
            inject_errors: false,
            jobs: 0,
            max_violations: 10,
            recovery_fanout: 4,
            process_crashes: true,
            process_points: 0,
            progress: None,
        }
    }
}

impl fmt::Debug for ExploreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExploreConfig")
            .field("k", &self.k)
            .field("full_bound", &self.full_bound)
            .field("samples", &self.samples)
            .field("seed", &self.seed)
            .field("block_size", &self.block_size)
            .field("recovery_depth", &self.recovery_depth)
            .field("inject_errors", &self.inject_errors)
            .field("jobs", &self.jobs)
            .field("max_violations", &self.max_violations)
            .field("recovery_fanout", &self.recovery_fanout)
            .field("process_crashes", &self.process_crashes)
            .field("process_points", &self.process_points)
            .field("progress", &self.progress.as_ref().map(|_| "…"))
            .finish()
    }
}

/// What [`explore`] found.
#[derive(Debug, Clone)]
pub struct ExploreReport {
    /// The subject's name.
    pub subject: String,
    /// The model's name.
    pub model: String,
    /// Crash points explored, in the workload (every run) and inside recoveries, both kinds.
    pub crash_points: u64,
    /// Crash states enumerated, at every level, both kinds.
    pub crash_states: u64,
    /// Distinct states checked (recovered and checked once each), both kinds; not those
    /// skipped as clean ([`KindCounts::distinct_states`]).
    pub distinct_states: u64,
    /// The counts of the power-loss kind.
    pub power: KindCounts,
    /// The counts of the process-crash kind.
    pub process: KindCounts,
    /// Operations in the (fault-free) workload trace.
    pub trace_ops: u64,
    /// Synchronisation calls in the (fault-free) workload trace.
    pub fsync_calls: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// The smallest counterexamples, at most [`ExploreConfig::max_violations`].
    pub violations: Vec<Counterexample>,
    /// Per crash kind and broken invariant: how many violations, and the smallest one (so that
    /// a caller can tell *which* invariants broke, not only the smallest violation's).
    pub by_invariant: Vec<InvariantFindings>,
    /// How many violations were found in all (kept or not).
    pub violation_count: u64,
    /// The bounds this exploration used.
    pub bounds: UsedBounds,
    /// How many independent factors its crash points were enumerated by (0: none, every
    /// combination within the bounds; see [`super::factor`]).
    pub factors: usize,
}

/// The bounds an exploration used, as [`ExploreReport::bounds`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedBounds {
    /// [`ExploreConfig::k`].
    pub k: usize,
    /// [`ExploreConfig::recovery_fanout`] (0: all).
    pub recovery_fanout: usize,
    /// [`ExploreConfig::recovery_depth`].
    pub depth: usize,
    /// [`ExploreConfig::process_points`] (0: every crash point).
    pub process_points: usize,
}

impl UsedBounds {
    /// The bounds `config` sets.
    pub fn of(config: &ExploreConfig) -> UsedBounds {
        UsedBounds {
            k: config.k,
            recovery_fanout: config.recovery_fanout,
            depth: config.recovery_depth,
            process_points: config.process_points,
        }
    }
}

impl ExploreReport {
    /// The counts of one crash kind.
    pub fn counts(&self, kind: CrashKind) -> &KindCounts {
        match kind {
            CrashKind::Power => &self.power,
            CrashKind::Process => &self.process,
        }
    }

    /// Whether no invariant was broken.
    pub fn is_clean(&self) -> bool {
        self.violation_count == 0
    }
}

/// The violations of one invariant under one crash kind.
#[derive(Debug, Clone)]
pub struct InvariantFindings {
    /// The crash kind.
    pub kind: CrashKind,
    /// The invariant's short name.
    pub invariant: String,
    /// How many violations of it were found.
    pub count: u64,
    /// The smallest of them.
    pub smallest: Counterexample,
}

/// One broken invariant in one crash state, with how to see it again.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// How the workload's process ended.
    pub kind: CrashKind,
    /// What broke.
    pub violation: Violation,
    /// The replay token ([`super::token`]).
    pub token: String,
    /// The operations numbered, each marked persisted / lost / torn / zeros / durable (for a
    /// process crash: which ones the dead process left pending, and which of those recovery
    /// made durable); the fault; the crash-during-recovery path; the broken invariant; then
    /// `crashsafe check --replay TOKEN`.
    pub description: String,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Explores `subject` under `model`; see the module doc.
pub fn explore<S: Subject>(
    subject: &S,
    model: &dyn Model,
    config: &ExploreConfig,
) -> ExploreReport {
    engine::explore(subject, model, config)
}

/// Re-runs exactly the state `token` names and checks it: `Ok(Some(_))` with its first violation,
/// `Ok(None)` if it is clean now, `Err` if the token does not fit this subject and model. The
/// token's seed, `k`, block size, bound and samples override `config`'s.
pub fn replay<S: Subject>(
    subject: &S,
    model: &dyn Model,
    config: &ExploreConfig,
    token: &str,
) -> Result<Option<Counterexample>, String> {
    let token = super::token::parse_token(token)?;
    if token.subject != subject.name() {
        return Err(format!(
            "the token is for subject {:?}, not {:?}",
            token.subject,
            subject.name()
        ));
    }
    if token.model != model.name() {
        return Err(format!(
            "the token is for model {:?}, not {:?}",
            token.model,
            model.name()
        ));
    }
    let config = ExploreConfig {
        seed: token.seed,
        k: token.k,
        block_size: token.block_size,
        full_bound: token.full_bound,
        samples: token.samples,
        ..config.clone()
    };
    super::replay::replay(subject, model, &config, &token)
}

/// The token naming state `path` of `subject` under `model` and `config`, with `fault`, after
/// the process crashes at the points `process` (empty: a power loss).
pub(crate) fn token_for(
    subject: &str,
    model: &str,
    config: &ExploreConfig,
    fault: Option<Fault>,
    process: &[usize],
    path: &[(usize, usize)],
) -> ReplayToken {
    ReplayToken {
        subject: subject.to_string(),
        model: model.to_string(),
        seed: config.seed,
        k: config.k,
        block_size: config.block_size,
        full_bound: config.full_bound,
        samples: config.samples,
        fault,
        process: process.to_vec(),
        path: path.to_vec(),
    }
}

#[cfg(test)]
mod tests;
