//! Recovery memoized by what it observes.
//!
//! A subject may declare ([`Subject::recovery_observes_only_fs`]) that its recovery is a
//! deterministic program whose only input is the replies of its calls on the [`SimFs`] it is
//! given: no clock, no randomness, no host file, nothing kept from one run to the next. Such a
//! recovery, run on two crash states, makes the same first call; and as long as every call got
//! the same reply in both runs, it makes the same next call, with the same arguments, and returns
//! the same result once the calls end. So recovery is a decision tree: each node a call, each
//! edge a reply, each leaf what recovery returned.
//!
//! [`RecoveryMemo`] keeps the part of that tree that the crash states checked so far have
//! walked. For a new crash state it walks the tree on a fresh [`SimFs`] of the state: it makes
//! each node's call (a query is answered, a mutation is applied, as recovery would make them)
//! and follows the edge of the reply it gets. If it reaches a leaf, every reply matched a run of
//! the real recovery, so by the argument above the real recovery would have made exactly these
//! calls on this state and returned the leaf's result: the filesystem after the walk (its live
//! image, its trace, its open files' orphans) is the one recovery would have left, without
//! recovery's own work (decoding and validating its journal, planning, formatting). If a reply
//! has no edge yet, the walk is dropped and recovery runs for real on a fresh filesystem of the
//! state, observed; its calls and replies become a new branch of the tree.
//!
//! Handles are named by serial (the count of handles opened before), which both runs share
//! because they open the same handles in the same order; a handle's inode number is never
//! observable (see [`super::fs::SimFile`]).
//!
//! Results do not depend on the memo (it changes what is computed, not what comes out), so they
//! do not depend on which thread taught it what, nor on the order.

use super::explore::Subject;
use super::fs::observe::{reply_weight, Call, Observation, Reply};
use super::fs::SimFs;
use super::image::Image;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::RwLock;

/// How many bytes (about) the tree may keep; past it, it stops growing but still answers.
const BUDGET: usize = 64 << 20;

/// What recovery returned (`Ok`), or the payload of its panic (`Err`).
pub(crate) type Outcome = Result<Result<(), String>, Box<dyn Any + Send>>;

/// The decision tree of one subject's recovery, as far as it is known (see the module's doc).
/// Shared by the explorer's threads.
pub(crate) struct RecoveryMemo {
    tree: RwLock<Tree>,
}

#[derive(Default)]
struct Tree {
    /// Node 0 is the root (recovery's first call), once recovery has run once.
    steps: Vec<Step>,
    /// About how many bytes the nodes keep.
    weight: usize,
}

/// A node of the tree.
enum Step {
    /// Recovery's next call, and the node each reply seen so far leads to.
    Call {
        call: Call,
        next: Vec<(Reply, usize)>,
    },
    /// Recovery returned this.
    End(Result<(), String>),
}

impl Default for RecoveryMemo {
    fn default() -> Self {
        RecoveryMemo::new()
    }
}

impl RecoveryMemo {
    /// Knows nothing yet.
    pub(crate) fn new() -> RecoveryMemo {
        RecoveryMemo {
            tree: RwLock::new(Tree::default()),
        }
    }

