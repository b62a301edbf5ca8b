#!/usr/bin/env bash
# The ledger under concurrent load, an instance crash, a PostgreSQL
# outage and a PostgreSQL hang, and idempotency keys full of quotes and
# backslashes: PostgreSQL and three balance instances on loopback ports picked
# at run time, driven by cordbank-ledger-load (64 requests in flight, pays
# among 100 accounts, 5% of them repeats of an earlier key sent to another
# instance). After each phase the ledger is checked in SQL: the invariants
# hold, every acknowledged OK key is in transfers exactly once with the
# transfer id it was acknowledged with, no refused key moved money, no
# repeat got another outcome than its first. Last, a fourth instance that
# checks the invariants every second sees the ledger broken by hand and
# mended again (its metrics and log lines).
#
#   tests/integration/ledger.sh [build/bin]
#
# About 85 s (the load phases take 20 + 12 + 17 + 12 + 3 s; LEDGER_LOAD_S
# scales the first). Stops everything (and resumes a stopped PostgreSQL)
# and removes its temp dir whatever happens.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/metrics.sh"
. "$(dirname "$0")/../lib/ledger.sh"

LOAD=$CB_BIN/cordbank-ledger-load
GUILD=424242
ACCOUNTS=100
CLIENTS=64
DEADLINE_MS=2000
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

# Processes of this run's PostgreSQL that phase d stopped: resumed on any
# exit, or pg_ctl could not stop them.
PG_STOPPED=
pg_resume() {
    [ -n "$PG_STOPPED" ] || return 0
    kill -CONT $PG_STOPPED 2>/dev/null
    PG_STOPPED=
}

cb_run_dir
trap 'pg_resume; cb_stop_all' EXIT
cb_start_postgres || exit 1

# Three instances: RPC[i], EVENTS[i], ADMIN[i] ports.
RPC=() EVENTS=() ADMIN=() ENDPOINTS=
for i in 1 2 3; do
    RPC[i]=$(cb_port) EVENTS[i]=$(cb_port) ADMIN[i]=$(cb_port)
    cb_start_balance "balance-$i" "$CB_BIN" "${RPC[i]}" "${EVENTS[i]}" "${ADMIN[i]}"
    ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}tcp://127.0.0.1:${RPC[i]}"
done
for i in 1 2 3; do cb_wait_port_ready "${ADMIN[i]}" 30 "balance-$i" || exit 1; done

# run_load PHASE SECONDS [FLAG...]: cordbank-ledger-load in the background;
# its summary goes to $CB_RUN/PHASE.json, its acked keys to PHASE.acked.
# Keys are PREFIX-N, PREFIX being $KEYS (default: the phase); each attempt's
# deadline is $DEADLINE (default $DEADLINE_MS).
run_load() {
    local phase=$1 seconds=$2; shift 2
    timeout -k 5 $((seconds + 60)) "$LOAD" --balance-endpoints "$ENDPOINTS" --concurrency "$CLIENTS" \
        --duration-s "$seconds" --accounts "$ACCOUNTS" --guild "$GUILD" --repeat-ratio 0.05 \
        --deadline-ms "${DEADLINE:-$DEADLINE_MS}" --key-prefix "${KEYS:-$phase}" --quiet \
        --json "$CB_RUN/$phase.json" --acked-file "$CB_RUN/$phase.acked" "$@" \
        >"$CB_RUN/logs/load-$phase.log" 2>&1 &
    LOAD_PID=$!
}
# Waits for the load; expects exit 0 and a summary that says "correct".
finish_load() {
    local phase=$1 rc
    wait "$LOAD_PID"; rc=$?
    sed 's/^/       /' "$CB_RUN/logs/load-$phase.log"
    expect_eq "$phase: the load tool exits 0" 0 "$rc"
    J=$(cat "$CB_RUN/$phase.json" 2>/dev/null)
    [ -n "$J" ] || J='{}'
    expect_eq "$phase: no replay mismatch" 0 "$(jq '.replays.mismatched' <<<"$J")"
    expect_eq "$phase: no reply broke the contract" "0 true" "$(jq -r '"\(.bad_replies) \(.correct)"' <<<"$J")"
}
jn() { jq -r "$1 // 0" <<<"$J"; }
# Per second of $J: OK before the first failure, and OK again after the last one.
shape() {
    jq -r '.per_second as $s | [range(0; $s.failed | length) | select($s.failed[.] > 0)] as $f
        | if ($f | length) == 0 then "no failures"
          else [(any(range(0; $f[0]); $s.ok[.] > 0)), (any(range($f[-1] + 1; $s.ok | length); $s.ok[.] > 0))]
               | if . == [true, true] then "failed, then recovered" else "ok before/after: \(.)" end
          end' <<<"$J"
}

