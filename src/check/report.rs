//! What `crashsafe check` prints and writes: the summary table, the JSON report (schema
//! `crashsafe-check/3`, documented in the README) and a JUnit XML report for CI.
//!
//! The JSON report needs serde_json, so `json` exists only with the `cli` feature.

use super::{SelfTestResult, WorkloadResult};
use crate::sim::{CrashKind, KindCounts};
#[cfg(feature = "cli")]
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The JSON schema's name; bumped on any incompatible change. Version 2: every count comes per
/// crash kind too (`by_kind`), and the totals cover both kinds. Version 3: under a subject that
/// declares independent factors, the counts are of the states enumerated after leaving out
/// those whose verdict kept states already give (`crate::sim::factor`); each workload says how
/// many factors (`factors`).
pub const JSON_SCHEMA: &str = "crashsafe-check/3";

/// Totals of one model over its workloads.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ModelTotals {
    /// The model.
    pub model: String,
    /// Workloads explored.
    pub workloads: usize,
    /// Crash points.
    pub crash_points: u64,
    /// Crash states checked (duplicates included).
    pub crash_states: u64,
    /// Distinct durable images among them.
    pub distinct_states: u64,
    /// Violations found.
    pub violations: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// The counts of the power-loss kind.
    pub power: KindCounts,
    /// The counts of the process-crash kind.
    pub process: KindCounts,
}

impl ModelTotals {
    /// Crash states per second.
    pub fn states_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.crash_states as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Sums the results per model, models in first-seen order.
pub fn totals(results: &[WorkloadResult]) -> Vec<ModelTotals> {
    let mut out: Vec<ModelTotals> = Vec::new();
    for r in results {
        let t = match out.iter_mut().position(|t| t.model == r.model) {
            Some(i) => &mut out[i],
            None => {
                out.push(ModelTotals {
                    model: r.model.clone(),
                    ..ModelTotals::default()
                });
                out.last_mut().expect("just pushed")
            }
        };
        t.workloads += 1;
        t.crash_points += r.report.crash_points;
        t.crash_states += r.report.crash_states;
        t.distinct_states += r.report.distinct_states;
        t.violations += r.report.violation_count;
        t.seconds += r.report.elapsed.as_secs_f64();
        t.power.add(&r.report.power);
        t.process.add(&r.report.process);
    }
    out
}

impl ModelTotals {
    /// The counts of one crash kind.
    pub fn counts(&self, kind: CrashKind) -> &KindCounts {
        match kind {
            CrashKind::Power => &self.power,
            CrashKind::Process => &self.process,
        }
    }
}

/// `by_kind`: the counts of each crash kind.
#[cfg(feature = "cli")]
fn by_kind(counts: impl Fn(CrashKind) -> KindCounts) -> Vec<Value> {
    CrashKind::ALL
        .into_iter()
        .map(|kind| {
            let c = counts(kind);
            json!({
                "crash_kind": kind.name(),
                "crash_points": c.crash_points,
                "crash_states": c.crash_states,
                "distinct_states": c.distinct_states,
                "violations": c.violations,
            })
        })
        .collect()
}

/// The summary table: per model, one row per crash kind, then the model's total.
pub fn table(results: &[WorkloadResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<13} {:<8} {:>9} {:>12} {:>13} {:>15} {:>10} {:>12}",
        "model",
        "crash",
        "workloads",
        "crash points",
        "crash states",
        "distinct states",
        "violations",
        "states/sec"
    );
    for t in totals(results) {
        for kind in CrashKind::ALL {
            let c = t.counts(kind);
            let _ = writeln!(
                s,
                "{:<13} {:<8} {:>9} {:>12} {:>13} {:>15} {:>10} {:>12}",
                t.model,
                kind.name(),
                t.workloads,
                c.crash_points,
                c.crash_states,
                c.distinct_states,
                c.violations,
                ""
            );
        }
        let _ = writeln!(
            s,
            "{:<13} {:<8} {:>9} {:>12} {:>13} {:>15} {:>10} {:>12.0}",
            t.model,
            "both",
            t.workloads,
            t.crash_points,
            t.crash_states,
            t.distinct_states,
            t.violations,
            t.states_per_sec()
        );
    }
    s
}

