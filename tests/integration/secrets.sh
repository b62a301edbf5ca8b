#!/usr/bin/env bash
# Secrets never reach a log, a page or a help text. A whole cordbank runs at
# debug level with a recognisable bot token, Ed25519 key pair, PostgreSQL
# password (real scram-sha-256 authentication) and Redis URL, given the ways
# an operator gives them: from files (CORDBANK_*_FILE, --*-file, as
# Kubernetes mounts secrets) and from the environment (CORDBANK_*, and the
# plain DISCORD_TOKEN). Traffic takes the paths where a secret could leak:
# signed interactions over HTTP, bad and missing signatures, Gateway shards
# (IDENTIFY carries the token), REST callbacks and deferred edits, a 429
# storm and slow REST answers, a token Discord refuses, a wrong PostgreSQL
# password, a PostgreSQL outage and its recovery, and configurations
# refused at start. Then every log of the run (each service, the simulator,
# PostgreSQL, Redis, the one-shot tools), every command line it kept, every
# --help and every /metrics page must hold none of them. A self-check first
# proves the scan finds a secret planted in a log.
# Stops everything and removes its temp dir whatever happens (EXIT trap).
#
#   tests/integration/secrets.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

export CB_LOG_LEVEL=debug
cb_run_dir
trap 'cb_stop_all' EXIT
LOGS=$CB_RUN/logs
SECRETS=$CB_RUN/secrets
mkdir -m 700 "$SECRETS"

# --- the secrets: recognisable, and nothing URL encoding would change ------
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
TOKEN="cbsecret-token-$(rand 12)"
WRONG_TOKEN="cbwrong-token-$(rand 12)"
SEED=$(rand 32)
PG_PASSWORD="cbsecret-pgpw-$(rand 12)"
WRONG_PG_PASSWORD="cbwrong-pgpw-$(rand 12)"
# put NAME VALUE: the value in a file of the secrets dir (with a newline, as
# `kubectl create secret --from-file` and editors leave it); prints the path.
put() { printf '%s\n' "$2" >"$SECRETS/$1" && echo "$SECRETS/$1"; }
SEED_FILE=$(put seed "$SEED")
PUBKEY=$(CORDBANK_SEED_FILE=$SEED_FILE "$CB_BIN/cordbank-discord-sim" --print-public-key)
[[ $PUBKEY =~ ^[0-9a-f]{64}$ ]] || { echo "secrets: no public key from the simulator ($PUBKEY)" >&2; exit 1; }
TOKEN_FILE=$(put token "$TOKEN")
PUBKEY_FILE=$(put public-key "$PUBKEY")
# What the scan looks for, case-insensitively (hex may be printed either way).
NEEDLES=("$TOKEN" "$WRONG_TOKEN" "$SEED" "$PUBKEY" "$PG_PASSWORD" "$WRONG_PG_PASSWORD")
NEEDLE_NAMES=("bot token" "refused bot token" "Ed25519 seed" "public key" "PostgreSQL password" \
    "wrong PostgreSQL password")

# leaks DIR...: one line per secret found in any file under DIR (recursive),
# naming the secret and the file; nothing when none is.
leaks() {
    local i
    for i in "${!NEEDLES[@]}"; do
        grep -rlaiF -- "${NEEDLES[$i]}" "$@" 2>/dev/null | sed "s|^|${NEEDLE_NAMES[$i]} in |"
    done
}

section "self-check: the scan finds a planted secret"
CANARY=$(mktemp -d "$CB_RUN/canary.XXXXXX")
for i in "${!NEEDLES[@]}"; do
    printf '{"level":"debug","msg":"oops","value":"Bot %s"}\n' "${NEEDLES[$i]^^}" >"$CANARY/planted-$i.log"
done
found=$(leaks "$CANARY" | wc -l)
expect_eq "each of the ${#NEEDLES[@]} secrets planted in a log is found (upper case too)" "${#NEEDLES[@]}" "$found"
printf 'clean line\n' >"$CANARY/clean.log"
rm -f "$CANARY"/planted-*.log
expect_eq "and nothing in a clean log" "" "$(leaks "$CANARY")"
rm -rf "$CANARY"

# --- Discord (the simulator), PostgreSQL with a password, Redis --------------
SIM_PORT=$(cb_port)
APP=1100000000000000001
CORDBANK_TOKEN_FILE=$TOKEN_FILE cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve \
    --listen-port "$SIM_PORT" --application-id "$APP" --shards 2 --guilds 4 --users 50
