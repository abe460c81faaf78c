#!/bin/sh
# Checker for txns.sh: the database passes PRAGMA integrity_check, and every transaction
# acknowledged in $CRASHSAFE_ACKS ("committed I") is there. Opening the database runs SQLite's
# own recovery (a hot journal is rolled back), as the next real start would. One sqlite3 run.
db="$1/app.db"
acked=
while read -r word id; do
    [ "$word" = committed ] && acked="${acked:+$acked,}($id)"
done < "$CRASHSAFE_ACKS"
if [ ! -f "$db" ]; then
    [ -z "$acked" ] && exit 0
    echo "app.db is missing"; exit 1
fi
if [ -z "$acked" ]; then
    missing="SELECT '';"
else
    missing="WITH acked(id) AS (VALUES $acked)
             SELECT 'missing:' || coalesce(group_concat(id), '') FROM acked
             WHERE id NOT IN (SELECT id FROM t);"
fi
out=$(sqlite3 -batch "$db" "PRAGMA integrity_check;" "$missing" 2>&1)
case "$out" in
    "ok"|"ok
"|"ok
missing:") exit 0 ;;
    *"no such table"*) [ -z "$acked" ] && exit 0; echo "table t is missing"; exit 1 ;;
    "ok
missing:"*) echo "acknowledged transactions missing: ${out#ok
missing:}"; exit 1 ;;
    *) echo "integrity_check: $out"; exit 1 ;;
esac
