#!/usr/bin/env bash
# tests/chaos/chaos.sh — the chaos suite (issue 9): a local cluster of two
# instances of every service under steady mixed load, hit by one fault at
# a time, each followed by a settle period: SIGKILL of random instances
# every 5 s, SIGSTOP of an instance (a hang; also how this suite cuts the
# traffic to an instance, netem being unavailable), a PostgreSQL restart,
# a Redis restart, rolling restarts. After each fault the ledger is
# checked (the invariants; every pay acknowledged to ledger-load is in
# transfers exactly once) and the fault's figures kept: availability,
# recovery time, errors by kind (tests/chaos/figures.sh defines them).
#
#   CHAOS=full|short tests/chaos/chaos.sh [BIN]
#
# Each fault is one phase with its own load: cordbank-load through each
# gateway (HTTP interactions, open model, 3 s timeout: Discord's window),
# cordbank-ledger-load paying straight to the balance instances
# (--acked-file), and the simulator as Discord's Gateway dispatching
# interactions that the gateways answer through its REST API (it counts
# any interaction answered twice).
#
# Gateways are never killed, paused or restarted: each cordbank-load talks
# to one gateway with no failover in front, so a gateway down would only
# measure the test's own lack of a load balancer.
#
# full (make chaos, about 4 min): writes load/reports/latest/chaos.json and
# chaos.md (CHAOS_REPORT_DIR elsewhere) and fails when a goal of the issue
# is not met. short (make test, about 55 s; no Redis phase): prints the same figures, and
# fails when an acked pay is lost or duplicated, the invariants break, a
# rolling restart fails a command, an interaction is answered twice, or
# availability is under CHAOS_MIN_AVAILABILITY.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../deploy/local/lib.sh"
. "$HERE/../lib/assert.sh"
. "$HERE/../lib/ledger.sh"
. "$HERE/figures.sh"

MODE=${CHAOS:-full}
case "$MODE" in full|short) ;; *) echo "chaos.sh: CHAOS must be full or short, not '$MODE'" >&2; exit 2 ;; esac
CTL=$CB_ROOT/deploy/local/ctl.sh
N=2
RATE=${CHAOS_RATE:-50}                      # interactions/s through each gateway
PAY_CONCURRENCY=${CHAOS_PAY_CONCURRENCY:-2} # ledger-load has no rate: this bounds it
SIM_RATE=${CHAOS_SIM_RATE:-10}              # interactions/s over the simulated Gateway
TOKEN=cordbank-dev-token
KILL_SERVICES=(command cache balance metrics)
if [ "$MODE" = full ]; then
    KILLS=6 PAUSE_S=10 SETTLE=5 PAUSE_SERVICES="command cache balance"
    ROLL_SERVICES="command cache balance metrics"
else
    KILLS=2 PAUSE_S=3 SETTLE=4 PAUSE_SERVICES=${KILL_SERVICES[RANDOM % 3]}
    ROLL_SERVICES=${CHAOS_SHORT_ROLL:-command balance}
fi
PAUSE_S=${CHAOS_PAUSE_S:-$PAUSE_S} PAUSE_SERVICES=${CHAOS_PAUSE_SERVICES:-$PAUSE_SERVICES}
SETTLE=${CHAOS_SETTLE:-$SETTLE}
KILL_EVERY=5 RESTART_AFTER=2.5 LEAD=1
# CHAOS_PHASES: run only these phases (names as in the report), e.g.
# CHAOS_PHASES="rolling-restart" while chasing one fault.
PHASES=${CHAOS_PHASES:-all}
want() { [ "$PHASES" = all ] || [[ " $PHASES " == *" $1 "* ]]; }
# Short mode's floor: a gate against large regressions, not the goal (full mode
# judges that); 0.95 leaves room for a slow CI machine, where a PostgreSQL
# restart alone can outlast the 5 s balance waits for it.
MIN_AVAILABILITY=${CHAOS_MIN_AVAILABILITY:-0.95}
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}
STARTED=$SECONDS

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Background processes of the running phase: stopped on any exit too.
LOAD_PIDS=() PAY_PID= PUMP_PID=
stop_loads() {
    local p
    [ -z "${PDIR:-}" ] || rm -f "$PDIR/on"
    for p in "${LOAD_PIDS[@]}" $PAY_PID; do kill -INT "$p" 2>/dev/null; done
    for p in "${LOAD_PIDS[@]}" $PAY_PID $PUMP_PID; do wait "$p" 2>/dev/null; done
    LOAD_PIDS=() PAY_PID= PUMP_PID=
}

