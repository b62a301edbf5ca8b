/*  server_interactions — INTERACTION_CREATE events the simulator makes up
 *  (POST /_sim/interactions), routed to the shard of their guild, and
 *  what became of each (answered, deferred, edited, ...).
 *
 *  A batch sends `count` interactions at `rate` per second from the 50 ms
 *  tick: member i of the community is user 100000+i in guild index
 *  i % guilds (see srv_guild_id), as in the load mode. An interaction goes
 *  to shard (guild_id >> 22) % shard_count; while that shard has no
 *  session it waits here, and it is sent when one is identified. Once
 *  logged on a session it is the session's (replayed on RESUME); when that
 *  session is replaced before the event was written, it is handed back
 *  (srv_interactions_requeue) and goes to the next session.
 *
 *  The `d` is the interaction object as Discord sends it over the
 *  Gateway: the HTTP body's fields plus channel, guild, entitlements,
 *  app_permissions, authorizing_integration_owners and a full member.
 */
#include "load/discord-sim/server_int.h"
#include "load/discord-sim/command_check.h"

#include "load/discord-sim/interaction.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_USER      100000
#define FIRST_CHANNEL   9000
#define MAX_PER_TICK    20000
#define MAX_BATCH       1000000
#define ALL_PERMISSIONS "2251799813685247"

typedef struct {
    srv_interaction_t pub; // first: a record_t * is a srv_interaction_t *
    char *d_json;          // until written once
    bool waiting;
} record_t;

typedef struct {
    int64_t count, made;
    double rate;
    int64_t start_ms;
    char command[33];
    json_t *options;
    int64_t guilds, users;
    int64_t guild; // every interaction in this guild index; -1: a random member's
    char permissions[24];
} batch_t;

struct srv_interactions {
    srv_t *srv;
    zhashx_t *by_id;    // id text -> record_t (owned)
    zhashx_t *by_token; // token -> record_t (borrowed)
    zlistx_t *waiting;  // record_t (borrowed), oldest first
    zlistx_t *batches;  // batch_t (owned)
    sim_snowflake_t ids;
    uint64_t created, sent;
    srv_ix_counters_t n;
};

static void
record_free (void **item)
{
    record_t *r = *item;
    if (r) {
        free (r->d_json);
        json_decref (r->pub.original);
        free (r);
    }
    *item = NULL;
}

static void
batch_free (void **item)
{
    batch_t *b = *item;
    if (b) {
        json_decref (b->options);
        free (b);
    }
    *item = NULL;
}

srv_interactions_t *
srv_interactions_new (srv_t *srv)
{
    srv_interactions_t *self = calloc (1, sizeof *self);
    assert (self);
    self->srv = srv;
    self->by_id = zhashx_new ();
    zhashx_set_destructor (self->by_id, record_free);
    self->by_token = zhashx_new ();
    self->waiting = zlistx_new ();
    self->batches = zlistx_new ();
    zlistx_set_destructor (self->batches, batch_free);
    sim_snowflake_init (&self->ids);
    self->n.answer_us = sim_hist_new ();
    return self;
}

void
srv_interactions_destroy (srv_interactions_t **self_p)
{
    assert (self_p);
    srv_interactions_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->waiting);
    zlistx_destroy (&self->batches);
    zhashx_destroy (&self->by_token);
    zhashx_destroy (&self->by_id);
    sim_hist_destroy (&self->n.answer_us);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------------
//  Queuing batches

