/*  redis — the cache's one connection to Redis: connect, reconnect, flush,
 *  and versioned balance reads and writes.
 *
 *  The only file that speaks hiredis. Commands are synchronous with a
 *  short socket timeout (CACHE_REDIS_TIMEOUT_MS), so a hung Redis stalls
 *  the reactor for at most that long before it is marked down.
 *
 *  States: DOWN (no connection: every call fails at once, a 1 s timer
 *  reconnects), FLUSHING (connected; cached balances are being deleted
 *  because updates may have been missed while we could not write them:
 *  writes go through, reads must pass through) and UP. Any failed command
 *  drops the connection and moves to DOWN. Every (re)connection, including
 *  the first one, goes through FLUSHING.
 *
 *  Balances live under cb:bal:<guild>:<user> as "version:balance", written
 *  only by a Lua compare-and-set that keeps the higher version.
 */
#ifndef CACHE_REDIS_H
#define CACHE_REDIS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_REDIS_TIMEOUT_MS 200

//  Where Redis is: redis://host[:port][/db] (IPv6 hosts in brackets).
typedef struct {
    char host[256];
    int port;
    int db;
} cache_redis_addr_t;

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

//  Connected and flushed: a read may be served from Redis.
bool cache_redis_readable (const cache_redis_t *self);
//  Connected (UP or FLUSHING): writes are attempted.
bool cache_redis_writable (const cache_redis_t *self);

//  1 and *out filled when the key holds a well-formed value, 0 when it is
//  absent (or malformed), -1 when Redis is down or the command failed.
int cache_redis_get (cache_redis_t *self, uint64_t guild_id, uint64_t user_id,
                     cache_balance_t *out);

//  Stores value with a ttl_s expiry unless the stored version is the same
//  or newer. 1 stored, 0 refused as not newer, -1 down or failed.
int cache_redis_store (cache_redis_t *self, uint64_t guild_id, uint64_t user_id,
                       const cache_balance_t *value, int64_t ttl_s);

#endif
