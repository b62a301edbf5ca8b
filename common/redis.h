/*  redis — one synchronous hiredis connection on a service's reactor:
 *  URL parsing, connect with a timeout, reconnect under a breaker, EVALSHA
 *  with the script reloaded when Redis forgot it, plain commands, and the
 *  duration of every command by purpose.
 *
 *  Why synchronous on the reactor: every command is one round trip to a
 *  nearby Redis (well under a millisecond), and the socket timeout caps a
 *  hung Redis at timeout_ms per command, after which the connection is
 *  dropped and callers fall back to whatever they do without Redis until
 *  the reconnect tick finds it again.
 *
 *  States: connected or not. Any failed command (no reply, or an error
 *  reply: LOADING, READONLY, OOM... this Redis cannot serve us now) drops
 *  the connection; the breaker (cordbank_breaker_state{target}) lets a
 *  reconnect through 0.5 s after a failure, doubling up to 5 s while Redis
 *  stays away. The owner hears of each change through on_connect/on_down.
 *
 *  Metrics: <metric_prefix>_up (1 while connected) and
 *  <metric_prefix>_duration_seconds{op} with the owner's op names.
 */
#ifndef CB_REDIS_H
#define CB_REDIS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Where Redis is: redis://host[:port][/db] (IPv6 hosts in brackets).
typedef struct {
    char host[256];
    int port;
    int db;
} cb_redis_addr_t;

//  0 and *addr filled, or -1 with a reason in err. Credentials in the URL
//  are refused (they would leak into logs and process listings).
int cb_redis_parse_url (const char *url, cb_redis_addr_t *addr, char *err, size_t errlen);

//  A Lua script run by EVALSHA: the source, and its SHA1 once Redis has
//  loaded it (empty until then; reloaded when Redis forgets it).
typedef struct {
    const char *source;
    char sha[41];
} cb_redis_script_t;

typedef struct cb_redis cb_redis_t;
struct redisReply;
struct redisContext;

//  Called when a connection is made (database selected), before it is
//  declared up: return 0 to keep it, -1 to drop it (a command that failed
//  inside has dropped it already). Called when the connection drops.
typedef int (cb_redis_connect_fn) (cb_redis_t *redis, void *arg);
typedef void (cb_redis_down_fn) (cb_redis_t *redis, void *arg);

typedef struct {
    const char *breaker_target;  // "redis" (a literal: it must outlive the object)
    const char *metric_prefix;   // "cordbank_cache_redis"
    int64_t timeout_ms;          // per command and for connecting
    const char *const *op_names; // the op label of each purpose; op_names[0] = "connect"
    int op_count;
    cb_redis_connect_fn *on_connect; // may be NULL
    cb_redis_down_fn *on_down;       // may be NULL
    void *arg;
} cb_redis_config_t;

//  Tries to connect once now (an unreachable Redis is not an error: the
//  timer on loop keeps trying). NULL only when out of memory or when the
//  loop refuses a timer. cfg's strings and op_names must outlive the object.
cb_redis_t *cb_redis_new (const cb_redis_addr_t *addr, zloop_t *loop, const cb_redis_config_t *cfg);
void cb_redis_destroy (cb_redis_t **self_p);

bool cb_redis_connected (const cb_redis_t *self);
const cb_redis_addr_t *cb_redis_addr (const cb_redis_t *self);

//  A command; the reply (the caller frees it with freeReplyObject), or NULL
//  when not connected or it failed (an error reply counts as failure: the
//  connection is then dropped).
struct redisReply *cb_redis_command (cb_redis_t *self, int op, int argc, const char **argv,
                                     const size_t *lens);
//  Runs script with nkeys keys followed by the other arguments
//  (argv[0..argc-1], binary-safe with lens); same contract.
struct redisReply *cb_redis_eval (cb_redis_t *self, int op, cb_redis_script_t *script, int nkeys,
                                  int argc, const char **argv, const size_t *lens);
//  SCRIPT LOAD now (from on_connect: a Redis that cannot run our scripts
//  is no use). 0, or -1 (dropped).
int cb_redis_script_load (cb_redis_t *self, int op, cb_redis_script_t *script);

//  For pipelines: the live context (NULL when not connected), a failure to
//  report (drops the connection), and a duration to record.
struct redisContext *cb_redis_context (cb_redis_t *self);
void cb_redis_fail (cb_redis_t *self, int op, const char *why);
void cb_redis_observe (cb_redis_t *self, int op, int64_t started_us);

#endif
