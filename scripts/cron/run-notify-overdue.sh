#!/bin/sh
# One overdue-worker run for cron: loads /etc/sfsync/worker.env, never overlaps itself on this
# host (flock; the org-side lease also keeps other hosts out), logs JSON lines to stderr.
# Exit codes: 0 all done, 1 could not run (or another run holds the lock), 2 some items failed,
# 3 API limit reached.
set -eu
ENV_FILE=${SFSYNC_ENV_FILE:-/etc/sfsync/worker.env}
SFSYNC=${SFSYNC_BIN:-/opt/sfsync/.venv/bin/sfsync}
LOCK=${SFSYNC_LOCK_FILE:-/run/lock/sfsync-overdue.lock}
set -a
. "$ENV_FILE"
set +a
exec flock --nonblock --conflict-exit-code 1 "$LOCK" "$SFSYNC" notify-overdue --json
