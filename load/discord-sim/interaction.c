/*  interaction — INTERACTION_CREATE bodies built with jansson.
 *
 *  Snowflakes are decimal strings, as Discord sends them; INTEGER option
 *  values are JSON numbers. Every USER option also appears under
 *  data.resolved.users, which is where Discord tells a bot whether the
 *  chosen user is a bot. Key order follows Discord's documentation
 *  (jansson keeps insertion order), which makes bodies easy to diff.
 */
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/selftest.h"
#include "common/clock.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISCORD_EPOCH_MS INT64_C (1420070400000)

int
sim_parse_u64 (const char *text, uint64_t *out)
{
    assert (out);
    if (!text || *text == '\0')
        return -1;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (__builtin_mul_overflow (value, 10, &value) ||
            __builtin_add_overflow (value, (uint64_t) (*p - '0'), &value))
            return -1;
    }
    *out = value;
    return 0;
}

static int
parse_i64 (const char *text, int64_t *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (*digits < '0' || *digits > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = value;
    return 0;
}

static bool
names_a_user (const char *name)
{
    size_t len = strlen (name);
    return len >= 4 && strcmp (name + len - 4, "user") == 0;
}

int
sim_option_parse (const char *spec, sim_option_t *out, char *err, size_t errlen)
{
    assert (spec && out && err);
    const char *eq = strchr (spec, '=');
    size_t name_len = eq ? (size_t) (eq - spec) : 0;
    if (name_len == 0 || name_len > SIM_OPTION_NAME_MAX) {
        snprintf (err, errlen, "--option '%s': want name=value with a 1-%d character name", spec,
                  SIM_OPTION_NAME_MAX);
        return -1;
    }
    memset (out, 0, sizeof *out);
    memcpy (out->name, spec, name_len);
    const char *value = eq + 1;
    if (names_a_user (out->name)) {
        out->type = SIM_OPT_USER;
        if (sim_parse_u64 (value, &out->user_id) == 0 && out->user_id != 0)
            return 0;
        snprintf (err, errlen, "--option %s: a user option needs a snowflake, not '%s'", out->name,
                  value);
        return -1;
    }
    if (parse_i64 (value, &out->integer) == 0)
        out->type = SIM_OPT_INTEGER;
    else if (strcmp (value, "true") == 0 || strcmp (value, "false") == 0) {
        out->type = SIM_OPT_BOOLEAN;
        out->boolean = value[0] == 't';
    } else {
        out->type = SIM_OPT_STRING;
        out->text = value;
    }
    return 0;
}

json_t *
sim_snowflake_json (uint64_t id)
{
    char text[24];
    snprintf (text, sizeof text, "%" PRIu64, id);
    return json_string (text);
}

//  bot < 0 leaves the "bot" field out (the invoking member's user object).
static json_t *
user_json (uint64_t id, int bot)
{
    char username[32];
    snprintf (username, sizeof username, "user%" PRIu64, id);
    json_t *user = json_pack ("{s:o, s:s}", "id", sim_snowflake_json (id), "username", username);
    if (user && bot >= 0 && json_object_set_new (user, "bot", json_boolean (bot)) != 0) {
        json_decref (user);
        user = NULL;
    }
    return user;
}

static json_t *
option_value_json (const sim_option_t *option)
{
    switch (option->type) {
    case SIM_OPT_INTEGER:
        return json_integer (option->integer);
    case SIM_OPT_BOOLEAN:
        return json_boolean (option->boolean);
    case SIM_OPT_USER:
        return sim_snowflake_json (option->user_id);
    case SIM_OPT_STRING:
        break;
    }
    return json_string (option->text ? option->text : "");
}

//  Sets data.options and data.resolved.users (when a USER option is given).
static int
add_options (json_t *data, const sim_interaction_t *self)
{
    json_t *options = json_array (), *users = json_object ();
    int rc = options && users ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < self->option_count; i++) {
        const sim_option_t *option = &self->options[i];
        rc = json_array_append_new (options, json_pack ("{s:s, s:i, s:o}", "name", option->name,
                                                        "type", (int) option->type, "value",
                                                        option_value_json (option)));
        if (rc == 0 && option->type == SIM_OPT_USER) {
            char key[24];
            snprintf (key, sizeof key, "%" PRIu64, option->user_id);
            int bot = option->user_id == self->bot_user_id;
            rc = json_object_set_new (users, key, user_json (option->user_id, bot));
        }
    }
    if (rc == 0 && json_array_size (options) > 0)
        rc = json_object_set (data, "options", options);
    if (rc == 0 && json_object_size (users) > 0)
        rc = json_object_set_new (data, "resolved", json_pack ("{s:O}", "users", users));
    json_decref (options);
    json_decref (users);
    return rc;
}

