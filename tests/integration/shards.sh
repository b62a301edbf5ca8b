#!/usr/bin/env bash
# Gateway shards against the simulator's Gateway: 4 shards over 2 gateway
# pods (ordinals 0 and 1) sharing Redis for identify spacing, plus command,
# cache and balance. Interactions are dispatched over the Gateway while each
# fault is injected (drop, reconnect, invalid_session,
# invalid_session_resumable, stop_acks, and oversized: a 33 MiB dispatch, a
# decompression bomb the gateway must refuse rather than inflate, closing
# the connection with one log line): every interaction must be answered
# exactly once, every shard must come back, and resumes must go to the
# resume URL. Then a 4004 close must stop its shard for good (one error
# line, no reconnect loop, the pod not ready), and a token Discord refuses
# must keep a gateway's shards down.
#
#   tests/integration/shards.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
lo=127.0.0.1
for v in BAL_RPC BAL_EVENTS BAL_ADMIN CACHE_RPC CACHE_ADMIN CMD_RPC CMD_ADMIN \
         GW0_HTTP GW0_ADMIN GW1_HTTP GW1_ADMIN GW2_HTTP GW2_ADMIN SIM; do
    printf -v "$v" '%s' "$(cb_port)"
done
SIMURL="http://$lo:$SIM"
TOKEN=cordbank-dev-token

cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$SIM" --shards 4 \
    --max-concurrency 1 --heartbeat-ms 1000 --guilds 16 --users 160 --token "$TOKEN"
cb_start_balance balance-1 "$CB_BIN" "$BAL_RPC" "$BAL_EVENTS" "$BAL_ADMIN"
cb_start_cache cache-1 "$CB_BIN" "$CACHE_RPC" "$CACHE_ADMIN" "$BAL_RPC" "$BAL_EVENTS"
cb_start_command command-1 "$CB_BIN" "$CMD_RPC" "$CMD_ADMIN" "tcp://$lo:$CACHE_RPC" "tcp://$lo:$BAL_RPC"

# gateway NAME HTTP ADMIN ORDINAL [FLAG...]: one pod of two, 4 shards.
gateway() {
    local name=$1 http=$2 admin=$3 ordinal=$4; shift 4
    cb_start_gateway "$name" "$CB_BIN" "$http" "$admin" "tcp://$lo:$CMD_RPC" \
        --discord-api-url "$SIMURL/api/v10" --discord-token "$TOKEN" \
        --shard-count 4 --gateway-replicas 2 --ordinal "$ordinal" \
        --redis-url "redis://$lo:$REDIS_PORT" "$@"
}
gateway gateway-0 "$GW0_HTTP" "$GW0_ADMIN" 0
gateway gateway-1 "$GW1_HTTP" "$GW1_ADMIN" 1

stats() { curl -sf "$SIMURL/_sim/stats"; }
sim_post() { curl -s -X POST -H 'Content-Type: application/json' -d "$2" "$SIMURL/_sim/$1"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$lo:$1/readyz")" = 200 ]; }
# until_true SECONDS CMD...: polls CMD every 0.2 s; false when time runs out.
# A simulator that died ends the whole test at once.
until_true() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        kill -0 "$(cat "$CB_RUN/pids/sim")" 2>/dev/null || {
            fail "the simulator is running" "$(tail -5 "$CB_RUN/logs/sim.log")"
            summary shards; exit 1
        }
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}
all_connected() { [ "$(stats | jq '[.shards[] | select(.connected)] | length')" = 4 ]; }
both_ready() { ready "$GW0_ADMIN" && ready "$GW1_ADMIN"; }
# settled N: the sim has sent N interactions and seen N answered.
settled() {
    stats | jq -e --argjson n "$1" '.interactions | .sent == $n and .answered >= $n' >/dev/null
}

section "startup: 4 shards over 2 pods, one identify bucket shared through Redis"
# Four identifies 5 s apart in one bucket: about 15 s.
until_true 60 both_ready
expect_eq "both gateway pods are ready" yes "$(both_ready && echo yes || echo no)"
expect_eq "the simulator sees 4 shards connected" yes "$(all_connected && echo yes || echo no)"
S=$(stats)
expect_eq "4 identifies, no more" 4 "$(jq '.identifies' <<<"$S")"
expect_eq "no identify refused for going too fast (4008)" 0 \
    "$(jq '.identify_rate_limited // .identify_too_fast // 0' <<<"$S")"
expect_eq "pod 0 took shards 0 and 2" 2 \
    "$(grep -c '"msg":"shard ready"' "$CB_RUN/logs/gateway-0.log")"
expect_match "pod 0 owns 2 of 4" '"owned":2' "$(grep 'starting gateway shards' "$CB_RUN/logs/gateway-0.log")"
expect_match "pod 1 owns 2 of 4" '"owned":2' "$(grep 'starting gateway shards' "$CB_RUN/logs/gateway-1.log")"

# grown KEY N: the sim's counter KEY is above N.
grown() { [ "$(stats | jq ".$1")" -gt "$2" ]; }

