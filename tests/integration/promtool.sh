#!/usr/bin/env bash
# The monitoring kit checked with Prometheus' own tools (Debian's prometheus
# package: promtool and the server):
#
#   rules      promtool check rules on every rule file in deploy/prometheus/rules;
#              every alert has a unit test, severity page or ticket, and a
#              runbook_url whose anchor is a heading of docs/metrics.md
#   tests      promtool test rules on every file in deploy/prometheus/tests
#              (firing and not-firing cases of every alert)
#   config     promtool check config deploy/prometheus/prometheus.yml; the
#              Grafana dashboard is valid JSON
#   live       PostgreSQL, Redis and one instance of each service, a few
#              interactions from the simulator so that histograms have
#              samples, then promtool check metrics on every instance's
#              /metrics and on the metrics service's aggregate; every metric
#              the rules and the dashboard name is in the aggregate
#   prometheus a real Prometheus scraping the system with
#              deploy/prometheus/prometheus.yml (ports swapped, 1 s
#              intervals): every target up, nothing counted twice, the SLO
#              recording rules give 0 errors, nothing fires on a healthy
#              system, every dashboard query runs; then Redis is killed and
#              the ledger broken by hand, and the matching alerts appear
#   discord    a second gateway with a bot token against the simulator's
#              Gateway and REST API: promtool check metrics on that mode's
#              /metrics; docs/metrics.md names every metric seen
#
#   tests/integration/promtool.sh [build/bin]
#
# About 60 s. Stops everything (Prometheus too) and removes its temp dir
# whatever happens.
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/interact.sh"

PROM=$CB_ROOT/deploy/prometheus
DASHBOARD=$CB_ROOT/deploy/grafana/cordbank.json
DOC=$CB_ROOT/docs/metrics.md
export CB_LOG_LEVEL=${CB_LOG_LEVEL:-warn}

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    fail "promtool and prometheus are installed" "       run make deps (Debian package prometheus)"
    summary promtool
    exit 1
fi

section "rules"
ALERTS=()
for f in "$PROM"/rules/*.yml; do
    out=$(promtool check rules "$f" 2>&1)
    expect_match "promtool check rules $(basename "$f")" 'SUCCESS: [0-9]+ rules found' "$out"
    mapfile -t -O ${#ALERTS[@]} ALERTS < <(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+).*/\1/p' "$f")
