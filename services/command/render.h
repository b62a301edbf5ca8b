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

#include <stddef.h>
#include <stdint.h>

//  Buffer sizes: "-9,223,372,036,854,775,808" is 26 characters.
#define RENDER_AMOUNT_LEN   32
#define RENDER_DURATION_LEN 48
#define RENDER_TEXT_LEN     512

//  The fixed texts.
#define RENDER_DM_ONLY     "cordbank works inside servers only."
#define RENDER_TROUBLE     "cordbank is having trouble right now; please try again in a moment."
#define RENDER_PAY_SELF    "You cannot pay yourself."
#define RENDER_PAY_BOT     "You cannot pay a bot."
#define RENDER_PAY_NO_USER "Choose the member you want to pay."
#define RENDER_BAD_USER    "The user option must name a member of this server."
#define RENDER_NO_INVOKER  "cordbank could not tell who sent this command."

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

#endif