/// The fsync cost table: per workload, operations, fsync-family calls and fsyncs per update.
pub fn cost_table(results: &[WorkloadResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<26} {:>8} {:>10} {:>7} {:>18}",
        "workload", "ops", "fsyncs", "updates", "fsyncs per update"
    );
    let mut seen = std::collections::BTreeSet::new();
    for r in results {
        if !seen.insert(r.workload.clone()) {
            continue;
        }
        let _ = writeln!(
            s,
            "{:<26} {:>8} {:>10} {:>7} {:>18.3}",
            r.workload,
            r.report.trace_ops,
            r.report.fsync_calls,
            r.updates,
            r.fsyncs_per_update()
        );
    }
    s
}

/// The run's settings, recorded in the JSON report so that it can be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// RNG seed.
    pub seed: u64,
    /// The k of the bounded enumeration.
    pub k: usize,
    /// Crash-during-recovery depth.
    pub depth: usize,
    /// Whether I/O errors were injected.
    pub inject_errors: bool,
    /// `K/N`, when sharded.
    pub shard: Option<String>,
}

/// The process's peak resident set size so far, in bytes (`VmHWM` in `/proc/self/status`);
/// `None` where that file does not exist or does not say.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM` line of a `/proc/PID/status` text, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

/// The JSON report (with the `cli` feature).
#[cfg(feature = "cli")]
pub fn json(
    settings: &RunSettings,
    results: &[WorkloadResult],
    self_test: Option<&[SelfTestResult]>,
) -> Value {
    let models: Vec<Value> = totals(results)
        .into_iter()
        .map(|t| json_model(&t, results))
        .collect();
    let mut report = json!({
        "schema": JSON_SCHEMA,
        "seed": settings.seed,
        "k": settings.k,
        "depth": settings.depth,
        "inject_errors": settings.inject_errors,
        "shard": settings.shard,
        "peak_rss_bytes": peak_rss_bytes(),
        "models": models,
    });
    if let Some(st) = self_test {
        report["self_test"] = json_self_test(st);
    }
    report
}

/// One workload's entry in the JSON report.
#[cfg(feature = "cli")]
fn json_workload(r: &WorkloadResult) -> Value {
    json!({
        "workload": r.workload,
        "operations": r.report.trace_ops,
        "fsync_calls": r.report.fsync_calls,
        "updates": r.updates,
        "fsyncs_per_update": r.fsyncs_per_update(),
        "crash_points": r.report.crash_points,
        "crash_states": r.report.crash_states,
        "distinct_states": r.report.distinct_states,
        "violations": r.report.violation_count,
        "k": r.report.bounds.k,
        "recovery_fanout": r.report.bounds.recovery_fanout,
        "depth": r.report.bounds.depth,
        "process_points": r.report.bounds.process_points,
        "factors": r.report.factors,
        "process_crash_states": r.report.process.crash_states,
        "process_violations": r.report.process.violations,
        "by_kind": by_kind(|k| *r.report.counts(k)),
        "counterexamples": r.report.violations.iter().map(|c| json!({
            "crash_kind": c.kind.name(),
            "invariant": c.violation.invariant,
            "message": c.violation.message,
            "replay": c.token,
        })).collect::<Vec<_>>(),
    })
}

/// One model's totals and its workloads in the JSON report.
#[cfg(feature = "cli")]
fn json_model(t: &ModelTotals, results: &[WorkloadResult]) -> Value {
    let workloads: Vec<Value> = results
        .iter()
        .filter(|r| r.model == t.model)
        .map(json_workload)
        .collect();
    json!({
        "model": t.model,
        "workloads": workloads.len(),
        "crash_points": t.crash_points,
        "crash_states": t.crash_states,
        "distinct_states": t.distinct_states,
        "violations": t.violations,
        "by_kind": by_kind(|k| *t.counts(k)),
        "states_per_sec": t.states_per_sec(),
        "elapsed_sec": t.seconds,
        "per_workload": workloads,
    })
}

