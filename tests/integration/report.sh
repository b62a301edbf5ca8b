#!/usr/bin/env bash
# load/report.sh on the fake report directory tests/fixtures/report (no
# services, no database: jq and gnuplot only):
#
#   full        every section and table is there; the goal verdicts and the
#               before/after changes are the fixture's figures; every image
#               report.md names exists and is a real PNG or SVG
#   computed    the same directory with other figures in summary.json and a
#               failed scenario: the verdicts follow the numbers (none is
#               hard-coded), the failed run says so
#   subset      only load ran, no baseline, figures missing: it still
#               renders, says "not measured", and the plots of the dropped
#               scenarios are gone from plots/
#   bare        summary.json alone, no scenarios/ at all
#   malformed   broken summary.json (bad JSON, not an object, a string for
#               a number), a broken timeline line, no summary.json, no
#               argument: exits non-zero with one clear line on stderr
#
#   tests/integration/report.sh
#
# About 30 s (more on a busy machine). Removes its temp dir whatever happens.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/assert.sh"
REPORT=$ROOT/load/report.sh
FIXTURE=$ROOT/tests/fixtures/report

if ! command -v gnuplot >/dev/null || ! command -v jq >/dev/null; then
    fail "gnuplot and jq are installed" "       run deploy/deps.sh gnuplot-nox jq"
    summary report
    exit 1
