"""Appends numbered records to DIR/log, acknowledging each on stdout.

Usage: append.py DIR COUNT [--ack-early]

The correct protocol creates the log, fsyncs the directory, then for each record: write,
fdatasync, acknowledge. With --ack-early a record is acknowledged before its fdatasync: a crash
between the two loses a record the program already promised.
"""
import os
import sys

d, count = sys.argv[1], int(sys.argv[2])
early = "--ack-early" in sys.argv[3:]
fd = os.open(os.path.join(d, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
for i in range(count):
    os.write(fd, b"record %d\n" % i)
    if early:
        print("ack %d" % i, flush=True)
    os.fdatasync(fd)
    if not early:
        print("ack %d" % i, flush=True)
os.close(fd)
