#!/bin/sh
# A workload for crashsafe's sqlite3 demo: N numbered transactions on DIR/app.db, each
# acknowledged on stdout ("committed I") once sqlite3 has returned from its COMMIT.
#
# Usage: txns.sh DIR N SYNC    (SYNC: OFF, NORMAL or FULL; rollback-journal mode DELETE)
set -e
dir=$1 n=$2 sync=$3
{
    echo "PRAGMA journal_mode=DELETE;"
    echo "PRAGMA synchronous=$sync;"
    echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
    i=1
    while [ "$i" -le "$n" ]; do
        echo "BEGIN; INSERT INTO t VALUES($i, printf('row %d %.200c', $i, 'x')); COMMIT;"
        echo "SELECT 'committed ' || $i;"
        i=$((i + 1))
    done
} | stdbuf -oL sqlite3 -batch -bail "$dir/app.db"
