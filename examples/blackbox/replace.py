"""Replaces DIR/config with new content through a temporary file and a rename.

Usage: replace.py DIR VALUE [--no-fsync]

The correct protocol: write the temporary file, fsync it, rename it over the target, fsync the
directory, then acknowledge. With --no-fsync the temporary file's data is never made durable
before the rename: after a crash the rename may be on disk while the data is not (an empty or
torn config), the classic bug (ALICE, OSDI'14).
"""
import os
import sys

d, value = sys.argv[1], sys.argv[2]
buggy = "--no-fsync" in sys.argv[3:]
tmp = os.path.join(d, "config.tmp")
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, (value + "\n").encode())
if not buggy:
    os.fsync(fd)
os.close(fd)
os.rename(tmp, os.path.join(d, "config"))
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
print("config=" + value, flush=True)
