#!/usr/bin/env bash
# deploy/local/ctl.sh — poke at a running local cordbank (make run, or a
# test run kept with CB_KEEP_RUN=1): list its processes, kill, pause,
# resume or restart any one of them, restart PostgreSQL or Redis. For
# trying by hand what the chaos suite does at random.
#
#   deploy/local/ctl.sh [--run DIR] COMMAND [ARGS]
#
#   list                     every process: name, pid, state, admin port, /readyz, ports
#   kill NAME [SIGNAL]       send SIGNAL (default KILL) to NAME
#   stop NAME                SIGTERM, and wait up to 30 s for it to exit (drain)
#   pause NAME               SIGSTOP: the instance hangs (the hardest case for timeouts)
#   resume NAME              SIGCONT
#   restart NAME             stop NAME if it runs, then start it again, same flags
#   pg-restart [MODE]        stop PostgreSQL (fast, or immediate = crash) and start it again
#   redis-restart            kill Redis and start it again, empty, on its port
#   rolling-restart SERVICE  restart every instance of SERVICE, one at a time: stop
#                            (SIGTERM, drain), start, wait for its /readyz, next
#
# NAME is a process name as `list` shows it (balance, cache-2, redis ...),
# or random:SERVICE for a random running instance of SERVICE. In a cluster
# (make run INSTANCES=N) instance k of a service is SERVICE-k.
# The run directory: --run DIR, else $CB_RUN, else the one make run wrote to
# ${TMPDIR:-/tmp}/cordbank-current.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

die() { echo "ctl.sh: $*" >&2; exit 2; }

case "${1:-}" in ""|-h|--help|help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
if [ "${1:-}" = --run ]; then CB_RUN=${2:-}; shift 2 || die "--run needs a directory"; fi
CB_RUN=${CB_RUN:-$(readlink "${TMPDIR:-/tmp}/cordbank-current" 2>/dev/null)}
[ -n "$CB_RUN" ] && [ -d "$CB_RUN/pids" ] || die "no run directory (start one with make run, or give --run DIR)"
export CB_RUN

# A zombie (killed, not yet reaped by the shell that started it) is not alive.
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_of() { cat "$CB_RUN/pids/$1" 2>/dev/null; }
state_of() {
    local pid=$1 s
    alive "$pid" || { echo dead; return; }
    s=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
    case "$s" in T|t) echo paused ;; Z) echo dead ;; *) echo running ;; esac
}
admin_port_of() { grep -oE -- '--admin-port [0-9]+' "$CB_RUN/cmds/$1" 2>/dev/null | awk '{ print $2 }'; }

# The instances of SERVICE: SERVICE itself (one instance, cb_start_services)
# and SERVICE-k (cb_start_cluster), in the order of k.
instances_of() {
    local f n
    for f in "$CB_RUN/pids/$1" "$CB_RUN/pids/$1"-*; do
        [ -e "$f" ] || continue
        n=$(basename "$f")
        [[ $n == "$1" || $n =~ ^$1-[0-9]+$ ]] && echo "$n"
    done | sort -t- -k2,2n
}

