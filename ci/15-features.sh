#!/usr/bin/env bash
# The library without its default features: it must build, pass the lints, and depend on none of
# the CLI's crates (clap, indicatif, serde_json), which only the `cli` feature may bring in.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --lib --no-default-features
cargo clippy --all-targets --no-default-features -- -D warnings

cli_only=(clap indicatif serde_json)
tree=$(cargo tree -e normal --no-default-features --prefix none)
found=()
for name in "${cli_only[@]}"; do
  if grep -Eq "^${name} v" <<<"$tree"; then
    found+=("$name")
  fi
done
if [ "${#found[@]}" -ne 0 ]; then
  echo "--no-default-features still depends on: ${found[*]}" >&2
  cargo tree -e normal --no-default-features -i "${found[0]}" >&2 || true
  exit 1
fi
echo "--no-default-features: builds, lints clean, and none of ${cli_only[*]} in its dependency tree"
