#!/usr/bin/env bash
# load/peer/test.sh — the peer (load/peer/bot.js) against cordbank: both on
# one PostgreSQL (each its own database) and one Redis, on loopback ports
# picked at run time, driven by cordbank-discord-sim.
#   1. the same interactions (same ids, same options) to both, answer by
#      answer: status and body must be identical, after normalising what
#      legitimately differs (the random /work amount and what follows from
#      it, the seconds of a cooldown, Discord timestamps, the JSON parser's
#      wording of a syntax error);
#   2. a load run of every command against the peer: 0 errors;
#   3. the peer's ledger invariants in SQL;
#   4. --workers 2 serves too, and SIGTERM ends both peers with exit 0.
# Stops everything and removes its temp dir whatever happens (EXIT trap).
#
#   load/peer/test.sh [build/bin]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CB_BIN=${1:-${CB_BIN:-$ROOT/build/bin}}
PEER_DIR=$ROOT/load/peer
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/lib/assert.sh"
. "$ROOT/tests/lib/interact.sh"
SIM=$CB_BIN/cordbank-discord-sim

if [ ! -d "$PEER_DIR/node_modules/pg" ] || [ ! -d "$PEER_DIR/node_modules/ioredis" ]; then
    (cd "$PEER_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) \
        || { echo "load/peer: npm ci failed (run make deps)"; echo "peer: 0 passed, 1 failed"; exit 1; }
fi

cb_start_all "$CB_BIN"
CB_URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
PEER_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/peer"
peer_psql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d peer "$@"; }

# start_peer NAME [FLAG...]: the peer on a free port, rate limits as loose as
# cordbank's local ones (cb_local_limits); sets PEER_PORT.
start_peer() {
    local name=$1 i; shift
    cb_spawn "$name" env USER_RATE=100000 USER_BURST=100000 GUILD_RATE=1000000 GUILD_BURST=1000000 \
        node "$PEER_DIR/bot.js" --port 0 --pg-url "$PEER_PG_URL" \
        --redis-url "redis://127.0.0.1:$REDIS_PORT" "$@"
    PEER_PORT=
    for i in $(seq 150); do
        PEER_PORT=$(sed -nE 's/^\{"port":([0-9]+)\}$/\1/p' "$CB_RUN/logs/$name.log" | head -1)
        [ -n "$PEER_PORT" ] && return 0
        kill -0 "$(cat "$CB_RUN/pids/$name")" 2>/dev/null || break
        sleep 0.1
    done
    cb_log "$name did not start; its log:"; tail -n 20 "$CB_RUN/logs/$name.log" >&2
    return 1
}
start_peer peer || { echo "peer: 0 passed, 1 failed"; exit 1; }
PEER_URL="http://127.0.0.1:$PEER_PORT/interactions"

# What may differ between two correct answers: Discord timestamps (the
# transfers were made a few ms apart), the seconds of an hour's cooldown,
# and, with `work` as first argument, every number (a random amount).
normalise() {
    sed -E -e 's/<t:[0-9]+:R>/<t:T:R>/g' -e 's/Try again in 59m [0-9]{2}s/Try again in 59m XXs/g' \
        -e 's/X-Signature-Timestamp is [0-9]+ s/X-Signature-Timestamp is N s/' \
        ${WORK_DIGITS:+-e 's/[0-9]+/N/g'}
}
# same LABEL ARGS...: one interaction (same ARGS, so the same id when
# --interaction-id is given) to cordbank, then to the peer; the statuses
# and the normalised bodies must be equal. Sets BODY/CONTENT to the peer's.
same() {
    local label=$1; shift
    cb_interact "$CB_URL" "$@"
    local cb_status=$STATUS cb_body; cb_body=$(normalise <<<"$BODY")
    cb_interact "$PEER_URL" "$@"
    if [ "$cb_status" = 0 ] || [ "$STATUS" = 0 ]; then
        fail "$label" "       no answer (simulator status: cordbank $cb_status, peer $STATUS)"
        return
    fi
    expect_eq "$label" "$cb_status $cb_body" "$STATUS $(normalise <<<"$BODY")"
}
ID=810000
G=7001 GL=7002 ADMIN=9001
DASH=$'\xe2\x80\x94'

