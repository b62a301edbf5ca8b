#!/usr/bin/env bash
# Backups that restore: a PostgreSQL archiving its WAL with pgBackRest into
# two encrypted repositories (deploy/backup/), a balance instance under
# cordbank-ledger-load, then make backup's full and differential backups,
# make backup-verify (check, verify, restore of each repository into a
# scratch directory, schema version and invariants), a point-in-time
# restore that holds exactly the transfers made before the target, a
# restore that keeps every acknowledged pay, and the failures verify must
# catch: a ledger broken by hand, a stale newest backup, a wrong passphrase.
#
#   tests/integration/backup.sh [build/bin]
#
# About 60 s. The full drill (primary destroyed under load, RPO and RTO
# measured) is make dr-drill.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
BACKUP=$CB_ROOT/deploy/backup
export CB_LOG_LEVEL=warn BALANCE_BIN=$CB_BIN/cordbank-balance

cb_run_dir
SCRATCH=$CB_RUN/scratch
trap 'cb_backup_stop_scratch "$SCRATCH" 2>/dev/null; cb_stop_all' EXIT
CB_PG_ARCHIVE=1 cb_start_postgres || exit 1
RPC=$(cb_port) EVENTS=$(cb_port) ADMIN=$(cb_port)
cb_start_balance balance "$CB_BIN" "$RPC" "$EVENTS" "$ADMIN"
cb_wait_port_ready "$ADMIN" 30 balance || exit 1

# load PREFIX SECONDS: pays among 50 accounts; acked keys in $CB_RUN/PREFIX.acked.
load() {
    timeout -k 5 $(($2 + 30)) "$CB_BIN/cordbank-ledger-load" --balance-endpoints "tcp://127.0.0.1:$RPC" \
        --concurrency 8 --duration-s "$2" --accounts 50 --key-prefix "$1" --quiet \
        --acked-file "$CB_RUN/$1.acked" --seed-balance "${SEED:-0}" >"$CB_RUN/logs/load-$1.log" 2>&1
}
# In the scratch cluster (psql on its socket).
scratch_sql() { psql -X -q -At -h "$SCRATCH/sock" -U postgres -d cordbank -c "$1" 2>/dev/null; }
# restore_scratch [FLAG...]: the newest backup (and WAL) of repo1 in $SCRATCH, started.
restore_scratch() {
    cb_backup_stop_scratch "$SCRATCH" 2>/dev/null; rm -rf "$SCRATCH"
    cb_backup_restore "$SCRATCH" --archive-mode=off "$@" >"$CB_RUN/logs/restore.log" 2>&1 \
        && cb_backup_start_scratch "$SCRATCH" "$CB_RUN/logs/scratch.log"
}
# acked_ok PREFIX: the keys acknowledged OK, one per line.
acked_ok() { awk '$3 == "OK" { print $1 }' "$CB_RUN/$1.acked" | sort; }

section "archiving and a full backup into both repositories"
expect_eq "the stanza exists and WAL reaches both repositories (pgbackrest check)" 0 \
    "$(cb_pgbackrest check >/dev/null 2>&1; echo $?)"
expect_eq "archive_timeout is 60 s" 1min "$(cb_psql -c 'SHOW archive_timeout')"
SEED=100 load p1 2
"$BACKUP/backup.sh" --run "$CB_RUN" full >"$CB_RUN/logs/backup-full.log" 2>&1
expect_eq "make backup TYPE=full exits 0" 0 $?
INFO=$(cb_pgbackrest --output=json info)
expect_eq "one full backup in each repository" "1 1" \
    "$(jq -r '[.[0].backup[] | select(.type == "full") | .database["repo-key"]] | "\(map(select(. == 1)) | length) \(map(select(. == 2)) | length)"' <<<"$INFO")"
expect_eq "both repositories are encrypted (aes-256-cbc)" "aes-256-cbc aes-256-cbc" \
    "$(jq -r '[.[0].repo[].cipher] | join(" ")' <<<"$INFO")"

section "a differential backup, then make backup-verify"
load p2 2
"$BACKUP/backup.sh" --run "$CB_RUN" diff >"$CB_RUN/logs/backup-diff.log" 2>&1
expect_eq "make backup TYPE=diff exits 0" 0 $?
expect_eq "a differential backup in each repository" 2 \
    "$(cb_pgbackrest --output=json info | jq '[.[0].backup[] | select(.type == "diff")] | length')"
"$BACKUP/verify.sh" --run "$CB_RUN" --json "$CB_RUN/verify.json" >"$CB_RUN/logs/verify.log" 2>&1
rc=$?
sed 's/^/       /' "$CB_RUN/logs/verify.log"
expect_eq "make backup-verify exits 0" 0 "$rc"
expect_eq "both repositories restored, schema and invariants checked" "true [1,2] [true,true]" \
    "$(jq -c -r '"\(.ok) \([.restores[].repo]) \([.restores[].ok])"' "$CB_RUN/verify.json" 2>/dev/null)"
