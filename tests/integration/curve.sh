#!/usr/bin/env bash
# CURVE between the services (common/curve.h): keys made with
# cordbank-keygen, PostgreSQL, Redis and the five services with --curve on
# loopback ports picked at run time.
#
#   refused at start   a missing, unreadable, wrong-format or mismatched key
#                      file, or a missing option, stops a service (and the
#                      load tool) with exit 2 and one line naming the option
#   round trip         commands answered through every hop (gateway ->
#                      command -> cache/balance, balance's events to cache,
#                      every snapshot to metrics), all CURVE
#   encrypted          a relay that records every byte sits between the
#                      gateway and command: a marker the request and the
#                      reply carry in clear without CURVE is absent with it,
#                      and present when the same is sent without (so the
#                      check can fail)
#   refused clients    cordbank-ledger-load against balance: with its own
#                      allowed key it is served; with a key not in the allowed
#                      directory, and without CURVE, it is not, and balance
#                      counts and logs both refusals
#   rotation           a new client key dropped into the allowed directory is
#                      admitted without a restart; removed, it is refused again
#
# Stops everything and removes its temp dir whatever happens (EXIT trap).
#
#   tests/integration/curve.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/interact.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

export CB_LOG_LEVEL=${CB_LOG_LEVEL:-info}
cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
export CB_CURVE=1
cb_curve_keys "$CB_BIN" || { echo "curve: cordbank-keygen failed" >&2; exit 1; }
KEYS=$CB_RUN/curve
# A client the cluster does not know: a key of its own, not in allowed/.
"$CB_BIN/cordbank-keygen" "$KEYS/other" intruder newcomer >/dev/null || exit 1
MARKER=zzcleartext$RANDOM$RANDOM   # a command name nobody has: echoed in the reply

# refused NAME REGEX CMD...: CMD exits 2 with one line matching REGEX.
refused() {
    local name=$1 want=$2 out rc; shift 2
    out=$("$@" 2>&1 </dev/null); rc=$?
    expect_eq "$name: exit 2" 2 "$rc"
    expect_match "$name: says why" "$want" "$out"
    expect_eq "$name: in one line" 1 "$(wc -l <<<"$out")"
}

# metric_value PORT SERIES: the value of one series on an admin port's /metrics (0 when absent).
metric_value() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s " ") == 1 { v = $2 } END { print v + 0 }'
}

# stop_services: SIGTERM the five services and wait for them (in this
# shell: they are its children); their exit codes in STOPPED (0 each after a
# clean drain; under LeakSanitizer a leak makes it another).
stop_services() {
    local s pid
    STOPPED=
    for s in gateway command cache balance metrics; do
        pid=$(cat "$CB_RUN/pids/$s" 2>/dev/null) || continue
        kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        STOPPED="$STOPPED${STOPPED:+ }$?"
        rm -f "$CB_RUN/pids/$s"
    done
}

# ledger_load KEYNAME|none [OUT]: two seconds of pays against balance (the
# JSON summary in OUT); its stderr in $CB_RUN/logs/ledger-load.log.
ledger_load() {
    local key=$1 json=${2:-/dev/null} flags=()
    case "$key" in
        none) ;;
        ledger-load) flags=(--curve --curve-cert "$KEYS/ledger-load.key_secret" --curve-server-key "$KEYS/server.key") ;;
        *) flags=(--curve --curve-cert "$KEYS/other/$key.key_secret" --curve-server-key "$KEYS/server.key") ;;
    esac
    timeout 60 "$CB_BIN/cordbank-ledger-load" --balance-endpoints "tcp://127.0.0.1:$PORT_BALANCE_RPC" \
        --duration-s 2 --concurrency 4 --accounts 4 --guild 8001 --deadline-ms 300 --max-attempts 1 \
        --quiet --json "$json" "${flags[@]}" >>"$CB_RUN/logs/ledger-load.log" 2>&1
}