/// The self-test's part of the JSON report: each known-bad protocol, what it must break, and
/// where it was caught.
#[cfg(feature = "cli")]
fn json_self_test(st: &[SelfTestResult]) -> Value {
    st.iter()
        .map(|r| {
            let seen = |s: &super::SeenInvariant| {
                json!({
                    "model": s.model,
                    "invariant": s.invariant,
                    "crash_kind": s.kind.name(),
                    "count": s.count,
                    "replay": s.replay,
                })
            };
            json!({
                "defect": r.known_bad.name(),
                "expected": r.expected.iter().map(|i| i.name()).collect::<Vec<_>>(),
                "caught": r.caught_under_posix(),
                "caught_by": r.caught_by().map(seen).collect::<Vec<_>>(),
                "seen": r.seen.iter().map(seen).collect::<Vec<_>>(),
                "hidden_by": r.hidden_by,
            })
        })
        .collect()
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one test suite per model, one test case per workload (and one per
/// defect in a self-test, which passes when the defect is caught under `posix`).
pub fn junit(results: &[WorkloadResult], self_test: Option<&[SelfTestResult]>) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"crashsafe check\">\n",
    );
    for t in totals(results) {
        junit_model(&mut s, &t, results);
    }
    if let Some(st) = self_test {
        junit_self_test(&mut s, st);
    }
    s.push_str("</testsuites>\n");
    s
}

/// One model's test suite: a test case per workload and crash kind, failed by the first
/// counterexample of that kind.
fn junit_model(s: &mut String, t: &ModelTotals, results: &[WorkloadResult]) {
    let of_model = || results.iter().filter(|r| r.model == t.model);
    let failures: usize = of_model()
        .map(|r| {
            CrashKind::ALL
                .iter()
                .filter(|&&k| r.report.counts(k).violations > 0)
                .count()
        })
        .sum();
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
        xml_escape(&t.model),
        2 * t.workloads,
        failures,
        t.seconds
    );
    for (r, kind) in of_model().flat_map(|r| CrashKind::ALL.map(|k| (r, k))) {
        junit_case(s, r, kind);
    }
    s.push_str("  </testsuite>\n");
}

/// The test case of one workload under one crash kind (the time is the workload's, given to its
/// power-loss case).
fn junit_case(s: &mut String, r: &WorkloadResult, kind: CrashKind) {
    let _ = write!(
        s,
        "    <testcase classname=\"crashsafe.check.{}\" name=\"{} ({} crash)\" time=\"{:.3}\"",
        xml_escape(&r.model),
        xml_escape(&r.workload),
        kind.name(),
        if kind == CrashKind::Power {
            r.report.elapsed.as_secs_f64()
        } else {
            0.0
        }
    );
    match r.report.violations.iter().find(|c| c.kind == kind) {
        None => s.push_str("/>\n"),
        Some(c) => {
            let _ = writeln!(
                s,
                ">\n      <failure message=\"{}: {}\">{}</failure>\n    </testcase>",
                xml_escape(&c.violation.invariant),
                xml_escape(&c.violation.message),
                xml_escape(&c.description)
            );
        }
    }
}

/// The self-test's suite: a test case per known-bad protocol, failed when `posix` misses it.
fn junit_self_test(s: &mut String, st: &[SelfTestResult]) {
    let failures = st.iter().filter(|r| !r.caught_under_posix()).count();
    let _ = writeln!(
        s,
        "  <testsuite name=\"self-test\" tests=\"{}\" failures=\"{failures}\">",
        st.len()
    );
    for r in st {
        let _ = write!(
            s,
            "    <testcase classname=\"crashsafe.self_test\" name=\"{}\"",
            r.known_bad.name()
        );
        if r.caught_under_posix() {
            s.push_str("/>\n");
        } else {
            s.push_str(">\n      <failure message=\"not caught under posix\"/>\n    </testcase>\n");
        }
    }
    s.push_str("  </testsuite>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_rss_is_read_from_the_vm_hwm_line_in_bytes() {
        let status = "Name:\tcrashsafe\nVmPeak:\t  300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(123_456 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t12 MB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
