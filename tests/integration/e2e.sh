#!/usr/bin/env bash
# End to end: PostgreSQL, Redis and all five services on loopback ports
# picked at run time, driven with signed interactions from the simulator.
# Checks what a Discord user sees, then the ledger in SQL. Stops everything
# and removes its temp dir whatever happens (EXIT trap).
#
#   tests/integration/e2e.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/interact.sh"

# Debug: the trace section follows one command through every service's log.
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-debug}
cb_start_all "$CB_BIN"
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
G=7001

# interact ARGS... : one signed interaction; sets STATUS, BODY, CONTENT, FLAGS.
interact() { cb_interact "$URL" "$@"; }
balance_of() { interact --command balance --guild "$G" --user "$1"; }

section "protocol"
interact --type 1
expect_eq "PING answers PONG" '{"type":1}' "$BODY"
interact --command balance --bad-signature
expect_eq "bad signature is refused" 401 "$STATUS"
interact --command balance --no-signature
expect_eq "missing signature is refused" 401 "$STATUS"
interact --raw-body '{"type":2,'
expect_eq "malformed JSON is 400" 400 "$STATUS"
expect_match "malformed JSON says why" 'error' "$BODY"
interact --raw-body '{"id":"1","application_id":"2","token":"t"}'
expect_eq "missing type is 400" 400 "$STATUS"
interact --raw-body '{"type":"two","id":"1"}'
expect_eq "mistyped type is 400" 400 "$STATUS"
interact --raw-body "{\"type\":2,\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' x)\"}"
expect_eq "body over 64 KiB is 413" 413 "$STATUS"
expect_eq "and says why" '{"error":"request body exceeds 65536 bytes"}' "$BODY"
big=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @<(head -c 2097152 /dev/zero | tr '\0' x) "$URL")
expect_eq "a 2 MB body is 413 (read and dropped, never kept)" 413 "$big"
# 310 s, not 301: the clock may tick between here and the gateway.
interact --command balance --timestamp "$(( $(date +%s) - 310 ))"
expect_eq "a valid signature from 310 s ago is refused (replay window 300 s)" 401 "$STATUS"
expect_match "and says why" 'X-Signature-Timestamp is 31[0-9] s old \(more than 300 s\): refused as a replay' "$BODY"
interact --command balance --timestamp "$(( $(date +%s) + 310 ))"
expect_eq "a timestamp 310 s ahead is refused" 401 "$STATUS"
interact --command balance --guild "$G" --timestamp "$(( $(date +%s) - 200 ))"
expect_eq "one 200 s old is inside the window" 200 "$STATUS"
interact --command nosuch --guild "$G"
expect_eq "unknown command is explained" "Unknown command: /nosuch." "$CONTENT"
expect_eq "unknown command is ephemeral" 64 "$FLAGS"
interact --command balance --guild 0
expect_eq "a DM is refused politely" "cordbank works inside servers only." "$CONTENT"

section "/balance and /daily"
balance_of 5001
expect_eq "a new member has 0" "<@5001> has 0 coins." "$CONTENT"
expect_eq "a balance is public" 0 "$FLAGS"
expect_eq "mentions in a reply never ping" '[]' "$(jq -c '.data.allowed_mentions.parse' <<<"$BODY")"
interact --command daily --guild "$G" --user 5001 --interaction-id 900001
expect_eq "/daily credits" "You claimed your daily 100 coins. Your balance is 100 coins." "$CONTENT"
interact --command daily --guild "$G" --user 5001 --interaction-id 900002
expect_match "/daily again is refused with the time left" '^You already claimed your daily reward\. Try again in 2[34]h [0-5][0-9]m\.$' "$CONTENT"
expect_eq "the refusal is ephemeral" 64 "$FLAGS"
interact --command daily --guild "$G" --user 5001 --interaction-id 900001
expect_eq "a repeated interaction returns its first outcome" "You claimed your daily 100 coins. Your balance is 100 coins." "$CONTENT"
balance_of 5001
expect_eq "and applies once" "<@5001> has 100 coins." "$CONTENT"

section "/pay"
interact --command pay --guild "$G" --user 5001 --option user=5002 --option amount=30 --interaction-id 900010
expect_eq "/pay moves money" "<@5001> paid <@5002> 30 coins. Your balance is 70 coins." "$CONTENT"
balance_of 5002
expect_eq "the payee sees it at once" "<@5002> has 30 coins." "$CONTENT"
interact --command pay --guild "$G" --user 5001 --option user=5002 --option amount=30 --interaction-id 900010
expect_eq "a repeated pay returns its first outcome" "<@5001> paid <@5002> 30 coins. Your balance is 70 coins." "$CONTENT"
balance_of 5001
expect_eq "a repeated pay applies once" "<@5001> has 70 coins." "$CONTENT"
interact --command pay --guild "$G" --user 5001 --option user=5002 --option amount=1000
expect_eq "insufficient funds is a clear refusal" "Insufficient funds: you have 70 coins and tried to pay 1,000." "$CONTENT"
expect_eq "insufficient funds is ephemeral" 64 "$FLAGS"
interact --command pay --guild "$G" --user 5001 --option user=5001 --option amount=5
expect_eq "self-pay is refused" "You cannot pay yourself." "$CONTENT"
for amount in 0 -5 1000000000001; do
    interact --command pay --guild "$G" --user 5001 --option user=5002 --option amount=$amount
    expect_eq "amount $amount is refused" "The amount must be a whole number from 1 to 1,000,000,000,000." "$CONTENT"
