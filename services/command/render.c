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

char *
render_rate_limited (char *out, size_t outlen, bool guild, int64_t retry_after_ms)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    //  "Try again in" as in the cooldown texts, so that a reader (or the
    //  load simulator) knows it at once for a refusal that ends by itself.
    const char *who =
        guild ? "This server is sending too many commands right now" : "You're going too fast";
    char left[RENDER_DURATION_LEN];
    if (retry_after_ms < MINUTE_MS) {
        int64_t seconds = retry_after_ms <= 0 ? 1 : (retry_after_ms + 999) / 1000;
        snprintf (left, sizeof left, "%" PRId64 "s", seconds);
    } else
        render_duration (left, sizeof left, retry_after_ms);
    snprintf (out, outlen, "%s. Try again in %s.", who, left);
    return out;
}

char *
render_work_claimed (char *out, size_t outlen, int64_t amount, const int64_t *balance)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char earned[RENDER_AMOUNT_LEN], total[RENDER_AMOUNT_LEN];
    render_amount (earned, sizeof earned, amount);
    if (balance)
        snprintf (out, outlen, "You worked and earned %s coins. Your balance is %s coins.", earned,
                  render_amount (total, sizeof total, *balance));
    else
        snprintf (out, outlen, "You worked and earned %s coins.", earned);
    return out;
}

char *
render_work_cooldown (char *out, size_t outlen, int64_t remaining_ms)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char left[RENDER_DURATION_LEN];
    snprintf (out, outlen, "You already worked this hour. Try again in %s.",
              render_duration (left, sizeof left, remaining_ms));
    return out;
}

//  The magnitude of value as render_amount writes it, without a sign.
static const char *
magnitude (char *out, size_t outlen, int64_t value)
{
    render_amount (out, outlen, value);
    return out[0] == '-' ? out + 1 : out;
}

char *
render_granted (char *out, size_t outlen, uint64_t admin, uint64_t member, int64_t amount,
                const int64_t *balance)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char moved[RENDER_AMOUNT_LEN], total[RENDER_AMOUNT_LEN];
    const char *coins = magnitude (moved, sizeof moved, amount);
    int len;
    if (amount >= 0)
        len = snprintf (out, outlen, "<@%" PRIu64 "> granted <@%" PRIu64 "> %s coins.", admin,
                        member, coins);
    else
        len = snprintf (out, outlen, "<@%" PRIu64 "> removed %s coins from <@%" PRIu64 ">.", admin,
                        coins, member);
    if (balance && len > 0 && (size_t) len < outlen)
        snprintf (out + len, outlen - (size_t) len, " Their balance is %s coins.",
                  render_amount (total, sizeof total, *balance));
    return out;
}

char *
render_grant_insufficient (char *out, size_t outlen, uint64_t member, const int64_t *balance,
                           int64_t amount)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char wanted[RENDER_AMOUNT_LEN], have[RENDER_AMOUNT_LEN];
    const char *coins = magnitude (wanted, sizeof wanted, amount);
    if (balance)
        snprintf (out, outlen, "<@%" PRIu64 "> has only %s coins; you cannot remove %s.", member,
                  render_amount (have, sizeof have, *balance), coins);
    else
        snprintf (out, outlen, "<@%" PRIu64 "> has fewer than %s coins; you cannot remove %s.",
                  member, coins, coins);
    return out;
}

char *
render_bad_grant_amount (char *out, size_t outlen, int64_t max_amount)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    assert (max_amount > 0);
    char max[RENDER_AMOUNT_LEN];
    render_amount (max, sizeof max, max_amount);
    snprintf (out, outlen,
              "The amount must be a whole number from 1 to %s to grant, or from -1 to -%s to "
              "remove.",
              max, max);
    return out;
}

//  A reply built line by line that never grows past RENDER_CONTENT_MAX.
typedef struct {
    char *out;
    size_t cap; // bytes of text allowed, the NUL not counted
    size_t len;
} lines_t;

static void
lines_init (lines_t *self, char *out, size_t outlen)
{
    assert (outlen >= RENDER_LIST_LEN);
    self->out = out;
    self->cap = RENDER_CONTENT_MAX;
    self->len = 0;
    out[0] = '\0';
}

//  Adds line (after a newline unless it is the first) when it fits with
//  `reserve` bytes still free for a closing line; false, and nothing
//  added, otherwise.
static bool
lines_add (lines_t *self, const char *line, size_t reserve)
{
    size_t sep = self->len > 0 ? 1 : 0, len = strlen (line);
    if (self->len + sep + len + reserve > self->cap)
        return false;
    if (sep)
        self->out[self->len++] = '\n';
    memcpy (self->out + self->len, line, len + 1);
    self->len += len;
    return true;
}

