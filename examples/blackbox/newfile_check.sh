#!/bin/sh
# Checker for newfile.py: once "saved" is acknowledged, inbox/msg holds the whole message.
# Before that, the message may be missing, empty or whole, never anything else.
set -e
msg="$1/inbox/msg"
if grep -qx saved "$CRASHSAFE_ACKS"; then
    [ -f "$msg" ] || { echo "saved was acknowledged but inbox/msg is missing"; exit 1; }
    [ "$(cat "$msg")" = hello ] || { echo "saved was acknowledged but inbox/msg is torn"; exit 1; }
elif [ -f "$msg" ]; then
    case "$(cat "$msg")" in ""|hello) ;; *) echo "inbox/msg is torn"; exit 1 ;; esac
fi
