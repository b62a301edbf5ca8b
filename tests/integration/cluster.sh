#!/usr/bin/env bash
# A local cluster of two instances of every service (deploy/local/lib.sh
# cb_start_cluster), driven through both gateways by the simulator: every
# instance ready and seen by both metrics instances, both command instances
# serving; ctl.sh kill of one command, one cache and one balance instance
# (the rest keep answering), ctl.sh restart brings them back; a gateway
# over its in-flight limit answers busy at once; the ledger sums to 0.
# Each load prints its figures (sent, ok, errors by kind, p99), and a load
# with errors its per-second timeline and the warnings the services logged
# meanwhile. Kills, hangs and rolling restarts under load, with their
# figures, are the chaos suite's (tests/chaos/chaos.sh).
#
#   tests/integration/cluster.sh [build/bin]
#
# About 20 s. Stops everything and
# removes its temp dir whatever happens.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/metrics.sh"

CTL=$CB_ROOT/deploy/local/ctl.sh
N=2
RATE=${CLUSTER_RATE:-40}   # interactions per second through each gateway
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

cb_run_dir
trap cb_stop_all EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
cb_start_cluster $N "$CB_BIN" || exit 1
cb_wait_cluster_ready 30 || exit 1
# The instances die by SIGKILL below: no "Killed" notices from this shell.
disown -a

# load_start NAME SECONDS RATE: one simulator per gateway, in the background;
# gateway k's summary goes to NAME-k.json, its per-second lines to NAME-k.log.
LOAD_PIDS=()
declare -A LOG_MARK
load_start() {
    local k f
    LOAD_PIDS=()
    for f in "$CB_RUN"/logs/*.log; do LOG_MARK[$f]=$(wc -l <"$f"); done
    for k in $(seq $N); do
        timeout -k 5 $(($2 + 30)) "$CB_BIN/cordbank-discord-sim" \
            --gateway-url "http://127.0.0.1:$(cb_cluster_port "gateway-$k" http)/interactions" \
            --users 100 --guilds 10 --rate "$3" --duration "$2" \
            >"$CB_RUN/$1-$k.json" 2>"$CB_RUN/$1-$k.log" &
        LOAD_PIDS+=($!)
    done
}
load_wait() { local p; for p in "${LOAD_PIDS[@]}"; do wait "$p"; done; }

# The warnings and errors the instances logged since the last load_start:
# why the simulator saw errors, told by the services themselves.
explain_errors() {
    local f
    for f in "$CB_RUN"/logs/{gateway,command,cache,balance}-*.log; do
        tail -n +$((${LOG_MARK[$f]:-0} + 1)) "$f" | grep -E '"level":"(warn|error)"' \
            | grep -v 'local development key' | jq -rc --arg n "$(basename "$f" .log)" \
                '"\($n): \(.msg)\(if .error then " (" + .error + ")" else "" end)"' 2>/dev/null
    done | sort | uniq -c | sort -rn | head -n 8 | sed 's/^ */         /'
}

# load_check NAME WHAT: per gateway, some answers ok and no error; prints
# the figures, and for a gateway that saw errors its per-second lines and
# what the services logged.
load_check() {
    local name=$1 what=$2 k f figures bad=
    for k in $(seq $N); do
        f=$CB_RUN/$name-$k.json
        figures=$(jq -c '{sent, ok, refused, errors, p99_ms, max_ms}' "$f" 2>/dev/null)
        echo "       gateway-$k: ${figures:-no summary}"
        expect_eq "$what: gateway-$k answers" yes "$(jq -r 'if .ok > 0 then "yes" else "no" end' "$f" 2>/dev/null)"
        expect_eq "$what: gateway-$k sees 0 errors" '{}' "$(jq -c '.errors' "$f" 2>/dev/null)"
        if [ "$(jq -c '.errors' "$f" 2>/dev/null)" != '{}' ]; then
            sed -n 's/^/         /; /^ *t=/p' "$CB_RUN/$name-$k.log" | head -n 20
            bad=yes
        fi
    done
    [ -z "$bad" ] || { echo "       logged by the services meanwhile (count, instance, message):"; explain_errors; }
}

