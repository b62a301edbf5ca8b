#!/usr/bin/env bash
# Discord's REST API through the gateway (services/gateway/rest.c), against
# cordbank-discord-sim --serve, which enforces Discord's buckets and global
# limit and counts every request, 429 and violation (/_sim/stats):
#   - --register-commands: the payload is accepted by the simulator's
#     validator and stored as sent; a refused token exits non-zero;
#   - two processes sharing Redis under a burst of registrations (60 guilds
#     each, plus one guild's bucket overdrawn) stay within every bucket and
#     the global 50/s; without Redis, --gateway-replicas 2 halves each one's
#     global share;
#   - two gateway pods (one shard each) answer Gateway interactions; a
#     command slowed past --defer-after-ms (SIGSTOP) is deferred, then
#     edited, each interaction answered exactly once, also in a burst;
#   - a 429 storm is waited out (Retry-After honoured), not hammered;
#   - the bot token is in no log line.
# Stops everything and removes its temp dir whatever happens (EXIT trap).
#
#   tests/integration/rest.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

cb_run_dir
trap 'cb_stop_all' EXIT
TOKEN="rest-test-token-$RANDOM$RANDOM"
APP=1100000000000000001
SIM_PORT=$(cb_port)
cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$SIM_PORT" --token "$TOKEN" \
    --application-id "$APP" --shards 2 --guilds 4 --users 50
SIM="http://127.0.0.1:$SIM_PORT"
API="$SIM/api/v10"
for _ in $(seq 100); do curl -sf -o /dev/null "$SIM/_sim/stats" && break; sleep 0.1; done
cb_start_redis || exit 1
REDIS="redis://127.0.0.1:$REDIS_PORT"

stats() { curl -sf "$SIM/_sim/stats" || echo '{}'; }
sim_post() { curl -sf -X POST "$SIM/_sim/$1" -d "$2"; }
# register OUT FLAG...: --register-commands (bounded), stdout+stderr in OUT, sets RC.
register() {
    local out=$1; shift
    timeout 90 "$CB_BIN/cordbank-gateway" --register-commands --discord-token "$TOKEN" \
        --application-id "$APP" --discord-api-url "$API" "$@" >"$CB_RUN/logs/$out.log" 2>&1
    RC=$?
    return $RC
}
# wait_for JQ VALUE SECONDS: until /_sim/stats | jq JQ prints VALUE (bounded).
wait_for() {
    local end=$((SECONDS + $3))
    until [ "$(stats | jq -r "$1")" = "$2" ] || [ $SECONDS -ge $end ]; do sleep 0.1; done
}
rest_total() { stats | jq -r ".rest.$1 // 0"; }

section "register-commands"
register reg-guild --guild 7001
expect_eq "exits 0 when Discord accepted them" 0 "$RC"
expect_match "says so" 'accepted 7 commands \(7001\)' "$(cat "$CB_RUN/logs/reg-guild.log")"
G=$(stats | jq -c '.commands.guilds["7001"] // []')
expect_eq "the simulator stored the seven" "balance daily grant history leaderboard pay work" \
    "$(jq -r '[.[].name] | sort | join(" ")' <<<"$G")"
expect_eq "options as command reads them" \
    "balance:user:6:false daily: grant:user:6:true,amount:4:true:-1000000000000:1000000000000 history:user:6:false leaderboard:page:4:false:1:1000 pay:user:6:true,amount:4:true:1:1000000000000 work:" \
    "$(jq -r '[sort_by(.name)[] | "\(.name):" + ([.options // [] | .[] | [.name, .type, .required, .min_value, .max_value] | map(select(. != null) | tostring) | join(":")] | join(","))] | join(" ")' <<<"$G")"
expect_eq "only /grant needs Manage Server" "grant=32" \
    "$(jq -r '[.[] | select(.default_member_permissions != null) | "\(.name)=\(.default_member_permissions)"] | join(" ")' <<<"$G")"
expect_eq "none in DMs" 0 "$(jq '[.[] | select(.dm_permission != false)] | length' <<<"$G")"
register reg-global
expect_eq "global registration exits 0" 0 "$RC"
expect_eq "the simulator stored seven global commands" 7 "$(stats | jq '.commands.global | length')"
timeout 30 "$CB_BIN/cordbank-gateway" --register-commands --discord-token "not-$TOKEN" \
    --application-id "$APP" --discord-api-url "$API" --guild 7001 >"$CB_RUN/logs/reg-bad.log" 2>&1