cb_run_dir
trap 'stop_loads; cb_stop_all' EXIT
mkdir -p "$CB_RUN/chaos"
cb_start_postgres || exit 1
cb_start_redis || exit 1

# The simulated Discord: 2 shards, one per gateway, two identify buckets so
# that both identify at once.
SIM_PORT=$(cb_port)
SIM=http://127.0.0.1:$SIM_PORT
cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$SIM_PORT" --shards 2 \
    --max-concurrency 2 --guilds 10 --users 100 --token "$TOKEN"
CB_GATEWAY_ARGS=(--discord-api-url "$SIM/api/v10" --discord-token "$TOKEN" --shard-count 2
                 --redis-url "redis://127.0.0.1:$REDIS_PORT")
cb_start_cluster $N "$CB_BIN" || exit 1
cb_wait_cluster_ready 30 || exit 1
# The instances die by SIGKILL below: no "Killed" notices from this shell.
disown -a

# Full mode: the command instances reach balance-1 through a proxy that can
# delay or cut that traffic (tests/chaos/delay-proxy.py); their kept
# command lines are changed, and each is restarted onto it, before the load.
PROXY_CTL=$CB_RUN/proxy.ctl
if [ "$MODE" = full ]; then
    PROXY_PORT=$(cb_port) BAL1=$(cb_cluster_port balance-1 rpc)
    echo 0 >"$PROXY_CTL"
    cb_spawn proxy python3 "$HERE/delay-proxy.py" "$PROXY_PORT" "$BAL1" "$PROXY_CTL"
    disown -a
    for k in $(seq $N); do
        sed -i "s/127\.0\.0\.1:$BAL1\([^0-9]\)/127.0.0.1:$PROXY_PORT\1/g" "$CB_RUN/cmds/command-$k"
        grep -q "127.0.0.1:$PROXY_PORT" "$CB_RUN/cmds/command-$k" || { cb_log "command-$k: no proxy in its command line"; exit 1; }
        "$CTL" restart "command-$k" >/dev/null
        cb_wait_port_ready "$(cb_cluster_port "command-$k" admin)" 30 "command-$k" || exit 1
    done
fi
cb_log "cluster of $N ready in $((SECONDS - STARTED)) s; mode $MODE"

# --- one phase: load, a fault, settle, stop the load, check, figures -------

PHASE_N=0
# phase_begin NAME: starts the phase's load and waits $LEAD s (a baseline).
phase_begin() {
    PHASE=$1 PHASE_N=$((PHASE_N + 1))
    PDIR=$CB_RUN/chaos/$PHASE
    mkdir -p "$PDIR"; : >"$PDIR/events.jsonl"; touch "$PDIR/on"
    local k seed=0
    [ $PHASE_N = 1 ] && seed=100
    T0=$(now_ms)
    for k in $(seq $N); do
        timeout --foreground -k 5 900 "$CB_BIN/cordbank-load" --url "http://127.0.0.1:$(cb_cluster_port "gateway-$k" http)/interactions" \
            --rate "$RATE" --duration 0 --users 1000 --guilds 10 --mix mixed --timeout-ms 3000 \
            --timeline "$PDIR/load-$k.jsonl" >"$PDIR/load-$k.json" 2>"$PDIR/load-$k.log" &
        LOAD_PIDS+=($!)
    done
    timeout --foreground -k 5 900 "$CB_BIN/cordbank-ledger-load" --balance-endpoints "$(cb_cluster_endpoints balance rpc)" \
        --concurrency "$PAY_CONCURRENCY" --duration-s 600 --accounts 100 --guild 424242 \
        --repeat-ratio 0.05 --deadline-ms 2000 --seed-balance "$seed" --key-prefix "chaos-$PHASE" --quiet \
        --json "$PDIR/pays.json" --acked-file "$PDIR/pays.acked" >"$PDIR/pays.log" 2>&1 &
    PAY_PID=$!
    # Gateway interactions, a second's worth each second while the phase runs:
    # balances, and a few pays (refused or not, they reach balance).
    (
        end=$((SECONDS + 900))
        while [ -e "$PDIR/on" ] && [ $SECONDS -lt $end ]; do
            curl -s --max-time 1 -X POST "$SIM/_sim/interactions" \
                -d "{\"count\": $SIM_RATE, \"rate\": $((SIM_RATE * 2)), \"command\": \"balance\"}" >/dev/null
            curl -s --max-time 1 -X POST "$SIM/_sim/interactions" \
                -d '{"count": 2, "rate": 20, "command": "pay", "options": {"user": "$member", "amount": 1}}' >/dev/null
            sleep 1
        done
    ) &
    PUMP_PID=$!
    sleep "$LEAD"
}

