#!/usr/bin/env bash
# End to end for /work, /grant, /history and /leaderboard: PostgreSQL,
# Redis and all five services on loopback ports picked at run time, driven
# with signed interactions from the simulator (as e2e.sh, whose sections
# cover /balance, /daily and /pay). Checks what a Discord user sees, the
# ledger in SQL, the trouble answer while balance is down, and /work again
# after balance restarts with its clock 61 minutes ahead. Stops everything
# and removes its temp dir whatever happens (EXIT trap).
#
#   tests/integration/commands.sh [build/bin]
set -uo pipefail
CB_BIN=${1:-${CB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}}
. "$(dirname "$0")/../../deploy/local/lib.sh"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/interact.sh"

cb_start_all "$CB_BIN"
URL="http://127.0.0.1:$PORT_GATEWAY_HTTP/interactions"
G=7101      # /work, /grant, /history
GL=7102     # /leaderboard: a guild of its own, so its ranking is known
ADMIN=9001
MANAGE_GUILD=32 ADMINISTRATOR=8
# U+2212 MINUS SIGN, U+00B7 MIDDLE DOT, U+2014 EM DASH, as UTF-8 bytes
# (bash's \u escapes depend on the locale).
MINUS=$'\xe2\x88\x92' DOT=$'\xc2\xb7' DASH=$'\xe2\x80\x94'

# interact ARGS... : one signed interaction; sets STATUS, BODY, CONTENT, FLAGS.
interact() { cb_interact "$URL" "$@"; }
balance_of() { interact --command balance --guild "${2:-$G}" --user "$1"; }
# grant USER AMOUNT [GUILD] [ARGS...]: by the admin (Manage Server).
grant() {
    local user=$1 amount=$2 guild=${3:-$G}; shift 3 2>/dev/null || shift $#
    interact --command grant --guild "$guild" --user "$ADMIN" --permissions "$MANAGE_GUILD" \
        --option user="$user" --option amount="$amount" "$@"
}
history_of() { interact --command history --guild "$G" --user "$1" "${@:2}"; }
transfers_with_key() { cb_psql -c "SELECT count(*) FROM transfers WHERE idempotency_key = '$1'"; }
transfer_id() { cb_psql -c "SELECT id FROM transfers WHERE idempotency_key = '$1'"; }
# The lines of CONTENT, one per line, for counting and picking.
content_line() { sed -n "${1}p" <<<"$CONTENT"; }
content_lines() { [ -z "$CONTENT" ] && echo 0 || wc -l <<<"$CONTENT"; }

section "/work"
interact --command work --guild "$G" --user 6001 --interaction-id 910001
expect_match "/work pays a random amount and tells the balance" \
    '^You worked and earned ([0-9]+) coins\. Your balance is \1 coins\.$' "$CONTENT"
expect_eq "/work is public" 0 "$FLAGS"
first_work=$CONTENT
earned=$(sed -E 's/^You worked and earned ([0-9]+) coins.*/\1/' <<<"$CONTENT")
expect_match "within the default 10..50" '^([1-4][0-9]|50)$' "$earned"
interact --command work --guild "$G" --user 6001 --interaction-id 910002
expect_match "/work again within the hour is refused with the time left" \
    '^You already worked this hour\. Try again in 59m [0-5][0-9]s\.$' "$CONTENT"
expect_eq "the cooldown is ephemeral" 64 "$FLAGS"
interact --command work --guild "$G" --user 6001 --interaction-id 910001
expect_eq "a repeated /work interaction returns its first outcome" "$first_work" "$CONTENT"
balance_of 6001
expect_eq "and pays once" "<@6001> has $earned coins." "$CONTENT"
interact --command daily --guild "$G" --user 6001 --interaction-id 910003
expect_eq "/work's cooldown is not /daily's" \
    "You claimed your daily 100 coins. Your balance is $((earned + 100)) coins." "$CONTENT"
interact --command work --guild "$G" --user 6002 --interaction-id 910004
expect_match "another member works on their own cooldown" '^You worked and earned' "$CONTENT"
expect_eq "one work transfer for the repeated key" 1 "$(transfers_with_key 910001)"
expect_eq "none for the refused one" 0 "$(transfers_with_key 910002)"

