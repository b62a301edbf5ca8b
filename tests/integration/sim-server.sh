#!/usr/bin/env bash
# cordbank-discord-sim --serve, checked from the outside: the fake Discord
# that the gateway service (and discord.js, tests/integration/discordjs.sh)
# talk to must behave like Discord, or tests against it prove nothing.
#
#   a  the simulator's module self-tests (rate-limit buckets, command
#      validation, faults, zlib-stream, sessions);
#   b  REST with curl: /gateway/bot, 401s, command validation and storage,
#      X-RateLimit-* headers, a bucket 429 (headers, body, counted), a
#      rate-limit storm of scope "shared", slow_rest, 404/405;
#   c  the Gateway with a raw WebSocket client (node's ws package from
#      load/discordjs, no Discord library): load/discordjs/gateway-check.js
#      checks HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeat ACKs, interaction
#      callbacks (twice, empty, deferred + edit, too late), RESUME replay at
#      the resume URL, zlib-stream, every close code, faults, and identify
#      max_concurrency;
#   d  the global limit (a second simulator with --global-limit 5);
#   e  --fault at start, bad flags (exit 2), --duration;
#   f  SIGTERM: exit 0.
#
#   tests/integration/sim-server.sh [build/bin]
#
# About 25 s. Needs node and load/discordjs/node_modules (make deps).
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

SIM=$CB_BIN/cordbank-discord-sim
JS=$CB_ROOT/load/discordjs
APP=1100000000000000001
AUTH='Authorization: Bot cordbank-dev-token'

cb_run_dir
trap 'cb_stop_all' EXIT

