#!/usr/bin/env bash
# make bench-gateway: events per second per core through the gateway's
# Gateway path — zlib-stream inflate, JSON parse, dispatch — with 100
# simulated shards on one gateway pod.
#
# The simulator (cordbank-discord-sim --serve, 100 shards, max_concurrency
# 100 so that they all identify at once) dispatches BENCH_EVENTS
# INTERACTION_CREATE events (/balance, over BENCH_GUILDS guilds, so over
# every shard) at BENCH_RATE per second. Each event is
# inflated, parsed and handed to the reactor, which sends a CommandRequest
# to command and the reply back to the simulator through REST: the whole
# path a real event takes, so the CPU measured is the gateway's cost per
# answered interaction, not only per inflated message. command, cache,
# balance, PostgreSQL and Redis run beside it (their CPU is not counted).
#
# Measured, from the first dispatch to the last answer: the wall time, the
# gateway's CPU seconds (utime + stime from /proc/PID/stat: every thread —
# shards, reactor, command client, REST through libcurl) and those of its
# shard thread alone ("gw-shards", /proc/PID/task/TID/stat: zlib-stream
# inflate, JSON parse, hand-off to the reactor). events_per_shard_cpu_s =
# events / shard thread CPU is the Gateway path's events per second per
# core; events_per_cpu_s = events / process CPU is the whole gateway's, REST
# answers included.
#
# BENCH_RATE paces the simulator: the default is what one command instance
# and the REST path here answer within Discord's 3 s; a burst far above it
# measures the REST path's overload, not the shards.
#
#   load/bench-gateway.sh [build/bin]
#   BENCH_EVENTS=10000  BENCH_RATE=500  BENCH_SHARDS=100  BENCH_GUILDS=1000
#
# Writes $BENCH_REPORT_DIR/gateway.json (default load/reports/latest/).
# Exits 1 when the run failed (shards did not connect, events not answered).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CB_BIN=${1:-${CB_BIN:-$HERE/../build/bin}}
CB_BIN=$(cd "$CB_BIN" && pwd) || exit 2
. "$HERE/../deploy/local/lib.sh"

EVENTS=${BENCH_EVENTS:-10000}
RATE=${BENCH_RATE:-500}
SHARDS=${BENCH_SHARDS:-100}
GUILDS=${BENCH_GUILDS:-1000}
REPORT_DIR=${BENCH_REPORT_DIR:-$HERE/reports/latest}
for v in EVENTS RATE SHARDS GUILDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-gateway: BENCH_${v} must be a positive whole number, got '${!v}'" >&2; exit 2; }
done
for tool in cordbank-discord-sim cordbank-gateway cordbank-command; do
    [ -x "$CB_BIN/$tool" ] || { echo "bench-gateway: $CB_BIN/$tool not found (make all?)" >&2; exit 2; }
done
mkdir -p "$REPORT_DIR" || exit 2
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
LO=127.0.0.1
for v in BAL_RPC BAL_EVENTS BAL_ADMIN CACHE_RPC CACHE_ADMIN CMD_RPC CMD_ADMIN GW_HTTP GW_ADMIN SIM; do
    printf -v "$v" '%s' "$(cb_port)"
done
SIMURL="http://$LO:$SIM"
TOKEN=cordbank-dev-token

cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$SIM" --shards "$SHARDS" \
    --max-concurrency "$SHARDS" --guilds "$GUILDS" --users "$((GUILDS * 10))" --token "$TOKEN"
cb_start_balance balance-1 "$CB_BIN" "$BAL_RPC" "$BAL_EVENTS" "$BAL_ADMIN"
cb_start_cache cache-1 "$CB_BIN" "$CACHE_RPC" "$CACHE_ADMIN" "$BAL_RPC" "$BAL_EVENTS"
cb_start_command command-1 "$CB_BIN" "$CMD_RPC" "$CMD_ADMIN" "tcp://$LO:$CACHE_RPC" "tcp://$LO:$BAL_RPC"
cb_start_gateway gateway-1 "$CB_BIN" "$GW_HTTP" "$GW_ADMIN" "tcp://$LO:$CMD_RPC" \
    --discord-api-url "$SIMURL/api/v10" --discord-token "$TOKEN" --shard-count "$SHARDS"

