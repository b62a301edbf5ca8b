/*  run — the load: pays among a guild's accounts, as many in flight as
 *  asked, against balance instances directly, checking every answer.
 *
 *  Phases: connect (wait up to 3 s for every instance), seed (a GRANT to
 *  each account so that pays can succeed), load (--duration-s of pays,
 *  closed loop: a request ends, the next starts), drain (no new requests;
 *  wait for the open ones, at most as long as their attempts could take).
 */
#ifndef LL_RUN_H
#define LL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/curve.h"

typedef struct {
    char **endpoints; // one balance instance each (a dns:// spec may be several)
    size_t endpoint_count;
    const char *endpoints_text; // as given, for the summary
    int64_t concurrency;
    int64_t duration_s;
    int64_t accounts; // users 1..accounts of guild_id
    uint64_t guild_id;
    double repeat_ratio;
    int64_t deadline_ms;  // of each attempt
    int64_t max_attempts; // per request, the first included
    int64_t seed_balance; // granted to each account first (0: no seeding)
    const char *key_prefix;
    FILE *acked_file;        // may be NULL; written at the end, then closed by the caller
    FILE *json_file;         // may be NULL
    bool quiet;              // no per-second lines
    const cb_curve_t *curve; // CURVE keys (--curve), NULL: none
} ll_config_t;

//  Runs the whole load and writes the outputs. Returns the exit code: 0,
//  or 1 when a correctness check failed (or an output could not be written).
int ll_run (const ll_config_t *config);

#endif
