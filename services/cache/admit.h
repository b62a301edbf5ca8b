/*  admit — AdmitRequest: may this interaction run? Dedup of interaction ids
 *  and token-bucket rate limits per user and per guild, for every command
 *  instance at once.
 *
 *  While Redis is writable, one Lua script decides atomically, on Redis's
 *  clock (so every cache instance shares one clock as well as one state):
 *
 *    - cb:seen:<interaction> exists: DUPLICATE (this interaction was
 *      admitted before), and no token is taken;
 *    - otherwise both buckets, cb:rl:u:<guild>:<user> and cb:rl:g:<guild>
 *      (hashes {tokens, ts}), are refilled; if both hold a token, one is
 *      taken from each, cb:seen:<interaction> is set with the dedup TTL,
 *      and the answer is OK; if either is empty, nothing is written and
 *      the answer is RATE_LIMITED with the wait until both have a token.
 *
 *  A rate-limited interaction is not remembered: it did nothing, so a
 *  repeat of it is judged afresh like any new command (and pays a token).
 *
 *  When Redis is not writable, or the script fails, this cache instance
 *  decides alone (admit_local.c) and says so with global = false; the
 *  switch is logged once each way, and every answer is counted in
 *  cordbank_cache_admit_total{result, scope}.
 *
 *  The RATE_LIMITED message names the limit that refused: "user rate
 *  limit" or "guild rate limit" (command picks its text by it).
 */
#ifndef CACHE_ADMIT_H
#define CACHE_ADMIT_H

#include <stdint.h>

#include "common/server.h"
#include "services/cache/redis.h"

typedef struct {
    int64_t user_rate;   // tokens per second, per member of a guild
    int64_t user_burst;  // tokens a member's bucket holds
    int64_t guild_rate;  // tokens per second, per guild
    int64_t guild_burst; // tokens a guild's bucket holds
    int64_t dedup_ttl_s; // how long an admitted interaction id is remembered
} cache_admit_config_t;

//  The messages of a RATE_LIMITED reply.
#define CACHE_ADMIT_USER_LIMIT  "user rate limit"
#define CACHE_ADMIT_GUILD_LIMIT "guild rate limit"

typedef struct cache_admit cache_admit_t;

//  redis is borrowed and must outlive the object. config is copied; its
//  rates and bursts are 1..BUCKET_LIMIT_MAX, the TTL at least 1 s. NULL
//  when out of memory.
cache_admit_t *cache_admit_new (cache_redis_t *redis, const cache_admit_config_t *config);
void cache_admit_destroy (cache_admit_t **self_p);

//  The AdmitRequest handler (arg: cache_admit_t *). Answers at once.
void cache_admit_on_request (cb_call_t *call, void *arg);

#endif
