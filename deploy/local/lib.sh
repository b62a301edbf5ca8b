# deploy/local/lib.sh — start and stop a whole cordbank on one machine.
#
# Sourced by deploy/local/run.sh (make run) and tests/integration/*.sh.
# Everything lives in one run directory (PostgreSQL data, Redis, logs, pid
# files); cb_stop_all stops every process it started and removes the
# directory, and is meant to run from an EXIT trap so nothing is left
# behind, whether the caller succeeds, fails or is interrupted.

CB_ROOT=${CB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CB_BIN=${CB_BIN:-$CB_ROOT/build/bin}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
CB_PORTS_TAKEN=" "
# Everything here talks to loopback: never through a proxy from the environment.
export no_proxy='*' NO_PROXY='*'

cb_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A free loopback TCP port (the preferred one if given and free), never one
# this run already took. Random ports come from below the kernel's ephemeral
# range: there, the services' own outgoing connections take local ports and
# could grab a port between our check and the listener's bind.
cb_port() {
    local want=${1:-} p tries=0 low high
    read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 12000 ] || low=32768
    if [ -n "$want" ] && cb_port_free "$want"; then p=$want; else
        while :; do
            p=$((10000 + RANDOM % (low - 10000)))
            cb_port_free "$p" && break
            tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "no free port" >&2; return 1; }
        done
    fi
    CB_PORTS_TAKEN="$CB_PORTS_TAKEN$p "
    echo "$p"
}
# Free: not taken by this run, and no socket of any state uses it locally.
cb_port_free() {
    case "$CB_PORTS_TAKEN" in *" $1 "*) return 1 ;; esac
    [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
}

cb_run_dir() {
    CB_RUN=$(mktemp -d /tmp/cordbank.XXXXXX)
    chmod 755 "$CB_RUN"
    mkdir -p "$CB_RUN/logs" "$CB_RUN/pids"
    export CB_RUN
}

# Runs a command in the background; its output goes to logs/NAME.log. The
# command line is kept in cmds/NAME, so that deploy/local/ctl.sh can start
# the instance again after killing it.
cb_spawn() {
    local name=$1; shift
    mkdir -p "$CB_RUN/cmds"
    printf '%q ' "$@" >"$CB_RUN/cmds/$name"
    "$@" >>"$CB_RUN/logs/$name.log" 2>&1 &
    echo $! >"$CB_RUN/pids/$name"
}

cb_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cb_start_postgres() {
    PG_PORT=$(cb_port "${1:-}")
    local dir=$CB_RUN/pg
    mkdir -p "$dir"
    # PostgreSQL refuses to run as root: its files belong to the postgres user.
    touch "$CB_RUN/logs/postgres.log"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$CB_RUN/logs/postgres.log"; fi
    cb_as_postgres "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$CB_RUN/logs/initdb.log" 2>&1 \
        || { cat "$CB_RUN/logs/initdb.log" >&2; return 1; }
    echo "$PG_PORT" >"$dir/port"   # for deploy/local/ctl.sh pg-restart
    # CB_PG_ARCHIVE=1: WAL archived with pgBackRest into $CB_RUN/backup (make
    # run; make backup and make backup-verify then work on this cluster).
    if [ "${CB_PG_ARCHIVE:-0}" = 1 ]; then
        . "$CB_ROOT/deploy/backup/lib.sh"
        cb_backup_init "$CB_RUN/backup" "$dir/data" "$PG_PORT" "$dir" || return 1
    fi
    cb_pg_start || return 1
    if [ "${CB_PG_ARCHIVE:-0}" = 1 ]; then
        cb_backup_stanza_create >"$CB_RUN/logs/pgbackrest-stanza.log" 2>&1 \
            || { cat "$CB_RUN/logs/pgbackrest-stanza.log" >&2; return 1; }
    fi
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE cordbank' >/dev/null
    PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/cordbank"
    export PG_PORT PG_URL
}

