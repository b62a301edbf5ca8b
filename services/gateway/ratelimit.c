/*  ratelimit — routes, rate-limit headers and the per-pod limiter (see
 *  ratelimit.h for the rules).
 *
 *  Why a probe per unknown window rather than trusting a remembered limit:
 *  Discord's windows start with the first request in them, which we do not
 *  see; the probe's own headers tell where the window is. It costs one
 *  round trip per window per bucket, and never sends a request that the
 *  bucket would refuse.
 */
#include "ratelimit.h"

#include <assert.h>
#include <czmq.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  How often a request waiting on a probe asks again.
#define PROBE_POLL_MS 20

typedef struct {
    int64_t remaining;
    int64_t reset_at_ms; // the window's end; 0 = unknown
    bool probing;        // one request out to learn the window
    int64_t probe_until_ms;
} bucket_t;

struct gw_ratelimit {
    int places;      // the window's size: the bot's whole global limit
    int share;       // what this pod may use of it alone
    int64_t *placed; // the window's places: when each counts from (INT64_MAX: in flight)
    uint64_t *ids;   // who holds each place
    uint64_t next_id;
    int64_t blocked_until_ms;
    zhashx_t *buckets;      // key → bucket_t
    zhashx_t *route_bucket; // route → Discord's bucket id (char *)
};

//  --- routes --------------------------------------------------------------

static bool
all_digits (const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

//  FNV-1a 64 of a token, as 16 hex digits: a stable key that is not the token.
static void
token_hash (const char *s, size_t len, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t) s[i];
        h *= 0x100000001b3ULL;
    }
    snprintf (out, 17, "%016llx", (unsigned long long) h);
}

static bool
seg_is (const char *seg, size_t len, const char *word)
{
    return len == strlen (word) && memcmp (seg, word, len) == 0;
}

typedef struct {
    gw_route_t *out;
    size_t route_len;
    bool overflow;
    int token_next; // the next segment is a token
    char prev[24];  // the previous segment when it names a major parameter
} route_state_t;

static void
route_append (route_state_t *st, const char *seg, size_t len)
{
    size_t room = sizeof st->out->route - st->route_len;
    int n = snprintf (st->out->route + st->route_len, room, "/%.*s", (int) len, seg);
    if (n < 0 || (size_t) n >= room)
        st->overflow = true;
    else
        st->route_len += (size_t) n;
}

//  A numeric segment after channels, guilds, webhooks or interactions is
//  the major parameter (the first one only); tokens follow the last two.
static void
route_segment (route_state_t *st, const char *seg, size_t len)
{
    if (st->token_next) {
        char hash[17];
        token_hash (seg, len, hash);
        if (!st->out->major[0] || st->token_next == 2) {
            size_t at = strlen (st->out->major);
            snprintf (st->out->major + at, sizeof st->out->major - at, "/%s", hash);
        }
        st->token_next = 0;
        route_append (st, ":token", 6);
        return;
    }
    if (!all_digits (seg, len)) {
        route_append (st, seg, len);
        snprintf (st->prev, sizeof st->prev, "%.*s", (int) (len < 23 ? len : 23), seg);
        return;
    }
    bool major = strcmp (st->prev, "channels") == 0 || strcmp (st->prev, "guilds") == 0 ||
                 strcmp (st->prev, "webhooks") == 0 || strcmp (st->prev, "interactions") == 0;
    bool first = major && !st->out->major[0];
    if (first && len < 30)
        snprintf (st->out->major, sizeof st->out->major, "%s/%.*s", st->prev, (int) len, seg);
    if (strcmp (st->prev, "webhooks") == 0 || strcmp (st->prev, "interactions") == 0)
        st->token_next = first ? 2 : 1;
    st->prev[0] = '\0';
    route_append (st, ":id", 3);
}

