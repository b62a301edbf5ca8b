#!/usr/bin/env bash
# tests/fuzz/run.sh — the fuzzers' suite in make test (about 45 s).
#
# Builds the targets when needed (make fuzz-build: clang, build-fuzz/),
# checks that every message protoc-c generates from proto/ is one that
# fuzz_proto picks, then for each target replays its whole seed corpus
# once (-runs=0 over tests/fuzz/corpus/<target>: every regression input
# still passes) and fuzzes it for FUZZ_TIME seconds (default 5) on its
# scratch corpus. One check line per target; the closing line is
# "fuzz: N passed, M failed". The long run is make fuzz.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib/assert.sh
. tests/fuzz/lib.sh
FUZZ_TIME=${FUZZ_TIME:-5}

section "build (make fuzz-build)"
if out=$(make --no-print-directory -s -j"$(nproc)" fuzz-build 2>&1); then
    pass "targets built in $FUZZ_DIR/bin"
else
    fail "make fuzz-build" "$(tail -20 <<<"$out")"
    summary fuzz
    exit 1
fi

section "every proto message is fuzzed"
missing=
for d in $(grep -ho 'cordbank__[a-z0-9_]*__descriptor;' "$FUZZ_DIR"/gen/*.pb-c.h | tr -d ';' | sort -u); do
    grep -q "&$d," tests/fuzz/messages.h || missing="$missing ${d%__descriptor}"
done
# Enum descriptors are not messages.
missing=$(for m in $missing; do
    grep -q "ProtobufCMessageDescriptor ${m}__descriptor" "$FUZZ_DIR"/gen/*.pb-c.h && echo "$m"
done)
expect_eq "messages in $FUZZ_DIR/gen missing from tests/fuzz/messages.h" "" "$missing"

section "replay every seed, then fuzz ${FUZZ_TIME} s each"
mark=$(mktemp)
trap 'rm -f "$mark"' EXIT
for t in $(fuzz_targets); do
    touch "$mark"
    seeds=$(find "$FUZZ_SEEDS/$t" -type f | wc -l)
    fuzz_replay "$t"
    replay=$?
    fuzz_run "$t" "$FUZZ_TIME"
    rc=$?
    execs=$(fuzz_stat "$FUZZ_DIR/logs/$t.log" number_of_executed_units)
    found=$(fuzz_artifacts "$t" "$mark")
    if [ "$replay" -eq 0 ] && [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        pass "fuzz-$t: $seeds seeds replayed, $execs execs in ${FUZZ_TIME} s"
    else
        bad=$([ "$replay" -eq 0 ] && echo "$FUZZ_DIR/logs/$t.log" || echo "$FUZZ_DIR/logs/$t.replay.log")
        fail "fuzz-$t: replay exit $replay, fuzz exit $rc" "       inputs: ${found:-none}
       log: $bad
$(grep -aE 'ERROR|SUMMARY|Assertion|runtime error|fuzz_config:' "$bad" | head -5)"
    fi
done

summary fuzz
