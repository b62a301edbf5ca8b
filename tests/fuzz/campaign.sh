#!/usr/bin/env bash
# tests/fuzz/campaign.sh — make fuzz: every target (or those named) for
# FUZZ_TIME seconds each (default 60), one after the other, each a single
# libFuzzer process on its scratch corpus (tests/fuzz/lib.sh). Prints a
# table, writes load/reports/latest/fuzz.json (execs from libFuzzer's
# final stats), and exits 1 when a target crashed, naming the inputs kept
# in build-fuzz/artifacts/. Build first: make fuzz-build (make fuzz does).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/fuzz/lib.sh
FUZZ_TIME=${FUZZ_TIME:-60}
REPORT=${FUZZ_REPORT:-load/reports/latest/fuzz.json}
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(fuzz_targets); fi
command -v jq >/dev/null || { echo "fuzz: jq is missing (make deps)" >&2; exit 2; }

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mark=$(mktemp)
trap 'rm -f "$mark"' EXIT
rows='[]' failed=()
printf 'fuzz: %d targets, %d s each, on %d cores (load %s)\n' "${#targets[@]}" "$FUZZ_TIME" \
    "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${targets[@]}"; do
    [ -x "$FUZZ_DIR/bin/fuzz-$t" ] || { echo "fuzz: no $FUZZ_DIR/bin/fuzz-$t (make fuzz-build)" >&2; exit 2; }
    touch "$mark"
    seeds=$(find "$FUZZ_SEEDS/$t" -type f | wc -l)
    t0=$(date +%s.%N)
    fuzz_run "$t" "$FUZZ_TIME"
    rc=$?
    seconds=$(printf '%.3f' "$(echo "$(date +%s.%N) - $t0" | bc)") # bc writes .5 for 0.5
    log="$FUZZ_DIR/logs/$t.log"
    execs=$(fuzz_stat "$log" number_of_executed_units)
    mapfile -t artifacts < <(fuzz_artifacts "$t" "$mark")
    crashes=${#artifacts[@]}
    # A failure that left no input (a crash in initialization) still counts.
    [ "$rc" -eq 0 ] || [ "$crashes" -gt 0 ] || crashes=1
    [ "$crashes" -eq 0 ] || failed+=("$t")
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    corpus=$(find "$FUZZ_DIR/corpus/$t" -type f | wc -l)
    printf '  %-13s %12s execs  %8.1f s  %8.0f/s  cov %5s  corpus %5d (seeds %d)  crashes %d\n' \
        "$t" "$execs" "$seconds" "$(echo "$execs / $seconds" | bc -l)" "${cov:-?}" "$corpus" \
        "$seeds" "$crashes"
    for a in "${artifacts[@]}"; do echo "      crash input: $a (log: $log)"; done
    rows=$(jq -c --arg t "$t" --argjson execs "$execs" --argjson crashes "$crashes" \
        --argjson seconds "$seconds" --argjson cov "${cov:-0}" --argjson corpus "$corpus" \
        --argjson seeds "$seeds" --argjson rc "$rc" \
        --args '. + [{target: $t, execs: $execs, crashes: $crashes, seconds: $seconds,
            execs_per_s: (if $seconds > 0 then ($execs / $seconds | floor) else 0 end),
            coverage: $cov, corpus: $corpus, seeds: $seeds, exit: $rc, artifacts: $ARGS.positional}]' \
        "${artifacts[@]}" <<<"$rows")
done

mkdir -p "$(dirname "$REPORT")"
jq -n --argjson targets "$rows" --arg started "$started" --argjson fuzz_time "$FUZZ_TIME" \
    --argjson cores "$(nproc)" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo none)" \
    --arg clang "$(clang --version | head -1)" \
    '{bench: "fuzz", started: $started, commit: $commit, compiler: $clang,
      sanitizers: "fuzzer,address,undefined", fuzz_time_s: $fuzz_time, cores: $cores,
      processes: 1, targets: $targets,
      total_execs: ($targets | map(.execs) | add),
      crashes: ($targets | map(.crashes) | add),
      seconds: ($targets | map(.seconds) | add | floor)}' >"$REPORT"
total=$(jq .total_execs "$REPORT") crashes=$(jq .crashes "$REPORT")
echo "fuzz: $total execs in $(jq .seconds "$REPORT") s, $crashes crashes ($REPORT)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $FUZZ_DIR/artifacts/; replay one:" \
        "$FUZZ_DIR/bin/fuzz-TARGET INPUT)" >&2
    exit 1
fi