static int
batch_from_json (srv_interactions_t *self, const json_t *body, batch_t *b, char *err, size_t errlen)
{
    const sim_server_config_t *cfg = self->srv->cfg;
    const json_t *v;
    b->count = (v = json_object_get (body, "count")) ? json_integer_value (v) : 1;
    b->rate =
        (v = json_object_get (body, "rate")) && json_is_number (v) ? json_number_value (v) : 1000;
    b->guilds = (v = json_object_get (body, "guilds")) ? json_integer_value (v) : cfg->guilds;
    b->users = (v = json_object_get (body, "users")) ? json_integer_value (v) : cfg->users;
    b->guild = (v = json_object_get (body, "guild")) ? json_integer_value (v) : -1;
    const char *command = json_string_value (json_object_get (body, "command"));
    const char *perms = json_string_value (json_object_get (body, "permissions"));
    const json_t *options = json_object_get (body, "options");
    snprintf (b->command, sizeof b->command, "%s", command ? command : "balance");
    snprintf (b->permissions, sizeof b->permissions, "%s", perms ? perms : "0");
    if (b->count < 1 || b->count > MAX_BATCH)
        snprintf (err, errlen, "count must be 1..%d", MAX_BATCH);
    else if (!isfinite (b->rate) || b->rate <= 0 || b->rate > 100000)
        snprintf (err, errlen, "rate must be in (0, 100000] per second");
    else if (b->guilds < 1 || b->guilds > cfg->guilds)
        snprintf (err, errlen, "guilds must be 1..%lld (--guilds)", (long long) cfg->guilds);
    else if (b->users < b->guilds)
        snprintf (err, errlen, "users must be at least guilds");
    else if (b->guild < -1 || b->guild >= b->guilds)
        snprintf (err, errlen, "guild must be an index below guilds");
    else if (options && !json_is_object (options))
        snprintf (err, errlen, "options must be an object {name: value}");
    else if (command && !cc_name_ok (command, true, false))
        snprintf (err, errlen, "command must be a valid command name");
    else {
        b->options = options ? json_incref ((json_t *) options) : json_object ();
        return 0;
    }
    return -1;
}

int64_t
srv_interactions_enqueue (srv_interactions_t *self, const json_t *body, char *err, size_t errlen)
{
    assert (self);
    batch_t *b = calloc (1, sizeof *b);
    assert (b);
    if (!json_is_object (body) || batch_from_json (self, body, b, err, errlen) != 0) {
        if (!json_is_object (body))
            snprintf (err, errlen, "want a JSON object");
        void *item = b;
        batch_free (&item);
        return -1;
    }
    b->start_ms = cb_mono_ms ();
    zlistx_add_end (self->batches, b);
    return b->count;
}

//  ---------------------------------------------------------------------------
//  Building one interaction

static json_t *
user_json (uint64_t user)
{
    char name[40], global[40];
    snprintf (name, sizeof name, "member%" PRIu64, user);
    snprintf (global, sizeof global, "Member %" PRIu64, user);
    return json_pack ("{s:o, s:s, s:s, s:s, s:n, s:i}", "id", sim_snowflake_json (user), "username",
                      name, "discriminator", "0", "global_name", global, "avatar", "public_flags",
                      0);
}

static json_t *
member_json (uint64_t user, const char *permissions, bool with_user)
{
    json_t *m =
        json_pack ("{s:n, s:n, s:n, s:b, s:i, s:s, s:b, s:n, s:b, s:s, s:n, s:[]}", "avatar",
                   "banner", "communication_disabled_until", "deaf", false, "flags", 0, "joined_at",
                   "2024-01-01T00:00:00.000000+00:00", "mute", false, "nick", "pending", false,
                   "permissions", permissions, "premium_since", "roles");
    if (with_user)
        json_object_set_new (m, "user", user_json (user));
    return m;
}

//  A USER option's value: "$member" picks another member of the guild.
static uint64_t
user_value (const batch_t *b, const json_t *value, int64_t member)
{
    if (json_is_string (value) && strcmp (json_string_value (value), "$member") == 0) {
        int64_t per_guild = b->users / b->guilds;
        int64_t other =
            member % b->guilds +
            b->guilds * ((member / b->guilds + 1 +
                          (per_guild > 2 ? randombytes_uniform ((uint32_t) per_guild - 1) : 0)) %
                         (per_guild > 0 ? per_guild : 1));
        return FIRST_USER + (uint64_t) other;
    }
    uint64_t id = 0;
    if (json_is_integer (value))
        id = (uint64_t) json_integer_value (value);
    else if (json_is_string (value))
        sim_parse_u64 (json_string_value (value), &id);
    return id;
}

static bool
names_user (const char *name)
{
    size_t len = strlen (name);
    return len >= 4 && strcmp (name + len - 4, "user") == 0;
}

