/*  redis — a synchronous hiredis connection with reconnect, breaker and
 *  scripts (see redis.h for the contract).
 *
 *  The URL is checked at start so that a typo stops the pod with a clear
 *  message instead of looking like a Redis outage forever.
 */
#include "common/redis.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

//  The breaker decides when to try again: 0.5 s after a failure, doubling
//  up to 5 s while Redis stays away; this tick only asks it.
#define RECONNECT_MS    100
#define BREAKER_OPEN_MS 500
#define BREAKER_MAX_MS  5000
#define MAX_OPS         16

struct cb_redis {
    cb_redis_addr_t addr;
    cb_redis_config_t cfg;
    zloop_t *loop;      // borrowed
    redisContext *ctx;  // NULL while down
    bool reported_down; // "redis unreachable" logged, "reachable again" not yet
    int reconnect_timer;
    cb_breaker_t breaker; // one failure opens it: the connection is gone then
    cb_metric_t *up;
    cb_metric_t *duration[MAX_OPS];
};

//  --- URL ---------------------------------------------------------------

static const char *
ipv6_host (const char *at, cb_redis_addr_t *addr, char *err, size_t errlen)
{
    const char *close = strchr (at, ']');
    size_t len = close ? (size_t) (close - at - 1) : 0;
    if (!close || len == 0 || len >= sizeof addr->host) {
        snprintf (err, errlen, "bad IPv6 host (expected [addr])");
        return NULL;
    }
    memcpy (addr->host, at + 1, len);
    addr->host[len] = '\0';
    return close + 1;
}

static const char *
plain_host (const char *at, cb_redis_addr_t *addr, char *err, size_t errlen)
{
    size_t len = strcspn (at, ":/");
    if (len == 0 || len >= sizeof addr->host) {
        snprintf (err, errlen, "missing or too long host");
        return NULL;
    }
    memcpy (addr->host, at, len);
    addr->host[len] = '\0';
    return at + len;
}

//  A decimal number in [min, max] that ends at `stop` (or the string end).
static const char *
parse_number (const char *at, char stop, long min, long max, int *out)
{
    char *end;
    if (*at < '0' || *at > '9')
        return NULL;
    errno = 0;
    long value = strtol (at, &end, 10);
    if (errno || value < min || value > max || (*end && *end != stop))
        return NULL;
    *out = (int) value;
    return end;
}

int
cb_redis_parse_url (const char *url, cb_redis_addr_t *addr, char *err, size_t errlen)
{
    memset (addr, 0, sizeof *addr);
    addr->port = 6379;
    if (strncmp (url, "redis://", 8) != 0) {
        snprintf (err, errlen, "expected redis://host[:port][/db]");
        return -1;
    }
    const char *at = url + 8;
    if (strchr (at, '@')) {
        snprintf (err, errlen, "credentials in the URL are not supported");
        return -1;
    }
    at = *at == '[' ? ipv6_host (at, addr, err, errlen) : plain_host (at, addr, err, errlen);
    if (!at)
        return -1;
    if (*at == ':' && !(at = parse_number (at + 1, '/', 1, 65535, &addr->port))) {
        snprintf (err, errlen, "port must be a number from 1 to 65535");
        return -1;
    }
    if (*at == '/' && at[1] && !parse_number (at + 1, '\0', 0, 1000000, &addr->db)) {
        snprintf (err, errlen, "database must be a whole number from 0");
        return -1;
    }
    if (*at && *at != '/') {
        snprintf (err, errlen, "expected redis://host[:port][/db]");
        return -1;
    }
    return 0;
}

//  --- connection --------------------------------------------------------

static struct timeval
timeout_tv (const cb_redis_t *self)
{
    int64_t ms = self->cfg.timeout_ms;
    return (struct timeval){.tv_sec = (time_t) (ms / 1000),
                            .tv_usec = (suseconds_t) (ms % 1000) * 1000};
}

static const char *
op_name (const cb_redis_t *self, int op)
{
    return op >= 0 && op < self->cfg.op_count ? self->cfg.op_names[op] : "other";
}

void
cb_redis_observe (cb_redis_t *self, int op, int64_t started_us)
{
    assert (self);
    if (op >= 0 && op < self->cfg.op_count)
        cb_histogram_observe (self->duration[op], (double) (cb_mono_us () - started_us) / 1e6);
}

