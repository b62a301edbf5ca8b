#!/usr/bin/env bash
# make test: the unit tests (normal build, then ASan+UBSan build) and the
# end-to-end test (both builds). Prints one closing line with the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
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

status=0 timings=
run criterion build/bin/unit-tests --jobs 2
ASAN_OPTIONS=detect_leaks=0 run criterion build-asan/bin/unit-tests --jobs 2
run shell tests/integration/e2e.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/e2e.sh build-asan/bin
run shell tests/integration/commands.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/commands.sh build-asan/bin
run shell tests/integration/admit.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/admit.sh build-asan/bin
LEDGER_LOAD_S=10 run shell tests/integration/ledger.sh build/bin
LEDGER_LOAD_S=10 ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/ledger.sh build-asan/bin
run shell tests/integration/cache.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/cache.sh build-asan/bin
run shell tests/integration/rest.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/rest.sh build-asan/bin
run shell tests/integration/sim-server.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/sim-server.sh build-asan/bin
run shell tests/integration/shards.sh build/bin
ASAN_OPTIONS=detect_leaks=0 run shell tests/integration/shards.sh build-asan/bin
run shell tests/integration/discordjs.sh build/bin
run shell load/peer/test.sh build/bin
run shell tests/integration/cluster.sh build/bin
CHAOS=short run shell tests/chaos/chaos.sh build/bin
run shell tests/integration/perf-smoke.sh build/bin
run shell tests/integration/report.sh build/bin
run shell tests/integration/dashboard.sh build/bin
run shell tests/integration/promtool.sh build/bin
run shell tests/k8s/check.sh

echo
echo "### time per suite (make test must stay under 15 min in CI):"
printf '%s' "$timings"
echo "make test: $passed passed, $failed failed"
exit $status
