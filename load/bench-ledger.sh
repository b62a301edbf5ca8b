#!/usr/bin/env bash
# make bench-ledger: how many transfers per second one balance instance
# acknowledges, next to what pgbench (TPC-B, scale 10) gets out of the same
# PostgreSQL in the same run, at the same client counts.
#
#   load/bench-ledger.sh [build/bin]
#
# Starts its own PostgreSQL and one cordbank-balance (lib.sh); balance flags
# can be given as environment (CORDBANK_PG_POOL=8 CORDBANK_BATCH_MAX=64 ...,
# inherited by the instance and recorded in the report). For each client
# count: a CHECKPOINT, cordbank-ledger-load for BENCH_SECONDS, a CHECKPOINT,
# pgbench for as long. Prints a table and writes
# $BENCH_REPORT_DIR/ledger.json (default load/reports/latest/).
#
#   BENCH_CLIENTS="8 64 256"  BENCH_SECONDS=10  BENCH_ACCOUNTS=1000
#   BENCH_REPEAT_RATIO=0  BENCH_DEADLINE_MS=5000  BENCH_PGBENCH_SCALE=10
#
# Exits 1 when a run failed (a ledger-load correctness check, pgbench).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CB_BIN=${1:-${CB_BIN:-$HERE/../build/bin}}
CB_BIN=$(cd "$CB_BIN" && pwd) || exit 2
. "$HERE/../deploy/local/lib.sh"