done
interact --command pay --guild "$G" --user 5001 --option user=5003 --option amount=5 --bot-user 5003
expect_eq "paying a bot is refused" "You cannot pay a bot." "$CONTENT"
balance_of 5001
expect_eq "refusals moved nothing" "<@5001> has 70 coins." "$CONTENT"

section "ledger"
expect_eq "one pay with that key" 1 "$(cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '900010'")"
expect_eq "one daily with that key" 1 "$(cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '900001'")"
expect_eq "every guild sums to 0" "" "$(cb_psql -c 'SELECT guild_id FROM accounts GROUP BY guild_id HAVING sum(balance) <> 0')"
expect_eq "every balance equals its legs" "" "$(cb_psql -c 'SELECT a.guild_id, a.user_id FROM accounts a LEFT JOIN (SELECT guild_id, user_id, sum(delta) AS s FROM legs GROUP BY 1, 2) l USING (guild_id, user_id) WHERE a.balance <> coalesce(l.s, 0)')"
out=$(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d cordbank \
    -f "$CB_ROOT/services/balance/tests/ledger_test.sql" 2>&1)
expect_eq "ledger SQL assertions (services/balance/tests/ledger_test.sql)" "" "$(grep -E 'ERROR|FATAL' <<<"$out")"
"$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" >/dev/null 2>&1
expect_eq "cordbank-balance --check-invariants agrees" 0 $?

section "operations"
sleep 2   # two snapshot periods
metrics=$(curl -s "http://127.0.0.1:$PORT_METRICS_ADMIN/metrics")
for s in gateway command balance cache metrics; do
    expect_match "metrics aggregate has $s" "service=\"$s\"" "$metrics"
done
expect_match "instances are up" 'cordbank_instance_up\{service="balance",instance="balance-1"\} 1' "$metrics"
expect_eq "livez" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_COMMAND_ADMIN/livez")"
out=$("$CB_BIN/cordbank-balance" --admin-port=eighty 2>&1); rc=$?
expect_eq "a bad flag exits 2" 2 "$rc"
expect_match "and names it" '^cordbank-balance: invalid --admin-port="eighty"' "$out"
expect_eq "in one line" 1 "$(wc -l <<<"$out")"
out=$(CORDBANK_GRACE_MS=-1 "$CB_BIN/cordbank-command" 2>&1); rc=$?
expect_eq "a bad env var exits 2" 2 "$rc"
expect_match "and names it" 'CORDBANK_GRACE_MS' "$out"
out=$("$CB_BIN/cordbank-gateway" --log-level=verbose 2>&1); rc=$?
expect_eq "an unknown log level exits 2" 2 "$rc"
expect_match "and lists the choices" 'invalid --log-level="verbose": expected one of debug\|info\|warn\|error' "$out"

section "trace"
# One /pay, followed by its trace id: the gateway makes it up and logs the
# interaction under it; every service the command crosses logs the requests
# it served under it (at debug, which this test runs at); and, alone in its
# snapshot period, it is each instance's slowest request, the exemplar the
# metrics service logs and serves in /api/v1/summary.
TRACE_IID=990000000000000042
interact --command pay --guild "$G" --user 10 --option user=11 --option amount=1 --interaction-id "$TRACE_IID"
sleep 0.5   # the last log lines are written after the answer
# (grep, not jq: jq reads numbers as doubles and a snowflake loses digits)
trace=$(grep -h '"msg":"interaction"' "$CB_RUN"/logs/gateway*.log | grep "\"interaction_id\":$TRACE_IID[,}]" \
    | jq -r .trace_id | head -1)
expect_match "the gateway logged the interaction with a trace id" '^[0-9a-f]{32}$' "$trace"
for s in command cache balance; do
    expect_match "$s logged the request it served under that trace id" '"msg":"request served"' \
        "$(grep -h "\"trace_id\":\"$trace\"" "$CB_RUN"/logs/$s*.log)"
done
expect_match "command logged its answer under it" '"msg":"command answered"' \
    "$(grep -h "\"trace_id\":\"$trace\"" "$CB_RUN"/logs/command*.log)"
expect_match "balance logged the transfer under it" '"msg":"transfer answered"' \
    "$(grep -h "\"trace_id\":\"$trace\"" "$CB_RUN"/logs/balance*.log)"
# The exemplars of the period arrive with the next snapshots (1 s).
for _ in $(seq 30); do
    [ "$(grep -h "\"trace_id\":\"$trace\"" "$CB_RUN"/logs/metrics*.log | grep -c '"msg":"slowest request"')" -ge 4 ] && break
    sleep 0.2
done
expect_eq "metrics logged it as the slowest request of gateway, command, cache and balance" \
    "balance cache command gateway" \
    "$(grep -h "\"trace_id\":\"$trace\"" "$CB_RUN"/logs/metrics*.log | jq -r 'select(.msg == "slowest request") | .of_service' | sort -u | xargs)"
expect_eq "every log line of every service is one JSON object" 0 \
    "$(cat "$CB_RUN"/logs/{gateway,command,cache,balance,metrics}*.log | grep -v '^{' | wc -l)"

section "drain"
for s in gateway command cache balance metrics; do
    pid=$(cat "$CB_RUN/pids/$s")
    kill -TERM "$pid"; wait "$pid"; rc=$?
    rm -f "$CB_RUN/pids/$s"
    expect_eq "$s exits 0 after SIGTERM" 0 "$rc"
done

summary e2e
