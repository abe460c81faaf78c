//! The journal under the harness: its oracle, its workloads, the built-in suite, the self-test
//! against known-bad protocols, and the reports `crashsafe check` writes.

pub mod known_bad;
pub mod oracle;
pub mod report;
pub mod suite;
pub mod workload;

use crate::sim::{explore, CrashKind, ExploreConfig, ExploreReport, Model};
use known_bad::KnownBad;
use oracle::Invariant;
use workload::JournalSubject;

/// One workload explored under one model.
#[derive(Debug)]
pub struct WorkloadResult {
    /// The model's name.
    pub model: String,
    /// The workload's name.
    pub workload: String,
    /// Updates the workload commits when nothing fails.
    pub updates: usize,
    /// What the explorer found.
    pub report: ExploreReport,
}

impl WorkloadResult {
    /// fsync-family calls per committed update in the fault-free run.
    pub fn fsyncs_per_update(&self) -> f64 {
        if self.updates == 0 {
            0.0
        } else {
            self.report.fsync_calls as f64 / self.updates as f64
        }
    }
}

/// Which slice of the work this run does: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    /// How many shards in all.
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: expected K/N"))?;
        let index: usize = k
            .parse()
            .map_err(|_| format!("--shard {s:?}: K is not a number"))?;
        let count: usize = n
            .parse()
            .map_err(|_| format!("--shard {s:?}: N is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("--shard {s:?}: need 1 <= K <= N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the `i`-th unit of work (0-based, in a fixed order) belongs to this shard.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

/// How many (model, workload) runs [`run_suite`] explores at once when it has two threads or
/// more: a run's threads wait at the end of each batch of crash points and in its sequential
/// steps, and a second run fills those gaps.
const RUNS_AT_ONCE: usize = 2;

/// Explores every subject under every model, keeping this shard's part, and returns the results
/// in a fixed order (models, then subjects). With two threads or more, two runs are explored
/// at once (`RUNS_AT_ONCE`), each on `config.jobs` threads; a run's result does not depend on
/// it.
/// `on_done` is called after each (model, workload) pair, in that fixed order.
pub fn run_suite(
    models: &[Box<dyn Model>],
    subjects: &[JournalSubject],
    config: &ExploreConfig,
    shard: Option<Shard>,
    mut on_done: impl FnMut(&WorkloadResult),
) -> Vec<WorkloadResult> {
    let units: Vec<(&dyn Model, &JournalSubject)> = models
        .iter()
        .flat_map(|m| subjects.iter().map(move |s| (m.as_ref(), s)))
        .enumerate()
        .filter(|(unit, _)| shard.is_none_or(|s| s.owns(*unit)))
        .map(|(_, pair)| pair)
        .collect();
    let run = |(model, subject): (&dyn Model, &JournalSubject)| WorkloadResult {
        model: model.name().to_string(),
        workload: subject.name.clone(),
        updates: subject.workload.update_count(),
        report: explore(
            subject,
            model,
            &suite::config_for(&subject.name, model, config),
        ),
    };
    let at_once = match config.jobs {
        1 => 1,
        _ => RUNS_AT_ONCE,
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut results: Vec<Option<WorkloadResult>> = units.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..at_once.min(units.len()) {
            let sender = sender.clone();
            let (next, units, run) = (&next, &units, &run);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&unit) = units.get(i) else { break };
                if sender.send((i, run(unit))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Results come in as runs finish; `on_done` sees them in order.
        let mut reported = 0;
        for (i, result) in receiver {
            results[i] = Some(result);
            while let Some(Some(r)) = results.get(reported) {
                on_done(r);
                reported += 1;
            }
        }
    });
    results.into_iter().flatten().collect()
}

/// An invariant broken under one model by one known-bad protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenInvariant {
    /// The model.
    pub model: String,
    /// The invariant's name.
    pub invariant: String,
    /// The crash kind of its smallest violation.
    pub kind: CrashKind,
    /// How many violations of it, under that kind, in the workloads explored.
    pub count: u64,
    /// The replay token of the smallest.
    pub replay: String,
}

/// What the self-test found for one known-bad protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfTestResult {
    /// The known-bad protocol.
    pub known_bad: KnownBad,
    /// The invariants it must break ([`KnownBad::breaks`]).
    pub expected: Vec<Invariant>,
    /// Every invariant broken, per model and crash kind, in the workloads explored.
    pub seen: Vec<SeenInvariant>,
    /// Models under which no expected invariant was broken: they hide the bug.
    pub hidden_by: Vec<String>,
}

