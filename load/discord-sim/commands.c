/*  commands — validation and storage of application commands (see
 *  commands.h).
 *
 *  Errors are collected, not stopped at: like Discord, one answer lists
 *  every field that is wrong, each under its path ("0.options.1.name" in
 *  the code, nested objects in the body). Names are checked with the C
 *  library's wide-character classes under the C.UTF-8 locale (a locale
 *  object of our own: the process locale is left alone), which is what
 *  Discord's \p{L}\p{N} means, give or take Unicode versions.
 */
#include "load/discord-sim/commands.h"
#include "load/discord-sim/command_check.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CHAT_INPUT_MAX   100
#define CONTEXT_MENU_MAX 15

enum { CMD_CHAT_INPUT = 1, CMD_USER = 2, CMD_MESSAGE = 3, CMD_ENTRY_POINT = 4 };

struct srv_commands {
    char *application_id;
    json_t *global;   // array
    json_t *guilds;   // guild id -> array
    uint64_t next_id; // ids handed to stored commands
    uint64_t version;
};

//  ---------------------------------------------------------------------------
//  Commands

static int64_t
command_type (cc_errs_t *e, const json_t *cmd, const char *base)
{
    const json_t *type = json_object_get (cmd, "type");
    if (!type || json_is_null (type))
        return CMD_CHAT_INPUT;
    if (json_is_integer (type) && json_integer_value (type) >= CMD_CHAT_INPUT &&
        json_integer_value (type) <= CMD_ENTRY_POINT)
        return json_integer_value (type);
    char path[256];
    cc_path_join (path, sizeof path, base, "type");
    cc_err_add (e, path, "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.");
    return 0;
}

static void
check_permissions (cc_errs_t *e, const json_t *cmd, const char *base)
{
    const json_t *value = json_object_get (cmd, "default_member_permissions");
    if (!value || json_is_null (value))
        return;
    char path[256];
    cc_path_join (path, sizeof path, base, "default_member_permissions");
    const char *text = json_is_string (value) ? json_string_value (value) : NULL;
    bool ok = text && *text && strlen (text) <= 20 && strspn (text, "0123456789") == strlen (text);
    if (!ok)
        cc_err_add (e, path, "BASE_TYPE_STRING",
                    "Must be a string of decimal digits (a permission bit set), or null.");
}

