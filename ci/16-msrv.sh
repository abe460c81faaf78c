#!/usr/bin/env bash
# The MSRV (`rust-version` in Cargo.toml), checked without installing that toolchain:
# 1. every package in the lock file (the resolver is MSRV-aware, `resolver = "3"`) declares a
#    `rust-version` no newer than ours;
# 2. clippy's `incompatible_msrv` lint, denied, finds no std API newer than ours in our code.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --format-version 1 --locked | python3 -c '
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
print(f"MSRV {msrv}: none of the {others} locked packages declares a newer rust-version")
'

cargo clippy --all-targets --all-features -- -D clippy::incompatible_msrv
echo "MSRV: clippy finds no std API newer than rust-version"