section "/grant refusals"
for perms in 0 16 $((1 << 40)); do
    interact --command grant --guild "$G" --user 6100 --permissions "$perms" \
        --option user=6003 --option amount=500 --interaction-id "92000$perms"
    expect_eq "permissions $perms: refused" "You need the Manage Server permission to use /grant." "$CONTENT"
    expect_eq "permissions $perms: ephemeral" 64 "$FLAGS"
    expect_eq "permissions $perms: nothing sent to the ledger" 0 "$(transfers_with_key "92000$perms")"
done
interact --command grant --guild "$G" --user 6100 --option amount=5
expect_eq "a non-admin is refused before the options are read" \
    "You need the Manage Server permission to use /grant." "$CONTENT"
BAD_AMOUNT="The amount must be a whole number from 1 to 1,000,000,000,000 to grant, or from -1 to -1,000,000,000,000 to remove."
for amount in 0 1000000000001 -1000000000001 ten; do
    grant 6003 "$amount"
    expect_eq "amount $amount is refused" "$BAD_AMOUNT" "$CONTENT"
    expect_eq "amount $amount: ephemeral" 64 "$FLAGS"
done
interact --command grant --guild "$G" --user "$ADMIN" --permissions "$MANAGE_GUILD" --option amount=5
expect_eq "a grant names a member" "Choose the member whose balance you want to change." "$CONTENT"
grant 6099 5 "$G" --bot-user 6099
expect_eq "a bot cannot be granted coins" "Bots cannot hold coins; choose a member." "$CONTENT"
balance_of 6003
expect_eq "refusals moved nothing" "<@6003> has 0 coins." "$CONTENT"

section "/grant mint and burn"
grant 6003 1500 "$G" --interaction-id 920100
expect_eq "Manage Server mints" "<@$ADMIN> granted <@6003> 1,500 coins. Their balance is 1,500 coins." "$CONTENT"
expect_eq "a grant is public" 0 "$FLAGS"
balance_of 6003
expect_eq "the member sees it at once (write-through)" "<@6003> has 1,500 coins." "$CONTENT"
interact --command grant --guild "$G" --user 9002 --permissions "$ADMINISTRATOR" \
    --option user=6003 --option amount=-200 --interaction-id 920101
expect_eq "Administrator burns" "<@9002> removed 200 coins from <@6003>. Their balance is 1,300 coins." "$CONTENT"
balance_of 6003
expect_eq "and the burn shows at once" "<@6003> has 1,300 coins." "$CONTENT"
grant 6003 -5000 "$G" --interaction-id 920102
expect_eq "burning more than they have is refused" "<@6003> has only 1,300 coins; you cannot remove 5,000." "$CONTENT"
expect_eq "that refusal is ephemeral" 64 "$FLAGS"
grant 6003 1500 "$G" --interaction-id 920100
expect_eq "a repeated grant returns its first outcome" "<@$ADMIN> granted <@6003> 1,500 coins. Their balance is 1,500 coins." "$CONTENT"
interact --command grant --guild "$G" --user 9002 --permissions "$ADMINISTRATOR" \
    --option user=6003 --option amount=-200 --interaction-id 920101
expect_eq "a repeated burn too (the key, not the text, decides)" "<@9002> removed 200 coins from <@6003>. Their balance is 1,300 coins." "$CONTENT"
balance_of 6003
expect_eq "each applied once" "<@6003> has 1,300 coins." "$CONTENT"
grant 6003 -1300 "$G"
expect_eq "burning everything is allowed" "<@$ADMIN> removed 1,300 coins from <@6003>. Their balance is 0 coins." "$CONTENT"
grant "$ADMIN" 7 "$G"
expect_eq "an admin may grant to themselves" "<@$ADMIN> granted <@$ADMIN> 7 coins. Their balance is 7 coins." "$CONTENT"
expect_eq "one transfer per grant key" "1 1 0" \
    "$(transfers_with_key 920100) $(transfers_with_key 920101) $(transfers_with_key 920102)"
expect_eq "the mint records the admin as actor" "$ADMIN" \
    "$(cb_psql -c "SELECT actor FROM transfers WHERE idempotency_key = '920100'")"