# check_ledger PHASE [PREFIX]: the invariants, and the acked keys (named
# PREFIX-N; PREFIX defaults to the phase) against transfers.
check_ledger() {
    local phase=$1 prefix=${2:-$1} out
    "$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" \
        >"$CB_RUN/logs/invariants-$phase.log" 2>&1
    expect_eq "$phase: cordbank-balance --check-invariants exits 0" 0 $?
    out=$(cb_ledger_acked "$CB_RUN/$phase.acked" "$prefix")
    local acked_ok lost duplicated wrong_id refused_moved in_table
    read -r acked_ok lost duplicated wrong_id refused_moved in_table <<<"$out"
    expect_match "$phase: acked keys load into SQL" '^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$' "$out"
    expect_match "$phase: some transfers were acked OK" '^[1-9]' "$acked_ok"
    expect_eq "$phase: every acked OK key is in transfers exactly once (lost duplicated)" "0 0" "$lost $duplicated"
    expect_eq "$phase: with the transfer id it was acked with" 0 "$wrong_id"
    expect_eq "$phase: no refused key moved money" 0 "$refused_moved"
    # Keys not acked (gave up, abandoned) may or may not have committed.
    local unacked=$(( $(jn .gave_up) + $(jn .abandoned) ))
    expect_eq "$phase: transfers of this phase are the acked ones, plus at most the unacked ($unacked)" \
        yes "$([ "${in_table:-0}" -ge "${acked_ok:-1}" ] && [ $((in_table - acked_ok)) -le $unacked ] && echo yes || echo "no: $in_table rows, $acked_ok acked")"
}

section "a: ${LEDGER_LOAD_S:-20} s of pays, $CLIENTS in flight, 3 instances"
run_load a "${LEDGER_LOAD_S:-20}" --seed-balance 100
finish_load a
expect_eq "a: every account was seeded" "$ACCOUNTS 0" "$(jq -r '"\(.seed.ok) \(.seed.failed)"' <<<"$J")"
expect_match "a: pays succeeded" '^[1-9]' "$(jn .outcomes.OK)"
expect_match "a: some were refused for insufficient funds" '^[1-9]' "$(jn .outcomes.INSUFFICIENT_FUNDS)"
expect_match "a: repeats were sent" '^[1-9]' "$(jn .replays.sent)"
expect_match "a: and matched their first outcome" '^[1-9]' "$(jn .replays.matched)"
expect_eq "a: nothing gave up" 0 "$(jn .gave_up)"
echo "       a: $(jn .tps) acked/s, p50 $(jn .p50_ms) ms, p99 $(jn .p99_ms) ms"
check_ledger a

section "b: kill -9 one instance during the load, then restart it"
run_load b 12 --seed-balance 0
sleep 4
victim=$(cat "$CB_RUN/pids/balance-2")
disown "$victim" 2>/dev/null   # no "Killed" notice from bash
kill -KILL "$victim"
for _ in $(seq 100); do kill -0 "$victim" 2>/dev/null || break; sleep 0.05; done
sleep 3
cb_start_balance balance-2 "$CB_BIN" "${RPC[2]}" "${EVENTS[2]}" "${ADMIN[2]}"
cb_wait_port_ready "${ADMIN[2]}" 15 balance-2
expect_eq "b: the killed instance comes back ready" 0 $?
finish_load b
expect_match "b: pays succeeded" '^[1-9]' "$(jn .outcomes.OK)"
expect_match "b: attempts to the dead instance failed" '^[1-9]' "$(( $(jn .attempts.UNAVAILABLE) + $(jn .attempts.DEADLINE_EXCEEDED) ))"
expect_match "b: and were retried on another" '^[1-9]' "$(jn .retries)"
expect_eq "b: no request gave up (two instances were always up)" 0 "$(jn .gave_up)"
served=$(curl -s "http://127.0.0.1:${ADMIN[2]}/metrics" \
    | awk '/^cordbank_balance_transfers_total\{/ { n += $NF } END { print n + 0 }')
expect_match "b: the restarted instance served transfers again" '^[1-9]' "$served"
check_ledger b

