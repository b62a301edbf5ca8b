#!/usr/bin/env bash
# make dr-drill: lose the ledger's primary under load, restore it from the
# backups, and measure what was lost and how long it took.
#
#   deploy/backup/dr-drill.sh [build/bin]
#
# A whole cordbank on loopback (PostgreSQL archiving its WAL with
# pgBackRest into two encrypted repositories, Redis, one instance of each
# service). Then:
#   1. light load: cordbank-ledger-load, DRILL_CONCURRENCY (4) pays in
#      flight, every acknowledged pay written down
#   2. after DRILL_BEFORE_S (20) s a full backup into both repositories
#   3. DRILL_AFTER_S (90) s more of writes, then the primary is destroyed at
#      a recorded moment: PostgreSQL killed (SIGKILL, every process) and its
#      data directory removed, WAL not yet archived with it; the load stops
#      (its acknowledged pays are all from before the destruction)
#   4. restore from repository DRILL_REPO (1; 2 is the offsite one) to the
#      end of the archived WAL, start PostgreSQL, flush the cache (Redis
#      holds balances newer than the restored ledger), restart the services
#   5. /daily through the gateway until a command succeeds
# Measured: RTO, from the destruction until that success; RPO, the seconds
# of writes lost (from the newest transfer the restore holds to the
# destruction) and the acknowledged pays missing after the restore; the
# ledger invariants after it. Writes load/reports/latest/dr.json and
# dr.md. Exit 0 when the invariants hold and the goals (RPO <= 60 s,
# RTO <= 300 s) are met, 1 otherwise (DRILL_OUT: another directory for
# the reports). About 2.5 minutes.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
CB_BIN=$(cd "$CB_BIN" && pwd)
. "$(dirname "$0")/../local/lib.sh"
. "$CB_ROOT/deploy/backup/lib.sh"
. "$CB_ROOT/tests/lib/ledger.sh"
. "$CB_ROOT/tests/lib/interact.sh"