stats() { curl -sf --max-time 5 "$SIMURL/_sim/stats"; }
# cpu_ticks STATFILE: utime + stime, in clock ticks (of a process or a thread).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$1"; }
# The gateway's shard thread (named gw-shards).
shard_thread() {
    local t
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = gw-shards ] && { echo "$t/stat"; return; }
    done
}
now_ms() { date +%s%3N; }

cb_log "waiting for $SHARDS shards to connect"
cb_wait_port_ready "$GW_ADMIN" 90 gateway-1 || exit 1
GW_PID=$(cat "$CB_RUN/pids/gateway-1")
HZ=$(getconf CLK_TCK)
SHARD_STAT=$(shard_thread "$GW_PID")
[ -n "$SHARD_STAT" ] || { echo "bench-gateway: no gw-shards thread in the gateway" >&2; exit 1; }

cb_log "dispatching $EVENTS events"
base=$(stats | jq '.interactions.answered') || exit 1
t0=$(now_ms) c0=$(cpu_ticks "/proc/$GW_PID/stat") s0=$(cpu_ticks "$SHARD_STAT")
curl -sf -X POST -H 'Content-Type: application/json' \
    -d "{\"count\":$EVENTS,\"rate\":$RATE,\"command\":\"balance\",\"guilds\":$GUILDS,\"users\":$((GUILDS * 10))}" \
    "$SIMURL/_sim/interactions" >/dev/null || { echo "bench-gateway: the simulator refused the run" >&2; exit 1; }
end=$((SECONDS + 300)) answered=0
while [ $SECONDS -lt $end ]; do
    answered=$(($(stats | jq '.interactions.answered') - base))
    [ "$answered" -ge "$EVENTS" ] && break
    sleep 0.2
done
t1=$(now_ms) c1=$(cpu_ticks "/proc/$GW_PID/stat") s1=$(cpu_ticks "$SHARD_STAT")
S=$(stats)
status=0
[ "$answered" -ge "$EVENTS" ] || { echo "bench-gateway: only $answered of $EVENTS answered in time" >&2; status=1; }

jq -n --argjson events "$EVENTS" --argjson answered "$answered" --argjson shards "$SHARDS" \
    --argjson wall_ms "$((t1 - t0))" --argjson ticks "$((c1 - c0))" --argjson hz "$HZ" \
    --argjson shard_ticks "$((s1 - s0))" --argjson rate "$RATE" \
    --argjson twice "$(jq '.interactions.answered_twice' <<<"$S")" \
    --argjson connected "$(jq '[.shards[] | select(.connected)] | length' <<<"$S")" '
    ($ticks / $hz) as $cpu | ($shard_ticks / $hz) as $shard_cpu | ($wall_ms / 1000) as $wall |
    {bench: "gateway", event: "INTERACTION_CREATE (/balance, answered through command and REST)",
     shards: $shards, shards_connected: $connected, events: $events, rate_asked: $rate,
     answered: $answered, answered_twice: $twice, wall_s: $wall, cpu_s: $cpu,
     shard_thread_cpu_s: $shard_cpu,
     events_per_s: (if $wall > 0 then ($answered / $wall | floor) else 0 end),
     events_per_cpu_s: (if $cpu > 0 then ($answered / $cpu | floor) else null end),
     events_per_shard_cpu_s: (if $shard_cpu > 0 then ($events / $shard_cpu | floor) else null end),
     cpu_cores_used: (if $wall > 0 then ($cpu / $wall * 100 | floor) / 100 else 0 end)}' \
    >"$REPORT_DIR/gateway.json" || status=1
cat "$REPORT_DIR/gateway.json"
exit $status
