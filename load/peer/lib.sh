# load/peer/lib.sh — start the peer bot beside a cordbank run (sourced after
# deploy/local/lib.sh, with PostgreSQL and Redis started).
#
# peer_start [WORKERS] [POOL_SIZE]: node load/peer/bot.js on a free port,
# its own database (peer) on $PG_PORT, Redis at $REDIS_PORT and rate limits
# as high as cb_local_limits gives cordbank; sets PEER_PORT, PEER_URL and
# PEER_PIDS (the node process and its workers). 1 when it did not listen
# within 15 s (its log on stderr).
peer_start() {
    local workers=${1:-1} pool=${2:-10} pid i
    cb_spawn peer env USER_RATE=100000 USER_BURST=100000 GUILD_RATE=1000000 GUILD_BURST=1000000 \
        node "$CB_ROOT/load/peer/bot.js" --port 0 --pg-url "postgresql://postgres@127.0.0.1:$PG_PORT/peer" \
        --redis-url "redis://127.0.0.1:$REDIS_PORT" --workers "$workers" --pool-size "$pool"
    PEER_PORT=
    for i in $(seq 150); do
        PEER_PORT=$(sed -nE 's/^\{"port":([0-9]+)\}$/\1/p' "$CB_RUN/logs/peer.log" | head -1)
        [ -n "$PEER_PORT" ] && break
        sleep 0.1
    done
    [ -n "$PEER_PORT" ] || { tail "$CB_RUN/logs/peer.log" >&2; return 1; }
    PEER_URL="http://127.0.0.1:$PEER_PORT/interactions"
    pid=$(cat "$CB_RUN/pids/peer")
    PEER_PIDS="$pid $(pgrep -P "$pid" | tr "\n" " " || true)"
}
