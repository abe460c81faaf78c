"""Saves a message in a new file DIR/inbox/msg and acknowledges it.

Usage: newfile.py DIR [--no-dir-fsync]

The correct protocol fsyncs the file and then its directory before acknowledging. With
--no-dir-fsync the file's data is durable but its name may not be: after a crash the
acknowledged message can be gone.
"""
import os
import sys

d = sys.argv[1]
buggy = "--no-dir-fsync" in sys.argv[2:]
inbox = os.path.join(d, "inbox")
fd = os.open(os.path.join(inbox, "msg"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"hello\n")
os.fsync(fd)
os.close(fd)
if not buggy:
    dfd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
print("saved", flush=True)
