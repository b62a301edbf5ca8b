# tests/chaos/figures.sh — the chaos suite's arithmetic, in jq: one
# phase's figures from its load outputs, the run's totals from the phases,
# and the Markdown report. Sourced by tests/chaos/chaos.sh; no state here.
#
# Definitions (the issue's, made exact):
#  - a command is available when cordbank-load saw it answered ok or
#    refused (a refusal is an answer) within 3 s (--timeout-ms 3000: a later
#    answer is error "timeout"); availability = (ok + refused) / sent;
#  - recovery after a fault at offset F s: the per-second timelines of all
#    gateways summed (window t covers (t-1, t]); among the windows after F
#    and up to the next fault, the last one with errors ends at L;
#    recovery = max(0, L - F), 0 when there are none. null (not
#    recovered) for the last fault of a phase whose last 3 s still had
#    errors. An error is counted in the second it was reached (a timeout
#    3 s after its send, a deferral at 2.5 s), so a fault's timeouts extend
#    its recovery by up to 3 s: that is what the users saw.

# chaos_phase_json DIR NAME DESCRIPTION INVARIANTS ACKED: one JSON object
# for the phase whose outputs are in DIR (load-K.json, load-K.jsonl,
# pays.json, events.jsonl); INVARIANTS and ACKED as cb_ledger_invariants
# and cb_ledger_acked print them.
chaos_phase_json() {
    local dir=$1 name=$2 what=$3 inv=$4 acked=$5
    local loads timelines pays events
    loads=$(cat "$dir"/load-*.json 2>/dev/null | jq -s -c '.' 2>/dev/null) || loads='[]'
    timelines=$(cat "$dir"/load-*.jsonl 2>/dev/null | jq -s -c '.' 2>/dev/null) || timelines='[]'
    pays=$(jq -c '.' "$dir/pays.json" 2>/dev/null) || pays='{}'
    [ -n "$pays" ] || pays='{}'
    events=$(jq -s -c '.' "$dir/events.jsonl" 2>/dev/null) || events='[]'
    jq -n -c --arg name "$name" --arg what "$what" --arg inv "$inv" --arg acked "$acked" \
        --argjson loads "${loads:-[]}" --argjson tl "${timelines:-[]}" --argjson pays "$pays" \
        --argjson events "${events:-[]}" --argjson rolling "$(chaos_rolling_json "$dir")" '
      def num: if . == null or . == "x" then null else tonumber end;
      # One line per second, all gateways summed.
      ($tl | group_by(.t) | map({t: .[0].t, sent: (map(.sent) | add), ok: (map(.ok) | add),
                                  refused: (map(.refused) | add), errors: (map(.errors) | add)})) as $w
      | def recovery($f; $next):
          ($w | map(select(.t > ($f | floor) and ($next == null or .t <= ($next | floor)))
                    | select(.errors > 0)) | last) as $l
          | if $l == null then 0 else (($l.t - $f) | if . < 0 then 0 else (. * 10 | round / 10) end) end;
      ($events | map(select(.fault) | .at_ms / 1000)) as $faults
      | ($w | .[-3:] | any(.errors > 0)) as $tail_errors
      | ($loads | map(.sent) | add // 0) as $sent
      | ($loads | map(.ok) | add // 0) as $ok
      | ($loads | map(.refused) | add // 0) as $refused
      | ($loads | map(.errors // {} | to_entries) | add // [] | group_by(.key)
         | map({key: .[0].key, value: (map(.value) | add)}) | from_entries) as $errors
      | ($inv | split(" ")) as $i
      | ($acked | split(" ")) as $a
      | {
          phase: $name, fault: $what,
          duration_s: (($w | length)),
          events: ($events | map((.at_ms / 1000) as $f
                                 | ([$faults[] | select(. > $f)] | min) as $next
                                 | . + {at_s: (.at_ms / 100 | round / 10),
                                        recovery_s: (if .fault | not then null
                                                     elif $next == null and $tail_errors then null
                                                     else recovery($f; $next) end)}
                                 | del(.at_ms))),
          commands: {sent: $sent, ok: $ok, refused: $refused, failed: ($sent - $ok - $refused),
                     errors: $errors,
                     availability: (if $sent > 0 then (($ok + $refused) / $sent) else null end),
                     p99_ms: ($loads | map(.p99_ms // 0) | max), max_ms: ($loads | map(.max_ms // 0) | max),
                     gateways_reporting: ($loads | length)},
          errors_per_second: ($w | map(.errors)),
          pays: {ok: ($pays.outcomes.OK // 0), refused: (($pays.outcomes // {}) | del(.OK) | add // 0),
                 gave_up: ($pays.gave_up // 0), abandoned: ($pays.abandoned // 0),
                 retries: ($pays.retries // 0), attempts_failed: (($pays.attempts // {}) | del(.OK) | add // 0),
                 failures_per_second: ($pays.per_second.failed // []),
                 acked: ($a[0] | num), lost: ($a[1] | num), duplicated: ($a[2] | num),
                 wrong_id: ($a[3] | num), refused_moved: ($a[4] | num), in_table: ($a[5] | num),
                 summary_ok: ($pays.correct // false)},
          invariants: {check_exit: ($i[0] | num), balance_sum: ($i[1] | num),
                       bad_guilds: ($i[2] | num), bad_accounts: ($i[3] | num),
                       ok: ($i[0] == "0" and $i[1] == "0" and $i[2] == "0" and $i[3] == "0")},
          rolling: $rolling
        }
      | .recovery_s = ([.events[] | select(.fault) | .recovery_s] as $r
                       | if ($r | length) == 0 then 0 elif any($r[]; . == null) then null else ($r | max) end)
      | .recovered = (.recovery_s != null)'
}

# The rolling restarts of a phase (rolling.txt: "SERVICE RC" lines), as JSON.
chaos_rolling_json() {
    [ -s "$1/rolling.txt" ] || { echo null; return; }
    jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | {service: .[0], exit: (.[1] | tonumber)})' \
        "$1/rolling.txt"
}

# chaos_totals PHASES_JSONL SIM_JSON META_JSON: the run's figures.
chaos_totals() {
    jq -s -c --argjson sim "$2" --argjson meta "$3" '
      . as $p
      | ($p | map(.commands.sent) | add) as $sent
      | ($p | map(.commands.ok + .commands.refused) | add) as $good
      | def avail($q): ($q | map(.commands.sent) | add) as $s
          | if ($s // 0) > 0 then (($q | map(.commands.ok + .commands.refused) | add) / $s) else null end;
      ($p | map(select(.phase | startswith("rolling")))) as $roll
      | $meta + {
          availability: (if $sent > 0 then $good / $sent else null end),
          availability_random_kills: avail($p | map(select(.phase == "random-kills"))),
          commands: {sent: $sent, answered_in_3s: $good, failed: ($sent - $good)},
          errors_by_kind: ($p | map(.commands.errors | to_entries) | add // [] | group_by(.key)
                           | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
          acked: ($p | map(.pays.acked // 0) | add),
          lost: ($p | map(.pays.lost // 1) | add),
          duplicated: ($p | map(.pays.duplicated // 1) | add),
          wrong_id: ($p | map(.pays.wrong_id // 1) | add),
          refused_moved: ($p | map(.pays.refused_moved // 1) | add),
          pays_gave_up: ($p | map(.pays.gave_up) | add),
          invariants_ok: ($p | all(.invariants.ok)),
          recovery_s_max: (if any($p[]; .recovered | not) then null
                           else ($p | map(.recovery_s) | max) end),
          not_recovered: ($p | map(select(.recovered | not) | .phase)),
          rolling_restart_failures: (($roll | map(.commands.failed) | add // 0)
                                     + ($roll | map(.rolling // [] | map(select(.exit != 0)) | length) | add // 0)),
          interactions_gateway_path: $sim,
          answered_twice: ($sim.answered_twice // null),
          faults: $p
        }' "$1"
}

# chaos_markdown CHAOS_JSON: the readable report.
chaos_markdown() {
    jq -r '
      def pct: if . == null then "n/a" else (. * 10000 | round / 100 | tostring) + "%" end;
      def s: if . == null then "not recovered" else (tostring + " s") end;
      def kinds: if . == {} or . == null then "none" else (to_entries | map("\(.key) \(.value)") | join(", ")) end;
      "# Chaos suite (issue 9)",
      "",
      "Run \(.started_at), mode `\(.mode)`, \(.wall_s) s wall time; a cluster of \(.instances) instances of every service on \(.cores) cores. Load per phase: cordbank-load at \(.rate_per_gateway)/s through each gateway (open model, mix `mixed`, 3 s timeout), cordbank-ledger-load with \(.pay_concurrency) pays in flight straight to the balance instances, and \(.sim_rate)/s interactions over the simulated Discord Gateway.",
      "",
      "## Figures",
      "",
      "| figure | value | goal |",
      "| --- | --- | --- |",
      "| availability, whole run (ok or refused within 3 s) | \(.availability | pct) | |",
      "| availability during random kills | \(.availability_random_kills | pct) | >= 99.95% |",
      "| commands sent / answered within 3 s / failed | \(.commands.sent) / \(.commands.answered_in_3s) / \(.commands.failed) | |",
      "| errors by kind | \(.errors_by_kind | kinds) | |",
      "| acknowledged pays (ledger-load) | \(.acked) | |",
      "| lost / duplicated | \(.lost) / \(.duplicated) | 0 / 0 |",
      "| ledger invariants | \(if .invariants_ok then "hold after every fault" else "BROKEN" end) | hold |",
      "| worst recovery | \(.recovery_s_max | s) | < 5 s |",
      "| rolling-restart failures | \(.rolling_restart_failures) | 0 |",
      "| interactions answered twice (Gateway path) | \(.answered_twice // "not measured") | 0 |",
      "| Gateway-path interactions sent / answered / unanswered | \(.interactions_gateway_path | if . == null then "not measured" else "\(.sent) / \(.answered) / \(.unanswered)" end) | |",
      "",
      "## Per fault",
      "",
      "| phase | fault | commands sent | availability | failed (by kind) | recovery | P99 / max (ms) | pays acked / gave up | invariants |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      (.faults[] | "| \(.phase) | \(.fault) | \(.commands.sent) | \(.commands.availability | pct) | \(.commands.failed) (\(.commands.errors | kinds)) | \(.recovery_s | s) | \(.commands.p99_ms | round) / \(.commands.max_ms | round) | \(.pays.acked) / \(.pays.gave_up) | \(if .invariants.ok then "ok" else "BROKEN" end) |"),
      "",
      "Recovery counts errors (a command not answered within 3 s is one); P99 and max show what a fault cost in latency when no command failed.",
      "",
      "## Events and errors per second",
      "",
      (.faults[] | "- **\(.phase)**: " + (.events | map("\(.what) at \(.at_s) s" + (if .fault then " (recovered in \(.recovery_s | s))" else "" end)) | join("; "))
                   + ". Errors per second: `\(.errors_per_second | map(tostring) | join(" "))`"
                   + (if .rolling then ". ctl.sh rolling-restart: " + (.rolling | map("\(.service) exit \(.exit)") | join(", ")) else "" end)),
      "",
      "## Not covered",
      "",
      (.not_covered[] | "- \(.)")
    ' "$1"
}
