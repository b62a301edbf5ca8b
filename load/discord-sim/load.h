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
 *  Closed model (config->closed): each member is one user who sends, waits
 *  for the answer, thinks (exponential, mean think_ms) and sends again;
 *  the latency is from the moment it sent. Users start spread over the
 *  first think time.
 *
 *  Who sends (open model): a uniformly random member, or with zipf_s > 0
 *  member k with probability proportional to 1/(k+1)^s (a few very active
 *  members, a long tail).
 *
 *  The open model's rate may follow a schedule: a linear ramp to ramp_to
 *  over the run (stress), and a spike of spike_factor x for spike_s
 *  seconds from spike_at_s (spike). Send k+1 is due 1/rate(t_k) after send
 *  k; without a schedule it is due at start + k/rate exactly.
 *
 *  SIGINT/SIGTERM stop new sends; in-flight ones are awaited (up to the
 *  request timeout) and the summary is printed. A second signal abandons
 *  them (counted as errors "aborted"). A request the simulator itself could
 *  not build or queue counts as error "local"; the other kinds are check.h's.
 */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include "load/discord-sim/signer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *url;
    size_t concurrency;
    long timeout_ms;
    int64_t users;
    int64_t guilds;
    double rate;        // sends per second (open model)
    int64_t duration_s; // 0: until SIGINT/SIGTERM
    const char *mix;    // "balance=60,pay=25,daily=15"
    //  What cordbank-load adds; all zero is the simulator's plain open model.
    const char *mix_name; // the label the summary shows for the mix (NULL: mix)
    bool closed;          // closed model: each of `users` members sends, awaits
                          // the answer, thinks, sends again (rate unused)
    int64_t think_ms;     // closed: mean think time (exponential); 0: none
    double zipf_s;        // who sends: 0 uniform, else Zipf with this exponent
    double ramp_to;       // open: the rate rises linearly to this by the end; 0: none
    double spike_factor;  // open: rate x this within [spike_at_s, spike_at_s + spike_s)
    int64_t spike_at_s, spike_s;
    FILE *timeline;      // one JSON line per second (stats.h), or NULL
    const char *program; // in error messages (NULL: cordbank-discord-sim)
} sim_load_config_t;

//  Runs the load; the process exit code: 0 (no errors), 1 (errors, or
//  the run could not start), 2 (bad configuration, one line on stderr).
int sim_load_run (const sim_load_config_t *config, const sim_signer_t *signer);

//  Self-test (see selftest.h): 0, or -1 after printing what failed.
int sim_load_test (void);

#endif