//  A stable id per command name, as a registered command would have.
static uint64_t
command_id (const char *name)
{
    uint32_t hash = 2166136261u; // FNV-1a
    for (const char *p = name; *p; p++)
        hash = (hash ^ (uint8_t) *p) * 16777619u;
    return UINT64_C (1000000000000000000) + hash;
}

static json_t *
data_json (const sim_interaction_t *self)
{
    const char *name = self->command ? self->command : "";
    json_t *data = json_pack ("{s:o, s:s, s:i}", "id", sim_snowflake_json (command_id (name)),
                              "name", name, "type", 1);
    if (data && add_options (data, self) != 0) {
        json_decref (data);
        data = NULL;
    }
    return data;
}

//  Where and by whom: guild, channel, member (or the DM user), and data.
static int
add_context (json_t *root, const sim_interaction_t *self)
{
    int rc = 0;
    if (self->guild_id != 0)
        rc |= json_object_set_new (root, "guild_id", sim_snowflake_json (self->guild_id));
    rc |= json_object_set_new (root, "channel_id", sim_snowflake_json (self->channel_id));
    rc |= json_object_set_new (root, "locale", json_string ("en-US"));
    if (self->guild_id != 0)
        rc |= json_object_set_new (root, "member",
                                   json_pack ("{s:o, s:s}", "user", user_json (self->user_id, -1),
                                              "permissions",
                                              self->permissions ? self->permissions : "0"));
    else
        rc |= json_object_set_new (root, "user", user_json (self->user_id, -1));
    rc |= json_object_set_new (root, "data", data_json (self));
    return rc;
}

char *
sim_interaction_json (const sim_interaction_t *self)
{
    assert (self);
    json_t *root = json_pack ("{s:i, s:o, s:o, s:s, s:i}", "type", self->type, "id",
                              sim_snowflake_json (self->id), "application_id",
                              sim_snowflake_json (self->application_id), "token",
                              self->token ? self->token : "", "version", 1);
    if (!root)
        return NULL;
    char *text = NULL;
    if (self->type == SIM_INTERACTION_PING || add_context (root, self) == 0)
        text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return text;
}

void
sim_snowflake_init (sim_snowflake_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
    if (sodium_init () >= 0)
        self->node = randombytes_uniform (1024);
}

uint64_t
sim_snowflake_next (sim_snowflake_t *self)
{
    assert (self);
    int64_t ms = cb_now_ms () - DISCORD_EPOCH_MS;
    if (ms > self->last_ms) {
        self->last_ms = ms;
        self->sequence = 0;
    } else if (++self->sequence > 4095) {
        //  More than 4096 ids in one millisecond: borrow from the next one.
        self->last_ms++;
        self->sequence = 0;
    }
    return (uint64_t) self->last_ms << 22 | (uint64_t) self->node << 12 | self->sequence;
}

void
sim_token_new (char *out)
{
    assert (out);
    unsigned char random[16];
    randombytes_buf (random, sizeof random);
    memcpy (out, "tok-", 4);
    sodium_bin2hex (out + 4, SIM_TOKEN_SIZE - 4, random, sizeof random);
}

