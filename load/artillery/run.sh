#!/usr/bin/env bash
# make bench-artillery: the Artillery scenario (scenario.yml) against a whole
# local cordbank — PostgreSQL, Redis and the five services from BIN, on free
# loopback ports — then a report derived from Artillery's own JSON.
#
#   load/artillery/run.sh [BIN]          BIN defaults to build/bin
#   CORDBANK_RATE=200  CORDBANK_DURATION=30  CORDBANK_WARMUP_S=10
#   CORDBANK_USERS=1000  CORDBANK_GUILDS=10  CORDBANK_SEED=<64 hex>
#
# The run is a warm-up ramp (rate/10 up to the rate, CORDBANK_WARMUP_S
# seconds; 0 skips it) and then CORDBANK_DURATION seconds of arrivals at
# CORDBANK_RATE per second. Writes $BENCH_REPORT_DIR/artillery.json (default
# load/reports/latest/) and prints one line. Exits 1 when any request failed
# (transport error, or an answer processor.js calls an error) or nothing was
# answered, 2 on bad settings. CB_KEEP_RUN=1 keeps the run directory, with
# Artillery's raw report and console output and the services' logs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../deploy/local/lib.sh"
BIN=${1:-$CB_ROOT/build/bin}
BIN=$(cd "$BIN" && pwd) || exit 2

RATE=${CORDBANK_RATE:-200}
DURATION=${CORDBANK_DURATION:-30}
WARMUP=${CORDBANK_WARMUP_S:-10}
export CORDBANK_USERS=${CORDBANK_USERS:-1000} CORDBANK_GUILDS=${CORDBANK_GUILDS:-10}
REPORT_DIR=${BENCH_REPORT_DIR:-$HERE/../reports/latest}
for v in CORDBANK_RATE:$RATE CORDBANK_DURATION:$DURATION CORDBANK_USERS:$CORDBANK_USERS \
         CORDBANK_GUILDS:$CORDBANK_GUILDS; do
    [[ ${v#*:} =~ ^[1-9][0-9]{0,6}$ ]] || { echo "artillery: ${v%%:*} must be a positive whole number, got '${v#*:}'" >&2; exit 2; }
done
[[ $WARMUP =~ ^[0-9]{1,4}$ ]] || { echo "artillery: CORDBANK_WARMUP_S must be a whole number, got '$WARMUP'" >&2; exit 2; }
for tool in cordbank-gateway cordbank-command cordbank-balance cordbank-cache cordbank-metrics; do
    [ -x "$BIN/$tool" ] || { echo "artillery: $BIN/$tool not found (make all?)" >&2; exit 2; }
done
for tool in node jq; do
    command -v "$tool" >/dev/null || { echo "artillery: needs $tool" >&2; exit 2; }
done

# There is no internet here: no telemetry, no proxy (Artillery's HTTP agent
# honours HTTP_PROXY and ignores NO_PROXY).
export ARTILLERY_DISABLE_TELEMETRY=true
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy
if [ ! -x "$HERE/node_modules/.bin/artillery" ]; then
    cb_log "installing Artillery (npm ci)"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
ARTILLERY_VERSION=$(node -p 'require(process.argv[1]).version' "$HERE/node_modules/artillery/package.json")
mkdir -p "$REPORT_DIR"

export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}
cb_start_all "$BIN"
export CORDBANK_GATEWAY_URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"

# The phases from the environment; scenario.yml's own are the defaults of a
# direct run. A ramp starts at a tenth of the rate (at least 1 per second).
PHASES=$(jq -cn --argjson rate "$RATE" --argjson duration "$DURATION" --argjson warmup "$WARMUP" '
    {config: {phases: (
        (if $warmup > 0 then [{name: "warm-up", duration: $warmup,
            arrivalRate: ([($rate / 10 | floor), 1] | max), rampTo: $rate}] else [] end)
        + [{name: "sustained", duration: $duration, arrivalRate: $rate}])}}')
RAW=$CB_RUN/artillery-raw.json
cb_log "Artillery $ARTILLERY_VERSION: ${WARMUP}s warm-up, then $RATE/s for ${DURATION}s against $CORDBANK_GATEWAY_URL"
status=0
(cd "$HERE" && node_modules/.bin/artillery run --quiet --overrides "$PHASES" --output "$RAW" scenario.yml) \
    >"$CB_RUN/logs/artillery.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$RAW" ]; then
    echo "artillery: the run failed (exit $status); its output:" >&2
    tail -n 40 "$CB_RUN/logs/artillery.log" >&2
    exit 1
fi

# From Artillery's aggregate: the cordbank.* counters of processor.js, and
# errors.<code> (no HTTP answer: ETIMEDOUT, ECONNREFUSED, ...) as
# transport.<code>. rps is over the whole run, warm-up included;
# rps_peak_10s the best of Artillery's 10 s windows (the sustained rate when
# the run kept up). Latencies are http.response_time (request sent to first
# byte, ms), over the whole run, warm-up included.
jq --argjson rate "$RATE" --argjson duration "$DURATION" --argjson warmup "$WARMUP" \
   --argjson users "$CORDBANK_USERS" --argjson guilds "$CORDBANK_GUILDS" \
   --arg version "$ARTILLERY_VERSION" '
    .aggregate as $a | ($a.counters // {}) as $c | ($a.summaries["http.response_time"] // {}) as $t |
    ((($a.lastCounterAt // 0) - ($a.firstCounterAt // 0)) / 1000) as $wall |
    ($c["http.responses"] // 0) as $answered |
    def ms: if . == null then null else (. * 10 | round) / 10 end;
    {bench: "artillery", scenario: "mixed (70% balance, 10% pay, 10% daily/work, 10% leaderboard/history)",
     artillery_version: $version, rate: $rate, duration_s: $duration, warmup_s: $warmup,
     users: $users, guilds: $guilds,
     requests: ($c["http.requests"] // 0), answered: $answered,
     wall_s: ($wall * 10 | round / 10),
     rps: (if $wall > 0 then ($answered / $wall * 10 | round) / 10 else 0 end),
     rps_peak_10s: ([.intermediate[]? | (.counters["http.responses"] // 0) / 10] | max // 0),
     p50_ms: ($t.median | ms), p95_ms: ($t.p95 | ms), p99_ms: ($t.p99 | ms), max_ms: ($t.max | ms),
     ok: ($c["cordbank.ok"] // 0), refused: ($c["cordbank.refused"] // 0),
     errors: ([$c | to_entries[]
               | select(.key | startswith("cordbank.error.") or startswith("errors."))
               | {key: (.key | sub("^cordbank\\.error\\."; "") | sub("^errors\\."; "transport.")), value}]
              | from_entries),
     sent: ([$c | to_entries[] | select(.key | startswith("cordbank.sent."))
             | {key: (.key | sub("^cordbank\\.sent\\."; "")), value}] | from_entries),
     vusers_failed: ($c["vusers.failed"] // 0)}' "$RAW" >"$REPORT_DIR/artillery.json"

R=$REPORT_DIR/artillery.json
jq -r '"artillery: \(.requests) requests, \(.rps)/s, p50 \(.p50_ms) ms, p95 \(.p95_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms; ok \(.ok), refused \(.refused), errors \(.errors | add // 0)\(if (.errors | length) > 0 then " \(.errors)" else "" end)"' "$R"
jq -e '.answered > 0 and (.errors | length) == 0 and .vusers_failed == 0' "$R" >/dev/null || exit 1
