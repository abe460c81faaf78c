#!/usr/bin/env bash
# Formatting and lints: the gate refuses any warning.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The mutation-testing binary (`test = false`, so not among --all-targets): its modules are the
# integration test files, linted above, but they must also compile together.
cargo clippy --test mutation_suite -- -D warnings
# Every intra-doc link resolves, private items' included (a link to a missing or ambiguous item
# is an error).
RUSTDOCFLAGS="-D warnings" cargo doc --lib --all-features --document-private-items --no-deps
