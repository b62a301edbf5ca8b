/*  render — the texts cordbank answers with, and how it writes numbers and
 *  durations in them.
 *
 *  Amounts are int64 and may be negative (the guild's mint is, and a grant
 *  can burn), so render_amount works on the unsigned magnitude: negating
 *  INT64_MIN as an int64 would overflow. Snowflakes are uint64 and printed
 *  as they are, inside Discord's mention syntax <@ID>.
 */
#include "services/command/render.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MINUTE_MS INT64_C (60000)
#define HOUR_MS   INT64_C (3600000)

//  Discord command names are at most 32 characters; this is generous.
#define UNKNOWN_NAME_MAX 100

char *
render_amount (char *out, size_t outlen, int64_t value)
{
    assert (out && outlen >= RENDER_AMOUNT_LEN);
    uint64_t magnitude = value < 0 ? (uint64_t) (-(value + 1)) + 1 : (uint64_t) value;
    //  Written backwards from the end of a scratch buffer, a comma every
    //  three digits.
    char scratch[RENDER_AMOUNT_LEN];
    char *p = scratch + sizeof scratch;
    *--p = '\0';
    int digits = 0;
    do {
        if (digits > 0 && digits % 3 == 0)
            *--p = ',';
        *--p = (char) ('0' + magnitude % 10);
        magnitude /= 10;
        digits++;
    } while (magnitude > 0);
    if (value < 0)
        *--p = '-';
    memcpy (out, p, (size_t) (scratch + sizeof scratch - p));
    return out;
}

char *
render_duration (char *out, size_t outlen, int64_t ms)
{
    assert (out && outlen >= RENDER_DURATION_LEN);
    if (ms >= HOUR_MS) {
        int64_t minutes = ms / MINUTE_MS;
        snprintf (out, outlen, "%" PRId64 "h %02" PRId64 "m", minutes / 60, minutes % 60);
        return out;
    }
    //  Below an hour: whole seconds rounded up, at least 1 (a clock that
    //  runs a little behind the ledger's must not say "0m 00s"), and at
    //  most 59m 59s so the two forms never overlap.
    int64_t seconds = ms <= 0 ? 1 : (ms + 999) / 1000;
    if (seconds > 3599)
        seconds = 3599;
    snprintf (out, outlen, "%" PRId64 "m %02" PRId64 "s", seconds / 60, seconds % 60);
    return out;
}

char *
render_balance (char *out, size_t outlen, uint64_t user, int64_t balance)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char amount[RENDER_AMOUNT_LEN];
    snprintf (out, outlen, "<@%" PRIu64 "> has %s coins.", user,
              render_amount (amount, sizeof amount, balance));
    return out;
}

char *
render_daily_claimed (char *out, size_t outlen, int64_t amount, const int64_t *balance)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char claimed[RENDER_AMOUNT_LEN], total[RENDER_AMOUNT_LEN];
    render_amount (claimed, sizeof claimed, amount);
    if (balance)
        snprintf (out, outlen, "You claimed your daily %s coins. Your balance is %s coins.",
                  claimed, render_amount (total, sizeof total, *balance));
    else
        snprintf (out, outlen, "You claimed your daily %s coins.", claimed);
    return out;
}

char *
render_daily_cooldown (char *out, size_t outlen, int64_t remaining_ms)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char left[RENDER_DURATION_LEN];
    snprintf (out, outlen, "You already claimed your daily reward. Try again in %s.",
              render_duration (left, sizeof left, remaining_ms));
    return out;
}

char *
render_paid (char *out, size_t outlen, uint64_t payer, uint64_t payee, int64_t amount,
             const int64_t *balance)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char paid[RENDER_AMOUNT_LEN], total[RENDER_AMOUNT_LEN];
    render_amount (paid, sizeof paid, amount);
    if (balance)
        snprintf (out, outlen,
                  "<@%" PRIu64 "> paid <@%" PRIu64 "> %s coins. Your balance is %s coins.", payer,
                  payee, paid, render_amount (total, sizeof total, *balance));
    else
        snprintf (out, outlen, "<@%" PRIu64 "> paid <@%" PRIu64 "> %s coins.", payer, payee, paid);
    return out;
}

char *
render_insufficient (char *out, size_t outlen, const int64_t *balance, int64_t amount)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char have[RENDER_AMOUNT_LEN], wanted[RENDER_AMOUNT_LEN];
    render_amount (wanted, sizeof wanted, amount);
    if (balance)
        snprintf (out, outlen, "Insufficient funds: you have %s coins and tried to pay %s.",
                  render_amount (have, sizeof have, *balance), wanted);
    else
        snprintf (out, outlen, "Insufficient funds: you tried to pay %s.", wanted);
    return out;
}

char *
render_bad_amount (char *out, size_t outlen, int64_t max_amount)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char max[RENDER_AMOUNT_LEN];
    snprintf (out, outlen, "The amount must be a whole number from 1 to %s.",
              render_amount (max, sizeof max, max_amount));
    return out;
}

char *
render_unknown_command (char *out, size_t outlen, const char *name)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    assert (name);
    //  The name comes from outside: cut a long one where a UTF-8 character
    //  starts (a byte whose top two bits are 10 continues one), so the reply stays valid text.
    size_t len = strnlen (name, UNKNOWN_NAME_MAX + 1);
    if (len > UNKNOWN_NAME_MAX) {
        len = UNKNOWN_NAME_MAX;
        while (len > 0 && ((unsigned char) name[len] & 0xC0) == 0x80)
            len--;
    }
    snprintf (out, outlen, "Unknown command: /%.*s.", (int) len, name);
    return out;
}