int
gw_route_of (const char *method, const char *path, gw_route_t *out)
{
    assert (method && path && out);
    memset (out, 0, sizeof *out);
    if (path[0] != '/' || strlen (method) > 8)
        return -1;
    route_state_t st = {.out = out};
    st.route_len = (size_t) snprintf (out->route, sizeof out->route, "%s ", method);
    size_t end = strcspn (path, "?#");
    const char *at = path + 1, *stop = path + end;
    const char *last = at;
    while (at <= stop && !st.overflow) {
        const char *slash = memchr (at, '/', (size_t) (stop - at));
        const char *seg_end = slash ? slash : stop;
        if (seg_end > at)
            route_segment (&st, at, (size_t) (seg_end - at));
        last = at;
        at = seg_end + 1;
    }
    if (st.overflow)
        return -1;
    out->global_exempt = strncmp (out->major, "interactions/", 13) == 0 &&
                         seg_is (last, (size_t) (stop - last), "callback");
    return 0;
}

//  --- headers -------------------------------------------------------------

void
gw_rl_headers_init (gw_rl_headers_t *h)
{
    assert (h);
    *h =
        (gw_rl_headers_t){.limit = -1, .remaining = -1, .reset_after_ms = -1, .retry_after_ms = -1};
}

//  Seconds (a decimal, maybe with a fraction) as ms, rounded up; -1 when not a number.
static int64_t
seconds_to_ms (const char *text)
{
    char *end;
    double s = strtod (text, &end);
    if (end == text || !isfinite (s) || s < 0 || s > 1e7)
        return -1;
    return (int64_t) ceil (s * 1000.0);
}

static int64_t
parse_int (const char *text)
{
    char *end;
    long long v = strtoll (text, &end, 10);
    return end == text || v < 0 ? -1 : (int64_t) v;
}

