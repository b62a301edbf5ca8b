#!/usr/bin/env bash
# The metrics service's JSON API, alerts and live dashboard against a
# running system: PostgreSQL, Redis and the five services on loopback
# ports picked at run time, traffic from the Discord simulator, and
# Debian's chromium (headless) loading the dashboard:
#
#   api        /api/v1/summary and /api/v1/series answer JSON, bad queries
#              are 400, the dashboard's files are served from the binary,
#              /metrics carries cordbank_alert_firing, --help lists it all.
#   dashboard  after traffic, the page (its DOM after the script ran) shows
#              every service and instance up, a request rate > 0 for
#              gateway and command, and numbers that changed between two
#              loads.
#   down       cache-1 killed with SIGKILL: the summary marks it down
#              within the 3 s of --down-after-ms (plus the 1 s sweep), the
#              instance-down alert fires (hold time cut to 0 for the test:
#              CORDBANK_ALERT_FOR_MS) and is logged once, and the page
#              shows both.
#
#   tests/integration/dashboard.sh [build/bin]
#
# About 40 s. Stops everything and removes its temp dir whatever happens.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
export CORDBANK_ALERT_FOR_MS=0 CORDBANK_ALERT_INTERVAL_MS=500

cb_start_all "$CB_BIN"
ADMIN=http://127.0.0.1:$PORT_METRICS_ADMIN

# dom : the dashboard's DOM once its script has fetched and drawn (Chrome's
# virtual time runs the 2 s poll without waiting for it), at most 30 s.
dom() {
    timeout 30 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$CB_RUN/chromium" --virtual-time-budget=2500 --dump-dom "$ADMIN/" 2>/dev/null
}
# field DOM ROW_ATTR NAME : data-value of cell NAME in the table row whose
# opening tag starts with ROW_ATTR (e.g. data-service="gateway" data-up).
field() {
    grep -o "<tr $2[^>]*>\(<t[hd][^>]*>[^<]*</t[hd]>\)*" <<<"$1" | head -1 \
        | grep -o "data-field=\"$3\" data-value=\"[^\"]*\"" | sed 's/.*data-value="//; s/"$//'
}
positive() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
summary_json() { curl -s --max-time 5 "$ADMIN/api/v1/summary"; }

section "api"
# Every instance publishes a snapshot a second: wait for the five (10 s at most).
for _ in $(seq 100); do
    s=$(summary_json)
    [ "$(jq '[.services[].instances[] | select(.up)] | length' <<<"$s" 2>/dev/null)" = 5 ] && break
    sleep 0.1
done
sleep 1   # a second history point, for rates
expect_eq "summary is JSON with every service" "balance cache command gateway metrics" \
    "$(jq -r '[.services[].service] | join(" ")' <<<"$s" 2>&1)"
expect_eq "every instance is up" "true" "$(jq '[.services[].instances[].up] | all' <<<"$s")"
expect_eq "down-after-ms is 3 s" 3000 "$(jq '.down_after_ms' <<<"$s")"
expect_match "the ledger status is known" '^(ok|not_checked_yet)$' "$(jq -r '.ledger.status' <<<"$s")"
# Dependencies, and every RPC client's breaker towards its service.
expect_eq "breakers by target" "balance cache command postgres redis" "$(jq -r '[.breakers[].target] | unique | join(" ")' <<<"$s")"
expect_eq "series answer per service" "gateway" \
    "$(curl -s "$ADMIN/api/v1/series?service=gateway&window=60&step=5" | jq -r '.services | keys | join(" ")')"
expect_eq "series steps" 12 \
    "$(curl -s "$ADMIN/api/v1/series?service=gateway&window=60&step=5" | jq '.services.gateway.rate | length')"
expect_eq "a bad window is 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/api/v1/series?window=1")"
for f in "/ text/html" "/app.js text/javascript" "/style.css text/css" "/favicon.svg image/svg+xml"; do
    set -- $f
    expect_eq "$1 is served as $2" "200 $2" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$ADMIN$1" | sed 's/;.*//')"
done
expect_match "the page loads nothing from elsewhere" '^$' \
    "$(curl -s "$ADMIN/" "$ADMIN/app.js" "$ADMIN/style.css" | grep -oE '(src|href)="(https?:)?//[^"]*"|https?://[a-z][^" ]*' | grep -v 'www.w3.org' | head -3)"
metrics=$(curl -s "$ADMIN/metrics")
expect_match "alerts are exported on /metrics" \
    'cordbank_alert_firing\{service="metrics",instance="metrics-1",alertname="CordbankInstanceDown",severity="ticket"\} 0' "$metrics"