//  data.options (and data.resolved for USER options) from {name: value}.
static void
add_options (json_t *data, const batch_t *b, int64_t member, const char *permissions)
{
    json_t *options = json_array (), *users = json_object (), *members = json_object ();
    const char *name;
    json_t *value;
    json_object_foreach (b->options, name, value)
    {
        if (names_user (name) ||
            (json_is_string (value) && !strcmp (json_string_value (value), "$member"))) {
            uint64_t user = user_value (b, value, member);
            char key[24];
            snprintf (key, sizeof key, "%" PRIu64, user);
            json_array_append_new (
                options, json_pack ("{s:s, s:i, s:s}", "name", name, "type", 6, "value", key));
            json_object_set_new (users, key, user_json (user));
            json_object_set_new (members, key, member_json (user, permissions, false));
            continue;
        }
        int type = json_is_integer (value)   ? 4
                   : json_is_real (value)    ? 10
                   : json_is_boolean (value) ? 5
                                             : 3;
        json_array_append_new (
            options, json_pack ("{s:s, s:i, s:O}", "name", name, "type", type, "value", value));
    }
    if (json_array_size (options) > 0)
        json_object_set (data, "options", options);
    if (json_object_size (users) > 0)
        json_object_set_new (data, "resolved",
                             json_pack ("{s:O, s:O}", "users", users, "members", members));
    json_decref (options);
    json_decref (users);
    json_decref (members);
}

static uint64_t
command_id (const char *name)
{
    uint32_t hash = 2166136261u; // FNV-1a, as the HTTP mode's ids
    for (const char *p = name; *p; p++)
        hash = (hash ^ (uint8_t) *p) * 16777619u;
    return UINT64_C (1000000000000000000) + hash;
}

static json_t *
interaction_json (srv_interactions_t *self, const batch_t *b, record_t *rec, int64_t member)
{
    const char *app = self->srv->cfg->application_id;
    srv_interaction_t *ix = &rec->pub;
    json_t *data = json_pack ("{s:o, s:s, s:i}", "id", sim_snowflake_json (command_id (b->command)),
                              "name", b->command, "type", 1);
    add_options (data, b, member, b->permissions);
    json_t *d = json_pack (
        "{s:s, s:s, s:i, s:{s:o, s:i, s:o, s:s, s:i, s:b, s:s}, s:o, s:i, s:o, s:[], s:[], "
        "s:{s:o, s:s, s:[]}, s:o, s:s, s:o, s:s, s:o, s:s, s:i, s:i, s:{s:o}}",
        "app_permissions", ALL_PERMISSIONS, "application_id", app, "attachment_size_limit",
        26214400, "channel", "id", sim_snowflake_json (ix->channel_id), "type", 0, "guild_id",
        sim_snowflake_json (ix->guild_id), "name", "general", "position", 0, "nsfw", false,
        "permissions", b->permissions, "channel_id", sim_snowflake_json (ix->channel_id), "context",
        0, "data", data, "entitlement_sku_ids", "entitlements", "guild", "id",
        sim_snowflake_json (ix->guild_id), "locale", "en-US", "features", "guild_id",
        sim_snowflake_json (ix->guild_id), "guild_locale", "en-US", "id",
        sim_snowflake_json (ix->id), "locale", "en-US", "member",
        member_json (FIRST_USER + (uint64_t) member, b->permissions, true), "token", ix->token,
        "type", 2, "version", 1, "authorizing_integration_owners", "0",
        sim_snowflake_json (ix->guild_id));
    return d;
}

static void
make_one (srv_interactions_t *self, const batch_t *b)
{
    record_t *rec = calloc (1, sizeof *rec);
    assert (rec);
    srv_interaction_t *ix = &rec->pub;
    int64_t member = (int64_t) randombytes_uniform ((uint32_t) b->users);
    if (b->guild >= 0) // the same guild: member % guilds == guild
        member = b->guild +
                 b->guilds * (int64_t) randombytes_uniform ((uint32_t) (b->users / b->guilds));
    int64_t guild = member % b->guilds;
    ix->id = sim_snowflake_next (&self->ids);
    snprintf (ix->id_text, sizeof ix->id_text, "%" PRIu64, ix->id);
    sim_token_new (ix->token);
    ix->guild_id = srv_guild_id (guild);
    ix->channel_id = FIRST_CHANNEL + (uint64_t) guild;
    json_t *d = interaction_json (self, b, rec, member);
    rec->d_json = json_dumps (d, JSON_COMPACT);
    json_decref (d);
    assert (rec->d_json);
    zhashx_insert (self->by_id, ix->id_text, rec);
    zhashx_insert (self->by_token, ix->token, rec);
    rec->waiting = true;
    zlistx_add_end (self->waiting, rec);
    self->created++;
}

