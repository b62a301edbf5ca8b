/*  load — many simulated members sending commands at a fixed rate.
 *
 *  An open model: send k is scheduled at start + k/rate whatever happened
 *  to earlier ones, and its latency is measured from that scheduled time,
 *  so a gateway that falls behind shows as growing latency instead of
 *  quietly slowing the generator down (coordinated omission). At most
 *  `concurrency` requests are in flight; sends due while all are busy wait
 *  their turn and the wait counts as latency.
 *
 *  Member i (0 <= i < users) is user 100000+i in guild 7000 + i % guilds,
 *  channel 9000 + i % guilds, application 42. A pay goes to another random
 *  member of the same guild with 1..50 coins; a balance asks about
 *  another member one time in four.
 *
 *  SIGINT/SIGTERM stop new sends; in-flight ones are awaited (up to the
 *  request timeout) and the summary is printed. A second signal abandons
 *  them (counted as errors "aborted"). A request the simulator itself could
 *  not build or queue counts as error "local"; the other kinds are check.h's.
 */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include "load/discord-sim/signer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *url;
    size_t concurrency;
    long timeout_ms;
    int64_t users;
    int64_t guilds;
    double rate;        // sends per second
    int64_t duration_s; // 0: until SIGINT/SIGTERM
    const char *mix;    // "balance=60,pay=25,daily=15"
} sim_load_config_t;

//  Runs the load; the process exit code: 0 (no errors), 1 (errors, or
//  the run could not start), 2 (bad configuration, one line on stderr).
int sim_load_run (const sim_load_config_t *config, const sim_signer_t *signer);

#endif
