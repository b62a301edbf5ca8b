#!/usr/bin/env bash
# make run: a private PostgreSQL and Redis, one instance of each service and
# the Discord simulator, all on loopback. Runs until Ctrl-C, or for
# DURATION seconds; then stops everything and removes its temp dir.
#
#   USERS=100 GUILDS=10 RATE=100 DURATION=60 make run
set -euo pipefail
. "$(dirname "$0")/lib.sh"

USERS=${USERS:-100}
GUILDS=${GUILDS:-10}
RATE=${RATE:-50}
DURATION=${DURATION:-0}

cb_run_dir
trap cb_stop_all EXIT
trap 'exit 130' INT TERM

cb_log "run dir $CB_RUN"
ln -sfn "$CB_RUN" "${TMPDIR:-/tmp}/cordbank-current"   # for deploy/local/ctl.sh
cb_start_postgres 15432
cb_start_redis 16379
cb_pick_ports yes
cb_start_services
cb_wait_ready 30

cat >&2 <<EOT

cordbank is running (logs: $CB_RUN/logs/)
  interactions   POST http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions
  metrics (all)  http://127.0.0.1:$PORT_METRICS_ADMIN/metrics
  admin ports    gateway $PORT_GATEWAY_ADMIN  command $PORT_COMMAND_ADMIN  balance $PORT_BALANCE_ADMIN  cache $PORT_CACHE_ADMIN  metrics $PORT_METRICS_ADMIN
                 (each serves /livez /readyz /metrics)
  postgresql     psql -h 127.0.0.1 -p $PG_PORT -U postgres cordbank
  redis          redis-cli -p $REDIS_PORT
  poke at it     deploy/local/ctl.sh list | kill NAME | pause NAME | restart NAME | pg-restart ...
  simulator      $USERS users in $GUILDS guilds, $RATE commands/s$( [ "$DURATION" -gt 0 ] && echo ", for ${DURATION}s" || echo ", until Ctrl-C")

EOT

# The simulator runs in the foreground; Ctrl-C reaches it, it prints its
# summary, and the EXIT trap stops the rest.
trap ':' INT   # a handler, not SIG_IGN: ignored signals would be inherited by the simulator
set +e
"$CB_BIN/cordbank-discord-sim" --gateway-url "http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions" \
    --users "$USERS" --guilds "$GUILDS" --rate "$RATE" --duration "$DURATION"
rc=$?
trap 'exit 130' INT
echo >&2
if "$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" --log-level warn >&2; then
    cb_log "ledger invariants hold: every guild sums to 0, every balance equals its legs"
else
    cb_log "LEDGER INVARIANTS VIOLATED"; rc=1
fi
exit $rc
