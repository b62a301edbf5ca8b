/*  gateway_proto — Discord Gateway payloads and policy (see gateway_proto.h).
 *
 *  jansson builds and parses every payload; the close-code table is a
 *  switch so that a code missing from it falls to the safe default
 *  (resume), which is what Discord documents for "reconnect: true".
 */
#include "gateway_proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
    return -1;
}

int
gw_payload_parse (const char *json, size_t len, gw_payload_t *out, char *err, size_t errlen)
{
    assert (json && out && err);
    memset (out, 0, sizeof *out);
    out->s = -1;
    json_error_t jerr;
    json_t *root = json_loadb (json, len, 0, &jerr);
    if (!root)
        return fail (err, errlen, "invalid JSON: %s", jerr.text);
    json_t *op = json_object_get (root, "op");
    json_t *s = json_object_get (root, "s");
    json_t *t = json_object_get (root, "t");
    int rc = 0;
    if (!json_is_object (root) || !json_is_integer (op))
        rc = fail (err, errlen, "payload has no integer \"op\"");
    else if (s && !json_is_null (s) && !(json_is_integer (s) && json_integer_value (s) >= 0))
        rc = fail (err, errlen, "\"s\" must be null or a sequence number");
    else if (t && !json_is_null (t) && !json_is_string (t))
        rc = fail (err, errlen, "\"t\" must be null or a string");
    else if (json_is_string (t) && json_string_length (t) >= sizeof out->t)
        rc = fail (err, errlen, "\"t\" is too long");
    if (rc == 0) {
        out->op = (int) json_integer_value (op);
        out->s = json_is_integer (s) ? json_integer_value (s) : -1;
        if (json_is_string (t))
            memcpy (out->t, json_string_value (t), json_string_length (t) + 1);
        out->d = json_incref (json_object_get (root, "d"));
    }
    json_decref (root);
    return rc;
}

void
gw_payload_clear (gw_payload_t *self)
{
    assert (self);
    json_decref (self->d);
    self->d = NULL;
}

int64_t
gw_hello_interval (const gw_payload_t *hello)
{
    assert (hello);
    json_t *ms = json_object_get (hello->d, "heartbeat_interval");
    if (json_is_integer (ms) && json_integer_value (ms) > 0)
        return json_integer_value (ms);
    //  Discord sends an integer; a float would still be a valid interval.
    if (json_is_real (ms) && json_real_value (ms) >= 1 && json_real_value (ms) < 1e9)
        return (int64_t) json_real_value (ms);
    return -1;
}

static int
copy_string (json_t *value, char *out, size_t outlen)
{
    if (!json_is_string (value) || json_string_length (value) >= outlen)
        return -1;
    memcpy (out, json_string_value (value), json_string_length (value) + 1);
    return 0;
}

int
gw_ready_session (const gw_payload_t *ready, char *session_id, size_t session_len, char *resume_url,
                  size_t url_len)
{
    assert (ready && session_id && resume_url && url_len > 0);
    if (copy_string (json_object_get (ready->d, "session_id"), session_id, session_len) != 0 ||
        session_id[0] == '\0')
        return -1;
    json_t *url = json_object_get (ready->d, "resume_gateway_url");
    resume_url[0] = '\0';
    return url && copy_string (url, resume_url, url_len) != 0 ? -1 : 0;
}

bool
gw_invalid_session_resumable (const gw_payload_t *payload)
{
    assert (payload);
    return json_is_true (payload->d);
}

//  Dumps {"op": op, "d": d} (d is taken over); NULL when out of memory.
static char *
payload_text (int op, json_t *d)
{
    if (!d)
        return NULL;
    json_t *root = json_pack ("{s:i, s:o}", "op", op, "d", d);
    char *text = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    return text;
}

static json_t *
seq_json (int64_t seq)
{
    return seq < 0 ? json_null () : json_integer (seq);
}

char *
gw_identify_json (const char *token, int64_t intents, int shard_id, int shard_count)
{
    assert (token && shard_id >= 0 && shard_id < shard_count);
    json_t *d =
        json_pack ("{s:s, s:I, s:{s:s, s:s, s:s}, s:[i, i], s:b}", "token", token, "intents",
                   (json_int_t) intents, "properties", "os", "linux", "browser", "cordbank",
                   "device", "cordbank", "shard", shard_id, shard_count, "compress", 0);
    return payload_text (GW_OP_IDENTIFY, d);
}

