#!/usr/bin/env bash
# make run: a private PostgreSQL and Redis, INSTANCES (default 1, at most 9)
# instances of each service and a Discord to talk to, all on loopback. Runs
# until Ctrl-C, or for DURATION seconds; then stops everything, checks the
# ledger and removes its temp dir.
#
#   USERS=100 GUILDS=10 RATE=100 GATEWAY_RATE=5 SHARDS=2 DURATION=60 make run
#   INSTANCES=3 make run     (or make run INSTANCES=3)
#   CURVE=1 make run         ZeroMQ between the services CURVE-encrypted and
#                            authenticated (keys made in the run dir, curve/)
#
# With INSTANCES=N, instance k of a service is SERVICE-k (deploy/local/ctl.sh
# list shows them all); each client is given the static list of every
# instance of the service it calls, and gateway k keeps the Gateway shards
# i with i % N == k-1. The HTTP interactions are spread over the gateways:
# one simulator per gateway, each sending its share of RATE.
#
# Without DISCORD_TOKEN the Discord is the simulator: cordbank-discord-sim
# --serve is the REST API and Gateway the gateway service connects its
# SHARDS shards to, and it dispatches GATEWAY_RATE interactions a second
# over them; another simulator sends RATE signed HTTP interactions a second
# to POST /interactions and prints what it sees.
#
# With DISCORD_TOKEN (and DISCORD_PUBLIC_KEY; DISCORD_APPLICATION_ID to
# register commands) the gateway talks to Discord itself: the code path
# differs only in the URLs and keys. No simulator runs; Discord sends the
# traffic. Register the commands once first (README, "Real Discord").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

USERS=${USERS:-100}
GUILDS=${GUILDS:-10}
RATE=${RATE:-50}
GATEWAY_RATE=${GATEWAY_RATE:-5}
SHARDS=${SHARDS:-2}
DURATION=${DURATION:-0}
INSTANCES=${INSTANCES:-1}
DISCORD_TOKEN=${DISCORD_TOKEN:-${CORDBANK_DISCORD_TOKEN:-}}
for v in USERS GUILDS RATE GATEWAY_RATE SHARDS DURATION; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "make run: $v must be a whole number, got '${!v}'" >&2; exit 2; }
done
[ "$SHARDS" -ge 1 ] || { echo "make run: SHARDS must be at least 1" >&2; exit 2; }
[[ $INSTANCES =~ ^[1-9]$ ]] \
    || { echo "make run: INSTANCES must be a whole number from 1 to 9 (instances of each service), got '$INSTANCES'" >&2; exit 2; }
[ -z "$DISCORD_TOKEN" ] || [ -n "${DISCORD_PUBLIC_KEY:-${CORDBANK_PUBLIC_KEY:-}}" ] \
    || { echo "make run: DISCORD_TOKEN is set but DISCORD_PUBLIC_KEY is not" >&2; exit 2; }

cb_run_dir
trap cb_stop_all EXIT
trap 'exit 130' INT TERM

cb_log "run dir $CB_RUN"
ln -sfn "$CB_RUN" "${TMPDIR:-/tmp}/cordbank-current"   # for deploy/local/ctl.sh
# WAL archived with pgBackRest (make backup, make backup-verify); BACKUP=0: not.
[[ ${BACKUP:-1} =~ ^[01]$ ]] || { echo "make run: BACKUP must be 0 or 1, got '$BACKUP'" >&2; exit 2; }
[[ ${CURVE:-0} =~ ^[01]$ ]] || { echo "make run: CURVE must be 0 or 1, got '$CURVE'" >&2; exit 2; }
export CB_CURVE=${CURVE:-0}
CB_PG_ARCHIVE=${BACKUP:-1} cb_start_postgres 15432
cb_start_redis 16379

SIM_TOKEN=cordbank-dev-token
if [ -n "$DISCORD_TOKEN" ]; then
    # The gateway reads DISCORD_TOKEN and DISCORD_PUBLIC_KEY itself.
    CB_GATEWAY_ARGS=(--redis-url "redis://127.0.0.1:$REDIS_PORT")
    discord="Discord itself (the bot's token)"
else
    cb_spawn discord "$CB_BIN/cordbank-discord-sim" --serve --listen-port 0 --port-file "$CB_RUN/discord.port" \
        --token "$SIM_TOKEN" --shards "$SHARDS" --guilds "$GUILDS" --users "$USERS"
    for _ in $(seq 100); do [ -s "$CB_RUN/discord.port" ] && break; sleep 0.1; done
    [ -s "$CB_RUN/discord.port" ] || { cat "$CB_RUN/logs/discord.log" >&2; exit 1; }
    DISCORD_PORT=$(cat "$CB_RUN/discord.port")
    CB_GATEWAY_ARGS=(--discord-api-url "http://127.0.0.1:$DISCORD_PORT/api/v10" --discord-token "$SIM_TOKEN"
        --redis-url "redis://127.0.0.1:$REDIS_PORT")
    discord="the simulator: http://127.0.0.1:$DISCORD_PORT (stats: /_sim/stats)"
fi
CB_PREFER_PORTS=yes cb_start_cluster "$INSTANCES"
cb_wait_cluster_ready 60 || exit 1
# Not this shell's jobs any more (cb_stop_all stops them by pid file): a
# ctl.sh kill -9 then prints no "Killed" notice here at the end.
disown -a

gateway_url() { echo "http://127.0.0.1:$(cb_cluster_port "gateway-$1" http)/interactions"; }
if [ "$INSTANCES" = 1 ]; then
    cat >&2 <<EOT

