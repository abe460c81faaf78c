#!/usr/bin/env bash
# Formatting and lints: the gate refuses any warning.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