section "1. the same answers as cordbank"
same "PING is answered PONG" --type 1
same "/balance of a new member" --command balance --guild $G --user 5001
daily_id=$((ID += 1))
same "/daily" --command daily --guild $G --user 5001 --interaction-id "$daily_id"
same "/daily again: the cooldown" --command daily --guild $G --user 5001 --interaction-id $((ID += 1))
same "/daily retried: its first outcome" --command daily --guild $G --user 5001 --interaction-id "$daily_id"
expect_eq "the peer answered it as a success" "You claimed your daily 100 coins. Your balance is 100 coins." "$CONTENT"
pay_id=$((ID += 1))
same "/pay" --command pay --guild $G --user 5001 --option user=5002 --option amount=25 --interaction-id "$pay_id"
same "/pay retried" --command pay --guild $G --user 5001 --option user=5002 --option amount=25 --interaction-id "$pay_id"
same "/pay beyond the balance" --command pay --guild $G --user 5001 --option user=5002 --option amount=1000 \
    --interaction-id $((ID += 1))
same "/pay of 1,000,000 by a member with nothing" --command pay --guild $G --user 5005 --option user=5002 \
    --option amount=1000000 --interaction-id $((ID += 1))
same "/pay to oneself" --command pay --guild $G --user 5001 --option user=5001 --option amount=5
same "/pay to a bot" --command pay --guild $G --user 5001 --option user=5003 --option amount=5 --bot-user 5003
same "/pay without a member" --command pay --guild $G --user 5001 --option amount=5
for amount in 0 -3 1000000000001 ten; do
    same "/pay of $amount" --command pay --guild $G --user 5001 --option user=5002 --option amount=$amount
done
same "/balance after them" --command balance --guild $G --user 5001
same "/balance of another member" --command balance --guild $G --user 5001 --option user=5002
same "/grant without Manage Server" --command grant --guild $G --user 5001 --option user=5004 --option amount=5
same "/grant with only other permissions" --command grant --guild $G --user 5001 --permissions 16 \
    --option user=5004 --option amount=5
same "/grant mints (Manage Server)" --command grant --guild $G --user $ADMIN --permissions 32 \
    --option user=5004 --option amount=1500 --interaction-id $((ID += 1))
same "/grant burns (Administrator)" --command grant --guild $G --user 9002 --permissions 8 \
    --option user=5004 --option amount=-200 --interaction-id $((ID += 1))
same "/grant burning too much" --command grant --guild $G --user $ADMIN --permissions 32 \
    --option user=5004 --option amount=-5000 --interaction-id $((ID += 1))
for amount in 0 1000000000001 -1000000000001 ten; do
    same "/grant of $amount" --command grant --guild $G --user $ADMIN --permissions 32 \
        --option user=5004 --option amount=$amount
done
same "/grant without a member" --command grant --guild $G --user $ADMIN --permissions 32 --option amount=5
same "/grant to a bot" --command grant --guild $G --user $ADMIN --permissions 32 --option user=5099 \
    --option amount=5 --bot-user 5099
same "/grant to oneself" --command grant --guild $G --user $ADMIN --permissions 32 --option user=$ADMIN \
    --option amount=7 --interaction-id $((ID += 1))
same "/history" --command history --guild $G --user 5001
same "/history of another member" --command history --guild $G --user 5001 --option user=5004
same "/history of a member without transfers" --command history --guild $G --user 5098
for i in $(seq 1 11); do
    same "grant $i to 5010" --command grant --guild $G --user $ADMIN --permissions 32 --option user=5010 \
        --option amount="$i" --interaction-id $((ID += 1))
done
same "/history: ten, and a word about the older ones" --command history --guild $G --user 5010
expect_eq "the peer shows ten transfers, a header and a closing line" 12 "$(wc -l <<<"$CONTENT")"
same "/leaderboard of an empty server" --command leaderboard --guild $GL --user 7300
for page in 0 -1 1001; do
    same "/leaderboard page $page" --command leaderboard --guild $GL --user 7300 --option page=$page
done
for i in $(seq 1 12); do
    same "grant $((i * 100)) to $((7200 + i))" --command grant --guild $GL --user $ADMIN --permissions 32 \
        --option user=$((7200 + i)) --option amount=$((i * 100)) --interaction-id $((ID += 1))
done
same "a tie at the top" --command grant --guild $GL --user $ADMIN --permissions 32 --option user=7200 \
    --option amount=1200 --interaction-id $((ID += 1))
same "/leaderboard page 1" --command leaderboard --guild $GL --user 7300
expect_eq "the peer ranks ties by user id" "1. <@7200> $DASH 1,200 coins" "$(sed -n 2p <<<"$CONTENT")"
same "/leaderboard page 2" --command leaderboard --guild $GL --user 7300 --option page=2
same "/leaderboard page 3: no such page" --command leaderboard --guild $GL --user 7300 --option page=3
same "a pay that empties a member" --command pay --guild $GL --user 7201 --option user=7202 --option amount=100 \
    --interaction-id $((ID += 1))