SIM="http://127.0.0.1:$SIM_PORT"
API="$SIM/api/v10"
for _ in $(seq 100); do curl -sf -o /dev/null "$SIM/_sim/stats" && break; sleep 0.1; done
stats() { curl -sf "$SIM/_sim/stats" || echo '{}'; }
sim_post() { curl -sf -X POST "$SIM/_sim/$1" -d "$2" >/dev/null; }
wait_for() {
    local end=$((SECONDS + $3))
    until [ "$(stats | jq -r "$1")" = "$2" ] || [ $SECONDS -ge $end ]; do sleep 0.1; done
}

cb_start_postgres || exit 1
# A login role with a password, owner of the database (balance migrates it),
# and scram-sha-256 for it over TCP: the password is really checked.
cb_psql -c "CREATE ROLE cbapp LOGIN PASSWORD '$PG_PASSWORD'" -c 'ALTER DATABASE cordbank OWNER TO cbapp' \
    -c 'ALTER SCHEMA public OWNER TO cbapp' || exit 1
HBA=$CB_RUN/pg/data/pg_hba.conf
{ echo "host all cbapp 127.0.0.1/32 scram-sha-256"; cat "$HBA"; } >"$CB_RUN/hba.new" && cat "$CB_RUN/hba.new" >"$HBA"
cb_as_postgres "$PG_BIN/pg_ctl" -D "$CB_RUN/pg/data" reload >/dev/null || exit 1
PG_URL_FILE=$(put pg-url "postgresql://cbapp:$PG_PASSWORD@127.0.0.1:$PG_PORT/cordbank")
cb_start_redis || exit 1
REDIS_URL_FILE=$(put redis-url "redis://127.0.0.1:$REDIS_PORT/0")

# --- the services: secrets from files (instance 1) and from the environment (2)
cb_pick_ports no
lo=127.0.0.1
common=(--metrics-endpoints "tcp://$lo:$PORT_METRICS_SUB" --log-level debug --grace-ms 5000)
cb_spawn metrics "$CB_BIN/cordbank-metrics" --instance metrics-1 --bind "tcp://$lo:$PORT_METRICS_SUB" \
    --admin-port "$PORT_METRICS_ADMIN" "${common[@]}"
CORDBANK_PG_URL_FILE=$PG_URL_FILE cb_spawn balance "$CB_BIN/cordbank-balance" --instance balance-1 \
    --bind "tcp://$lo:$PORT_BALANCE_RPC" --events-bind "tcp://$lo:$PORT_BALANCE_EVENTS" \
    --admin-port "$PORT_BALANCE_ADMIN" --invariant-check-s 2 "${common[@]}"
cb_spawn cache "$CB_BIN/cordbank-cache" --instance cache-1 --bind "tcp://$lo:$PORT_CACHE_RPC" \
    --admin-port "$PORT_CACHE_ADMIN" --redis-url-file "$REDIS_URL_FILE" \
    --balance-endpoints "tcp://$lo:$PORT_BALANCE_RPC" --balance-events "tcp://$lo:$PORT_BALANCE_EVENTS" \
    "${common[@]}" $(cb_local_limits)
cb_spawn command "$CB_BIN/cordbank-command" --instance command-1 --bind "tcp://$lo:$PORT_COMMAND_RPC" \
    --admin-port "$PORT_COMMAND_ADMIN" --cache-endpoints "tcp://$lo:$PORT_CACHE_RPC" \
    --balance-endpoints "tcp://$lo:$PORT_BALANCE_RPC" "${common[@]}"
gateway_flags=(--command-endpoints "tcp://$lo:$PORT_COMMAND_RPC" --discord-api-url "$API"
    --application-id "$APP" --gateway-replicas 2 --defer-after-ms 1000 "${common[@]}")
CORDBANK_DISCORD_TOKEN_FILE=$TOKEN_FILE CORDBANK_PUBLIC_KEY_FILE=$PUBKEY_FILE \
    CORDBANK_REDIS_URL_FILE=$REDIS_URL_FILE cb_spawn gateway "$CB_BIN/cordbank-gateway" \
    --instance gateway-1 --http-port "$PORT_GATEWAY_HTTP" --admin-port "$PORT_GATEWAY_ADMIN" \
    --ordinal 0 "${gateway_flags[@]}"
