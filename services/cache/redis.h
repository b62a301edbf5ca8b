/*  redis — the cache's one connection to Redis: flush on every
 *  (re)connection, and versioned balance reads and writes, on top of
 *  common/redis (connect, reconnect under the breaker, scripts).
 *
 *  Commands are synchronous with a short socket timeout
 *  (CACHE_REDIS_TIMEOUT_MS), so a hung Redis stalls the reactor for at most
 *  that long before it is marked down.
 *
 *  States: DOWN (no connection: every call fails at once; the breaker
 *  cordbank_breaker_state{target="redis"} lets a reconnect through 0.5 s
 *  after a failure, doubling up to 5 s while Redis stays away), FLUSHING (connected; cached
 * balances are being deleted because updates may have been missed while we could not write them:
 *  writes go through, reads must pass through) and UP. Any failed command
 *  drops the connection and moves to DOWN. Every (re)connection, including
 *  the first one, goes through FLUSHING.
 *
 *  Balances live under cb:bal:<guild>:<user> as "version:balance" (or
 *  "version:T", a tombstone left by a flush, which reads as a miss),
 *  written only by a Lua compare-and-set that keeps the higher version.
 */
#ifndef CACHE_REDIS_H
#define CACHE_REDIS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"

#define CACHE_REDIS_TIMEOUT_MS 200

//  Where Redis is: redis://host[:port][/db] (common/redis.h).
typedef cb_redis_addr_t cache_redis_addr_t;

//  0 and *addr filled, or -1 with a reason in err.
int cache_redis_parse_url (const char *url, cache_redis_addr_t *addr, char *err, size_t errlen);

typedef struct cache_redis cache_redis_t;

typedef struct {
    uint64_t version;
    int64_t balance;
} cache_balance_t;

//  Tries to connect once now (an unreachable Redis is not an error: the
//  timer on loop keeps trying). NULL only when out of memory or when the
//  loop refuses a timer.
cache_redis_t *cache_redis_new (const cache_redis_addr_t *addr, zloop_t *loop);
void cache_redis_destroy (cache_redis_t **self_p);

//  fn is called each time a (re)connection's flush has finished and reads
//  are served from Redis again: the moment to warm it.
typedef void (cache_redis_ready_fn) (void *arg);
void cache_redis_on_ready (cache_redis_t *self, cache_redis_ready_fn *fn, void *arg);

//  Changes whenever the connection's state does: an answer from balance
//  to a request sent in another epoch may predate a flush, and must not be
//  stored.
uint64_t cache_redis_epoch (const cache_redis_t *self);

//  Connected and flushed: a read may be served from Redis.
bool cache_redis_readable (const cache_redis_t *self);
//  Connected (UP or FLUSHING): writes are attempted.
bool cache_redis_writable (const cache_redis_t *self);

//  n accounts in one round trip (pipelined GETs): found[i] is 1 and out[i]
//  filled when the key holds a well-formed value, 0 when it is absent,
//  malformed or a tombstone. 0, or -1 when Redis is down or failed.
int cache_redis_get_many (cache_redis_t *self, const uint64_t *guild_ids, const uint64_t *user_ids,
                          size_t n, cache_balance_t *out, int *found);

//  Stores value with a ttl_s expiry unless the stored version is the same
//  or newer. 1 stored, 0 refused as not newer, -1 down or failed.
int cache_redis_store (cache_redis_t *self, uint64_t guild_id, uint64_t user_id,
                       const cache_balance_t *value, int64_t ttl_s);

//  What a command is for: the op label of cordbank_cache_redis_duration_seconds.
typedef enum {
    CACHE_OP_CONNECT = 0,
    CACHE_OP_GET,
    CACHE_OP_STORE,
    CACHE_OP_FLUSH,
    CACHE_OP_ADMIT,
    CACHE_OP_BOARD,
    CACHE_OP_COUNT
} cache_redis_op_t;

//  A Lua script run by EVALSHA (common/redis.h).
typedef cb_redis_script_t cache_script_t;

struct redisReply;

//  Runs script with nkeys keys followed by the other arguments
//  (argv[0..argc-1], binary-safe with lens). The reply, which the caller
//  frees with freeReplyObject, or NULL when Redis is down or failed (an
//  error reply counts as failure; the connection is then DOWN). Allowed
//  while writable (UP or FLUSHING).
struct redisReply *cache_redis_eval (cache_redis_t *self, cache_redis_op_t op,
                                     cache_script_t *script, int nkeys, int argc, const char **argv,
                                     const size_t *lens);
//  Any other command, same contract.
struct redisReply *cache_redis_command (cache_redis_t *self, cache_redis_op_t op, int argc,
                                        const char **argv, const size_t *lens);

#endif
