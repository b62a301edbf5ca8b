/*  redis — flush on (re)connect and the versioned balance store (see
 *  redis.h for the states and the contract); the connection itself, its
 *  reconnects and scripts are common/redis.
 *
 *  Why flush on (re)connect: while we were not connected, BalanceChanged
 *  events and write-throughs could not be applied, so anything Redis still
 *  holds may be older than what was acknowledged since. Every cached
 *  balance becomes a tombstone, "version:T" (SCAN and a small Lua script,
 *  a bounded batch per flush tick), before reads are served from Redis
 *  again: a tombstone reads as a miss but keeps its version, so an answer
 *  from balance that left before a newer write (a read-through, a late
 *  event) can still not be stored over it. Deleting the keys instead let
 *  exactly such late answers in: a flush by one instance removed a write
 *  another had just made, and an older answer then filled the gap.
 */
#include "services/cache/redis.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"

#define KEY_PREFIX       "cb:bal:"
#define FLUSH_TICK_MS    10
#define FLUSH_SCAN_COUNT "1000"

//  KEYS[1] the balance key; ARGV version (decimal, no leading zeros),
//  balance, ttl seconds. Versions are compared as decimal strings (length,
//  then bytes), so the full uint64 range compares exactly (Lua numbers are
//  doubles). A value that does not parse is overwritten.
//  A tombstone ("version:T", see the flush) of the same version may be
//  replaced by the live value.
static const char SET_IF_NEWER_LUA[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local v = string.match(cur, '^(%d+):')\n"
    "  local tomb = string.sub(cur, -2) == ':T'\n"
    "  if v and (#v > #ARGV[1] or (#v == #ARGV[1] and (v > ARGV[1] or (v == ARGV[1] and not "
    "tomb)))) then\n"
    "    return 0\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])\n"
    "return 1\n";

static cache_script_t s_set_if_newer = {.source = SET_IF_NEWER_LUA};

typedef enum { STATE_DOWN = 0, STATE_FLUSHING, STATE_UP } state_t;

//  The op label of a command's duration and of the log line when it fails.
typedef cache_redis_op_t op_t;
#define OP_CONNECT CACHE_OP_CONNECT
#define OP_GET     CACHE_OP_GET
#define OP_STORE   CACHE_OP_STORE
#define OP_FLUSH   CACHE_OP_FLUSH
#define OP_COUNT   CACHE_OP_COUNT
static const char *const OP_NAME[OP_COUNT] = {"connect", "get",   "store",
                                              "flush",   "admit", "leaderboard"};

struct cache_redis {
    cb_redis_t *redis;
    zloop_t *loop; // borrowed
    state_t state;
    int flush_timer;  // -1 unless FLUSHING
    char cursor[24];  // SCAN position while FLUSHING
    uint64_t flushed; // keys deleted by the current flush
    uint64_t epoch;   // + 1 on every change of state
    cache_redis_ready_fn *on_ready;
    void *ready_arg;
};

static void
flush_timer_stop (cache_redis_t *self)
{
    if (self->flush_timer >= 0)
        zloop_timer_end (self->loop, self->flush_timer);
    self->flush_timer = -1;
}

static void
mark_down (cache_redis_t *self, op_t op, const char *why)
{
    cb_redis_fail (self->redis, op, why);
}

static redisReply *
command_ok (cache_redis_t *self, op_t op, int argc, const char **argv, const size_t *lens)
{
    return cb_redis_command (self->redis, op, argc, argv, lens);
}

//  Every key: a live value becomes the tombstone of its version (its TTL
//  kept); anything unparsable goes.
static cache_script_t s_bury = {
    .source =
        "local n = 0\n"
        "for _, k in ipairs(KEYS) do\n"
        "  local cur = redis.call('GET', k)\n"
        "  if cur and string.sub(cur, -2) ~= ':T' then\n"
        "    local v = string.match(cur, '^(%d+):')\n"
        "    if v then redis.call('SET', k, v .. ':T', 'KEEPTTL') else redis.call('DEL', k) end\n"
        "    n = n + 1\n"
        "  end\n"
        "end\n"
        "return n\n"};

//  Tombstones for the keys one SCAN step found. 0, or -1 when Redis failed.
static int
unlink_keys (cache_redis_t *self, const redisReply *keys)
{
    if (keys->elements == 0)
        return 0;
    size_t argc = keys->elements;
    const char **argv = malloc (argc * sizeof *argv);
    size_t *lens = malloc (argc * sizeof *lens);
    int rc = -1;
    if (argv && lens) {
        for (size_t i = 0; i < keys->elements; i++) {
            argv[i] = keys->element[i]->str;
            lens[i] = keys->element[i]->len;
        }
        redisReply *done =
            cache_redis_eval (self, OP_FLUSH, &s_bury, (int) argc, (int) argc, argv, lens);
        if (done && done->type == REDIS_REPLY_INTEGER)
            self->flushed += (uint64_t) done->integer;
        rc = done ? 0 : -1;
        freeReplyObject (done);
    }
    free (argv);
    free (lens);
    return rc;
}

static bool
is_scan_reply (const redisReply *reply, size_t cursor_max)
{
    return reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
           reply->element[0]->type == REDIS_REPLY_STRING && reply->element[0]->len < cursor_max &&
           reply->element[1]->type == REDIS_REPLY_ARRAY;
}

//  One SCAN step and tombstones for what it found: bounded work per tick.
//  Returns 1 when the scan has completed, 0 to go on, -1 when Redis failed
//  (now DOWN).
static int
flush_step (cache_redis_t *self)
{
    const char *pattern = KEY_PREFIX "*";
    const char *argv[] = {"SCAN", self->cursor, "MATCH", pattern, "COUNT", FLUSH_SCAN_COUNT};
    size_t lens[] = {4, strlen (self->cursor), 5, strlen (pattern), 5, strlen (FLUSH_SCAN_COUNT)};
    redisReply *reply = command_ok (self, OP_FLUSH, 6, argv, lens);
    if (!reply)
        return -1;
    if (!is_scan_reply (reply, sizeof self->cursor)) {
        freeReplyObject (reply);
        mark_down (self, OP_FLUSH, "unexpected reply to SCAN");
        return -1;
    }
    snprintf (self->cursor, sizeof self->cursor, "%s", reply->element[0]->str);
    int rc = unlink_keys (self, reply->element[1]);
    freeReplyObject (reply);
    if (rc == 0 && strcmp (self->cursor, "0") == 0)
        rc = 1;
    return rc;
}

static int
on_flush_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    cache_redis_t *self = (cache_redis_t *) arg;
    if (self->state != STATE_FLUSHING)
        return 0;
    if (flush_step (self) != 1)
        return 0;
    flush_timer_stop (self);
    self->state = STATE_UP;
    self->epoch++;
    cb_log_info (NULL, "redis cache flushed, serving reads", "{s:I}", "keys",
                 (json_int_t) self->flushed);
    if (self->on_ready)
        self->on_ready (self->ready_arg);
    return 0;
}

