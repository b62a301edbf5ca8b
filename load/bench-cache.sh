#!/usr/bin/env bash
# make bench-cache: how fast balances are read, at three depths of the same
# system, in one run:
#
#   cache  cordbank-ledger-load --mode cache-read against the cache service
#          alone: BalanceGetRequests at BENCH_CLIENTS in flight, Zipf(1.1)
#          popularity over 100,000 members of 4 guilds (the 10,000 most
#          popular granted coins first, so they are real accounts), after a
#          warm-up run so that the hit ratio is high;
#   e2e    cordbank-discord-sim, /balance only, through gateway, command and
#          cache: the highest rate it sustains (no errors, every answer in,
#          p99 under BENCH_E2E_P99_MS), found by probing, then held for
#          BENCH_SECONDS. The simulator draws members uniformly (it has no
#          Zipf): BENCH_SIM_USERS members, all granted coins first;
#   redis  redis-benchmark -t get against the same Redis, with the same
#          client count, for about BENCH_SECONDS.
#
#   load/bench-cache.sh [build/bin]
#
# Starts its own PostgreSQL, Redis and one instance of each service
# (deploy/local/lib.sh). Prints a table and writes
# $BENCH_REPORT_DIR/cache.json (default load/reports/latest/).
#
#   BENCH_CLIENTS=64  BENCH_SECONDS=10  BENCH_WARMUP_S=30  BENCH_USERS=100000
#   BENCH_GUILDS=4  BENCH_ZIPF=1.1  BENCH_SEED_USERS=10000  BENCH_SIM_USERS=10000
#   BENCH_SIM_GUILDS=10  BENCH_E2E_P99_MS=100  BENCH_PROBE_S=3
#
# Exits 1 when a run failed (a tool could not run, or the cache tool saw a
# stale read), 2 for bad settings.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CB_BIN=${1:-${CB_BIN:-$HERE/../build/bin}}
CB_BIN=$(cd "$CB_BIN" && pwd) || exit 2
. "$HERE/../deploy/local/lib.sh"