fi
TMP=$(mktemp -d /tmp/cordbank.report-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# render DIR: runs the report, bounded in time; sets RC, OUT (stdout) and
# ERR (stderr).
render() {
    OUT=$(timeout 120 "$REPORT" "$@" 2>"$TMP/stderr"); RC=$?
    ERR=$(cat "$TMP/stderr")
}
# fresh NAME: a copy of the fixture to work on.
fresh() { rm -rf "${TMP:?}/$1"; cp -r "$FIXTURE" "$TMP/$1"; echo "$TMP/$1"; }
# edit_summary DIR JQ-FILTER: rewrites DIR/summary.json.
edit_summary() { jq "$2" "$1/summary.json" >"$TMP/s.json" && mv "$TMP/s.json" "$1/summary.json"; }
# Every image report.md links to (embedded PNG and click-through SVG).
images() { grep -oE '\(plots/[A-Za-z0-9_.-]+\.(png|svg)\)' "$1/report.md" | tr -d '()' | sort -u; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
is_svg() {
    head -c 200 "$1" | grep -q '<svg\|<?xml' && tail -c 100 "$1" | grep -q '</svg>' || return 1
    # Well-formed XML too, when xmllint is there (Debian libxml2-utils).
    ! command -v xmllint >/dev/null || xmllint --noout "$1" 2>/dev/null
}
# check_images DIR LABEL: every image named exists and is what it says.
check_images() {
    local dir=$1 label=$2 bad='' n=0 f
    while read -r f; do
        [ -n "$f" ] || continue
        n=$((n + 1))
        if [ ! -s "$dir/$f" ]; then bad+=" $f(missing)"
        elif [[ $f == *.png ]] && ! is_png "$dir/$f"; then bad+=" $f(not PNG)"
        elif [[ $f == *.svg ]] && ! is_svg "$dir/$f"; then bad+=" $f(not SVG)"
        fi
    done < <(images "$dir")
    expect_eq "$label: the $n images report.md names exist and are valid PNG/SVG" "" "$bad"
}
# has_line LABEL REGEX: report.md ($MD) has a line matching REGEX.
has_line() { expect_match "$1" "$2" "$MD"; }
lacks_line() { if grep -Eq -- "$2" <<<"$MD"; then fail "$1" "       unexpected line matching: $2"; else pass "$1"; fi; }
count() { grep -Ec -- "$1" <<<"$MD"; }

section "full: every scenario, samples, knees and a baseline"
FULL=$(fresh full)
render "$FULL"
expect_eq "report.sh exits 0" 0 "$RC"
expect_match "it says where the report is" "report: .*/report.md \([0-9]+ plots\)" "$OUT"
MD=$(cat "$FULL/report.md" 2>/dev/null)
has_line "title with date" '^# cordbank benchmark, 2026-12-05 08:00 UTC$'
has_line "git and machine under the title" '^git `abc1234` · 2 cores, AMD EPYC 7B13 · 1,000 simulated users, each sending 0.10 commands/s$'
has_line "goals section" '^## Goals \(issue 8\)$'
has_line "goals tally from the figures" '^\*\*3 of 5 goals met\*\*\. '
has_line "headline table, cordbank beside the peer" '^\| Figure \| cordbank \| peer \| Goal \| Verdict \|$'
has_line "10,000 users: P99 19.8 ms met" '^\| P99, 10,000 users \| 19.8 ms \| 126 ms \| < 50 ms at 10,000 users \| ✅ met \|$'
has_line "10,000 users: 0 errors met" '^\| Errors, 10,000 users \| 0 \|  \| 0 at 10,000 users \| ✅ met \|$'
has_line "the mixed load's P99 carries no goal at 1,000 users" '^\| P99, mixed load \| 12 ms \| 78 ms \|  \|  \|$'
has_line "CPU 15 %: met" '^\| CPU, % of the machine \| 15 % \| 37.4 % \| < 80 % at 1,000 users \| ✅ met \|$'
has_line "cached /balance 2.94 ms: met" '^\| P99, cached /balance \| 2.94 ms \| 35.1 ms \| ≤ 5 ms at 1,000 users \| ✅ met \|$'
has_line "throughput 3.71x the peer: not met" '^\| Throughput ÷ the peer.s, at the peer.s P99 \| 3.71 × \|  \| ≥ 5× \| ❌ not met \|$'
has_line "peer RSS 3.76x cordbank's: not met" '^\| Peer.s RSS ÷ cordbank.s \| 3.76 × \|  \| ≥ 5× .* \| ❌ not met \|$'
has_line "a 20 s soak is not the 10 min goal" '^\| Soak: RSS growth, largest service \| 1.60 % \|  \| flat by bench.sh.s rule, over a 10 min soak \| ❌ not met: the soak ran 20 s, the goal is 10 min \|$'
has_line "figures without a goal are listed" '^\| PostgreSQL TPC-B \(pgbench\) \| 2,410 tps \|  \|  \|  \|$'
has_line "before/after section" '^## Against the previous run$'
has_line "before/after names the baseline" '^Before: git `9f8e7d6`, 2026-12-04 08:00 UTC\. After: this run\.$'
has_line "before/after table" '^\| Figure \| Before \| After \| Change \|  \|$'
has_line "P99 15.8 -> 12 ms: -24.1 %, better" '^\| P99, mixed load \| 15.8 ms \| 12 ms \| -24.1 % \| better \|$'
has_line "knee 2,113 -> 2,746/s: +30.0 %, better" '^\| Stress knee \| 2,113/s \| 2,746/s \| \+30.0 % \| better \|$'
has_line "errors 12 -> 0: better" '^\| Errors, 10,000 users \| 12 \| 0 \| -100.0 % \| better \|$'
has_line "the peer's figures too" '^\| P99, mixed load, peer \| 78 ms \| 78 ms \| 0.0 % \|  \|$'
for s in Load "10,000 users" Balance Stress Spike Soak; do has_line "section $s" "^## $s$"; done
expect_eq "scenarios in group order" "load peer-load users10k peer-users10k balance peer-balance stress peer-stress spike soak" \
    "$(grep -oE '^### [a-z0-9-]+' <<<"$MD" | cut -c5- | tr '\n' ' ' | sed 's/ $//')"
has_line "each names its target" '^### peer-users10k \(peer\)$'
expect_eq "cordbank vs peer tables (load, users10k, balance, stress)" 4 "$(count '^\|  \| cordbank \| peer \| cordbank ÷ peer \|$')"
has_line "side by side: P99 12 vs 78 ms" '^\| P99 \(ms\) \| 12 \| 78 \| 0.15 \|$'
has_line "side by side: CPU of the machine" '^\| CPU, % of the machine \| 15 \| 37.4 \| 0.40 \|$'
expect_eq "a counts table per scenario" 10 "$(count '^\| Sent \| Answered \| OK \| Refused \| Errors \| Answered \(/s\) \|$')"
expect_eq "a percentile table per scenario" 10 "$(count '^\| Latency \| P50 \| P75 \| P90 \| P95 \| P99 \| P99.5 \| P99.9 \| P99.95 \| P99.99 \| P99.999 \| Max \|$')"
expect_eq "a process table per scenario" 10 "$(count '^\| Process \| CPU \(% of a core\) \| RSS \(MB\) \|$')"
has_line "load's counts" '^\| 1,999 \| 1,986 \| 1,966 \| 20 \| 0 \| 99.3 \|$'
has_line "load's percentiles" '^\| ms \| 1.60 \| 2.24 \| 3.36 \| 4.48 \| 12 \| 16.8 \| 26.4 \| 31.2 \| 42 \| 49.2 \| 57.6 \|$'
has_line "errors by kind, with their share" '^Errors by kind: `timeout` 508 \(6.87 % of sent\), `http_503` 127 \(1.72 % of sent\)\.$'
has_line "process totals" '^\| \*\*all\*\* \| 30.0 \| 90 \|$'
has_line "stress steps with the knee" '^\*\*stress\*\* steps; the knee: \*\*2,746 commands/s\*\*\.$'
has_line "the peer's knee" '^\*\*peer-stress\*\* steps; the knee: \*\*741 commands/s\*\*\.$'
has_line "the step that missed" '^\| 963 \| 814 \| 107 \| 642 \| 1,605 \| 126 \| 99 \| \*\*no\*\* \|$'
has_line "soak samples table" '^\| Process \| RSS first \(MB\) \| RSS last \(MB\) \| Growth \| RSS peak \(MB\) \| fds first \| fds last \| fds peak \|$'
has_line "soak: gateway RSS +1.3 %" '^\| gateway \| 14.2 \| 14.4 \| \+1.3 % \| 14.4 \| 38 \| 39 \| 40 \|$'
has_line "soak: PostgreSQL connections" '^PostgreSQL connections \(pg_stat_activity\): 12 to 14\.$'
for p in load-throughput load-latency load-percentiles peer-load-latency users10k-percentiles balance-percentiles \
         stress-knee spike-throughput spike-latency soak-rss soak-fds; do
    has_line "embeds $p.png, linking its SVG" "^\[!\[[^]]+\]\(plots/$p\.png\)\]\(plots/$p\.svg\)$"
done
lacks_line "process samples plotted for the soak only" 'plots/(load|stress-step)-(rss|fds)'
check_images "$FULL" full
expect_eq "no image left in plots/ that report.md does not name" "" \
    "$(comm -23 <(cd "$FULL" && printf '%s\n' plots/* | sort) <(images "$FULL"))"
# Second 9 of spike answered nothing: a gap in the latency plot, not a zero.
expect_eq "spike: second 9 has no latency in the fixture" null "$(jq -c 'select(.t == 9) | .p50_ms' "$FULL/scenarios/spike.timeline.jsonl")"
expect_match "spike: the latency SVG has lines drawn" '<path' "$(cat "$FULL/plots/spike-latency.svg")"

section "computed: other figures, other verdicts"
C=$(fresh computed)
edit_summary "$C" '.users10k_p99_ms = 50 | .users10k_errors = 3 | .cpu_pct = 85.5 | .throughput_ratio_at_peer_p99 = 6.2
                   | .rss_mb_total = 30 | .balance_p99_ms = 5 | .soak_s = 600
                   | .soak_growth[0].rss_last_kb = .soak_growth[0].rss_first_kb * 1.2 + 2048'
echo '{"scenario":"peer-balance","target":"peer","failed":true}' >"$C/scenarios/peer-balance.json"
render "$C"
expect_eq "report.sh exits 0" 0 "$RC"
MD=$(cat "$C/report.md" 2>/dev/null)
has_line "P99 50 ms at 10,000 users: not met (< 50)" '^\| P99, 10,000 users \| 50 ms \| 126 ms \| .* \| ❌ not met \|$'
has_line "3 errors at 10,000 users: not met" '^\| Errors, 10,000 users \| 3 \| .* \| ❌ not met \|$'
has_line "CPU 85.5 %: not met" '^\| CPU, % of the machine \| 85.5 % \| .* \| ❌ not met \|$'
has_line "/balance 5 ms: met (≤ 5)" '^\| P99, cached /balance \| 5 ms \| .* \| ✅ met \|$'
has_line "6.2x the peer: met" '^\| Throughput ÷ the peer.s, at the peer.s P99 \| 6.20 × \|  \| ≥ 5× \| ✅ met \|$'
has_line "RSS from the MB figures, 173 / 30 = 5.77: met" '^\| Peer.s RSS ÷ cordbank.s \| 3.76 × \(173 MB ÷ 30 MB = 5.77\) \|  \| .* \| ✅ met \|$'
has_line "soak: the gateway grew by bench.sh's rule" '^\| Soak: RSS growth, largest service \| 1.60 % \|  \| .* \| ❌ not met: grew: gateway \|$'
has_line "goals tally follows (/balance and the peer goals met)" '^\*\*2 of 5 goals met\*\*'
has_line "a failed scenario says so" '^\*\*This run failed\*\*: the load generator wrote no summary\. Its log: `scenarios/peer-balance.log`\.$'
expect_eq "no side by side with a failed run (load, users10k, stress)" 3 "$(count '^\|  \| cordbank \| peer \| cordbank ÷ peer \|$')"
# The soak rule without soak_growth: summary.json alone is enough (and quick).
R=$TMP/soak-rule
mkdir -p "$R"
jq 'del(.soak_growth) | .soak_rss_growth_pct = 4 | .soak_s = 600' "$FIXTURE/summary.json" >"$R/summary.json"
SOAK_FLAT_PCT=3 render "$R"
MD=$(cat "$R/report.md" 2>/dev/null)
has_line "no soak_growth, SOAK_FLAT_PCT=3: 4 % is not flat" '^\| Soak: RSS growth, largest service \| 4 % \|  \| ≤ 3 % growth, over a 10 min soak \| ❌ not met \|$'
render "$R"
MD=$(cat "$R/report.md" 2>/dev/null)
has_line "the default limit, 10 %: 4 % is flat" '^\| Soak: RSS growth, largest service \| 4 % \|  \| ≤ 10 % growth, over a 10 min soak \| ✅ met \|$'

section "subset: only load ran, no baseline, figures missing"
# The full run's directory, plots and all: the plots of the scenarios
# dropped below must go.
S=$TMP/subset
cp -r "$FULL" "$S"
rm -f "$S"/scenarios/{peer-*,balance,users10k,stress,spike,soak}.* "$S"/*.knee.json
rm -rf "$S/samples"
edit_summary "$S" 'del(.baseline, .peer_rps, .peer_p99_ms, .peer_rss_mb, .peer_cpu_pct, .peer_balance_p99_ms, .peer_users10k_p99_ms,
                       .peer_knee_rps, .knee_rps, .soak_rss_growth_pct, .soak_growth, .soak_s, .soak_errors, .rss_ratio,
                       .throughput_ratio_at_peer_p99, .p99_ratio_at_equal_load, .spike_recovery_s, .spike_p99_ms, .spike_errors,
                       .users10k_rps, .users10k_p99_ms, .users10k_errors, .knee_vs_redis_get, .knee_vs_pgbench)
                   | .balance_p99_ms = null | .redis_get_rps = null | .pgbench_tps = null | .pgbench_select_tps = null'
render "$S"
expect_eq "report.sh exits 0" 0 "$RC"
MD=$(cat "$S/report.md" 2>/dev/null)
has_line "scenarios listed" '^Scenarios in this run: load\.$'
has_line "the load section" '^### load \(cordbank\)$'
has_line "goals not run are not measured" '^\| P99, cached /balance \| — \| — \| ≤ 5 ms at 1,000 users \| not measured \|$'
has_line "10,000 users not run: not measured" '^\| P99, 10,000 users \| — \| — \| < 50 ms at 10,000 users \| not measured \|$'
has_line "tally counts them" '^\*\*1 of 5 goals met\*\* \(4 not measured in this run\)'
lacks_line "no before/after without a baseline" '^## Against the previous run'
lacks_line "no empty sections" '^## (10,000 users|Balance|Stress|Spike|Soak)$'
lacks_line "no side-by-side without the peer" 'cordbank ÷ peer'
lacks_line "figures absent and without a goal are left out" '^\| (Stress knee|PostgreSQL TPC-B \(pgbench\)) \|'
check_images "$S" subset
expect_eq "plots of dropped scenarios are removed" "" "$(cd "$S/plots" && printf '%s\n' * | grep -Ev '^load-(throughput|latency|percentiles)\.(png|svg)$')"

section "bare: summary.json alone"
B=$TMP/bare
mkdir -p "$B"
jq 'del(.baseline)' "$FIXTURE/summary.json" >"$B/summary.json"
render "$B"
expect_eq "report.sh exits 0" 0 "$RC"
MD=$(cat "$B/report.md" 2>/dev/null)
has_line "says there were no scenarios" '^No scenario files in this run'
has_line "still has the goals" '^\| CPU, % of the machine \| 15 % \| 37.4 % \| < 80 % at 1,000 users \| ✅ met \|$'
expect_eq "no images named" "" "$(images "$B")"

section "malformed input: a clear error, non-zero exit"
M=$(fresh malformed)
head -c 200 "$FIXTURE/summary.json" >"$M/summary.json"
render "$M"
expect_eq "truncated summary.json: exit 1" 1 "$RC"
expect_match "  ... names the file and the JSON error" '^report: summary.json is not valid JSON: .*(parse error|Unfinished)' "$ERR"
expect_eq "  ... and writes no report.md" no "$([ -e "$M/report.md" ] && echo yes || echo no)"
echo '[1, 2]' >"$M/summary.json"
render "$M"
expect_eq "summary.json an array: exit 1" 1 "$RC"
expect_match "  ... says so" '^report: summary.json holds a JSON array, not an object$' "$ERR"
jq '.p99_ms = "fast" | .baseline.rps = [1]' "$FIXTURE/summary.json" >"$M/summary.json"
render "$M"
expect_eq "a string for a number: exit 1" 1 "$RC"
expect_match "  ... names both bad keys" '^report: summary.json: p99_ms is "fast", not a number; baseline.rps is \[1\], not a number$' "$ERR"
cp "$FIXTURE/summary.json" "$M/summary.json"
sed -i '5s/.*/{"t":5, "sent": oops}/' "$M/scenarios/load.timeline.jsonl"
render "$M"
expect_eq "a broken timeline line: exit 1" 1 "$RC"
expect_match "  ... names the file and line" '^report: scenarios/load.timeline.jsonl is not valid JSON lines: .*line 5' "$ERR"
rm "$M/summary.json"
render "$M"
expect_eq "no summary.json: exit 1" 1 "$RC"
expect_match "  ... says so" '^report: summary.json not found in ' "$ERR"
render
expect_eq "no argument: exit 2" 2 "$RC"
expect_match "  ... prints usage" '^usage: load/report.sh DIR' "$ERR"
render "$TMP/no-such-dir"
expect_eq "not a directory: exit 2" 2 "$RC"

summary report
