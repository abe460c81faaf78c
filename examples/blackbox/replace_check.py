"""Checker for replace.py: DIR/config is the old value or the new one, whole; once the new
value was acknowledged (a `config=VALUE` line in $CRASHSAFE_ACKS), it is the new one."""
import os
import sys

d = sys.argv[1]
acks = open(os.environ["CRASHSAFE_ACKS"]).read().split()
try:
    content = open(os.path.join(d, "config")).read()
except FileNotFoundError:
    sys.exit("config is missing")
if content not in ("old\n", "new\n"):
    sys.exit("config is torn: %r" % content)
if "config=new" in acks and content != "new\n":
    sys.exit("config=new was acknowledged but config holds %r" % content)
