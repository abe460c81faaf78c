#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target in fuzz/ and runs each for FUZZ_SECONDS
# (default 60) from the committed seeds, with the dictionary and memory limits. Any crash, leak,
# timeout or out-of-memory fails the script and prints the artifact's path.
#
# Mode, one per machine: with a nightly toolchain installed, `cargo +nightly fuzz` with
# AddressSanitizer; otherwise stable with `--sanitizer none`. Each mode has its own target dir
# (fuzz/target/asan, fuzz/target/none) so builds of the two never mix.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${FUZZ_SECONDS:-60}
# The decoder caps a payload at 1 MiB, so no single allocation should come near 64 MiB.
rss_limit_mb=${FUZZ_RSS_LIMIT_MB:-512}
malloc_limit_mb=${FUZZ_MALLOC_LIMIT_MB:-64}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "--- installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

mode=${FUZZ_MODE:-}   # asan or none; chosen from the toolchains when unset
if [ -z "$mode" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then mode=asan; else mode=none; fi
fi
if [ "$mode" = asan ]; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=(--sanitizer address)
else
  mode=none
  fuzz=(cargo fuzz)
  sanitizer=(--sanitizer none)
fi
target_dir="$root/fuzz/target/$mode"
echo "--- fuzz mode: $mode (${fuzz[*]} ${sanitizer[*]}), ${seconds}s per target"

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

echo "--- building ${targets[*]}"
"${fuzz[@]}" build "${sanitizer[@]}" --target-dir "$target_dir"

logs="$root/fuzz/corpus/logs"
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  seeds="$root/fuzz/seeds/$t"
  corpus="$root/fuzz/corpus/$t"   # scratch, gitignored: the committed seeds stay small
  artifacts="$root/fuzz/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$seeds" ]; then
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  fi
  log="$logs/$t.log"
  echo "--- running $t for ${seconds}s (log: $log)"
  status=0
  "${fuzz[@]}" run "${sanitizer[@]}" --target-dir "$target_dir" "$t" "$corpus" -- \
    -dict="$root/fuzz/entry.dict" \
    -max_total_time="$seconds" \
    -rss_limit_mb="$rss_limit_mb" \
    -malloc_limit_mb="$malloc_limit_mb" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -1)
  line="$t: mode=$mode execs/sec=${rate:-?} total_execs=${execs:-?} exit=$status"
  echo "$line"
  summary+=("$line")
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
    echo "FUZZ FAILURE in $t; artifacts in $artifacts:" >&2
    ls -l "$artifacts" >&2 || true
    failed+=("$t")
  fi
done

echo "--- fuzz summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz targets failed: ${failed[*]}" >&2
  exit 1
fi
