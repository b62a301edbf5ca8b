#!/usr/bin/env bash
# The perf gate of make test (issue 8), and cordbank-load's own behaviour.
#
# cordbank and the peer bot (load/peer) run side by side on the same
# PostgreSQL and Redis; each gets the same closed-model mixed workload
# (PERF_USERS users, no think time, PERF_SECONDS s) from cordbank-load, so
# each answers as fast as it can. The gate is the ratio of the two, never
# an absolute time: a slower or busier machine slows both. It fails only on
# a large regression: cordbank's throughput under PERF_MIN_RATIO (0.5) of
# the peer's, or its P99 over PERF_MAX_P99_RATIO (4) times the peer's.
# (On a quiet machine cordbank answers 1.5-2x the peer's throughput: see
# load/reports/latest/report.md.) The figures are printed, and
# written to $PERF_JSON when set.
#
# Then cordbank-load itself: a bad flag is refused with the reason, the
# timeline has a line per second with the schedule's target rates (a
# spike), the closed model keeps its users' requests one at a time.
#
#   tests/integration/perf-smoke.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$CB_ROOT/load/peer/lib.sh"
LOAD=$CB_BIN/cordbank-load
PERF_USERS=${PERF_USERS:-32} PERF_SECONDS=${PERF_SECONDS:-8}
PERF_MIN_RATIO=${PERF_MIN_RATIO:-0.5} PERF_MAX_P99_RATIO=${PERF_MAX_P99_RATIO:-4}

cb_start_all "$CB_BIN"
peer_start 1 10 || { echo "the peer did not start"; exit 1; }
CB_URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
T=$CB_RUN/perf

section "the gate: cordbank against the peer, same workload, same run"
mkdir -p "$T"
# Warm both up first: prepared statements, caches, the JIT.
"$LOAD" --url "$CB_URL" --rate 100 --duration 2 >/dev/null 2>&1
"$LOAD" --url "$PEER_URL" --rate 100 --duration 2 >/dev/null 2>&1
closed() { "$LOAD" --url "$1" --model closed --users "$PERF_USERS" --think-ms 0 \
    --duration "$PERF_SECONDS" --timeout-ms 3000 2>/dev/null; }
cb=$(closed "$CB_URL"); expect_eq "cordbank answered every command" 0 $?
peer=$(closed "$PEER_URL"); expect_eq "the peer answered every command" 0 $?
figures=$(jq -n --argjson cb "${cb:-null}" --argjson peer "${peer:-null}" '
    {rps: $cb.commands_per_s, p99_ms: $cb.p99_ms, errors: $cb.errors,
     peer_rps: $peer.commands_per_s, peer_p99_ms: $peer.p99_ms, peer_errors: $peer.errors,
     rps_ratio: (($cb.commands_per_s / $peer.commands_per_s) * 100 | round / 100),
     p99_ratio: (($cb.p99_ms / $peer.p99_ms) * 100 | round / 100)}' 2>/dev/null)
echo "  $(jq -c . <<<"${figures:-null}")"
[ -z "${PERF_JSON:-}" ] || echo "$figures" >"$PERF_JSON"
ratio=$(jq -r '.rps_ratio // 0' <<<"${figures:-null}")
p99_ratio=$(jq -r '.p99_ratio // 1e9' <<<"${figures:-null}")
expect_eq "throughput at least ${PERF_MIN_RATIO}x the peer's (got ${ratio}x)" yes \
    "$(awk -v r="$ratio" -v m="$PERF_MIN_RATIO" 'BEGIN { print (r >= m ? "yes" : "no") }')"
expect_eq "P99 at most ${PERF_MAX_P99_RATIO}x the peer's (got ${p99_ratio}x)" yes \
    "$(awk -v r="$p99_ratio" -v m="$PERF_MAX_P99_RATIO" 'BEGIN { print (r <= m ? "yes" : "no") }')"

section "cordbank-load: flags"
for bad in "--model=half" "--rate=0" "--popularity=pareto" "--spike-at=5 --duration=10 --spike-seconds=30" \
           "--model=closed --ramp-to=50" "--users=20000 --model=closed" "--url=ftp://x" "--timeline=/nonexistent/t"; do
    # shellcheck disable=SC2086
    err=$("$LOAD" --url "$CB_URL" --duration 10 $bad 2>&1 >/dev/null); rc=$?
    expect_eq "$bad is refused (exit 2)" 2 "$rc"
    expect_match "$bad: says what was wrong" 'cordbank-load: .*(model|rate|popularity|spike|ramp|10000|url|http|timeline)' "$err"
done

section "cordbank-load: a spike's timeline"
out=$("$LOAD" --url "$CB_URL" --rate 20 --duration 4 --spike-at 1 --spike-seconds 2 --spike-factor 5 \
    --timeline "$T/spike.jsonl" 2>/dev/null)
expect_eq "the spike run had no errors" 0 $?
expect_eq "one timeline line per second" 4 "$(wc -l <"$T/spike.jsonl")"
expect_eq "target rates: 20, 100, 100, 20" "20 100 100 20" "$(jq -r '.target_rate | floor' "$T/spike.jsonl" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "sends: 20 + 100 + 100 + 20" 240 "$(jq -r .sent <<<"$out")"
expect_eq "every send answered" 240 "$(jq -r .answered <<<"$out")"
expect_match "the summary has P99.9 and the percentile curve" '"p999_ms":[0-9.]+.*"percentiles":\[\{"p":50' "$out"

section "cordbank-load: the closed model"
out=$("$LOAD" --url "$CB_URL" --model closed --users 5 --guilds 2 --think-ms 200 --duration 3 --popularity zipf 2>/dev/null)
expect_eq "the closed run had no errors" 0 $?
sent=$(jq -r .sent <<<"$out")
# 5 users, each one request at a time, arriving over the first 200 ms and
# then thinking an exponential 200 ms (mean) after each answer. With no
# latency at all each user is a Poisson process: the count is 5 first sends
# + Poisson(5 x 2.9 s / 0.2 s = 72.5), sd 8.5. 125 is 6 sd above it
# (P(more) ~ 1e-7); with 50 ms of latency the mean falls to ~63 and 30 is
# as far below (P(fewer) ~ 4e-7). A user that did not wait for its answer
# or did not think would send hundreds or thousands.
expect_eq "5 users thinking 200 ms sent between 30 and 125 in 3 s (sent $sent)" yes \
    "$([ "${sent:-0}" -ge 30 ] && [ "${sent:-0}" -le 125 ] && echo yes || echo no)"
expect_eq "labels: closed, mixed, zipf:1.1, think 200" "closed mixed zipf:1.1 200 null" \
    "$(jq -r '[.model, .mix, .popularity, .think_ms, .rate] | map(tostring) | join(" ")' <<<"$out")"

summary perf-smoke