//  ---------------------------------------------------------------------------
//  The tick: make what is due, send what can be sent

static void
make_due (srv_interactions_t *self, int64_t now_ms)
{
    int made = 0;
    batch_t *b = zlistx_first (self->batches);
    while (b && made < MAX_PER_TICK) {
        int64_t due = (int64_t) floor ((double) (now_ms - b->start_ms) * b->rate / 1000.0) + 1;
        if (due > b->count)
            due = b->count;
        for (; b->made < due && made < MAX_PER_TICK; b->made++, made++)
            make_one (self, b);
        if (b->made == b->count) {
            zlistx_delete (self->batches, zlistx_cursor (self->batches));
            b = zlistx_first (self->batches);
        } else
            b = zlistx_next (self->batches);
    }
}

//  Hands every waiting interaction whose shard has a session to the
//  gateway; the rest keep their order.
static void
send_waiting (srv_interactions_t *self)
{
    int shards = srv_gateway_shard_count (self->srv->gateway);
    zlistx_t *still = zlistx_new ();
    for (record_t *rec = zlistx_first (self->waiting); rec; rec = zlistx_next (self->waiting)) {
        int shard = (int) ((rec->pub.guild_id >> 22) % (uint64_t) shards);
        if (srv_gateway_dispatch (self->srv->gateway, shard, "INTERACTION_CREATE", rec->d_json,
                                  rec->pub.id))
            rec->waiting = false;
        else
            zlistx_add_end (still, rec);
    }
    zlistx_destroy (&self->waiting);
    self->waiting = still;
}

void
srv_interactions_tick (srv_interactions_t *self, int64_t now_ms)
{
    assert (self);
    make_due (self, now_ms);
    send_waiting (self);
}

void
srv_interactions_sent (srv_interactions_t *self, uint64_t id, int64_t now_ms)
{
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    record_t *rec = zhashx_lookup (self->by_id, key);
    if (!rec || rec->pub.sent_ms)
        return;
    rec->pub.sent_ms = now_ms;
    self->sent++;
    free (rec->d_json); // never needed again: later sends are replays of the log
    rec->d_json = NULL;
}

void
srv_interactions_requeue (srv_interactions_t *self, uint64_t id)
{
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    record_t *rec = zhashx_lookup (self->by_id, key);
    if (!rec || rec->pub.sent_ms || rec->waiting || !rec->d_json)
        return;
    rec->waiting = true;
    zlistx_add_end (self->waiting, rec);
}

srv_interaction_t *
srv_interactions_find (srv_interactions_t *self, const char *id)
{
    return zhashx_lookup (self->by_id, id);
}

srv_interaction_t *
srv_interactions_by_token (srv_interactions_t *self, const char *token)
{
    return zhashx_lookup (self->by_token, token);
}

srv_ix_counters_t *
srv_interactions_counters (srv_interactions_t *self)
{
    return &self->n;
}

json_t *
srv_interactions_stats (const srv_interactions_t *self)
{
    const srv_ix_counters_t *n = &self->n;
    uint64_t pending = 0;
    for (batch_t *b = zlistx_first (self->batches); b; b = zlistx_next (self->batches))
        pending += (uint64_t) (b->count - b->made);
    json_t *ms = json_pack ("{s:f, s:f, s:f}", "p50",
                            (double) sim_hist_percentile (n->answer_us, 50) / 1000.0, "p99",
                            (double) sim_hist_percentile (n->answer_us, 99) / 1000.0, "max",
                            (double) sim_hist_max (n->answer_us) / 1000.0);
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "created",
        (json_int_t) self->created, "to_create", (json_int_t) pending, "waiting",
        (json_int_t) zlistx_size (self->waiting), "sent", (json_int_t) self->sent, "answered",
        (json_int_t) n->answered, "answered_twice", (json_int_t) n->answered_twice, "deferred",
        (json_int_t) n->deferred, "edited", (json_int_t) n->edited, "followups",
        (json_int_t) n->followups, "unanswered", (json_int_t) (self->sent - n->answered), "expired",
        (json_int_t) n->expired, "unknown", (json_int_t) n->unknown, "invalid_bodies",
        (json_int_t) n->invalid_bodies, "answer_ms", ms);
}