static void
start_flush (cache_redis_t *self)
{
    self->state = STATE_FLUSHING;
    self->epoch++;
    snprintf (self->cursor, sizeof self->cursor, "0");
    self->flushed = 0;
    flush_timer_stop (self);
    self->flush_timer = zloop_timer (self->loop, FLUSH_TICK_MS, 0, on_flush_tick, self);
    if (self->flush_timer < 0)
        mark_down (self, OP_FLUSH, "could not start the flush timer");
}

//  The connection dropped: nothing is readable or writable until the next
//  one has been flushed.
static void
on_down (cb_redis_t *redis, void *arg)
{
    (void) redis;
    cache_redis_t *self = (cache_redis_t *) arg;
    self->state = STATE_DOWN;
    self->epoch++;
    flush_timer_stop (self);
}

//  A new connection: the script loaded at once (a Redis that cannot run
//  scripts is no use to us), then a flush.
static int
on_connect (cb_redis_t *redis, void *arg)
{
    cache_redis_t *self = (cache_redis_t *) arg;
    self->redis = redis; // the first connection is made inside cb_redis_new
    if (cb_redis_script_load (redis, OP_CONNECT, &s_set_if_newer) != 0)
        return -1;
    start_flush (self);
    return self->state == STATE_FLUSHING ? 0 : -1;
}