# Balance waits up to 5 s for PostgreSQL to come back (a quick restart
# costs nothing: tests/chaos pg-restart); this outage lasts longer, so
# requests are answered UNAVAILABLE, at their deadline and then at once.
section "c: PostgreSQL down for 6 s during the load"
run_load c 17 --seed-balance 0
sleep 4
cb_pg_stop fast
expect_eq "c: PostgreSQL stopped" 0 $?
sleep 6
cb_pg_start
expect_eq "c: PostgreSQL started again" 0 $?
finish_load c
expect_match "c: the outage was answered UNAVAILABLE" '^[1-9]' "$(jn .attempts.UNAVAILABLE)"
expect_match "c: failures were answered within the deadline" '^[1-9]' "$(jn .failures.fast)"
expect_eq "c: more answered fast than timed out" yes \
    "$([ "$(jn .failures.fast)" -gt "$(jn .failures.timed_out)" ] && echo yes || echo "no: $(jq -c .failures <<<"$J")")"
expect_eq "c: pays succeeded, failed, then succeeded again" "failed, then recovered" "$(shape)"
echo "       c: per second ok $(jq -c .per_second.ok <<<"$J") failed $(jq -c .per_second.failed <<<"$J")"
for i in 1 2 3; do
    cb_wait_port_ready "${ADMIN[i]}" 10 "balance-$i"
    expect_eq "c: balance-$i is ready again" 0 $?
done
check_ledger c