    /// How many nodes the tree has.
    #[cfg(test)]
    fn nodes(&self) -> usize {
        self.read().steps.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    fn full(&self) -> bool {
        self.read().weight >= BUDGET
    }

    /// Walks the tree on a fresh filesystem of `crashed`: the filesystem recovery would leave
    /// and what it would return, if every reply has an edge.
    fn replay(&self, crashed: &Image) -> Option<(SimFs, Result<(), String>)> {
        let tree = self.read();
        if tree.steps.is_empty() {
            return None;
        }
        let fs = SimFs::from_image(crashed);
        let mut handles = Vec::new();
        let mut at = 0;
        loop {
            match &tree.steps[at] {
                Step::End(end) => return Some((fs, end.clone())),
                Step::Call { call, next } => {
                    let reply = call.make(&fs, &mut handles)?;
                    at = next.iter().find(|(r, _)| *r == reply)?.1;
                }
            }
        }
    }

    /// Adds one real run of recovery: its calls and replies, and what it returned. A run that
    /// contradicts the tree (a different call after the same replies) means the subject's
    /// declaration is false; it is not added (and debug builds stop on it).
    fn learn(&self, log: Vec<Observation>, end: Result<(), String>) {
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        if tree.weight >= BUDGET {
            return;
        }
        if tree.steps.is_empty() {
            tree.grow(log, end);
            return;
        }
        let mut at = 0;
        let mut log = log.into_iter();
        loop {
            let seen = log.next();
            let fresh = tree.steps.len();
            match (&mut tree.steps[at], seen) {
                (Step::Call { call, next }, Some(seen)) if *call == seen.call => {
                    match next.iter().find(|(r, _)| *r == seen.reply) {
                        Some(&(_, to)) => at = to,
                        None => {
                            next.push((seen.reply.clone(), fresh));
                            tree.weight += reply_weight(&seen.reply);
                            tree.grow(log.collect(), end);
                            return;
                        }
                    }
                }
                (Step::End(known), None) if *known == end => return,
                _ => {
                    debug_assert!(
                        false,
                        "recovery made other calls after the same replies: it observes more \
                         than its filesystem's replies"
                    );
                    return;
                }
            }
        }
    }
}

impl Tree {
    /// Appends the chain of `log`'s calls ending in `end`, starting at node `steps.len()`.
    fn grow(&mut self, log: Vec<Observation>, end: Result<(), String>) {
        for seen in log {
            let to = self.steps.len() + 1;
            self.weight += seen.call.weight() + reply_weight(&seen.reply) + STEP;
            self.steps.push(Step::Call {
                call: seen.call,
                next: vec![(seen.reply, to)],
            });
        }
        self.weight += STEP + end.as_ref().err().map_or(0, String::len);
        self.steps.push(Step::End(end));
    }
}

/// The bytes of a node beside its call and replies.
const STEP: usize = std::mem::size_of::<Step>() + std::mem::size_of::<(Reply, usize)>();

/// Recovers `crashed`: through `memo` if given and it knows the way, else by running
/// `subject`'s recovery (catching a panic), teaching `memo` what the run observed. Returns the
/// filesystem after recovery and what recovery returned.
pub(crate) fn recover<S: Subject>(
    subject: &S,
    memo: Option<&RecoveryMemo>,
    crashed: &Image,
) -> (SimFs, Outcome) {
    if let Some(found) = memo.and_then(|m| m.replay(crashed)) {
        let (fs, end) = found;
        return (fs, Ok(end));
    }
    let fs = SimFs::from_image(crashed);
    let learning = memo.filter(|m| !m.full());
    fs.observe(learning.is_some());
    let outcome = catch_unwind(AssertUnwindSafe(|| subject.recover(&fs)));
    let log = fs.observations();
    if let (Some(memo), Ok(end)) = (learning, &outcome) {
        memo.learn(log, end.clone());
    }
    (fs, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::suite::subject_by_name;
    use crate::check::workload::JournalSubject;
    use crate::sim::{AckLog, CheckContext, ExploreConfig, ExploreReport, Violation};

    /// The journal's subject without the declaration: recovery always runs.
    struct Unmemoized(JournalSubject);

    impl Subject for Unmemoized {
        type Ack = <JournalSubject as Subject>::Ack;
        fn name(&self) -> String {
            self.0.name()
        }
        fn setup(&self) -> Image {
            self.0.setup()
        }
        fn run(&self, fs: &SimFs, acks: &mut AckLog<Self::Ack>) {
            self.0.run(fs, acks)
        }
        fn recover(&self, fs: &SimFs) -> Result<(), String> {
            self.0.recover(fs)
        }
        fn check(&self, ctx: &CheckContext<'_, Self::Ack>) -> Vec<Violation> {
            self.0.check(ctx)
        }
        fn check_reads_crashed(&self) -> bool {
            self.0.check_reads_crashed()
        }
    }

    /// What a report says, without its timing.
    fn outcome(r: &ExploreReport) -> impl PartialEq + std::fmt::Debug {
        let all: Vec<_> = r
            .violations
            .iter()
            .map(|c| (c.token.clone(), c.violation.clone()))
            .collect();
        let kinds: Vec<_> = r
            .by_invariant
            .iter()
            .map(|f| {
                (
                    f.kind,
                    f.invariant.clone(),
                    f.count,
                    f.smallest.token.clone(),
                )
            })
            .collect();
        (r.power, r.process, r.violation_count, all, kinds)
    }

    #[test]
    fn replayed_recovery_gives_what_running_recovery_gives() {
        let config = ExploreConfig {
            jobs: 2,
            k: 1,
            process_points: 4,
            ..Default::default()
        };
        let mut violations = 0;
        for name in [
            "create-delete",
            "replace-one+decide-by-temp-presence",
            "poisoned-reopen+no-recovery-dir-fsync",
            "batch-8-atomic+roll-forward-without-commit-record",
        ] {
            let subject = subject_by_name(name).expect("a suite workload");
            assert!(subject.recovery_observes_only_fs());
            for model in crate::sim::all_models() {
                let memoized = crate::sim::explore(&subject, model.as_ref(), &config);
                let plain = Unmemoized(subject.clone());
                let ran = crate::sim::explore(&plain, model.as_ref(), &config);
                assert_eq!(
                    outcome(&memoized),
                    outcome(&ran),
                    "{name}, {}",
                    model.name()
                );
                violations += memoized.violation_count;
            }
        }
        assert!(violations > 0, "the defects give violations to compare");
    }

    #[test]
    fn a_state_with_the_same_replies_is_replayed_and_ends_where_recovery_ends() {
        let subject = subject_by_name("batch-8-atomic").expect("a suite workload");
        let fs = SimFs::from_image(&subject.setup());
        let mut acks = AckLog::new();
        subject.run(&fs, &mut acks);
        let crashed = fs.image();
        let memo = RecoveryMemo::new();
        let (first, outcome) = recover(&subject, Some(&memo), &crashed);
        assert!(matches!(outcome, Ok(Ok(()))));
        let learned = memo.nodes();
        assert!(learned > 1, "recovery's calls were kept");
        let replayed = memo
            .replay(&crashed)
            .expect("the same state gives the same replies");
        assert_eq!(replayed.1, Ok(()));
        assert_eq!(replayed.0.image(), first.image());
        assert_eq!(replayed.0.trace(), first.trace());
        // A state recovery sees differently is not replayed (the tree has no edge for it).
        let mut other = crashed.clone();
        other.put_file(&crate::path::RelPath::new("unrelated").unwrap(), b"x");
        let dir = crate::check::workload::journal_dir();
        other.put_file(&dir.join("garbage").unwrap(), b"not an entry");
        assert!(memo.replay(&other).is_none());
        assert_eq!(memo.nodes(), learned);
    }
}