cordbank is running (logs: $CB_RUN/logs/)
  Discord        $discord
  interactions   POST http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions
  dashboard      http://127.0.0.1:$PORT_METRICS_ADMIN/   (all metrics: /metrics, summary: /api/v1/summary)
  admin ports    gateway $PORT_GATEWAY_ADMIN  command $PORT_COMMAND_ADMIN  balance $PORT_BALANCE_ADMIN  cache $PORT_CACHE_ADMIN  metrics $PORT_METRICS_ADMIN
                 (each serves /livez /readyz /metrics)
EOT
else
    cat >&2 <<EOT

cordbank is running, $INSTANCES instances of each service (logs: $CB_RUN/logs/)
  Discord        $discord
  interactions   POST $(for k in $(seq "$INSTANCES"); do gateway_url "$k"; done | paste -sd' ')
  dashboard      http://127.0.0.1:$PORT_METRICS_ADMIN/   (all metrics: /metrics, summary: /api/v1/summary;
                 every metrics instance sees every instance)
  instances      (every admin port serves /livez /readyz /metrics)
$(cb_cluster_table)
EOT
    [ -n "$DISCORD_TOKEN" ] || [ "$SHARDS" -ge "$INSTANCES" ] \
        || cb_log "SHARDS=$SHARDS < INSTANCES=$INSTANCES: gateways above $SHARDS own no Gateway shard (HTTP only)"
fi
cat >&2 <<EOT
  postgresql     psql -h 127.0.0.1 -p $PG_PORT -U postgres cordbank$( [ "${BACKUP:-1}" = 1 ] && printf '\n  backups        make backup [TYPE=full], make backup-verify (pgBackRest: %s)' "$CB_RUN/backup")
  redis          redis-cli -p $REDIS_PORT$( [ "$CB_CURVE" = 1 ] && printf '\n  curve          on: every ZeroMQ connection encrypted and authenticated (keys: %s)' "$CB_RUN/curve/")
  poke at it     deploy/local/ctl.sh list | kill NAME | pause NAME | restart NAME | rolling-restart SERVICE | pg-restart ...
EOT

rc=0
if [ -n "$DISCORD_TOKEN" ]; then
    echo "  traffic        from Discord$( [ "$DURATION" -gt 0 ] && echo ", for ${DURATION}s" || echo ", until Ctrl-C")" >&2
    trap 'exit 130' INT
    if [ "$DURATION" -gt 0 ]; then sleep "$DURATION"; else while :; do sleep 3600; done; fi
else
    cat >&2 <<EOT
  simulator      $USERS users in $GUILDS guilds: $RATE HTTP interactions/s, $GATEWAY_RATE/s over $SHARDS Gateway shards$( [ "$DURATION" -gt 0 ] && echo ", for ${DURATION}s" || echo ", until Ctrl-C")

EOT
    if [ "$GATEWAY_RATE" -gt 0 ]; then
        # As many as the run lasts (a day when it runs until Ctrl-C).
        count=$((GATEWAY_RATE * (DURATION > 0 ? DURATION : 86400)))
        curl -s --max-time 5 -X POST "http://127.0.0.1:$DISCORD_PORT/_sim/interactions" \
            -d "{\"count\":$count,\"rate\":$GATEWAY_RATE,\"command\":\"balance\"}" >/dev/null \
            || cb_log "could not start the Gateway interactions"
    fi
    # The simulator of gateway 1 runs in the foreground; Ctrl-C reaches it
    # (and the others: they are in the same process group), it prints its
    # summary, and the EXIT trap stops the rest. The simulators of the other
    # gateways print into logs/sim-gateway-K.log; their summaries follow.
    trap ':' INT   # a handler, not SIG_IGN: ignored signals would be inherited by the simulator
    set +e
    sims=()
    for k in $(seq 2 "$INSTANCES"); do
        share=$((RATE / INSTANCES + (k <= RATE % INSTANCES ? 1 : 0)))
        [ "$share" -gt 0 ] || continue
        "$CB_BIN/cordbank-discord-sim" --gateway-url "$(gateway_url "$k")" --users "$USERS" --guilds "$GUILDS" \
            --rate "$share" --duration "$DURATION" >"$CB_RUN/logs/sim-gateway-$k.log" 2>&1 &
        sims+=("$k:$!")
    done
    "$CB_BIN/cordbank-discord-sim" --gateway-url "$(gateway_url 1)" \
        --users "$USERS" --guilds "$GUILDS" --rate "$((RATE / INSTANCES + (RATE % INSTANCES > 0 ? 1 : 0)))" \
        --duration "$DURATION"
    rc=$?
    for s in ${sims[@]+"${sims[@]}"}; do
        # wait returns early (> 128) when a trapped signal comes: wait again, a few times.
        for _ in 1 2 3 4 5; do wait "${s#*:}"; r=$?; [ $r -le 128 ] || ! kill -0 "${s#*:}" 2>/dev/null && break; done
        [ $r -eq 0 ] || rc=$r
        echo "gateway-${s%%:*}: $(tail -n 1 "$CB_RUN/logs/sim-gateway-${s%%:*}.log" \
            | jq -c '{sent, ok, refused, errors, commands_per_s, p50_ms, p99_ms}' 2>/dev/null)" >&2
    done
    trap 'exit 130' INT
    echo >&2
    curl -s --max-time 5 "http://127.0.0.1:$DISCORD_PORT/_sim/stats" \
        | jq -c '{gateway_interactions: .interactions, identifies, resumes}' >&2 2>/dev/null || true
fi
if "$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" --log-level warn >&2; then
    cb_log "ledger invariants hold: every guild sums to 0, every balance equals its legs"
else
    cb_log "LEDGER INVARIANTS VIOLATED"; rc=1
fi
exit $rc