expect_match "the schema version was checked" 'schema version [0-9]+ \(this binary: [0-9]+\)' \
    "$(cat "$CB_RUN/logs/verify.log")"

section "point-in-time restore"
sleep 1.1
TARGET=$(cb_psql -c "SELECT now()")
sleep 1.1
load p3 1
cb_pgbackrest check >/dev/null 2>&1   # switches WAL: p3's pays reach the archive
restore_scratch --type=time "--target=$TARGET" --target-action=promote
expect_eq "the restore to $TARGET starts" 0 $?
expect_eq "it holds every transfer made before the target" \
    "$(cb_psql -c "SELECT count(*) FROM transfers WHERE created_at <= '$TARGET'")" \
    "$(scratch_sql "SELECT count(*) FROM transfers")"
expect_eq "and none of the pays after it" 0 "$(scratch_sql "SELECT count(*) FROM transfers WHERE starts_with(idempotency_key, 'p3-')")"

section "a restore to the end of the archive keeps every acknowledged pay"
load p4 2
cb_pgbackrest check >/dev/null 2>&1
restore_scratch
expect_eq "the restore starts" 0 $?
acked_ok p4 >"$CB_RUN/p4.ok"
scratch_sql "SELECT idempotency_key FROM transfers WHERE starts_with(idempotency_key, 'p4-')" | sort >"$CB_RUN/p4.restored"
expect_match "p4 acknowledged pays" '^[1-9][0-9]*$' "$(wc -l <"$CB_RUN/p4.ok")"
expect_eq "no acknowledged pay is missing from the restore" "" "$(comm -23 "$CB_RUN/p4.ok" "$CB_RUN/p4.restored" | head -3)"
expect_eq "the restored ledger passes the invariant check" 0 \
    "$("$CB_BIN/cordbank-balance" --check-invariants --pg-url "postgresql:///cordbank?host=$SCRATCH/sock&user=postgres" \
        --metrics-endpoints "" --log-level warn >/dev/null 2>&1; echo $?)"
cb_backup_stop_scratch "$SCRATCH"; rm -rf "$SCRATCH"

section "what verify must catch"
MAX_AGE_H=0 REPOS=none "$BACKUP/verify.sh" --run "$CB_RUN" >"$CB_RUN/logs/verify-age.log" 2>&1
rc=$?
expect_eq "a newest backup older than MAX_AGE_H fails verify" 1 "$rc"
expect_match "with an ALERT line" 'ALERT the newest backup is 0 h old \(more than 0 h\)' "$(cat "$CB_RUN/logs/verify-age.log")"
# A coin made from nothing, behind the ledger's back.
cb_psql -c "UPDATE accounts SET balance = balance + 1 WHERE user_id = 1" >/dev/null
"$BACKUP/backup.sh" --run "$CB_RUN" incr >"$CB_RUN/logs/backup-incr.log" 2>&1
REPOS=1 "$BACKUP/verify.sh" --run "$CB_RUN" >"$CB_RUN/logs/verify-broken.log" 2>&1
rc=$?
expect_eq "a backup of a broken ledger fails verify" 1 "$rc"
expect_match "naming the broken account" 'FAIL repo1: the restored ledger fails' "$(cat "$CB_RUN/logs/verify-broken.log")"
cp "$CB_RUN/backup/conf.d/cipher.conf" "$CB_RUN/cipher.good"
sed -i 's/^repo1-cipher-pass=.*/repo1-cipher-pass=not-the-passphrase/' "$CB_RUN/backup/conf.d/cipher.conf"
expect_match "the repository cannot be read without its passphrase" 'status: error' \
    "$(cb_pgbackrest --repo=1 info 2>&1 | grep -a 'status:')"
cp "$CB_RUN/cipher.good" "$CB_RUN/backup/conf.d/cipher.conf"
expect_eq "the script refuses a bad type" 2 "$("$BACKUP/backup.sh" --run "$CB_RUN" weekly >/dev/null 2>&1; echo $?)"

section "the backup alerts (Kubernetes, kube-state-metrics)"
out=$(cd "$CB_ROOT/deploy/prometheus/backup" && promtool check rules backup.rules.yml 2>&1)
expect_match "promtool check rules backup.rules.yml" 'SUCCESS: 3 rules found' "$out"
out=$(cd "$CB_ROOT/deploy/prometheus/backup" && promtool test rules backup_test.yml 2>&1)
expect_match "promtool test rules backup_test.yml: stale, never, verify failing; not on time" 'SUCCESS' "$out"

summary backup
