"""Checker for append.py: every acknowledged record is in DIR/log, whole, in order."""
import os
import sys

d = sys.argv[1]
acked = [int(line.split()[1]) for line in open(os.environ["CRASHSAFE_ACKS"]) if line.strip()]
try:
    lines = open(os.path.join(d, "log"), "rb").read().split(b"\n")
except FileNotFoundError:
    lines = []
for i in acked:
    if i >= len(lines) or lines[i] != b"record %d" % i:
        sys.exit("record %d was acknowledged but the log holds %r" % (i, lines[: i + 1]))
