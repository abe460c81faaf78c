//! `crashsafe check --json`: the bounds each workload was explored with, and the run's peak RSS.

use std::process::Command;

#[test]
fn the_json_report_gives_each_workloads_bounds_and_the_peak_rss() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_crashsafe"))
        .args(["check", "--model", "prefix", "--workload", "replace-one"])
        .args([
            "--depth",
            "1",
            "--k",
            "1",
            "--no-errors",
            "--jobs",
            "1",
            "--json",
        ])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("the report was written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let workload = &report["models"][0]["per_workload"][0];
    assert_eq!(workload["workload"], "replace-one");
    assert_eq!(workload["k"], 1);
    assert_eq!(workload["depth"], 1);
    assert_eq!(workload["recovery_fanout"], 4);
    assert_eq!(workload["process_points"], 0);
    // One update, one factor; prefix lets pending operations persist independently.
    assert_eq!(workload["factors"], 1);
    assert_eq!(report["schema"], "crashsafe-check/3");
    if cfg!(target_os = "linux") {
        let rss = report["peak_rss_bytes"]
            .as_u64()
            .expect("a number on Linux");
        assert!(rss > 1024 * 1024, "{rss}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("peak RSS"), "{stdout}");
}