cache_redis_t *
cache_redis_new (const cache_redis_addr_t *addr, zloop_t *loop)
{
    assert (addr && loop);
    cache_redis_t *self = (cache_redis_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->flush_timer = -1;
    cb_redis_config_t cfg = {.breaker_target = "redis",
                             .metric_prefix = "cordbank_cache_redis",
                             .timeout_ms = CACHE_REDIS_TIMEOUT_MS,
                             .op_names = OP_NAME,
                             .op_count = OP_COUNT,
                             .on_connect = on_connect,
                             .on_down = on_down,
                             .arg = self};
    self->redis = cb_redis_new (addr, loop, &cfg);
    if (!self->redis) {
        free (self);
        return NULL;
    }
    return self;
}

void
cache_redis_destroy (cache_redis_t **self_p)
{
    assert (self_p);
    cache_redis_t *self = *self_p;
    if (!self)
        return;
    flush_timer_stop (self);
    cb_redis_destroy (&self->redis);
    free (self);
    *self_p = NULL;
}

int
cache_redis_parse_url (const char *url, cache_redis_addr_t *addr, char *err, size_t errlen)
{
    return cb_redis_parse_url (url, addr, err, errlen);
}

void
cache_redis_on_ready (cache_redis_t *self, cache_redis_ready_fn *fn, void *arg)
{
    assert (self);
    self->on_ready = fn;
    self->ready_arg = arg;
}

uint64_t
cache_redis_epoch (const cache_redis_t *self)
{
    assert (self);
    return self->epoch;
}

bool
cache_redis_readable (const cache_redis_t *self)
{
    assert (self);
    return self->state == STATE_UP;
}

bool
cache_redis_writable (const cache_redis_t *self)
{
    assert (self);
    return self->state != STATE_DOWN;
}

static size_t
format_key (char *out, size_t outlen, uint64_t guild_id, uint64_t user_id)
{
    int n = snprintf (out, outlen, KEY_PREFIX "%" PRIu64 ":%" PRIu64, guild_id, user_id);
    return (size_t) n;
}

//  "version:balance" with nothing else around: 0, or -1 when malformed.
static int
parse_value (const char *text, cache_balance_t *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    unsigned long long version = strtoull (text, &end, 10);
    if (errno || *end != ':')
        return -1;
    const char *at = end + 1;
    if (!((*at >= '0' && *at <= '9') || (*at == '-' && at[1] >= '0' && at[1] <= '9')))
        return -1;
    errno = 0;
    long long balance = strtoll (at, &end, 10);
    if (errno || *end != '\0')
        return -1;
    out->version = (uint64_t) version;
    out->balance = (int64_t) balance;
    return 0;
}

int
cache_redis_get_many (cache_redis_t *self, const uint64_t *guild_ids, const uint64_t *user_ids,
                      size_t n, cache_balance_t *out, int *found)
{
    assert (self && guild_ids && user_ids && out && found);
    redisContext *ctx = cb_redis_context (self->redis);
    if (!ctx)
        return -1;
    int64_t started = cb_mono_us ();
    for (size_t i = 0; i < n; i++) {
        char key[64];
        const char *argv[] = {"GET", key};
        size_t lens[] = {3, format_key (key, sizeof key, guild_ids[i], user_ids[i])};
        if (redisAppendCommandArgv (ctx, 2, argv, lens) != REDIS_OK) {
            mark_down (self, OP_GET, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply (ctx, (void **) &reply) != REDIS_OK || !reply) {
            char why[128];
            snprintf (why, sizeof why, "%s",
                      ctx->errstr[0] ? ctx->errstr : "no reply to a pipelined GET");
            mark_down (self, OP_GET, why);
            return -1;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            char why[160];
            snprintf (why, sizeof why, "%s", reply->str);
            freeReplyObject (reply);
            mark_down (self, OP_GET, why);
            return -1;
        }
        found[i] = reply->type == REDIS_REPLY_STRING && parse_value (reply->str, &out[i]) == 0;
        freeReplyObject (reply);
    }
    cb_redis_observe (self->redis, OP_GET, started);
    return 0;
}

int
cache_redis_store (cache_redis_t *self, uint64_t guild_id, uint64_t user_id,
                   const cache_balance_t *value, int64_t ttl_s)
{
    assert (self && value && ttl_s > 0);
    if (!cb_redis_connected (self->redis))
        return -1;
    char key[64], version[24], balance[24], ttl[24];
    const char *args[] = {key, version, balance, ttl};
    size_t lens[] = {
        format_key (key, sizeof key, guild_id, user_id),
        (size_t) snprintf (version, sizeof version, "%" PRIu64, value->version),
        (size_t) snprintf (balance, sizeof balance, "%" PRId64, value->balance),
        (size_t) snprintf (ttl, sizeof ttl, "%" PRId64, ttl_s),
    };
    redisReply *reply = cache_redis_eval (self, OP_STORE, &s_set_if_newer, 1, 4, args, lens);
    if (!reply)
        return -1;
    int rc = reply->type == REDIS_REPLY_INTEGER ? (reply->integer == 1 ? 1 : 0) : -1;
    freeReplyObject (reply);
    return rc;
}

struct redisReply *
cache_redis_command (cache_redis_t *self, cache_redis_op_t op, int argc, const char **argv,
                     const size_t *lens)
{
    assert (self && op >= 0 && op < CACHE_OP_COUNT);
    return command_ok (self, op, argc, argv, lens);
}

struct redisReply *
cache_redis_eval (cache_redis_t *self, cache_redis_op_t op, cache_script_t *script, int nkeys,
                  int argc, const char **argv, const size_t *lens)
{
    assert (self && op >= 0 && op < CACHE_OP_COUNT);
    return cb_redis_eval (self->redis, op, script, nkeys, argc, argv, lens);
}
