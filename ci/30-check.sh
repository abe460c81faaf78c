#!/usr/bin/env bash
# The main job as a gate: every built-in workload under every persistence model, with crashes
# inside recovery (depth 2) and injected I/O errors, must show no violation; and the self-test
# must catch every known-bad protocol. Reports go under target/ for CI to collect.
set -euo pipefail
cargo build --release
./target/release/crashsafe check --depth 2 \
  --json target/check-report.json --junit target/check-junit.xml
./target/release/crashsafe check --self-test \
  --json target/self-test-report.json --junit target/self-test-junit.xml
