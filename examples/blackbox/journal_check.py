"""Checker for journal.py (after journal_recover.py): DIR/data is the old or the new contents,
whole, and the new ones once "committed" was acknowledged."""
import os
import sys

d = sys.argv[1]
OLD = b"old contents\n"
NEW = b"".join(b"new contents, line %d\n" % i for i in range(3))
committed = any(line.strip() == "committed" for line in open(os.environ["CRASHSAFE_ACKS"]))
try:
    data = open(os.path.join(d, "data"), "rb").read()
except FileNotFoundError:
    sys.exit("data is missing")
if data == NEW:
    sys.exit(0)
if data == OLD and not committed:
    sys.exit(0)
sys.exit("data is %r%s" % (data, " after the update was committed" if committed else ""))