# event WHAT FAULT: a moment of the phase (FAULT true: recovery is measured from it).
event() {
    printf '{"what":"%s","fault":%s,"at_ms":%d}\n' "$1" "$2" $(( $(now_ms) - T0 )) >>"$PDIR/events.jsonl"
    awk -v ms=$(( $(now_ms) - T0 )) -v what="$1" 'BEGIN { printf "       %5.1f s: %s\n", ms / 1000, what }'
}

# phase_end DESCRIPTION: settle, stop the load, check the ledger, keep the figures.
phase_end() {
    local what=$1 inv acked
    sleep "$SETTLE"
    stop_loads
    inv=$(cb_ledger_invariants "$CB_BIN" "$PDIR/invariants.log")
    acked=$(cb_ledger_acked "$PDIR/pays.acked" "chaos-$PHASE" | tr '\n' ' ' | sed 's/ *$//')
    [ -n "$acked" ] || acked="x x x x x x"
    chaos_phase_json "$PDIR" "$PHASE" "$what" "$inv" "$acked" >"$PDIR/figures.json"
    cat "$PDIR/figures.json" >>"$CB_RUN/chaos/phases.jsonl"
    local F; F=$(cat "$PDIR/figures.json")
    jq -r 'def pct: if . == null then "n/a" else "\(. * 10000 | round / 100)%" end;
           "       commands: \(.commands.sent) sent, availability \(.commands.availability | pct), failed \(.commands.failed) \(.commands.errors)",
           "       recovery: \(.recovery_s // "NOT RECOVERED") s; errors per second \(.errors_per_second)",
           "       pays: \(.pays.ok) ok, \(.pays.acked) acked, lost \(.pays.lost), duplicated \(.pays.duplicated), gave up \(.pays.gave_up), retries \(.pays.retries)",
           "       invariants: \(.invariants)"' <<<"$F"
    expect_eq "$PHASE: the ledger invariants hold" true "$(jq '.invariants.ok' <<<"$F")"
    expect_eq "$PHASE: every acked pay is in transfers exactly once (lost duplicated wrong-id)" "0 0 0" \
        "$(jq -r '"\(.pays.lost) \(.pays.duplicated) \(.pays.wrong_id)"' <<<"$F")"
    expect_eq "$PHASE: no refused pay moved money" 0 "$(jq -r '.pays.refused_moved' <<<"$F")"
    expect_match "$PHASE: pays were acked" '^[1-9]' "$(jq -r '.pays.acked' <<<"$F")"
    expect_eq "$PHASE: both loads reported" $N "$(jq -r '.commands.gateways_reporting' <<<"$F")"
    if [ "$MODE" = full ]; then
        expect_eq "$PHASE: recovered within 5 s of each fault (goal)" yes \
            "$(jq -r 'if .recovery_s != null and .recovery_s < 5 then "yes" else "no: \(.recovery_s // "not recovered")" end' <<<"$F")"
    fi
    # The next phase's load must meet a whole cluster.
    cb_wait_cluster_ready 30 >/dev/null 2>&1 || cb_log "not every instance is ready again after $PHASE"
}

# --- the faults ---------------------------------------------------------------

# A random instance of a random non-gateway service every 5 s, each started
# again 2.5 s after its death.
fault_kills() {
    local i svc out victim
    for i in $(seq $KILLS); do
        svc=${KILL_SERVICES[RANDOM % ${#KILL_SERVICES[@]}]}
        out=$("$CTL" kill "random:$svc" 2>&1); victim=${out%%:*}
        event "SIGKILL $victim" true
        sleep "$RESTART_AFTER"
        "$CTL" restart "$victim" >/dev/null 2>&1 || cb_log "could not restart $victim"
        [ "$i" = "$KILLS" ] || sleep "$(awk "BEGIN { print $KILL_EVERY - $RESTART_AFTER }")"
    done
}

fault_pause() {
    local out victim
    out=$("$CTL" pause "random:$1" 2>&1); victim=${out%% *}
    event "SIGSTOP $victim" true
    sleep "$PAUSE_S"
    "$CTL" resume "$victim" >/dev/null
    event "SIGCONT $victim" false
}

fault_rolling() {
    local svc out rc
    for svc in $ROLL_SERVICES; do
        event "rolling restart of $svc" true
        out=$(timeout 120 "$CTL" rolling-restart "$svc" 2>&1); rc=$?
        sed 's/^/         /' <<<"$out"
        echo "$svc $rc" >>"$PDIR/rolling.txt"
    done
}

if [ "$MODE" = full ] && want baseline; then
    section "baseline: the load, no fault"
    phase_begin baseline
    event "none" true
    phase_end "none (the load alone, for comparison)"
fi

want random-kills && {
section "random kills: SIGKILL a random command, cache, balance or metrics instance every ${KILL_EVERY} s, $KILLS times"
phase_begin random-kills
fault_kills
phase_end "SIGKILL of a random non-gateway instance every ${KILL_EVERY} s ($KILLS kills), each restarted ${RESTART_AFTER} s later"
}

for svc in $PAUSE_SERVICES; do
    want "pause-$svc" || continue
    section "a hang: SIGSTOP a $svc instance for $PAUSE_S s"
    phase_begin "pause-$svc"
    fault_pause "$svc"
    phase_end "SIGSTOP of a $svc instance for $PAUSE_S s, then SIGCONT"
done

# A slow link, then a partition, between both command instances and balance-1
# (the instance itself stays healthy and keeps serving its other clients).
if [ "$MODE" = full ] && want delay-balance-1; then
    section "delay: 500 ms each way between the command instances and balance-1, for $PAUSE_S s"
    phase_begin delay-balance-1
    echo 500 >"$PROXY_CTL"; event "delay 500 ms on command -> balance-1" true
    sleep "$PAUSE_S"
    echo 0 >"$PROXY_CTL"; event "delay removed" false
    phase_end "500 ms added each way between every command instance and balance-1 for $PAUSE_S s (TCP proxy)"
fi
if [ "$MODE" = full ] && want cut-balance-1; then
    section "cut: no traffic between the command instances and balance-1 for $PAUSE_S s"
    phase_begin cut-balance-1
    echo cut >"$PROXY_CTL"; event "cut command -> balance-1" true
    sleep "$PAUSE_S"
    echo 0 >"$PROXY_CTL"; event "cut healed" false
    phase_end "traffic between every command instance and balance-1 held for $PAUSE_S s, then delivered (TCP proxy)"
fi

want pg-restart && {
section "PostgreSQL restart (fast: sessions cut)"
phase_begin pg-restart
event "pg_ctl stop -m fast" true
"$CTL" pg-restart fast | sed 's/^/       /'
event "PostgreSQL up" false
phase_end "PostgreSQL stopped (fast) and started again"
}

# Short mode leaves Redis to cache.sh, which crashes and hangs it in depth.
{ [ "$MODE" = full ] || [ "$PHASES" != all ]; } && want redis-restart && {
section "Redis killed and started again, empty"
phase_begin redis-restart
event "SIGKILL redis" true
"$CTL" redis-restart | sed 's/^/       /'
phase_end "Redis SIGKILLed and started again, empty"
}

want rolling-restart && {
section "rolling restart, one instance at a time: $ROLL_SERVICES"
phase_begin rolling-restart
fault_rolling
phase_end "ctl.sh rolling-restart of $ROLL_SERVICES (SIGTERM, drain, start, ready; one instance at a time)"
}

# --- the whole run ------------------------------------------------------------

section "the whole run"
# Gateway interactions still in the simulator's queue get a moment to be answered.
SIMSTATS=null
for _ in $(seq 50); do
    S=$(curl -s --max-time 1 "$SIM/_sim/stats") || S=
    if [ -n "$S" ] && jq -e '.interactions | .to_create == 0 and .waiting == 0 and .unanswered == 0' <<<"$S" >/dev/null; then break; fi
    sleep 0.2
done
[ -n "${S:-}" ] && SIMSTATS=$(jq -c '.interactions | {created, sent, answered, answered_twice, unanswered, deferred, expired, answer_ms}' <<<"$S")
inv=$(cb_ledger_invariants "$CB_BIN" "$CB_RUN/chaos/invariants-final.log")
echo "       final ledger check: $inv (check exit, balance sum, bad guilds, bad accounts)"
expect_eq "at the end: the ledger invariants hold" "0 0 0 0" "$inv"

META=$(jq -n -c --arg mode "$MODE" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson wall $((SECONDS - STARTED)) \
    --argjson n $N --argjson rate "$RATE" --argjson pc "$PAY_CONCURRENCY" --argjson sr "$SIM_RATE" \
    --argjson cores "$(nproc)" '{mode: $mode, started_at: $at, wall_s: $wall, instances: $n, cores: $cores,
      rate_per_gateway: $rate, pay_concurrency: $pc, sim_rate: $sr,
      not_covered: [
        "Gateway instances are never killed, paused or restarted: each load talks to one gateway with nothing in front to fail over.",
        "Delayed or cut traffic: only between the command instances and balance-1 (a TCP proxy, full mode only; netem is not available); elsewhere a cut is an instance under SIGSTOP.",
        "Pays through the gateways (cordbank-load) are covered by the invariants only: their idempotency keys are not visible to the load, so exactly-once is checked on ledger-load pays."]}')
TOTALS=$(chaos_totals "$CB_RUN/chaos/phases.jsonl" "$SIMSTATS" "$META")
jq -r 'def pct: if . == null then "n/a" else "\(. * 10000 | round / 100)%" end;
       "       availability \(.availability | pct) (random kills: \(.availability_random_kills | pct)), commands \(.commands)",
       "       errors by kind \(.errors_by_kind)",
       "       pays acked \(.acked), lost \(.lost), duplicated \(.duplicated), gave up \(.pays_gave_up); invariants ok: \(.invariants_ok)",
       "       recovery max \(.recovery_s_max // "not recovered: \(.not_recovered)") s; rolling-restart failures \(.rolling_restart_failures)",
       "       Gateway path: \(.interactions_gateway_path)",
       "       wall time \(.wall_s) s"' <<<"$TOTALS"

expect_eq "no acked pay lost, none duplicated" "0 0" "$(jq -r '"\(.lost) \(.duplicated)"' <<<"$TOTALS")"
expect_eq "the invariants held after every fault" true "$(jq '.invariants_ok' <<<"$TOTALS")"
expect_eq "rolling restarts failed no command" 0 "$(jq '.rolling_restart_failures' <<<"$TOTALS")"
expect_eq "no interaction answered twice (Gateway path)" 0 "$(jq '.answered_twice' <<<"$TOTALS")"
expect_eq "every Gateway interaction answered" 0 "$(jq '.interactions_gateway_path.unanswered' <<<"$TOTALS")"
if [ "$MODE" = full ]; then
    expect_eq "availability during random kills >= 99.95% (goal)" yes \
        "$(jq -r '.availability_random_kills | if . >= 0.9995 then "yes" else "no: \(. * 10000 | round / 100)%" end' <<<"$TOTALS")"
    OUT=${CHAOS_REPORT_DIR:-$CB_ROOT/load/reports/latest}
    mkdir -p "$OUT"
    jq '.' <<<"$TOTALS" >"$OUT/chaos.json"
    chaos_markdown "$OUT/chaos.json" >"$OUT/chaos.md"
    echo "       wrote $OUT/chaos.json and chaos.md"
else
    expect_eq "availability over the run >= $MIN_AVAILABILITY" yes \
        "$(jq -r --argjson min "$MIN_AVAILABILITY" '.availability | if . >= $min then "yes" else "no: \(.)" end' <<<"$TOTALS")"
fi

summary chaos
