#!/usr/bin/env bash
# load/bench.sh — make bench (and make soak): cordbank and the peer bot
# (load/peer) under the same workloads, in the same run, on the same
# PostgreSQL and Redis, with redis-benchmark and pgbench measured beside
# them as references. Measures and reports; fails only when a run could
# not be made or the soak grew.
#
#   load/bench.sh [build/bin]
#
# Scenarios (SCENARIOS, default "refs balance load stress closed users10k spike";
# the overloads last, so that what they leave behind cannot touch the rest):
#   refs      redis-benchmark GET and pgbench (select-only and TPC-B) on the
#             run's own servers
#   balance   cached /balance only, USERS members, open model at USERS x
#             USER_RATE per second (cordbank and the peer)
#   load      the mixed workload, the same members and rate (cordbank, peer)
#   users10k  the mixed workload, 10,000 members at 10,000 x USER_RATE per
#             second (cordbank, peer)
#   closed    the mixed workload, closed model: CLOSED_USERS (64) users with no
#             think time, SCENARIO_S s: the most each answers (cordbank, peer)
#   stress    open-model steps from STRESS_FROM, x1.3 each STEP_S seconds,
#             until a step misses twice in a row (an error, under 95% of the
#             rate answered, or P99 over KNEE_P99_MS); the knee is the last
#             good step; then a ramp from a quarter of the knee to twice it
#             (cordbank, peer)
#   spike     SPIKE_BASE per second, x10 for 30 s, then the time until P99 is
#             back under twice its level before the spike (cordbank)
#   soak      the mixed workload for DURATION (10m; 24h, 90s, 600 also
#             work), RSS, fds and database connections of every process
#             every 10 s; fails when a service's RSS or fds, or the
#             database connections grew (make soak; the verdict below)
#
# Environment: USERS (1000), USER_RATE (0.1: one command per member every
# 10 s), SCENARIO_S (30), STEP_S (8), STRESS_FROM (100), KNEE_P99_MS (100),
# SPIKE_BASE (USERS x USER_RATE), DURATION (10m), SAMPLE_S (2; 10 in the soak).
#
# Writes load/reports/<UTC date-time>/ (summary.json, scenarios/, samples/,
# steps/ (each stress step), report.md, plots/) and copies summary.json, report.md and plots/ to
# load/reports/latest/; the summary holds the previous latest summary as
# its baseline, so the report has a before/after table.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CB_BIN=${1:-${CB_BIN:-$HERE/../build/bin}}
CB_BIN=$(cd "$CB_BIN" && pwd) || exit 2
. "$HERE/../deploy/local/lib.sh"
. "$HERE/peer/lib.sh"

SCENARIOS=${SCENARIOS:-refs balance load stress closed users10k spike}
USERS=${USERS:-1000} USER_RATE=${USER_RATE:-0.1} SCENARIO_S=${SCENARIO_S:-30}
STEP_S=${STEP_S:-8} STRESS_FROM=${STRESS_FROM:-100} KNEE_P99_MS=${KNEE_P99_MS:-100}
SAMPLE_S=${SAMPLE_S:-2} DURATION=${DURATION:-10m}
LOAD=$CB_BIN/cordbank-load
CORES=$(nproc)
TICK=$(getconf CLK_TCK)
CB_PROCS="gateway command cache balance metrics"

die() { cb_log "bench: $*"; exit 1; }
num() { awk -v x="$1" 'BEGIN { exit !(x ~ /^[0-9]+(\.[0-9]+)?$/) }'; }
for v in USERS SCENARIO_S STEP_S STRESS_FROM KNEE_P99_MS SAMPLE_S USER_RATE; do
    num "${!v}" || { echo "bench: $v=\"${!v}\" is not a number" >&2; exit 2; }
done
# DURATION: seconds, or N followed by s, m or h.
case $DURATION in
    *h) SOAK_S=$((${DURATION%h} * 3600)) ;; *m) SOAK_S=$((${DURATION%m} * 60)) ;;
    *s) SOAK_S=${DURATION%s} ;; *) SOAK_S=$DURATION ;;
esac 2>/dev/null
[[ "${SOAK_S:-}" =~ ^[0-9]+$ ]] && [ "$SOAK_S" -ge 60 ] ||
    { echo "bench: DURATION=\"$DURATION\": want at least 60 s, as 600, 90s, 10m or 24h" >&2; exit 2; }
