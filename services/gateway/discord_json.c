/*  discord_json — interaction JSON to CommandRequest and replies back to
 *  JSON (see discord_json.h), with jansson.
 *
 *  The CommandRequest is built from heap allocations only, field by field,
 *  and attached to its parent as soon as it exists, so that one
 *  cordbank__command_request__free_unpacked frees a request whether parsing
 *  finished or stopped half way.
 *
 *  Snowflakes are decimal strings of 1..20 digits, positive and within
 *  PostgreSQL's bigint (the ledger stores them there). Zero is refused too:
 *  user 0 names a guild's mint account and guild 0 a DM.
 */
#include "discord_json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Discord allows 25 options per command; resolved users are bounded by them.
#define MAX_OPTIONS        25
#define MAX_RESOLVED_USERS 25
#define EPHEMERAL_FLAG     64

typedef struct {
    char *err;
    size_t errlen;
} why_t;

static int
fail (why_t *why, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why->err, why->errlen, fmt, ap);
    va_end (ap);
    return -1;
}

static bool
digits_to_u64 (const char *text, uint64_t *out)
{
    size_t len = strlen (text);
    uint64_t value = 0;
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9' ||
            __builtin_mul_overflow (value, (uint64_t) 10, &value) ||
            __builtin_add_overflow (value, (uint64_t) (text[i] - '0'), &value))
            return false;
    }
    *out = value;
    return true;
}

static bool
snowflake_parse (const char *text, uint64_t *out)
{
    uint64_t value;
    if (!text || !digits_to_u64 (text, &value) || value == 0 || value > (uint64_t) INT64_MAX)
        return false;
    *out = value;
    return true;
}

//  obj[key] as a snowflake; `path` names obj in messages ("" or "member.user.").
static int
get_snowflake (json_t *obj, const char *path, const char *key, bool required, uint64_t *out,
               why_t *why)
{
    json_t *value = json_object_get (obj, key);
    if (!value && !required)
        return 0;
    if (!value)
        return fail (why, "missing \"%s%s\"", path, key);
    if (!snowflake_parse (json_string_value (value), out))
        return fail (why, "\"%s%s\" must be a snowflake string", path, key);
    return 0;
}

//  obj[key] as an owned string; left as it is (protobuf's "") when absent.
static int
get_string (json_t *obj, const char *path, const char *key, bool required, char **out, why_t *why)
{
    json_t *value = json_object_get (obj, key);
    if (!value && !required)
        return 0;
    if (!value)
        return fail (why, "missing \"%s%s\"", path, key);
    if (!json_is_string (value) || (required && json_string_length (value) == 0))
        return fail (why, "\"%s%s\" must be a %sstring", path, key, required ? "non-empty " : "");
    *out = strdup (json_string_value (value));
    return *out ? 0 : fail (why, "out of memory");
}

static int
get_object (json_t *obj, const char *path, const char *key, bool required, json_t **out, why_t *why)
{
    *out = json_object_get (obj, key);
    if (!*out && !required)
        return 0;
    if (!*out)
        return fail (why, "missing \"%s%s\"", path, key);
    return json_is_object (*out) ? 0 : fail (why, "\"%s%s\" must be an object", path, key);
}

//  The invoking user: member.user in a guild, user in a DM.
static int
parse_invoker (json_t *root, Cordbank__CommandRequest *cmd, why_t *why)
{
    json_t *member, *user;
    if (get_object (root, "", "member", false, &member, why) != 0)
        return -1;
    if (!member && !json_object_get (root, "user"))
        return fail (why, "missing \"member.user\" (in a server) or \"user\" (in a DM)");
    const char *path = member ? "member.user." : "user.";
    if (get_object (member ? member : root, member ? "member." : "", "user", true, &user, why) ||
        get_snowflake (user, path, "id", true, &cmd->user_id, why) ||
        get_string (user, path, "username", false, &cmd->username, why))
        return -1;
    json_t *permissions = member ? json_object_get (member, "permissions") : NULL;
    if (permissions &&
        !digits_to_u64 (json_string_value (permissions) ? json_string_value (permissions) : "",
                        &cmd->member_permissions))
        return fail (why, "\"member.permissions\" must be a decimal string");
    return 0;
}