section "/history"
interact --command daily --guild "$G" --user 6201 --interaction-id 930001
interact --command pay --guild "$G" --user 6201 --option user=6202 --option amount=30 --interaction-id 930002
grant 6201 500 "$G" --interaction-id 930003
grant 6202 -10 "$G" --interaction-id 930004
history_of 6201
daily_id=$(transfer_id 930001) pay_id=$(transfer_id 930002) grant_id=$(transfer_id 930003) burn_id=$(transfer_id 930004)
expect_eq "/history is ephemeral" 64 "$FLAGS"
expect_eq "a header and one line per transfer" 4 "$(content_lines)"
expect_eq "the header names the member" "Transfers of <@6201>, newest first:" "$(content_line 1)"
expect_match "newest first: the grant" "^#$grant_id \+500 granted by <@$ADMIN> $DOT <t:[0-9]{10}:R>\$" "$(content_line 2)"
expect_match "then the pay, with a minus sign" "^#$pay_id ${MINUS}30 paid to <@6202> $DOT <t:[0-9]{10}:R>\$" "$(content_line 3)"
expect_match "then the daily" "^#$daily_id \+100 daily $DOT <t:[0-9]{10}:R>\$" "$(content_line 4)"
now=$(date +%s)
stamp=$(sed -E 's/.*<t:([0-9]+):R>$/\1/' <<<"$(content_line 2)")
expect_match "times are Discord timestamps of now" '^ok$' \
    "$([ $((now - stamp)) -ge -5 ] && [ $((now - stamp)) -le 120 ] && echo ok || echo "stamp $stamp now $now")"
interact --command history --guild "$G" --user 6201 --option user=6202
expect_eq "another member's history: header" "Transfers of <@6202>, newest first:" "$(content_line 1)"
expect_match "their burn" "^#$burn_id ${MINUS}10 removed by <@$ADMIN> $DOT " "$(content_line 2)"
expect_match "their side of the pay" "^#$pay_id \+30 from <@6201> $DOT " "$(content_line 3)"
expect_eq "that is all" 3 "$(content_lines)"
history_of 6001
expect_match "a /work shows as work" "^#$(transfer_id 910001) \+$earned work $DOT " "$(content_line 3)"
expect_match "after the /daily that followed it" "^#$(transfer_id 910003) \+100 daily $DOT " "$(content_line 2)"
history_of 6299
expect_eq "no transfers yet" "<@6299> has no transfers yet." "$CONTENT"
expect_eq "that too is ephemeral" 64 "$FLAGS"
for i in $(seq 1 11); do grant 6210 "$i" "$G"; done
history_of 6210
expect_eq "ten transfers, a header and a closing line" 12 "$(content_lines)"
expect_eq "the newest first" "+11 +10 +9 +8 +7 +6 +5 +4 +3 +2" \
    "$(sed -n '2,11p' <<<"$CONTENT" | awk '{print $2}' | paste -sd' ')"
expect_eq "and a word about the older ones" "Older transfers are not shown." "$(content_line 12)"
expect_match "within Discord's 2000 characters" '^ok$' "$([ ${#CONTENT} -le 2000 ] && echo ok)"
interact --command history --guild "$G" --user 6201 --option user=6202 --interaction-id 930010
first=$CONTENT
interact --command history --guild "$G" --user 6201 --option user=6202 --interaction-id 930010
expect_eq "a repeated /history answers the same" "$first" "$CONTENT"

section "/leaderboard"
interact --command leaderboard --guild "$GL" --user 7300
expect_eq "an empty server" "Nobody in this server has any coins yet." "$CONTENT"
expect_eq "is said publicly" 0 "$FLAGS"
for page in 0 -1 1001; do
    interact --command leaderboard --guild "$GL" --user 7300 --option page=$page
    expect_eq "page $page is refused" "The page must be a whole number from 1 to 1,000." "$CONTENT"
    expect_eq "page $page: ephemeral" 64 "$FLAGS"
