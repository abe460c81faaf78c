#!/usr/bin/env bash
# The MSRV (`rust-version` in Cargo.toml), checked three ways:
# 1. every package in the lock file (the resolver is MSRV-aware, `resolver = "3"`) declares a
#    `rust-version` no newer than ours;
# 2. clippy's `incompatible_msrv` lint, denied, finds no std API newer than ours in our code;
# 3. that toolchain itself (installed with rustup, minimal profile, if missing) type-checks
#    every target, with all features and with none, against the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, sys

def version(s):
    return tuple(int(part) for part in s.split("."))

meta = json.load(sys.stdin)
root = meta["resolve"]["root"]
ours = next(p for p in meta["packages"] if p["id"] == root)
msrv = ours.get("rust_version")
if not msrv:
    sys.exit("Cargo.toml declares no rust-version")
newer = sorted(
    (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] != root and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
)
for name, ver, needs in newer:
    print(f"{name} {ver} needs Rust {needs}, newer than our rust-version {msrv}", file=sys.stderr)
if newer:
    sys.exit(f"{len(newer)} locked package(s) need a newer Rust than {msrv}: "
             "run `cargo update` (the resolver then picks versions that fit) or raise rust-version")
others = len(meta["packages"]) - 1
print(f"MSRV {msrv}: none of the {others} locked packages declares a newer rust-version",
      file=sys.stderr)
print(msrv)
')

cargo clippy --all-targets --all-features -- -D clippy::incompatible_msrv
echo "MSRV $msrv: clippy finds no std API newer than rust-version"

if ! command -v rustup >/dev/null 2>&1; then
  echo "rustup is not installed: cannot install Rust $msrv to check the MSRV" >&2
  exit 1
fi
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "--- installing Rust $msrv (minimal profile)"
  rustup toolchain install "$msrv" --profile minimal
fi
# Its own target directory: a second compiler's artifacts never mix with the main build's.
cargo "+$msrv" check --locked --all-targets --all-features --target-dir target/msrv
cargo "+$msrv" check --locked --lib --no-default-features --target-dir target/msrv
echo "MSRV $msrv: $(rustup run "$msrv" rustc --version) checks every target, all features and none"