# Starts the cluster cb_start_postgres made (again, after cb_pg_stop), on the
# same port. CB_PG_MAX_CONNECTIONS (default 200) for benchmarks with more clients.
cb_pg_start() {
    local dir=$CB_RUN/pg
    cb_as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$CB_RUN/logs/postgres.log" -w -t 30 \
        -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=${CB_PG_MAX_CONNECTIONS:-200}" start >/dev/null \
        || { cat "$CB_RUN/logs/postgres.log" >&2; return 1; }
}

# Stops PostgreSQL, for tests of an outage: mode fast (the default: sessions
# are cut, as in a failover), immediate (a crash) or smart.
cb_pg_stop() {
    cb_as_postgres "$PG_BIN/pg_ctl" -D "$CB_RUN/pg/data" -m "${1:-fast}" -w -t 30 stop >/dev/null
}

cb_psql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d cordbank "$@"; }

cb_start_redis() {
    REDIS_PORT=$(cb_port "${1:-}")
    mkdir -p "$CB_RUN/redis"
    cb_spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$CB_RUN/redis" --daemonize no
    local i
    for i in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    export REDIS_PORT
}

# Ports of every service; defaults when free (make run), else random.
cb_pick_ports() {
    local prefer=${1:-yes} d
    for v in GATEWAY_HTTP:7100 GATEWAY_ADMIN:7101 COMMAND_RPC:7200 COMMAND_ADMIN:7201 \
             BALANCE_RPC:7300 BALANCE_ADMIN:7301 BALANCE_EVENTS:7302 CACHE_RPC:7400 \
             CACHE_ADMIN:7401 METRICS_SUB:7500 METRICS_ADMIN:7501; do
        d=${v#*:}; [ "$prefer" = yes ] || d=
        printf -v "PORT_${v%%:*}" '%s' "$(cb_port "$d")"
        export "PORT_${v%%:*}"
    done
}

# CURVE between the services, with CB_CURVE=1 (make run CURVE=1; off by
# default): cb_curve_keys BIN makes the keys once per run with
# cordbank-keygen in $CB_RUN/curve: server.key (the cluster server's
# keypair), one keypair per service and one for cordbank-ledger-load, and
# allowed/ with the public certificate of each (what every server admits).
CB_CURVE_CLIENTS="gateway command balance cache metrics ledger-load"
cb_curve_keys() {
    [ "${CB_CURVE:-0}" = 1 ] || return 0
    local bin=${1:-$CB_BIN} dir=$CB_RUN/curve c
    [ -d "$dir/allowed" ] && return 0
    # shellcheck disable=SC2086
    "$bin/cordbank-keygen" "$dir" server $CB_CURVE_CLIENTS >/dev/null || return 1
    mkdir -p "$dir/allowed"
    for c in $CB_CURVE_CLIENTS; do cp "$dir/$c.key" "$dir/allowed/"; done
}

# cb_curve_args NAME: the --curve flags of service (or tool) NAME; nothing
# without CB_CURVE=1. The gateway binds no ZeroMQ socket: no allowed keys.
cb_curve_args() {
    [ "${CB_CURVE:-0}" = 1 ] || return 0
    local dir=$CB_RUN/curve
    echo --curve --curve-cert "$dir/$1.key_secret" --curve-server-key "$dir/server.key"
    case "$1" in gateway|ledger-load) ;; *) echo --curve-allowed-keys "$dir/allowed" ;; esac
}