CLIENTS=${BENCH_CLIENTS:-8 64 256}
SECONDS_EACH=${BENCH_SECONDS:-10}
ACCOUNTS=${BENCH_ACCOUNTS:-1000}
REPEAT_RATIO=${BENCH_REPEAT_RATIO:-0}
DEADLINE_MS=${BENCH_DEADLINE_MS:-5000}
SCALE=${BENCH_PGBENCH_SCALE:-10}
REPORT_DIR=${BENCH_REPORT_DIR:-$HERE/reports/latest}
GUILD=777
for v in SECONDS_EACH ACCOUNTS DEADLINE_MS SCALE; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-ledger: ${v} must be a positive whole number, got '${!v}'" >&2; exit 2; }
done
[[ $REPEAT_RATIO =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] || { echo "bench-ledger: BENCH_REPEAT_RATIO must be a number from 0 to 1, got '$REPEAT_RATIO'" >&2; exit 2; }
for n in $CLIENTS; do
    [[ $n =~ ^[1-9][0-9]*$ && $n -le 1000 ]] || { echo "bench-ledger: BENCH_CLIENTS: '$n' is not a client count (1..1000)" >&2; exit 2; }
done
for tool in "$CB_BIN/cordbank-balance" "$CB_BIN/cordbank-ledger-load" "$PG_BIN/pgbench"; do
    [ -x "$tool" ] || { echo "bench-ledger: $tool not found (make all?)" >&2; exit 2; }
done
mkdir -p "$REPORT_DIR" || exit 2

# Room for pgbench's largest client count plus the balance pool.
max_clients=$(tr ' ' '\n' <<<"$CLIENTS" | sort -n | tail -1)
export CB_PG_MAX_CONNECTIONS=$((max_clients + 50 > 200 ? max_clients + 50 : 200))
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
RPC=$(cb_port) EVENTS=$(cb_port) ADMIN=$(cb_port)
cb_start_balance balance-1 "$CB_BIN" "$RPC" "$EVENTS" "$ADMIN"
cb_wait_port_ready "$ADMIN" 30 balance-1 || exit 1

cb_log "pgbench -i -s $SCALE"
psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE pgbench' || exit 1
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -s "$SCALE" -q pgbench \
    >"$CB_RUN/logs/pgbench-init.log" 2>&1 || { cat "$CB_RUN/logs/pgbench-init.log" >&2; exit 1; }

checkpoint() { cb_psql -c CHECKPOINT >/dev/null; }

status=0 runs='[]' seeded=no
for n in $CLIENTS; do
    checkpoint
    cb_log "cordbank-ledger-load: $n clients, ${SECONDS_EACH}s"
    seed=0; [ $seeded = yes ] || seed=1000
    out=$CB_RUN/ledger-$n.json
    timeout -k 5 $((SECONDS_EACH * 2 + 120)) "$CB_BIN/cordbank-ledger-load" \
        --balance-endpoints "tcp://127.0.0.1:$RPC" --concurrency "$n" --duration-s "$SECONDS_EACH" \
        --accounts "$ACCOUNTS" --guild "$GUILD" --repeat-ratio "$REPEAT_RATIO" \
        --deadline-ms "$DEADLINE_MS" --seed-balance "$seed" --key-prefix "bench-$n" --quiet \
        --json "$out" >"$CB_RUN/logs/ledger-$n.log" 2>&1
    rc=$?; seeded=yes
    [ $rc -eq 0 ] || { cb_log "cordbank-ledger-load failed (exit $rc):"; cat "$CB_RUN/logs/ledger-$n.log" >&2; status=1; }
    [ -s "$out" ] || echo '{}' >"$out"

    checkpoint
    cb_log "pgbench: $n clients, ${SECONDS_EACH}s"
    "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$n" -j 2 -T "$SECONDS_EACH" -n pgbench \
        >"$CB_RUN/logs/pgbench-$n.log" 2>&1 || { cat "$CB_RUN/logs/pgbench-$n.log" >&2; status=1; }
    pg_tps=$(awk '/^tps = / { print $3; exit }' "$CB_RUN/logs/pgbench-$n.log")
    pg_lat=$(awk '/^latency average = / { print $4; exit }' "$CB_RUN/logs/pgbench-$n.log")

    runs=$(jq -c --argjson n "$n" --arg pg_tps "${pg_tps:-}" --arg pg_lat "${pg_lat:-}" --slurpfile l "$out" '
        ($l[0] // {}) as $l
        | ($pg_tps | tonumber? // null | if . then (. * 100 | round / 100) else . end) as $pg
        | . + [{clients: $n, cordbank_tps: $l.tps, pgbench_tps: $pg,
                ratio: (if $pg and $l.tps then ($l.tps / $pg * 1000 | round / 1000) else null end),
                p50_ms: $l.p50_ms, p99_ms: $l.p99_ms, max_ms: $l.max_ms,
                pgbench_latency_avg_ms: ($pg_lat | tonumber? // null),
                acked: $l.acked, outcomes: $l.outcomes, gave_up: $l.gave_up, correct: $l.correct}]' \
        <<<"$runs")
done

# What the numbers depend on: the machine, the build, PostgreSQL's settings, balance's flags.
settings=$(cb_psql -c "SELECT json_object_agg(name, setting) FROM pg_settings WHERE name IN
    ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_connections', 'server_version')")
balance_env=$(env | grep -E '^CORDBANK_' | grep -vE '^CORDBANK_[A-Z_]*URL=' | jq -R 'capture("^(?<k>[^=]+)=(?<v>.*)$")' \
    | jq -s 'map({(.k): .v}) | add // {}')
commit=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$HERE/.." diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
report=$(jq -n --argjson runs "$runs" --argjson pg "${settings:-null}" --argjson env "$balance_env" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(hostname)" --arg kernel "$(uname -sr)" \
    --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" --argjson cpus "$(nproc)" \
    --argjson mem_mb "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" --arg commit "$commit" \
    --arg bin "$CB_BIN" --argjson seconds "$SECONDS_EACH" --argjson accounts "$ACCOUNTS" \
    --argjson repeat "$REPEAT_RATIO" --argjson deadline "$DEADLINE_MS" --argjson scale "$SCALE" '
    {runs: $runs, date: $date,
     machine: {host: $host, kernel: $kernel, cpu: $cpu, cpus: $cpus, memory_mb: $mem_mb},
     build: {commit: $commit, bin: $bin},
     config: {seconds: $seconds, balance_instances: 1, accounts: $accounts, repeat_ratio: $repeat,
              deadline_ms: $deadline, pgbench: "TPC-B scale \($scale), -j 2",
              balance_env: $env, postgres: $pg}}')
echo "$report" >"$REPORT_DIR/ledger.json"

printf '\n%8s %14s %14s %7s %9s %9s\n' clients cordbank_tps pgbench_tps ratio p50_ms p99_ms
jq -r '.runs[] | [.clients, .cordbank_tps, .pgbench_tps, .ratio, .p50_ms, .p99_ms]
    | map(if . == null then "-" else tostring end) | @tsv' <<<"$report" \
    | while IFS=$'\t' read -r c ct pt r p50 p99; do
        printf '%8s %14s %14s %7s %9s %9s\n' "$c" "$ct" "$pt" "$r" "$p50" "$p99"
    done
echo "report: $REPORT_DIR/ledger.json"
exit $status