void
cb_redis_fail (cb_redis_t *self, int op, const char *why)
{
    assert (self && why);
    bool was_connected = self->ctx != NULL;
    if (self->ctx)
        redisFree (self->ctx);
    self->ctx = NULL;
    cb_gauge_set (self->up, 0);
    cb_breaker_failure (&self->breaker);
    if (!self->reported_down)
        cb_log_warn (NULL, "redis unreachable", "{s:s, s:s, s:i, s:s}", "op", op_name (self, op),
                     "host", self->addr.host, "port", self->addr.port, "error", why);
    self->reported_down = true;
    if (was_connected && self->cfg.on_down)
        self->cfg.on_down (self, self->cfg.arg);
}

//  One command; NULL (and dropped) when it failed at the connection level.
//  An error reply is returned: the caller decides what it means.
static redisReply *
command (cb_redis_t *self, int op, int argc, const char **argv, const size_t *lens)
{
    if (!self->ctx)
        return NULL;
    int64_t started = cb_mono_us ();
    redisReply *reply = redisCommandArgv (self->ctx, argc, argv, lens);
    bool timed_out = !reply && (errno == EAGAIN || errno == EWOULDBLOCK);
    cb_redis_observe (self, op, started);
    if (!reply) {
        //  A socket timeout shows as EAGAIN: say what it means. The text is
        //  copied because cb_redis_fail frees the context that holds errstr.
        char why[128];
        if (self->ctx->err == REDIS_ERR_IO && timed_out)
            snprintf (why, sizeof why, "timed out after %d ms", (int) self->cfg.timeout_ms);
        else
            snprintf (why, sizeof why, "%s", self->ctx->errstr[0] ? self->ctx->errstr : "no reply");
        cb_redis_fail (self, op, why);
    }
    return reply;
}

//  An error reply also counts as failure. NULL then, and dropped.
static redisReply *
error_means_down (cb_redis_t *self, int op, redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf (why, sizeof why, "%s", reply->str);
        freeReplyObject (reply);
        cb_redis_fail (self, op, why);
        return NULL;
    }
    return reply;
}

struct redisReply *
cb_redis_command (cb_redis_t *self, int op, int argc, const char **argv, const size_t *lens)
{
    assert (self && argc > 0 && argv);
    return error_means_down (self, op, command (self, op, argc, argv, lens));
}

static int
select_db (cb_redis_t *self)
{
    if (self->addr.db == 0)
        return 0;
    char db[16];
    snprintf (db, sizeof db, "%d", self->addr.db);
    const char *argv[] = {"SELECT", db};
    size_t lens[] = {6, strlen (db)};
    redisReply *reply = cb_redis_command (self, 0, 2, argv, lens);
    int rc = reply ? 0 : -1;
    freeReplyObject (reply);
    return rc;
}

//  Connects, selects the database, lets the owner prepare the connection.
//  0 when connected, -1 (down) otherwise.
static int
connect_now (cb_redis_t *self)
{
    int64_t started = cb_mono_us ();
    self->ctx = redisConnectWithTimeout (self->addr.host, self->addr.port, timeout_tv (self));
    cb_redis_observe (self, 0, started);
    if (!self->ctx || self->ctx->err) {
        char why[128];
        snprintf (why, sizeof why, "%s", self->ctx ? self->ctx->errstr : "out of memory");
        if (self->ctx)
            redisFree (self->ctx);
        self->ctx = NULL;
        cb_redis_fail (self, 0, why);
        return -1;
    }
    if (redisSetTimeout (self->ctx, timeout_tv (self)) != REDIS_OK) {
        cb_redis_fail (self, 0, "could not set the socket timeout");
        return -1;
    }
    if (select_db (self) != 0)
        return -1;
    if (self->cfg.on_connect && self->cfg.on_connect (self, self->cfg.arg) != 0) {
        if (self->ctx)
            cb_redis_fail (self, 0, "refused by its owner");
        return -1;
    }
    cb_gauge_set (self->up, 1);
    cb_breaker_success (&self->breaker);
    cb_log_info (NULL, self->reported_down ? "redis reachable again" : "redis connected",
                 "{s:s, s:i, s:i}", "host", self->addr.host, "port", self->addr.port, "db",
                 self->addr.db);
    self->reported_down = false;
    return 0;
}

static int
on_reconnect_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    cb_redis_t *self = (cb_redis_t *) arg;
    if (!self->ctx && cb_breaker_allow (&self->breaker))
        connect_now (self);
    return 0;
}

