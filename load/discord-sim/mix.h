/*  mix — which command a simulated member sends next.
 *
 *  "--mix balance=60,pay=25,daily=15" gives relative weights (they need not
 *  sum to 100, only to more than 0). work, leaderboard and history are
 *  accepted for the commands that come later; a command left out has
 *  weight 0.
 */
#ifndef SIM_MIX_H
#define SIM_MIX_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SIM_CMD_BALANCE,
    SIM_CMD_PAY,
    SIM_CMD_DAILY,
    SIM_CMD_WORK,
    SIM_CMD_LEADERBOARD,
    SIM_CMD_HISTORY,
    SIM_CMD_COUNT
} sim_command_t;

typedef struct {
    uint64_t weight[SIM_CMD_COUNT];
    uint64_t total;
} sim_mix_t;

//  0, or -1 with a one-line reason in err.
int sim_mix_parse (const char *text, sim_mix_t *out, char *err, size_t errlen);

//  The command for a uniform draw in [0, 1).
sim_command_t sim_mix_pick (const sim_mix_t *self, double random01);

//  "balance", "pay", ... (data.name of the command).
const char *sim_command_name (sim_command_t command);

int sim_mix_test (void);

#endif