# start_sim NAME FLAG...: a --serve simulator on a free port; sets PORT and BASE.
start_sim() {
    local name=$1; shift
    rm -f "$CB_RUN/$name.port"
    cb_spawn "$name" "$SIM" --serve --listen-port "$(cb_port)" --port-file "$CB_RUN/$name.port" "$@"
    local i
    for i in $(seq 1 100); do
        [ -s "$CB_RUN/$name.port" ] && break
        sleep 0.1
    done
    PORT=$(cat "$CB_RUN/$name.port" 2>/dev/null)
    BASE=http://127.0.0.1:$PORT
    [ -n "$PORT" ] || { cb_log "$name did not start:"; cat "$CB_RUN/logs/$name.log" >&2; return 1; }
}
stats() { curl -s --max-time 5 "$BASE/_sim/stats"; }
# req METHOD PATH [BODY] [HEADER...]: status line, headers and body in $CB_RUN/resp.
req() {
    local method=$1 path=$2 body=${3:-}; shift 3 2>/dev/null || shift $#
    local args=(-s --max-time 10 -D "$CB_RUN/resp.h" -o "$CB_RUN/resp.b" -w '%{http_code}' -X "$method")
    [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data "$body")
    for h in "$@"; do args+=(-H "$h"); done
    curl "${args[@]}" "$BASE/api/v10$path"
}
header() { grep -i "^$1:" "$CB_RUN/resp.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
body() { cat "$CB_RUN/resp.b"; }

section "a  module self-tests"
expect_eq "cordbank-discord-sim --self-test" "self-test: ok" "$("$SIM" --self-test 2>&1 | tail -1)"

start_sim sim-a --shards 2 --guilds 4 --max-concurrency 2 --heartbeat-ms 1000 \
    --identify-interval-ms 3000 --disallowed-intents 2 --callback-window-ms 1500 || exit 1
echo "simulator A: $BASE"

section "b  REST"
expect_eq "GET /gateway/bot: 200" 200 "$(req GET /gateway/bot '' "$AUTH")"
expect_eq "it points at this Gateway, recommends 2 shards, max_concurrency 2" \
    "ws://127.0.0.1:$PORT 2 2 1000" "$(body | jq -r '[.url, .shards, .session_start_limit.max_concurrency, .session_start_limit.total] | join(" ")')"
expect_match "X-RateLimit-Limit, -Remaining, -Reset-After and -Bucket are set" '^10 9 5\.000 [0-9a-f]{16}$' \
    "$(header x-ratelimit-limit) $(header x-ratelimit-remaining) $(header x-ratelimit-reset-after) $(header x-ratelimit-bucket)"
expect_eq "no Authorization: 401" 401 "$(req GET /gateway/bot '')"
expect_eq "a wrong token: 401" 401 "$(req GET /users/@me '' 'Authorization: Bot nope')"
expect_eq "a command with an upper-case name and no description: 400" 400 \
    "$(req PUT "/applications/$APP/commands" '[{"name":"Pay","type":1}]' "$AUTH")"
expect_eq "Discord's error body: code 50035 with the fields at fault" "50035 APPLICATION_COMMAND_INVALID_NAME BASE_TYPE_REQUIRED" \
    "$(body | jq -r '[.code, .errors."0".name._errors[0].code, .errors."0".description._errors[0].code] | join(" ")')"
expect_eq "a required option after an optional one: 400" \
    "400 APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID" \
    "$(req PUT "/applications/$APP/commands" '[{"name":"pay","description":"Pay","options":[{"type":4,"name":"amount","description":"a"},{"type":6,"name":"user","description":"u","required":true}]}]' "$AUTH") $(body | jq -r '.errors."0".options."1".required._errors[0].code')"
CMDS='[{"name":"balance","description":"See coins","type":1,"dm_permission":false},{"name":"grant","description":"Grant coins","default_member_permissions":"32","options":[{"type":6,"name":"user","description":"who","required":true},{"type":4,"name":"amount","description":"how many","required":true,"min_value":1}]}]'
expect_eq "a valid set: 200, stored with ids" "200 2" "$(req PUT "/applications/$APP/commands" "$CMDS" "$AUTH") $(body | jq '[.[] | select(.id and .application_id == "'$APP'")] | length')"
expect_eq "guild commands: 200 with guild_id" "200 7000" "$(req PUT "/applications/$APP/guilds/7000/commands" '[{"name":"work","description":"Work"}]' "$AUTH") $(body | jq -r '.[0].guild_id')"
expect_eq "another application's commands: 403" 403 "$(req PUT /applications/42/commands '[]' "$AUTH")"
expect_eq "stats show the stored commands" '["balance","grant"] ["work"] "32"' \
    "$(stats | jq -c '[.commands.global[].name], [.commands.guilds."7000"[].name], .commands.global[1].default_member_permissions' | tr '\n' ' ' | sed 's/ $//')"
codes=""
for i in 1 2 3 4 5; do codes="$codes $(req GET "/applications/$APP/commands" '' "$AUTH")"; done
expect_eq "GET commands 5 times in its 4-per-20-s bucket: the 5th is 429" " 200 200 200 200 429" "$codes"
expect_eq "the 429: Retry-After, scope user, remaining 0" "user 0" "$(header x-ratelimit-scope) $(header x-ratelimit-remaining)"
expect_match "Retry-After is whole seconds, retry_after a float, global false" '^[0-9]+ [0-9.]+ false$' \
    "$(header retry-after) $(body | jq -r '"\(.retry_after) \(.global)"')"
S=$(stats)
expect_eq "stats: 1 bucket violation, 1 user 429, 4 invalid requests (401, 401, 403, 429)" "1 1 4" \
    "$(jq -r '"\(.rest.bucket_violations) \(.rest.rate_limited.user) \(.rest.invalid_requests)"' <<<"$S")"
curl -s -o /dev/null -X POST "$BASE/_sim/fault" -d '{"fault":"rate_limit_storm","scope":"shared","seconds":30}'
expect_eq "a shared-scope storm: 429 with X-RateLimit-Scope shared" "429 shared" "$(req GET /users/@me '' "$AUTH") $(header x-ratelimit-scope)"
expect_eq "shared 429s are not invalid requests" 4 "$(stats | jq .rest.invalid_requests)"
curl -s -o /dev/null -X POST "$BASE/_sim/fault" -d '{"fault":"slow_rest","delay_ms":400,"seconds":30}'
curl -s -o /dev/null -X POST "$BASE/_sim/fault" -d '{"fault":"clear"}'
expect_eq "after clear: 200 again" 200 "$(req GET /users/@me '' "$AUTH")"
curl -s -o /dev/null -X POST "$BASE/_sim/fault" -d '{"fault":"slow_rest","delay_ms":400,"seconds":30}'
t=$(curl -s -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/v10/users/@me")
expect_eq "slow_rest delays answers by delay_ms (>= 0.4 s)" 1 "$(awk -v t="$t" 'BEGIN { print (t >= 0.4) ? 1 : 0 }')"
curl -s -o /dev/null -X POST "$BASE/_sim/fault" -d '{"fault":"clear"}'
expect_eq "a JSON body without Content-Type application/json: 400 CONTENT_TYPE_INVALID" "400 CONTENT_TYPE_INVALID" \
    "$(curl -s -o "$CB_RUN/resp.b" -w '%{http_code}' -X PUT -H "$AUTH" -H 'Content-Type: text/plain' --data '[]' "$BASE/api/v10/applications/$APP/guilds/7001/commands") $(body | jq -r '.errors._errors[0].code')"
expect_eq "an unknown fault: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/_sim/fault" -d '{"fault":"meteor"}')"
expect_eq "an unknown route: 404; a wrong method: 405" "404 405" "$(req GET /nope '' "$AUTH") $(req DELETE /gateway/bot '' "$AUTH")"

section "c  the Gateway, raw WebSocket (load/discordjs/gateway-check.js)"
if [ ! -d "$JS/node_modules/ws" ]; then
    fail "load/discordjs/node_modules is missing" "       run: make deps"
else
    SIM_URL=$BASE timeout -k 5 120 node "$JS/gateway-check.js" >"$CB_RUN/gateway-check.log" 2>&1
    rc=$?
    while read -r verdict name; do
        case $verdict in
            PASS) pass "$name" ;;
            FAIL) fail "${name%%: *}" "       ${name#*: }" ;;
        esac
    done <"$CB_RUN/gateway-check.log"
    expect_eq "gateway-check.js exits 0" 0 "$rc"
