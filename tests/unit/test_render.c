/*  render (command service): numbers with thousands separators, cooldown
 *  durations, and the exact reply texts. Needs services/command/render.o
 *  linked into the runner (pure: no sockets, no clock).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "services/command/render.h"

#define MAX_PAY INT64_C (1000000000000)

static const char *
amount (int64_t value)
{
    static char out[RENDER_AMOUNT_LEN];
    return render_amount (out, sizeof out, value);
}

static const char *
duration (int64_t ms)
{
    static char out[RENDER_DURATION_LEN];
    return render_duration (out, sizeof out, ms);
}

Test (render, amount_has_thousands_separators)
{
    cr_assert_str_eq (amount (0), "0");
    cr_assert_str_eq (amount (7), "7");
    cr_assert_str_eq (amount (999), "999");
    cr_assert_str_eq (amount (1000), "1,000");
    cr_assert_str_eq (amount (100000), "100,000");
    cr_assert_str_eq (amount (1234567), "1,234,567");
    cr_assert_str_eq (amount (MAX_PAY), "1,000,000,000,000");
}

Test (render, amount_negative_and_extremes)
{
    cr_assert_str_eq (amount (-1), "-1");
    cr_assert_str_eq (amount (-999), "-999");
    cr_assert_str_eq (amount (-1234), "-1,234");
    cr_assert_str_eq (amount (-1000000), "-1,000,000");
    cr_assert_str_eq (amount (INT64_MAX), "9,223,372,036,854,775,807");
    cr_assert_str_eq (amount (INT64_MIN), "-9,223,372,036,854,775,808");
}

Test (render, duration_hours_round_down)
{
    cr_assert_str_eq (duration (86400000 - 5), "23h 59m", "just after a claim");
    cr_assert_str_eq (duration (86400000), "24h 00m");
    cr_assert_str_eq (duration (3600000), "1h 00m");
    cr_assert_str_eq (duration (3600000 + 61000), "1h 01m");
    cr_assert_str_eq (duration (INT64_MAX), "2562047788015h 12m");
}

Test (render, duration_minutes_round_up_never_zero)
{
    cr_assert_str_eq (duration (3599999), "59m 59s");
    cr_assert_str_eq (duration (65000), "1m 05s");
    cr_assert_str_eq (duration (1001), "0m 02s");
    cr_assert_str_eq (duration (1000), "0m 01s");
    cr_assert_str_eq (duration (1), "0m 01s");
    cr_assert_str_eq (duration (0), "0m 01s");
    cr_assert_str_eq (duration (-5000), "0m 01s", "clock skew");
    cr_assert_str_eq (duration (INT64_MIN), "0m 01s");
}

Test (render, texts)
{
    char out[RENDER_TEXT_LEN];
    int64_t balance = 1250;
    cr_assert_str_eq (render_balance (out, sizeof out, 5001, 1234567),
                      "<@5001> has 1,234,567 coins.");
    cr_assert_str_eq (render_balance (out, sizeof out, UINT64_MAX, -5),
                      "<@18446744073709551615> has -5 coins.");
    cr_assert_str_eq (render_daily_claimed (out, sizeof out, 100, &balance),
                      "You claimed your daily 100 coins. Your balance is 1,250 coins.");
    cr_assert_str_eq (render_daily_cooldown (out, sizeof out, 86399000),
                      "You already claimed your daily reward. Try again in 23h 59m.");
    cr_assert_str_eq (render_paid (out, sizeof out, 5001, 5002, 25, &balance),
                      "<@5001> paid <@5002> 25 coins. Your balance is 1,250 coins.");
    cr_assert_str_eq (render_insufficient (out, sizeof out, &balance, 5000),
                      "Insufficient funds: you have 1,250 coins and tried to pay 5,000.");
    cr_assert_str_eq (render_bad_amount (out, sizeof out, MAX_PAY),
                      "The amount must be a whole number from 1 to 1,000,000,000,000.");
    cr_assert_str_eq (render_unknown_command (out, sizeof out, "rob"), "Unknown command: /rob.");
}

Test (render, texts_without_a_balance)
{
    char out[RENDER_TEXT_LEN];
    cr_assert_str_eq (render_daily_claimed (out, sizeof out, 100, NULL),
                      "You claimed your daily 100 coins.");
    cr_assert_str_eq (render_paid (out, sizeof out, 1, 2, 3, NULL), "<@1> paid <@2> 3 coins.");
    cr_assert_str_eq (render_insufficient (out, sizeof out, NULL, 3),
                      "Insufficient funds: you tried to pay 3.");
}

Test (render, unknown_command_long_name_cut_on_utf8_boundary)
{
    char name[300], out[RENDER_TEXT_LEN];
    //  99 ASCII bytes then 2-byte characters: byte 100 is the middle of one.
    memset (name, 'a', 99);
    for (int i = 99; i < 299; i += 2) {
        name[i] = (char) 0xC3;
        name[i + 1] = (char) 0xA9;
    }
    name[299] = '\0';
    render_unknown_command (out, sizeof out, name);
    cr_assert_eq (strlen (out), strlen ("Unknown command: /.") + 99);
    cr_assert_eq (out[strlen (out) - 1], '.');
}

Test (render, work_texts)
{
    char out[RENDER_TEXT_LEN];
    int64_t balance = 1234;
    cr_assert_str_eq (render_work_claimed (out, sizeof out, 37, &balance),
                      "You worked and earned 37 coins. Your balance is 1,234 coins.");
    cr_assert_str_eq (render_work_claimed (out, sizeof out, 37, NULL),
                      "You worked and earned 37 coins.");
    cr_assert_str_eq (render_work_cooldown (out, sizeof out, 42 * 60000 + 10000),
                      "You already worked this hour. Try again in 42m 10s.");
    cr_assert_str_eq (render_work_cooldown (out, sizeof out, 3600000),
                      "You already worked this hour. Try again in 1h 00m.");
}

Test (render, grant_texts)
{
    char out[RENDER_TEXT_LEN];
    int64_t balance = 1500, zero = 0;
    cr_assert_str_eq (render_granted (out, sizeof out, 9001, 5001, 500, &balance),
                      "<@9001> granted <@5001> 500 coins. Their balance is 1,500 coins.");
    cr_assert_str_eq (render_granted (out, sizeof out, 9001, 5001, -1200, &zero),
                      "<@9001> removed 1,200 coins from <@5001>. Their balance is 0 coins.");
    cr_assert_str_eq (render_granted (out, sizeof out, 9001, 5001, 5, NULL),
                      "<@9001> granted <@5001> 5 coins.");
    cr_assert_str_eq (render_granted (out, sizeof out, 1, 2, INT64_MIN + 1, NULL),
                      "<@1> removed 9,223,372,036,854,775,807 coins from <@2>.");
    cr_assert_str_eq (render_grant_insufficient (out, sizeof out, 5001, &balance, -2000),
                      "<@5001> has only 1,500 coins; you cannot remove 2,000.");
    cr_assert_str_eq (render_grant_insufficient (out, sizeof out, 5001, NULL, -2000),
                      "<@5001> has fewer than 2,000 coins; you cannot remove 2,000.");
    cr_assert_str_eq (render_bad_grant_amount (out, sizeof out, MAX_PAY),
                      "The amount must be a whole number from 1 to 1,000,000,000,000 to grant, "
                      "or from -1 to -1,000,000,000,000 to remove.");
    cr_assert_str_eq (RENDER_GRANT_DENIED, "You need the Manage Server permission to use /grant.");
}

//  A history entry as balance would send it.
static Cordbank__HistoryEntry
entry (uint64_t id, Cordbank__TransferKind kind, uint64_t from, uint64_t to, int64_t delta,
       uint64_t actor, int64_t created_ms)
{
    Cordbank__HistoryEntry e = CORDBANK__HISTORY_ENTRY__INIT;
    e.transfer_id = id;
    e.kind = kind;
    e.from_user = from;
    e.to_user = to;
    e.amount = delta < 0 ? -delta : delta;
    e.delta = delta;
    e.actor = actor;
    e.created_unix_ms = created_ms;
    return e;
}

Test (render, history_lines)
{
    char out[RENDER_LIST_LEN];
    Cordbank__HistoryEntry e[] = {
        entry (127, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT, 5001, 0, -200, 9001,
               1712345999000),
        entry (126, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT, 0, 5001, 500, 9001,
               1712345900999),
        entry (125, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY, 5002, 5001, 30, 5002,
               1712345800000),
        entry (124, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY, 5001, 5002, -1030, 5001,
               1712345700000),
        entry (123, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY, 0, 5001, 100, 5001,
               1712345600000),
        entry (122, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_WORK, 0, 5001, 37, 5001, 0),
        entry (121, 99, 0, 5001, 1, 0, 1000),
    };
    Cordbank__HistoryEntry *p[7];
    for (int i = 0; i < 7; i++)
        p[i] = &e[i];
    cr_assert_str_eq (render_history (out, sizeof out, 5001, p, 7, false),
                      "Transfers of <@5001>, newest first:\n"
                      "#127 \u2212200 removed by <@9001> \u00b7 <t:1712345999:R>\n"
                      "#126 +500 granted by <@9001> \u00b7 <t:1712345900:R>\n"
                      "#125 +30 from <@5002> \u00b7 <t:1712345800:R>\n"
                      "#124 \u22121,030 paid to <@5002> \u00b7 <t:1712345700:R>\n"
                      "#123 +100 daily \u00b7 <t:1712345600:R>\n"
                      "#122 +37 work\n"
                      "#121 +1 transfer \u00b7 <t:1:R>");
    cr_assert_str_eq (render_history (out, sizeof out, 5001, p, 1, true),
                      "Transfers of <@5001>, newest first:\n"
                      "#127 \u2212200 removed by <@9001> \u00b7 <t:1712345999:R>\n"
                      "Older transfers are not shown.");
    cr_assert_str_eq (render_history (out, sizeof out, 5003, NULL, 0, false),
                      "<@5003> has no transfers yet.");
    cr_assert_str_eq (render_history (out, sizeof out, 5003, NULL, 0, true),
                      "<@5003> has no transfers yet.", "has_more without entries is no page");
}

Test (render, history_stays_within_discord_limit)
{
    //  The longest line there is, many times over: the text stops at the
    //  limit, on a whole line, and says that older ones are left out.
    char out[RENDER_LIST_LEN];
    //  (amount is an int64 > 0, so the largest burn is -INT64_MAX.)
    Cordbank__HistoryEntry e = entry (UINT64_MAX, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT,
                                      UINT64_MAX, 0, -INT64_MAX, UINT64_MAX, INT64_MAX);
    Cordbank__HistoryEntry *p[50];
    for (int i = 0; i < 50; i++)
        p[i] = &e;
    render_history (out, sizeof out, UINT64_MAX, p, 50, false);
    cr_assert_leq (strlen (out), RENDER_CONTENT_MAX);
    cr_assert_gt (strlen (out), RENDER_CONTENT_MAX - 200, "no room wasted");
    const char *last = strrchr (out, '\n');
    cr_assert_str_eq (last, "\nOlder transfers are not shown.");
    cr_assert (strstr (out, "#18446744073709551615 \u22129,223,372,036,854,775,807 removed by "
                            "<@18446744073709551615> \u00b7 <t:9223372036854775:R>\n"));
    //  Ten such lines, the product's number, all fit.
    render_history (out, sizeof out, UINT64_MAX, p, 10, false);
    cr_assert_null (strstr (out, "Older"));
}

static Cordbank__LeaderboardEntry
ranked (uint32_t rank, uint64_t user, int64_t balance)
{
    Cordbank__LeaderboardEntry e = CORDBANK__LEADERBOARD_ENTRY__INIT;
    e.rank = rank;
    e.user_id = user;
    e.balance = balance;
    return e;
}

Test (render, leaderboard_texts)
{
    char out[RENDER_LIST_LEN];
    Cordbank__LeaderboardEntry e[] = {ranked (11, 5001, 1234), ranked (12, 5002, 1234),
                                      ranked (13, 5003, 7)};
    Cordbank__LeaderboardEntry *p[] = {&e[0], &e[1], &e[2]};
    cr_assert_str_eq (render_leaderboard (out, sizeof out, 2, p, 3, false),
                      "Leaderboard \u2014 page 2\n"
                      "11. <@5001> \u2014 1,234 coins\n"
                      "12. <@5002> \u2014 1,234 coins\n"
                      "13. <@5003> \u2014 7 coins");
    cr_assert_str_eq (render_leaderboard (out, sizeof out, 2, p, 1, true),
                      "Leaderboard \u2014 page 2\n"
                      "11. <@5001> \u2014 1,234 coins\n"
                      "More: /leaderboard page:3");
    cr_assert_str_eq (RENDER_LEADERBOARD_EMPTY, "Nobody in this server has any coins yet.");
    cr_assert_str_eq (render_no_page (out, sizeof out, 7),
                      "There is no page 7 of the leaderboard.");
    cr_assert_str_eq (render_bad_page (out, sizeof out, 1000),
                      "The page must be a whole number from 1 to 1,000.");
}

Test (render, leaderboard_stays_within_discord_limit)
{
    char out[RENDER_LIST_LEN];
    Cordbank__LeaderboardEntry e = ranked (UINT32_MAX, UINT64_MAX, INT64_MIN);
    Cordbank__LeaderboardEntry *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = &e;
    render_leaderboard (out, sizeof out, UINT32_MAX, p, 100, true);
    cr_assert_leq (strlen (out), RENDER_CONTENT_MAX);
    cr_assert (strstr (out, "\nMore: /leaderboard page:4294967296"), "%s", out);
    render_leaderboard (out, sizeof out, 1, p, 25, true);
    cr_assert_eq (strlen (out),
                  strlen ("Leaderboard \u2014 page 1") +
                      25 * strlen ("\n4294967295. <@18446744073709551615> \u2014 "
                                   "-9,223,372,036,854,775,808 coins") +
                      strlen ("\nMore: /leaderboard page:2"),
                  "a page of 25 (the ledger's largest) always fits");
}

Test (render, rate_limited_texts)
{
    char out[RENDER_TEXT_LEN];
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, 3000),
                      "You're going too fast. Try again in 3s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, 2001),
                      "You're going too fast. Try again in 3s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, 1),
                      "You're going too fast. Try again in 1s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, 0),
                      "You're going too fast. Try again in 1s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, -5),
                      "You're going too fast. Try again in 1s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, true, 20),
                      "This server is sending too many commands right now. Try again in 1s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, false, 59999),
                      "You're going too fast. Try again in 60s.");
    cr_assert_str_eq (render_rate_limited (out, sizeof out, true, 65000),
                      "This server is sending too many commands right now. Try again in 1m 05s.");
}
