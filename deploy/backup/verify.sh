#!/usr/bin/env bash
# make backup-verify (and the nightly verify CronJob): proves that the
# newest backup can be restored and holds a sound ledger.
#
#   deploy/backup/verify.sh [--run DIR] [--json FILE]
#
#   1. pgbackrest check: the primary archives WAL into every repository
#   2. pgbackrest verify, each repository: every backup and WAL file readable
#      and matching its checksum
#   3. the newest backup is at most MAX_AGE_H (26) hours old, else ALERT
#   4. for each repository in REPOS (default "1 2"; none: no restore): restore its newest
#      backup and the WAL after it into a scratch directory, start
#      PostgreSQL on it (Unix socket only, no archiving), wait for recovery
#      to end, then check the schema version and the ledger invariants with
#      cordbank-balance --check-invariants; report the newest transfer
#
# Exit 0 when every step passed, 1 when one failed (each failure is a line
# starting with FAIL or ALERT), 2 on a usage error. The configuration:
# --run DIR (a make run or test run directory: DIR/backup) or CB_RUN, else
# the current make run (/tmp/cordbank-current); in Kubernetes
# PGBACKREST_CONFIG and PGBACKREST_CONFIG_INCLUDE_PATH. BALANCE_BIN: the
# cordbank-balance to check with (default: on PATH, else build/bin).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

JSON= RUN=${CB_RUN:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --run) RUN=${2:?--run needs a directory}; shift 2 ;;
        --json) JSON=${2:?--json needs a file}; shift 2 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "verify.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
MAX_AGE_H=${MAX_AGE_H:-26}
REPOS=${REPOS:-1 2}
[[ $MAX_AGE_H =~ ^[0-9]+$ ]] || { echo "verify.sh: MAX_AGE_H must be a whole number of hours, got '$MAX_AGE_H'" >&2; exit 2; }
[[ $REPOS =~ ^([12]( [12])*|none)$ ]] || { echo "verify.sh: REPOS must list 1 and/or 2, or be none, got '$REPOS'" >&2; exit 2; }
[ "$REPOS" != none ] || REPOS=
cb_backup_find verify.sh "$RUN"
BALANCE_BIN=${BALANCE_BIN:-$(command -v cordbank-balance || echo "$HERE/../../build/bin/cordbank-balance")}
[ -x "$BALANCE_BIN" ] || { echo "verify.sh: no cordbank-balance at $BALANCE_BIN (set BALANCE_BIN)" >&2; exit 2; }

failed=0 results=
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { say "FAIL $*"; failed=1; }

say "check: WAL archiving into every repository"
cb_pgbackrest check || fail "pgbackrest check"
for repo in 1 2; do
    say "verify: repo$repo"
    cb_pgbackrest --repo="$repo" verify || fail "pgbackrest verify, repo$repo"
done

age=$(cb_backup_age_s)
if [ "$age" -lt 0 ]; then
    say "ALERT there is no backup"; failed=1
elif [ "$age" -gt $((MAX_AGE_H * 3600)) ]; then
    say "ALERT the newest backup is $((age / 3600)) h old (more than $MAX_AGE_H h)"; failed=1
else
    say "newest backup: $age s old"
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cordbank-verify.XXXXXX")
chmod 755 "$SCRATCH"
cleanup() { cb_backup_stop_scratch "$SCRATCH/data"; rm -rf "$SCRATCH"; }
trap cleanup EXIT
for repo in $REPOS; do
    [ "$age" -ge 0 ] || break
    started=$SECONDS
    say "restore: newest backup of repo$repo into $SCRATCH/data"
    cb_backup_stop_scratch "$SCRATCH/data"; rm -rf "$SCRATCH/data"
    if ! cb_backup_restore "$SCRATCH/data" --repo="$repo" --archive-mode=off >"$SCRATCH/restore.log" 2>&1; then
        cat "$SCRATCH/restore.log" >&2; fail "restore from repo$repo"; continue
    fi
    cb_backup_start_scratch "$SCRATCH/data" "$SCRATCH/postgres-$repo.log" || { fail "PostgreSQL on the restore of repo$repo"; continue; }
    url="postgresql:///cordbank?host=$SCRATCH/data/sock&user=postgres"
    if "$BALANCE_BIN" --check-invariants --pg-url "$url" --metrics-endpoints "" --log-level warn; then
        newest=$(psql -X -At -h "$SCRATCH/data/sock" -U postgres -d cordbank \
            -c "SELECT count(*) || ' transfers, the newest at ' || coalesce(max(created_at)::text, 'none') FROM transfers" 2>/dev/null)
        say "repo$repo: restored and sound in $((SECONDS - started)) s: $newest"
        results="$results{\"repo\":$repo,\"ok\":true,\"restore_s\":$((SECONDS - started))},"
    else
        fail "repo$repo: the restored ledger fails its schema or invariant check"
        results="$results{\"repo\":$repo,\"ok\":false,\"restore_s\":$((SECONDS - started))},"
    fi
done

if [ -n "$JSON" ]; then
    printf '{"ok":%s,"newest_backup_age_s":%s,"max_age_h":%s,"restores":[%s]}\n' \
        "$([ $failed = 0 ] && echo true || echo false)" "$age" "$MAX_AGE_H" "${results%,}" >"$JSON"
fi
[ $failed = 0 ] && say "backup verified" || say "backup verification FAILED"
exit $failed
