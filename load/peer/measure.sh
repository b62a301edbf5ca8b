#!/usr/bin/env bash
# load/peer/measure.sh — throughput, latency and memory of the peer (and,
# with CORDBANK=1, of cordbank in the same run, on the same PostgreSQL and
# Redis), driven by cordbank-discord-sim at a list of open-model rates.
# Measures, never asserts: prints one line per run and, with MEASURE_JSON,
# writes every run as one JSON array. Everything on loopback, in a temp
# dir removed at exit.
#
#   load/peer/measure.sh [build/bin]
#
# Environment: RATES ("200 500 1000"), MIXES ("balance=1
# balance=70,pay=10,daily=5,work=5,leaderboard=5,history=5": the issue's mixed), SECONDS_EACH
# (10), USERS (1000), GUILDS (10), CONCURRENCY (256: the simulator's
# requests in flight), WORKERS (1) and POOL_SIZE (10) for the peer,
# CORDBANK (0: set 1 to measure cordbank too), MEASURE_JSON (a file).
#
# Each run is preceded by a 3 s warm-up at the lowest rate (JIT, prepared
# statements, caches). rss_mb is the largest resident set seen during the
# run, summed over the peer's processes (or cordbank's five services);
# cpu_s the CPU time they used during the run.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CB_BIN=${1:-${CB_BIN:-$ROOT/build/bin}}
. "$ROOT/deploy/local/lib.sh"
SIM=$CB_BIN/cordbank-discord-sim
RATES=${RATES:-200 500 1000}
MIXES=${MIXES:-balance=1 balance=70,pay=10,daily=5,work=5,leaderboard=5,history=5}
SECONDS_EACH=${SECONDS_EACH:-10} USERS=${USERS:-1000} GUILDS=${GUILDS:-10}
CONCURRENCY=${CONCURRENCY:-256} WORKERS=${WORKERS:-1} POOL_SIZE=${POOL_SIZE:-10}
CORDBANK=${CORDBANK:-0}

cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres >/dev/null || exit 1
cb_start_redis || exit 1
. "$ROOT/load/peer/lib.sh"
peer_start "$WORKERS" "$POOL_SIZE" || exit 1
declare -A URL PIDS
URL[peer]=$PEER_URL
PIDS[peer]=$PEER_PIDS
targets=peer
if [ "$CORDBANK" = 1 ]; then
    cb_pick_ports no
    cb_start_services "$CB_BIN"
    cb_wait_ready 30 || exit 1
    URL[cordbank]="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
    PIDS[cordbank]=$(for s in gateway command cache balance metrics; do cat "$CB_RUN/pids/$s"; done | tr '\n' ' ')
    targets="cordbank peer"
fi

rss_kb() { local p s=0; for p in $1; do s=$((s + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $s; }
cpu_ticks() { local p s=0; for p in $1; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
sim() { timeout $((SECONDS_EACH + 60)) "$SIM" --gateway-url "$1" --mix "$2" --rate "$3" --duration "$4" \
    --users "$USERS" --guilds "$GUILDS" --concurrency "$CONCURRENCY" 2>/dev/null; }

results=()
printf '%-9s %-60s %6s %9s %8s %8s %8s %7s %7s %s\n' target mix rate "cmd/s" p50_ms p99_ms max_ms rss_mb cpu_s errors
lowest=$(tr ' ' '\n' <<<"$RATES" | sort -n | head -1)
tick=$(getconf CLK_TCK)
for mix in $MIXES; do
    for target in $targets; do
        sim "${URL[$target]}" "$mix" "$lowest" 3 >/dev/null
        for rate in $RATES; do
            ( while :; do rss_kb "${PIDS[$target]}"; sleep 0.5; done ) >"$CB_RUN/rss" &
            sampler=$!
            cpu0=$(cpu_ticks "${PIDS[$target]}")
            out=$(sim "${URL[$target]}" "$mix" "$rate" "$SECONDS_EACH")
            cpu1=$(cpu_ticks "${PIDS[$target]}")
            kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
            peak=$(sort -n "$CB_RUN/rss" | tail -1)
            line=$(jq -c --arg t "$target" --arg m "$mix" --argjson rss "${peak:-0}" \
                --argjson cpu "$(((cpu1 - cpu0) * 100 / tick))" \
                '{target: $t, mix: $m, rate, commands_per_s, p50_ms, p99_ms, max_ms, errors,
                  rss_mb: (($rss / 1024) | floor), cpu_s: ($cpu / 100)}' <<<"${out:-null}" 2>/dev/null)
            [ -n "$line" ] || line="{\"target\":\"$target\",\"mix\":\"$mix\",\"rate\":$rate,\"failed\":true}"
            results+=("$line")
            jq -r '[.target, .mix, .rate, .commands_per_s, .p50_ms, .p99_ms, .max_ms, .rss_mb, .cpu_s,
                    (.errors | tostring)] | @tsv' <<<"$line" |
                awk -F'\t' '{printf "%-9s %-60s %6s %9s %8s %8s %8s %7s %7s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
        done
    done
done
[ -z "${MEASURE_JSON:-}" ] || printf '%s\n' "${results[@]}" | jq -s . >"$MEASURE_JSON"