RC=$?
expect_eq "a token Discord refuses exits 1" 1 "$RC"
expect_match "with a clear line" 'did not accept the commands \(7001\): HTTP 401' "$(cat "$CB_RUN/logs/reg-bad.log")"
register reg-typo --guild 70x1
expect_eq "a guild id that is not a snowflake exits 2" 2 "$RC"

# Processes that do not share a limiter cannot count each other's requests:
# each section starts once the previous one's second is over.
quiet_second() { sleep 1.2; }

section "two processes sharing Redis under a burst of registrations"
quiet_second
before=$(stats)
A=$(seq -s, 810001 810060) B=$(seq -s, 820001 820060) SAME=830001,830001,830001
register burst-a --redis-url "$REDIS" --gateway-replicas 2 --guild "$A,$SAME" &
pa=$!
register burst-b --redis-url "$REDIS" --gateway-replicas 2 --guild "$B,$SAME" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
expect_eq "both exit 0" "0 0" "$ra $rb"
expect_eq "every registration accepted (126)" 126 "$(cat "$CB_RUN/logs/burst-"{a,b}.log | grep -c 'accepted 7 commands')"
after=$(stats)
delta() { echo $(( $(jq -r "$1 // 0" <<<"$after") - $(jq -r "$1 // 0" <<<"$before") )); }
expect_eq "the simulator saw 126 requests" 126 "$(delta .rest.requests)"
expect_eq "no bucket was overdrawn (6 PUTs on a 4 per 20 s bucket waited)" 0 "$(delta .rest.bucket_violations)"
expect_eq "the global limit was never exceeded" 0 "$(delta .rest.global_violations)"
expect_eq "no 429 at all" 0 "$(delta '.rest.rate_limited.user + .rest.rate_limited.global + .rest.rate_limited.shared')"
expect_match "at most 50 requests in any second ($(jq .rest.max_global_per_s <<<"$after"))" '^([0-9]|[1-4][0-9]|50)$' "$(jq .rest.max_global_per_s <<<"$after")"
expect_match "the burst was not slowed to a crawl (over 25 in a second)" '^(2[6-9]|[34][0-9]|50)$' "$(jq .rest.max_global_per_s <<<"$after")"
expect_match "the limits were shared through Redis" 'shared through redis' "$(cat "$CB_RUN/logs/burst-a.log")"

section "without Redis: --gateway-replicas 2 takes half the global limit each"
quiet_second
before=$(stats)
register split-a --gateway-replicas 2 --guild "$(seq -s, 840001 840040)" &
pa=$!
register split-b --gateway-replicas 2 --guild "$(seq -s, 850001 850040)" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
after=$(stats)
expect_eq "both exit 0" "0 0" "$ra $rb"
expect_eq "no violation" "0 0" "$(delta .rest.bucket_violations) $(delta .rest.global_violations)"
expect_match "each says why it limits alone" '"replicas":2,"why":"no --redis-url"' "$(cat "$CB_RUN/logs/split-a.log")"

section "two gateway pods answer Gateway interactions, deferring a slow command"
cb_start_postgres || exit 1
cb_pick_ports no
cb_start_services "$CB_BIN"
cb_wait_ready 30 || exit 1
declare -A GW_ADMIN
for i in 0 1; do
    GW_ADMIN[$i]=$(cb_port)
    cb_start_gateway "gw-$i" "$CB_BIN" "$(cb_port)" "${GW_ADMIN[$i]}" "tcp://127.0.0.1:$PORT_COMMAND_RPC" \
        --discord-token "$TOKEN" --discord-api-url "$API" --redis-url "$REDIS" --gateway-replicas 2 \
        --ordinal "$i" --defer-after-ms 1000
done
cb_wait_port_ready "${GW_ADMIN[0]}" 30 gw-0 && cb_wait_port_ready "${GW_ADMIN[1]}" 30 gw-1
expect_eq "both pods ready (each with its shard)" "2 2" "$(stats | jq -r '"\(.connections) \([.shards[] | select(.connected)] | length)"')"
sim_post interactions '{"count":20,"rate":50,"command":"balance"}' >/dev/null
wait_for '.interactions.answered' 20 30
wait_for '.interactions.deferred == .interactions.edited' true 15
before=$(stats)
expect_eq "20 interactions answered" 20 "$(jq .interactions.answered <<<"$before")"
metric_sum() { for p in "${GW_ADMIN[@]}"; do curl -sf "http://127.0.0.1:$p/metrics"; done | awk -v n="$1" '$1 == n {s += $2} END {print s + 0}'; }
deferrals=$(metric_sum cordbank_gateway_interactions_deferred_total)