static void
register_metrics (cb_redis_t *self)
{
    char name[128];
    snprintf (name, sizeof name, "%s_up", self->cfg.metric_prefix);
    self->up = cb_metrics_gauge (name, "1 while connected to Redis.", NULL);
    snprintf (name, sizeof name, "%s_duration_seconds", self->cfg.metric_prefix);
    for (int op = 0; op < self->cfg.op_count; op++) {
        char labels[64];
        cb_metrics_labels (labels, sizeof labels, "op", self->cfg.op_names[op], NULL);
        self->duration[op] =
            cb_metrics_histogram (name, "Time spent in Redis commands, by purpose.", labels,
                                  CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    }
}

cb_redis_t *
cb_redis_new (const cb_redis_addr_t *addr, zloop_t *loop, const cb_redis_config_t *cfg)
{
    assert (addr && loop && cfg && cfg->breaker_target && cfg->metric_prefix);
    assert (cfg->timeout_ms > 0 && cfg->op_count >= 1 && cfg->op_count <= MAX_OPS);
    cb_redis_t *self = (cb_redis_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->addr = *addr;
    self->cfg = *cfg;
    self->loop = loop;
    cb_breaker_init (&self->breaker, cfg->breaker_target, 1, BREAKER_OPEN_MS, BREAKER_MAX_MS);
    register_metrics (self);
    self->reconnect_timer = zloop_timer (loop, RECONNECT_MS, 0, on_reconnect_tick, self);
    if (self->reconnect_timer < 0) {
        free (self);
        return NULL;
    }
    connect_now (self);
    return self;
}

void
cb_redis_destroy (cb_redis_t **self_p)
{
    assert (self_p);
    cb_redis_t *self = *self_p;
    if (!self)
        return;
    zloop_timer_end (self->loop, self->reconnect_timer);
    if (self->ctx)
        redisFree (self->ctx);
    free (self);
    *self_p = NULL;
}

bool
cb_redis_connected (const cb_redis_t *self)
{
    assert (self);
    return self->ctx != NULL;
}

const cb_redis_addr_t *
cb_redis_addr (const cb_redis_t *self)
{
    assert (self);
    return &self->addr;
}

struct redisContext *
cb_redis_context (cb_redis_t *self)
{
    assert (self);
    return self->ctx;
}

//  --- scripts -----------------------------------------------------------

int
cb_redis_script_load (cb_redis_t *self, int op, cb_redis_script_t *script)
{
    assert (self && script && script->source);
    const char *argv[] = {"SCRIPT", "LOAD", script->source};
    size_t lens[] = {6, 4, strlen (script->source)};
    redisReply *reply = cb_redis_command (self, op, 3, argv, lens);
    if (!reply)
        return -1;
    int rc = -1;
    if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy (script->sha, reply->str, 40);
        script->sha[40] = '\0';
        rc = 0;
    }
    freeReplyObject (reply);
    if (rc != 0)
        cb_redis_fail (self, op, "unexpected reply to SCRIPT LOAD");
    return rc;
}

//  EVALSHA sha nkeys args...: the full argument vector, or NULL (no memory).
static const char **
evalsha_args (cb_redis_script_t *script, const char *count, int argc, const char **argv,
              const size_t *lens, size_t **all_lens)
{
    const char **all = malloc ((size_t) (argc + 3) * sizeof *all);
    *all_lens = malloc ((size_t) (argc + 3) * sizeof **all_lens);
    if (!all || !*all_lens) {
        free (all);
        free (*all_lens);
        return NULL;
    }
    all[0] = "EVALSHA", all[1] = script->sha, all[2] = count;
    (*all_lens)[0] = 7, (*all_lens)[1] = 40, (*all_lens)[2] = strlen (count);
    for (int i = 0; i < argc; i++) {
        all[3 + i] = argv[i];
        (*all_lens)[3 + i] = lens[i];
    }
    return all;
}

struct redisReply *
cb_redis_eval (cb_redis_t *self, int op, cb_redis_script_t *script, int nkeys, int argc,
               const char **argv, const size_t *lens)
{
    assert (self && script && script->source && nkeys >= 0 && nkeys <= argc);
    if (!self->ctx || (!script->sha[0] && cb_redis_script_load (self, op, script) != 0))
        return NULL;
    char count[16];
    snprintf (count, sizeof count, "%d", nkeys);
    size_t *all_lens;
    const char **all = evalsha_args (script, count, argc, argv, lens, &all_lens);
    if (!all)
        return NULL;
    redisReply *reply = command (self, op, argc + 3, all, all_lens);
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        //  Redis restarted or flushed its scripts: load it again, once.
        freeReplyObject (reply);
        reply = NULL;
        script->sha[0] = '\0';
        if (cb_redis_script_load (self, op, script) == 0) {
            all[1] = script->sha;
            reply = command (self, op, argc + 3, all, all_lens);
        }
    }
    free (all);
    free (all_lens);
    return error_means_down (self, op, reply);
}
