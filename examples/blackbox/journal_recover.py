"""Recovery for journal.py: finishes an update whose journal is complete, drops one that is not.

Usage: journal_recover.py [--unlink-first] [--no-journal-fsync] DIR

The correct recovery first makes the journal durable (fsync, directory fsync), then rewrites
DIR/data from it and fsyncs that, and only then removes the journal. Two known bugs:

--unlink-first      the journal is removed (durably) before the rewrite: a power loss *inside*
                    recovery, after the removal and before the rewrite reaches the disk, leaves
                    a truncated DIR/data and no journal to repair it from.
--no-journal-fsync  recovery acts on a journal it has not made durable: after a *process* crash
                    (the machine kept running) it reads a journal that may be only in the page
                    cache, truncates DIR/data, and a power loss then keeps the truncation and
                    loses the journal.
"""
import os
import sys

d = sys.argv[-1]  # crashsafe appends the state's directory
unlink_first = "--unlink-first" in sys.argv[1:-1]
sync_journal = "--no-journal-fsync" not in sys.argv[1:-1]
journal = os.path.join(d, "journal")


def fsync_dir():
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def drop_journal():
    os.unlink(journal)
    fsync_dir()


try:
    fd = os.open(journal, os.O_RDONLY)
except FileNotFoundError:
    sys.exit(0)
body = b""
while True:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    body += chunk
if not body.endswith(b"END\n"):
    os.close(fd)
    drop_journal()  # the update never started: data is untouched
    sys.exit(0)
if sync_journal:
    os.fsync(fd)
    fsync_dir()
os.close(fd)
if unlink_first:
    drop_journal()
fd = os.open(os.path.join(d, "data"), os.O_WRONLY | os.O_TRUNC)
os.write(fd, body[: -len(b"END\n")])
os.fsync(fd)
os.close(fd)
if not unlink_first:
    drop_journal()