# Starts one instance of each service, wired together on loopback.
cb_start_services() {
    local bin=${1:-$CB_BIN} lo=127.0.0.1
    local common=(--metrics-endpoints "tcp://$lo:$PORT_METRICS_SUB" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000)
    cb_curve_keys "$bin" || return 1
    cb_spawn metrics "$bin/cordbank-metrics" --instance metrics-1 --bind "tcp://$lo:$PORT_METRICS_SUB" \
        --admin-port "$PORT_METRICS_ADMIN" "${common[@]}" $(cb_curve_args metrics)
    cb_spawn balance "$bin/cordbank-balance" --instance balance-1 --bind "tcp://$lo:$PORT_BALANCE_RPC" \
        --events-bind "tcp://$lo:$PORT_BALANCE_EVENTS" --admin-port "$PORT_BALANCE_ADMIN" \
        --pg-url "$PG_URL" "${common[@]}" $(cb_curve_args balance)
    cb_spawn cache "$bin/cordbank-cache" --instance cache-1 --bind "tcp://$lo:$PORT_CACHE_RPC" \
        --admin-port "$PORT_CACHE_ADMIN" --redis-url "redis://$lo:$REDIS_PORT" \
        --balance-endpoints "tcp://$lo:$PORT_BALANCE_RPC" --balance-events "tcp://$lo:$PORT_BALANCE_EVENTS" \
        "${common[@]}" $(cb_local_limits) $(cb_curve_args cache)
    cb_spawn command "$bin/cordbank-command" --instance command-1 --bind "tcp://$lo:$PORT_COMMAND_RPC" \
        --admin-port "$PORT_COMMAND_ADMIN" --cache-endpoints "tcp://$lo:$PORT_CACHE_RPC" \
        --balance-endpoints "tcp://$lo:$PORT_BALANCE_RPC" "${common[@]}" $(cb_curve_args command)
    # CB_GATEWAY_ARGS (an array, when set): more gateway flags, e.g. a Discord to talk to.
    cb_spawn gateway "$bin/cordbank-gateway" --instance gateway-1 --http-port "$PORT_GATEWAY_HTTP" \
        --admin-port "$PORT_GATEWAY_ADMIN" --command-endpoints "tcp://$lo:$PORT_COMMAND_RPC" "${common[@]}" \
        $(cb_curve_args gateway) ${CB_GATEWAY_ARGS[@]+"${CB_GATEWAY_ARGS[@]}"}
}

# The whole system for a test or a benchmark: a run dir removed on exit,
# PostgreSQL, Redis, free ports and one instance of each service from
# BIN (default $CB_BIN), ready. Exits the calling script with 1 when any
# of it fails. Sets the caller's EXIT trap to cb_stop_all.
cb_start_all() {
    cb_run_dir
    trap 'cb_stop_all' EXIT
    cb_start_postgres || exit 1
    cb_start_redis || exit 1
    cb_pick_ports no
    cb_start_services "${1:-$CB_BIN}"
    cb_wait_ready 30 || exit 1
}

# Rate limits for local runs: the suites and the simulator send many
# commands for one member, or one guild, within a second, which the
# production defaults (cordbank-cache --help) would refuse. CORDBANK_USER_RATE,
# CORDBANK_USER_BURST, CORDBANK_GUILD_RATE and CORDBANK_GUILD_BURST, when set,
# win (tests/integration/admit.sh tests the real thing with low ones).
cb_local_limits() {
    echo --user-rate "${CORDBANK_USER_RATE:-100000}" --user-burst "${CORDBANK_USER_BURST:-100000}" \
        --guild-rate "${CORDBANK_GUILD_RATE:-1000000}" --guild-burst "${CORDBANK_GUILD_BURST:-1000000}"
}

# One cache instance: cb_start_cache NAME BIN RPC_PORT ADMIN_PORT
# BALANCE_RPC_PORT BALANCE_EVENTS_PORT [FLAG...]; Redis at $REDIS_PORT, rate
# limits from cb_local_limits (flags given after them win).
cb_start_cache() {
    local name=$1 bin=$2 rpc=$3 admin=$4 brpc=$5 bevents=$6 lo=127.0.0.1; shift 6
    cb_spawn "$name" "$bin/cordbank-cache" --instance "$name" --bind "tcp://$lo:$rpc" \
        --admin-port "$admin" --redis-url "redis://$lo:$REDIS_PORT" \
        --balance-endpoints "tcp://$lo:$brpc" --balance-events "tcp://$lo:$bevents" \
        --metrics-endpoints "" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000 \
        $(cb_local_limits) $(cb_curve_args cache) "$@"
}

