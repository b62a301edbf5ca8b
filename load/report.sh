#!/usr/bin/env bash
# load/report.sh DIR: turns a benchmark report directory, as load/bench.sh
# writes it, into DIR/report.md and its plots, DIR/plots/*.png and *.svg.
# load/bench.sh calls it at the end of a run; run it by hand to re-render.
#
# What it reads (any scenario may be missing; a missing one is left out):
#   summary.json                   the run's figures, and "baseline": the
#                                  previous run's summary.json, or null
#   scenarios/NAME.json            the load generator's summary of NAME
#                                  ({"failed":true} when the run failed)
#   scenarios/NAME.timeline.jsonl  one line per second of NAME
#   samples/soak.jsonl             RSS, fds, CPU of every process in the soak
#   NAME.knee.json                 stress steps and the knee (stress and
#                                  peer-stress)
#
# What it writes:
#   report.md   the title; the issue 8 goals, each met or not met, computed
#               from summary.json (never hard-coded); the headline figures,
#               cordbank beside the peer; before/after against the baseline;
#               per scenario group cordbank and the peer side by side, then
#               each scenario's tables and plots
#   plots/      NAME-throughput and NAME-latency (every timeline), GROUP-
#               percentiles (cordbank and the peer), stress-knee, soak-rss
#               and soak-fds: PNG to embed, SVG to click through to. Old
#               images there go first: a scenario dropped from a run must
#               lose its plots too.
#
# The goal checks, and the choices behind them:
#   10,000 users  users10k_p99_ms < 50 and users10k_errors == 0 (the
#                 users10k scenario); without it, p99_ms and errors when the
#                 run itself had 10,000 users; else "not measured".
#   /balance      balance_p99_ms <= 5, the balance scenario at >= 1,000 users.
#   CPU           cpu_pct (% of the machine) < 80 at >= 1,000 users.
#   the peer      throughput_ratio_at_peer_p99 (cordbank ÷ peer) >= 5, and
#                 the peer's RSS at least 5x cordbank's five services':
#                 peer_rss_mb ÷ rss_mb_total when both are there, else
#                 rss_ratio (bench.sh's peer ÷ cordbank).
#   soak          at least 600 s (soak_s, else soak.json's duration_s) and
#                 flat: bench.sh's own rule on soak_growth (no service's RSS
#                 up by over 10% + 2 MB, no fd count up by over 5, no more
#                 than 2 more database connections); without soak_growth,
#                 soak_rss_growth_pct <= SOAK_FLAT_PCT (default 10).
#
#   load/report.sh DIR
#
# Needs jq and gnuplot (Debian gnuplot-nox: deploy/deps.sh gnuplot-nox).
# Exits 2 on bad usage, 1 when an input is missing or malformed (one line on
# stderr naming the file and what is wrong) or gnuplot fails; nothing is
# written when an input is bad.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PLOTS=$HERE/plot
SOAK_FLAT_PCT=${SOAK_FLAT_PCT:-10}
SERVICES='["gateway","command","cache","balance","metrics"]'