static int64_t
max64 (int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void
gw_rl_headers_line (gw_rl_headers_t *h, const char *line, size_t len)
{
    assert (h && line);
    char buf[256];
    if (len >= sizeof buf)
        return;
    memcpy (buf, line, len);
    buf[len] = '\0';
    buf[strcspn (buf, "\r\n")] = '\0';
    char *colon = strchr (buf, ':');
    if (!colon)
        return;
    *colon = '\0';
    char *value = colon + 1 + strspn (colon + 1, " \t");
    if (strcasecmp (buf, "x-ratelimit-bucket") == 0)
        snprintf (h->bucket, sizeof h->bucket, "%s", value);
    else if (strcasecmp (buf, "x-ratelimit-limit") == 0)
        h->limit = parse_int (value);
    else if (strcasecmp (buf, "x-ratelimit-remaining") == 0)
        h->remaining = parse_int (value);
    else if (strcasecmp (buf, "x-ratelimit-reset-after") == 0)
        h->reset_after_ms = seconds_to_ms (value);
    else if (strcasecmp (buf, "retry-after") == 0)
        h->retry_after_ms = max64 (h->retry_after_ms, seconds_to_ms (value));
    else if (strcasecmp (buf, "x-ratelimit-global") == 0)
        h->global = strcasecmp (value, "true") == 0;
    else if (strcasecmp (buf, "x-ratelimit-scope") == 0)
        snprintf (h->scope, sizeof h->scope, "%s", value);
}

void
gw_rl_headers_body (gw_rl_headers_t *h, const char *body, size_t len)
{
    assert (h);
    json_t *root = body ? json_loadb (body, len, 0, NULL) : NULL;
    json_t *retry = json_object_get (root, "retry_after");
    if (json_is_number (retry)) {
        double s = json_number_value (retry);
        if (isfinite (s) && s >= 0 && s < 1e7)
            h->retry_after_ms = max64 (h->retry_after_ms, (int64_t) ceil (s * 1000.0));
    }
    if (json_is_true (json_object_get (root, "global")))
        h->global = true;
    json_decref (root);
}

const char *
gw_rl_scope (const gw_rl_headers_t *h)
{
    assert (h);
    if (strcmp (h->scope, "shared") == 0)
        return "shared";
    if (strcmp (h->scope, "global") == 0 || h->global)
        return "global";
    return "user";
}

//  --- the limiter -----------------------------------------------------------

static void
free_item (void **item)
{
    free (*item);
    *item = NULL;
}

gw_ratelimit_t *
gw_ratelimit_new (int global_per_s, int share)
{
    assert (global_per_s >= 1 && share >= 1 && share <= global_per_s);
    gw_ratelimit_t *self = calloc (1, sizeof *self);
    assert (self);
    self->places = global_per_s;
    self->share = share;
    self->placed = calloc ((size_t) global_per_s, sizeof *self->placed);
    self->ids = calloc ((size_t) global_per_s, sizeof *self->ids);
    assert (self->placed && self->ids);
    for (int i = 0; i < global_per_s; i++)
        self->placed[i] = INT64_MIN / 2;
    self->buckets = zhashx_new ();
    self->route_bucket = zhashx_new ();
    assert (self->buckets && self->route_bucket);
    zhashx_set_destructor (self->buckets, free_item);
    zhashx_set_destructor (self->route_bucket, free_item);
    zhashx_set_duplicator (self->route_bucket, (zhashx_duplicator_fn *) strdup);
    return self;
}

void
gw_ratelimit_destroy (gw_ratelimit_t **self_p)
{
    assert (self_p);
    gw_ratelimit_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->buckets);
    zhashx_destroy (&self->route_bucket);
    free (self->placed);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

void
gw_ratelimit_key (const gw_ratelimit_t *self, const gw_route_t *route, char *out)
{
    assert (self && route && out);
    const char *bucket = zhashx_lookup (self->route_bucket, route->route);
    snprintf (out, GW_RL_KEY_MAX, "%s|%s", bucket ? bucket : route->route, route->major);
}

void
gw_ratelimit_learn_bucket (gw_ratelimit_t *self, const gw_route_t *route, const char *bucket)
{
    assert (self && route && bucket);
    if (*bucket)
        zhashx_update (self->route_bucket, route->route, (void *) bucket);
}

static int64_t
leaves_at (int64_t placed, int64_t now_ms)
{
    return placed == INT64_MAX ? now_ms + PROBE_POLL_MS : placed + GW_GLOBAL_WINDOW_MS;
}

//  The place that leaves the window first (the one to reuse).
static int
oldest_place (const gw_ratelimit_t *self)
{
    int best = 0;
    for (int i = 1; i < self->places; i++)
        if (self->placed[i] < self->placed[best])
            best = i;
    return best;
}

//  0 when fewer than `share` places are in the window, else the ms until
//  the first of them leaves.
static int64_t
global_wait (const gw_ratelimit_t *self, int64_t now_ms)
{
    if (self->blocked_until_ms > now_ms)
        return self->blocked_until_ms - now_ms;
    int used = 0;
    int64_t first = INT64_MAX;
    for (int i = 0; i < self->places; i++) {
        int64_t leaves = leaves_at (self->placed[i], now_ms);
        if (leaves > now_ms) {
            used++;
            first = leaves < first ? leaves : first;
        }
    }
    return used < self->share ? 0 : first - now_ms;
}

static void
global_take (gw_ratelimit_t *self, gw_rl_ticket_t *ticket)
{
    int place = oldest_place (self);
    self->placed[place] = INT64_MAX;
    self->ids[place] = ticket->id = ++self->next_id;
    ticket->global = true;
}

//  The request's place now counts from now_ms: it has reached Discord.
static void
global_settle (gw_ratelimit_t *self, const gw_rl_ticket_t *ticket, int64_t now_ms)
{
    for (int i = 0; ticket->global && i < self->places; i++)
        if (self->ids[i] == ticket->id && self->placed[i] == INT64_MAX)
            self->placed[i] = now_ms;
}

static bucket_t *
bucket_get (gw_ratelimit_t *self, const char *key)
{
    bucket_t *b = zhashx_lookup (self->buckets, key);
    if (!b) {
        b = calloc (1, sizeof *b);
        assert (b);
        zhashx_insert (self->buckets, key, b);
    }
    return b;
}

//  0 and counted when the bucket lets a request go now, else the ms to wait.
static int64_t
bucket_take (bucket_t *b, int64_t now_ms, bool *probe)
{
    *probe = false;
    if (b->probing && now_ms < b->probe_until_ms)
        return PROBE_POLL_MS;
    if (b->probing || b->reset_at_ms == 0 || now_ms >= b->reset_at_ms) {
        b->probing = *probe = true;
        b->probe_until_ms = now_ms + GW_PROBE_TIMEOUT_MS;
        return 0;
    }
    if (b->remaining <= 0)
        return b->reset_at_ms - now_ms;
    b->remaining--;
    return 0;
}

int64_t
gw_ratelimit_acquire (gw_ratelimit_t *self, const gw_route_t *route, int64_t now_ms,
                      gw_rl_ticket_t *ticket)
{
    assert (self && route && ticket);
    memset (ticket, 0, sizeof *ticket);
    int64_t wait = route->global_exempt ? 0 : global_wait (self, now_ms);
    if (wait > 0)
        return wait;
    gw_ratelimit_key (self, route, ticket->key);
    wait = bucket_take (bucket_get (self, ticket->key), now_ms, &ticket->probe);
    if (wait > 0)
        return wait;
    if (!route->global_exempt)
        global_take (self, ticket);
    return 0;
}

void
gw_ratelimit_record (gw_ratelimit_t *self, const gw_route_t *route, gw_rl_ticket_t *ticket)
{
    assert (self && route && ticket);
    memset (ticket, 0, sizeof *ticket);
    gw_ratelimit_key (self, route, ticket->key);
    if (!route->global_exempt)
        global_take (self, ticket);
}

//  What a response says about its bucket's window. The probe's answer
//  sets it; another answer in the same window can only lower what is left.
static void
bucket_learn (bucket_t *b, bool probe, const gw_rl_headers_t *h, int64_t now_ms)
{
    bool told = h && h->remaining >= 0 && h->reset_after_ms >= 0;
    if (probe) {
        b->probing = false;
        b->remaining = told ? h->remaining : 0;
        b->reset_at_ms = told ? now_ms + h->reset_after_ms : 0; // 0: probe again
    } else if (told && !b->probing && now_ms < b->reset_at_ms) {
        b->remaining = b->remaining < h->remaining ? b->remaining : h->remaining;
        b->reset_at_ms = max64 (b->reset_at_ms, now_ms + h->reset_after_ms);
    }
}

void
gw_ratelimit_release (gw_ratelimit_t *self, const gw_rl_ticket_t *ticket, const gw_rl_headers_t *h,
                      int status, int64_t now_ms)
{
    assert (self && ticket);
    global_settle (self, ticket, now_ms);
    bucket_t *b = bucket_get (self, ticket->key);
    bucket_learn (b, ticket->probe, h, now_ms);
    if (status == 429 && h && !h->global) {
        b->remaining = 0;
        b->reset_at_ms =
            max64 (b->reset_at_ms, now_ms + max64 (h->retry_after_ms, h->reset_after_ms));
    }
}

void
gw_ratelimit_block_global (gw_ratelimit_t *self, int64_t until_ms)
{
    assert (self);
    self->blocked_until_ms = max64 (self->blocked_until_ms, until_ms);
}

size_t
gw_ratelimit_sweep (gw_ratelimit_t *self, int64_t now_ms)
{
    assert (self);
    zlistx_t *keys = zhashx_keys (self->buckets);
    for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        bucket_t *b = zhashx_lookup (self->buckets, key);
        if (!b->probing && now_ms >= b->reset_at_ms)
            zhashx_delete (self->buckets, key);
    }
    zlistx_destroy (&keys);
    return zhashx_size (self->buckets);
}

