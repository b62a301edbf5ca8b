#!/usr/bin/env bash
# The cache's promise, "never staler than an acknowledged write", under
# concurrent writes, a Redis crash, and a burst of reads of unknown
# members: PostgreSQL, Redis, one balance and two cache instances (A and B)
# on loopback ports picked at run time, driven by cordbank-ledger-load:
#
#   a  10 s of pays among 50 accounts straight to balance, each followed by
#      command's write-through to A; meanwhile reads of random accounts go
#      to A and B in turn (min_version 0). No read may return a version
#      older than one acknowledged for its account before it was sent.
#   b  the same for 12 s while Redis is killed (SIGKILL) and restarted on
#      its port: every read is still answered OK and never stale, and once
#      Redis is back reads are served from it again.
#   d  the same for 12 s while Redis hangs (SIGSTOP) for 4 s: every read is
#      answered OK within its deadline and never stale, each cache's Redis
#      breaker opens and the outage is logged once per cache; after SIGCONT
#      the breakers close and reads are served from Redis again.
#   c  10,000 reads of 20 members never written, 200 in flight, through
#      both caches: PostgreSQL is asked only a handful of times.
#
#   tests/integration/cache.sh [build/bin]
#
# About 55 s. Stops everything and removes its temp dir whatever happens.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/metrics.sh"

LOAD=$CB_BIN/cordbank-ledger-load
GUILD=515151
ACCOUNTS=50
UNKNOWN_GUILD=515152
MAX_DB_GETS=20
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
BAL_RPC=$(cb_port) BAL_EVENTS=$(cb_port) BAL_ADMIN=$(cb_port)
cb_start_balance balance-1 "$CB_BIN" "$BAL_RPC" "$BAL_EVENTS" "$BAL_ADMIN"
A_RPC=$(cb_port) A_ADMIN=$(cb_port) B_RPC=$(cb_port) B_ADMIN=$(cb_port)
# The caches log at info (their Redis reconnects, flushes and warm-ups are
# what phase b shows when it fails).
CB_LOG_LEVEL=info cb_start_cache cache-a "$CB_BIN" "$A_RPC" "$A_ADMIN" "$BAL_RPC" "$BAL_EVENTS"
CB_LOG_LEVEL=info cb_start_cache cache-b "$CB_BIN" "$B_RPC" "$B_ADMIN" "$BAL_RPC" "$BAL_EVENTS"
cb_wait_port_ready "$BAL_ADMIN" 30 balance-1 || exit 1
cb_wait_port_ready "$A_ADMIN" 30 cache-a || exit 1
cb_wait_port_ready "$B_ADMIN" 30 cache-b || exit 1
CACHES="tcp://127.0.0.1:$A_RPC,tcp://127.0.0.1:$B_RPC"
echo "cache A: tcp://127.0.0.1:$A_RPC (gets the write-throughs), cache B: tcp://127.0.0.1:$B_RPC"

hits() { echo $(( $(cb_metric "$A_ADMIN" cordbank_cache_requests_total 'result="hit"') + $(cb_metric "$B_ADMIN" cordbank_cache_requests_total 'result="hit"') )); }
db_gets() { cb_metric "$BAL_ADMIN" cordbank_balance_db_duration_seconds_count 'op="get"'; }
rpc_gets() { cb_metric "$BAL_ADMIN" cordbank_rpc_server_duration_seconds_count 'method="balance_get_request"'; }

