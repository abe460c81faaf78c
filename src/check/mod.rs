//! The journal under the harness: its oracle, its workloads, the built-in suite, the self-test
//! against known-bad protocols, and the reports `crashsafe check` writes.

pub mod oracle;
pub mod report;
pub mod suite;
pub mod workload;

use crate::journal::Defect;
use crate::sim::{explore, ExploreConfig, ExploreReport, Model};
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
                &suite::config_for(&subject.name, config),
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

/// What the self-test found for one defect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfTestResult {
    /// The defect.
    pub defect: Defect,
    /// Models under which some workload showed a violation, with the first violation's
    /// invariant and replay token.
    pub caught_by: Vec<(String, String, String)>,
    /// Models under which every workload was clean: they hide the bug.
    pub hidden_by: Vec<String>,
}

impl SelfTestResult {
    /// Whether the weakest model (`posix`) caught the defect.
    pub fn caught_under_posix(&self) -> bool {
        self.caught_by.iter().any(|(m, _, _)| m == "posix")
    }
}

/// Runs the suite on each known-bad protocol under each model.
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
    for defect in Defect::ALL {
        let subjects = suite::self_test_subjects(defect);
        let mut result = SelfTestResult {
            defect,
            caught_by: Vec::new(),
            hidden_by: Vec::new(),
        };
        for model in models {
            let caught = subjects.iter().find_map(|s| {
                let report = explore(s, model.as_ref(), &config);
                report.violations.into_iter().next()
            });
            match caught {
                Some(c) => result.caught_by.push((
                    model.name().to_string(),
                    c.violation.invariant.clone(),
                    c.token.clone(),
                )),
                None => result.hidden_by.push(model.name().to_string()),
            }
        }
        on_done(&result);
        results.push(result);
    }
    results
}
