# shellcheck shell=bash
# tests/fuzz/lib.sh — what make fuzz (campaign.sh) and make test (run.sh)
# share: where each target's files go, and how one run is started and read.
#
#   build-fuzz/bin/fuzz-<t>        the target (tests/fuzz/fuzz.mk)
#   build-fuzz/corpus/<t>/         scratch corpus: the seeds copied in, then
#                                  whatever libFuzzer adds (kept between runs;
#                                  tests/fuzz/corpus/ is never written)
#   build-fuzz/artifacts/<t>/      crash-*, leak-*, timeout-*, oom-* inputs
#   build-fuzz/logs/<t>.log        the last run's output
FUZZ_DIR=build-fuzz
FUZZ_SEEDS=tests/fuzz/corpus

# The targets built from tests/fuzz/fuzz_*.c, by name.
fuzz_targets() {
    local f
    for f in tests/fuzz/fuzz_*.c; do
        f=${f#tests/fuzz/fuzz_}
        echo "${f%.c}"
    done
}

# The libFuzzer dictionary of a target, if it has one.
fuzz_dict() {
    case $1 in
        gateway | interactions) echo tests/fuzz/dict/json.dict ;;
        config) echo tests/fuzz/dict/config.dict ;;
    esac
}

# fuzz_run TARGET SECONDS: fuzzes TARGET on its scratch corpus (one process,
# no -jobs/-workers), output in its log. Returns libFuzzer's exit status.
fuzz_run() {
    local t=$1 seconds=$2 dict
    mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/artifacts/$t" "$FUZZ_DIR/logs"
    cp -n "$FUZZ_SEEDS/$t"/* "$FUZZ_DIR/corpus/$t"/ 2>/dev/null
    dict=$(fuzz_dict "$t")
    "$FUZZ_DIR/bin/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="$FUZZ_DIR/artifacts/$t/" ${dict:+-dict="$dict"} \
        "$FUZZ_DIR/corpus/$t" >"$FUZZ_DIR/logs/$t.log" 2>&1
}

# fuzz_replay TARGET: runs every seed of TARGET once (-runs=0), output in
# its replay log. Returns libFuzzer's exit status.
fuzz_replay() {
    local t=$1
    mkdir -p "$FUZZ_DIR/artifacts/$t" "$FUZZ_DIR/logs"
    "$FUZZ_DIR/bin/fuzz-$t" -runs=0 -timeout=10 -artifact_prefix="$FUZZ_DIR/artifacts/$t/" \
        "$FUZZ_SEEDS/$t" >"$FUZZ_DIR/logs/$t.replay.log" 2>&1
}

# A final stat of a log (stat::number_of_executed_units: 123), 0 when absent.
fuzz_stat() {
    local v
    v=$(grep -a "^stat::$2:" "$1" 2>/dev/null | tail -1 | awk '{print $2}')
    echo "${v:-0}"
}

# Inputs libFuzzer kept because they failed (not slow-unit-*: those are only slow).
fuzz_artifacts() {
    find "$FUZZ_DIR/artifacts/$1" -maxdepth 1 -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
        -newer "$2" 2>/dev/null | sort
}