//  What a transfer was, seen from the member whose history it is.
static void
history_what (char *out, size_t outlen, const Cordbank__HistoryEntry *entry)
{
    switch (entry->kind) {
    case CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY:
        snprintf (out, outlen, "daily");
        break;
    case CORDBANK__TRANSFER_KIND__TRANSFER_KIND_WORK:
        snprintf (out, outlen, "work");
        break;
    case CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY:
        if (entry->delta < 0)
            snprintf (out, outlen, "paid to <@%" PRIu64 ">", entry->to_user);
        else
            snprintf (out, outlen, "from <@%" PRIu64 ">", entry->from_user);
        break;
    case CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT:
        snprintf (out, outlen, "%s by <@%" PRIu64 ">", entry->delta < 0 ? "removed" : "granted",
                  entry->actor);
        break;
    default:
        snprintf (out, outlen, "transfer");
        break;
    }
}

//  "#ID +N what · <t:SECONDS:R>"; the time is left out when unknown.
static void
history_line (char *out, size_t outlen, const Cordbank__HistoryEntry *entry)
{
    char what[64], amount[RENDER_AMOUNT_LEN];
    history_what (what, sizeof what, entry);
    int len = snprintf (out, outlen, "#%" PRIu64 " %s%s %s", entry->transfer_id,
                        entry->delta < 0 ? "\u2212" : "+",
                        magnitude (amount, sizeof amount, entry->delta), what);
    if (entry->created_unix_ms > 0 && len > 0 && (size_t) len < outlen)
        snprintf (out + len, outlen - (size_t) len, " \u00b7 <t:%" PRId64 ":R>",
                  entry->created_unix_ms / 1000);
}

#define HISTORY_MORE "Older transfers are not shown."

char *
render_history (char *out, size_t outlen, uint64_t member, Cordbank__HistoryEntry *const *entries,
                size_t count, bool has_more)
{
    assert (out && (entries || count == 0));
    lines_t lines;
    lines_init (&lines, out, outlen);
    char line[256];
    if (count == 0) {
        snprintf (line, sizeof line, "<@%" PRIu64 "> has no transfers yet.", member);
        lines_add (&lines, line, 0);
        return out;
    }
    snprintf (line, sizeof line, "Transfers of <@%" PRIu64 ">, newest first:", member);
    lines_add (&lines, line, 0);
    //  Newest first, so a transfer that does not fit is older than every
    //  one shown: the closing line covers it as it covers has_more.
    bool cut = false;
    for (size_t i = 0; i < count && !cut; i++) {
        if (!entries[i])
            continue;
        history_line (line, sizeof line, entries[i]);
        cut = !lines_add (&lines, line, 1 + strlen (HISTORY_MORE));
    }
    if (cut || has_more)
        lines_add (&lines, HISTORY_MORE, 0);
    return out;
}

char *
render_leaderboard (char *out, size_t outlen, uint32_t page,
                    Cordbank__LeaderboardEntry *const *entries, size_t count, bool has_more)
{
    assert (out && (entries || count == 0));
    lines_t lines;
    lines_init (&lines, out, outlen);
    char line[256], more[64] = "", balance[RENDER_AMOUNT_LEN];
    if (has_more)
        snprintf (more, sizeof more, "More: /leaderboard page:%" PRIu64, (uint64_t) page + 1);
    snprintf (line, sizeof line, "Leaderboard \u2014 page %" PRIu32, page);
    lines_add (&lines, line, 0);
    size_t reserve = *more ? 1 + strlen (more) : 0;
    for (size_t i = 0; i < count; i++) {
        const Cordbank__LeaderboardEntry *entry = entries[i];
        if (!entry)
            continue;
        snprintf (line, sizeof line, "%" PRIu32 ". <@%" PRIu64 "> \u2014 %s coins", entry->rank,
                  entry->user_id, render_amount (balance, sizeof balance, entry->balance));
        if (!lines_add (&lines, line, reserve))
            break;
    }
    if (*more)
        lines_add (&lines, more, 0);
    return out;
}

char *
render_no_page (char *out, size_t outlen, uint32_t page)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    snprintf (out, outlen, "There is no page %" PRIu32 " of the leaderboard.", page);
    return out;
}

char *
render_bad_page (char *out, size_t outlen, uint32_t max_page)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    char max[RENDER_AMOUNT_LEN];
    snprintf (out, outlen, "The page must be a whole number from 1 to %s.",
              render_amount (max, sizeof max, max_page));
    return out;
}