//  --- the shared variant -------------------------------------------------------

//  KEYS[1] the global window (a sorted set: member → when its place counts
//  from; a request in flight counts from the future until released),
//  KEYS[2] the global block (a key with a TTL), KEYS[3] route → bucket id
//  (a hash). ARGV route, major, global limit, exempt ("1"/"0"), a unique
//  member, window ms, probe timeout ms, probe poll ms.
//  Returns {0, key, probe} (go: counted) or {1, wait_ms}.
const char GW_RL_ACQUIRE_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local window, poll = tonumber(ARGV[6]), tonumber(ARGV[8])\n"
    "if ARGV[4] == '0' then\n"
    "  local blocked = redis.call('PTTL', KEYS[2])\n"
    "  if blocked > 0 then return {1, blocked} end\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
    "  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then\n"
    "    local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])\n"
    "    if oldest > now then return {1, poll} end\n"
    "    return {1, math.max(1, oldest + window - now)}\n"
    "  end\n"
    "end\n"
    "local bucket = redis.call('HGET', KEYS[3], ARGV[1]) or ARGV[1]\n"
    "local key = 'cb:gw:rl:b:' .. bucket .. '|' .. ARGV[2]\n"
    "local b = redis.call('HMGET', key, 'remaining', 'reset_at', 'probe_until')\n"
    "local remaining, reset_at = tonumber(b[1]) or 0, tonumber(b[2]) or 0\n"
    "local probe_until = tonumber(b[3]) or 0\n"
    "local probe = 0\n"
    "if probe_until > now then return {1, poll} end\n"
    "if probe_until > 0 or reset_at == 0 or now >= reset_at then\n"
    "  probe = 1\n"
    "  redis.call('HSET', key, 'probe_until', now + tonumber(ARGV[7]))\n"
    "elseif remaining <= 0 then\n"
    "  return {1, reset_at - now}\n"
    "else\n"
    "  redis.call('HINCRBY', key, 'remaining', -1)\n"
    "end\n"
    "redis.call('PEXPIRE', key, math.max(reset_at - now, 0) + tonumber(ARGV[7]) + 60000)\n"
    "if ARGV[4] == '0' then\n"
    "  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[7]), ARGV[5])\n"
    "  redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[7]))\n"
    "end\n"
    "return {0, key, probe}\n";

