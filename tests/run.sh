#!/usr/bin/env bash
# Every test suite, in one of two modes; prints a time per suite and one
# closing line with the totals.
#
#   tests/run.sh          make test: every suite on the normal build
#                         (build/bin); the unit tests and the suites that
#                         cover the most of our code (e2e, commands) once
#                         more on the ASan+UBSan build (build-asan/bin).
#                         Must stay under 15 min in CI: the other suites'
#                         ASan runs are make test-asan's.
#   tests/run.sh asan     make test-asan: every suite that runs our binaries,
#                         once, on build-asan/bin, with LeakSanitizer on (a
#                         leak at exit fails the process) and UBSan halting
#                         at the first report. Skipped there: the suites that
#                         do not run our build (tests/k8s/check.sh,
#                         tests/integration/report.sh) and the fuzzers
#                         (tests/fuzz/run.sh builds its own sanitized
#                         targets). perf-smoke's gate compares throughput
#                         with the peer bot: an ASan build is not measured,
#                         so its ratios are loosened (PERF_* win when set).
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-default}
case $MODE in
    default) NAME="make test" ;;
    asan) NAME="make test-asan" ;;
    *) echo "usage: tests/run.sh [default|asan]" >&2; exit 2 ;;
esac
passed=0 failed=0 log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Adds a runner's counts from its closing line to the totals.
count_criterion() {
    local line; line=$(grep -a 'Synthesis:' "$log" | tail -1)
    local t p; t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line"); p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
    [ -n "$line" ] || { failed=$((failed + 1)); return; }
    passed=$((passed + p)); failed=$((failed + t - p))
}
count_shell() {
    local line; line=$(grep -aE '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    [ -n "$line" ] || { failed=$((failed + 1)); return; }
    passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$line")))
}
run() {
    local kind=$1 started=$SECONDS; shift
    echo "### $*"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    "count_$kind"
    [ "$rc" -eq 0 ] || { echo "### FAILED (exit $rc): $*"; status=1; }
    timings="$timings$(printf '%5d s  %s' $((SECONDS - started)) "$*")"$'\n'
}

# suite KIND WHERE COMMAND...: one suite; @BIN@ in COMMAND is the bin dir.
#   both    make test: on build/bin, then on build-asan/bin; make test-asan: build-asan/bin
#   normal  make test: on build/bin;                          make test-asan: build-asan/bin
#   nobin   make test only: the suite does not run our build
# make test runs the ASan build without LeakSanitizer, as it always has.
suite() {
    local kind=$1 where=$2; shift 2
    if [ "$MODE" = asan ]; then
        [ "$where" = nobin ] || run "$kind" "${@//@BIN@/build-asan/bin}"
        return
    fi
    run "$kind" "${@//@BIN@/build/bin}"
    [ "$where" != both ] || ASAN_OPTIONS=detect_leaks=0 run "$kind" "${@//@BIN@/build-asan/bin}"
}

if [ "$MODE" = asan ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    export PERF_MIN_RATIO=${PERF_MIN_RATIO:-0.1} PERF_MAX_P99_RATIO=${PERF_MAX_P99_RATIO:-20}
fi

status=0 timings=
suite criterion both @BIN@/unit-tests --jobs 2
suite shell both tests/integration/e2e.sh @BIN@
suite shell both tests/integration/commands.sh @BIN@
suite shell normal tests/integration/admit.sh @BIN@
LEDGER_LOAD_S=10 suite shell normal tests/integration/ledger.sh @BIN@
suite shell normal tests/integration/cache.sh @BIN@
suite shell normal tests/integration/rest.sh @BIN@
suite shell normal tests/integration/sim-server.sh @BIN@
suite shell normal tests/integration/shards.sh @BIN@
suite shell normal tests/integration/secrets.sh @BIN@
suite shell normal tests/integration/curve.sh @BIN@
suite shell normal tests/integration/backup.sh @BIN@
suite shell normal tests/integration/discordjs.sh @BIN@
suite shell normal load/peer/test.sh @BIN@
suite shell normal tests/integration/cluster.sh @BIN@
CHAOS=short suite shell normal tests/chaos/chaos.sh @BIN@
suite shell normal tests/integration/perf-smoke.sh @BIN@
suite shell nobin tests/integration/report.sh
suite shell normal tests/integration/dashboard.sh @BIN@
suite shell normal tests/integration/promtool.sh @BIN@
suite shell nobin tests/k8s/check.sh
FUZZ_TIME=${FUZZ_TIME:-3} suite shell nobin tests/fuzz/run.sh

echo
if [ "$MODE" = asan ]; then
    echo "### time per suite (build-asan/bin; ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS):"
else
    echo "### time per suite (make test must stay under 15 min in CI):"
fi
printf '%s' "$timings"
echo "$NAME: $passed passed, $failed failed"
exit $status
