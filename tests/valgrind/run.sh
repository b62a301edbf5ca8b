#!/usr/bin/env bash
# make valgrind: the five services under valgrind's memcheck, on the normal
# build, through the real path: PostgreSQL, Redis and a fake Discord (the
# simulator, whose Gateway shards and REST API the gateway uses), with
# cordbank-load sending signed interactions over HTTP and the simulator
# sending more through the shards, for VALGRIND_LOAD_S seconds (25). Then
# every service gets SIGTERM, drains and exits the normal way, and valgrind
# reports what it never freed.
#
# Writes load/reports/latest/valgrind.json (per service: bytes definitely,
# indirectly and possibly lost, still reachable, valgrind errors, exit code)
# and prints a summary. Exit 1 when any service lost memory for certain
# ("definitely lost" > 0), had a memcheck error (invalid read or write, use
# of uninitialised memory, bad free) or did not exit cleanly. Suppressions
# (tests/valgrind/cordbank.supp) cover third-party libraries only.
#
#   tests/valgrind/run.sh [build/bin]
# VALGRIND_LOAD_S (25), VALGRIND_RATE (interactions/s over HTTP, 20),
# VALGRIND_REPORT (load/reports/latest/valgrind.json), CB_KEEP_RUN=1 keeps
# the run directory with every valgrind log (logs/*.valgrind.log).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CB_BIN=$(cd "${1:-${CB_BIN:-$HERE/../../build/bin}}" && pwd)
. "$HERE/../../deploy/local/lib.sh"
. "$HERE/../lib/assert.sh"
LOAD_S=${VALGRIND_LOAD_S:-25}
RATE=${VALGRIND_RATE:-20}
REPORT=${VALGRIND_REPORT:-$CB_ROOT/load/reports/latest/valgrind.json}
SERVICES="metrics balance cache command gateway"   # start order; stopped in reverse
command -v valgrind >/dev/null || { echo "valgrind: not installed (make deps)" >&2; exit 2; }
for s in $SERVICES discord-sim load; do
    [ -x "$CB_BIN/cordbank-$s" ] || { echo "valgrind: no $CB_BIN/cordbank-$s (make all)" >&2; exit 2; }
done

cb_run_dir
trap 'cb_stop_all' EXIT
started=$SECONDS

# Each service's binary, as lib.sh starts it, is a wrapper that runs the real
# one under memcheck: the pid lib.sh records is valgrind's, which exits with
# the service's code, or 99 when memcheck found an error.
#   --errors-for-leak-kinds=definite: a definite leak is an error (exit 99);
#     indirect and possible losses are reported, not failed: possible ones
#     are mostly pointers into the middle of live library blocks.
VG_BIN=$CB_RUN/vgbin
mkdir -p "$VG_BIN"
for s in $SERVICES; do
    cat >"$VG_BIN/cordbank-$s" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
    --show-leak-kinds=definite,indirect,possible --error-exitcode=99 --num-callers=40 \\
    --suppressions=$HERE/cordbank.supp --log-file=$CB_RUN/logs/$s.valgrind.log \\
    ${VALGRIND_OPTS:-} $CB_BIN/cordbank-$s "\$@"
EOF
    chmod +x "$VG_BIN/cordbank-$s"
done

# A fake Discord for the gateway's shards and REST client.
TOKEN=valgrind-token
SIM_PORT=$(cb_port)
cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$SIM_PORT" --token "$TOKEN" \
    --shards 2 --guilds 10 --users 200
SIM="http://127.0.0.1:$SIM_PORT"
for _ in $(seq 100); do curl -sf -o /dev/null "$SIM/_sim/stats" && break; sleep 0.1; done
cb_start_postgres || exit 1
cb_start_redis || exit 1
cb_pick_ports no
# Under memcheck everything is 20-50x slower: deadlines and budgets get room.
CB_GATEWAY_ARGS=(--discord-token "$TOKEN" --discord-api-url "$SIM/api/v10"
    --redis-url "redis://127.0.0.1:$REDIS_PORT" --reply-budget-ms 2900 --defer-after-ms 2000)
cb_log "valgrind: starting the services under memcheck (about a minute)"
cb_start_services "$VG_BIN"
cb_wait_ready 300 || exit 1
cb_log "valgrind: ready after $((SECONDS - started)) s; ${LOAD_S} s of load"

section "load through the real path"
sim_before=$(curl -sf "$SIM/_sim/stats")
curl -sf -X POST "$SIM/_sim/interactions" \
    -d "{\"count\":$((LOAD_S * 2)),\"rate\":2,\"command\":\"balance\"}" >/dev/null
# Error paths too: PostgreSQL goes away for a few seconds a third of the way
# in (balance's reconnects, command's failures), and a few requests are
# refused at the gateway's door (bad signature, malformed body).
( sleep $((LOAD_S / 3)); cb_pg_stop fast; sleep 3; cb_pg_start ) &
outage=$!
"$CB_BIN/cordbank-load" --url "http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions" --rate "$RATE" \
    --duration "$LOAD_S" --users 200 --guilds 10 --timeout-ms 10000 \
    >"$CB_RUN/load.json" 2>"$CB_RUN/logs/load.log"
wait "$outage"
GW_URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
refused=0
for args in "--command balance --bad-signature" "--command balance --no-signature" "--raw-body {"; do
    # shellcheck disable=SC2086 # the words of args are separate flags
    status=$(timeout 60 "$CB_BIN/cordbank-discord-sim" --once --gateway-url "$GW_URL" $args | jq -r .status)
    case $status in 400 | 401) refused=$((refused + 1)) ;; esac