CMD_PID=$(cat "$CB_RUN/pids/command")
kill -STOP "$CMD_PID"
sim_post interactions '{"count":1,"command":"balance"}' >/dev/null
wait_for ".interactions.deferred" "$(( $(jq .interactions.deferred <<<"$before") + 1 ))" 10
sleep 0.5
kill -CONT "$CMD_PID"
wait_for ".interactions.edited" "$(( $(jq .interactions.edited <<<"$before") + 1 ))" 20
after=$(stats)
expect_eq "the slow one was deferred once and edited once" "1 1" "$(delta .interactions.deferred) $(delta .interactions.edited)"
expect_eq "and answered exactly once" "1 0 0" "$(delta .interactions.answered) $(delta .interactions.answered_twice) $(jq .interactions.unanswered <<<"$after")"

section "a burst of deferred edits from both pods"
before=$(stats)
kill -STOP "$CMD_PID"
sim_post interactions '{"count":40,"rate":200,"command":"balance"}' >/dev/null
wait_for ".interactions.deferred" "$(( $(jq .interactions.deferred <<<"$before") + 40 ))" 10
kill -CONT "$CMD_PID"
wait_for ".interactions.edited" "$(( $(jq .interactions.edited <<<"$before") + 40 ))" 30
after=$(stats)
expect_eq "40 deferred, 40 edited" "40 40" "$(delta .interactions.deferred) $(delta .interactions.edited)"
expect_eq "each answered once" "40 0" "$(delta .interactions.answered) $(delta .interactions.answered_twice)"
expect_eq "no bucket overdrawn, no global violation" "0 0" "$(delta .rest.bucket_violations) $(delta .rest.global_violations)"
expect_eq "the pods counted the 41 deferrals" 41 \
    "$(( $(metric_sum cordbank_gateway_interactions_deferred_total) - deferrals ))"

section "a callback retried after an unknown outcome is not a second answer"
# The simulator applies the callback, then answers 2.5 s late; the gateway
# gives the first attempt half of the 3 s, retries, and Discord's 40060
# ("already acknowledged") tells it the first one had landed.
before=$(stats)
sim_post fault '{"fault":"slow_rest","shard":-1,"seconds":1,"delay_ms":2500}' >/dev/null
sim_post interactions '{"count":1,"command":"balance"}' >/dev/null
wait_for ".interactions.answered_twice" "$(( $(jq .interactions.answered_twice <<<"$before") + 1 ))" 10
sleep 1
after=$(stats)
expect_eq "answered once; the retry was refused with 40060" "1 1" "$(delta .interactions.answered) $(delta .interactions.answered_twice)"
series() { for p in "${GW_ADMIN[@]}"; do curl -sf "http://127.0.0.1:$p/metrics"; done | grep -F "$1 " | awk '{s += $NF} END {print s + 0}'; }
expect_eq "the gateway lost no interaction" "0" \
    "$(series 'cordbank_gateway_interactions_total{type="application_command",outcome="lost"}')"
expect_eq "the 40060 was the one 400 it got" 1 \
    "$(series 'cordbank_gateway_rest_requests_total{route="POST /interactions/:id/:token/callback",status="400"}')"

section "a 429 storm is waited out, not hammered"
quiet_second
before=$(stats)
sim_post fault '{"fault":"rate_limit_storm","shard":-1,"seconds":3,"scope":"user"}' >/dev/null
register storm --guild 860001,860002,860003,860004,860005
after=$(stats)
expect_eq "every registration went through after the storm" 0 "$RC"
n429=$(delta .rest.rate_limited.user)
expect_match "each request was limited, then waited (429s: $n429)" '^([5-9]|1[0-9]|2[0-5])$' "$n429"
expect_match "Retry-After was logged" '"retry_after_ms":[1-9]' "$(cat "$CB_RUN/logs/storm.log")"

section "secrets"
expect_eq "the bot token is in no gateway log" 0 \
    "$(cat "$CB_RUN"/logs/{reg,burst,split,gw,storm}*.log | grep -c -- "$TOKEN")"

summary rest
