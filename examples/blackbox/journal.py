"""Replaces DIR/data in place through an intent journal, acknowledging once done.

Usage: journal.py DIR

The new contents go to DIR/journal with an end marker (fsync, directory fsync); then DIR/data is
rewritten in place (fsync); then the journal is removed (directory fsync) and "committed" is
printed. A crash in between is repaired by journal_recover.py, which finishes the update from
a complete journal and drops an incomplete one.
"""
import os
import sys

d = sys.argv[1]
NEW = b"new contents, line %d\n"
new = b"".join(NEW % i for i in range(3))


def fsync_dir():
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


journal = os.path.join(d, "journal")
fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, new + b"END\n")
os.fsync(fd)
os.close(fd)
fsync_dir()
fd = os.open(os.path.join(d, "data"), os.O_WRONLY | os.O_TRUNC)
os.write(fd, new)
os.fsync(fd)
os.close(fd)
os.unlink(journal)
fsync_dir()
print("committed", flush=True)
