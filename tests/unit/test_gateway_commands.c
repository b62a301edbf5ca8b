/*  gateway_commands (gateway service): the slash-command registration
 *  payload against Discord's documented structure (Application Commands:
 *  names ^[-_\p{L}\p{N}]{1,32}$ in lower case, descriptions 1-100
 *  characters, option types 1-11, at most 25 options with required ones
 *  first, min/max only on numbers and within 2^53, at most 4000 characters
 *  of names and descriptions per command, default_member_permissions a
 *  string of a bit set) and against what the command service reads.
 *  Needs services/gateway/commands.o linked into the runner (pure: jansson).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "services/gateway/commands.h"

#define MAX_PAY 1000000000000LL

static json_t *
payload (int64_t max_pay)
{
    char *text = gw_commands_json (max_pay);
    cr_assert_not_null (text);
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    cr_assert_not_null (root, "not JSON: %s", error.text);
    free (text);
    return root;
}

//  ASCII is all we use of \p{L}\p{N}: lower-case letters, digits, - and _.
static bool
name_ok (const char *s)
{
    size_t n = strlen (s);
    if (n < 1 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_'))
            return false;
    return true;
}

static size_t
text_len (json_t *obj, const char *key)
{
    const char *s = json_string_value (json_object_get (obj, key));
    cr_assert_not_null (s, "\"%s\" must be a string", key);
    return strlen (s);
}

//  One option; returns the characters it adds to the command's total.
static size_t
check_option (json_t *opt, bool *seen_optional)
{
    cr_assert (json_is_object (opt));
    json_int_t type = json_integer_value (json_object_get (opt, "type"));
    cr_assert (type >= 1 && type <= 11, "option type %lld", (long long) type);
    const char *name = json_string_value (json_object_get (opt, "name"));
    cr_assert (name && name_ok (name), "option name %s", name ? name : "(none)");
    size_t desc = text_len (opt, "description");
    cr_assert (desc >= 1 && desc <= 100);
    bool required = json_is_true (json_object_get (opt, "required"));
    cr_assert (!(required && *seen_optional), "required option %s after an optional one", name);
    *seen_optional |= !required;
    json_t *min = json_object_get (opt, "min_value"), *max = json_object_get (opt, "max_value");
    if (min || max) {
        cr_assert (type == 4 || type == 10, "min/max on option type %lld", (long long) type);
        cr_assert (json_is_integer (min) && json_is_integer (max));
        json_int_t lo = json_integer_value (min), hi = json_integer_value (max);
        cr_assert (lo <= hi && lo >= -9007199254740991LL && hi <= 9007199254740991LL);
    }
    return strlen (name) + desc;
}

static void
check_command (json_t *cmd)
{
    cr_assert (json_is_object (cmd));
    const char *name = json_string_value (json_object_get (cmd, "name"));
    cr_assert (name && name_ok (name), "command name %s", name ? name : "(none)");
    size_t desc = text_len (cmd, "description");
    cr_assert (desc >= 1 && desc <= 100, "/%s description has %zu characters", name, desc);
    cr_assert_eq (json_integer_value (json_object_get (cmd, "type")), 1);
    cr_assert (json_is_false (json_object_get (cmd, "dm_permission")), "/%s in DMs", name);
    json_t *perms = json_object_get (cmd, "default_member_permissions");
    if (perms) {
        const char *p = json_string_value (perms);
        cr_assert (p && *p && strspn (p, "0123456789") == strlen (p), "permissions not a string");
    }
    json_t *options = json_object_get (cmd, "options");
    size_t total = strlen (name) + desc;
    bool seen_optional = false;
    cr_assert (!options || (json_is_array (options) && json_array_size (options) <= 25));
    for (size_t i = 0; options && i < json_array_size (options); i++)
        total += check_option (json_array_get (options, i), &seen_optional);
    cr_assert_leq (total, 4000);
}

Test (gateway_commands, payload_follows_discords_structure)
{
    json_t *root = payload (MAX_PAY);
    cr_assert (json_is_array (root));
    cr_assert_eq (json_array_size (root), GW_COMMANDS_COUNT);
    for (size_t i = 0; i < json_array_size (root); i++)
        check_command (json_array_get (root, i));
    json_decref (root);
}

static json_t *
find (json_t *list, const char *key, const char *name)
{
    for (size_t i = 0; i < json_array_size (list); i++) {
        json_t *item = json_array_get (list, i);
        if (strcmp (json_string_value (json_object_get (item, key)), name) == 0)
            return item;
    }
    return NULL;
}

//  The option's type, required flag and limits ("-" when none).
static void
expect_option (json_t *root, const char *cmd, const char *opt, int type, bool required,
               json_int_t min, json_int_t max)
{
    json_t *c = find (root, "name", cmd);
    cr_assert_not_null (c, "/%s missing", cmd);
    json_t *o = find (json_object_get (c, "options"), "name", opt);
    cr_assert_not_null (o, "/%s has no option %s", cmd, opt);
    cr_assert_eq (json_integer_value (json_object_get (o, "type")), type, "/%s %s", cmd, opt);
    cr_assert_eq (json_is_true (json_object_get (o, "required")), required, "/%s %s", cmd, opt);
    if (min != max) {
        cr_assert_eq (json_integer_value (json_object_get (o, "min_value")), min, "/%s %s", cmd,
                      opt);
        cr_assert_eq (json_integer_value (json_object_get (o, "max_value")), max, "/%s %s", cmd,
                      opt);
    }
}

static size_t
option_count (json_t *root, const char *cmd)
{
    return json_array_size (json_object_get (find (root, "name", cmd), "options"));
}

Test (gateway_commands, options_are_what_command_reads)
{
    json_t *root = payload (MAX_PAY);
    expect_option (root, "balance", "user", 6, false, 0, 0);
    expect_option (root, "pay", "user", 6, true, 0, 0);
    expect_option (root, "pay", "amount", 4, true, 1, MAX_PAY);
    expect_option (root, "leaderboard", "page", 4, false, 1, 1000);
    expect_option (root, "history", "user", 6, false, 0, 0);
    expect_option (root, "grant", "user", 6, true, 0, 0);
    expect_option (root, "grant", "amount", 4, true, -MAX_PAY, MAX_PAY);
    cr_assert_eq (option_count (root, "daily"), 0);
    cr_assert_eq (option_count (root, "work"), 0);
    cr_assert_eq (option_count (root, "balance"), 1);
    cr_assert_eq (option_count (root, "pay"), 2);
    json_decref (root);
}

Test (gateway_commands, only_grant_needs_manage_server)
{
    json_t *root = payload (MAX_PAY);
    for (size_t i = 0; i < json_array_size (root); i++) {
        json_t *cmd = json_array_get (root, i);
        const char *name = json_string_value (json_object_get (cmd, "name"));
        const char *perms = json_string_value (json_object_get (cmd, "default_member_permissions"));
        if (strcmp (name, "grant") == 0)
            cr_assert_str_eq (perms ? perms : "(none)", "32");
        else
            cr_assert_null (perms, "/%s is restricted", name);
    }
    json_decref (root);
}

Test (gateway_commands, amounts_fit_discords_integer_range)
{
    json_t *root = payload (INT64_MAX);
    expect_option (root, "pay", "amount", 4, true, 1, 9007199254740991LL);
    expect_option (root, "grant", "amount", 4, true, -9007199254740991LL, 9007199254740991LL);
    json_decref (root);
}

Test (gateway_commands, paths_global_and_guild)
{
    char path[128];
    cr_assert_eq (gw_commands_path ("1100000000000000001", NULL, path, sizeof path), 0);
    cr_assert_str_eq (path, "/applications/1100000000000000001/commands");
    cr_assert_eq (gw_commands_path ("11", "", path, sizeof path), 0);
    cr_assert_str_eq (path, "/applications/11/commands");
    cr_assert_eq (gw_commands_path ("11", "22", path, sizeof path), 0);
    cr_assert_str_eq (path, "/applications/11/guilds/22/commands");
    cr_assert_eq (gw_commands_path ("", NULL, path, sizeof path), -1);
    cr_assert_eq (gw_commands_path ("11", "2x", path, sizeof path), -1);
    cr_assert_eq (gw_commands_path ("11/../x", NULL, path, sizeof path), -1);
}
