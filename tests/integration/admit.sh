#!/usr/bin/env bash
# Admission across instances: dedup of interaction ids and the per-member and
# per-guild rate limits hold across two command instances, each behind its
# own gateway and talking to its own cache instance, so that only Redis is
# shared. Then Redis stops: each cache decides alone (scope="local" in its
# metrics), and when Redis is back, globally again, by itself.
#
#   gateway-a -> command-a -> cache-1 \
#                                      Redis, balance -> PostgreSQL
#   gateway-b -> command-b -> cache-2 /
#
# Low limits: a member may send 3 at once (then 1/s), a guild 6 (then 1/s).
# Parallel sends carry their own interaction ids: two simulators started in
# the same millisecond could otherwise draw the same fresh id.
#
#   tests/integration/admit.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/metrics.sh"
. "$(dirname "$0")/../lib/interact.sh"

export CORDBANK_USER_RATE=1 CORDBANK_USER_BURST=3 CORDBANK_GUILD_RATE=1 CORDBANK_GUILD_BURST=6
lo=127.0.0.1
cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
for v in BAL BAL_EV BAL_ADM C1 C1_ADM C2 C2_ADM CA CA_ADM CB CB_ADM GA GA_ADM GB GB_ADM; do
    printf -v "P_$v" '%s' "$(cb_port)" || exit 1
done
cb_start_balance balance "$CB_BIN" "$P_BAL" "$P_BAL_EV" "$P_BAL_ADM"
cb_start_cache cache-1 "$CB_BIN" "$P_C1" "$P_C1_ADM" "$P_BAL" "$P_BAL_EV"
cb_start_cache cache-2 "$CB_BIN" "$P_C2" "$P_C2_ADM" "$P_BAL" "$P_BAL_EV"
cb_start_command command-a "$CB_BIN" "$P_CA" "$P_CA_ADM" "tcp://$lo:$P_C1" "tcp://$lo:$P_BAL"
cb_start_command command-b "$CB_BIN" "$P_CB" "$P_CB_ADM" "tcp://$lo:$P_C2" "tcp://$lo:$P_BAL"
cb_start_gateway gateway-a "$CB_BIN" "$P_GA" "$P_GA_ADM" "tcp://$lo:$P_CA"
cb_start_gateway gateway-b "$CB_BIN" "$P_GB" "$P_GB_ADM" "tcp://$lo:$P_CB"
for s in balance:$P_BAL_ADM cache-1:$P_C1_ADM cache-2:$P_C2_ADM command-a:$P_CA_ADM \
         command-b:$P_CB_ADM gateway-a:$P_GA_ADM gateway-b:$P_GB_ADM; do
    cb_wait_port_ready "${s#*:}" 30 "${s%%:*}" || exit 1
done
URL_A="http://$lo:$P_GA/interactions"
URL_B="http://$lo:$P_GB/interactions"
GOING_FAST='^You.re going too fast\. Try again in [12]s\.$'
SERVER_BUSY='^This server is sending too many commands right now\. Try again in [12]s\.$'


