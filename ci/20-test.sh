#!/usr/bin/env bash
# The README's test command. The black-box tests (tests/blackbox.rs) need strace, sqlite3 and
# python3 (the example programs):
# installed here when missing (Debian/Ubuntu), so that a fresh machine runs them instead of
# skipping them.
set -euo pipefail
missing=()
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "--- installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo apt-get install -y "${missing[@]}"
fi
cargo test
