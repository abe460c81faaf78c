#!/usr/bin/env bash
# Mutation testing of new code: cargo-mutants (with .cargo/mutants.toml: the test binary
# tests/mutation_suite.rs, run by cargo-nextest) on the lines of src/ that differ from the merge
# base with origin/main. Any mutant the tests miss fails the gate; one that makes them time out
# (hang) is caught.
#
# Skipped, with the reason printed, when there is no origin/main (CI's fresh clone of main), no
# merge base, or no change under src/: then it takes no time. Otherwise it stops after
# MUTANTS_TIME_LIMIT seconds (default 300; 0 for no limit): mutants missed in that time fail the
# gate; if none was missed it passes, printing INCOMPLETE and how many of the diff's mutants were
# tested. The first build in cargo-mutants' scratch copy takes most of that time on a small
# machine, so run it with MUTANTS_TIME_LIMIT=0 before merging a change to src/.
set -euo pipefail
cd "$(dirname "$0")/.."

base_ref=${MUTANTS_BASE_REF:-origin/main}
time_limit=${MUTANTS_TIME_LIMIT:-300}

skip() {
  echo "mutants: skipped: $*"
  exit 0
}

git rev-parse --verify --quiet "${base_ref}^{commit}" >/dev/null ||
  skip "no ${base_ref} ref to diff against (a fresh clone of main has no new code to test)"
base=$(git merge-base HEAD "$base_ref" 2>/dev/null) ||
  skip "HEAD and ${base_ref} have no merge base"

out=$(mktemp -d)
# mktemp makes it 0700: the tests that drop privileges (an unprivileged update of another user's
# file) must reach their temp directories under it.
chmod 755 "$out"
# nextest stops a mutant's test run at the first failure by killing the tests still running, so
# their temp directories are never removed: give the run a TMPDIR of its own, removed with $out.
export TMPDIR="$out/tmp"
mkdir "$TMPDIR"
trap 'rm -rf "$out"' EXIT
git diff "$base" -- src/ >"$out/src.diff"
[ -s "$out/src.diff" ] ||
  skip "no change under src/ since the merge base ${base:0:12} with ${base_ref}"

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "--- installing cargo-mutants"
  cargo install cargo-mutants --locked
fi
# .cargo/mutants.toml runs the tests with nextest (it stops at a mutant's first failing test).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "--- installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

total=$(cargo mutants --in-diff "$out/src.diff" --list | wc -l)
[ "$total" -gt 0 ] || skip "the change under src/ since ${base:0:12} has no mutants"
limit_text="no time limit"
[ "$time_limit" = 0 ] || limit_text="at most ${time_limit}s"
echo "--- cargo mutants --in-diff: ${total} mutants in src/ changed since ${base:0:12}, ${limit_text}"
status=0
timeout "$time_limit" cargo mutants --in-diff "$out/src.diff" -j "${MUTANTS_JOBS:-1}" \
  --output "$out" || status=$?
results="$out/mutants.out"
case "$status" in
  0) echo "mutants: every mutant in the diff was caught" ;;
  3)
    # Timeouts and no miss: a mutant that makes the suite hang (a worker pool that never runs
    # its jobs) is caught, since the suite does not pass with it.
    [ -s "$results/missed.txt" ] && { echo "mutants: missed:" >&2; cat "$results/missed.txt" >&2; exit 2; }
    echo "mutants: every mutant in the diff was caught; these made the suite time out:"
    cat "$results/timeout.txt"
    ;;
  124)
    if [ -s "$results/missed.txt" ]; then
      echo "mutants: missed within ${time_limit}s:" >&2
      cat "$results/missed.txt" >&2
      exit 1
    fi
    tested=$(cat "$results"/{caught,unviable,timeout}.txt 2>/dev/null | wc -l)
    echo "mutants: INCOMPLETE: the ${time_limit}s limit stopped the run after ${tested} of ${total}" \
      "mutants, none missed; run MUTANTS_TIME_LIMIT=0 ci/60-mutants.sh for all of them"
    ;;
  *)
    [ -s "$results/missed.txt" ] && { echo "mutants: missed:" >&2; cat "$results/missed.txt" >&2; }
    echo "mutants: cargo mutants exited with $status (2 missed, 3 timeouts, 4 tests fail unmutated)" >&2
    exit "$status"
    ;;
esac
