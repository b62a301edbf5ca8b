/*  server_gateway_ops — the Gateway's opcodes as Discord documents them
 *  (see server_gateway.c for the rules in one place), READY and
 *  GUILD_CREATE payloads, the guilds of the simulated community, and the
 *  Gateway part of /_sim/stats.
 *
 *  Guild k (0 <= k < --guilds) has id 7000 + k + (k << 22): guild 0 is
 *  7000 as in the load mode, and (id >> 22) % shards spreads the guilds
 *  over the shards the way Discord's snowflakes do. Its one text channel
 *  is 9000 + k.
 */
#include "load/discord-sim/server_gateway.h"

#include "load/discord-sim/interaction.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_GUILD   7000
#define FIRST_CHANNEL 9000
#define FIRST_USER    100000
#define INTENTS_KNOWN ((UINT64_C (1) << 26) - 1)
#define INTENT_GUILDS 1

uint64_t
srv_guild_id (int64_t index)
{
    return FIRST_GUILD + (uint64_t) index + ((uint64_t) index << 22);
}

bool
gw_close_code_resumable (int code)
{
    return code < 4000 || (code != 4004 && code != 4007 && code != 4009 && code < 4010);
}

//  ---------------------------------------------------------------------------
//  HELLO and the URL

//  The value of key in the connection's query ("" when absent).
static void
query_value (struct lws *wsi, const char *key, char *out, size_t outlen)
{
    char frag[128];
    size_t klen = strlen (key);
    *out = '\0';
    for (int i = 0; lws_hdr_copy_fragment (wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++)
        if (strncmp (frag, key, klen) == 0 && frag[klen] == '=') {
            snprintf (out, outlen, "%s", frag + klen + 1);
            return;
        }
}

void
gw_open (ws_conn_t *c)
{
    char uri[256] = "", v[16], encoding[16], compress[32];
    lws_hdr_copy (c->wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    c->at_resume_url = strncmp (uri, "/resume", 7) == 0;
    query_value (c->wsi, "v", v, sizeof v);
    query_value (c->wsi, "encoding", encoding, sizeof encoding);
    query_value (c->wsi, "compress", compress, sizeof compress);
    if (strcmp (compress, "zlib-stream") == 0)
        c->z = srv_zstream_new ();
    char hello[96];
    snprintf (hello, sizeof hello,
              "{\"op\":10,\"d\":{\"heartbeat_interval\":%lld},\"s\":null,\"t\":null}",
              (long long) c->gw->srv->cfg->heartbeat_ms);
    gw_send (c, hello, strlen (hello));
    if (*v && strcmp (v, "10") != 0 && strcmp (v, "9") != 0)
        gw_close (c, 4012, "Invalid API version.");
    else if (*encoding && strcmp (encoding, "json") != 0)
        gw_close (c, 4002, "Decode error: only encoding=json is simulated.");
    else if (*compress && !c->z)
        gw_close (c, 4000, "Unknown error: only compress=zlib-stream is simulated.");
}

//  ---------------------------------------------------------------------------
//  READY and GUILD_CREATE

static json_t *
guild_json (const srv_t *srv, int64_t k)
{
    uint64_t id = srv_guild_id (k);
    char name[32];
    snprintf (name, sizeof name, "Guild %lld", (long long) k);
    int64_t members = srv->cfg->users / srv->cfg->guilds + (k < srv->cfg->users % srv->cfg->guilds);
    json_t *everyone =
        json_pack ("{s:o, s:s, s:s, s:i, s:i, s:b, s:b, s:b, s:i}", "id", sim_snowflake_json (id),
                   "name", "@everyone", "permissions", "559623605571137", "position", 0, "color", 0,
                   "hoist", false, "managed", false, "mentionable", false, "flags", 0);
    json_t *channel =
        json_pack ("{s:o, s:i, s:s, s:i, s:[], s:b, s:n, s:i}", "id",
                   sim_snowflake_json (FIRST_CHANNEL + (uint64_t) k), "type", 0, "name", "general",
                   "position", 0, "permission_overwrites", "nsfw", false, "topic", "flags", 0);
    json_t *g = json_pack (
        "{s:o, s:s, s:n, s:o, s:i, s:i, s:i, s:i, s:[o], s:[], s:[], s:i, s:o, s:s, s:s, s:b, "
        "s:b, s:I, s:[], s:[], s:[o], s:[], s:[], s:[], s:[], s:i, s:i, s:b, s:[]}",
        "id", sim_snowflake_json (id), "name", name, "icon", "owner_id",
        sim_snowflake_json (FIRST_USER), "afk_timeout", 300, "verification_level", 0,
        "default_message_notifications", 0, "explicit_content_filter", 0, "roles", everyone,
        "emojis", "features", "mfa_level", 0, "system_channel_id",
        sim_snowflake_json (FIRST_CHANNEL + (uint64_t) k), "preferred_locale", "en-US", "joined_at",
        "2024-01-01T00:00:00.000000+00:00", "large", false, "unavailable", false, "member_count",
        (json_int_t) members, "voice_states", "members", "channels", channel, "threads",
        "presences", "stage_instances", "guild_scheduled_events", "nsfw_level", 0, "premium_tier",
        0, "lazy", true, "stickers");
    return g;
}

static bool
guild_on_shard (int64_t k, const srv_session_t *s)
{
    return (int) ((srv_guild_id (k) >> 22) % (uint64_t) s->shard_count) == s->shard_id;
}

static void
send_dispatch (ws_conn_t *c, const char *type, json_t *d)
{
    char *text = json_dumps (d, JSON_COMPACT);
    json_decref (d);
    assert (text);
    gw_send_event (c, srv_session_append (c->session, type, text, 0));
    free (text);
}

static void
send_ready (ws_conn_t *c)
{
    srv_t *srv = c->gw->srv;
    srv_session_t *s = c->session;
    json_t *guilds = json_array ();
    for (int64_t k = 0; k < srv->cfg->guilds; k++)
        if (guild_on_shard (k, s))
            json_array_append_new (guilds, json_pack ("{s:o, s:b}", "id",
                                                      sim_snowflake_json (srv_guild_id (k)),
                                                      "unavailable", true));
    json_t *user = json_pack ("{s:s, s:s, s:s, s:n, s:n, s:b, s:b, s:i, s:b, s:n}", "id",
                              srv->cfg->application_id, "username", "cordbank-sim", "discriminator",
                              "0", "global_name", "avatar", "bot", true, "verified", true, "flags",
                              0, "mfa_enabled", false, "email");
    json_t *ready = json_pack (
        "{s:i, s:o, s:o, s:s, s:s, s:[i, i], s:{s:s, s:i}, s:[], s:[], s:[], s:{}, s:[s], "
        "s:[]}",
        "v", 10, "user", user, "guilds", guilds, "session_id", s->id, "resume_gateway_url",
        srv->resume_url, "shard", s->shard_id, s->shard_count, "application", "id",
        srv->cfg->application_id, "flags", 0, "private_channels", "relationships", "presences",
        "user_settings", "_trace", "cordbank-discord-sim", "guild_join_requests");
    send_dispatch (c, "READY", ready);
    if (!(s->intents & INTENT_GUILDS))
        return;
    for (int64_t k = 0; k < srv->cfg->guilds; k++)
        if (guild_on_shard (k, s))
            send_dispatch (c, "GUILD_CREATE", guild_json (srv, k));
}

//  ---------------------------------------------------------------------------
//  IDENTIFY

//  The shard a payload asks for: 0 when fine, else the close code.
static int
check_shard (const srv_t *srv, const json_t *shard, int *id, int *count)
{
    if (!shard || json_is_null (shard)) {
        *id = 0;
        *count = 1;
        return srv->cfg->shards > 1 ? 4011 : 0;
    }
    if (!json_is_array (shard) || json_array_size (shard) != 2 ||
        !json_is_integer (json_array_get (shard, 0)) ||
        !json_is_integer (json_array_get (shard, 1)))
        return 4010;
    json_int_t i = json_integer_value (json_array_get (shard, 0));
    json_int_t n = json_integer_value (json_array_get (shard, 1));
    if (n < 1 || n > SRV_MAX_SHARDS || i < 0 || i >= n)
        return 4010;
    *id = (int) i;
    *count = (int) n;
    return n < srv->cfg->shards ? 4011 : 0;
}

static int
check_identify (ws_conn_t *c, const json_t *d, int *shard_id, int *shard_count, uint64_t *intents)
{
    const srv_t *srv = c->gw->srv;
    const char *token = json_string_value (json_object_get (d, "token"));
    const json_t *props = json_object_get (d, "properties");
    const json_t *iv = json_object_get (d, "intents");
    if (!json_is_object (d) || !json_is_object (props))
        return 4002;
    if (!token || strcmp (token, srv->cfg->token) != 0)
        return 4004;
    if (!json_is_integer (iv) || json_integer_value (iv) < 0 ||
        ((uint64_t) json_integer_value (iv) & ~INTENTS_KNOWN))
        return 4013;
    *intents = (uint64_t) json_integer_value (iv);
    if (*intents & (uint64_t) srv->cfg->disallowed_intents)
        return 4014;
    return check_shard (srv, json_object_get (d, "shard"), shard_id, shard_count);
}

static const char *
close_text (int code)
{
    switch (code) {
    case 4002:
        return "Error while decoding payload.";
    case 4004:
        return "Authentication failed.";
    case 4008:
        return "Rate limited.";
    case 4010:
        return "Invalid shard.";
    case 4011:
        return "Sharding required.";
    case 4013:
        return "Invalid intent(s).";
    case 4014:
        return "Disallowed intent(s).";
    default:
        return "Unknown error.";
    }
}

//  The max_concurrency window and the session start limit.
static bool
identify_allowed (srv_gateway_t *gw, int shard_id)
{
    const sim_server_config_t *cfg = gw->srv->cfg;
    int64_t now = cb_mono_ms ();
    int64_t *last = &gw->identify_buckets[shard_id % cfg->max_concurrency];
    if (now - *last < cfg->identify_interval_ms || gw->identifies_remaining == 0) {
        gw->identify_rate_limited++;
        return false;
    }
    *last = now;
    gw->identifies_remaining--;
    return true;
}

static void
on_identify (ws_conn_t *c, const json_t *d)
{
    srv_gateway_t *gw = c->gw;
    int shard_id = 0, shard_count = 1;
    uint64_t intents = 0;
    int code = check_identify (c, d, &shard_id, &shard_count, &intents);
    if (code == 0 && !identify_allowed (gw, shard_id))
        code = 4008;
    if (code != 0) {
        gw_close (c, code, close_text (code));
        return;
    }
    srv_session_t *old = srv_sessions_of_shard (gw->sessions, shard_id);
    if (old && old->conn && old->conn != c)
        gw_close (old->conn, 4009, "Session timed out.");
    gw_end_session (gw, &old);
    gw->shard_count = shard_count;
    gw->identifies++;
    gw->shard_identifies[shard_id]++;
    c->session = srv_sessions_create (gw->sessions, shard_id, shard_count, intents);
    c->session->conn = c;
    c->payload_compress = !c->z && json_is_true (json_object_get (d, "compress"));
    cb_log_info (NULL, "identify", "{s:i, s:i, s:s, s:b}", "shard", shard_id, "shards", shard_count,
                 "session", c->session->id, "zlib_stream", c->z != NULL);
    send_ready (c);
}

//  ---------------------------------------------------------------------------
//  RESUME

static void
on_resume (ws_conn_t *c, const json_t *d)
{
    srv_gateway_t *gw = c->gw;
    const char *token = json_string_value (json_object_get (d, "token"));
    const char *id = json_string_value (json_object_get (d, "session_id"));
    const json_t *seq = json_object_get (d, "seq");
    if (!token || strcmp (token, gw->srv->cfg->token) != 0) {
        gw_close (c, 4004, "Authentication failed.");
        return;
    }
    srv_session_t *s = srv_sessions_find (gw->sessions, id);
    int64_t from = json_is_integer (seq) ? json_integer_value (seq) : -1;
    cb_log_info (NULL, "resume", "{s:s, s:I, s:b, s:b}", "session", id ? id : "", "seq",
                 (json_int_t) from, "known", s != NULL, "at_resume_url", c->at_resume_url);
    if (s && from > s->seq) {
        gw_close (c, 4007, "Invalid seq.");
        return;
    }
    if (!s || !srv_session_can_resume (s, from)) {
        gw->resume_failures++;
        gw_send (c, "{\"op\":9,\"d\":false,\"s\":null,\"t\":null}", 36);
        return;
    }
    if (s->conn && s->conn != c) {
        ((ws_conn_t *) s->conn)->session = NULL;
        gw_close (s->conn, 4000, "Session resumed on another connection.");
    }
    c->session = s;
    s->conn = c;
    gw->resumes++;
    gw->shard_resumes[s->shard_id]++;
    gw->resumed_at_resume_url += c->at_resume_url;
    for (srv_event_t *e = zlistx_first (s->log); e; e = zlistx_next (s->log))
        if (e->seq > from) {
            gw_send_event (c, e);
            gw->replayed++;
        }
    send_dispatch (c, "RESUMED", json_pack ("{s:[s]}", "_trace", "cordbank-discord-sim"));
}

//  ---------------------------------------------------------------------------
//  Every payload

static void
on_heartbeat (ws_conn_t *c)
{
    srv_gateway_t *gw = c->gw;
    gw->heartbeats++;
    c->last_heartbeat_ms = cb_mono_ms ();
    int shard = c->session ? c->session->shard_id : -2;
    if (srv_faults_acks_stopped (&gw->srv->faults, shard, c->last_heartbeat_ms))
        return;
    gw->acks++;
    gw_send (c, "{\"op\":11,\"d\":null,\"s\":null,\"t\":null}", 36);
}

//  120 payloads per 60 s per connection.
static bool
within_rate (ws_conn_t *c)
{
    int64_t now = cb_mono_ms ();
    if (now - c->window_start_ms >= GW_EVENT_WINDOW_MS) {
        c->window_start_ms = now;
        c->window_count = 0;
    }
    return ++c->window_count <= GW_EVENTS_PER_WINDOW;
}

void
gw_receive (ws_conn_t *c, const char *text, size_t len)
{
    json_t *payload = json_loadb (text, len, 0, NULL);
    const json_t *op = json_object_get (payload, "op");
    const json_t *d = json_object_get (payload, "d");
    if (!json_is_object (payload) || !json_is_integer (op))
        gw_close (c, 4002, "Error while decoding payload.");
    else if (!within_rate (c)) {
        c->gw->event_rate_limited++;
        gw_close (c, 4008, "Rate limited.");
    } else if (json_integer_value (op) == 1)
        on_heartbeat (c);
    else if (json_integer_value (op) == 2 || json_integer_value (op) == 6) {
        if (c->session)
            gw_close (c, 4005, "Already authenticated.");
        else if (json_integer_value (op) == 2)
            on_identify (c, d);
        else
            on_resume (c, d);
    } else if (json_integer_value (op) == 3 || json_integer_value (op) == 4 ||
               json_integer_value (op) == 8 || json_integer_value (op) == 31) {
        if (!c->session)
            gw_close (c, 4003, "Not authenticated.");
    } else
        gw_close (c, 4001, "Unknown opcode.");
    json_decref (payload);
}

//  ---------------------------------------------------------------------------
//  Stats

static json_t *
shards_json (const srv_gateway_t *gw)
{
    json_t *list = json_array ();
    for (int i = 0; i < gw->shard_count; i++) {
        srv_session_t *s = srv_sessions_of_shard (gw->sessions, i);
        bool connected = s && s->conn && !((ws_conn_t *) s->conn)->closing;
        json_array_append_new (
            list, json_pack ("{s:i, s:b, s:s?, s:I, s:I, s:I}", "id", i, "connected", connected,
                             "session_id", s ? s->id : NULL, "seq", (json_int_t) (s ? s->seq : 0),
                             "identifies", (json_int_t) gw->shard_identifies[i], "resumes",
                             (json_int_t) gw->shard_resumes[i]));
    }
    return list;
}

json_t *
srv_gateway_stats (const srv_gateway_t *gw)
{
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, "
        "s:O, s:o}",
        "connections", (json_int_t) zlistx_size (gw->conns), "connections_total",
        (json_int_t) gw->connections_total, "identifies", (json_int_t) gw->identifies, "resumes",
        (json_int_t) gw->resumes, "resumed_at_resume_url", (json_int_t) gw->resumed_at_resume_url,
        "resume_failures", (json_int_t) gw->resume_failures, "heartbeats",
        (json_int_t) gw->heartbeats, "heartbeat_acks", (json_int_t) gw->acks, "zombie_closes",
        (json_int_t) gw->zombie_closes, "dispatched", (json_int_t) gw->dispatched, "replayed",
        (json_int_t) gw->replayed, "identify_rate_limited", (json_int_t) gw->identify_rate_limited,
        "event_rate_limited", (json_int_t) gw->event_rate_limited, "reconnects_sent",
        (json_int_t) gw->reconnects_sent, "invalid_sessions_sent",
        (json_int_t) gw->invalid_sessions_sent, "shard_count", (json_int_t) gw->shard_count,
        "closes", gw->closes, "client_closes", gw->client_closes, "shards", shards_json (gw));
}