help=$("$CB_BIN/cordbank-metrics" --help)
for e in "GET /api/v1/summary" "GET /api/v1/series" "GET / " "--alert-for-ms"; do
    expect_match "--help describes $e" "$e" "$help"
done

section "dashboard"
if [ -z "$CHROMIUM" ]; then
    fail "chromium is installed (make deps)" "no chromium in PATH"
else
    cb_spawn sim "$CB_BIN/cordbank-discord-sim" --gateway-url "http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions" \
        --rate 40 --duration 25 --mix balance=70,pay=20,daily=10
    sleep 6
    page1=$(dom)
    expect_match "the page ran its script" 'data-updated="[0-9]{13}"' "$page1"
    for svc in gateway command balance cache metrics; do
        expect_eq "$svc is up on the page" 1 "$(field "$page1" "data-service=\"$svc\" data-up=\"true\"" instances_up)"
    done
    for i in gateway-1 command-1 balance-1 cache-1 metrics-1; do
        expect_match "instance $i is listed up" "<tr data-instance=\"$i\" data-service=\"[a-z]+\" data-up=\"true\"" "$page1"
    done
    for svc in gateway command; do
        rate=$(field "$page1" "data-service=\"$svc\" data-up" rate)
        if positive "$rate"; then pass "$svc rate > 0 after traffic ($rate/s)"; else fail "$svc rate > 0 after traffic" "       got: '$rate'"; fi
    done
    expect_match "charts have text alternatives" '<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="chart-[^"]*"><title id="chart-[^"]*">gateway requests per second' "$page1"
    sleep 3
    page2=$(dom)
    a="$(field "$page1" 'data-service="gateway" data-up' requests_1m) $(field "$page1" 'data-service="gateway" data-up' rate)"
    b="$(field "$page2" 'data-service="gateway" data-up' requests_1m) $(field "$page2" 'data-service="gateway" data-up' rate)"
    if [ "$a" != "$b" ] && positive "${b%% *}"; then pass "gateway's numbers moved between two loads ($a -> $b)"
    else fail "gateway's numbers moved between two loads" "       first: $a  second: $b"; fi
fi

section "down"
pid=$(cat "$CB_RUN/pids/sim" 2>/dev/null) && kill "$pid" 2>/dev/null
kill -KILL "$(cat "$CB_RUN/pids/cache")"; rm -f "$CB_RUN/pids/cache"
killed=$SECONDS
up=true
for _ in $(seq 60); do   # 6 s at most
    up=$(summary_json | jq '.services[] | select(.service == "cache") | .instances[] | select(.instance == "cache-1") | .up')
    [ "$up" = false ] && break
    sleep 0.1
done
expect_eq "cache-1 is marked down within 6 s of SIGKILL (after $((SECONDS - killed)) s)" false "$up"
alert=
for _ in $(seq 40); do   # 4 s at most
    alert=$(summary_json | jq -r '.alerts[] | select(.alertname == "CordbankInstanceDown" and .labels.instance == "cache-1") | .state')
    [ "$alert" = firing ] && break
    sleep 0.1
done
expect_eq "the instance-down alert fires for cache-1" firing "$alert"
# The metrics service's own gauges reach /metrics through its next snapshot (3 s at most).
for _ in $(seq 30); do
    metrics=$(curl -s "$ADMIN/metrics")
    grep -q 'alertname="CordbankInstanceDown",severity="ticket"} 1' <<<"$metrics" && break
    sleep 0.1
done
expect_match "the alert is on /metrics" \
    'cordbank_alert_firing\{service="metrics",instance="metrics-1",alertname="CordbankInstanceDown",severity="ticket"\} 1' \
    "$metrics"
expect_eq "cache-1 is exported as down" 1 \
    "$(curl -s "$ADMIN/metrics" | grep -c '^cordbank_instance_up{service="cache",instance="cache-1"} 0$')"
expect_eq "the alert is logged once when it starts firing" 1 \
    "$(grep '"msg":"alert firing"' "$CB_RUN/logs/metrics.log" | grep -c '"alertname":"CordbankInstanceDown"')"
if [ -n "$CHROMIUM" ]; then
    page3=$(dom)
    expect_match "the page shows cache-1 down" '<tr data-instance="cache-1" data-service="cache" data-up="false">' "$page3"
    expect_match "the page shows the firing alert" '<li class="firing ticket" data-alertname="CordbankInstanceDown" data-state="firing">' "$page3"
fi

summary dashboard
