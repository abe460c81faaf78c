#!/usr/bin/env bash
# Builds every benchmark and runs each once in test mode (no measurement): the benches must not rot.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --benches