BEFORE=${DRILL_BEFORE_S:-20} AFTER=${DRILL_AFTER_S:-90} CONC=${DRILL_CONCURRENCY:-4} REPO=${DRILL_REPO:-1}
for v in DRILL_BEFORE_S:$BEFORE DRILL_AFTER_S:$AFTER DRILL_CONCURRENCY:$CONC; do
    [[ ${v#*:} =~ ^[1-9][0-9]*$ ]] || { echo "dr-drill: ${v%%:*} must be a positive whole number, got '${v#*:}'" >&2; exit 2; }
done
[[ $REPO =~ ^[12]$ ]] || { echo "dr-drill: DRILL_REPO must be 1 or 2, got '$REPO'" >&2; exit 2; }
OUT=${DRILL_OUT:-$CB_ROOT/load/reports/latest}
mkdir -p "$OUT"
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}
now_ms() { date +%s%3N; }

cb_run_dir
trap 'kill "${LOAD_PID:-0}" 2>/dev/null; cb_stop_all' EXIT
cb_log "run dir $CB_RUN"
CB_PG_ARCHIVE=1 cb_start_postgres || exit 1
cb_start_redis || exit 1
cb_pick_ports no
cb_start_services "$CB_BIN"
cb_wait_ready 30 || exit 1
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"

cb_log "load: $CONC pays in flight, acknowledged ones in $CB_RUN/dr.acked"
"$CB_BIN/cordbank-ledger-load" --balance-endpoints "tcp://127.0.0.1:$PORT_BALANCE_RPC" \
    --concurrency "$CONC" --duration-s $((BEFORE + AFTER + 600)) --accounts 100 --key-prefix dr --quiet \
    --deadline-ms 1000 --max-attempts 2 --repeat-ratio 0 --acked-file "$CB_RUN/dr.acked" >"$CB_RUN/logs/load.log" 2>&1 &
LOAD_PID=$!
sleep "$BEFORE"

cb_log "full backup into repo1 and repo2"
backup_started=$SECONDS
cb_backup_run full >"$CB_RUN/logs/backup.log" 2>&1 || { cat "$CB_RUN/logs/backup.log" >&2; exit 1; }
backup_s=$((SECONDS - backup_started))
cb_log "backup done in ${backup_s} s; writing for ${AFTER} s more"
sleep "$AFTER"

# The disaster: every PostgreSQL process killed at once, the directory gone.
pg_pids=$(pgrep -u postgres -f -- "-D $CB_RUN/pg/data" ; pgrep -u postgres -P "$(head -1 "$CB_RUN/pg/data/postmaster.pid")")
DESTROYED_MS=$(now_ms)
kill -KILL $pg_pids 2>/dev/null
rm -rf "$CB_RUN/pg/data"
cb_log "primary destroyed at $(date -u -d @$((DESTROYED_MS / 1000)) +%H:%M:%S) ($DESTROYED_MS)"
# The load tool writes its acknowledged keys when it stops.
kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=
acked_before=$(awk '$3 == "OK"' "$CB_RUN/dr.acked" | wc -l)

restore_started=$(now_ms)
cb_backup_restore "$CB_RUN/pg/data" --repo="$REPO" >"$CB_RUN/logs/restore.log" 2>&1 \
    || { cat "$CB_RUN/logs/restore.log" >&2; exit 1; }
cb_pg_start || exit 1
until [ "$(cb_psql -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.2; done
RESTORED_MS=$(now_ms)
cb_log "restored from repo$REPO and promoted in $(((RESTORED_MS - restore_started) / 1000)) s"
redis-cli -p "$REDIS_PORT" flushall >/dev/null
for s in balance cache command gateway; do "$CB_ROOT/deploy/local/ctl.sh" --run "$CB_RUN" restart "$s" >/dev/null; done
i=0
while :; do
    i=$((i + 1))
    cb_interact "$URL" --command daily --guild 7001 --user $((990000 + i))
    case "$CONTENT" in "You claimed your daily"*) break ;; esac
    [ $i -lt 3000 ] || { cb_log "no command succeeded after the restore"; break; }
    sleep 0.1
done
OK_MS=$(now_ms)
cb_log "a command succeeded again: $CONTENT"

# What the restore holds: acked pays against it, the newest transfer of the load.
read -r acked lost dup wrong moved in_table <<<"$(cb_ledger_acked "$CB_RUN/dr.acked" dr)"
newest_ms=$(cb_psql -c "SELECT (extract(epoch FROM max(created_at)) * 1000)::bigint FROM transfers WHERE starts_with(idempotency_key, 'dr-')")
read -r inv_rc sum bad_guilds bad_accounts <<<"$(cb_ledger_invariants "$CB_BIN" "$CB_RUN/logs/invariants.log")"
invariants_ok=$([ "$inv_rc" = 0 ] && [ "$sum" = 0 ] && [ "$bad_guilds" = 0 ] && [ "$bad_accounts" = 0 ] && echo true || echo false)
rpo_ms=$((DESTROYED_MS - newest_ms))
rto_ms=$((OK_MS - DESTROYED_MS))
archive_timeout=$(cb_psql -c 'SHOW archive_timeout')
ok=$([ "$invariants_ok" = true ] && [ $rpo_ms -le 60000 ] && [ $rto_ms -le 300000 ] && echo true || echo false)

jq -n --argjson rpo "$(printf '%d.%03d' $((rpo_ms / 1000)) $((rpo_ms % 1000)))" \
      --argjson rto "$(printf '%d.%03d' $((rto_ms / 1000)) $((rto_ms % 1000)))" \
      --argjson lost "${lost:-null}" --argjson acked "$acked_before" --argjson dup "${dup:-null}" \
      --argjson inv "$invariants_ok" --argjson ok "$ok" --argjson repo "$REPO" \
      --argjson restore "$(((RESTORED_MS - restore_started) / 1000))" --argjson backup "$backup_s" \
      --argjson before "$BEFORE" --argjson after "$AFTER" --argjson conc "$CONC" \
      --arg at "$(date -u -d @$((DESTROYED_MS / 1000)) +%FT%TZ)" --arg archive_timeout "$archive_timeout" \
      --arg content "$CONTENT" '{
  rpo_s: $rpo, lost_acked_transfers: $lost, rto_s: $rto, invariants_ok: $inv,
  goals: {rpo_s: 60, rto_s: 300, met: $ok},
  acked_transfers_before_destruction: $acked, duplicated_transfers: $dup,
  destroyed_at: $at, restore_repo: $repo, restore_and_recovery_s: $restore, full_backup_s: $backup,
  load: {concurrency: $conc, seconds_before_backup: $before, seconds_after_backup: $after},
  archive_timeout: $archive_timeout, first_command_after: $content,
  definitions: {
    rpo_s: "from the newest transfer the restored ledger holds to the destruction of the primary",
    lost_acked_transfers: "pays acknowledged OK to the client but missing from the restored ledger",
    rto_s: "from the destruction until a /daily through the gateway succeeds again"}}' >"$OUT/dr.json"

cat >"$OUT/dr.md" <<EOT
# DR drill — $(date -u +%F)

The ledger's primary destroyed under load (PostgreSQL SIGKILLed, its data
directory removed) and restored from pgBackRest repo$REPO (\`make dr-drill\`,
deploy/backup/dr-drill.sh). Figures from this run.

| | measured | goal |
|---|---|---|
| RPO: writes lost (newest restored transfer → destruction) | $(jq .rpo_s "$OUT/dr.json") s | ≤ 60 s |
| acknowledged pays missing after the restore | ${lost:-?} of $acked_before | — |
| RTO: destruction → a command succeeds again | $(jq .rto_s "$OUT/dr.json") s | ≤ 300 s |
| ledger invariants after the restore | $invariants_ok | true |

- Load: cordbank-ledger-load, $CONC pays in flight among 100 members; a full
  backup (both repositories) after $BEFORE s took $backup_s s; $AFTER s more of
  writes; destroyed at $(jq -r .destroyed_at "$OUT/dr.json").
- Restore of repo$REPO to the end of the archived WAL and recovery:
  $(((RESTORED_MS - restore_started) / 1000)) s; then Redis flushed and balance,
  cache, command and gateway restarted; first command after: "$CONTENT".
- WAL is archived per segment; archive_timeout = $archive_timeout switches a
  segment at least every minute, so the writes of the last (up to) 60 s
  before the destruction are the ones at risk: the RPO is where in that
  minute the destruction fell. A standby with synchronous or streaming
  replication (docs/dr-runbook.md, "HA") brings it to seconds.
EOT
cat "$OUT/dr.md"
[ "$ok" = true ]