# run_check PHASE SECONDS [FLAG...]: cache-check in the background; summary
# in $CB_RUN/PHASE.json, output in logs/load-PHASE.log.
run_check() {
    local phase=$1 seconds=$2; shift 2
    timeout -k 5 $((seconds + 40)) "$LOAD" --mode cache-check --balance-endpoints "tcp://127.0.0.1:$BAL_RPC" \
        --cache-endpoints "$CACHES" --accounts "$ACCOUNTS" --guild "$GUILD" --concurrency 16 \
        --read-concurrency 24 --duration-s "$seconds" --deadline-ms 2000 --key-prefix "cache-$phase" \
        --quiet --json "$CB_RUN/$phase.json" "$@" >"$CB_RUN/logs/load-$phase.log" 2>&1 &
    LOAD_PID=$!
}
# Waits for the load; expects exit 0, no stale read, no wrong balance.
finish_check() {
    local phase=$1 rc
    wait "$LOAD_PID"; rc=$?
    sed 's/^/       /' "$CB_RUN/logs/load-$phase.log"
    J=$(cat "$CB_RUN/$phase.json" 2>/dev/null)
    [ -n "$J" ] || J='{}'
    expect_eq "$phase: the tool exits 0" 0 "$rc"
    expect_eq "$phase: no read was staler than an acknowledged write" 0 "$(jq '.reads.violations' <<<"$J")"
    expect_eq "$phase: no read gave another balance for an acknowledged version" 0 "$(jq '.reads.balance_mismatches' <<<"$J")"
    expect_match "$phase: reads were answered" '^[1-9][0-9]{3,}$' "$(jn .reads.ok)"
    expect_match "$phase: pays were acknowledged" '^[1-9][0-9]{2,}$' "$(jn .writes.pays.OK)"
}
jn() { jq -r "$1 // 0" <<<"$J"; }
# hit share (percent, rounded down) of the seconds FROM..TO of $J.
hit_share() {
    jq -r --argjson from "$1" --argjson to "$2" '.reads.per_second as $s
        | ([$s.hits[$from:$to + 1][]] | add // 0) as $h | ([$s.ok[$from:$to + 1][]] | add // 0) as $o
        | if $o == 0 then -1 else ($h * 100 / $o | floor) end' <<<"$J"
}

section "a: 10 s of pays with write-through to A, reads through A and B"
hits_before=$(hits)
run_check a 10 --seed-balance 1000
finish_check a
expect_eq "a: every account was seeded" "$ACCOUNTS 0" "$(jq -r '"\(.writes.seed_ok) \(.writes.seed_failed)"' <<<"$J")"
expect_eq "a: every read was answered OK" 0 "$(jn .reads.failed)"
expect_eq "a: every write-through was applied" 0 "$(jn .writes.write_through_failed)"
expect_match "a: most reads were served from Redis" '^([5-9][0-9]|100)$' "$(hit_share 0 99)"
expect_match "a: cache B served hits too" '^[1-9]' "$(cb_metric "$B_ADMIN" cordbank_cache_requests_total 'result="hit"')"
echo "       a: $(jn .reads.ok) reads ($(jn .reads.rps)/s, $(jn .reads.hits) from Redis, p99 $(jn .reads.p99_ms) ms)," \
    "$(jn .writes.pays.OK) pays OK, $(( $(hits) - hits_before )) hits on the caches' /metrics"

# The Redis of this run: its pid file, a redis-server, and its process title
# (Redis rewrites its command line to "redis-server HOST:PORT") naming our port.
redis_pid() {
    local pid
    pid=$(cat "$CB_RUN/pids/redis" 2>/dev/null) || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- ":$REDIS_PORT( |$)" || return 1
    echo "$pid"
}
# Starts Redis again on its port, as cb_start_redis did (empty: no persistence).
redis_restart() {
    cb_spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$CB_RUN/redis" --daemonize no
    local i
    for i in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

section "b: Redis killed (SIGKILL) at 3 s and restarted on its port at 5 s, 12 s of load"
run_check b 12 --seed-balance 0
sleep 3
victim=$(redis_pid)
expect_match "b: found this run's redis-server" '^[0-9]+$' "$victim"
if [ -n "$victim" ]; then
    disown "$victim" 2>/dev/null   # no "Killed" notice from bash
    kill -KILL "$victim"
    for _ in $(seq 100); do kill -0 "$victim" 2>/dev/null || break; sleep 0.05; done
fi
expect_eq "b: Redis is gone" no "$(redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && echo yes || echo no)"
sleep 2
# Only after our kill: a second redis-server on a taken port would fail, and
# its pid file would hide the first one from cb_stop_all.
if [ -n "$victim" ] && ! kill -0 "$victim" 2>/dev/null; then redis_restart; else false; fi
expect_eq "b: Redis answers again on port $REDIS_PORT" 0 $?
sleep 2   # the caches reconnect (their breakers let a probe through within 5 s) and flush
hits_back=$(hits)
finish_check b
expect_eq "b: every read was answered OK" 0 "$(jn .reads.failed)"
expect_match "b: write-throughs failed while Redis was down" '^[1-9]' "$(jn .writes.write_through_failed)"
# The second after the kill (3 s) is the one wholly inside the outage.
outage=$(hit_share 4 4) after=$(hit_share 9 11)
expect_match "b: while Redis was down almost no read was a hit (${outage}% in second 5)" '^[0-9]$' "$outage"
expect_match "b: after the restart reads are served from Redis again (${after}% in seconds 10-12)" '^([5-9][0-9]|100)$' "$after"
expect_match "b: the caches' hit counters grew after the restart" '^[1-9]' "$(( $(hits) - hits_back ))"
echo "       b: hits per second $(jq -c .reads.per_second.hits <<<"$J") of ok $(jq -c .reads.per_second.ok <<<"$J")"
echo "       b: stale reads per second $(jq -c .reads.per_second.violations <<<"$J"); the caches' Redis events:"
for c in cache-a cache-b; do
    grep -hE '"msg":"(redis [^"]*|cache warm[^"]*|breaker [^"]*)"' "$CB_RUN/logs/$c.log" | tail -n 8 \
        | jq -r '"         \(.ts) \(.instance) \(.msg)"' 2>/dev/null
done

section "d: Redis hung (SIGSTOP) at 3 s for 4 s, then resumed (SIGCONT), 12 s of load"
# A hung Redis is the hard case: its port still accepts connections and
# commands simply get no answer. Each cache gives up on a command after
# its socket timeout, opens its Redis breaker and reads from balance; when
# Redis resumes, it runs what it had queued before any later flush, so
# nothing it held while hung can be served.
opened_before=$(( $(cb_metric "$A_ADMIN" cordbank_breaker_transitions_total 'target="redis",to="open"') + $(cb_metric "$B_ADMIN" cordbank_breaker_transitions_total 'target="redis",to="open"') ))
logged_before=$(cat "$CB_RUN/logs/cache-a.log" "$CB_RUN/logs/cache-b.log" | grep -c '"msg":"redis unreachable"')
run_check d 12 --seed-balance 0
sleep 3
hung=$(redis_pid)
expect_match "d: found this run's redis-server" '^[0-9]+$' "$hung"
[ -n "$hung" ] && kill -STOP "$hung"
sleep 4
[ -n "$hung" ] && kill -CONT "$hung"
expect_eq "d: Redis answers again after SIGCONT" PONG "$(timeout 5 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)"
finish_check d
opened=$(( $(cb_metric "$A_ADMIN" cordbank_breaker_transitions_total 'target="redis",to="open"') + $(cb_metric "$B_ADMIN" cordbank_breaker_transitions_total 'target="redis",to="open"') - opened_before ))
logged=$(( $(cat "$CB_RUN/logs/cache-a.log" "$CB_RUN/logs/cache-b.log" | grep -c '"msg":"redis unreachable"') - logged_before ))
expect_eq "d: every read was answered OK within its deadline" 0 "$(jn .reads.failed)"
expect_match "d: the caches' Redis breakers opened ($opened openings)" '^[1-9]' "$opened"
expect_eq "d: each cache logged the outage once (2 lines)" 2 "$logged"
expect_eq "d: both breakers are closed again" "0 0" \
    "$(cb_metric "$A_ADMIN" cordbank_breaker_state 'target="redis"') $(cb_metric "$B_ADMIN" cordbank_breaker_state 'target="redis"')"
during=$(hit_share 4 5) after=$(hit_share 10 11)
expect_match "d: while Redis was hung almost no read was a hit (${during}% in seconds 5-6)" '^[0-9]$' "$during"
expect_match "d: after SIGCONT reads are served from Redis again (${after}% in seconds 11-12)" '^([5-9][0-9]|100)$' "$after"
echo "       d: p99 $(jn .reads.p99_ms) ms, max $(jn .reads.max_ms) ms; hits per second $(jq -c .reads.per_second.hits <<<"$J") of ok $(jq -c .reads.per_second.ok <<<"$J")"

section "c: 10,000 reads of 20 members never written, 200 in flight, through A and B"
gets_before=$(db_gets) asked_before=$(rpc_gets)
misses_before=$(( $(cb_metric "$A_ADMIN" cordbank_cache_requests_total 'result="miss"') + $(cb_metric "$B_ADMIN" cordbank_cache_requests_total 'result="miss"') ))
timeout -k 5 60 "$LOAD" --mode cache-read --cache-endpoints "$CACHES" --guild "$UNKNOWN_GUILD" --users 20 \
    --requests 10000 --concurrency 200 --duration-s 30 --deadline-ms 5000 --quiet --json "$CB_RUN/c.json" \
    >"$CB_RUN/logs/load-c.log" 2>&1
rc=$?
sed 's/^/       /' "$CB_RUN/logs/load-c.log"
J=$(cat "$CB_RUN/c.json" 2>/dev/null); [ -n "$J" ] || J='{}'
gets=$(( $(db_gets) - gets_before )) asked=$(( $(rpc_gets) - asked_before ))
misses=$(( $(cb_metric "$A_ADMIN" cordbank_cache_requests_total 'result="miss"') + $(cb_metric "$B_ADMIN" cordbank_cache_requests_total 'result="miss"') - misses_before ))
expect_eq "c: the tool exits 0" 0 "$rc"
expect_eq "c: all 10000 reads were answered OK" "10000 0" "$(jq -r '"\(.reads.ok) \(.reads.failed)"' <<<"$J")"
expect_eq "c: every member read as never written (version 0)" 0 "$(jn .reads.written)"
# Single-flight: one request per member and cache instance at a time, and
# then the member is cached (negative caching): at most 2 x 20 reach balance
# (a read that joined too late may go once more).
expect_eq "c: balance was asked about once per member and cache instance ($asked of 10000)" yes \
    "$([ "$asked" -le 60 ] && echo yes || echo "no: $asked")"
expect_eq "c: PostgreSQL was asked at most $MAX_DB_GETS times (balance's get statements: $gets)" yes \
    "$([ "$gets" -le "$MAX_DB_GETS" ] && echo yes || echo "no: $gets")"
echo "       c: $asked get requests reached balance, $gets get statements in PostgreSQL, $misses cache misses," \
    "$(jn .reads.hits) hits, p99 $(jn .reads.p99_ms) ms"

summary cache
