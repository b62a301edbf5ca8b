#!/usr/bin/env bash
# The proof that cordbank-discord-sim --serve is Discord enough: an
# unmodified discord.js v14 client (load/discordjs, pinned by its lockfile)
# logs in to it with two shards (shards: 'auto' from /gateway/bot), gets
# READY on both, receives an INTERACTION_CREATE dispatched through
# /_sim/interactions, answers it with interaction.reply (and a second one
# with deferReply + editReply), and exits 0. The simulator's stats must then
# show each interaction answered exactly once,
# and no rule of Discord's broken (no 429, no invalid request, no
# identify over max_concurrency, no close code).
#
#   tests/integration/discordjs.sh [build/bin]
#
# About 5 s. Needs node and load/discordjs/node_modules (make deps).
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"

JS=$CB_ROOT/load/discordjs
cb_run_dir
trap 'cb_stop_all' EXIT

section "discord.js $(jq -r .version "$JS/node_modules/discord.js/package.json" 2>/dev/null) against the simulator"
if [ ! -d "$JS/node_modules/discord.js" ]; then
    fail "load/discordjs/node_modules is missing" "       run: make deps"
    summary discordjs
    exit 1
fi
cb_spawn sim "$CB_BIN/cordbank-discord-sim" --serve --listen-port "$(cb_port)" \
    --port-file "$CB_RUN/sim.port" --shards 2 --max-concurrency 2
for i in $(seq 1 100); do [ -s "$CB_RUN/sim.port" ] && break; sleep 0.1; done
BASE=http://127.0.0.1:$(cat "$CB_RUN/sim.port" 2>/dev/null)
echo "simulator: $BASE"

SIM_URL=$BASE LOGIN_TIMEOUT_MS=45000 timeout -k 5 60 node "$JS/login.js" >"$CB_RUN/login.out" 2>"$CB_RUN/login.err"
rc=$?
sed 's/^/       /' "$CB_RUN/login.out" "$CB_RUN/login.err"
expect_eq "login.js exits 0" 0 "$rc"
expect_eq "clientReady with both shards and the 10 guilds" '2 10' \
    "$(jq -r 'select(.event == "ready") | "\(.shard) \(.guilds)"' "$CB_RUN/login.out")"
expect_eq "it received two /balance interactions: replied to one, deferred and edited the other" \
    'balance balance replied deferred_and_edited' \
    "$(jq -r 'select(.event == "interaction") | .command' "$CB_RUN/login.out" | tr '\n' ' ')$(jq -r 'select(.event == "replied" or .event == "deferred_and_edited") | .event' "$CB_RUN/login.out" | sort -r | tr '\n' ' ' | sed 's/ $//')"

S=$(curl -s --max-time 5 "$BASE/_sim/stats")
expect_eq "two IDENTIFYs, one per shard, none over max_concurrency" "2 1 1 0" \
    "$(jq -r '"\(.identifies) \(.shards[0].identifies) \(.shards[1].identifies) \(.identify_rate_limited)"' <<<"$S")"
expect_eq "interactions: sent 2, each answered exactly once (answered 2, twice 0, unanswered 0)" "2 2 0 0" \
    "$(jq -r '.interactions | "\(.sent) \(.answered) \(.answered_twice) \(.unanswered)"' <<<"$S")"
expect_eq "one deferral, one edit of @original" "1 1" \
    "$(jq -r '.interactions | "\(.deferred) \(.edited)"' <<<"$S")"
expect_eq "two callbacks and one PATCH @original reached the REST routes" "2 1" \
    "$(jq -r '.rest.by_route | "\(.["POST /interactions/:id/:token/callback"]) \(.["PATCH /webhooks/:app/:token/messages/:message"])"' <<<"$S")"
expect_eq "no 429, no invalid request, no close code sent" "0 0 0 {}" \
    "$(jq -r '"\(.rest.rate_limited.user + .rest.rate_limited.global + .rest.rate_limited.shared) \(.rest.invalid_requests) \(.interactions.invalid_bodies) \(.closes | tostring)"' <<<"$S")"

summary discordjs