same "/leaderboard page 2 after it" --command leaderboard --guild $GL --user 7300 --option page=2
work_id=$((ID += 1))
WORK_DIGITS=1 same "/work (amounts normalised)" --command work --guild $G --user 5020 --interaction-id "$work_id"
first_work=$CONTENT
same "/work again: the cooldown" --command work --guild $G --user 5020 --interaction-id $((ID += 1))
cb_interact "$PEER_URL" --command work --guild $G --user 5020 --interaction-id "$work_id"
expect_eq "the peer replays its own first /work" "$first_work" "$CONTENT"
WORK_DIGITS=1 same "/history after /work" --command history --guild $G --user 5020
same "an unknown command" --command lottery --guild $G --user 5001
same "a DM" --command daily --guild 0 --user 5001
same "a bad signature" --command balance --bad-signature
same "no signature" --command balance --no-signature
same "an old timestamp, correctly signed: refused as a replay by both" --command balance --timestamp 1
same "a body that is not an object" --raw-body '[1]'
same "a missing field" --raw-body '{"type":2,"id":"1"}'
same "a bad snowflake" --raw-body '{"type":2,"id":"0","application_id":"1","token":"t"}'
same "an unsupported interaction type" --raw-body '{"type":3}'
same "a member without a user" --raw-body '{"type":2,"id":"5","application_id":"1","token":"t","guild_id":"7001","member":{}}'
same "an option of an unknown type" --raw-body '{"type":2,"id":"5","application_id":"1","token":"t","guild_id":"7001","member":{"user":{"id":"5001"}},"data":{"name":"pay","options":[{"name":"amount","type":9,"value":1}]}}'
same "a string where an integer belongs" --raw-body '{"type":2,"id":"5","application_id":"1","token":"t","guild_id":"7001","member":{"user":{"id":"5001"}},"data":{"name":"pay","options":[{"name":"amount","type":4,"value":"5"}]}}'
# Invalid JSON: each parser words the reason its own way.
for body in '{"type":2' ''; do
    cb_interact "$CB_URL" --raw-body "$body"
    cb_body=$STATUS$(jq -r '.error | type' <<<"$BODY")
    cb_interact "$PEER_URL" --raw-body "$body"
    expect_eq "invalid JSON '$body': 400 with a JSON error from both" "400string 400string" \
        "$cb_body $STATUS$(jq -r '.error | type' <<<"$BODY")"
done
not_found=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PEER_PORT/elsewhere")
expect_eq "another path is 404" 404 "$not_found"
expect_eq "GET /interactions is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$PEER_URL")"

section "2. load on the peer"
mix=balance=50,pay=20,daily=10,work=10,leaderboard=5,history=5
out=$(timeout 60 "$SIM" --gateway-url "$PEER_URL" --mix "$mix" --rate 200 --duration 10 --users 200 \
    --guilds 10 2>"$CB_RUN/load.err"); rc=$?
echo "  $out"
expect_eq "every command at 200/s for 10 s: no errors" '{}' "$(jq -c '.errors' <<<"$out" 2>/dev/null)"
expect_eq "all 2000 answered" 2000 "$(jq -r '.answered' <<<"$out" 2>/dev/null)"
expect_eq "mostly ok" yes "$(jq -r 'if .ok > .refused then "yes" else "no" end' <<<"$out" 2>/dev/null)"
expect_eq "the simulator exits 0" 0 "$rc"

section "3. the peer's ledger"
# One interaction delivered eight times at once: the locks and the
# recorded outcome make it one transfer, and every copy gets its answer.
dup_id=$((ID += 1)) sims=()
for i in $(seq 8); do
    timeout 20 "$SIM" --once --gateway-url "$PEER_URL" --command grant --guild $G --user $ADMIN \
        --permissions 32 --option user=5040 --option amount=3 --interaction-id "$dup_id" \
        >"$CB_RUN/dup.$i" 2>/dev/null &
    sims+=($!)
done
wait "${sims[@]}"
expect_eq "eight concurrent copies of one /grant: one answer" \
    "<@$ADMIN> granted <@5040> 3 coins. Their balance is 3 coins." \
    "$(cat "$CB_RUN"/dup.* | jq -r '.body.data.content' | sort -u | paste -sd'|')"