GW2_HTTP=$(cb_port) GW2_ADMIN=$(cb_port)
DISCORD_TOKEN=$TOKEN CORDBANK_PUBLIC_KEY=$PUBKEY CORDBANK_REDIS_URL="redis://$lo:$REDIS_PORT/0" \
    cb_spawn gateway-2 "$CB_BIN/cordbank-gateway" --instance gateway-2 --http-port "$GW2_HTTP" \
    --admin-port "$GW2_ADMIN" --ordinal 1 "${gateway_flags[@]}"
ADMIN_PORTS=("$PORT_METRICS_ADMIN" "$PORT_BALANCE_ADMIN" "$PORT_CACHE_ADMIN" "$PORT_COMMAND_ADMIN" \
    "$PORT_GATEWAY_ADMIN" "$GW2_ADMIN")

section "the cluster runs on secrets from files and from the environment"
cb_wait_ready 30 || exit 1
cb_wait_port_ready "$GW2_ADMIN" 30 gateway-2 || exit 1
expect_eq "both gateways identified their shard with the token" "2 2" \
    "$(stats | jq -r '"\(.connections) \([.shards[] | select(.connected)] | length)"')"

# interact URL ARGS...: one interaction signed with the secret seed (from a
# file); the tool's output joins the logs that are scanned. Sets STATUS, CONTENT.
interact() {
    local url=$1 out; shift
    out=$(CORDBANK_SEED_FILE=$SEED_FILE timeout 20 "$CB_BIN/cordbank-discord-sim" --once \
        --gateway-url "$url" "$@" 2>>"$LOGS/once.log")
    printf '%s\n' "$out" >>"$LOGS/once.log"
    STATUS=$(jq -r '.status // 0' <<<"$out" 2>/dev/null || echo 0)
    CONTENT=$(jq -r '.body.data.content? // empty' <<<"$out" 2>/dev/null)
}
GW1="http://$lo:$PORT_GATEWAY_HTTP/interactions" GW2="http://$lo:$GW2_HTTP/interactions"
interact "$GW1" --command daily --guild 7001 --user 5001
expect_match "a command signed with the secret key is answered (key from a file)" '^You claimed' "$CONTENT"
interact "$GW2" --command pay --guild 7001 --user 5001 --option user=5002 --option amount=30
expect_match "and through the gateway that read it from the environment" 'paid <@5002> 30 coins' "$CONTENT"
interact "$GW1" --command pay --guild 7001 --user 5002 --option user=5001 --option amount=1000000
expect_match "a refusal is rendered (PostgreSQL answered through the password)" '^Insufficient funds' "$CONTENT"

section "failures: bad signatures, REST errors, a refused token"
interact "$GW1" --command balance --bad-signature
expect_eq "a bad signature is refused" 401 "$STATUS"
interact "$GW2" --command balance --no-signature
expect_eq "a missing signature is refused" 401 "$STATUS"
interact "$GW1" --type 1 --seed "$(rand 32)"
expect_eq "a request signed by another key is refused" 401 "$STATUS"
before=$(stats)
sim_post interactions '{"count":20,"rate":50,"command":"balance"}'
wait_for ".interactions.answered" "$(( $(jq .interactions.answered <<<"$before") + 20 ))" 30
expect_eq "20 Gateway interactions answered through REST callbacks" 20 \
    "$(( $(stats | jq .interactions.answered) - $(jq .interactions.answered <<<"$before") ))"
before=$(stats)
kill -STOP "$(cat "$CB_RUN/pids/command")"
sim_post interactions '{"count":4,"command":"balance"}'
wait_for ".interactions.deferred" "$(( $(jq .interactions.deferred <<<"$before") + 4 ))" 10
kill -CONT "$(cat "$CB_RUN/pids/command")"
wait_for ".interactions.edited" "$(( $(jq .interactions.edited <<<"$before") + 4 ))" 20
expect_eq "slow commands deferred, then edited through the webhook" "4 4" \
    "$(( $(stats | jq .interactions.deferred) - $(jq .interactions.deferred <<<"$before") )) $(( $(stats | jq .interactions.edited) - $(jq .interactions.edited <<<"$before") ))"
sim_post fault '{"fault":"slow_rest","shard":-1,"seconds":2,"delay_ms":2000}'
sim_post fault '{"fault":"rate_limit_storm","shard":-1,"seconds":2,"scope":"user"}'
sim_post interactions '{"count":6,"rate":20,"command":"balance"}'
sleep 4
expect_match "slow and rate-limited REST answers were met" '^[1-9]' \
    "$(stats | jq '.rest.rate_limited.user + .interactions.answered_twice + .rest.requests')"