done
expect_match "the rules define alerts (${#ALERTS[@]})" '^[1-9][0-9]*$' "${#ALERTS[@]}"
for a in "${ALERTS[@]}"; do
    # The rule's block: from its "- alert:" line to the next rule.
    block=$(awk -v a="$a" '$0 ~ "- (alert|record):" { on = ($0 ~ "alert: *" a "$") } on' "$PROM"/rules/*.yml)
    anchor=$(tr '[:upper:]' '[:lower:]' <<<"$a")
    problems=
    grep -qE "severity: (page|ticket)$" <<<"$block" || problems+=" no severity page|ticket;"
    grep -qE '^ +summary: ' <<<"$block" || problems+=" no summary;"
    grep -qE '^ +description: ' <<<"$block" || problems+=" no description;"
    grep -qxE " +runbook_url: docs/metrics.md#$anchor" <<<"$block" || problems+=" runbook_url is not docs/metrics.md#$anchor;"
    grep -qxE "### $a" "$DOC" 2>/dev/null || problems+=" no heading '### $a' in docs/metrics.md;"
    grep -qE "alertname: $a$" "$PROM"/tests/*.yml || problems+=" no unit test;"
    expect_eq "$a: severity, annotations, runbook in docs/metrics.md, unit test" "" "$problems"
done

section "rule unit tests"
for t in "$PROM"/tests/*.yml; do
    out=$(cd "$PROM/tests" && promtool test rules "$(basename "$t")" 2>&1)
    rc=$?
    expect_eq "promtool test rules $(basename "$t") ($(grep -c 'alertname:' "$t") alert cases, $(grep -c -- '- expr:' "$t") expressions)" \
        "0" "$rc$([ "$rc" = 0 ] || printf '\n%s' "$out")"
done

section "scrape config and dashboard"
out=$(promtool check config "$PROM/prometheus.yml" 2>&1)
expect_match "promtool check config prometheus.yml" 'is valid prometheus config file syntax' "$out"
expect_eq "the Grafana dashboard is valid JSON with panels" true \
    "$(jq '(.panels | length) > 0 and .title == "cordbank"' "$DASHBOARD" 2>&1)"

section "live /metrics"
cb_run_dir
trap 'cb_stop_all' EXIT
cb_start_postgres || exit 1
cb_start_redis || exit 1
cb_pick_ports no
# Balance checks the ledger every second here (the default is a minute), so
# that breaking it below shows within seconds.
CORDBANK_INVARIANT_CHECK_S=1 cb_start_services "$CB_BIN"
cb_wait_ready 30 || exit 1
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
G=7101

PROM_PORT=$(cb_port)
sed -e "s/127.0.0.1:7101/127.0.0.1:$PORT_GATEWAY_ADMIN/; s/127.0.0.1:7201/127.0.0.1:$PORT_COMMAND_ADMIN/" \
    -e "s/127.0.0.1:7301/127.0.0.1:$PORT_BALANCE_ADMIN/; s/127.0.0.1:7401/127.0.0.1:$PORT_CACHE_ADMIN/" \
    -e "s/127.0.0.1:7501/127.0.0.1:$PORT_METRICS_ADMIN/" \
    -e "s/^  scrape_interval: .*/  scrape_interval: 1s/; s/^  evaluation_interval: .*/  evaluation_interval: 1s/" \
    -e "s#^  - rules/#  - $PROM/rules/#" "$PROM/prometheus.yml" >"$CB_RUN/prometheus.yml"
cb_spawn prometheus prometheus --config.file="$CB_RUN/prometheus.yml" --storage.tsdb.path="$CB_RUN/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn

prom_query() { curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"; }
prom_value() { prom_query "$1" | jq -r '.data.result[0].value[1] // "none"' 2>/dev/null; }
# prom_wait EXPR REGEX [SECONDS]: the value of EXPR once it matches REGEX, or its last value.
prom_wait() {
    local v end=$((SECONDS + ${3:-20}))
    while :; do
        v=$(prom_value "$1")
        [[ $v =~ $2 ]] || [ $SECONDS -ge "$end" ] && break
        sleep 0.5
    done
    echo "$v"
}
# Prometheus' first scrapes see the counters at 0, so that its rates count
# every interaction sent after them.
expect_eq "Prometheus scrapes all five instances" 5 "$(prom_wait 'sum(up{job=~"cordbank.*"})' '^5$' 30)"

cb_interact "$URL" --command daily --guild "$G" --user 5001
expect_eq "/daily answered" 200 "$STATUS"
cb_interact "$URL" --command pay --guild "$G" --user 5001 --option user=5002 --option amount=5
expect_eq "/pay answered" 200 "$STATUS"
for u in 5001 5002 5003; do cb_interact "$URL" --command balance --guild "$G" --user $u; done
expect_eq "/balance answered" 200 "$STATUS"
cb_interact "$URL" --command leaderboard --guild "$G" --user 5001
cb_interact "$URL" --command history --guild "$G" --user 5001
cb_interact "$URL" --command balance --guild 0 --user 5001
expect_eq "a DM answered" 200 "$STATUS"
cb_interact "$URL" --command balance --bad-signature
expect_eq "a bad signature refused" 401 "$STATUS"
cb_interact "$URL" --type 1
expect_eq "a PING answered" '{"type":1}' "$BODY"

scrape() { curl -s --max-time 5 "http://127.0.0.1:$1/metrics"; }
# Two snapshot periods: the aggregate has every instance's latest counters.
sleep 2.2
for s in gateway command balance cache metrics; do
    port_var=PORT_${s^^}_ADMIN
    scrape "${!port_var}" >"$CB_RUN/$s.prom"
    what="$s /metrics"; [ "$s" = metrics ] && what="metrics service aggregate /metrics"
    expect_match "$what is served ($(grep -vc '^#' "$CB_RUN/$s.prom") samples)" '^# (HELP|TYPE) ' \
        "$(head -1 "$CB_RUN/$s.prom")"
    out=$(promtool check metrics <"$CB_RUN/$s.prom" 2>&1)
    rc=$?
    expect_eq "promtool check metrics: $what" "0" "$rc$([ -z "$out" ] || printf '\n%s' "$out")"
done
count=$(awk '/^cordbank_gateway_interaction_duration_seconds_count\{type="application_command"\}/ { print $2 }' "$CB_RUN/gateway.prom")
expect_match "the gateway's latency histogram has samples ($count application commands)" '^([89]|[1-9][0-9]+)$' "$count"
count=$(grep -E '^cordbank_command_duration_seconds_count\{' "$CB_RUN/command.prom" | awk '{ n += $2 } END { print n + 0 }')
expect_match "command's latency histogram has samples ($count commands)" '^([78]|[1-9][0-9]+)$' "$count"
expect_eq "the aggregate has every instance up" 5 \
    "$(grep -cE '^cordbank_instance_up\{.*\} 1$' "$CB_RUN/metrics.prom")"

# Every metric the rules and the dashboard read exists: a rename breaks
# alerts silently, this makes it loud.
missing=
for name in $({ grep -hv '^ *#' "$PROM"/rules/*.yml; jq -r '.. | .expr? // empty' "$DASHBOARD"; } \
        | grep -oE '\b(cordbank|process)_[a-z0-9_]+' | sort -u); do
    grep -qE "^${name}[{ ]" "$CB_RUN/metrics.prom" || missing+=" $name"
done
expect_eq "every metric the rules and the dashboard read is exposed" "" "$missing"

section "prometheus"
expect_eq "nothing is counted twice: one build_info per instance" "5 1" \
    "$(prom_wait 'count(cordbank_build_info)' '^5$') $(prom_value 'max(count by (service, instance) (cordbank_build_info))')"
expect_eq "the metrics service's verdict is kept: five instances up" 5 \
    "$(prom_wait 'count(cordbank_instance_up == 1)' '^5$')"
expect_eq "every series carries service and instance" 0 \
    "$(prom_value 'count({__name__=~"cordbank_.*", service=""} or {__name__=~"cordbank_.*", instance=""}) or vector(0)')"
expect_eq "availability SLO: no errors in 5 min" 0 \
    "$(prom_wait 'cordbank:slo_availability_errors:ratio_rate5m' '^0$')"
expect_match "latency SLO: the slow share is a number" '^(0|0\.[0-9]+|[0-9.]+e-[0-9]+)$' \
    "$(prom_wait 'cordbank:slo_latency_errors:ratio_rate5m' '^[0-9]')"
expect_eq "nothing fires on a healthy system" "" \
    "$(prom_query 'ALERTS{alertstate="firing"}' | jq -r '[.data.result[].metric.alertname] | join(",")')"

bad=
n=0
while IFS= read -r expr; do
    n=$((n + 1))
    q=$(sed -e 's/\$__rate_interval/1m/g; s/\$service/.*/g; s/\$instance/.*/g' <<<"$expr")
    answer=$(prom_query "$q")
    status=$(jq -r '.status // "no answer"' <<<"$answer")
    [ "$status" = success ] || bad+=" [$expr]: $status"
    [ "$(jq '.data.result | length' <<<"$answer")" != 0 ] || echo "$expr" >>"$CB_RUN/empty"
done < <(jq -r '.. | .expr? // empty' "$DASHBOARD")
expect_eq "every dashboard query ($n) runs" "" "$bad"
expect_eq "and all but the firing alerts return data" "" "$(grep -v 'ALERTS{' "$CB_RUN/empty" 2>/dev/null)"

# Redis dies; the cache sees it at its next reads, and reports it: the
# alerts match the real series.
redis_pid=$(cat "$CB_RUN/pids/redis")
{ kill -KILL "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
for u in 5001 5002 5003; do cb_interact "$URL" --command balance --guild "$G" --user $u; done
expect_eq "reads are still answered without Redis" "<@5003> has 0 coins." "$CONTENT"
expect_eq "Redis killed: CordbankRedisUnreachable is pending for cache-1" cache-1 \
    "$(prom_wait 'ALERTS{alertname="CordbankRedisUnreachable",alertstate="pending"}' '^1$' 20 >/dev/null
       prom_query 'ALERTS{alertname="CordbankRedisUnreachable"}' | jq -r '.data.result[0].metric.instance // "none"')"
expect_eq "and CordbankBreakerOpen for cache-1 -> redis" "cache-1 redis" \
    "$(prom_wait 'ALERTS{alertname="CordbankBreakerOpen"}' '^1$' 20 >/dev/null
       prom_query 'ALERTS{alertname="CordbankBreakerOpen"}' | jq -r '.data.result[0].metric | "\(.instance) \(.target)"')"

# A member with coins no transfer gave: the guild no longer sums to 0.
cb_psql -c "INSERT INTO accounts (guild_id, user_id, balance, version) VALUES (990001, 1, 5, 1)" >/dev/null
expect_eq "ledger broken by hand: CordbankLedgerInvariantViolated fires (guild_sum)" "firing page" \
    "$(prom_wait 'ALERTS{alertname="CordbankLedgerInvariantViolated",check="guild_sum",alertstate="firing"}' '^1$' 20 >/dev/null
       prom_query 'ALERTS{alertname="CordbankLedgerInvariantViolated",check="guild_sum"}' \
           | jq -r '.data.result[0].metric | "\(.alertstate) \(.severity)"')"

section "gateway connected to Discord (the simulator)"
# A second gateway with a bot token, its shard connected to the simulator's
# Gateway and its answers sent through the simulator's REST API: the
# metrics of that mode, on its own /metrics and in the aggregate.
cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port 0 --port-file "$CB_RUN/sim.port" \
    --token promtool-token
for _ in $(seq 100); do [ -s "$CB_RUN/sim.port" ] && break; sleep 0.1; done
SIM="http://127.0.0.1:$(cat "$CB_RUN/sim.port")"
GW2_HTTP=$(cb_port) GW2_ADMIN=$(cb_port)
cb_start_gateway gateway-2 "$CB_BIN" "$GW2_HTTP" "$GW2_ADMIN" "tcp://127.0.0.1:$PORT_COMMAND_RPC" \
    --discord-token promtool-token --discord-api-url "$SIM/api/v10" \
    --metrics-endpoints "tcp://127.0.0.1:$PORT_METRICS_SUB"
cb_wait_port_ready "$GW2_ADMIN" 30 gateway-2 || exit 1
curl -s --max-time 5 -X POST "$SIM/_sim/interactions" \
    -d '{"count": 10, "rate": 50, "command": "balance", "guilds": 2, "users": 5}' >/dev/null
answered=
for _ in $(seq 100); do
    answered=$(curl -s --max-time 5 "$SIM/_sim/stats" | jq -r '.interactions.answered // 0')
    [ "$answered" = 10 ] && break
    sleep 0.1
done
expect_eq "10 interactions from Discord's Gateway answered through its REST API" 10 "$answered"
sleep 2.2
scrape "$GW2_ADMIN" >"$CB_RUN/gateway-2.prom"
out=$(promtool check metrics <"$CB_RUN/gateway-2.prom" 2>&1)
rc=$?
expect_eq "promtool check metrics: gateway-2 /metrics ($(grep -c '^# TYPE' "$CB_RUN/gateway-2.prom") families)" \
    "0" "$rc$([ -z "$out" ] || printf '\n%s' "$out")"
expect_match "its shard is connected" '^cordbank_gateway_shard_connected\{shard="0"\} 1$' \
    "$(grep '^cordbank_gateway_shard_connected' "$CB_RUN/gateway-2.prom")"
scrape "$PORT_METRICS_ADMIN" >"$CB_RUN/metrics-2.prom"
out=$(promtool check metrics <"$CB_RUN/metrics-2.prom" 2>&1)
rc=$?
expect_eq "promtool check metrics: the aggregate with gateway-2" "0" "$rc$([ -z "$out" ] || printf '\n%s' "$out")"

# docs/metrics.md explains every metric any instance exposed here.
undocumented=
for name in $(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$CB_RUN"/*.prom | sort -u); do
    grep -qF "\`$name\`" "$DOC" || undocumented+=" $name"
done
expect_eq "docs/metrics.md documents every metric exposed" "" "$undocumented"

summary promtool