done
# 13 members: 7201..7212 with 100..1,200 coins, and 7200 tied with 7212.
for i in $(seq 1 12); do grant $((7200 + i)) $((i * 100)) "$GL"; done
grant 7200 1200 "$GL"
line() { printf '%s. <@%s> %s %s coins' "$1" "$2" "$DASH" "$3"; }
page1="Leaderboard $DASH page 1"$'\n'"$(line 1 7200 1,200)"$'\n'"$(line 2 7212 1,200)"
rank=3
for amount in 1,100 1,000 900 800 700 600 500 400; do
    page1+=$'\n'"$(line "$rank" $((7214 - rank)) "$amount")"
    rank=$((rank + 1))
done
page1+=$'\n'"More: /leaderboard page:2"
interact --command leaderboard --guild "$GL" --user 7300
expect_eq "page 1: richest first, ties by user id, and a pointer to page 2" "$page1" "$CONTENT"
expect_eq "a leaderboard is public" 0 "$FLAGS"
interact --command leaderboard --guild "$GL" --user 7300 --option page=1
expect_eq "page=1 is the default page" "$page1" "$CONTENT"
interact --command leaderboard --guild "$GL" --user 7300 --option page=2
expect_eq "page 2: the rest, no pointer" \
    "Leaderboard $DASH page 2"$'\n'"$(line 11 7203 300)"$'\n'"$(line 12 7202 200)"$'\n'"$(line 13 7201 100)" "$CONTENT"
interact --command leaderboard --guild "$GL" --user 7300 --option page=3
expect_eq "past the end" "There is no page 3 of the leaderboard." "$CONTENT"
expect_eq "is ephemeral" 64 "$FLAGS"
interact --command pay --guild "$GL" --user 7201 --option user=7202 --option amount=100
interact --command leaderboard --guild "$GL" --user 7300 --option page=2
expect_eq "a pay reorders the board; a member left with no coins drops off it" \
    "Leaderboard $DASH page 2"$'\n'"$(line 11 7202 300)"$'\n'"$(line 12 7203 300)" "$CONTENT"

section "ledger"
expect_eq "every guild sums to 0" "" "$(cb_psql -c 'SELECT guild_id FROM accounts GROUP BY guild_id HAVING sum(balance) <> 0')"
expect_eq "every balance equals its legs" "" "$(cb_psql -c 'SELECT a.guild_id, a.user_id FROM accounts a LEFT JOIN (SELECT guild_id, user_id, sum(delta) AS s FROM legs GROUP BY 1, 2) l USING (guild_id, user_id) WHERE a.balance <> coalesce(l.s, 0)')"
"$CB_BIN/cordbank-balance" --check-invariants --pg-url "$PG_URL" --metrics-endpoints "" >/dev/null 2>&1
expect_eq "cordbank-balance --check-invariants agrees" 0 $?

section "metrics and the simulator's checks"
metrics=$(curl -s "http://127.0.0.1:$PORT_COMMAND_ADMIN/metrics")
for c in work grant history leaderboard; do
    expect_match "command=\"$c\" has its own series" "cordbank_commands_total\{command=\"$c\",outcome=\"ok\"\} [1-9]" "$metrics"
done
expect_match "refused grants are counted as refused" 'cordbank_commands_total\{command="grant",outcome="refused"\} [1-9]' "$metrics"
expect_eq "label values stay bounded" "balance daily grant history leaderboard pay unknown work" \
    "$(grep -o 'cordbank_commands_total{command="[a-z]*"' <<<"$metrics" | sed -E 's/.*"(.*)"/\1/' | sort -u | paste -sd' ')"
out=$(timeout 30 "$CB_BIN/cordbank-discord-sim" --gateway-url "$URL" --mix work=2,history=2,leaderboard=1 \
    --rate 100 --duration 2 --users 40 --guilds 4 2>/dev/null); rc=$?
expect_eq "a load of /work, /history, /leaderboard: no errors" '{}' "$(jq -c '.errors' <<<"$out" 2>/dev/null)"
expect_eq "and some ok answers" yes "$(jq -r 'if .ok > 0 then "yes" else "no" end' <<<"$out" 2>/dev/null)"
expect_eq "the simulator exits 0" 0 "$rc"