timeout 60 "$CB_BIN/cordbank-gateway" --register-commands --discord-token "$WRONG_TOKEN" \
    --application-id "$APP" --discord-api-url "$API" --guild 7001 --log-level debug \
    >"$LOGS/register-wrong.log" 2>&1
expect_eq "a token Discord refuses exits 1" 1 $?
CORDBANK_DISCORD_TOKEN_FILE=$TOKEN_FILE timeout 60 "$CB_BIN/cordbank-gateway" --register-commands \
    --application-id "$APP" --discord-api-url "$API" --guild 7001 --log-level debug \
    >"$LOGS/register.log" 2>&1
expect_eq "registration with the token from a file exits 0" 0 $?
# The shards' sessions, resumed and re-identified: IDENTIFY and RESUME carry the token.
sim_post fault '{"fault":"reconnect","shard":-1}'
sim_post fault '{"fault":"invalid_session","shard":-1}'
sleep 2

section "failures: PostgreSQL down, a wrong password"
cb_pg_stop fast
interact "$GW1" --command pay --guild 7001 --user 5001 --option user=5003 --option amount=1
expect_eq "with PostgreSQL down a /pay is still answered" 200 "$STATUS"
sleep 2   # reconnect attempts, logged
cb_pg_start || exit 1
for _ in $(seq 150); do curl -sf -o /dev/null "http://$lo:$PORT_BALANCE_ADMIN/readyz" && break; sleep 0.2; done
interact "$GW1" --command balance --guild 7001 --user 5001
expect_match "balance reconnects with the password after the outage" '^<@5001> has' "$CONTENT"
BAD_ADMIN=$(cb_port)
CORDBANK_PG_URL="postgresql://cbapp:$WRONG_PG_PASSWORD@$lo:$PG_PORT/cordbank" \
    cb_spawn balance-wrongpw "$CB_BIN/cordbank-balance" --instance balance-wrongpw \
    --bind "tcp://$lo:$(cb_port)" --events-bind "tcp://$lo:$(cb_port)" --admin-port "$BAD_ADMIN" \
    --metrics-endpoints "" --log-level debug --grace-ms 1000
sleep 3
expect_match "a wrong password is logged as refused" 'password authentication failed' "$(cat "$LOGS/balance-wrongpw.log")"
CORDBANK_PG_URL_FILE=$PG_URL_FILE "$CB_BIN/cordbank-balance" --check-invariants --log-level debug \
    >"$LOGS/check-invariants.log" 2>&1
expect_eq "--check-invariants with the URL from a file exits 0" 0 $?

section "refused configurations name the variable, never the value"
# refused NAME EXPECT CMD...: CMD exits 2 with one line matching EXPECT; its output is scanned later.
refused() {
    local name=$1 expect=$2 out rc; shift 2
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" >"$LOGS/refused-$name.log"
    expect_eq "$name: exits 2" 2 "$rc"
    expect_match "$name: says why" "$expect" "$out"
}
refused both-token-env 'both CORDBANK_DISCORD_TOKEN and CORDBANK_DISCORD_TOKEN_FILE are set' \
    env CORDBANK_DISCORD_TOKEN="$TOKEN" CORDBANK_DISCORD_TOKEN_FILE="$TOKEN_FILE" "$CB_BIN/cordbank-gateway"
refused both-pg-flags 'both --pg-url and --pg-url-file given' \
    "$CB_BIN/cordbank-balance" --pg-url "postgresql://cbapp:$PG_PASSWORD@$lo/x" --pg-url-file "$PG_URL_FILE"
refused missing-file 'cannot read CORDBANK_PUBLIC_KEY_FILE="/nonexistent/key"' \
    env CORDBANK_PUBLIC_KEY_FILE=/nonexistent/key "$CB_BIN/cordbank-gateway"
: >"$SECRETS/empty"
refused empty-file 'invalid --discord-token-file=.*empty' \
    "$CB_BIN/cordbank-gateway" --discord-token-file "$SECRETS/empty"
refused bad-public-key 'invalid CORDBANK_PUBLIC_KEY' \
    env CORDBANK_PUBLIC_KEY="${PUBKEY:0:63}" "$CB_BIN/cordbank-gateway"