static int
option_value (json_t *value, int64_t type, Cordbank__CommandOption *opt, why_t *why)
{
    switch (type) {
    case 3:
        opt->value_case = CORDBANK__COMMAND_OPTION__VALUE_STRING_VALUE;
        opt->string_value = json_is_string (value) ? strdup (json_string_value (value)) : NULL;
        return opt->string_value ? 0 : fail (why, "option \"%s\" must be a string", opt->name);
    case 4:
        if (!json_is_integer (value))
            return fail (why, "option \"%s\" must be an integer", opt->name);
        opt->value_case = CORDBANK__COMMAND_OPTION__VALUE_INT_VALUE;
        opt->int_value = json_integer_value (value);
        return 0;
    case 5:
        if (!json_is_boolean (value))
            return fail (why, "option \"%s\" must be a boolean", opt->name);
        opt->value_case = CORDBANK__COMMAND_OPTION__VALUE_BOOL_VALUE;
        opt->bool_value = json_is_true (value);
        return 0;
    case 6:
        opt->value_case = CORDBANK__COMMAND_OPTION__VALUE_USER_VALUE;
        return snowflake_parse (json_string_value (value), &opt->user_value)
                   ? 0
                   : fail (why, "option \"%s\" must be a snowflake string", opt->name);
    default:
        return fail (why, "option \"%s\" has unsupported type %lld", opt->name, (long long) type);
    }
}

static int
parse_option (json_t *item, size_t index, Cordbank__CommandRequest *cmd, why_t *why)
{
    json_t *name = json_object_get (item, "name"), *type = json_object_get (item, "type");
    json_t *value = json_object_get (item, "value");
    if (!json_is_object (item) || !json_is_string (name) || json_string_length (name) == 0)
        return fail (why, "\"data.options[%zu]\" needs a non-empty \"name\"", index);
    if (!json_is_integer (type))
        return fail (why, "\"data.options[%zu].type\" must be an integer", index);
    Cordbank__CommandOption *opt = malloc (sizeof *opt);
    if (!opt)
        return fail (why, "out of memory");
    cordbank__command_option__init (opt);
    cmd->options[cmd->n_options++] = opt;
    opt->name = strdup (json_string_value (name));
    if (!opt->name)
        return fail (why, "out of memory");
    if (!value)
        return fail (why, "option \"%s\" has no \"value\"", opt->name);
    return option_value (value, json_integer_value (type), opt, why);
}

static int
parse_options (json_t *data, Cordbank__CommandRequest *cmd, why_t *why)
{
    json_t *options = json_object_get (data, "options");
    if (!options)
        return 0;
    if (!json_is_array (options) || json_array_size (options) > MAX_OPTIONS)
        return fail (why, "\"data.options\" must be an array of at most %d", MAX_OPTIONS);
    cmd->options = calloc (json_array_size (options) + 1, sizeof *cmd->options);
    if (!cmd->options)
        return fail (why, "out of memory");
    size_t index;
    json_t *item;
    json_array_foreach (options, index, item)
    {
        if (parse_option (item, index, cmd, why) != 0)
            return -1;
    }
    return 0;
}

static int
parse_resolved_user (json_t *value, const char *key, Cordbank__ResolvedUser *user, why_t *why)
{
    char path[64];
    snprintf (path, sizeof path, "data.resolved.users.%.24s.", key);
    json_t *bot = json_object_get (value, "bot");
    if (!json_is_object (value))
        return fail (why, "\"%.*s\" must be an object", (int) strlen (path) - 1, path);
    if (get_snowflake (value, path, "id", true, &user->id, why) ||
        get_string (value, path, "username", false, &user->username, why))
        return -1;
    if (bot && !json_is_boolean (bot))
        return fail (why, "\"%sbot\" must be a boolean", path);
    user->bot = json_is_true (bot);
    return 0;
}

static int
parse_resolved (json_t *data, Cordbank__CommandRequest *cmd, why_t *why)
{
    json_t *resolved, *users;
    if (get_object (data, "data.", "resolved", false, &resolved, why) ||
        (resolved && get_object (resolved, "data.resolved.", "users", false, &users, why)))
        return -1;
    if (!resolved || !users)
        return 0;
    if (json_object_size (users) > MAX_RESOLVED_USERS)
        return fail (why, "\"data.resolved.users\" has more than %d users", MAX_RESOLVED_USERS);
    cmd->resolved_users = calloc (json_object_size (users) + 1, sizeof *cmd->resolved_users);
    if (!cmd->resolved_users)
        return fail (why, "out of memory");
    const char *key;
    json_t *value;
    json_object_foreach (users, key, value)
    {
        Cordbank__ResolvedUser *user = malloc (sizeof *user);
        if (!user)
            return fail (why, "out of memory");
        cordbank__resolved_user__init (user);
        cmd->resolved_users[cmd->n_resolved_users++] = user;
        if (parse_resolved_user (value, key, user, why) != 0)
            return -1;
    }
    return 0;
}