CLIENTS=${BENCH_CLIENTS:-64}
SECONDS_EACH=${BENCH_SECONDS:-10}
WARMUP_S=${BENCH_WARMUP_S:-30}   # steady state: a bot's cache has been warm for hours
USERS=${BENCH_USERS:-100000}
GUILDS=${BENCH_GUILDS:-4}
ZIPF=${BENCH_ZIPF:-1.1}
SEED_USERS=${BENCH_SEED_USERS:-10000}
SIM_USERS=${BENCH_SIM_USERS:-10000}
SIM_GUILDS=${BENCH_SIM_GUILDS:-10}
E2E_P99_MS=${BENCH_E2E_P99_MS:-100}
PROBE_S=${BENCH_PROBE_S:-3}
REPORT_DIR=${BENCH_REPORT_DIR:-$HERE/reports/latest}
GUILD=880000
SIM_FIRST_USER=100000 SIM_FIRST_GUILD=7000 # the simulator's member numbering (load/README.md)
for v in CLIENTS SECONDS_EACH WARMUP_S USERS GUILDS SIM_USERS SIM_GUILDS E2E_P99_MS PROBE_S; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-cache: ${v} must be a positive whole number, got '${!v}'" >&2; exit 2; }
done
[[ $SEED_USERS =~ ^[0-9]+$ && $SEED_USERS -le $USERS ]] || { echo "bench-cache: BENCH_SEED_USERS must be 0..BENCH_USERS, got '$SEED_USERS'" >&2; exit 2; }
[[ $ZIPF =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench-cache: BENCH_ZIPF must be a number from 0 to 10, got '$ZIPF'" >&2; exit 2; }
[ "$CLIENTS" -le 1000 ] || { echo "bench-cache: BENCH_CLIENTS must be at most 1000, got '$CLIENTS'" >&2; exit 2; }
[ "$SIM_USERS" -ge "$SIM_GUILDS" ] || { echo "bench-cache: BENCH_SIM_USERS must be at least BENCH_SIM_GUILDS" >&2; exit 2; }
for tool in "$CB_BIN/cordbank-ledger-load" "$CB_BIN/cordbank-discord-sim" "$CB_BIN/cordbank-cache"; do
    [ -x "$tool" ] || { echo "bench-cache: $tool not found (make all?)" >&2; exit 2; }
done
command -v redis-benchmark >/dev/null || { echo "bench-cache: redis-benchmark not found (make deps)" >&2; exit 2; }
mkdir -p "$REPORT_DIR" || exit 2
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

cb_start_all "$CB_BIN"
LO=127.0.0.1
CACHE=tcp://$LO:$PORT_CACHE_RPC BALANCE=tcp://$LO:$PORT_BALANCE_RPC
status=0

# The cache's read counters by result, as one JSON object: {"hit": n, ...}.
cache_reads() {
    curl -s --max-time 5 "http://$LO:$PORT_CACHE_ADMIN/metrics" | awk '
        /^cordbank_cache_requests_total\{/ { match($1, /result="[^"]*"/); r = substr($1, RSTART + 8, RLENGTH - 9); n[r] += $NF }
        END { printf "{"; s = ""; for (r in n) { printf "%s\"%s\":%d", s, r, n[r]; s = "," } print "}" }'
}

# ledger_load NAME SECONDS [FLAG...]: a cache-read run; summary in $CB_RUN/NAME.json.
ledger_load() {
    local name=$1 seconds=$2 rc; shift 2
    timeout -k 5 $((seconds + 180)) "$CB_BIN/cordbank-ledger-load" --mode cache-read --cache-endpoints "$CACHE" \
        --balance-endpoints "$BALANCE" --concurrency "$CLIENTS" --duration-s "$seconds" --deadline-ms 5000 \
        --key-prefix "bench-cache-$name" --quiet --json "$CB_RUN/$name.json" "$@" >"$CB_RUN/logs/$name.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || { cb_log "cordbank-ledger-load ($name) failed (exit $rc):"; cat "$CB_RUN/logs/$name.log" >&2; status=1; }
    [ -s "$CB_RUN/$name.json" ] || echo '{}' >"$CB_RUN/$name.json"
}

# --- (i) the cache service alone --------------------------------------------
zipf_reads=(--users "$USERS" --guilds "$GUILDS" --guild "$GUILD" --zipf "$ZIPF")
cb_log "cache: granting coins to the $SEED_USERS most popular of $USERS members, then ${WARMUP_S}s of warm-up reads"
ledger_load cache-warmup "$WARMUP_S" "${zipf_reads[@]}" --seed-users "$SEED_USERS" --seed-balance 100
before=$(cache_reads)
cb_log "cache: ${SECONDS_EACH}s of reads, $CLIENTS in flight, Zipf($ZIPF)"
ledger_load cache "$SECONDS_EACH" "${zipf_reads[@]}"
after=$(cache_reads)
cache_metrics=$(jq -n --argjson b "$before" --argjson a "$after" '
    ($a | with_entries(.value -= ($b[.key] // 0))) as $d | ($d | add // 0) as $total
    | {reads: $d, total: $total,
       hit_ratio: (if $total > 0 then ((($d.hit // 0) + ($d.negative_hit // 0)) / $total * 10000 | round / 10000) else null end),
       positive_hit_ratio: (if $total > 0 then (($d.hit // 0) / $total * 10000 | round / 10000) else null end)}')

# --- (iii) redis-benchmark, same Redis, same clients -------------------------
cb_log "redis-benchmark -t get -c $CLIENTS: a short probe, then about ${SECONDS_EACH}s"
redis_bench() {
    redis-benchmark -h $LO -p "$REDIS_PORT" -t get -c "$CLIENTS" -n "$1" --csv 2>"$CB_RUN/logs/redis-benchmark.err" \
        | awk -F, '/^"GET"/ { gsub(/"/, ""); print $2, $7 }'
}
read -r probe_rps _ <<<"$(redis_bench 50000)"
redis_n=$(awk -v r="${probe_rps:-0}" -v s="$SECONDS_EACH" 'BEGIN { n = int(r * s); print (n < 100000 ? 100000 : n) }')
read -r redis_rps redis_p99 <<<"$(redis_bench "$redis_n")"
[ -n "${redis_rps:-}" ] || { cb_log "redis-benchmark failed:"; cat "$CB_RUN/logs/redis-benchmark.err" >&2; status=1; }

# --- (ii) end to end, from the simulator -------------------------------------
URL="http://$LO:$PORT_GATEWAY_HTTP/interactions"
cb_log "e2e: granting coins to the simulator's $SIM_USERS members"
ledger_load sim-seed 1 --users "$SIM_USERS" --guilds "$SIM_GUILDS" --guild "$SIM_FIRST_GUILD" \
    --first-user "$SIM_FIRST_USER" --seed-users "$SIM_USERS" --seed-balance 100 --requests 1
# sim NAME RATE SECONDS: /balance only; summary in $CB_RUN/NAME.json.
sim() {
    timeout -k 5 $(($3 + 60)) "$CB_BIN/cordbank-discord-sim" --gateway-url "$URL" --mix balance=1 \
        --users "$SIM_USERS" --guilds "$SIM_GUILDS" --concurrency "$CLIENTS" --rate "$2" --duration "$3" \
        >"$CB_RUN/$1.json" 2>"$CB_RUN/logs/$1.log"
    [ -s "$CB_RUN/$1.json" ] || echo '{}' >"$CB_RUN/$1.json"
}
# Sustained: every send answered ok, answers kept pace, p99 under the bound.
sustained() {
    jq -e --argjson rate "$2" --argjson p99 "$E2E_P99_MS" '
        .sent > 0 and .ok == .sent and (.errors | length) == 0 and .commands_per_s >= 0.95 * $rate
        and .p99_ms != null and .p99_ms <= $p99' "$CB_RUN/$1.json" >/dev/null
}
sim warm-e2e 500 2   # the simulator's members into the cache
probes='[]' best=0 rate=500 fail=
while [ -z "$fail" ] && [ "$rate" -le 200000 ]; do
    sim "probe-$rate" "$rate" "$PROBE_S"
    probes=$(jq -c --argjson r "$rate" --slurpfile p "$CB_RUN/probe-$rate.json" '. + [{rate: $r} + ($p[0] | {commands_per_s, ok, sent, p99_ms, errors})]' <<<"$probes")
    if sustained "probe-$rate" "$rate"; then best=$rate; rate=$((rate * 2)); else fail=$rate; fi
done
# Two halvings of the gap between the last sustained rate and the first that was not.
for _ in 1 2; do
    [ -n "$fail" ] && [ $((fail - best)) -gt 100 ] || break
    rate=$(((best + fail) / 2))
    sim "probe-$rate" "$rate" "$PROBE_S"
    probes=$(jq -c --argjson r "$rate" --slurpfile p "$CB_RUN/probe-$rate.json" '. + [{rate: $r} + ($p[0] | {commands_per_s, ok, sent, p99_ms, errors})]' <<<"$probes")
    if sustained "probe-$rate" "$rate"; then best=$rate; else fail=$rate; fi
done
held=false
if [ "$best" -gt 0 ]; then
    cb_log "e2e: ${SECONDS_EACH}s at $best/s, the highest rate sustained in the probes"
    sim e2e "$best" "$SECONDS_EACH"
    if sustained e2e "$best"; then held=true; else cb_log "e2e: the final run did not hold $best/s within the bounds (see the report)"; fi
else
    cb_log "e2e: not even 500/s was sustained; see the probes in the report"
    echo '{}' >"$CB_RUN/e2e.json"
fi

# --- the report ---------------------------------------------------------------
commit=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$HERE/.." diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
report=$(jq -n --slurpfile c "$CB_RUN/cache.json" --slurpfile e "$CB_RUN/e2e.json" \
    --argjson cm "$cache_metrics" --arg redis_rps "${redis_rps:-}" --arg redis_p99 "${redis_p99:-}" \
    --argjson redis_n "$redis_n" --argjson probes "$probes" --argjson best "$best" --argjson held "$held" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(hostname)" --arg kernel "$(uname -sr)" \
    --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" --argjson cpus "$(nproc)" \
    --argjson mem_mb "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" --arg commit "$commit" \
    --arg bin "$CB_BIN" --arg redis_version "$(redis-server --version | awk '{ sub(/^v=/, "", $3); print $3 }')" \
    --argjson clients "$CLIENTS" --argjson seconds "$SECONDS_EACH" --argjson warmup "$WARMUP_S" \
    --argjson users "$USERS" --argjson guilds "$GUILDS" --argjson zipf "$ZIPF" --argjson seed_users "$SEED_USERS" \
    --argjson sim_users "$SIM_USERS" --argjson sim_guilds "$SIM_GUILDS" --argjson p99_bound "$E2E_P99_MS" '
    ($c[0] // {}) as $c | ($e[0] // {}) as $e
    | ($redis_rps | tonumber? // null) as $redis
    | ($e.commands_per_s // null) as $e2e
    | {cache_ops: $c.reads.rps, e2e_ops: $e2e, redis_get_ops: $redis,
       ratio_e2e: (if $e2e and $redis then ($e2e / $redis * 1000 | round / 1000) else null end),
       p99_ms: $c.reads.p99_ms, hit_ratio: $cm.hit_ratio,
       cache: {ops: $c.reads.rps, p50_ms: $c.reads.p50_ms, p99_ms: $c.reads.p99_ms, max_ms: $c.reads.max_ms,
               ok: $c.reads.ok, failed: $c.reads.failed, cached_in_replies: $c.reads.hit_ratio,
               hit_ratio_metrics: $cm.hit_ratio, positive_hit_ratio_metrics: $cm.positive_hit_ratio,
               reads_by_result: $cm.reads, stale_reads: $c.reads.violations,
               popularity: "Zipf(\($zipf)) over \($users) members of \($guilds) guilds; the \($seed_users) most popular granted coins, the rest never written (cached as version 0)"},
       e2e: {ops: $e2e, rate: $best, held_within_bounds: $held, ok: $e.ok, sent: $e.sent, errors: $e.errors, p50_ms: $e.p50_ms, p99_ms: $e.p99_ms,
             max_ms: $e.max_ms, probes: $probes,
             popularity: "uniform over \($sim_users) simulator members of \($sim_guilds) guilds (the simulator has no Zipf), all granted coins",
             method: "open-loop /balance at the highest rate (doubling from 500/s, then two halvings) with no error, every send answered, >= 95% of the rate answered per second and p99 <= \($p99_bound) ms; then \($seconds) s at that rate"},
       redis: {ops: $redis, p99_ms: ($redis_p99 | tonumber? // null), requests: $redis_n,
               command: "redis-benchmark -t get -c \($clients) -n \($redis_n) (one key, no pipelining)"},
       date: $date,
       machine: {host: $host, kernel: $kernel, cpu: $cpu, cpus: $cpus, memory_mb: $mem_mb},
       build: {commit: $commit, bin: $bin},
       config: {clients: $clients, seconds: $seconds, warmup_s: $warmup, redis_version: $redis_version,
                services: "one instance of each (deploy/local/lib.sh cb_start_services, default flags)",
                note: "every process shares the machine: the load tools, the services, PostgreSQL and Redis"}}')
echo "$report" >"$REPORT_DIR/cache.json"
[ "$(jq '.cache.stale_reads // 0' <<<"$report")" = 0 ] || status=1

printf '\n%-8s %12s %9s %10s  %s\n' path ops/s p99_ms hit_ratio popularity
jq -r '["cache", .cache.ops, .cache.p99_ms, .hit_ratio, "Zipf"], ["e2e", .e2e.ops, .e2e.p99_ms, null, "uniform"],
       ["redis", .redis.ops, .redis.p99_ms, null, "one key"]
    | map(if . == null then "-" else tostring end) | @tsv' <<<"$report" \
    | while IFS=$'\t' read -r path ops p99 hit pop; do
        printf '%-8s %12s %9s %10s  %s\n' "$path" "$ops" "$p99" "$hit" "$pop"
    done
echo "ratio_e2e (e2e / redis GET): $(jq -r '.ratio_e2e // "-"' <<<"$report")"
echo "report: $REPORT_DIR/cache.json"
exit $status