fi

section "d  the global limit"
start_sim sim-b --global-limit 5 || exit 1
codes=$(for i in $(seq 1 20); do echo "$BASE/api/v10/gateway"; done | sed 's/^/url = /' |
    curl -s --max-time 20 -K - -o /dev/null -w '%{http_code} ')
limited=$(grep -o 429 <<<"$codes" | wc -l)
expect_eq "20 requests at once against 5/s: some are 429" 1 "$([ "$limited" -ge 5 ] && echo 1 || echo 0)"
req GET /gateway '' >/dev/null
S=$(stats)
expect_eq "stats: global violations = global 429s, max_global_per_s >= 10" "1 1" \
    "$(jq -r '"\(if .rest.global_violations >= 5 then 1 else 0 end) \(if .rest.max_global_per_s >= 10 then 1 else 0 end)"' <<<"$S")"
# 20 requests in a row span at most two seconds: one of them holds more than 5.
for i in $(seq 1 20); do
    code=$(req GET /gateway '')
    [ "$code" = 429 ] && break
done
expect_eq "a global 429 carries X-RateLimit-Global and scope global" "429 true global" \
    "$code $(header x-ratelimit-global) $(header x-ratelimit-scope)"

section "e  flags: --fault at start, bad values, --duration"
start_sim sim-c --fault "rate_limit_storm,scope=global,seconds=60" || exit 1
for i in $(seq 1 30); do
    code=$(req GET /gateway '')
    [ "$code" = 429 ] && break
    sleep 0.1
done
expect_eq "--fault rate_limit_storm,scope=global: global 429s from the start" "429 global" "$code $(header x-ratelimit-scope)"
"$SIM" --serve --fault meteor >"$CB_RUN/bad.out" 2>&1
expect_eq "an unknown --fault: exit 2" 2 "$?"
expect_match "naming the fault" 'invalid --fault "meteor"' "$(cat "$CB_RUN/bad.out")"
"$SIM" --serve --application-id abc >"$CB_RUN/bad.out" 2>&1
expect_eq "a non-snowflake --application-id: exit 2" 2 "$?"
timeout -k 2 15 "$SIM" --serve --duration 1 >/dev/null 2>&1
expect_eq "--serve --duration 1 stops by itself with 0" 0 "$?"

section "f  SIGTERM"
pid=$(cat "$CB_RUN/pids/sim-b")
kill -TERM "$pid"
wait "$pid"
expect_eq "the simulator exits 0 on SIGTERM" 0 "$?"

summary sim-server