# NAME or random:SERVICE -> a name with a pid file.
resolve() {
    local want=$1 names=() f n
    if [[ $want == random:* ]]; then
        for n in $(instances_of "${want#random:}"); do
            [ "$(state_of "$(pid_of "$n")")" = running ] && names+=("$n")
        done
        [ ${#names[@]} -gt 0 ] || die "no running instance of ${want#random:}"
        echo "${names[RANDOM % ${#names[@]}]}"
    else
        [ -e "$CB_RUN/pids/$want" ] || die "no process named '$want' (see: ctl.sh list)"
        echo "$want"
    fi
}

# A paused instance never answers: --max-time 1 keeps list quick, and shows 000.
cmd_list() {
    local f n pid port ready ports
    printf '%-14s %8s %-8s %6s %-6s %s\n' NAME PID STATE ADMIN READYZ PORTS
    for f in "$CB_RUN"/pids/*; do
        [ -e "$f" ] || continue
        n=$(basename "$f") pid=$(pid_of "$n") port=$(admin_port_of "$n") ready=- ports=-
        [ -n "$port" ] && ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz")
        [ -s "$CB_RUN/ports/$n" ] && ports=$(paste -sd' ' "$CB_RUN/ports/$n")
        printf '%-14s %8s %-8s %6s %-6s %s\n' "$n" "$pid" "$(state_of "$pid")" "${port:--}" "$ready" "$ports"
    done
    [ -f "$CB_RUN/pg/port" ] && printf '%-14s %8s %-8s %6s %s\n' postgres - \
        "$(pg_isready -q -h 127.0.0.1 -p "$(cat "$CB_RUN/pg/port")" && echo running || echo down)" - -
}

cmd_stop() {
    local n=$1 pid; pid=$(pid_of "$n")
    alive "$pid" || return 0
    kill -TERM "$pid"; kill -CONT "$pid" 2>/dev/null
    for _ in $(seq 300); do alive "$pid" || return 0; sleep 0.1; done
    echo "ctl.sh: $n did not exit within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
}

cmd_start() {
    local n=$1
    [ -s "$CB_RUN/cmds/$n" ] || die "no command line kept for $n"
    eval "cb_spawn $n $(cat "$CB_RUN/cmds/$n")"
    disown "$(pid_of "$n")" 2>/dev/null
    echo "$n started again, pid $(pid_of "$n")"
}

# One instance at a time, so that the others carry the traffic; the next
# stops only once the last one started is ready again.
cmd_rolling_restart() {
    local svc=$1 n names port t0
    names=$(instances_of "$svc")
    [ -n "$names" ] || die "no instance of '$svc' (see: ctl.sh list)"
    for n in $names; do
        t0=$(date +%s%N)
        cmd_stop "$n"
        cmd_start "$n" >/dev/null
        port=$(admin_port_of "$n")
        if [ -n "$port" ]; then
            cb_wait_port_ready "$port" 60 "$n" || { echo "ctl.sh: $n is not ready again; rolling restart stopped" >&2; return 1; }
        fi
        echo "$n restarted, pid $(pid_of "$n"), ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    done
}

cmd="${1:-}"; shift || true
case "$cmd" in
    list) cmd_list ;;
    kill) n=$(resolve "${1:?kill NAME [SIGNAL]}") || exit 2
          kill -"${2:-KILL}" "$(pid_of "$n")" && echo "$n: sent SIG${2:-KILL}" ;;
    stop) n=$(resolve "${1:?stop NAME}") || exit 2; cmd_stop "$n" && echo "$n stopped" ;;
    pause) n=$(resolve "${1:?pause NAME}") || exit 2; kill -STOP "$(pid_of "$n")" && echo "$n paused" ;;
    resume) n=$(resolve "${1:?resume NAME}") || exit 2; kill -CONT "$(pid_of "$n")" && echo "$n resumed" ;;
    restart) n=$(resolve "${1:?restart NAME}") || exit 2; cmd_stop "$n"; cmd_start "$n" ;;
    pg-restart)
        [ -f "$CB_RUN/pg/port" ] || die "this run has no PostgreSQL of its own"
        PG_PORT=$(cat "$CB_RUN/pg/port")
        case "${1:-fast}" in fast|immediate|smart) ;; *) die "pg-restart MODE: fast, immediate or smart, not '$1'" ;; esac
        cb_pg_stop "${1:-fast}" && cb_pg_start && echo "postgres restarted (${1:-fast})" ;;
    redis-restart)
        n=$(resolve redis) || exit 2
        kill -KILL "$(pid_of "$n")" 2>/dev/null
        for _ in $(seq 100); do alive "$(pid_of "$n")" || break; sleep 0.05; done
        cmd_start redis ;;
    rolling-restart) cmd_rolling_restart "${1:?rolling-restart SERVICE}" ;;
    *) die "unknown command '$cmd' (try: ctl.sh --help)" ;;
esac
