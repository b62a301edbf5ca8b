#!/usr/bin/env bash
# make backup (and the weekly and daily CronJobs): one backup of the ledger
# into each repository, repo1 (local) then repo2 (offsite).
#
#   deploy/backup/backup.sh [--run DIR] [full|diff|incr]
#
# The type defaults to TYPE, else diff (pgBackRest makes a full one when
# there is none to diff against). Retention (4 fulls, 7 diffs per
# repository) expires older backups and the WAL only they need. The
# configuration is found as in verify.sh: --run DIR, CB_RUN, the current
# make run, or PGBACKREST_CONFIG and PGBACKREST_CONFIG_INCLUDE_PATH.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

RUN=${CB_RUN:-} type=${TYPE:-diff}
while [ $# -gt 0 ]; do
    case "$1" in
        --run) RUN=${2:?--run needs a directory}; shift 2 ;;
        full|diff|incr) type=$1; shift ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "backup.sh: unknown argument '$1': the type is full, diff or incr (see --help)" >&2; exit 2 ;;
    esac
done
case "$type" in full|diff|incr) ;; *) echo "backup.sh: TYPE must be full, diff or incr, got '$type'" >&2; exit 2 ;; esac
cb_backup_find backup.sh "$RUN"

started=$SECONDS
cb_backup_run "$type" || { echo "backup.sh: the $type backup FAILED" >&2; exit 1; }
echo "backup.sh: $type backup into repo1 and repo2 in $((SECONDS - started)) s" >&2
cb_pgbackrest info