//  KEYS[1] the bucket key acquire returned, KEYS[2] route → bucket id,
//  KEYS[3] the global block, KEYS[4] the global window. ARGV route, bucket
//  id ("" = none), probe, told ("1" when remaining and reset-after were
//  given), remaining, reset-after ms, status, global ("1"/"0"), retry-after
//  ms, the request's member in the window ("" when exempt).
const char GW_RL_RELEASE_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if ARGV[10] ~= '' then redis.call('ZADD', KEYS[4], 'XX', now, ARGV[10]) end\n"
    "if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end\n"
    "local b = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at', 'probe_until')\n"
    "local remaining, reset_at = tonumber(b[1]) or 0, tonumber(b[2]) or 0\n"
    "local probing = (tonumber(b[3]) or 0) > now\n"
    "local told, hr, ra = ARGV[4] == '1', tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "if ARGV[3] == '1' then\n"
    "  probing = false\n"
    "  if told then remaining = hr; reset_at = now + ra else remaining = 0; reset_at = 0 end\n"
    "elseif told and not probing and now < reset_at then\n"
    "  remaining = math.min(remaining, hr); reset_at = math.max(reset_at, now + ra)\n"
    "end\n"
    "local retry = tonumber(ARGV[9])\n"
    "if ARGV[7] == '429' and ARGV[8] == '0' then\n"
    "  remaining = 0; reset_at = math.max(reset_at, now + math.max(retry, ra))\n"
    "end\n"
    "if ARGV[7] == '429' and ARGV[8] == '1' and retry > 0 then\n"
    "  redis.call('SET', KEYS[3], '1', 'PX', retry)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', reset_at)\n"
    "if not probing then redis.call('HSET', KEYS[1], 'probe_until', 0) end\n"
    "redis.call('PEXPIRE', KEYS[1], math.max(reset_at - now, 0) + 60000)\n"
    "return 1\n";
