/*  cache — cordbank-ledger-load's cache modes: balance reads through cache
 *  instances, checked against what was acknowledged.
 *
 *  cache-check  pays among a guild's accounts, straight to balance, each
 *               followed by command's write-through to the first cache
 *               instance; meanwhile reads of random accounts go to every
 *               instance in turn. A read must never return a version older
 *               than the newest one acknowledged for its account before
 *               the read was sent ("never staler than an acknowledged
 *               write"), nor another balance for an acknowledged version.
 *  cache-read   reads only (Zipf or uniform popularity over many members
 *               of a few guilds), for a benchmark or a burst of reads of
 *               unknown members; optionally grants to the most popular
 *               members first so that they are real accounts.
 *
 *  Both are one run: connect (wait up to 3 s for every instance), seed
 *  (grants with write-through), load (closed loop: a request ends, the next
 *  starts), drain (no new requests; wait for the open ones).
 */
#ifndef LL_CACHE_H
#define LL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/curve.h"

typedef struct {
    const char *mode;              // "cache-check" or "cache-read", for the summary
    const char *balance_endpoints; // pays and grants (one client over all of them)
    char **cache_endpoints;        // one client each; the first gets the write-throughs
    size_t cache_count;
    const char *cache_text;  // as given, for the summary
    int64_t pay_concurrency; // pays in flight (0: none)
    int64_t read_concurrency;
    int64_t duration_s;
    int64_t requests; // reads to send at most (0: as many as duration_s allows)
    //  Member i (0 <= i < users) is user first_user + i of guild
    //  guild_id + i % guilds; pays need guilds == 1.
    uint64_t guild_id;
    int64_t users, guilds, first_user;
    double zipf;          // reads: member i has popularity (i+1)^-zipf (0: uniform)
    int64_t seed_users;   // members 0..seed_users-1 are granted seed_balance first
    int64_t seed_balance; // 0: no seeding
    int64_t deadline_ms;  // of each request
    const char *key_prefix;
    FILE *json_file;         // may be NULL
    bool quiet;              // no per-second lines
    const cb_curve_t *curve; // CURVE keys (--curve), NULL: none
} ll_cache_config_t;

//  Runs the mode and writes the outputs. The exit code: 0, or 1 when a
//  read broke the promise (or an output could not be written).
int ll_cache_run (const ll_cache_config_t *config);

#endif