# One command instance: cb_start_command NAME BIN RPC_PORT ADMIN_PORT
# CACHE_ENDPOINTS BALANCE_ENDPOINTS [FLAG...] (endpoints as the flags take them).
cb_start_command() {
    local name=$1 bin=$2 rpc=$3 admin=$4 caches=$5 balances=$6 lo=127.0.0.1; shift 6
    cb_spawn "$name" "$bin/cordbank-command" --instance "$name" --bind "tcp://$lo:$rpc" \
        --admin-port "$admin" --cache-endpoints "$caches" --balance-endpoints "$balances" \
        --metrics-endpoints "" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000 \
        $(cb_curve_args command) "$@"
}

# One gateway instance: cb_start_gateway NAME BIN HTTP_PORT ADMIN_PORT
# COMMAND_ENDPOINTS [FLAG...].
cb_start_gateway() {
    local name=$1 bin=$2 http=$3 admin=$4 commands=$5; shift 5
    cb_spawn "$name" "$bin/cordbank-gateway" --instance "$name" --http-port "$http" \
        --admin-port "$admin" --command-endpoints "$commands" \
        --metrics-endpoints "" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000 \
        $(cb_curve_args gateway) "$@"
}

# One balance instance on given ports, for tests that run several or restart
# one: cb_start_balance NAME BIN RPC_PORT EVENTS_PORT ADMIN_PORT [FLAG...].
# Its log is logs/NAME.log, its pid pids/NAME; starting NAME again (after a
# kill) reuses both. Flags not given come from CORDBANK_* in the environment.
cb_start_balance() {
    local name=$1 bin=$2 rpc=$3 events=$4 admin=$5 lo=127.0.0.1; shift 5
    cb_spawn "$name" "$bin/cordbank-balance" --instance "$name" --bind "tcp://$lo:$rpc" \
        --events-bind "tcp://$lo:$events" --admin-port "$admin" --pg-url "$PG_URL" \
        --metrics-endpoints "" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000 \
        $(cb_curve_args balance) "$@"
}