die() { printf 'report: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || { echo "usage: load/report.sh DIR   (DIR as load/bench.sh writes it)" >&2; exit 2; }
DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "report: $1 is not a directory" >&2; exit 2; }
# Paths go into gnuplot strings in single quotes.
case "$DIR$PLOTS" in *"'"*) die "a path with a single quote cannot be handed to gnuplot: $DIR" ;; esac
[[ $SOAK_FLAT_PCT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SOAK_FLAT_PCT must be a number, got '$SOAK_FLAT_PCT'"
command -v jq >/dev/null || die "jq not found (deploy/deps.sh jq)"
command -v gnuplot >/dev/null || die "gnuplot not found (deploy/deps.sh gnuplot-nox)"

WORK=$(mktemp -d /tmp/cordbank-report.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- inputs
# Every input is checked before anything is written: a report built from
# half a file would look right and be wrong.

# json_object FILE: FILE holds exactly one JSON object.
json_object() {
    local out
    out=$(jq -r -s 'if length != 1 then "holds \(length) JSON values, not one object"
                    elif (.[0] | type) != "object" then "holds a JSON \(.[0] | type), not an object"
                    else empty end' "$1" 2>&1) || die "${1#"$DIR"/} is not valid JSON: $out"
    [ -z "$out" ] || die "${1#"$DIR"/} $out"
}
# json_lines FILE: one JSON object per line.
json_lines() {
    local out
    out=$(jq -r 'if type != "object" then "line \(input_line_number): a JSON \(type), not an object" else empty end' "$1" 2>&1) \
        || die "${1#"$DIR"/} is not valid JSON lines: $out"
    [ -z "$out" ] || die "${1#"$DIR"/}: $(head -1 <<<"$out")"
}

# The headline figures, in report order: cordbank's key (k), the peer's
# (pk, when it has one), the unit, and which way is better for cordbank
# (for the before/after table; "" when neither is).
FIGURES='[
 {"label":"Simulated users","k":"users","unit":""},
 {"label":"Commands per user per second","k":"user_rate","unit":""},
 {"label":"Throughput, mixed load","k":"rps","pk":"peer_rps","unit":"/s","better":"up"},
 {"label":"P50, mixed load","k":"p50_ms","unit":"ms","better":"down"},
 {"label":"P99, mixed load","k":"p99_ms","pk":"peer_p99_ms","unit":"ms","better":"down"},
 {"label":"P99.9, mixed load","k":"p999_ms","unit":"ms","better":"down"},
 {"label":"Errors, mixed load","k":"errors","unit":"","better":"down"},
 {"label":"CPU, % of the machine","k":"cpu_pct","pk":"peer_cpu_pct","unit":"%","better":"down"},
 {"label":"RSS (cordbank'"'"'s five services; the peer process)","k":"rss_mb_total","pk":"peer_rss_mb","unit":"MB","better":"down"},
 {"label":"Throughput, 10,000 users","k":"users10k_rps","unit":"/s","better":"up"},
 {"label":"P99, 10,000 users","k":"users10k_p99_ms","pk":"peer_users10k_p99_ms","unit":"ms","better":"down"},
 {"label":"Errors, 10,000 users","k":"users10k_errors","unit":"","better":"down"},
 {"label":"P99, cached /balance","k":"balance_p99_ms","pk":"peer_balance_p99_ms","unit":"ms","better":"down"},
 {"label":"Closed model (64 users, no think time): throughput","k":"closed_rps","pk":"peer_closed_rps","unit":"/s","better":"up"},
 {"label":"Closed model: P99","k":"closed_p99_ms","pk":"peer_closed_p99_ms","unit":"ms","better":"down"},
 {"label":"Closed model: throughput ÷ the peer'"'"'s","k":"closed_ratio","unit":"×","better":"up"},
 {"label":"Stress knee","k":"knee_rps","pk":"peer_knee_rps","unit":"/s","better":"up"},
 {"label":"Throughput ÷ the peer'"'"'s, at the peer'"'"'s P99","k":"throughput_ratio_at_peer_p99","unit":"×","better":"up"},
 {"label":"Peer'"'"'s P99 ÷ cordbank'"'"'s, at equal load","k":"p99_ratio_at_equal_load","unit":"×","better":"up"},
 {"label":"Peer'"'"'s RSS ÷ cordbank'"'"'s","k":"rss_ratio","unit":"×","better":"up"},
 {"label":"Spike: P99","k":"spike_p99_ms","unit":"ms","better":"down"},
 {"label":"Spike: errors","k":"spike_errors","unit":"","better":"down"},
 {"label":"Spike: recovery","k":"spike_recovery_s","unit":"s","better":"down"},
 {"label":"Soak: length","k":"soak_s","unit":"s"},
 {"label":"Soak: errors","k":"soak_errors","unit":"","better":"down"},
 {"label":"Soak: RSS growth, largest service","k":"soak_rss_growth_pct","unit":"%","better":"down"},
 {"label":"Redis GET (redis-benchmark)","k":"redis_get_rps","unit":"/s","better":"up"},
 {"label":"PostgreSQL TPC-B (pgbench)","k":"pgbench_tps","unit":"tps","better":"up"},
 {"label":"PostgreSQL select-only (pgbench)","k":"pgbench_select_tps","unit":"tps","better":"up"},
 {"label":"Stress knee ÷ Redis GET/s","k":"knee_vs_redis_get","unit":"×","better":"up"},
 {"label":"Stress knee ÷ pgbench TPC-B tps","k":"knee_vs_pgbench","unit":"×","better":"up"}
]'

SUMMARY=$DIR/summary.json
[ -f "$SUMMARY" ] || die "summary.json not found in $DIR (is it a load/bench.sh report directory?)"
json_object "$SUMMARY"
# Types: a figure is a number or null; a string where a number belongs is a
# broken bench, not a value to print.
bad=$(jq -r --argjson figs "$FIGURES" '
    def bad($at): . as $o | $figs[] | (.k, .pk // empty) as $k
        | select(($o | has($k)) and $o[$k] != null and ($o[$k] | type) != "number")
        | "\($at)\($k) is \($o[$k] | tojson | .[:40]), not a number";
    bad(""),
    (if (.baseline | type) == "object" then .baseline | bad("baseline.")
     elif .baseline == null then empty
     else "baseline is a JSON \(.baseline | type), not an object or null" end),
    (if .machine == null or (.machine | type) == "object" then empty else "machine is not an object" end),
    (if .soak_growth == null or (.soak_growth | type) == "array" then empty else "soak_growth is not an array" end),
    ((.date, .git) | select(. != null and type != "string") | "date and git must be strings")
' "$SUMMARY")
[ -z "$bad" ] || die "summary.json: $(tr '\n' ';' <<<"$bad" | sed 's/;$//; s/;/; /g')"

# The scenarios that ran, grouped (NAME with peer-NAME), in the order a
# reader wants them: the steady loads first, the special cases after.
ORDER=(load users10k balance closed stress spike soak)
mapfile -t PRESENT < <(for f in "$DIR"/scenarios/*.json; do [ -e "$f" ] && basename "$f" .json; done)
GROUPS_=("${ORDER[@]}")
for n in "${PRESENT[@]}"; do
    g=${n#peer-}
    [[ " ${GROUPS_[*]} " == *" $g "* ]] || GROUPS_+=("$g")
done
has() { [ -f "$DIR/scenarios/$1.json" ]; }
RAN=()
for g in "${GROUPS_[@]}"; do
    for n in "$g" "peer-$g"; do if has "$n"; then RAN+=("$n"); fi; done
done
for n in "${PRESENT[@]}"; do
    json_object "$DIR/scenarios/$n.json"
    [ ! -f "$DIR/scenarios/$n.timeline.jsonl" ] || json_lines "$DIR/scenarios/$n.timeline.jsonl"
done
[ ! -f "$DIR/samples/soak.jsonl" ] || json_lines "$DIR/samples/soak.jsonl"
for k in "$DIR"/*.knee.json; do [ ! -e "$k" ] || json_object "$k"; done

# ----------------------------------------------------------------- plots
# From here on the old report goes: a run that fails halfway must not leave
# it beside new plots.
rm -f "$DIR/report.md"
mkdir -p "$DIR/plots"
rm -f "$DIR"/plots/*.png "$DIR"/plots/*.svg

# plot SCRIPT NAME TITLE [GNUPLOT-ASSIGNMENTS]: queues plots/NAME.png and
# .svg from load/plot/SCRIPT.gp. All plots are drawn by one gnuplot at the
# end (draw_plots): starting gnuplot costs more than most plots do.
: >"$WORK/plots.gp"
plot() {
    local script=$1 name=$2 title=$3 vars=${4:-} fmt
    for fmt in png svg; do
        printf "reset\nprint 'plots/%s.%s'\ndir='%s'; fmt='%s'; out='%s'; title='%s'; %s\nload '%s'\n" \
            "$name" "$fmt" "$PLOTS" "$fmt" "$DIR/plots/$name.$fmt" "${title//\'/}" "$vars" "$PLOTS/$script.gp" >>"$WORK/plots.gp"
    done
}
draw_plots() {
    echo "unset output" >>"$WORK/plots.gp"
    gnuplot "$WORK/plots.gp" 2>"$WORK/gnuplot.err" && return 0
    # Each plot prints its name first: the last one printed is the culprit.
    die "gnuplot failed on $(grep '^plots/' "$WORK/gnuplot.err" | tail -1): $(grep -v '^plots/' "$WORK/gnuplot.err" | tail -3 | tr '\n' ' ')"
}
# A number for gnuplot, or NaN (a gap in the line).
JQ_COL='def col: if type == "number" then . else "NaN" end;
        def pos: if type == "number" and . > 0 then . else "NaN" end;'

for n in "${PRESENT[@]}"; do
    tl=$DIR/scenarios/$n.timeline.jsonl
    [ -s "$tl" ] || continue
    jq -r "$JQ_COL"'[(.t | col), (.target_rate | col), (.answered | col),
            (.errors | if type == "object" then ([.[]] | add) else . end | col),
            (.p50_ms | pos), (.p99_ms | pos), (.max_ms | pos)] | @tsv' "$tl" >"$WORK/$n.tl"
    plot throughput "$n-throughput" "$n: throughput per second" "dat='$WORK/$n.tl'"
    # A log axis needs at least one latency: a scenario nothing answered
    # has a throughput plot only.
    if awk '$5 != "NaN" || $6 != "NaN" || $7 != "NaN" { found = 1 } END { exit !found }' "$WORK/$n.tl"; then
        plot latency "$n-latency" "$n: latency per second" "dat='$WORK/$n.tl'"
    fi
done

# The soak's process samples: RSS and fds per process over time.
SOAK_SAMPLES=$DIR/samples/soak.jsonl
if has soak && [ -s "$SOAK_SAMPLES" ]; then
    procs=$(jq -s -r '[.[].proc | strings] | reduce .[] as $p ([]; if any(.[]; . == $p) then . else . + [$p] end) | join(" ")' "$SOAK_SAMPLES")
    if [ -n "$procs" ]; then
        for what in rss fds; do
            jq -s -r --arg procs "$procs" --arg what "$what" "$JQ_COL"'
                ($procs | split(" "))[] as $p
                | ([.[] | select(.proc == $p)
                    | [(.t | col), (if $what == "rss" then (.rss_kb | if type == "number" then . / 1024 else . end) else .fds end | col)]
                    | @tsv] | join("\n")) + "\n\n"' "$SOAK_SAMPLES" >"$WORK/soak.$what"
        done
        plot samples soak-rss "soak: resident memory per process" "dat='$WORK/soak.rss'; names='$procs'; ylabel='RSS (MB)'"
        plot samples soak-fds "soak: open file descriptors per process" "dat='$WORK/soak.fds'; names='$procs'; ylabel='open fds'"
    fi
fi

# Per group: the percentile curves and the stress knee, cordbank against the
# peer, with whichever of the two ran.
for g in "${GROUPS_[@]}"; do
    names=''; : >"$WORK/$g.pct"
    for n in "$g" "peer-$g"; do
        has "$n" || continue
        pts=$(jq -r '.percentiles[]? | select((.p | type) == "number" and .p < 100 and (.ms | type) == "number" and .ms > 0)
                     | [(1 / (1 - .p / 100) | log10), .ms] | @tsv' "$DIR/scenarios/$n.json")
        [ -n "$pts" ] || continue
        printf '%s\n\n\n' "$pts" >>"$WORK/$g.pct"
        if [ "$n" = "$g" ]; then names+=" cordbank"; else names+=" peer"; fi
    done
    [ -z "$names" ] || plot percentiles "$g-percentiles" "$g: latency percentiles" "dat='$WORK/$g.pct'; names='${names# }'"

    names='' knees=''; : >"$WORK/$g.knee"
    for n in "$g" "peer-$g"; do
        k=$DIR/$n.knee.json
        [ -f "$k" ] || continue
        pts=$(jq -r "$JQ_COL"'.steps[]? | select((.rate | type) == "number") | [.rate, (.p99_ms | pos)] | @tsv' "$k")
        [ -n "$pts" ] || continue
        printf '%s\n\n\n' "$pts" >>"$WORK/$g.knee"
        if [ "$n" = "$g" ]; then names+=" cordbank"; else names+=" peer"; fi
        knees+=" $(jq -r '.knee_rps | if type == "number" then . else "null" end' "$k")"
    done
    [ -z "$names" ] || plot knee "$g-knee" "$g: P99 against offered rate" "dat='$WORK/$g.knee'; names='${names# }'; knees='${knees# }'"
done
draw_plots

# ---------------------------------------------------------------- report
# Markdown helpers shared by every jq program below.
JQ_LIB='
def num: if type == "number" then . else null end;
def commas: tostring as $s | if ($s | length) <= 3 then $s else ($s[:-3] | commas) + "," + $s[-3:] end;
def lpad0($n): if length < $n then ("0" * ($n - length)) + . else . end;
def fixed($n): if $n == 0 then (if . < 0 then "-" else "" end) + (fabs | round | commas)
    else (. * pow(10; $n) | round) as $i | ($i | fabs | tostring | lpad0($n + 1)) as $s
         | (if $i < 0 then "-" else "" end) + ($s[:-$n] | commas) + "." + $s[-$n:] end;
# Numbers as a person reads them: whole numbers with separators, about
# three significant figures otherwise; missing is a dash.
def fmt: if type != "number" then "—"
    elif . == round or fabs >= 100 then fixed(0)
    elif fabs >= 10 then fixed(1)
    elif fabs >= 0.1 then fixed(2)
    else fixed(3) end;
def unit($u): if type != "number" then "—" elif $u == "" then fmt elif $u == "/s" then fmt + $u else fmt + " " + $u end;
def cell: if type == "string" then . else fmt end | gsub("\\|"; "\\|") | gsub("\n"; " ");
def row: "| " + (map(cell) | join(" | ")) + " |";
# table(ALIGN): a header row, one letter per column, l left or r right.
def table($al): row + "\n|" + ($al | split("") | map(if . == "l" then " --- |" else " ---: |" end) | join(""));
def hdr: length as $n | table("l" + ([range($n - 1)] | map("r") | join("")));
def ratio($a; $b): if ($a | num) != null and ($b | num) != null and $b != 0 then $a / $b else null end;
def sum: [.[] | num] | add;
def errs: .errors | if type == "object" then ([.[] | num] | add // 0) elif type == "number" then . else null end;
def when: if type == "string" then sub("T"; " ") | sub(":[0-9]{2}(\\.[0-9]+)?Z$"; " UTC") else "unknown date" end;
'

# img NAME ALT: the embedded PNG, linking to its SVG, when it was drawn.
img() {
    if [ -f "$DIR/plots/$1.png" ]; then printf '[![%s](plots/%s.png)](plots/%s.svg)\n\n' "$2" "$1" "$1"; fi
}
# field SCENARIO KEY: a number from scenarios/SCENARIO.json, or null.
field() { if has "$1"; then jq --arg k "$2" '.[$k] | if type == "number" then . else null end' "$DIR/scenarios/$1.json"; else echo null; fi; }

header() {
    jq -r "$JQ_LIB"'
    "# cordbank benchmark, \(.date | when)",
    "",
    "git `\(.git // "unknown")` · \(.machine.cores // "?") cores, \(.machine.cpu // "unknown CPU") · \(.users | if type == "number" then fmt + " simulated users" else "users unknown" end)" +
        (.user_rate | num | if . then ", each sending \(fmt) commands/s" else "" end),
    ""' "$SUMMARY"
    if [ ${#RAN[@]} -gt 0 ]; then
        printf 'Scenarios in this run: %s.\n\n' "$(printf '%s, ' "${RAN[@]}" | sed 's/, $//')"
    else
        printf 'No scenario files in this run (scenarios/ is empty): the figures below are all there is.\n\n'
    fi
}

# The goal checks (the header of this file says why each is what it is):
# one object per goal-carrying figure, {g, k, goal, verdict, met}.
GOALS_JQ='
def short($u; $need): if ($u | num) != null and $u < $need then "measured at \($u | fmt) users, the goal is at \($need | fmt)" else null end;
# check(v; test; caveat): met, not met (and why), or not measured.
def check($v; f; $why): if ($v | num) == null then {verdict: "not measured", met: null}
    elif ($v | f) | not then {verdict: "❌ not met", met: false}
    elif $why != null then {verdict: "❌ not met: \($why)", met: false}
    else {verdict: "✅ met", met: true} end;
. as $s
| ($s.soak_s // $soak_s) as $soak_len
| (if ($s.rss_mb_total | num) != null and ($s.peer_rss_mb | num) != null and $s.rss_mb_total > 0
   then $s.peer_rss_mb / $s.rss_mb_total else $s.rss_ratio end) as $rss
| (if ($s.users10k_p99_ms | num) != null or ($s.users10k_errors | num) != null then "users10k"
   elif ($s.users | num) != null and $s.users >= 10000 then "run" else "none" end) as $tenk
| [ (if $tenk == "run" then
       {g: 1, k: "p99_ms", goal: "< 50 ms at 10,000 users"} + check($s.p99_ms; . < 50; null),
       {g: 1, k: "errors", goal: "0 at 10,000 users"} + check($s.errors; . == 0; null)
     else
       {g: 1, k: "users10k_p99_ms", goal: "< 50 ms at 10,000 users"}
           + check($s.users10k_p99_ms; . < 50; short($u10k; 10000)),
       {g: 1, k: "users10k_errors", goal: "0 at 10,000 users"}
           + check($s.users10k_errors; . == 0; short($u10k; 10000))
     end),
    {g: 2, k: "balance_p99_ms", goal: "≤ 5 ms at 1,000 users"}
        + check($s.balance_p99_ms; . <= 5; short($bal_users // $s.users; 1000)),
    {g: 3, k: "cpu_pct", goal: "< 80 % at 1,000 users"} + check($s.cpu_pct; . < 80; short($s.users; 1000)),
    {g: 4, k: "throughput_ratio_at_peer_p99", goal: "≥ 5×"} + check($s.throughput_ratio_at_peer_p99; . >= 5; null),
    {g: 4, k: "rss_ratio", goal: "≥ 5× (cordbank at most a fifth)"} + check($rss; . >= 5; null)
        + (if $rss != null and (($s.rss_ratio | num) == null or ($rss - $s.rss_ratio | fabs) > 0.01)
           then {note: " (\($s.peer_rss_mb | fmt) MB ÷ \($s.rss_mb_total | fmt) MB = \($rss | fixed(2)))"} else {} end),
    ( (if ($s.soak_growth | type) == "array" and ($s.soak_growth | length) > 0 then
         [$s.soak_growth[]
          | select(((.proc | IN($services[])) and (.rss_last_kb | num) != null and .rss_last_kb > (.rss_first_kb // 0) * 1.10 + 2048)
                   or ((.fds_last | num) != null and .fds_last > (.fds_first // 0) + 5)
                   or ((.db_last | num) != null and .db_last > (.db_first // 0) + 2))
          | .proc] as $grew
         | {rule: "flat by bench.sh'"'"'s rule", bench: true, v: ($s.soak_rss_growth_pct // 0),
            why: (if ($grew | length) > 0 then "grew: \($grew | join(", "))" else null end)}
       else {rule: "≤ \($flat) % growth", bench: false, v: $s.soak_rss_growth_pct, why: null} end) as $r
      | {g: 5, k: "soak_rss_growth_pct", goal: "\($r.rule), over a 10 min soak"}
        + check($r.v; if $r.bench then $r.why == null else . <= $flat end;
                if ($soak_len | num) != null and $soak_len < 600 then "the soak ran \($soak_len | fmt) s, the goal is 10 min" else null end)
        + (if $r.why != null then {verdict: "❌ not met: \($r.why)"} else {} end) )
  ]'

goals() {
    jq -r --argjson figs "$FIGURES" --argjson services "$SERVICES" --argjson flat "$SOAK_FLAT_PCT" \
        --argjson u10k "$(field users10k users)" --argjson bal_users "$(field balance users)" \
        --argjson soak_s "$(field soak duration_s)" "$JQ_LIB$GOALS_JQ"'
    as $rows | . as $s
    | ($rows | group_by(.g) | map(if any(.[]; .met == false) then "no" elif any(.[]; .met == null) then "unknown" else "yes" end)) as $g
    | "## Goals (issue 8)",
      "",
      "**\($g | map(select(. == "yes")) | length) of \($g | length) goals met**" +
        (($g | map(select(. == "unknown")) | length) as $u | if $u > 0 then " (\($u) not measured in this run)" else "" end) +
        ". The goals: 10,000 users on the mixed open-model load with P99 under 50 ms and no errors; cached /balance P99 at most 5 ms at 1,000 users; CPU under 80 % at 1,000 users; at least 5× the peer'"'"'s throughput at the peer'"'"'s P99 with at most a fifth of its RSS; flat RSS over a 10 min soak.",
      "",
      (["Figure", "cordbank", "peer", "Goal", "Verdict"] | table("lrrll")),
      ($figs[] | . as $f | ($rows | map(select(.k == $f.k)) | first) as $r
       | select(($s[$f.k] | num) != null or ($f.pk != null and ($s[$f.pk] | num) != null) or $r != null)
       | [$f.label, ($s[$f.k] | unit($f.unit)) + ($r.note // ""),
          (if $f.pk then $s[$f.pk] | unit($f.unit) else "" end), ($r.goal // ""), ($r.verdict // "")] | row),
      ""' "$SUMMARY"
}

before_after() {
    jq -e '.baseline | type == "object"' "$SUMMARY" >/dev/null || return 0
    jq -r --argjson figs "$FIGURES" "$JQ_LIB"'
    . as $s | .baseline as $b
    | "## Against the previous run",
      "",
      "Before: git `\($b.git // "unknown")`, \($b.date | when). After: this run." +
        (if ($b.machine // null) != ($s.machine // null) then " **The machines differ**: compare with care." else "" end) +
        (if ($b.users // null) != ($s.users // null) then " **The users differ** (\($b.users | fmt) then \($s.users | fmt))." else "" end),
      "",
      (["Figure", "Before", "After", "Change", ""] | table("lrrrl")),
      ($figs[] | ({label: .label, k: .k, unit: .unit, better: .better},
                   (select(.pk) | {label: "\(.label), peer", k: .pk, unit: .unit, better: ""}))
       | . as $f | ($b[$f.k] | num) as $x | ($s[$f.k] | num) as $y
       | select($x != null or $y != null)
       | (if $x != null and $y != null and $x != 0 then ($y - $x) / $x * 100 else null end) as $c
       | [$f.label, ($x | unit($f.unit)), ($y | unit($f.unit)),
          (if $c == null then "—" else (if $c > 0 then "+" else "" end) + ($c | fixed(1)) + " %" end),
          (if $c == null or ($f.better // "") == "" then ""
           elif ($c | fabs) < 1 then "≈ same"
           elif ($c > 0) == ($f.better == "up") then "better" else "worse" end)] | row),
      ""' "$SUMMARY"
}

# side_by_side GROUP: cordbank's and the peer's scenario in one table.
side_by_side() {
    local g=$1
    has "$g" && has "peer-$g" || return 0
    jq -e -s 'any(.[]; .failed == true)' "$DIR/scenarios/$g.json" "$DIR/scenarios/peer-$g.json" >/dev/null && return 0
    jq -r -s "$JQ_LIB"'
    def cpu: .cpu_pct_machine // (.cpu_pct | if type == "object" then sum else null end);
    .[0] as $c | .[1] as $p
    | (["", "cordbank", "peer", "cordbank ÷ peer"] | hdr),
      ([["Users", "users"], ["Offered rate (/s)", "rate"], ["Answered (/s)", "commands_per_s"], ["P50 (ms)", "p50_ms"],
        ["P90 (ms)", "p90_ms"], ["P99 (ms)", "p99_ms"], ["P99.9 (ms)", "p999_ms"], ["Max (ms)", "max_ms"]][]
       | select(($c[.[1]] | num) != null or ($p[.[1]] | num) != null)
       | [.[0], ($c[.[1]] | num), ($p[.[1]] | num), ratio($c[.[1]]; $p[.[1]])] | row),
      (["Errors", ($c | errs), ($p | errs), ratio($c | errs; $p | errs)] | row),
      (["CPU, % of the machine", ($c | cpu), ($p | cpu), ratio($c | cpu; $p | cpu)] | row),
      (["RSS, all processes (MB)", ($c.rss_mb | sum), ($p.rss_mb | sum), ratio($c.rss_mb | sum; $p.rss_mb | sum)] | row),
      ""' "$DIR/scenarios/$g.json" "$DIR/scenarios/peer-$g.json"
}

# scenario NAME: one scenario's section.
scenario() {
    local n=$1
    jq -r --arg n "$n" "$JQ_LIB"'
    def kinds: .errors | if type == "object" then . elif type == "number" then {errors: .} else {} end;
    . as $s
    | ($s | kinds) as $e | ($s | errs // 0) as $etotal
    | "### \($n) (\(.target // "unknown target"))",
      "",
      if .failed == true then
        "**This run failed**: the load generator wrote no summary. Its log: `scenarios/\($n).log`.", ""
      else
      "*" + ([(.model // null | if . then "\(.) model" else empty end), (.mix // null | if . then "mix: \(.)" else empty end),
              (.popularity // null | if . then "popularity: \(.)" else empty end),
              (.users | num | if . then "\(fmt) users" else empty end), (.guilds | num | if . then "\(fmt) guilds" else empty end),
              (.rate | num | if . then "\(fmt)/s offered" else empty end),
              (.duration_s | num | if . then "\(fmt) s" else empty end)] | join(" · ")) + "*",
      "",
      (["Sent", "Answered", "OK", "Refused", "Errors", "Answered (/s)"] | hdr),
      ([.sent, .answered, .ok, .refused, $etotal, .commands_per_s] | map(num) | row),
      "",
      (if (.percentiles | type) == "array" and (.percentiles | length) > 0
       then (.percentiles | map(select((.p | type) == "number"))) as $ps
            | ($ps | map(if .p == 100 then "Max" else "P\(.p)" end) | ["Latency"] + . | hdr),
              ($ps | map(.ms | num) | ["ms"] + . | row)
       else (["Latency", "P50", "P90", "P99", "P99.9", "Max"] | hdr),
            (["ms", .p50_ms, .p90_ms, .p99_ms, .p999_ms, .max_ms] | map(if type == "string" then . else num end) | row) end),
      "",
      (if $etotal == 0 then "No errors."
       else "Errors by kind: " + ($e | to_entries | map(select((.value | num // 0) > 0))
            | sort_by(-.value) | map("`\(.key)` \(.value | fmt)" +
                (if ($s.sent | num // 0) > 0 then " (\(.value / $s.sent * 100 | if . < 0.01 then "< 0.01" else fixed(2) end) % of sent)" else "" end))
            | join(", ")) + "." end),
      "",
      ((((.cpu_pct // {}) | if type == "object" then keys_unsorted else [] end) + ((.rss_mb // {}) | if type == "object" then keys_unsorted else [] end))
       | reduce .[] as $k ([]; if any(.[]; . == $k) then . else . + [$k] end)) as $ks
      | (if ($ks | length) == 0 then empty else
          (["Process", "CPU (% of a core)", "RSS (MB)"] | hdr),
          (($s.cpu_pct // {}) as $c | ($s.rss_mb // {}) as $r | $ks[] | [., ($c[.] | num), ($r[.] | num)] | row),
          (["**all**", ($s.cpu_pct // {} | sum), ($s.rss_mb // {} | sum)] | row),
          "",
          (if ($s.cpu_pct_machine | num) != null then "CPU of the whole machine: \($s.cpu_pct_machine | fmt) %. RSS is each process'"'"'s peak in the samples.\n" else empty end)
        end)
      end' "$DIR/scenarios/$n.json"
    img "$n-throughput" "$n: throughput per second"
    img "$n-latency" "$n: latency per second"
    if [ "$n" = soak ]; then soak_table; fi
}

# knee_table NAME: the stress steps of NAME.knee.json.
knee_table() {
    local k=$DIR/$1.knee.json
    [ -f "$k" ] || return 0
    jq -r --arg n "$1" "$JQ_LIB"'
      "**\($n)** steps" + (if (.knee_rps | num) != null then "; the knee: **\(.knee_rps | fmt) commands/s**." else "; no step held, no knee." end),
      "",
      (["Offered (/s)", "Answered (/s)", "P50 (ms)", "P99 (ms)", "Max (ms)", "Errors", "CPU (% of the machine)", "Held"] | hdr),
      (.steps[]? | ([.rate, .rps, .p50_ms, .p99_ms, .max_ms, .errors, .cpu_pct_machine] | map(num))
                 + [if .good == true then "yes" elif .good == false then "**no**" else "" end] | row),
      ""' "$k"
}

# soak_table: per process, the first and last sample and the peak.
soak_table() {
    [ -s "$SOAK_SAMPLES" ] || return 0
    img soak-rss "soak: resident memory per process"
    img soak-fds "soak: open file descriptors per process"
    jq -s -r "$JQ_LIB"'
      def mb: if type == "number" then . / 1024 else null end;
      (map(.proc | strings) | reduce .[] as $p ([]; if any(.[]; . == $p) then . else . + [$p] end)) as $procs
      | (map(.t | num) | [min, max]) as $span
      | "Process samples, \($span[0] | fmt) s to \($span[1] | fmt) s:",
        "",
        (["Process", "RSS first (MB)", "RSS last (MB)", "Growth", "RSS peak (MB)", "fds first", "fds last", "fds peak"] | hdr),
        ($procs[] as $p | [.[] | select(.proc == $p)] | sort_by(.t)
         | (first.rss_kb | mb) as $a | (last.rss_kb | mb) as $z
         | [$p, $a, $z, (ratio($z - $a; $a) | if . == null then "—" else (if . > 0 then "+" else "" end) + (. * 100 | fixed(1)) + " %" end),
            (map(.rss_kb | num) | max | mb), (first.fds | num), (last.fds | num), (map(.fds | num) | max)] | row),
        "",
        (map(.db_conns | num | select(. != null)) | if length > 0 then "PostgreSQL connections (pg_stat_activity): \(min | fmt) to \(max | fmt).\n" else empty end)
    ' "$SOAK_SAMPLES"
}

# What each group measures, for the reader who did not write the bench.
describe() {
    case $1 in
        load) echo "The mixed workload (70% /balance, 10% /pay, 10% /daily and /work, 10% /leaderboard and /history) on the open model: sends go out at a fixed rate whatever the answers do, so queueing shows as latency." ;;
        users10k) echo "The mixed workload with 10,000 members: the scale of issue 8's first goal." ;;
        balance) echo "/balance alone: the cached read path." ;;
        closed) echo "The closed model: each simulated user waits for its answer before sending again." ;;
        stress) echo "Steps of rising open-model load until one misses (an error, under 95% answered, or P99 over the bench's limit); the knee is the last step held. Then a ramp from a quarter of the knee to twice it." ;;
        spike) echo "A burst ten times the steady rate, then back: how the system absorbs it and how fast P99 recovers." ;;
        soak) echo "The steady mixed load held for a long time: memory, file descriptors and database connections must stay flat." ;;
        *) echo "" ;;
    esac
}

{
    header
    goals
    before_after
    for g in "${GROUPS_[@]}"; do
        has "$g" || has "peer-$g" || [ -f "$DIR/$g.knee.json" ] || [ -f "$DIR/peer-$g.knee.json" ] || continue
        title=$(tr '[:lower:]' '[:upper:]' <<<"${g:0:1}")${g:1}
        [ "$g" = users10k ] && title="10,000 users"
        printf '## %s\n\n' "$title"
        d=$(describe "$g"); [ -z "$d" ] || printf '%s\n\n' "$d"
        side_by_side "$g"
        img "$g-percentiles" "$g: latency percentiles$(has "$g" && has "peer-$g" && echo ', cordbank and peer')"
        img "$g-knee" "$g: P99 against offered rate"
        knee_table "$g"
        knee_table "peer-$g"
        for n in "$g" "peer-$g"; do
            if has "$n"; then scenario "$n"; fi
        done
    done
    printf -- '---\n\nWritten by `load/report.sh` from `summary.json`, `scenarios/` and `samples/`. Plots: PNG embedded, click one for its SVG.\n'
} >"$WORK/report.md"
mv "$WORK/report.md" "$DIR/report.md"
echo "report: $DIR/report.md ($(find "$DIR/plots" -name '*.png' | wc -l) plots)"
