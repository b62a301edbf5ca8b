# tests/lib/metrics.sh — reading an instance's /metrics from shell tests.

# cb_metric PORT NAME [LABEL-MATCH]: the sum of the series of NAME on the
# admin port 127.0.0.1:PORT whose label text contains LABEL-MATCH (e.g.
# result="hit"; every series of NAME when empty); 0 when there is none.
# Whole numbers print as such, others as they are (0.051756, 1795000000.5).
cb_metric() {
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v name="$2" -v want="${3:-}" '
        $1 == name || index($1, name "{") == 1 { if (want == "" || index($1, want)) n += $NF }
        END { printf "%.15g\n", n }'
}

# cb_wait_metric PORT NAME LABEL-MATCH REGEX: cb_metric's value once it
# matches REGEX, or its last value after 10 s.
cb_wait_metric() {
    local v
    for _ in $(seq 100); do
        v=$(cb_metric "$1" "$2" "$3")
        [[ $v =~ $4 ]] && break
        sleep 0.1
    done
    echo "$v"
}
