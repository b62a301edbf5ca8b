#!/usr/bin/env bash
# Lighthouse (npm, pinned by package-lock.json here) against the metrics
# service's dashboard, in Debian's chromium, mobile and desktop: prints the
# performance and accessibility scores and fails when one is below
# LIGHTHOUSE_MIN (default 95).
#
#   services/metrics/lighthouse/run.sh [URL]      (make lighthouse)
#
# Without URL, starts a whole cordbank on loopback (deploy/local/lib.sh)
# with traffic from the simulator, audits http://127.0.0.1:PORT/ and stops
# it all. Reports (JSON) go to $LIGHTHOUSE_OUT (default
# build/lighthouse). Needs `make deps` (chromium, and npm ci here).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
min=${LIGHTHOUSE_MIN:-95}
out=${LIGHTHOUSE_OUT:-$root/build/lighthouse}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
[ -x "$here/node_modules/.bin/lighthouse" ] || (cd "$here" && npm ci --no-audit --no-fund) || exit 1
mkdir -p "$out"

url=${1:-}
if [ -z "$url" ]; then
    CB_BIN=${CB_BIN:-$root/build/bin}
    . "$root/deploy/local/lib.sh"
    cb_run_dir
    trap 'cb_stop_all' EXIT
    cb_start_postgres >/dev/null || exit 1
    cb_start_redis || exit 1
    cb_pick_ports no
    cb_start_services "$CB_BIN"
    cb_wait_ready 30 || exit 1
    cb_spawn sim "$CB_BIN/cordbank-discord-sim" --gateway-url "http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions" \
        --rate 30 --duration 120
    sleep 15   # some history for the charts
    url=http://127.0.0.1:$PORT_METRICS_ADMIN/
fi

status=0
for form in mobile desktop; do
    preset=(); [ $form = desktop ] && preset=(--preset=desktop)
    report=$out/dashboard-$form.json
    "$here/node_modules/.bin/lighthouse" "$url" "${preset[@]}" --quiet \
        --only-categories=performance,accessibility,best-practices \
        --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
        --output=json --output-path="$report" || { echo "lighthouse: $form run failed" >&2; status=1; continue; }
    read -r perf a11y bp < <(jq -r '[.categories.performance.score, .categories.accessibility.score,
        .categories["best-practices"].score] | map(. * 100 | round) | @tsv' "$report")
    echo "lighthouse $form: performance $perf, accessibility $a11y, best practices $bp ($report)"
    for s in "$perf" "$a11y"; do [ "$s" -ge "$min" ] || status=1; done
    jq -r '.audits | to_entries[] | select(.value.score != null and .value.score < 0.9
        and .value.scoreDisplayMode != "informative") | "  below 0.9: \(.key) \(.value.score) \(.value.displayValue // "")"' "$report"
done
exit $status
