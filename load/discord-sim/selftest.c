/*  selftest — runs every module's self-test (see selftest.h).
 */
#include "load/discord-sim/selftest.h"
#include "load/discord-sim/load.h"
#include "load/discord-sim/check.h"
#include "load/discord-sim/commands.h"
#include "load/discord-sim/faults.h"
#include "load/discord-sim/histogram.h"
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/mix.h"
#include "load/discord-sim/ratelimit.h"
#include "load/discord-sim/sessions.h"
#include "load/discord-sim/signer.h"
#include "load/discord-sim/stats.h"
#include "load/discord-sim/zstream.h"

int
sim_selftest_run (void)
{
    static const struct {
        const char *name;
        int (*test) (void);
    } tests[] = {
        {"histogram", sim_hist_test},
        {"signer", sim_signer_test},
        {"interaction", sim_interaction_test},
        {"mix", sim_mix_test},
        {"check", sim_check_test},
        {"stats", sim_stats_test},
        {"load", sim_load_test},
        {"ratelimit", srv_ratelimit_test},
        {"commands", srv_commands_test},
        {"faults", srv_faults_test},
        {"zstream", srv_zstream_test},
        {"sessions", srv_sessions_test},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (tests[i].test () != 0) {
            fprintf (stderr, "self-test: %s failed\n", tests[i].name);
            return 1;
        }
    printf ("self-test: ok\n");
    return 0;
}