refused bad-pg-url 'invalid --pg-url' \
    "$CB_BIN/cordbank-balance" --pg-url "postgresql://cbapp:$PG_PASSWORD@$lo:$PG_PORT/cordbank?nosuch=1"
refused redis-password 'invalid CORDBANK_REDIS_URL' \
    "$CB_BIN/cordbank-cache" --redis-url "redis://:$PG_PASSWORD@$lo:$REDIS_PORT"
refused sim-bad-seed 'invalid --seed' "$CB_BIN/cordbank-discord-sim" --once --seed "${SEED:0:62}zz"
refused stray-secret 'unexpected argument #2' "$CB_BIN/cordbank-gateway" --register-commands "$TOKEN"

section "no secret in --help, /metrics or a log"
# --help and --print-config (what each would run with) of every binary,
# every secret set from the environment or a file.
with_secrets() {
    CORDBANK_DISCORD_TOKEN=$TOKEN CORDBANK_PUBLIC_KEY=$PUBKEY CORDBANK_SEED=$SEED \
        CORDBANK_PG_URL_FILE=$PG_URL_FILE CORDBANK_TOKEN=$TOKEN "$@"
}
: >"$CB_RUN/help.txt"
: >"$CB_RUN/print-config.txt"
pc_ok=0
for b in gateway command balance cache metrics discord-sim load ledger-load; do
    with_secrets "$CB_BIN/cordbank-$b" --help >>"$CB_RUN/help.txt" 2>&1
    with_secrets "$CB_BIN/cordbank-$b" --print-config >>"$CB_RUN/print-config.txt" 2>&1 \
        && pc_ok=$((pc_ok + 1))
done
expect_match "--help shows <secret> for every secret" '<secret>' "$(cat "$CB_RUN/help.txt")"
expect_eq "--help of every binary, secrets set, holds none of them" "" "$(leaks "$CB_RUN/help.txt")"
expect_eq "--print-config of every binary, secrets set, exits 0" 8 "$pc_ok"
expect_eq "... and holds none of them" "" "$(leaks "$CB_RUN/print-config.txt")"
pc=$(CORDBANK_DISCORD_TOKEN=$TOKEN "$CB_BIN/cordbank-gateway" --public-key-file "$PUBKEY_FILE" \
    --http-port 7999 --print-config | jq -c '.options | [.["discord-token"], .["public-key"], .["http-port"], .["redis-url"]]')
expect_eq "--print-config: each value's source, secrets <redacted>, an unset one empty" \
    "[{\"value\":\"<redacted>\",\"source\":\"CORDBANK_DISCORD_TOKEN\"},{\"value\":\"<redacted>\",\"source\":\"--public-key-file=$PUBKEY_FILE\"},{\"value\":7999,\"source\":\"--http-port\"},{\"value\":\"\",\"source\":\"default\"}]" "$pc"
sleep 2   # a snapshot period: every instance's metrics reach the metrics service
: >"$CB_RUN/pages.txt"
for p in "${ADMIN_PORTS[@]}"; do
    curl -s "http://$lo:$p/metrics" >>"$CB_RUN/pages.txt"
done
for path in /api/v1/summary /api/v1/series /; do
    curl -s "http://$lo:$PORT_METRICS_ADMIN$path" >>"$CB_RUN/pages.txt"
done
expect_match "the pages were read" 'cordbank_build_info' "$(cat "$CB_RUN/pages.txt")"
expect_eq "no secret in /metrics of any instance nor in the metrics service's pages" "" \
    "$(leaks "$CB_RUN/pages.txt")"
# Stop every process, so that what is written at exit is in the logs too.
for f in "$CB_RUN"/pids/*; do kill -TERM "$(cat "$f")" 2>/dev/null; done
for f in "$CB_RUN"/pids/*; do
    pid=$(cat "$f")
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
cb_pg_stop fast 2>/dev/null
debug_lines=$(cat "$LOGS"/gateway*.log "$LOGS"/balance.log | grep -c '"level":"debug"')
expect_match "the services logged at debug ($debug_lines lines)" '^[1-9]' "$debug_lines"
expect_eq "the logs of every process hold no secret ($(ls "$LOGS" | wc -l) files)" "" "$(leaks "$LOGS")"
expect_eq "nor the command lines kept to restart them" "" "$(leaks "$CB_RUN/cmds")"

summary secrets
