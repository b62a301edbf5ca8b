# tests/lib/assert.sh — tiny assertions for shell tests; summary prints the
# closing line "NAME: N passed, N failed" and returns non-zero on failure.
PASSED=0
FAILED=0
section() { printf '\n== %s\n' "$1"; }
pass() { PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL %s\n%s\n' "$1" "$2"; }
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "       expected: $2
       got:      $3"; fi
}
expect_match() {
    if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "       expected to match: $2
       got: $(head -c 400 <<<"$3")"; fi
}
summary() {
    echo
    echo "$1: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