done
expect_eq "requests with a bad signature, none, or a malformed body are refused" 3 "$refused"
load=$(cat "$CB_RUN/load.json" 2>/dev/null)
[ -n "$load" ] || load='{}'
sent=$(jq -r '.sent // 0' <<<"$load")
ok=$(jq -r '.answered // 0' <<<"$load")
expect_match "cordbank-load's interactions were answered ($ok of $sent)" '^[1-9]' "$ok"
sleep 5   # the Gateway interactions still in flight
sim_after=$(curl -sf "$SIM/_sim/stats")
answered=$(( $(jq '.interactions.answered // 0' <<<"$sim_after") - $(jq '.interactions.answered // 0' <<<"$sim_before") ))
expect_match "Gateway interactions answered through REST ($answered)" '^[1-9]' "$answered"

section "SIGTERM: each service drains and exits"
declare -A RC
for s in gateway command cache balance metrics; do
    pid=$(cat "$CB_RUN/pids/$s")
    kill -TERM "$pid"
    # The drain, then valgrind's leak search: minutes at worst.
    for _ in $(seq 1800); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        RC[$s]=killed
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    [ -n "${RC[$s]:-}" ] || RC[$s]=$rc
    rm -f "$CB_RUN/pids/$s"
done

# bytes KIND FILE: the bytes of "KIND lost: N bytes in M blocks" (or
# "still reachable"); 0 when memcheck found nothing to list.
bytes() {
    local n
    n=$(grep -E "==[0-9]+== +$1: [0-9,]+ bytes" "$2" | tail -1 | sed -E 's/.*: ([0-9,]+) bytes.*/\1/' | tr -d ,)
    echo "${n:-0}"
}
services_json='{}'
for s in $SERVICES; do
    log=$CB_RUN/logs/$s.valgrind.log
    errors=$(grep -E '== ERROR SUMMARY: [0-9,]+ errors' "$log" | tail -1 | sed -E 's/.*SUMMARY: ([0-9,]+) errors.*/\1/' | tr -d ,)
    definite=$(bytes 'definitely lost' "$log") indirect=$(bytes 'indirectly lost' "$log")
    possible=$(bytes 'possibly lost' "$log") reachable=$(bytes 'still reachable' "$log")
    # ERROR SUMMARY counts definite leaks as errors too (--errors-for-leak-kinds):
    # the memcheck errors proper are the contexts that are not leaks.
    leak_contexts=$(grep -cE '== [0-9,]+ bytes in [0-9,]+ blocks are definitely lost' "$log")
    memcheck_errors=$(( ${errors:-0} - leak_contexts ))
    [ "$memcheck_errors" -ge 0 ] || memcheck_errors=0
    services_json=$(jq --arg s "$s" --argjson d "$definite" --argjson i "$indirect" \
        --argjson p "$possible" --argjson r "$reachable" --argjson e "$memcheck_errors" \
        --arg rc "${RC[$s]}" --argjson found "$([ -n "$errors" ] && echo true || echo false)" \
        '.[$s] = {definitely_lost_bytes: $d, indirectly_lost_bytes: $i, possibly_lost_bytes: $p,
                  still_reachable_bytes: $r, errors: $e, exit_code: ($rc | tonumber? // $rc),
                  summary_found: $found}' <<<"$services_json")
done

section "memcheck"
printf '  %-8s %12s %12s %12s %12s %7s %5s\n' service definitely indirectly possibly reachable errors exit
for s in $SERVICES; do
    jq -r --arg s "$s" '.[$s] | [$s, .definitely_lost_bytes, .indirectly_lost_bytes, .possibly_lost_bytes,
        .still_reachable_bytes, .errors, .exit_code] | @tsv' <<<"$services_json" \
        | awk -F'\t' '{printf "  %-8s %12s %12s %12s %12s %7s %5s\n", $1, $2, $3, $4, $5, $6, $7}'
done
for s in $SERVICES; do
    v=$(jq -c --arg s "$s" '.[$s]' <<<"$services_json")
    expect_eq "$s: valgrind wrote its summary" true "$(jq -r .summary_found <<<"$v")"
    expect_eq "$s: exited 0 after SIGTERM" 0 "$(jq -r .exit_code <<<"$v")"
    expect_eq "$s: definitely lost 0 bytes" 0 "$(jq -r .definitely_lost_bytes <<<"$v")"
    expect_eq "$s: no memcheck error" 0 "$(jq -r .errors <<<"$v")"
    if [ "$(jq -r '.definitely_lost_bytes + .errors' <<<"$v")" != 0 ]; then
        echo "       first reports ($CB_RUN/logs/$s.valgrind.log):"
        grep -E -A14 '^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' \
            "$CB_RUN/logs/$s.valgrind.log" | head -60 | sed 's/^/       /'
    fi
done

mkdir -p "$(dirname "$REPORT")"
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg version "$(cat "$CB_ROOT/VERSION" 2>/dev/null)" \
    --argjson load_s "$LOAD_S" --argjson rate "$RATE" --argjson load "$load" \
    --argjson gateway_answered "$answered" --argjson services "$services_json" \
    --argjson seconds "$((SECONDS - started))" --argjson failed "$FAILED" \
    '{date: $date, version: $version, seconds: $seconds, load_s: $load_s,
      load: {http_rate: $rate, http_sent: ($load.sent // null), http_answered: ($load.answered // null),
             http_ok: ($load.ok // null), http_errors: ($load.errors // null),
             gateway_answered: $gateway_answered},
      services: $services, passed: ($failed == 0)}' >"$REPORT"
echo "       wrote $REPORT"
summary valgrind