ready_instances() { "$CTL" list | grep -cE '^(gateway|command|cache|balance|metrics)-[0-9]+ +[0-9]+ +running +[0-9]+ +200 '; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

section "a cluster of $N: every instance ready, both gateways answer"
expect_eq "ctl.sh list: $((5 * N)) instances running and ready" $((5 * N)) "$(ready_instances)"
for k in $(seq $N); do
    # Every instance publishes its snapshots to every metrics instance.
    up=$(cb_wait_metric "$(cb_cluster_port "metrics-$k" admin)" cordbank_instance_up '' "^$((5 * N))\$")
    expect_eq "metrics-$k sees all $((5 * N)) instances up" $((5 * N)) "$up"
done
load_start warm 2 "$RATE"
load_wait
load_check warm "2 s at $RATE/s per gateway"
for k in $(seq $N); do
    served=$(cb_metric "$(cb_cluster_port "command-$k" admin)" cordbank_commands_total)
    expect_match "command-$k served some of it ($served commands)" '^[1-9]' "$served"
done

section "ctl.sh kill: one command, one cache and one balance instance"
victims=()
for s in command cache balance; do
    out=$("$CTL" kill "random:$s") && victims+=("${out%%:*}")
    echo "       $out"
done
expect_eq "three instances killed" 3 "${#victims[@]}"
expect_eq "ctl.sh list: $((5 * N - 3)) instances ready without them" $((5 * N - 3)) "$(ready_instances)"
load_start after 2 "$RATE"
load_wait
load_check after "with one of each killed"

section "ctl.sh restart brings them back"
for v in "${victims[@]}"; do
    expect_match "restart $v" "^$v started again, pid [0-9]+" "$("$CTL" restart "$v")"
done
cb_wait_cluster_ready 20
expect_eq "ctl.sh list: $((5 * N)) instances ready again" $((5 * N)) "$(ready_instances)"

section "load shedding: a gateway over its in-flight limit answers busy at once"
. "$(dirname "$0")/../lib/interact.sh"
shed_http=$(cb_port) shed_admin=$(cb_port)
cb_start_gateway gateway-shed "$CB_BIN" "$shed_http" "$shed_admin" "$(cb_cluster_endpoints command rpc)" \
    --max-inflight 1
cb_wait_port_ready "$shed_admin" 30 gateway-shed
SHED_URL="http://127.0.0.1:$shed_http/interactions"
"$CTL" pause command-1 >/dev/null; "$CTL" pause command-2 >/dev/null
# The first command waits on the paused commands; the second is over the limit.
( cb_interact "$SHED_URL" --command balance --guild 7001 --user 5001; echo "$CONTENT" >"$CB_RUN/shed-first" ) &
first=$!
sleep 0.3
t0=$(now_ms)
cb_interact "$SHED_URL" --command balance --guild 7001 --user 5002
took=$(( $(now_ms) - t0 ))
expect_eq "the second command is answered busy" "cordbank is busy right now; please try again in a moment." "$CONTENT"
expect_eq "busy is ephemeral" 64 "$FLAGS"
expect_eq "busy comes at once (${took} ms), not after the reply budget" yes "$([ "$took" -lt 1000 ] && echo yes || echo no)"
"$CTL" resume command-1 >/dev/null; "$CTL" resume command-2 >/dev/null
wait "$first"
expect_match "the first one waited and got an answer" '.' "$(cat "$CB_RUN/shed-first")"
expect_match "counted as outcome busy" 'outcome="busy"\} 1' \
    "$(curl -s "http://127.0.0.1:$shed_admin/metrics" | grep '^cordbank_gateway_interactions_total{type="application_command"')"

section "the ledger"
"$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" \
    >"$CB_RUN/logs/invariants.log" 2>&1
expect_eq "cordbank-balance --check-invariants exits 0" 0 $?
expect_eq "the sum of all balances is 0" 0 "$(cb_psql -c 'SELECT coalesce(sum(balance), 0) FROM accounts')"
expect_eq "every guild sums to 0" 0 \
    "$(cb_psql -c 'SELECT count(*) FROM (SELECT guild_id FROM accounts GROUP BY guild_id HAVING sum(balance) <> 0) g')"
expect_eq "every balance is the sum of its legs" 0 "$(cb_psql -c '
    SELECT count(*) FROM accounts a
     WHERE a.balance <> (SELECT coalesce(sum(delta), 0) FROM legs l
                          WHERE l.guild_id = a.guild_id AND l.user_id = a.user_id)')"
echo "       $(cb_psql -c 'SELECT count(*) FROM transfers') transfers, $(cb_psql -c 'SELECT count(*) FROM accounts') accounts"

summary cluster
