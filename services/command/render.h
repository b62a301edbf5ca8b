/*  render — the texts cordbank answers with, and how it writes numbers and
 *  durations in them.
 *
 *  Every reply text the command service sends is built here, so that the
 *  exact wording lives in one file (tests match it character for character).
 *  Pure functions: no I/O, no clock, no state; each writes into a buffer the
 *  caller provides and returns it.
 */
#ifndef COMMAND_RENDER_H
#define COMMAND_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.pb-c.h"

//  Buffer sizes: "-9,223,372,036,854,775,808" is 26 characters. A list
//  (/history, /leaderboard) fills at most RENDER_CONTENT_MAX bytes, Discord's
//  limit on a message's content (it counts characters; a byte bound is
//  stricter), so RENDER_LIST_LEN holds any reply the service sends.
#define RENDER_AMOUNT_LEN   32
#define RENDER_DURATION_LEN 48
#define RENDER_TEXT_LEN     512
#define RENDER_CONTENT_MAX  2000
#define RENDER_LIST_LEN     (RENDER_CONTENT_MAX + 1)

//  The fixed texts.
#define RENDER_DM_ONLY           "cordbank works inside servers only."
#define RENDER_TROUBLE           "cordbank is having trouble right now; please try again in a moment."
#define RENDER_PAY_SELF          "You cannot pay yourself."
#define RENDER_PAY_BOT           "You cannot pay a bot."
#define RENDER_PAY_NO_USER       "Choose the member you want to pay."
#define RENDER_BAD_USER          "The user option must name a member of this server."
#define RENDER_NO_INVOKER        "cordbank could not tell who sent this command."
#define RENDER_GRANT_DENIED      "You need the Manage Server permission to use /grant."
#define RENDER_GRANT_NO_USER     "Choose the member whose balance you want to change."
#define RENDER_GRANT_BOT         "Bots cannot hold coins; choose a member."
#define RENDER_LEADERBOARD_EMPTY "Nobody in this server has any coins yet."

//  1234567 -> "1,234,567", -1234 -> "-1,234"; every int64 including
//  INT64_MIN. outlen must be at least RENDER_AMOUNT_LEN.
char *render_amount (char *out, size_t outlen, int64_t value);

//  Time left until a cooldown ends: "23h 59m" from one hour up (minutes
//  rounded down, the usual countdown reading), "4m 05s" below (seconds
//  rounded up, so it never reads "0m 00s": anything at or below zero is
//  "0m 01s"). outlen must be at least RENDER_DURATION_LEN.
char *render_duration (char *out, size_t outlen, int64_t ms);

//  The texts with values in them. outlen must be at least RENDER_TEXT_LEN.
//  A NULL balance means the reply did not carry one (it is then left out).

//  "<@U> has N coins."
char *render_balance (char *out, size_t outlen, uint64_t user, int64_t balance);
//  "You claimed your daily N coins. Your balance is B coins."
char *render_daily_claimed (char *out, size_t outlen, int64_t amount, const int64_t *balance);
//  "You already claimed your daily reward. Try again in 23h 59m."
char *render_daily_cooldown (char *out, size_t outlen, int64_t remaining_ms);
//  "<@A> paid <@B> N coins. Your balance is B coins."
char *render_paid (char *out, size_t outlen, uint64_t payer, uint64_t payee, int64_t amount,
                   const int64_t *balance);
//  "Insufficient funds: you have B coins and tried to pay N."
char *render_insufficient (char *out, size_t outlen, const int64_t *balance, int64_t amount);
//  "The amount must be a whole number from 1 to 1,000,000,000,000."
char *render_bad_amount (char *out, size_t outlen, int64_t max_amount);
//  "Unknown command: /NAME." (a long name is cut at a UTF-8 character boundary)
char *render_unknown_command (char *out, size_t outlen, const char *name);

//  A command refused by a rate limit, retry_after_ms until it may run:
//  "You're going too fast. Try again in 3s." (the member's own limit) or
//  "This server is sending too many commands right now. Try again in 3s."
//  (the guild's: the member did nothing wrong). Whole seconds rounded up,
//  at least 1; from a minute up, as render_duration ("1m 05s").
char *render_rate_limited (char *out, size_t outlen, bool guild, int64_t retry_after_ms);

//  /work: "You worked and earned N coins. Your balance is B coins."
char *render_work_claimed (char *out, size_t outlen, int64_t amount, const int64_t *balance);
//  "You already worked this hour. Try again in 42m 10s."
char *render_work_cooldown (char *out, size_t outlen, int64_t remaining_ms);

//  /grant, by the sign of amount (never 0):
//  "<@A> granted <@U> N coins. Their balance is B coins." (mint, amount > 0)
//  "<@A> removed N coins from <@U>. Their balance is B coins." (burn, amount < 0)
char *render_granted (char *out, size_t outlen, uint64_t admin, uint64_t member, int64_t amount,
                      const int64_t *balance);
//  A burn of `amount` (its magnitude is shown) larger than the balance:
//  "<@U> has only B coins; you cannot remove N."
//  (without a balance: "<@U> has fewer than N coins; you cannot remove N.")
char *render_grant_insufficient (char *out, size_t outlen, uint64_t member, const int64_t *balance,
                                 int64_t amount);
//  "The amount must be a whole number from 1 to MAX to grant, or from -1 to
//  -MAX to remove."
char *render_bad_grant_amount (char *out, size_t outlen, int64_t max_amount);

//  /history, ephemeral. outlen at least RENDER_LIST_LEN; the text never
//  exceeds RENDER_CONTENT_MAX bytes (lines that would not fit are left
//  out, as are older transfers, and a last line says so). Times are
//  Discord timestamps "<t:SECONDS:R>": every reader's client shows them
//  relative ("5 minutes ago") in the reader's own language and time zone,
//  and the text stays a pure function of the reply.
//
//      Transfers of <@U>, newest first:
//      #125 +30 from <@5001> · <t:1712345678:R>
//      #124 −30 paid to <@5002> · <t:1712345600:R>
//      #123 +100 daily · <t:1712345500:R>
//      Older transfers are not shown.
//
//  Kinds: "daily", "work", "paid to <@B>" / "from <@A>" (pay), "granted by
//  <@ADMIN>" / "removed by <@ADMIN>" (grant), "transfer" (a kind this
//  version does not know). The sign is U+2212 MINUS SIGN or "+".
//  No entries: "<@U> has no transfers yet."
char *render_history (char *out, size_t outlen, uint64_t member,
                      Cordbank__HistoryEntry *const *entries, size_t count, bool has_more);

//  /leaderboard, public. outlen at least RENDER_LIST_LEN; the text never
//  exceeds RENDER_CONTENT_MAX bytes.
//
//      Leaderboard — page 2
//      11. <@U> — 1,234 coins
//      ...
//      More: /leaderboard page:3          (when has_more)
//
//  Call it with at least one entry: an empty page is RENDER_LEADERBOARD_EMPTY
//  (page 1) or render_no_page.
char *render_leaderboard (char *out, size_t outlen, uint32_t page,
                          Cordbank__LeaderboardEntry *const *entries, size_t count, bool has_more);
//  "There is no page P of the leaderboard."
char *render_no_page (char *out, size_t outlen, uint32_t page);
//  "The page must be a whole number from 1 to 1,000."
char *render_bad_page (char *out, size_t outlen, uint32_t max_page);

#endif