char *
gw_resume_json (const char *token, const char *session_id, int64_t seq)
{
    assert (token && session_id);
    json_t *d = json_pack ("{s:s, s:s, s:o}", "token", token, "session_id", session_id, "seq",
                           seq_json (seq));
    return payload_text (GW_OP_RESUME, d);
}

char *
gw_heartbeat_json (int64_t seq)
{
    json_t *d = seq_json (seq);
    return payload_text (GW_OP_HEARTBEAT, d);
}

char *
gw_connect_url (const char *base)
{
    assert (base);
    size_t len = strlen (base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    //  "wss://host" gets "/?v=..."; a URL with a path keeps it: "ws://h/resume?v=...".
    //  The host starts past "://" only when that is within the kept length
    //  ("wss://" keeps "wss:", and its host would start past the end).
    const char *host = strstr (base, "://");
    host = host && (size_t) (host - base) + 3 <= len ? host + 3 : base;
    const char *path = memchr (host, '/', len - (size_t) (host - base));
    const char *query = path ? "?v=10&encoding=json&compress=zlib-stream"
                             : "/?v=10&encoding=json&compress=zlib-stream";
    char *url = malloc (len + strlen (query) + 1);
    if (url) {
        memcpy (url, base, len);
        strcpy (url + len, query);
    }
    return url;
}

int
gw_gateway_bot_parse (const char *json, size_t len, gw_gateway_bot_t *out, char *err, size_t errlen)
{
    assert (json && out && err);
    memset (out, 0, sizeof *out);
    json_t *root = json_loadb (json, len, 0, NULL);
    json_t *limit = json_object_get (root, "session_start_limit");
    json_int_t shards = 0, total = 0, remaining = 0, reset_after = 0, concurrency = 0;
    int rc = 0;
    if (!json_is_object (root))
        rc = fail (err, errlen, "/gateway/bot answer is not a JSON object");
    else if (copy_string (json_object_get (root, "url"), out->url, sizeof out->url) != 0 ||
             strncmp (out->url, "ws", 2) != 0)
        rc = fail (err, errlen, "/gateway/bot has no ws:// or wss:// \"url\"");
    else if (json_unpack (root, "{s:I}", "shards", &shards) != 0 || shards < 1 || shards > 65536)
        rc = fail (err, errlen, "/gateway/bot \"shards\" must be 1..65536");
    else if (json_unpack (limit, "{s:I, s:I, s:I, s:I}", "total", &total, "remaining", &remaining,
                          "reset_after", &reset_after, "max_concurrency", &concurrency) != 0 ||
             remaining < 0 || reset_after < 0 || concurrency < 1 || concurrency > 65536)
        rc = fail (err, errlen, "/gateway/bot has no valid \"session_start_limit\"");
    json_decref (root);
    out->shards = (int) shards;
    out->total = total;
    out->remaining = remaining;
    out->reset_after_ms = reset_after;
    out->max_concurrency = (int) concurrency;
    return rc;
}

int
gw_ordinal_from_name (const char *name)
{
    const char *dash = name ? strrchr (name, '-') : NULL;
    if (!dash || !dash[1] || strlen (dash + 1) > 6)
        return -1;
    for (const char *c = dash + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    return atoi (dash + 1);
}

gw_close_action_t
gw_close_action (int code)
{
    switch (code) {
    case 4004: // authentication failed
    case 4010: // invalid shard
    case 4011: // sharding required
    case 4012: // invalid API version
    case 4013: // invalid intents
    case 4014: // disallowed intents
        return GW_CLOSE_FATAL;
    case 4003: // not authenticated: the session never began
    case 4007: // invalid seq
    case 4009: // session timed out
        return GW_CLOSE_REIDENTIFY;
    default:
        return GW_CLOSE_RESUME;
    }
}

const char *
gw_close_name (int code)
{
    static const struct {
        int code;
        const char *name;
    } NAMES[] = {
        {4000, "unknown_error"},         {4001, "unknown_opcode"},
        {4002, "decode_error"},          {4003, "not_authenticated"},
        {4004, "authentication_failed"}, {4005, "already_authenticated"},
        {4007, "invalid_seq"},           {4008, "rate_limited"},
        {4009, "session_timed_out"},     {4010, "invalid_shard"},
        {4011, "sharding_required"},     {4012, "invalid_api_version"},
        {4013, "invalid_intents"},       {4014, "disallowed_intents"},
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (NAMES[i].code == code)
            return NAMES[i].name;
    return "unknown";
}

int
gw_identify_gate_init (gw_identify_gate_t *self, int max_concurrency, int64_t now_ms)
{
    assert (self);
    memset (self, 0, sizeof *self);
    if (max_concurrency < 1 || max_concurrency > GW_IDENTIFY_MAX_BUCKETS)
        return -1;
    self->bucket_last_ms = malloc ((size_t) max_concurrency * sizeof (int64_t));
    if (!self->bucket_last_ms)
        return -1;
    for (int b = 0; b < max_concurrency; b++)
        self->bucket_last_ms[b] = now_ms - GW_IDENTIFY_SPACING_MS;
    self->max_concurrency = max_concurrency;
    self->reset_at_ms = now_ms;
    return 0;
}

void
gw_identify_gate_clear (gw_identify_gate_t *self)
{
    assert (self);
    free (self->bucket_last_ms);
    memset (self, 0, sizeof *self);
}

void
gw_identify_gate_budget (gw_identify_gate_t *self, int64_t remaining, int64_t reset_after_ms,
                         int64_t now_ms)
{
    assert (self);
    self->remaining = remaining;
    self->reset_at_ms = now_ms + reset_after_ms;
}

int64_t
gw_identify_gate_wait (const gw_identify_gate_t *self, int shard, int64_t now_ms,
                       gw_gate_reason_t *reason)
{
    assert (self && self->bucket_last_ms && shard >= 0 && reason);
    if (self->remaining <= 0) {
        *reason = GW_GATE_BUDGET;
        //  Past the reset and still spent: the caller asks /gateway/bot
        //  again; look again in a while.
        return now_ms < self->reset_at_ms ? self->reset_at_ms - now_ms : GW_IDENTIFY_SPACING_MS;
    }
    int64_t since = now_ms - self->bucket_last_ms[shard % self->max_concurrency];
    *reason = since < GW_IDENTIFY_SPACING_MS ? GW_GATE_BUCKET : GW_GATE_OPEN;
    return since < GW_IDENTIFY_SPACING_MS ? GW_IDENTIFY_SPACING_MS - since : 0;
}

void
gw_identify_gate_take (gw_identify_gate_t *self, int shard, int64_t now_ms)
{
    assert (self && self->bucket_last_ms && shard >= 0);
    self->bucket_last_ms[shard % self->max_concurrency] = now_ms;
    if (self->remaining > 0)
        self->remaining--;
}

void
gw_send_window_init (gw_send_window_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

//  Forgets sends older than the window.
static void
expire (gw_send_window_t *self, int64_t now_ms)
{
    while (self->count > 0 && now_ms - self->at[self->head] >= GW_SEND_WINDOW_MS) {
        self->head = (self->head + 1) % GW_SEND_LIMIT;
        self->count--;
    }
}

bool
gw_send_window_take (gw_send_window_t *self, int64_t now_ms, bool heartbeat)
{
    assert (self);
    expire (self, now_ms);
    size_t limit = heartbeat ? GW_SEND_LIMIT : GW_SEND_LIMIT - GW_SEND_HEADROOM;
    if (self->count >= limit)
        return false;
    self->at[(self->head + self->count) % GW_SEND_LIMIT] = now_ms;
    self->count++;
    return true;
}

int64_t
gw_send_window_wait_ms (gw_send_window_t *self, int64_t now_ms)
{
    assert (self);
    expire (self, now_ms);
    size_t limit = GW_SEND_LIMIT - GW_SEND_HEADROOM;
    if (self->count < limit)
        return 0;
    //  The send that must expire before count drops below the limit.
    size_t oldest = (self->head + self->count - limit) % GW_SEND_LIMIT;
    return self->at[oldest] + GW_SEND_WINDOW_MS - now_ms;
}