impl SelfTestResult {
    /// The violations that count: of an expected invariant.
    pub fn caught_by(&self) -> impl Iterator<Item = &SeenInvariant> {
        self.seen.iter().filter(|s| {
            Invariant::from_name(&s.invariant).is_some_and(|i| self.expected.contains(&i))
        })
    }

    /// Whether the weakest model (`posix`) broke an expected invariant.
    pub fn caught_under_posix(&self) -> bool {
        self.caught_by().any(|s| s.model == "posix")
    }
}

/// Runs the suite on each known-bad protocol under each model. Under each model its
/// workloads are explored in order until one breaks an expected invariant.
pub fn self_test(
    models: &[Box<dyn Model>],
    config: &ExploreConfig,
    mut on_done: impl FnMut(&SelfTestResult),
) -> Vec<SelfTestResult> {
    let config = ExploreConfig {
        max_violations: 1,
        ..config.clone()
    };
    let mut results = Vec::new();
    for known_bad in KnownBad::ALL {
        let subjects = suite::self_test_subjects(known_bad);
        let expected = known_bad.breaks();
        let mut result = SelfTestResult {
            known_bad,
            expected: expected.to_vec(),
            seen: Vec::new(),
            hidden_by: Vec::new(),
        };
        for model in models {
            let mut caught = false;
            for s in &subjects {
                let report = explore(s, model.as_ref(), &config);
                for f in &report.by_invariant {
                    caught |=
                        Invariant::from_name(&f.invariant).is_some_and(|i| expected.contains(&i));
                    result.seen.push(SeenInvariant {
                        model: model.name().to_string(),
                        invariant: f.invariant.clone(),
                        kind: f.kind,
                        count: f.count,
                        replay: f.smallest.token.clone(),
                    });
                }
                if caught {
                    break;
                }
            }
            if !caught {
                result.hidden_by.push(model.name().to_string());
            }
        }
        on_done(&result);
        results.push(result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a result says, without its timing.
    fn counts(r: &WorkloadResult) -> (String, String, u64, u64, u64, Vec<String>) {
        let tokens = r
            .report
            .violations
            .iter()
            .map(|c| c.token.clone())
            .collect();
        (
            r.model.clone(),
            r.workload.clone(),
            r.report.crash_states,
            r.report.distinct_states,
            r.report.violation_count,
            tokens,
        )
    }

    /// Two runs explored at once give each its own result, in the suite's order, reported in
    /// that order as they finish, and a shard keeps its own units: the same as one run at a
    /// time on one thread.
    #[test]
    fn runs_explored_at_once_give_the_results_of_one_at_a_time_in_order() {
        let models = crate::sim::all_models();
        let names = ["replace-one", "create-delete+decide-by-temp-presence"];
        let subjects: Vec<JournalSubject> = names
            .iter()
            .map(|n| suite::subject_by_name(n).unwrap())
            .collect();
        let explore_with = |jobs: usize, shard: Option<Shard>| {
            let config = ExploreConfig {
                jobs,
                k: 1,
                recovery_depth: 1,
                ..Default::default()
            };
            let mut reported = Vec::new();
            let results = run_suite(&models, &subjects, &config, shard, |r| {
                reported.push(counts(r))
            });
            let results: Vec<_> = results.iter().map(counts).collect();
            assert_eq!(reported, results, "on_done in order");
            results
        };
        let one = explore_with(1, None);
        assert_eq!(one.len(), 6);
        assert!(one.iter().any(|r| r.4 > 0), "a defect gives violations");
        assert_eq!(explore_with(2, None), one);
        let second_half = Shard::parse("2/2").unwrap();
        let mine: Vec<_> = (0..one.len()).filter(|&i| second_half.owns(i)).collect();
        let expected: Vec<_> = mine.iter().map(|&i| one[i].clone()).collect();
        assert_eq!(explore_with(3, Some(second_half)), expected);
    }
}