section "refused at start"
cp "$KEYS/gateway.key" "$CB_RUN/public-only.key"                # no _secret beside it
mkdir -p "$CB_RUN/public" && cp "$KEYS/server.key" "$CB_RUN/public/"
head -c 3000 /dev/urandom >"$CB_RUN/garbage.key"
bad=(--metrics-endpoints "" --admin-port 0 --bind tcp://127.0.0.1:0)
refused "--curve without a certificate" '^cordbank-command: --curve needs --curve-cert \(CORDBANK_CURVE_CERT\)' \
    "$CB_BIN/cordbank-command" "${bad[@]}" --curve
refused "a certificate that is not there" '^cordbank-command: invalid --curve-cert \(CORDBANK_CURVE_CERT\) ".*/nope\.key": cannot read it: No such file' \
    "$CB_BIN/cordbank-command" "${bad[@]}" --curve --curve-cert "$CB_RUN/nope.key" \
    --curve-server-key "$KEYS/server.key" --curve-allowed-keys "$KEYS/allowed"
refused "a file that is not a certificate" 'invalid --curve-cert .*garbage\.key": not a CURVE certificate' \
    "$CB_BIN/cordbank-command" "${bad[@]}" --curve --curve-cert "$CB_RUN/garbage.key" \
    --curve-server-key "$KEYS/server.key" --curve-allowed-keys "$KEYS/allowed"
refused "a public certificate as the keypair" 'public-only\.key": holds no secret key' \
    "$CB_BIN/cordbank-command" "${bad[@]}" --curve --curve-cert "$CB_RUN/public-only.key" \
    --curve-server-key "$KEYS/server.key" --curve-allowed-keys "$KEYS/allowed"
refused "a server without the server's secret key" 'invalid --curve-server-key .*needs the server.s secret certificate' \
    "$CB_BIN/cordbank-balance" "${bad[@]}" --curve --curve-cert "$KEYS/balance.key" \
    --curve-server-key "$CB_RUN/public/server.key" --curve-allowed-keys "$KEYS/allowed"
refused "a server without allowed keys" 'needs --curve-allowed-keys \(CORDBANK_CURVE_ALLOWED_KEYS\)' \
    "$CB_BIN/cordbank-metrics" "${bad[@]}" --curve --curve-cert "$KEYS/metrics.key" --curve-server-key "$KEYS/server.key"
mkdir -p "$CB_RUN/bad-allowed" && cp "$KEYS/gateway.key" "$CB_RUN/garbage.key" "$CB_RUN/bad-allowed/"
refused "an allowed directory with a file that is not a key" 'invalid --curve-allowed-keys .*: garbage\.key: not a CURVE certificate' \
    "$CB_BIN/cordbank-cache" "${bad[@]}" --curve --curve-cert "$KEYS/cache.key" \
    --curve-server-key "$KEYS/server.key" --curve-allowed-keys "$CB_RUN/bad-allowed"
refused "the environment, named as such" 'CORDBANK_CURVE_CERT' \
    env CORDBANK_CURVE=true CORDBANK_CURVE_CERT="$CB_RUN/nope.key" CORDBANK_CURVE_SERVER_KEY="$KEYS/server.key" \
    "$CB_BIN/cordbank-gateway" --metrics-endpoints "" --admin-port 0 --http-port 0
refused "the load tool too" '^cordbank-ledger-load: invalid --curve-server-key' \
    "$CB_BIN/cordbank-ledger-load" --curve --curve-cert "$KEYS/ledger-load.key" \
    --curve-server-key "$CB_RUN/garbage.key"
out=$(env CORDBANK_CURVE=true "$CB_BIN/cordbank-command" --help 2>&1); rc=$?
expect_eq "--help still works with --curve set" "0 yes" "$rc $(grep -q -- '--curve-allowed-keys' <<<"$out" && echo yes)"

section "a cluster with CURVE: every hop"
cb_pick_ports no
RELAY_CURVE=$(cb_port)
cb_spawn relay-curve python3 "$HERE/../lib/tcp-record.py" "$RELAY_CURVE" "$PORT_COMMAND_RPC" "$CB_RUN/wire-curve.bin"
# The gateway reaches command through the relay (a later flag wins).
CB_GATEWAY_ARGS=(--command-endpoints "tcp://127.0.0.1:$RELAY_CURVE")
cb_start_services "$CB_BIN"
cb_wait_ready 30 || exit 1
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
for s in gateway command balance cache metrics; do
    expect_match "$s says CURVE is on" '"msg":"CURVE on: ZeroMQ connections are encrypted and authenticated"' \
        "$(cat "$CB_RUN/logs/$s.log")"
done
cb_interact "$URL" --command daily --guild 7001 --user 5001
expect_eq "/daily round-trips (gateway, command, balance, write-through to cache)" \
    "You claimed your daily 100 coins. Your balance is 100 coins." "$CONTENT"
cb_interact "$URL" --command balance --guild 7001 --user 5001
expect_eq "/balance reads it back through cache" "<@5001> has 100 coins." "$CONTENT"
cb_interact "$URL" --command "$MARKER" --guild 7001 --user 5001
expect_eq "an unknown command is answered by command, its name echoed" "Unknown command: /$MARKER." "$CONTENT"
for _ in $(seq 50); do
    [ "$(curl -s "http://127.0.0.1:$PORT_METRICS_ADMIN/metrics" | grep -c '^cordbank_curve_enabled{.*} 1$')" -ge 5 ] && break
    sleep 0.2
done
expect_eq "metrics hears every service's snapshot over CURVE (cordbank_curve_enabled 1 from all five)" \
    "balance cache command gateway metrics" \
    "$(curl -s "http://127.0.0.1:$PORT_METRICS_ADMIN/metrics" | grep '^cordbank_curve_enabled{.*} 1$' \
        | sed -n 's/.*service="\([a-z]*\)".*/\1/p' | sort -u | xargs)"
expect_match "cache received balance's BalanceChanged events over CURVE" '^[1-9]' \
    "$(curl -s "http://127.0.0.1:$PORT_CACHE_ADMIN/metrics" | awk '/^cordbank_cache_updates_total\{.*source="event"/ { s += $2 } END { print s + 0 }')"

section "encrypted on the wire"
sleep 0.5   # the relay writes as it forwards
expect_match "the relay saw the CURVE handshake (ZMTP greeting: mechanism CURVE)" '^[1-9]' \
    "$(grep -ac 'CURVE' "$CB_RUN/wire-curve.bin")"
expect_eq "the command name is not in clear" 0 "$(grep -ac "$MARKER" "$CB_RUN/wire-curve.bin")"
expect_eq "the reply text is not in clear" 0 "$(grep -ac 'You claimed your daily' "$CB_RUN/wire-curve.bin")"
expect_match "yet bytes went through the relay" '^[0-9]{4,}$' "$(stat -c %s "$CB_RUN/wire-curve.bin")"

section "clients that are refused"
ledger_load ledger-load "$CB_RUN/ll-allowed.json"
expect_match "cordbank-ledger-load with its allowed key is served" '^[1-9]' \
    "$(jq -r '.acked // 0' "$CB_RUN/ll-allowed.json" 2>/dev/null)"
# refusals REASON...: balance's count of refused handshakes for those reasons.
refusals() {
    local r n=0
    for r in "$@"; do
        n=$((n + $(metric_value "$PORT_BALANCE_ADMIN" "cordbank_curve_handshake_failures_total{socket=\"router\",reason=\"$r\"}")))
    done
    echo "$n"
}
auth0=$(refusals auth)
plain0=$(refusals protocol other)
: >"$CB_RUN/logs/ledger-load.log"
ledger_load intruder "$CB_RUN/ll-intruder.json"
expect_match "a key not in the allowed directory never connects" 'is not connected' "$(cat "$CB_RUN/logs/ledger-load.log")"
expect_eq "and gets nothing acknowledged" 0 "$(jq -r '.acked // 0' "$CB_RUN/ll-intruder.json" 2>/dev/null)"
auth1=$(refusals auth)
expect_eq "balance counted the refusals (reason auth)" yes "$([ "$auth1" -gt "$auth0" ] && echo yes || echo "no: $auth0 -> $auth1")"
: >"$CB_RUN/logs/ledger-load.log"
ledger_load none "$CB_RUN/ll-plain.json"
expect_match "a client without CURVE never connects" 'is not connected' "$(cat "$CB_RUN/logs/ledger-load.log")"
expect_eq "and gets nothing acknowledged" 0 "$(jq -r '.acked // 0' "$CB_RUN/ll-plain.json" 2>/dev/null)"
# The server sees a mechanism mismatch (protocol), or the client hang up first (other).
plain1=$(refusals protocol other)
expect_eq "balance counted the refusals (reason protocol or other)" yes "$([ "$plain1" -gt "$plain0" ] && echo yes || echo "no: $plain0 -> $plain1")"
expect_match "balance logged them" '"msg":"CURVE handshake refused".*"why":"the client.s key is not in the allowed keys"' \
    "$(cat "$CB_RUN/logs/balance.log")"
expect_match "balance logged them" '"msg":"CURVE handshake refused".*"reason":"(protocol|other)"' \
    "$(cat "$CB_RUN/logs/balance.log")"

section "rotation: the allowed directory is read again when it changes"
cp "$KEYS/other/newcomer.key" "$KEYS/allowed/"
: >"$CB_RUN/logs/ledger-load.log"
ledger_load newcomer "$CB_RUN/ll-newcomer.json"
expect_match "a key added to the allowed directory is admitted without a restart" '^[1-9]' \
    "$(jq -r '.acked // 0' "$CB_RUN/ll-newcomer.json" 2>/dev/null)"
rm "$KEYS/allowed/newcomer.key"
: >"$CB_RUN/logs/ledger-load.log"
ledger_load newcomer "$CB_RUN/ll-removed.json"
expect_eq "removed, it is refused again" 0 "$(jq -r '.acked // 0' "$CB_RUN/ll-removed.json" 2>/dev/null)"

section "the same traffic without CURVE is in clear (the check above can fail)"
stop_services
expect_eq "every CURVE service exits 0 after SIGTERM" "0 0 0 0 0" "$STOPPED"
export CB_CURVE=0
cb_pick_ports no
RELAY_PLAIN=$(cb_port)
cb_spawn relay-plain python3 "$HERE/../lib/tcp-record.py" "$RELAY_PLAIN" "$PORT_COMMAND_RPC" "$CB_RUN/wire-plain.bin"
CB_GATEWAY_ARGS=(--command-endpoints "tcp://127.0.0.1:$RELAY_PLAIN")
cb_start_services "$CB_BIN"
cb_wait_ready 30 || exit 1
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
cb_interact "$URL" --command "$MARKER" --guild 7001 --user 5001
expect_eq "answered without CURVE" "Unknown command: /$MARKER." "$CONTENT"
sleep 0.5
expect_match "the command name is in clear" '^[1-9]' "$(grep -ac "$MARKER" "$CB_RUN/wire-plain.bin")"
expect_eq "no CURVE handshake" 0 "$(grep -ac 'CURVE' "$CB_RUN/wire-plain.bin")"
expect_eq "cordbank_curve_enabled is 0" 0 "$(metric_value "$PORT_COMMAND_ADMIN" cordbank_curve_enabled)"

summary curve