# Waits until the admin port $1 answers 200 on /readyz (or fails after $2 s,
# showing the log of $3).
cb_wait_port_ready() {
    local port=$1 timeout=${2:-30} name=${3:-} end=$((SECONDS + ${2:-30}))
    until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
        if [ $SECONDS -ge $end ]; then
            cb_log "${name:-port $port} not ready after ${timeout}s"
            [ -z "$name" ] || tail -n 20 "$CB_RUN/logs/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Waits until every service answers 200 on /readyz (or fails after $1 s).
cb_wait_ready() {
    local timeout=${1:-30} end=$((SECONDS + ${1:-30})) s port
    for s in METRICS BALANCE CACHE COMMAND GATEWAY; do
        port_var=PORT_${s}_ADMIN; port=${!port_var}
        until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
            if [ $SECONDS -ge $end ]; then
                cb_log "${s,,} not ready after ${timeout}s; its log:"; tail -n 20 "$CB_RUN/logs/${s,,}.log" >&2
                return 1
            fi
            sleep 0.1
        done
    done
}

# SIGTERM every process we started, give them the grace period, then SIGKILL.
cb_stop_all() {
    [ -n "${CB_RUN:-}" ] && [ -d "$CB_RUN" ] || return 0
    local f pid pids=()
    for f in "$CB_RUN"/pids/*; do
        [ -e "$f" ] || continue
        # CONT: a paused instance (ctl.sh pause) would not see the TERM.
        pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null && pids+=("$pid")
    done
    local end=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -d "$CB_RUN/pg/data" ]; then
        cb_as_postgres "$PG_BIN/pg_ctl" -D "$CB_RUN/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${CB_KEEP_RUN:-}" ]; then cb_log "kept $CB_RUN"; else rm -rf "$CB_RUN"; fi
}

# --- A local cluster: N instances of every service ---------------------------
#
# Instance k of service S is named S-k (gateway-1, cache-2 ...): pids/S-k,
# logs/S-k.log and cmds/S-k as for any cb_spawn, and ports/S-k with one
# KIND=PORT line per port (rpc, admin, events, http, sub). Discovery is over
# static lists: every client gets tcp:// endpoints of all instances of the
# service it talks to, every instance publishes its metrics to every metrics
# instance (each metrics instance then sees the whole cluster), and every
# cache subscribes to the events of every balance instance. Instance k also
# sets PORT_S_k_KIND, and instance 1 the PORT_S_KIND names cb_pick_ports sets,
# so scripts written for one instance still find the first.

CB_CLUSTER_SERVICES="metrics balance cache command gateway"   # start order

# The ports an instance of SERVICE listens on, with the defaults of make run.
cb_cluster_kinds() {
    case "$1" in
        gateway) echo http:7100 admin:7101 ;;
        command) echo rpc:7200 admin:7201 ;;
        balance) echo rpc:7300 admin:7301 events:7302 ;;
        cache)   echo rpc:7400 admin:7401 ;;
        metrics) echo sub:7500 admin:7501 ;;
    esac
}

# cb_pick_cluster_ports N [PREFER]: free ports for every instance; PREFER
# yes tries the make-run defaults first, 10 apart per instance (cache-2 RPC
# at 7410), so that N <= 9 stays inside each service's block of 100.
cb_pick_cluster_ports() {
    local n=$1 prefer=${2:-no} s k kv kind want p var
    mkdir -p "$CB_RUN/ports"
    for s in $CB_CLUSTER_SERVICES; do
        for k in $(seq "$n"); do
            : >"$CB_RUN/ports/$s-$k"
            for kv in $(cb_cluster_kinds "$s"); do
                kind=${kv%%:*} want=
                [ "$prefer" = yes ] && want=$(( ${kv#*:} + 10 * (k - 1) ))
                # Not p=$(cb_port): in a subshell, the port would not join
                # CB_PORTS_TAKEN and a later pick could take it again.
                cb_port "$want" >"$CB_RUN/ports/.last" || return 1
                p=$(cat "$CB_RUN/ports/.last")
                echo "$kind=$p" >>"$CB_RUN/ports/$s-$k"
                var=PORT_${s^^}_${k}_${kind^^}; printf -v "$var" '%s' "$p"; export "$var"
                if [ "$k" = 1 ]; then
                    var=PORT_${s^^}_${kind^^}; printf -v "$var" '%s' "$p"; export "$var"
                fi
            done
        done
    done
    rm -f "$CB_RUN/ports/.last"
}

# cb_cluster_port NAME KIND: the port, from ports/NAME.
cb_cluster_port() { sed -n "s/^$2=//p" "$CB_RUN/ports/$1" 2>/dev/null; }

# cb_cluster_endpoints SERVICE KIND: tcp:// endpoints of every instance, comma-separated.
cb_cluster_endpoints() {
    local k list=
    for k in $(seq "$(cat "$CB_RUN/cluster")"); do
        list="$list${list:+,}tcp://127.0.0.1:$(cb_cluster_port "$1-$k" "$2")"
    done
    echo "$list"
}

# The cluster's instance names, in start order.
cb_cluster_names() {
    local s k
    [ -s "$CB_RUN/cluster" ] || return 0
    for s in $CB_CLUSTER_SERVICES; do
        for k in $(seq "$(cat "$CB_RUN/cluster")"); do echo "$s-$k"; done
    done
}

# cb_start_cluster N [BIN]: N instances of each of the five services, wired
# together on loopback (PostgreSQL at $PG_URL and Redis at $REDIS_PORT must
# run). Ports are free ones, or the make-run defaults first with
# CB_PREFER_PORTS=yes. With N 1, the same processes and flags as
# cb_start_services, under the names gateway-1 ... instead of gateway ...
# CB_GATEWAY_ARGS as there; with it (a Discord to talk to) and N > 1,
# gateway k also gets --gateway-replicas N --ordinal k-1: it keeps the
# Gateway sessions of shards i with i % N == k-1, so every shard has exactly
# one owner (a gateway beyond the shard count owns none, and is ready).
cb_start_cluster() {
    local n=${1:-} bin=${2:-$CB_BIN} lo=127.0.0.1 k
    [[ $n =~ ^[1-9][0-9]*$ ]] || { cb_log "cb_start_cluster: N must be a whole number >= 1, got '$n'"; return 1; }
    echo "$n" >"$CB_RUN/cluster"
    cb_pick_cluster_ports "$n" "${CB_PREFER_PORTS:-no}" || return 1
    local metrics balances events caches commands
    metrics=$(cb_cluster_endpoints metrics sub) balances=$(cb_cluster_endpoints balance rpc)
    events=$(cb_cluster_endpoints balance events) caches=$(cb_cluster_endpoints cache rpc)
    commands=$(cb_cluster_endpoints command rpc)
    local common=(--metrics-endpoints "$metrics" --log-level "${CB_LOG_LEVEL:-info}" --grace-ms 5000)
    cb_curve_keys "$bin" || return 1
    for k in $(seq "$n"); do
        cb_spawn "metrics-$k" "$bin/cordbank-metrics" --instance "metrics-$k" \
            --bind "tcp://$lo:$(cb_cluster_port "metrics-$k" sub)" \
            --admin-port "$(cb_cluster_port "metrics-$k" admin)" "${common[@]}" $(cb_curve_args metrics)
    done
    for k in $(seq "$n"); do
        cb_spawn "balance-$k" "$bin/cordbank-balance" --instance "balance-$k" \
            --bind "tcp://$lo:$(cb_cluster_port "balance-$k" rpc)" \
            --events-bind "tcp://$lo:$(cb_cluster_port "balance-$k" events)" \
            --admin-port "$(cb_cluster_port "balance-$k" admin)" --pg-url "$PG_URL" "${common[@]}" \
            $(cb_curve_args balance)
    done
    for k in $(seq "$n"); do
        cb_spawn "cache-$k" "$bin/cordbank-cache" --instance "cache-$k" \
            --bind "tcp://$lo:$(cb_cluster_port "cache-$k" rpc)" \
            --admin-port "$(cb_cluster_port "cache-$k" admin)" --redis-url "redis://$lo:$REDIS_PORT" \
            --balance-endpoints "$balances" --balance-events "$events" "${common[@]}" $(cb_local_limits) \
            $(cb_curve_args cache)
    done
    for k in $(seq "$n"); do
        cb_spawn "command-$k" "$bin/cordbank-command" --instance "command-$k" \
            --bind "tcp://$lo:$(cb_cluster_port "command-$k" rpc)" \
            --admin-port "$(cb_cluster_port "command-$k" admin)" --cache-endpoints "$caches" \
            --balance-endpoints "$balances" "${common[@]}" $(cb_curve_args command)
    done
    for k in $(seq "$n"); do
        local shards=()
        [ -z "${CB_GATEWAY_ARGS[*]:-}" ] || [ "$n" = 1 ] || shards=(--gateway-replicas "$n" --ordinal $((k - 1)))
        cb_spawn "gateway-$k" "$bin/cordbank-gateway" --instance "gateway-$k" \
            --http-port "$(cb_cluster_port "gateway-$k" http)" \
            --admin-port "$(cb_cluster_port "gateway-$k" admin)" --command-endpoints "$commands" \
            "${common[@]}" $(cb_curve_args gateway) ${CB_GATEWAY_ARGS[@]+"${CB_GATEWAY_ARGS[@]}"} \
            ${shards[@]+"${shards[@]}"}
    done
}

# cb_wait_cluster_ready [TIMEOUT]: every instance of the cluster answers 200
# on /readyz within TIMEOUT s in all (default 30); else 1, with the log of
# the first one that is not.
cb_wait_cluster_ready() {
    local timeout=${1:-30} end=$((SECONDS + ${1:-30})) name left
    for name in $(cb_cluster_names); do
        left=$((end - SECONDS)); [ $left -gt 0 ] || left=1
        cb_wait_port_ready "$(cb_cluster_port "$name" admin)" "$left" "$name" || return 1
    done
}

# The cluster as a table (name, pid, ports), for people.
cb_cluster_table() {
    local name
    printf '  %-11s %8s  %s\n' NAME PID PORTS
    for name in $(cb_cluster_names); do
        printf '  %-11s %8s  %s\n' "$name" "$(cat "$CB_RUN/pids/$name" 2>/dev/null)" \
            "$(paste -sd' ' "$CB_RUN/ports/$name")"
    done
}