# burst NAME SPEC... : every SPEC ("URL|ARGS...", words split on spaces) sent
# at once; the answers' contents, one per line, in $CB_RUN/NAME, and in
# BURST_MS how long the burst took from the first send to the last answer.
burst() {
    local name=$1 spec pids=() i=0 t0; shift
    mkdir -p "$CB_RUN/$name.d"
    t0=$(date +%s%3N)
    for spec in "$@"; do
        local url=${spec%%|*} args
        read -r -a args <<<"${spec#*|}"
        ( timeout 20 "$CB_BIN/cordbank-discord-sim" --once --gateway-url "$url" "${args[@]}" \
            | jq -r '(.body.data.content // "") + (if .body.data.flags == 64 then " [ephemeral]" else "" end)' \
            >"$CB_RUN/$name.d/$i" 2>/dev/null ) &
        pids+=($!); i=$((i + 1))
    done
    wait "${pids[@]}"
    BURST_MS=$(($(date +%s%3N) - t0))
    cat "$CB_RUN/$name.d"/* >"$CB_RUN/$name"
}
count() { grep -cE -- "$2" "$CB_RUN/$1"; }
# expect_burst NAME TITLE WANT PATTERN: as expect_eq on count, showing every
# answer of the burst when it fails.
expect_burst() {
    local before=$FAILED
    expect_eq "$2" "$3" "$(count "$1" "$4")"
    [ "$FAILED" -eq "$before" ] || sed 's/^/       answer: /' "$CB_RUN/$1"
}
# expect_limited NAME TITLE TOTAL BURST RATE OK_PATTERN REFUSED_PATTERN: of
# the TOTAL answers of burst NAME, BURST were served and the rest refused.
# What a bucket promises is at most BURST + RATE per second of the window,
# so on a machine slow enough that the burst took over a second (BURST_MS),
# the tokens refilled meanwhile may be served too.
expect_limited() {
    local name=$1 title=$2 total=$3 want=$4 rate=$5 ok refused extra
    ok=$(count "$name" "$6") refused=$(count "$name" "$7") extra=$((BURST_MS * rate / 1000))
    if [ "$ok" -ge "$want" ] && [ "$ok" -le $((want + extra)) ] && [ $((ok + refused)) -eq "$total" ]; then
        pass "$title"
    else
        fail "$title" "       expected $want served (up to $((want + extra)) in ${BURST_MS} ms) and the rest of $total refused
       got $ok served, $refused refused:
$(sed 's/^/       answer: /' "$CB_RUN/$name")"
    fi
}

admits() { cb_metric "$1" cordbank_cache_admit_total "result=\"$2\",scope=\"$3\""; }

section "dedup across command instances"
G=7201
cb_interact "$URL_A" --command daily --guild "$G" --user 8001 --interaction-id 940001
first=$CONTENT
expect_eq "/daily through gateway-a" "You claimed your daily 100 coins. Your balance is 100 coins." "$first"
cb_interact "$URL_B" --command daily --guild "$G" --user 8001 --interaction-id 940001
expect_eq "the same interaction through gateway-b answers its first outcome" "$first" "$CONTENT"
expect_eq "and is applied once" 1 "$(cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '940001'")"
expect_eq "cache-1 admitted it" 1 "$(admits "$P_C1_ADM" ok global)"
expect_eq "cache-2 saw it as a duplicate, through Redis" 1 "$(admits "$P_C2_ADM" duplicate global)"
ttl=$(redis-cli -p "$REDIS_PORT" ttl cb:seen:940001)
expect_match "the id is remembered for Discord's 15 minutes" '^(89[0-9]|900)$' "$ttl"
specs=()
for i in 1 2 3 4 5 6; do
    [ $((i % 2)) = 0 ] && url=$URL_A || url=$URL_B
    specs+=("$url|--command daily --guild $G --user 8001 --interaction-id 940001")
done
burst dup "${specs[@]}"
expect_burst dup "six more deliveries at once, past a burst of 3: all replay, none is refused" \
    6 '^You claimed your daily 100 coins\. Your balance is 100 coins\.$'
expect_eq "still applied once" 1 "$(cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '940001'")"

section "per-member limit across command instances"
G=7202
specs=()
for i in $(seq 1 10); do
    [ $((i % 2)) = 0 ] && url=$URL_A || url=$URL_B
    specs+=("$url|--command balance --guild $G --user 8101 --interaction-id $((941000 + i))")
done
burst member "${specs[@]}"
expect_limited member "10 /balance at once through both: the burst of 3 answered, 7 told to slow down, privately" \
    10 3 1 '^<@8101> has 0 coins\.$' "${GOING_FAST%$} \\[ephemeral\\]$"
cb_interact "$URL_A" --command balance --guild "$G" --user 8102 --interaction-id 941100
expect_eq "another member of the guild is not slowed" "<@8102> has 0 coins." "$CONTENT"
sleep 1.1
cb_interact "$URL_B" --command balance --guild "$G" --user 8101 --interaction-id 941101
expect_eq "a second later the member has a token again" "<@8101> has 0 coins." "$CONTENT"

section "per-guild limit across command instances"
G=7203
specs=()
for u in 1 2 3 4; do
    for i in 1 2 3; do
        [ $((i % 2)) = 0 ] && url=$URL_A || url=$URL_B
        specs+=("$url|--command balance --guild $G --user $((8200 + u)) --interaction-id $((942000 + u * 10 + i))")
    done
done
burst guild "${specs[@]}"
expect_limited guild "12 /balance from 4 members at once: the guild's burst of 6 answered, 6 told the server is busy, privately" \
    12 6 1 '^<@82[0-9]{2}> has 0 coins\.$' "${SERVER_BUSY%$} \\[ephemeral\\]$"
cb_interact "$URL_A" --command balance --guild 7204 --user 8201 --interaction-id 942100
expect_eq "another guild is not slowed" "<@8201> has 0 coins." "$CONTENT"

section "Redis down: each cache decides alone"
kill -TERM "$(cat "$CB_RUN/pids/redis")"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || break; sleep 0.1; done
G=7205
cb_interact "$URL_A" --command balance --guild "$G" --user 8301 --interaction-id 943001
expect_eq "a command is still answered" "<@8301> has 0 coins." "$CONTENT"
expect_eq "decided by cache-1 alone" 1 "$(admits "$P_C1_ADM" ok local)"
expect_eq "cordbank_cache_admit_global says so" 0 "$(cb_metric "$P_C1_ADM" cordbank_cache_admit_global)"
cb_interact "$URL_A" --command balance --guild "$G" --user 8301 --interaction-id 943001
expect_eq "a repeat is still answered" "<@8301> has 0 coins." "$CONTENT"
expect_eq "and is a local duplicate" 1 "$(admits "$P_C1_ADM" duplicate local)"
specs=()
for i in 1 2 3 4 5; do specs+=("$URL_A|--command balance --guild $G --user 8302 --interaction-id $((943010 + i))"); done
burst local "${specs[@]}"
expect_limited local "5 at once through one instance: its own burst of 3 answered, 2 slowed" \
    5 3 1 '^<@8302> has 0 coins\.$' "${GOING_FAST%$} \\[ephemeral\\]$"
expect_eq "the switch is logged once" 1 "$(grep -c 'admission without Redis' "$CB_RUN/logs/cache-1.log")"

section "Redis back: global again by itself"
cb_spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$CB_RUN/redis" --daemonize no
# Each cache finds out on its own: cache-2, idle during the outage, learns
# of it from its first command (decided locally), then reconnects too.
before1=$(admits "$P_C1_ADM" ok global) before2=$(admits "$P_C2_ADM" ok global)
end=$((SECONDS + 15)) i=0
until { [ "$(admits "$P_C1_ADM" ok global)" -gt "$before1" ] &&
        [ "$(admits "$P_C2_ADM" ok global)" -gt "$before2" ]; } || [ $SECONDS -ge $end ]; do
    i=$((i + 1))
    [ $((i % 2)) = 0 ] && url=$URL_A || url=$URL_B
    cb_interact "$url" --command balance --guild 7206 --user $((8400 + i)) --interaction-id $((944000 + i))
    sleep 0.2
done
expect_match "cache-1 decides through Redis again" '^[1-9]' "$(( $(admits "$P_C1_ADM" ok global) - before1 ))"
expect_match "and so does cache-2" '^[1-9]' "$(( $(admits "$P_C2_ADM" ok global) - before2 ))"
expect_eq "cordbank_cache_admit_global says so" 1 "$(cb_metric "$P_C1_ADM" cordbank_cache_admit_global)"
expect_eq "the return is logged once" 1 "$(grep -c 'admission through Redis again' "$CB_RUN/logs/cache-1.log")"
before=$(admits "$P_C1_ADM" duplicate global)
cb_interact "$URL_B" --command balance --guild 7206 --user 8499 --interaction-id 944500
cb_interact "$URL_A" --command balance --guild 7206 --user 8499 --interaction-id 944500
expect_eq "and dedup holds across instances again" $((before + 1)) "$(admits "$P_C1_ADM" duplicate global)"

section "refusals"
out=$("$CB_BIN/cordbank-cache" --user-burst 0 2>&1); rc=$?
expect_eq "a burst of 0 exits 2" 2 "$rc"
expect_match "and names the flag" 'invalid --user-burst' "$out"
out=$(CORDBANK_DEDUP_TTL_S=forever "$CB_BIN/cordbank-cache" 2>&1); rc=$?
expect_eq "a bad CORDBANK_DEDUP_TTL_S exits 2" 2 "$rc"
expect_match "and names it" 'CORDBANK_DEDUP_TTL_S' "$out"

summary admit
