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

/// Explores every subject under every model, in a fixed order, keeping this shard's part.
/// `on_done` is called after each (model, workload) pair.
pub fn run_suite(
    models: &[Box<dyn Model>],
    subjects: &[JournalSubject],
    config: &ExploreConfig,
    shard: Option<Shard>,
    mut on_done: impl FnMut(&WorkloadResult),
) -> Vec<WorkloadResult> {
    let mut results = Vec::new();
    let mut unit = 0;
    for model in models {
        for subject in subjects {
            let mine = shard.is_none_or(|s| s.owns(unit));
            unit += 1;
            if !mine {
                continue;
            }
            let report = explore(
                subject,
                model.as_ref(),
                &suite::config_for(&subject.name, model.as_ref(), config),
            );
            let result = WorkloadResult {
                model: model.name().to_string(),
                workload: subject.name.clone(),
                updates: subject.workload.update_count(),
                report,
            };
            on_done(&result);
            results.push(result);
        }
    }
    results
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
