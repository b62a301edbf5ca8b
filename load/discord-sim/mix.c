/*  mix — parsing "name=weight,..." and drawing a command from it.
 *
 *  Weights are capped at one million each, so the total cannot overflow
 *  and a draw maps onto the cumulative weights without rounding trouble.
 */
#include "load/discord-sim/mix.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHT_MAX 1000000

static const char *const names[SIM_CMD_COUNT] = {
    "balance", "pay", "daily", "work", "leaderboard", "history",
};

const char *
sim_command_name (sim_command_t command)
{
    assert (command < SIM_CMD_COUNT);
    return names[command];
}

static int
find_command (const char *name, size_t len)
{
    for (int i = 0; i < SIM_CMD_COUNT; i++)
        if (strlen (names[i]) == len && strncmp (names[i], name, len) == 0)
            return i;
    return -1;
}

//  One "name=weight" item of length len; seen: a bit per command already given.
static int
parse_item (const char *item, size_t len, unsigned *seen, sim_mix_t *out, char *err, size_t errlen)
{
    const char *eq = memchr (item, '=', len);
    int command = eq ? find_command (item, (size_t) (eq - item)) : -1;
    char *end = NULL;
    long weight = eq && eq[1] >= '0' && eq[1] <= '9' ? strtol (eq + 1, &end, 10) : -1;
    if (command < 0 || !end || end != item + len || weight > WEIGHT_MAX) {
        snprintf (err, errlen,
                  "--mix: bad item '%.*s' (want name=weight, weight 0..%d, names balance, pay, "
                  "daily, work, leaderboard, history)",
                  (int) len, item, WEIGHT_MAX);
        return -1;
    }
    if (*seen & (1u << command)) {
        snprintf (err, errlen, "--mix: '%.*s' given twice", (int) (eq - item), item);
        return -1;
    }
    *seen |= 1u << command;
    out->weight[command] = (uint64_t) weight;
    out->total += (uint64_t) weight;
    return 0;
}

int
sim_mix_parse (const char *text, sim_mix_t *out, char *err, size_t errlen)
{
    assert (text && out && err);
    memset (out, 0, sizeof *out);
    const char *item = text;
    unsigned seen = 0;
    while (true) {
        const char *comma = strchr (item, ',');
        size_t len = comma ? (size_t) (comma - item) : strlen (item);
        if (parse_item (item, len, &seen, out, err, errlen) != 0)
            return -1;
        if (!comma)
            break;
        item = comma + 1;
    }
    if (out->total == 0) {
        snprintf (err, errlen, "--mix '%s': the weights must sum to more than 0", text);
        return -1;
    }
    return 0;
}

sim_command_t
sim_mix_pick (const sim_mix_t *self, double random01)
{
    assert (self && self->total > 0);
    uint64_t draw = (uint64_t) (random01 * (double) self->total);
    for (int i = 0; i < SIM_CMD_COUNT; i++) {
        if (draw < self->weight[i])
            return (sim_command_t) i;
        draw -= self->weight[i];
    }
    //  random01 rounded up to 1.0: the last command with any weight.
    for (int i = SIM_CMD_COUNT - 1; i > 0; i--)
        if (self->weight[i])
            return (sim_command_t) i;
    return SIM_CMD_BALANCE;
}

int
sim_mix_test (void)
{
    sim_mix_t mix;
    char err[256];
    SIM_CHECK (sim_mix_parse ("balance=60,pay=25,daily=15", &mix, err, sizeof err) == 0);
    SIM_CHECK (mix.total == 100 && mix.weight[SIM_CMD_PAY] == 25);
    SIM_CHECK (sim_mix_pick (&mix, 0.0) == SIM_CMD_BALANCE);
    SIM_CHECK (sim_mix_pick (&mix, 0.599) == SIM_CMD_BALANCE);
    SIM_CHECK (sim_mix_pick (&mix, 0.60) == SIM_CMD_PAY);
    SIM_CHECK (sim_mix_pick (&mix, 0.99) == SIM_CMD_DAILY);
    SIM_CHECK (sim_mix_pick (&mix, 1.0) == SIM_CMD_DAILY);
    SIM_CHECK (sim_mix_parse ("work=1", &mix, err, sizeof err) == 0);
    SIM_CHECK (sim_mix_pick (&mix, 0.5) == SIM_CMD_WORK);
    SIM_CHECK (sim_mix_parse ("balance=0", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("balance=0,balance=2", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("grant=1", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("balance=-1", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("balance=1x", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("balance=1,", &mix, err, sizeof err) == -1);
    SIM_CHECK (sim_mix_parse ("", &mix, err, sizeof err) == -1);
    return 0;
}