static int
parse_command (json_t *root, Cordbank__CommandRequest *cmd, why_t *why)
{
    json_t *data;
    if (get_snowflake (root, "", "id", true, &cmd->interaction_id, why) ||
        get_snowflake (root, "", "application_id", true, &cmd->application_id, why) ||
        get_string (root, "", "token", true, &cmd->interaction_token, why) ||
        get_snowflake (root, "", "guild_id", false, &cmd->guild_id, why) ||
        get_snowflake (root, "", "channel_id", false, &cmd->channel_id, why) ||
        get_string (root, "", "locale", false, &cmd->locale, why) ||
        parse_invoker (root, cmd, why) || get_object (root, "", "data", true, &data, why) ||
        get_string (data, "data.", "name", true, &cmd->command_name, why) ||
        parse_options (data, cmd, why) || parse_resolved (data, cmd, why))
        return -1;
    return 0;
}

static int
parse_root (json_t *root, gw_interaction_t *out, why_t *why)
{
    if (!json_is_object (root))
        return fail (why, "the body must be a JSON object");
    json_t *type = json_object_get (root, "type");
    if (!type)
        return fail (why, "missing \"type\"");
    if (!json_is_integer (type))
        return fail (why, "\"type\" must be an integer");
    out->type = json_integer_value (type);
    if (out->type == GW_INTERACTION_PING)
        return 0;
    if (out->type != GW_INTERACTION_APPLICATION_COMMAND)
        return fail (why, "unsupported interaction type %lld", (long long) out->type);
    out->command = malloc (sizeof *out->command);
    if (!out->command)
        return fail (why, "out of memory");
    cordbank__command_request__init (out->command);
    return parse_command (root, out->command, why);
}

int
gw_interaction_parse (const uint8_t *body, size_t size, gw_interaction_t *out, char *err,
                      size_t errlen)
{
    why_t why = {err, errlen};
    memset (out, 0, sizeof *out);
    json_error_t error;
    json_t *root = json_loadb ((const char *) body, size, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        return fail (&why, "invalid JSON at line %d column %d: %s", error.line, error.column,
                     error.text);
    int rc = parse_root (root, out, &why);
    json_decref (root);
    return rc;
}

void
gw_interaction_clear (gw_interaction_t *self)
{
    if (self->command)
        cordbank__command_request__free_unpacked (self->command, NULL);
    self->command = NULL;
}

//  Every message carries allowed_mentions with an empty parse list: replies
//  name members as <@id> (/leaderboard, /grant), and those must render
//  without pinging anyone.
static char *
response_json (json_t *data)
{
    if (data &&
        json_object_set_new (data, "allowed_mentions", json_pack ("{s:[]}", "parse")) != 0) {
        json_decref (data);
        data = NULL;
    }
    json_t *root = data ? json_pack ("{s:i, s:o}", "type", 4, "data", data) : NULL;
    char *text = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    return text;
}

char *
gw_json_pong (void)
{
    return strdup ("{\"type\":1}");
}

char *
gw_json_message (const char *content, bool ephemeral)
{
    json_t *data = json_pack ("{s:s}", "content", content);
    if (data && ephemeral)
        json_object_set_new (data, "flags", json_integer (EPHEMERAL_FLAG));
    return response_json (data);
}

static json_t *
embed_json (const Cordbank__Embed *embed)
{
    json_t *obj = json_object ();
    int rc = 0;
    if (*embed->title)
        rc |= json_object_set_new (obj, "title", json_string (embed->title));
    if (*embed->description)
        rc |= json_object_set_new (obj, "description", json_string (embed->description));
    if (embed->color)
        rc |= json_object_set_new (obj, "color", json_integer (embed->color));
    if (*embed->footer)
        rc |= json_object_set_new (obj, "footer", json_pack ("{s:s}", "text", embed->footer));
    if (rc != 0)
        json_decref (obj);
    return rc == 0 ? obj : NULL;
}

char *
gw_json_reply (const Cordbank__CommandReply *reply)
{
    json_t *data = json_pack ("{s:s}", "content", reply->content);
    if (data && reply->ephemeral)
        json_object_set_new (data, "flags", json_integer (EPHEMERAL_FLAG));
    json_t *embeds = data && reply->n_embeds ? json_array () : NULL;
    for (size_t i = 0; embeds && i < reply->n_embeds; i++)
        if (json_array_append_new (embeds, embed_json (reply->embeds[i])) != 0) {
            json_decref (embeds);
            json_decref (data);
            return NULL;
        }
    if (embeds)
        json_object_set_new (data, "embeds", embeds);
    return response_json (data);
}