rate_of() { awk -v u="$1" -v r="$USER_RATE" 'BEGIN { printf "%g", u * r }'; }
SPIKE_BASE=${SPIKE_BASE:-$(rate_of "$USERS")}

STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT=${BENCH_OUT:-$HERE/reports/$STAMP}
LATEST=$HERE/reports/latest
mkdir -p "$OUT/scenarios" "$OUT/samples" "$LATEST" || exit 2

cb_start_all "$CB_BIN"
peer_start 1 10 || die "the peer did not start"
CB_URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
cb_log "bench: cordbank at $CB_URL, the peer at $PEER_URL; report in $OUT"
# Warm-up, not measured: most members' balances read once (caches, prepared
# statements, the peer's JIT), then the mixed workload for a few seconds.
for url in "$CB_URL" "$PEER_URL"; do
    "$LOAD" --url "$url" --mix balance --users "$USERS" --rate 300 --duration 8 >/dev/null 2>&1
    "$LOAD" --url "$url" --users "$USERS" --rate 100 --duration 3 >/dev/null 2>&1
done

# --- processes: pids, CPU ticks, RSS, fds ---------------------------------
pids_of() {
    case $1 in
        postgres) local pm; pm=$(head -1 "$CB_RUN/pg/data/postmaster.pid" 2>/dev/null)
                  [ -n "$pm" ] && echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')" ;;
        peer) echo "$PEER_PIDS" ;;
        *) cat "$CB_RUN/pids/$1" 2>/dev/null ;;
    esac
}
procs_of() { if [ "$1" = peer ]; then echo "peer postgres redis"; else echo "$CB_PROCS postgres redis"; fi; }
# CPU ticks of a process tree: its own and those of the children it reaped
# (cutime, cstime: a PostgreSQL backend's CPU stays counted after it exits).
ticks() { local p s=0; for p in $(pids_of "$1"); do s=$((s + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
rss_kb() { local p s=0; for p in $(pids_of "$1"); do s=$((s + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $s; }
fds() { local p s=0; for p in $(pids_of "$1"); do s=$((s + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done; echo $s; }
db_conns() { psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'" 2>/dev/null || echo null; }

# sample TARGET FILE INTERVAL: one line per process every INTERVAL seconds
# (run in the background; killed by the caller).
sample() {
    local target=$1 file=$2 every=$3 t=0 p db
    declare -A last
    for p in $(procs_of "$target"); do last[$p]=$(ticks "$p"); done
    db=cordbank; [ "$target" = peer ] && db=peer
    while sleep "$every"; do
        t=$(awk -v t="$t" -v e="$every" 'BEGIN { print t + e }')
        for p in $(procs_of "$target"); do
            local now; now=$(ticks "$p")
            printf '{"t":%s,"proc":"%s","rss_kb":%s,"fds":%s,"cpu_pct":%s,"db_conns":%s}\n' \
                "$t" "$p" "$(rss_kb "$p")" "$(fds "$p")" \
                "$(awk -v d=$((now - ${last[$p]})) -v k="$TICK" -v e="$every" 'BEGIN { printf "%.1f", d * 100 / k / e }')" \
                "$([ "$p" = postgres ] && db_conns "$db" || echo null)"
            last[$p]=$now
        done
    done >>"$file"
}

# run NAME TARGET FLAG...: one cordbank-load run against TARGET (cordbank or
# peer), with CPU per process and peak RSS; writes scenarios/NAME.json and
# NAME.timeline.jsonl; prints the summary line.
run() {
    local name=$1 target=$2; shift 2
    local url=$CB_URL p; [ "$target" = peer ] && url=$PEER_URL
    declare -A t0
    for p in $(procs_of "$target"); do t0[$p]=$(ticks "$p"); done
    sample "$target" "$OUT/samples/$name.jsonl" "$SAMPLE_S" &
    local sampler=$! start=$SECONDS
    timeout $((${SCENARIO_LIMIT:-600} + 120)) "$LOAD" --url "$url" --timeline "$OUT/scenarios/$name.timeline.jsonl" \
        "$@" >"$OUT/scenarios/$name.load.json" 2>"$OUT/scenarios/$name.log"
    local wall=$((SECONDS - start)) cpu="{" rss="{" sep=""
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    [ "$wall" -gt 0 ] || wall=1
    for p in $(procs_of "$target"); do
        cpu+="$sep\"$p\":$(awk -v d=$(($(ticks "$p") - ${t0[$p]})) -v k="$TICK" -v w="$wall" 'BEGIN { printf "%.1f", d * 100 / k / w }')"
        rss+="$sep\"$p\":$(jq -s --arg p "$p" '[.[] | select(.proc == $p) | .rss_kb] | (max // 0) / 1024 | floor' "$OUT/samples/$name.jsonl" 2>/dev/null || echo 0)"
        sep=,
    done
    jq -c --arg n "$name" --arg t "$target" --argjson cpu "$cpu}" --argjson rss "$rss}" --argjson cores "$CORES" \
        '. + {scenario: $n, target: $t, cpu_pct: $cpu, rss_mb: $rss,
              cpu_pct_machine: (([$cpu[]] | add) / $cores | . * 10 | round / 10)}' \
        "$OUT/scenarios/$name.load.json" >"$OUT/scenarios/$name.json" 2>/dev/null ||
        { tail -3 "$OUT/scenarios/$name.log" >&2; echo "{\"scenario\":\"$name\",\"target\":\"$target\",\"failed\":true}" >"$OUT/scenarios/$name.json"; }
    rm -f "$OUT/scenarios/$name.load.json"
    jq -r '"\(.scenario) \(.target): \(.commands_per_s // "-")/s p50 \(.p50_ms // "-") ms p99 \(.p99_ms // "-") ms p99.9 \(.p999_ms // "-") ms errors \(.errors // {} | tostring) cpu \(.cpu_pct_machine // "-")% of the machine"' \
        "$OUT/scenarios/$name.json" >&2
}

# --- scenarios -------------------------------------------------------------
scenario_refs() {
    local get tpcb sel
    get=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t get -n 200000 -c 50 -q --csv 2>/dev/null |
        awk -F'"' '/GET/ {print $4; exit}')
    psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE pgbench' >/dev/null
    pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -s 10 -q pgbench >/dev/null 2>&1
    sel=$(pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 8 -j 2 -T 10 -S pgbench 2>/dev/null |
        awk '/^tps/ {print $3; exit}')
    tpcb=$(pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 8 -j 2 -T 10 pgbench 2>/dev/null |
        awk '/^tps/ {print $3; exit}')
    jq -n --arg g "${get:-null}" --arg s "${sel:-null}" --arg t "${tpcb:-null}" \
        '{redis_get_rps: ($g | tonumber? // null), pgbench_select_tps: ($s | tonumber? // null),
          pgbench_tps: ($t | tonumber? // null)}' >"$OUT/refs.json"
    cb_log "bench: refs $(jq -c . "$OUT/refs.json")"
}

scenario_balance() {
    local r; r=$(rate_of "$USERS")
    run balance cordbank --mix balance --users "$USERS" --rate "$r" --duration "$SCENARIO_S"
    run peer-balance peer --mix balance --users "$USERS" --rate "$r" --duration "$SCENARIO_S"
}

scenario_load() {
    local r; r=$(rate_of "$USERS")
    run load cordbank --users "$USERS" --rate "$r" --duration "$SCENARIO_S"
    run peer-load peer --users "$USERS" --rate "$r" --duration "$SCENARIO_S"
}

scenario_closed() {
    local u=${CLOSED_USERS:-64}
    run closed cordbank --model closed --users "$u" --think-ms 0 --duration "$SCENARIO_S" --timeout-ms 3000
    run peer-closed peer --model closed --users "$u" --think-ms 0 --duration "$SCENARIO_S" --timeout-ms 3000
}

scenario_users10k() {
    local r; r=$(rate_of 10000)
    run users10k cordbank --users 10000 --guilds 100 --rate "$r" --duration "$SCENARIO_S"
    run peer-users10k peer --users 10000 --guilds 100 --rate "$r" --duration "$SCENARIO_S"
}

# stress_target NAME TARGET: the steps, the knee and the ramp to twice it.
stress_target() {
    local name=$1 target=$2 rate=$STRESS_FROM knee=0 steps=() i=0 good try step
    while [ $i -lt 20 ]; do
        # A step that misses is run once more: one stall (a GC, a checkpoint)
        # in 8 s must not end the climb.
        for try in 1 2; do
            run "$name-step" "$target" --users "$USERS" --rate "$rate" --duration "$STEP_S" --timeout-ms 3000
            step=$(jq -c --argjson r "$rate" --argjson lim "$KNEE_P99_MS" --argjson attempt "$try" \
                '{rate: $r, attempt: $attempt, rps: .commands_per_s, p50_ms, p99_ms, max_ms, errors: ([.errors[]?] | add // 0),
                  cpu_pct_machine} | .good = (.errors == 0 and .rps >= 0.95 * $r and (.p99_ms // 1e9) <= $lim)' \
                "$OUT/scenarios/$name-step.json" 2>/dev/null || echo "{\"rate\":$rate,\"good\":false}")
            steps+=("$step")
            good=$(jq -r .good <<<"$step")
            mkdir -p "$OUT/steps"
            for f in "$OUT/scenarios/$name-step".*; do mv "$f" "$OUT/steps/$name-$rate-$try.${f#*-step.}"; done
            mv "$OUT/samples/$name-step.jsonl" "$OUT/steps/$name-$rate-$try.samples.jsonl" 2>/dev/null
            [ "$good" = true ] && break
        done
        [ "$good" = true ] || break
        knee=$rate
        rate=$(awk -v r="$rate" 'BEGIN { printf "%d", r * 1.3 }')
        i=$((i + 1))
    done
    printf '%s\n' "${steps[@]}" | jq -s --argjson k "$knee" \
        '{knee_rps: (if $k > 0 then $k else null end), steps: .}' >"$OUT/$name.knee.json"
    if [ "$knee" -gt 0 ]; then
        run "$name" "$target" --users "$USERS" --rate $((knee / 4 + 1)) --ramp-to $((knee * 2)) \
            --duration "$SCENARIO_S" --timeout-ms 3000
    fi
    cb_log "bench: $name knee $knee/s (P99 <= $KNEE_P99_MS ms, no errors, >= 95% answered)"
}
scenario_stress() { stress_target stress cordbank; stress_target peer-stress peer; }

scenario_spike() {
    run spike cordbank --users "$USERS" --rate "$SPIKE_BASE" --duration 70 --spike-at 10 \
        --spike-seconds 30 --spike-factor 10 --timeout-ms 10000
}

scenario_soak() {
    SAMPLE_S=10 SCENARIO_LIMIT=$SOAK_S run soak cordbank --users "$USERS" --rate "$(rate_of "$USERS")" \
        --duration "$SOAK_S"
}

for s in $SCENARIOS; do
    declare -F "scenario_$s" >/dev/null || die "unknown scenario \"$s\" (refs balance load users10k closed stress spike soak)"
done
for s in $SCENARIOS; do cb_log "bench: scenario $s"; "scenario_$s"; done

# --- the soak's verdict ---------------------------------------------------
# Growth of each process: the median of the last third of the samples
# against the first third. It fails when a service's RSS grew by over
# 10% + 2 MB or its open fds by over 10 (the gateway's follow the HTTP
# connections the load keeps open), or when the database connections grew
# (the highest of the last third against the first third's median).
# PostgreSQL's and Redis's RSS and fds are reported, not judged: the
# ledger's data grows with every transfer.
soak_rc=0
if [ -f "$OUT/samples/soak.jsonl" ]; then
    jq -s --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson soak "$(cat "$OUT/scenarios/soak.json")" '
        def median: sort | .[length / 2 | floor];
        def services: IN("gateway","command","cache","balance","metrics");
        (group_by(.proc) | map({proc: .[0].proc, n: length,
            first: (.[0:(length / 3 | floor)]), last: (.[(length * 2 / 3 | floor):])}
          | select(.n >= 6)
          | {proc, rss_first_kb: ([.first[].rss_kb] | median), rss_last_kb: ([.last[].rss_kb] | median),
             fds_first: ([.first[].fds] | median), fds_last: ([.last[].fds] | median),
             db_first: ([.first[].db_conns | select(. != null)] | median), db_last: ([.last[].db_conns | select(. != null)] | max)}
          | .rss_growth_pct = ((.rss_last_kb - .rss_first_kb) * 100 / .rss_first_kb | . * 10 | round / 10)
          | .grew = ((.proc | services) and (.rss_last_kb > .rss_first_kb * 1.10 + 2048
                                                or .fds_last > .fds_first + 10)
                     or (.db_last // 0) > (.db_first // 0) + 2))) as $growth
        | {soak_date: $date, soak_s: $soak.duration_s, soak_rps: $soak.commands_per_s, soak_p99_ms: $soak.p99_ms,
           soak_errors: ([$soak.errors // {} | .[]] | add // 0),
           soak_rss_growth_pct: ($growth | map(select(.proc | services) | .rss_growth_pct) | max),
           soak_grew: ($growth | map(select(.grew) | .proc)), soak_growth: $growth}' \
        "$OUT/samples/soak.jsonl" >"$OUT/soak.json" || die "could not judge the soak"
    grew=$(jq -r '.soak_grew | join(" ")' "$OUT/soak.json")
    if [ -n "$grew" ]; then cb_log "bench: soak: grew: $grew"; soak_rc=1; else cb_log "bench: soak: flat"; fi
    cp "$OUT/soak.json" "$LATEST/soak.json"
fi

# --- the summary -----------------------------------------------------------
sc() { [ -f "$OUT/scenarios/$1.json" ] && cat "$OUT/scenarios/$1.json" || echo null; }
or_null() { [ -f "$1" ] && cat "$1" || echo null; }
# A run without the soak reports the last soak's figures (make soak), dated.
soak_file=$OUT/soak.json; [ -f "$soak_file" ] || soak_file=$LATEST/soak.json
baseline=$(or_null "$LATEST/summary.json" | jq -c 'del(.baseline)? // null' 2>/dev/null || echo null)
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg git "$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --argjson cores "$CORES" --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    --argjson users "$USERS" --argjson user_rate "$USER_RATE" \
    --argjson load "$(sc load)" --argjson peer "$(sc peer-load)" --argjson bal "$(sc balance)" \
    --argjson pbal "$(sc peer-balance)" --argjson u10k "$(sc users10k)" --argjson pu10k "$(sc peer-users10k)" \
    --argjson closed "$(sc closed)" --argjson pclosed "$(sc peer-closed)" --argjson spike "$(sc spike)" \
    --argjson soak "$(or_null "$soak_file")" \
    --argjson refs "$(or_null "$OUT/refs.json")" --argjson knee "$(or_null "$OUT/stress.knee.json")" \
    --argjson pknee "$(or_null "$OUT/peer-stress.knee.json")" --argjson baseline "$baseline" \
    --slurpfile spiketl <(cat "$OUT/scenarios/spike.timeline.jsonl" 2>/dev/null) '
    def services_rss: [.rss_mb // {} | to_entries[] | select(.key | IN("gateway","command","cache","balance","metrics")) | .value] | add;
    def errs: [.errors // {} | .[]] | add // 0;
    # The peers knee, its P99 there, and cordbank at and under it.
    ($pknee.steps // [] | map(select(.good)) | last) as $pk
    | ($knee.steps // [] | map(select(.good and .p99_ms <= ($pk.p99_ms // 0))) | max_by(.rate)) as $cb_at_p99
    | ($knee.steps // [] | map(select(.rate == $pk.rate)) | (map(select(.good)) + .) | first) as $cb_at_load
    # Spike: seconds after the spike until three seconds in a row are back
    # under twice the P99 of the seconds before it (5 ms at least).
    | ($spiketl | map(select(.t <= 10 and .p99_ms != null) | .p99_ms) | sort | .[length / 2 | floor] // null) as $base_p99
    | ([($base_p99 // 0) * 2, ($base_p99 // 0) + 5] | max) as $lim
    | ($spiketl | map(select(.t > 40)) | [range(0; length - 2) as $i | select(.[$i:$i + 3] | all(.p99_ms != null and .p99_ms <= $lim)) | .[$i].t] | first) as $back
    | {date: $date, git: $git, machine: {cores: $cores, cpu: $cpu}, users: $users, user_rate: $user_rate,
       rps: $load.commands_per_s, p50_ms: $load.p50_ms, p99_ms: $load.p99_ms, p999_ms: $load.p999_ms,
       errors: ($load | if . then errs else null end),
       peer_rps: $peer.commands_per_s, peer_p99_ms: $peer.p99_ms,
       rss_mb_total: ($load | if . then services_rss else null end), peer_rss_mb: $peer.rss_mb.peer,
       cpu_pct: $load.cpu_pct_machine, peer_cpu_pct: $peer.cpu_pct_machine,
       balance_p99_ms: $bal.p99_ms, peer_balance_p99_ms: $pbal.p99_ms,
       users10k_rps: $u10k.commands_per_s, users10k_p99_ms: $u10k.p99_ms, users10k_errors: ($u10k | if . then errs else null end),
       peer_users10k_p99_ms: $pu10k.p99_ms,
       closed_rps: $closed.commands_per_s, closed_p99_ms: $closed.p99_ms,
       peer_closed_rps: $pclosed.commands_per_s, peer_closed_p99_ms: $pclosed.p99_ms,
       closed_ratio: (if $closed and $pclosed then ($closed.commands_per_s / $pclosed.commands_per_s * 100 | round / 100) else null end),
       redis_get_rps: $refs.redis_get_rps, pgbench_tps: $refs.pgbench_tps, pgbench_select_tps: $refs.pgbench_select_tps,
       knee_rps: $knee.knee_rps, peer_knee_rps: $pknee.knee_rps,
       throughput_ratio_at_peer_p99: (if $pk and $cb_at_p99 then ($cb_at_p99.rate / $pk.rate * 100 | round / 100) else null end),
       p99_ratio_at_equal_load: (if $pk and $cb_at_load and $cb_at_load.p99_ms > 0 then ($pk.p99_ms / $cb_at_load.p99_ms * 100 | round / 100) else null end),
       rss_ratio: (if $peer and $load then ($peer.rss_mb.peer / ($load | services_rss) * 100 | round / 100) else null end),
       knee_vs_redis_get: (if $knee.knee_rps and $refs.redis_get_rps then ($knee.knee_rps / $refs.redis_get_rps * 1000 | round / 1000) else null end),
       knee_vs_pgbench: (if $knee.knee_rps and $refs.pgbench_tps then ($knee.knee_rps / $refs.pgbench_tps * 100 | round / 100) else null end),
       spike_recovery_s: (if $spike and $back then $back - 41 else null end),
       spike_p99_ms: $spike.p99_ms, spike_errors: ($spike | if . then errs else null end)}
      + ($soak // {} | del(.soak_growth, .soak_grew))
      + {baseline: $baseline}' >"$OUT/summary.json" || die "could not write the summary"

if [ -x "$HERE/report.sh" ]; then "$HERE/report.sh" "$OUT" || cb_log "bench: the report could not be rendered"; fi
# A soak alone (make soak) leaves the latest summary and report as they are.
if [ "$SCENARIOS" = soak ]; then
    mkdir -p "$LATEST/plots"
    cp "$OUT"/plots/soak-* "$LATEST/plots/" 2>/dev/null
    [ -f "$OUT/report.md" ] && cp "$OUT/report.md" "$LATEST/soak.md"
else
    # The last soak's plots stay beside the report that quotes its figures.
    mkdir -p "$LATEST/plots"
    find "$LATEST/plots" -maxdepth 1 -type f ! -name 'soak-*' -delete
    cp "$OUT/summary.json" "$LATEST/summary.json"
    [ -f "$OUT/report.md" ] && cp "$OUT/report.md" "$LATEST/report.md"
    if [ -f "$LATEST/report.md" ] && [ -f "$LATEST/soak.md" ] && [ ! -f "$OUT/samples/soak.jsonl" ]; then
        printf '\n## Soak\n\nThe soak figures above are from the last `make soak`, %s: its report, with the memory and file-descriptor plots, is [soak.md](soak.md).\n' \
            "$(jq -r '.soak_date // "date unknown"' "$LATEST/soak.json" 2>/dev/null)" >>"$LATEST/report.md"
    fi
    [ -d "$OUT/plots" ] && cp "$OUT"/plots/* "$LATEST/plots/" 2>/dev/null
fi
jq 'del(.baseline)' "$OUT/summary.json"
cb_log "bench: wrote $OUT and $LATEST"
exit $soak_rc