static int
test_option_parse (void)
{
    sim_option_t option;
    char err[128];
    SIM_CHECK (sim_option_parse ("user=5002", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_USER && option.user_id == 5002);
    SIM_CHECK (sim_option_parse ("target_user=7", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_USER && strcmp (option.name, "target_user") == 0);
    SIM_CHECK (sim_option_parse ("user=bob", &option, err, sizeof err) == -1);
    SIM_CHECK (sim_option_parse ("amount=-25", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_INTEGER && option.integer == -25);
    SIM_CHECK (sim_option_parse ("amount=99999999999999999999", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_STRING);
    SIM_CHECK (sim_option_parse ("public=false", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_BOOLEAN && !option.boolean);
    SIM_CHECK (sim_option_parse ("note=a=b", &option, err, sizeof err) == 0);
    SIM_CHECK (option.type == SIM_OPT_STRING && strcmp (option.text, "a=b") == 0);
    SIM_CHECK (sim_option_parse ("=1", &option, err, sizeof err) == -1);
    SIM_CHECK (sim_option_parse ("noequals", &option, err, sizeof err) == -1);
    uint64_t value;
    SIM_CHECK (sim_parse_u64 ("18446744073709551615", &value) == 0 && value == UINT64_MAX);
    SIM_CHECK (sim_parse_u64 ("18446744073709551616", &value) == -1);
    SIM_CHECK (sim_parse_u64 ("-1", &value) == -1 && sim_parse_u64 ("", &value) == -1);
    return 0;
}

static int
test_bodies (void)
{
    sim_option_t options[2];
    char err[128];
    SIM_CHECK (sim_option_parse ("user=5002", &options[0], err, sizeof err) == 0);
    SIM_CHECK (sim_option_parse ("amount=25", &options[1], err, sizeof err) == 0);
    sim_interaction_t pay = {.type = 2,
                             .id = 1,
                             .application_id = 42,
                             .token = "t",
                             .guild_id = 7001,
                             .channel_id = 9001,
                             .user_id = 5001,
                             .permissions = "0",
                             .command = "pay",
                             .options = options,
                             .option_count = 2,
                             .bot_user_id = 5002};
    char *body = sim_interaction_json (&pay);
    SIM_CHECK (body);
    char expected[1024];
    snprintf (expected, sizeof expected,
              "{\"type\":2,\"id\":\"1\",\"application_id\":\"42\",\"token\":\"t\",\"version\":1,"
              "\"guild_id\":\"7001\",\"channel_id\":\"9001\",\"locale\":\"en-US\","
              "\"member\":{\"user\":{\"id\":\"5001\",\"username\":\"user5001\"},"
              "\"permissions\":\"0\"},\"data\":{\"id\":\"%" PRIu64 "\",\"name\":\"pay\","
              "\"type\":1,\"options\":[{\"name\":\"user\",\"type\":6,\"value\":\"5002\"},"
              "{\"name\":\"amount\",\"type\":4,\"value\":25}],\"resolved\":{\"users\":"
              "{\"5002\":{\"id\":\"5002\",\"username\":\"user5002\",\"bot\":true}}}}}",
              command_id ("pay"));
    SIM_CHECK (strcmp (body, expected) == 0);
    free (body);
    sim_interaction_t dm = {.type = 2,
                            .id = 2,
                            .application_id = 42,
                            .token = "t",
                            .channel_id = 9000,
                            .user_id = 5001,
                            .command = "daily"};
    body = sim_interaction_json (&dm);
    SIM_CHECK (body && !strstr (body, "guild_id") && !strstr (body, "member"));
    SIM_CHECK (strstr (body, "\"user\":{\"id\":\"5001\"") && !strstr (body, "options"));
    free (body);
    sim_interaction_t ping = {.type = 1, .id = 3, .application_id = 42, .token = "t"};
    body = sim_interaction_json (&ping);
    SIM_CHECK (body && strcmp (body, "{\"type\":1,\"id\":\"3\",\"application_id\":\"42\","
                                     "\"token\":\"t\",\"version\":1}") == 0);
    free (body);
    return 0;
}

static int
test_ids (void)
{
    sim_snowflake_t ids;
    sim_snowflake_init (&ids);
    uint64_t last = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t id = sim_snowflake_next (&ids);
        SIM_CHECK (id > last);
        last = id;
    }
    char a[SIM_TOKEN_SIZE], b[SIM_TOKEN_SIZE];
    sim_token_new (a);
    sim_token_new (b);
    SIM_CHECK (strlen (a) == SIM_TOKEN_SIZE - 1 && strncmp (a, "tok-", 4) == 0);
    SIM_CHECK (strcmp (a, b) != 0);
    return 0;
}

int
sim_interaction_test (void)
{
    if (test_option_parse () != 0 || test_bodies () != 0)
        return -1;
    return test_ids ();
}