expect_eq "and one transfer" 1 "$(peer_psql -c "SELECT count(*) FROM peer_transfers WHERE interaction_id = $dup_id")"
expect_eq "every guild sums to 0" "" \
    "$(peer_psql -c 'SELECT guild_id FROM peer_accounts GROUP BY guild_id HAVING sum(balance) <> 0')"
expect_eq "every balance equals its legs" "" "$(peer_psql -c 'SELECT a.guild_id, a.user_id FROM peer_accounts a
    FULL JOIN (SELECT guild_id, user_id, sum(delta) AS s FROM peer_legs GROUP BY 1, 2) l USING (guild_id, user_id)
    WHERE coalesce(a.balance, 0) <> coalesce(l.s, 0)')"
expect_eq "every transfer has two legs that cancel" "" "$(peer_psql -c 'SELECT t.id FROM peer_transfers t
    LEFT JOIN peer_legs l ON l.transfer_id = t.id GROUP BY t.id HAVING count(l.*) <> 2 OR sum(l.delta) <> 0')"
expect_eq "no member below 0" 0 "$(peer_psql -c 'SELECT count(*) FROM peer_accounts WHERE user_id <> 0 AND balance < 0')"
expect_eq "every transfer has its recorded outcome" 0 "$(peer_psql -c 'SELECT count(*) FROM peer_transfers t
    LEFT JOIN peer_outcomes o USING (interaction_id) WHERE o.transfer_id IS DISTINCT FROM t.id')"
expect_eq "one claim of /daily per member and guild (24 h)" "" "$(peer_psql -c 'SELECT guild_id, to_user FROM peer_transfers
    WHERE kind = 2 GROUP BY 1, 2 HAVING count(*) > 1')"
expect_eq "the retried interactions moved money once" "1 1 1" "$(peer_psql -c "SELECT
    (SELECT count(*) FROM peer_transfers WHERE interaction_id = $daily_id),
    (SELECT count(*) FROM peer_transfers WHERE interaction_id = $pay_id),
    (SELECT count(*) FROM peer_transfers WHERE interaction_id = $work_id)" | tr '|' ' ')"
expect_eq "cordbank's ledger agrees on the /daily" 1 \
    "$(cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '$daily_id'")"

section "4. outages: Redis down (fail open), PostgreSQL down (the trouble answer)"
redis_pid=$(cat "$CB_RUN/pids/redis")
kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null
cb_interact "$PEER_URL" --command pay --guild $G --user 5001 --option user=5002 --option amount=1
expect_eq "without Redis a /pay still runs" "<@5001> paid <@5002> 1 coins. Your balance is 74 coins." "$CONTENT"
cb_interact "$PEER_URL" --command balance --guild $G --user 5001 --option user=5002
expect_eq "and a /balance reads PostgreSQL" "<@5002> has 26 coins." "$CONTENT"
eval "cb_spawn redis $(cat "$CB_RUN/cmds/redis")"
for i in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
cb_pg_stop fast
TROUBLE="cordbank is having trouble right now; please try again in a moment."
cb_interact "$PEER_URL" --command daily --guild $G --user 5030
expect_eq "without PostgreSQL a /daily gets the trouble text" "$TROUBLE" "$CONTENT"
expect_eq "ephemeral" 64 "$FLAGS"
cb_pg_start
cb_interact "$PEER_URL" --command daily --guild $G --user 5030
expect_eq "PostgreSQL back: the pool reconnects" "You claimed your daily 100 coins. Your balance is 100 coins." "$CONTENT"

section "5. --workers 2, and SIGTERM"
first_port=$PEER_PORT
start_peer peer2 --workers 2 || true
expect_eq "two workers share one port" yes "$([ -n "$PEER_PORT" ] && [ "$PEER_PORT" != "$first_port" ] && echo yes)"
out=$(timeout 30 "$SIM" --gateway-url "http://127.0.0.1:$PEER_PORT/interactions" --mix "$mix" --rate 100 \
    --duration 3 --users 200 --guilds 10 2>/dev/null)
expect_eq "and serve a load without errors" '{}' "$(jq -c '.errors' <<<"$out" 2>/dev/null)"
for name in peer2 peer; do
    pid=$(cat "$CB_RUN/pids/$name")
    kill -TERM "$pid"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid"; rc=$?
    rm -f "$CB_RUN/pids/$name"
    expect_eq "$name exits 0 after SIGTERM" 0 "$rc"
done
expect_eq "the peer left no worker behind" "" "$(pgrep -f "$PEER_DIR/bot.js --port 0 --pg-url $PEER_PG_URL" || true)"

summary peer