section "balance down: the trouble answer"
TROUBLE="cordbank is having trouble right now; please try again in a moment."
# Each service's command line, to start it again the same way below.
declare -A argv_of
for s in gateway command cache balance metrics; do
    argv_of[$s]=$(tr '\0' '\n' <"/proc/$(cat "$CB_RUN/pids/$s")/cmdline")
done
stop_service() {
    local pid; pid=$(cat "$CB_RUN/pids/$1")
    kill -TERM "$pid"; wait "$pid"
    rm -f "$CB_RUN/pids/$1"
}
stop_service balance
for c in work history leaderboard; do
    interact --command $c --guild "$G" --user 6001
    expect_eq "/$c" "$TROUBLE" "$CONTENT"
    expect_eq "/$c: ephemeral" 64 "$FLAGS"
done
grant 6003 5 "$G"
expect_eq "/grant" "$TROUBLE" "$CONTENT"

section "/work an hour later (every service restarted 61 minutes ahead)"
# CORDBANK_FAKE_NOW_MS moves a process's whole wall clock, deadlines
# included, so every service moves together (each to its own start time
# + 61 min, within milliseconds of each other): balance alone, ahead of
# the others, would take every request for one past its deadline.
# restart_ahead MINUTES: every service stopped, then started again with its
# wall clock MINUTES ahead of real time.
restart_ahead() {
    local s
    for s in gateway command cache balance metrics; do
        [ ! -f "$CB_RUN/pids/$s" ] || stop_service "$s"
    done
    for s in metrics balance cache command gateway; do
        mapfile -t args <<<"${argv_of[$s]}"
        cb_spawn "$s" env CORDBANK_FAKE_NOW_MS=$(($(date +%s%3N) + $1 * 60 * 1000)) "${args[@]}"
    done
    # The simulator signs with the same clock: the gateway refuses an
    # X-Signature-Timestamp more than 300 s from its own now (a replay).
    export CORDBANK_FAKE_NOW_MS=$(($(date +%s%3N) + $1 * 60 * 1000))
    cb_wait_ready 30
}
restart_ahead 61 || exit 1
interact --command work --guild "$G" --user 6001 --interaction-id 910101
expect_match "the cooldown is over" '^You worked and earned [0-9]+ coins\. Your balance is [0-9]+ coins\.$' "$CONTENT"
second=$(sed -nE 's/^You worked and earned ([0-9]+) coins.*/\1/p' <<<"$CONTENT")
expect_eq "and the balance adds up" \
    "You worked and earned $second coins. Your balance is $((earned + 100 + ${second:-0})) coins." "$CONTENT"
interact --command work --guild "$G" --user 6001 --interaction-id 910102
expect_match "and starts again" '^You already worked this hour\. Try again in 59m [0-5][0-9]s\.$' "$CONTENT"
interact --command daily --guild "$G" --user 6001 --interaction-id 910103
expect_match "while /daily still waits its 24 h" '^You already claimed your daily reward\. Try again in 22h 5[0-9]m\.$' "$CONTENT"
interact --command work --guild "$G" --user 6001 --interaction-id 910001
expect_eq "the first /work's id still replays its outcome" "$first_work" "$CONTENT"

section "/daily a day later (every service restarted 24 h 5 min ahead)"
restart_ahead $((24 * 60 + 5)) || exit 1
interact --command daily --guild "$G" --user 6001 --interaction-id 910201
expect_match "the daily cooldown is over" '^You claimed your daily 100 coins\. Your balance is [0-9]+ coins\.$' "$CONTENT"
interact --command daily --guild "$G" --user 6001 --interaction-id 910202
expect_match "and starts again" '^You already claimed your daily reward\. Try again in 23h 59m\.$' "$CONTENT"
expect_eq "two dailies in the ledger" 2 "$(cb_psql -c "SELECT count(*) FROM transfers WHERE guild_id = $G AND to_user = 6001 AND kind = 2")"

section "drain"
for s in gateway command cache balance metrics; do
    pid=$(cat "$CB_RUN/pids/$s")
    kill -TERM "$pid"; wait "$pid"; rc=$?
    rm -f "$CB_RUN/pids/$s"
    expect_eq "$s exits 0 after SIGTERM" 0 "$rc"
done

summary commands