# The postmaster of this run (its pid file, and its command line names this
# run's data dir) and its children: the backends and auxiliary processes.
# Never any other PostgreSQL of the machine.
pg_run_pids() {
    local data=$CB_RUN/pg/data pm
    read -r pm <"$data/postmaster.pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pm/cmdline" 2>/dev/null | grep -qF -- "-D $data " || return 1
    echo "$pm" $(pgrep -P "$pm")
}
# stopped_count WANT PID...: how many of the pids are stopped (state T),
# once that is WANT or after 2 s (a signal takes a moment to land).
stopped_count() {
    local want=$1 pid n tries; shift
    for tries in $(seq 40); do
        n=0
        for pid in "$@"; do
            # The state follows the parenthesised command name, which may hold spaces.
            [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" = T ] && n=$((n + 1))
        done
        [ "$n" -ne "$want" ] || break
        sleep 0.05
    done
    echo "$n"
}

section "d: PostgreSQL hangs (SIGSTOP) for 4 s during the load; 1 s deadlines"
DEADLINE=1000 run_load d 12 --seed-balance 0
sleep 3
# The postmaster first, so that it forks no backend we would miss.
if pm=$(pg_run_pids); then
    pm=${pm%% *}
    kill -STOP "$pm" && PG_STOPPED=$pm
    PG_STOPPED="$PG_STOPPED $(pgrep -P "$pm" | tr '\n' ' ')"
    kill -STOP $PG_STOPPED
fi
read -ra stopped <<<"$PG_STOPPED"
expect_match "d: found this run's postmaster and its backends" '^[0-9]+ [0-9]+' "$PG_STOPPED"
expect_eq "d: all ${#stopped[@]} of them are stopped" "${#stopped[@]}" "$(stopped_count "${#stopped[@]}" "${stopped[@]}")"
sleep 4
pg_resume
expect_eq "d: and running again" 0 "$(stopped_count 0 "${stopped[@]}")"
finish_load d
expect_match "d: the hang was answered UNAVAILABLE" '^[1-9]' "$(jn .attempts.UNAVAILABLE)"
# Failures within the attempt's 1 s deadline: the balance answers by then
# (its own deadline is the request's, less 50 ms), so the client does not
# wait it out. A reply racing the client's own deadline may lose: allow 5%.
fast=$(jn .failures.fast) late=$(jn .failures.timed_out)
unavailable=$(jn .attempts.UNAVAILABLE) exceeded=$(jn .attempts.DEADLINE_EXCEEDED)
expect_match "d: failures were answered within the deadline" '^[1-9]' "$fast"
expect_eq "d: at most 5% waited it out ($late of $((fast + late)))" yes \
    "$([ $((late * 20)) -le $((fast + late)) ] && echo yes || echo no)"
expect_eq "d: at least 95% of the failed attempts were UNAVAILABLE ($unavailable of $((unavailable + exceeded)))" yes \
    "$([ $((exceeded * 20)) -le $((unavailable + exceeded)) ] && echo yes || echo no)"
expect_eq "d: pays succeeded, failed, then succeeded again" "failed, then recovered" "$(shape)"
expect_eq "d: pays succeeded in each of the last 3 s (the hang ended 5 s before)" true \
    "$(jq '.per_second.ok | length >= 12 and (.[9:12] | all(. > 0))' <<<"$J")"
echo "       d: $(jq -c '{attempts, failures, gave_up, retries, p99_ms, max_ms}' <<<"$J")"
echo "       d: per second ok $(jq -c .per_second.ok <<<"$J") failed $(jq -c .per_second.failed <<<"$J")"
for i in 1 2 3; do
    cb_wait_port_ready "${ADMIN[i]}" 10 "balance-$i"
    expect_eq "d: balance-$i is ready again" 0 $?
done
check_ledger d

# Every printable ASCII character that means something to a shell, JSON,
# CSV, COPY or SQL (LIKE's % and _ too); COPY's \N null marker on purpose.
AWKWARD='e"\,{}'"'"'%_$`;:\N'
section "e: idempotency keys with quotes, backslashes and braces: $AWKWARD-N"
KEYS=$AWKWARD run_load e 3 --seed-balance 0
finish_load e
expect_match "e: pays succeeded" '^[1-9]' "$(jn .outcomes.OK)"
expect_eq "e: nothing gave up" 0 "$(( $(jn .gave_up) + $(jn .abandoned) ))"
expect_eq "e: the summary names the prefix as given" "$AWKWARD" "$(jq -r .config.key_prefix <<<"$J")"
check_ledger e "$AWKWARD"
# Byte for byte: the acked OK keys, sorted, against the stored ones.
want=$(awk '$3 == "OK" { print $1 }' "$CB_RUN/e.acked" | LC_ALL=C sort | md5sum)
got=$(cb_psql -v prefix="$AWKWARD-" <<'SQL' | md5sum
SELECT idempotency_key FROM transfers WHERE starts_with(idempotency_key, :'prefix')
 ORDER BY idempotency_key COLLATE "C";
SQL
)
expect_eq "e: the stored keys are the acked ones, byte for byte" "$want" "$got"
expect_match "e: and there are some" '^[1-9]' "$(awk '$3 == "OK"' "$CB_RUN/e.acked" | wc -l)"

section "f: a watching instance (a check every second) sees the ledger broken and mended"
W_RPC=$(cb_port) W_EVENTS=$(cb_port) W_ADMIN=$(cb_port)
cb_start_balance balance-w "$CB_BIN" "$W_RPC" "$W_EVENTS" "$W_ADMIN" --invariant-check-s 1
cb_wait_port_ready "$W_ADMIN" 30 balance-w || exit 1
CHECKED=cordbank_ledger_invariant_checked_timestamp_seconds V=cordbank_ledger_invariant_violations
expect_match "f: the watch has checked" '^[1-9]' "$(cb_wait_metric "$W_ADMIN" $CHECKED '' '^[1-9]')"
expect_eq "f: and found the ledger whole" "0 0" \
    "$(cb_metric "$W_ADMIN" $V 'check="guild_sum"') $(cb_metric "$W_ADMIN" $V 'check="account_legs"')"
# A member with coins that no transfer gave: its guild no longer sums to 0,
# and its balance is not the sum of its legs (it has none).
cb_psql -c "INSERT INTO accounts (guild_id, user_id, balance, version) VALUES (990001, 1, 5, 1)" >/dev/null
expect_eq "f: a broken guild is seen within seconds" 1 "$(cb_wait_metric "$W_ADMIN" $V 'check="guild_sum"' '^1$')"
expect_eq "f: and the broken account" 1 "$(cb_metric "$W_ADMIN" $V 'check="account_legs"')"
expect_eq "f: the violation is logged once, as an error" error \
    "$(grep '"msg":"ledger invariants violated"' "$CB_RUN/logs/balance-w.log" | jq -rs 'map(.level) | join(",")')"
cb_psql -c "DELETE FROM accounts WHERE guild_id = 990001" >/dev/null
expect_eq "f: mended, it is seen whole again" 0 "$(cb_wait_metric "$W_ADMIN" $V 'check="guild_sum"' '^0$')"
expect_eq "f: and that is logged" 1 "$(grep -c '"msg":"ledger invariants hold again"' "$CB_RUN/logs/balance-w.log")"
expect_match "f: a check takes a moment ($(cb_metric "$W_ADMIN" cordbank_ledger_invariant_check_duration_seconds) s)" \
    '^[0-9.e-]+$' "$(cb_metric "$W_ADMIN" cordbank_ledger_invariant_check_duration_seconds)"
expect_eq "f: no check failed" 0 "$(cb_metric "$W_ADMIN" cordbank_ledger_invariant_check_failures_total)"

summary ledger