static void
check_command (cc_errs_t *e, const json_t *cmd, size_t index, int64_t *type_out)
{
    char base[32], path[256];
    snprintf (base, sizeof base, "%zu", index);
    if (!json_is_object (cmd)) {
        cc_err_add (e, base, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
        return;
    }
    int64_t type = command_type (e, cmd, base);
    *type_out = type;
    long total = 0;
    const char *name = cc_text (e, cmd, base, "name", 1, NAME_MAX_CHARS, &total);
    if (name && !cc_name_ok (name, type == CMD_CHAT_INPUT, type != CMD_CHAT_INPUT)) {
        cc_path_join (path, sizeof path, base, "name");
        cc_err_add (e, path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    }
    if (type == CMD_CHAT_INPUT)
        cc_text (e, cmd, base, "description", 1, DESC_MAX_CHARS, &total);
    else if (type == CMD_USER || type == CMD_MESSAGE)
        cc_text (e, cmd, base, "description", 0, 0, &total);
    check_permissions (e, cmd, base);
    cc_bool (e, cmd, base, "dm_permission");
    cc_bool (e, cmd, base, "nsfw");
    cc_int_list (e, cmd, base, "contexts", 0, 2);
    cc_int_list (e, cmd, base, "integration_types", 0, 1);
    const json_t *options = json_object_get (cmd, "options");
    if (options && !json_is_null (options)) {
        if (type != CMD_CHAT_INPUT) {
            cc_path_join (path, sizeof path, base, "options");
            cc_err_add (e, path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Only chat input commands have options");
        } else
            cc_options (e, options, base, 0, &total);
    }
    if (total > COMMAND_CHARS_MAX)
        cc_err_add (e, base, "APPLICATION_COMMAND_TOO_LARGE",
                    "Command exceeds maximum size (4000)");
}

//  Names unique per type; at most 100 chat input, 15 user, 15 message commands.
static void
check_set (cc_errs_t *e, const json_t *body, const int64_t *types)
{
    size_t counts[5] = {0}, i, j;
    const json_t *cmd;
    json_array_foreach (body, i, cmd)
    {
        if (types[i] >= 1 && types[i] <= 4)
            counts[types[i]]++;
        const char *name = json_string_value (json_object_get (cmd, "name"));
        for (j = 0; name && j < i; j++) {
            const char *other =
                json_string_value (json_object_get (json_array_get (body, j), "name"));
            if (other && types[i] == types[j] && strcmp (name, other) == 0) {
                char base[32];
                snprintf (base, sizeof base, "%zu.name", i);
                cc_err_add (e, base, "APPLICATION_COMMANDS_DUPLICATE_NAME",
                            "Application command names must be unique");
                break;
            }
        }
    }
    if (counts[CMD_CHAT_INPUT] > CHAT_INPUT_MAX || counts[CMD_USER] > CONTEXT_MENU_MAX ||
        counts[CMD_MESSAGE] > CONTEXT_MENU_MAX)
        cc_err_add (e, "_", "APPLICATION_COMMANDS_TOO_MANY",
                    "Maximum number of application commands reached (100 chat input, 15 user, 15 "
                    "message)");
}

static json_t *
error_body (cc_errs_t *e)
{
    json_t *top = json_object_get (e->errors, "_");
    if (top) {
        //  Errors about the whole array go at the top of the tree.
        json_object_set (e->errors, "_errors", json_object_get (top, "_errors"));
        json_object_del (e->errors, "_");
    }
    return json_pack ("{s:i, s:o, s:s}", "code", 50035, "errors", e->errors, "message",
                      "Invalid Form Body");
}

json_t *
srv_commands_validate (const json_t *body)
{
    cc_errs_t e = {NULL};
    if (!json_is_array (body)) {
        cc_err_add (&e, "_", "BASE_TYPE_ARRAY", "Must be an array.");
        return error_body (&e);
    }
    size_t count = json_array_size (body);
    int64_t *types = calloc (count + 1, sizeof *types);
    assert (types);
    for (size_t i = 0; i < count; i++)
        check_command (&e, json_array_get (body, i), i, &types[i]);
    check_set (&e, body, types);
    free (types);
    return e.errors ? error_body (&e) : NULL;
}

//  ---------------------------------------------------------------------------
//  Storage

srv_commands_t *
srv_commands_new (const char *application_id)
{
    srv_commands_t *self = calloc (1, sizeof *self);
    assert (self);
    self->application_id = strdup (application_id);
    self->global = json_array ();
    self->guilds = json_object ();
    self->next_id = UINT64_C (1200000000000000000);
    return self;
}

void
srv_commands_destroy (srv_commands_t **self_p)
{
    assert (self_p);
    srv_commands_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->global);
    json_decref (self->guilds);
    free (self->application_id);
    free (self);
    *self_p = NULL;
}

static json_t *
stored_command (srv_commands_t *self, const json_t *cmd, const char *guild_id)
{
    json_t *copy = json_deep_copy (cmd);
    char id[24], version[24];
    snprintf (id, sizeof id, "%" PRIu64, self->next_id++);
    snprintf (version, sizeof version, "%" PRIu64, ++self->version);
    json_object_set_new (copy, "id", json_string (id));
    json_object_set_new (copy, "application_id", json_string (self->application_id));
    json_object_set_new (copy, "version", json_string (version));
    if (!json_object_get (copy, "type"))
        json_object_set_new (copy, "type", json_integer (CMD_CHAT_INPUT));
    if (!json_object_get (copy, "default_member_permissions"))
        json_object_set_new (copy, "default_member_permissions", json_null ());
    if (guild_id)
        json_object_set_new (copy, "guild_id", json_string (guild_id));
    return copy;
}

json_t *
srv_commands_put (srv_commands_t *self, const char *guild_id, const json_t *body)
{
    assert (self && json_is_array (body));
    json_t *set = json_array ();
    size_t i;
    const json_t *cmd;
    json_array_foreach (body, i, cmd)
        json_array_append_new (set, stored_command (self, cmd, guild_id));
    if (guild_id)
        json_object_set (self->guilds, guild_id, set);
    else {
        json_decref (self->global);
        self->global = json_incref (set);
    }
    return set;
}

json_t *
srv_commands_get (srv_commands_t *self, const char *guild_id)
{
    assert (self);
    json_t *set = guild_id ? json_object_get (self->guilds, guild_id) : self->global;
    return set ? json_incref (set) : json_array ();
}

json_t *
srv_commands_stats (srv_commands_t *self)
{
    assert (self);
    return json_pack ("{s:O, s:O}", "global", self->global, "guilds", self->guilds);
}

//  ---------------------------------------------------------------------------
//  Self-test

//  The error tree of body, or NULL when valid: "path" must be in it.
static bool
refused_at (const char *body_text, const char *path)
{
    json_t *body = json_loads (body_text, 0, NULL);
    json_t *err = srv_commands_validate (body);
    json_decref (body);
    if (!err)
        return false;
    const json_t *node = json_object_get (err, "errors");
    char copy[128];
    snprintf (copy, sizeof copy, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r (copy, ".", &save); node && part; part = strtok_r (NULL, ".", &save))
        node = json_object_get (node, part);
    bool found = node && json_object_get (node, "_errors") &&
                 json_integer_value (json_object_get (err, "code")) == 50035;
    json_decref (err);
    return found;
}

static bool
accepted (const char *body_text)
{
    json_t *body = json_loads (body_text, 0, NULL);
    json_t *err = body ? srv_commands_validate (body) : json_object ();
    json_decref (body);
    json_decref (err);
    return body && !err;
}

int
srv_commands_test (void)
{
    SIM_CHECK (accepted ("[]"));
    SIM_CHECK (accepted ("[{\"name\":\"pay\",\"description\":\"Pay coins\",\"type\":1,"
                         "\"default_member_permissions\":\"32\",\"dm_permission\":false,"
                         "\"options\":[{\"type\":6,\"name\":\"user\",\"description\":\"who\","
                         "\"required\":true},{\"type\":4,\"name\":\"amount\",\"description\":"
                         "\"how much\",\"required\":true,\"min_value\":1},{\"type\":3,\"name\":"
                         "\"note\",\"description\":\"why\",\"max_length\":100}]}]"));
    SIM_CHECK (accepted ("[{\"name\":\"caf\u00e9-\u043f\u0440\u0438\",\"description\":\"d\"}]"));
    SIM_CHECK (accepted ("[{\"name\":\"Give Coins\",\"type\":2,\"description\":\"\"}]"));
    SIM_CHECK (accepted ("[{\"name\":\"admin\",\"description\":\"d\",\"options\":[{\"type\":2,"
                         "\"name\":\"grant\",\"description\":\"d\",\"options\":[{\"type\":1,"
                         "\"name\":\"coins\",\"description\":\"d\",\"options\":[{\"type\":4,"
                         "\"name\":\"n\",\"description\":\"d\"}]}]}]}]"));
    SIM_CHECK (refused_at ("[{\"name\":\"Pay\",\"description\":\"d\"}]", "0.name"));
    SIM_CHECK (refused_at ("[{\"name\":\"p ay\",\"description\":\"d\"}]", "0.name"));
    SIM_CHECK (refused_at (
        "[{\"name\":\"abcdefghijklmnopqrstuvwxyzabcdefg\",\"description\":\"d\"}]", "0.name"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"\"}]", "0.description"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\"}]", "0.description"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"d\",\"type\":9}]", "0.type"));
    SIM_CHECK (
        refused_at ("[{\"name\":\"pay\",\"description\":\"d\",\"default_member_permissions\":32}]",
                    "0.default_member_permissions"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"d\",\"options\":[{\"type\":3,"
                           "\"name\":\"a\",\"description\":\"d\"},{\"type\":3,\"name\":\"b\","
                           "\"description\":\"d\",\"required\":true}]}]",
                           "0.options.1.required"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"d\",\"options\":[{\"type\":12,"
                           "\"name\":\"a\",\"description\":\"d\"}]}]",
                           "0.options.0.type"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"d\",\"options\":[{\"type\":5,"
                           "\"name\":\"a\",\"description\":\"d\",\"min_value\":1}]}]",
                           "0.options.0.min_value"));
    SIM_CHECK (refused_at ("[{\"name\":\"pay\",\"description\":\"d\"},{\"name\":\"pay\","
                           "\"description\":\"e\"}]",
                           "1.name"));
    //  26 options.
    char big[4096] = "[{\"name\":\"many\",\"description\":\"d\",\"options\":[";
    for (int i = 0; i < 26; i++)
        snprintf (big + strlen (big), sizeof big - strlen (big),
                  "%s{\"type\":3,\"name\":\"o%d\",\"description\":\"d\"}", i ? "," : "", i);
    strcat (big, "]}]");
    SIM_CHECK (refused_at (big, "0.options"));
    json_t *not_array = json_object ();
    json_t *err = srv_commands_validate (not_array);
    SIM_CHECK (err && json_object_get (json_object_get (err, "errors"), "_errors"));
    json_decref (err);
    json_decref (not_array);
    //  Storage.
    srv_commands_t *store = srv_commands_new ("42");
    json_t *body = json_loads ("[{\"name\":\"balance\",\"description\":\"d\"}]", 0, NULL);
    json_t *set = srv_commands_put (store, "7000", body);
    SIM_CHECK (json_array_size (set) == 1);
    SIM_CHECK (strcmp (json_string_value (json_object_get (json_array_get (set, 0), "guild_id")),
                       "7000") == 0);
    json_decref (set);
    set = srv_commands_get (store, NULL);
    SIM_CHECK (json_array_size (set) == 0);
    json_decref (set);
    set = srv_commands_get (store, "7000");
    SIM_CHECK (json_array_size (set) == 1);
    json_decref (set);
    json_decref (body);
    srv_commands_destroy (&store);
    SIM_CHECK (store == NULL);
    return 0;
}
