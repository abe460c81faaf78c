#!/bin/sh
# Checker for txns.sh: the database passes PRAGMA integrity_check, and every transaction
# acknowledged in $CRASHSAFE_ACKS ("committed I") is there. Opening the database runs SQLite's
# own recovery (a hot journal is rolled back), as the next real start would.
db="$1/app.db"
acked=$(sed -n 's/^committed //p' "$CRASHSAFE_ACKS")
if [ ! -f "$db" ]; then
    [ -z "$acked" ] && exit 0
    echo "app.db is missing"; exit 1
fi
out=$(sqlite3 -batch "$db" "PRAGMA integrity_check;" "SELECT id FROM t;" 2>&1)
case "$out" in
    ok*) ;;
    *"no such table"*) [ -z "$acked" ] && exit 0; echo "table t is missing"; exit 1 ;;
    *) echo "integrity_check: $out"; exit 1 ;;
esac
for i in $acked; do
    printf '%s\n' "$out" | grep -qx "$i" || { echo "transaction $i was acknowledged but is missing"; exit 1; }
done