sent=0
# round FAULT SHARD: dispatches 40 interactions while FAULT hits SHARD, then
# checks the sim's books.
round() {
    local fault=$1 shard=$2 before resumes_before url_before
    before=$(stats)
    resumes_before=$(jq '.resumes' <<<"$before")
    url_before=$(jq '.resumed_at_resume_url' <<<"$before")
    expect_eq "$fault: 40 interactions queued" '{"queued":40}' \
        "$(sim_post interactions '{"count":40,"rate":40,"command":"balance","guilds":16,"users":160}')"
    sleep 0.3
    expect_match "$fault: applied" '"applied"' \
        "$(sim_post fault "{\"fault\":\"$fault\",\"shard\":$shard,\"seconds\":4}")"
    sent=$((sent + 40))
    # The fault's effect first (a zombie is seen only after missed ACKs),
    # then the books.
    case $fault in
    invalid_session) until_true 30 grown identifies "$(jq '.identifies' <<<"$before")" ;;
    *) until_true 30 grown resumes "$resumes_before" ;;
    esac
    until_true 60 settled "$sent"
    until_true 60 all_connected
    until_true 30 both_ready
    local S; S=$(stats)
    expect_eq "$fault: all $sent interactions sent" "$sent" "$(jq '.interactions.sent' <<<"$S")"
    expect_eq "$fault: every one answered" "$sent" "$(jq '.interactions.answered' <<<"$S")"
    expect_eq "$fault: none answered twice" 0 "$(jq '.interactions.answered_twice' <<<"$S")"
    expect_eq "$fault: every shard back" yes "$(all_connected && both_ready && echo yes || echo no)"
    case $fault in
    drop | reconnect | stop_acks | invalid_session_resumable | oversized)
        expect_eq "$fault: the shard resumed" yes \
            "$([ "$(jq '.resumes' <<<"$S")" -gt "$resumes_before" ] && echo yes || echo no)"
        expect_eq "$fault: at the resume URL" yes \
            "$([ "$(jq '.resumed_at_resume_url' <<<"$S")" -gt "$url_before" ] && echo yes || echo no)" ;;
    invalid_session)
        expect_eq "$fault: a fresh identify" yes \
            "$([ "$(jq '.identifies' <<<"$S")" -gt "$(jq '.identifies' <<<"$before")" ] && echo yes || echo no)" ;;
    esac
}

section "faults under traffic"
round drop 0
round reconnect 1
round invalid_session 2
round invalid_session_resumable 3
round stop_acks 0
expect_match "a zombie connection was seen" 'zombie connection' "$(cat "$CB_RUN/logs/gateway-0.log")"
round oversized 2
expect_match "oversized: refused at 32 MiB inflated, one line, the connection closed" \
    '"msg":"bad zlib-stream data","shard":2,"error":"message too large"' "$(cat "$CB_RUN/logs/gateway-0.log")"
expect_match "oversized: counted as a decode error" 'cordbank_gateway_reconnects_total\{shard="2",reason="decode_error"\} [1-9]' \
    "$(curl -s "http://$lo:$GW0_ADMIN/metrics")"

section "4004: fatal, one line, no reconnect loop"
# shard_reconnects PORT SHARD: the pod's reconnects_total for the shard.
shard_reconnects() {
    curl -s "http://$lo:$1/metrics" |
        awk -v s="shard=\"$2\"" '/^cordbank_gateway_reconnects_total\{/ && index($0, s) { n += $NF } END { print n + 0 }'
}
conn_before=$(stats | jq '.connections')
reconnects_before=$(shard_reconnects "$GW1_ADMIN" 3)
expect_match "close 4004 applied" '"applied"' \
    "$(sim_post fault '{"fault":"close","code":4004,"shard":3,"seconds":1}')"
until_true 10 bash -c "! curl -sf -o /dev/null http://$lo:$GW1_ADMIN/readyz"
sleep 3
S=$(stats)
expect_eq "shard 3 stays disconnected" false "$(jq '.shards[] | select(.id == 3) | .connected' <<<"$S")"
expect_eq "no reconnect of shard 3 at all" "$reconnects_before" "$(shard_reconnects "$GW1_ADMIN" 3)"
expect_eq "one fatal error line" 1 "$(grep -c 'closed the shard for good' "$CB_RUN/logs/gateway-1.log")"
expect_match "it names the code" '"close_code":4004,"reason":"authentication_failed"' \
    "$(grep 'closed the shard for good' "$CB_RUN/logs/gateway-1.log")"
expect_eq "pod 1 is not ready" no "$(ready "$GW1_ADMIN" && echo yes || echo no)"
# The other three shards stay (or come back, after a slow heartbeat) connected.
until_true 30 bash -c "[ \"\$(curl -s $SIMURL/_sim/stats | jq .connections)\" = $((conn_before - 1)) ]"
expect_eq "the other three shards are connected" "$((conn_before - 1))" "$(stats | jq '.connections')"
until_true 30 ready "$GW0_ADMIN"
expect_eq "pod 0 is ready" yes "$(ready "$GW0_ADMIN" && echo yes || echo no)"

section "a token Discord refuses"
cb_start_gateway gateway-2 "$CB_BIN" "$GW2_HTTP" "$GW2_ADMIN" "tcp://$lo:$CMD_RPC" \
    --discord-api-url "$SIMURL/api/v10" --discord-token not-the-token --shard-count 4
until_true 10 grep -q 'refused the bot token' "$CB_RUN/logs/gateway-2.log"
expect_match "one clear error line" '"level":"error".*refused the bot token' \
    "$(cat "$CB_RUN/logs/gateway-2.log")"
sleep 1
expect_eq "no shard started, so no Gateway connection" 0 \
    "$(grep -c 'starting gateway shards' "$CB_RUN/logs/gateway-2.log")"
expect_eq "and it is not ready" no "$(ready "$GW2_ADMIN" && echo yes || echo no)"

summary shards
