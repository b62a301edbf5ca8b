/*  gateway_json (gateway service): Discord interaction JSON to a checked
 *  CommandRequest, and replies back to interaction responses. Needs
 *  services/gateway/discord_json.o linked into the runner (pure: jansson
 *  and protobuf-c only).
 *
 *  Malformed bodies are built by changing one field of a valid interaction
 *  (variant), so each case fails for the one reason it names, and the
 *  error text is compared whole: it is what the 400 answer tells the
 *  sender.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/gateway/discord_json.h"

//  The brief's /pay interaction with an option of every supported type and
//  three resolved users (a human, a bot, one without the bot field).
static const char BASE[] =
    "{\"type\":2,\"id\":\"1000000000000000001\",\"application_id\":\"42\","
    "\"token\":\"tok-abc\",\"version\":1,\"guild_id\":\"7001\",\"channel_id\":\"9001\","
    "\"locale\":\"en-US\","
    "\"member\":{\"user\":{\"id\":\"5001\",\"username\":\"user5001\"},"
    "\"permissions\":\"2147483647\"},"
    "\"data\":{\"id\":\"1\",\"name\":\"pay\",\"type\":1,\"options\":["
    "{\"name\":\"user\",\"type\":6,\"value\":\"5002\"},"
    "{\"name\":\"amount\",\"type\":4,\"value\":25},"
    "{\"name\":\"note\",\"type\":3,\"value\":\"for \\\"lunch\\\" \\u00e9\"},"
    "{\"name\":\"public\",\"type\":5,\"value\":true}],"
    "\"resolved\":{\"users\":{"
    "\"5002\":{\"id\":\"5002\",\"username\":\"user5002\",\"bot\":false},"
    "\"5003\":{\"id\":\"5003\",\"username\":\"robot\",\"bot\":true},"
    "\"5004\":{\"id\":\"5004\"}}}}}";

//  BASE with the member at a dotted path set to value (JSON text), or
//  removed when value is NULL. The caller frees the result.
static char *
variant (const char *path, const char *value)
{
    json_t *root = json_loads (BASE, 0, NULL);
    cr_assert_not_null (root);
    char keys[128];
    snprintf (keys, sizeof keys, "%s", path);
    json_t *parent = root;
    char *key = keys, *dot;
    while ((dot = strchr (key, '.'))) {
        *dot = '\0';
        parent = json_object_get (parent, key);
        cr_assert (json_is_object (parent), "no object at %s in %s", key, path);
        key = dot + 1;
    }
    if (value)
        cr_assert_eq (json_object_set_new (parent, key, json_loads (value, JSON_DECODE_ANY, NULL)),
                      0, "bad test value %s", value);
    else
        cr_assert_eq (json_object_del (parent, key), 0, "nothing to remove at %s", path);
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return text;
}

static void
parse_ok (const char *body, gw_interaction_t *out)
{
    char err[256] = "";
    int rc = gw_interaction_parse ((const uint8_t *) body, strlen (body), out, err, sizeof err);
    cr_assert_eq (rc, 0, "refused (%s): %s", err, body);
}

//  The error for body, which must be refused; a static buffer.
static const char *
parse_error (const char *body, int64_t *type)
{
    static char err[256];
    gw_interaction_t it;
    strcpy (err, "(no error text)");
    int rc = gw_interaction_parse ((const uint8_t *) body, strlen (body), &it, err, sizeof err);
    if (type)
        *type = it.type;
    gw_interaction_clear (&it);
    cr_assert_eq (rc, -1, "accepted: %s", body);
    return err;
}

static const char *
variant_error (const char *path, const char *value)
{
    char *body = variant (path, value);
    const char *err = parse_error (body, NULL);
    free (body);
    return err;
}

static const Cordbank__ResolvedUser *
resolved (const Cordbank__CommandRequest *cmd, uint64_t id)
{
    for (size_t i = 0; i < cmd->n_resolved_users; i++)
        if (cmd->resolved_users[i]->id == id)
            return cmd->resolved_users[i];
    cr_assert_fail ("no resolved user %llu", (unsigned long long) id);
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Valid interactions

Test (gateway_json, guild_command_fills_every_field)
{
    gw_interaction_t it;
    parse_ok (BASE, &it);
    const Cordbank__CommandRequest *cmd = it.command;
    cr_assert_eq (it.type, GW_INTERACTION_APPLICATION_COMMAND);
    cr_assert_not_null (cmd);
    cr_assert_eq (cmd->interaction_id, UINT64_C (1000000000000000001));
    cr_assert_eq (cmd->application_id, 42);
    cr_assert_str_eq (cmd->interaction_token, "tok-abc");
    cr_assert_eq (cmd->guild_id, 7001);
    cr_assert_eq (cmd->channel_id, 9001);
    cr_assert_str_eq (cmd->locale, "en-US");
    cr_assert_eq (cmd->user_id, 5001);
    cr_assert_str_eq (cmd->username, "user5001");
    cr_assert_eq (cmd->member_permissions, UINT64_C (2147483647));
    cr_assert_str_eq (cmd->command_name, "pay");
    gw_interaction_clear (&it);
    cr_assert_null (it.command);
}

Test (gateway_json, options_of_every_type)
{
    gw_interaction_t it;
    parse_ok (BASE, &it);
    const Cordbank__CommandRequest *cmd = it.command;
    cr_assert_eq (cmd->n_options, 4);
    Cordbank__CommandOption *const *o = cmd->options;
    cr_assert_str_eq (o[0]->name, "user");
    cr_assert_eq (o[0]->value_case, CORDBANK__COMMAND_OPTION__VALUE_USER_VALUE);
    cr_assert_eq (o[0]->user_value, 5002);
    cr_assert_str_eq (o[1]->name, "amount");
    cr_assert_eq (o[1]->value_case, CORDBANK__COMMAND_OPTION__VALUE_INT_VALUE);
    cr_assert_eq (o[1]->int_value, 25);
    cr_assert_str_eq (o[2]->name, "note");
    cr_assert_eq (o[2]->value_case, CORDBANK__COMMAND_OPTION__VALUE_STRING_VALUE);
    cr_assert_str_eq (o[2]->string_value, "for \"lunch\" \xc3\xa9");
    cr_assert_str_eq (o[3]->name, "public");
    cr_assert_eq (o[3]->value_case, CORDBANK__COMMAND_OPTION__VALUE_BOOL_VALUE);
    cr_assert (o[3]->bool_value);
    gw_interaction_clear (&it);
}

//  Range checks belong to the command service: the gateway passes any
//  int64 through, negative or extreme.
Test (gateway_json, integer_options_keep_their_full_range)
{
    static const char *const values[] = {"-5", "0", "9223372036854775807", "-9223372036854775808"};
    static const int64_t expected[] = {-5, 0, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 4; i++) {
        char options[128];
        snprintf (options, sizeof options, "[{\"name\":\"amount\",\"type\":4,\"value\":%s}]",
                  values[i]);
        char *body = variant ("data.options", options);
        gw_interaction_t it;
        parse_ok (body, &it);
        cr_assert_eq (it.command->n_options, 1);
        cr_assert_eq (it.command->options[0]->int_value, expected[i], "value %s", values[i]);
        gw_interaction_clear (&it);
        free (body);
    }
}

Test (gateway_json, resolved_users_keep_the_bot_flag)
{
    gw_interaction_t it;
    parse_ok (BASE, &it);
    cr_assert_eq (it.command->n_resolved_users, 3);
    const Cordbank__ResolvedUser *human = resolved (it.command, 5002);
    const Cordbank__ResolvedUser *bot = resolved (it.command, 5003);
    const Cordbank__ResolvedUser *unsaid = resolved (it.command, 5004);
    cr_assert_not (human->bot);
    cr_assert_str_eq (human->username, "user5002");
    cr_assert (bot->bot);
    cr_assert_str_eq (bot->username, "robot");
    cr_assert_not (unsaid->bot, "no \"bot\" field means a human");
    cr_assert_str_eq (unsaid->username, "");
    gw_interaction_clear (&it);
}

Test (gateway_json, permissions_are_a_decimal_bit_set)
{
    static const char *const texts[] = {"\"32\"", "\"0\"", "\"18446744073709551615\""};
    static const uint64_t expected[] = {UINT64_C (1) << 5, 0, UINT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        char *body = variant ("member.permissions", texts[i]);
        gw_interaction_t it;
        parse_ok (body, &it);
        cr_assert_eq (it.command->member_permissions, expected[i], "permissions %s", texts[i]);
        gw_interaction_clear (&it);
        free (body);
    }
    char *body = variant ("member.permissions", NULL);
    gw_interaction_t it;
    parse_ok (body, &it);
    cr_assert_eq (it.command->member_permissions, 0, "absent permissions grant nothing");
    gw_interaction_clear (&it);
    free (body);
}

Test (gateway_json, dm_takes_the_top_level_user)
{
    const char *body = "{\"type\":2,\"id\":\"11\",\"application_id\":\"42\",\"token\":\"t\","
                       "\"channel_id\":\"9\",\"user\":{\"id\":\"5001\",\"username\":\"dm\"},"
                       "\"data\":{\"name\":\"balance\"}}";
    gw_interaction_t it;
    parse_ok (body, &it);
    const Cordbank__CommandRequest *cmd = it.command;
    cr_assert_eq (cmd->guild_id, 0, "a DM has no guild");
    cr_assert_eq (cmd->user_id, 5001);
    cr_assert_str_eq (cmd->username, "dm");
    cr_assert_eq (cmd->member_permissions, 0);
    cr_assert_str_eq (cmd->command_name, "balance");
    cr_assert_eq (cmd->n_options, 0);
    cr_assert_eq (cmd->n_resolved_users, 0);
    cr_assert_str_eq (cmd->locale, "");
    gw_interaction_clear (&it);
}

Test (gateway_json, ping_has_no_command)
{
    gw_interaction_t it;
    parse_ok ("{\"type\":1,\"id\":\"1\",\"application_id\":\"42\"}", &it);
    cr_assert_eq (it.type, GW_INTERACTION_PING);
    cr_assert_null (it.command);
    gw_interaction_clear (&it);
}

Test (gateway_json, snowflake_limits_that_pass)
{
    static const char *const ids[] = {"\"1\"", "\"9223372036854775807\""};
    static const uint64_t expected[] = {1, INT64_MAX};
    for (size_t i = 0; i < 2; i++) {
        char *body = variant ("id", ids[i]);
        gw_interaction_t it;
        parse_ok (body, &it);
        cr_assert_eq (it.command->interaction_id, expected[i], "id %s", ids[i]);
        gw_interaction_clear (&it);
        free (body);
    }
}

//  ---------------------------------------------------------------------------
//  Malformed interactions: each error names what was wrong

Test (gateway_json, invalid_json)
{
    int64_t type = -1;
    cr_assert_eq (strncmp (parse_error ("{\"type\":2,", &type), "invalid JSON at line 1", 22), 0);
    cr_assert_eq (type, 0, "no type was read");
    cr_assert_eq (strncmp (parse_error ("", NULL), "invalid JSON", 12), 0);
    cr_assert_eq (strncmp (parse_error ("{\"type\":1,\"type\":2}", NULL), "invalid JSON", 12), 0,
                  "duplicate keys are refused");
    cr_assert_eq (strncmp (parse_error ("{\"type\":1} x", NULL), "invalid JSON", 12), 0);
    cr_assert_str_eq (parse_error ("[1]", NULL), "the body must be a JSON object");
    cr_assert_eq (strncmp (parse_error ("\"text\"", NULL), "invalid JSON", 12), 0,
                  "jansson loads only an object or an array");
}

Test (gateway_json, bad_type)
{
    int64_t type = -1;
    cr_assert_str_eq (variant_error ("type", NULL), "missing \"type\"");
    cr_assert_str_eq (variant_error ("type", "\"2\""), "\"type\" must be an integer");
    cr_assert_str_eq (variant_error ("type", "2.0"), "\"type\" must be an integer");
    cr_assert_str_eq (variant_error ("type", "null"), "\"type\" must be an integer");
    cr_assert_str_eq (parse_error ("{\"type\":3}", &type), "unsupported interaction type 3");
    cr_assert_eq (type, 3, "the type is kept for the metrics");
}

Test (gateway_json, id_must_be_a_snowflake_string)
{
    static const char *const bad[] = {
        "5", // a number, not a string
        "null",
        "\"\"", // no digits
        "\"abc\"",
        "\"-1\"", // signed
        "\"+1\"",
        "\" 1\"", // blanks
        "\"1 \"",
        "\"1.5\"",
        "\"0\"",                     // user 0 is a guild's mint, guild 0 a DM
        "\"9223372036854775808\"",   // INT64_MAX + 1: past PostgreSQL's bigint
        "\"18446744073709551615\"",  // UINT64_MAX
        "\"18446744073709551616\"",  // past uint64
        "\"100000000000000000000\"", // 21 digits
        "\"000000000000000000001\"", // 21 digits of a small value
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_str_eq (variant_error ("id", bad[i]), "\"id\" must be a snowflake string",
                          "id %s", bad[i]);
    cr_assert_str_eq (variant_error ("id", NULL), "missing \"id\"");
}

Test (gateway_json, other_snowflakes_are_checked_by_name)
{
    cr_assert_str_eq (variant_error ("application_id", "\"x\""),
                      "\"application_id\" must be a snowflake string");
    cr_assert_str_eq (variant_error ("application_id", NULL), "missing \"application_id\"");
    cr_assert_str_eq (variant_error ("guild_id", "\"0\""),
                      "\"guild_id\" must be a snowflake string");
    cr_assert_str_eq (variant_error ("channel_id", "9001"),
                      "\"channel_id\" must be a snowflake string");
    cr_assert_str_eq (variant_error ("member.user.id", "\"12a\""),
                      "\"member.user.id\" must be a snowflake string");
    cr_assert_str_eq (variant_error ("member.user.id", NULL), "missing \"member.user.id\"");
}

Test (gateway_json, token_and_strings)
{
    cr_assert_str_eq (variant_error ("token", NULL), "missing \"token\"");
    cr_assert_str_eq (variant_error ("token", "\"\""), "\"token\" must be a non-empty string");
    cr_assert_str_eq (variant_error ("token", "7"), "\"token\" must be a non-empty string");
    cr_assert_str_eq (variant_error ("locale", "1"), "\"locale\" must be a string");
    cr_assert_str_eq (variant_error ("member.user.username", "false"),
                      "\"member.user.username\" must be a string");
}

Test (gateway_json, invoker_and_permissions)
{
    cr_assert_str_eq (variant_error ("member", NULL),
                      "missing \"member.user\" (in a server) or \"user\" (in a DM)");
    cr_assert_str_eq (variant_error ("member", "[]"), "\"member\" must be an object");
    cr_assert_str_eq (variant_error ("member.user", NULL), "missing \"member.user\"");
    cr_assert_str_eq (variant_error ("member.user", "\"5001\""),
                      "\"member.user\" must be an object");
    static const char *const bad[] = {"8", "\"\"", "\"-1\"", "\"0x20\"",
                                      "\"18446744073709551616\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_str_eq (variant_error ("member.permissions", bad[i]),
                          "\"member.permissions\" must be a decimal string", "permissions %s",
                          bad[i]);
    const char *dm = "{\"type\":2,\"id\":\"1\",\"application_id\":\"42\",\"token\":\"t\","
                     "\"user\":{\"id\":\"0\"},\"data\":{\"name\":\"balance\"}}";
    cr_assert_str_eq (parse_error (dm, NULL), "\"user.id\" must be a snowflake string");
}

Test (gateway_json, data_and_name)
{
    cr_assert_str_eq (variant_error ("data", NULL), "missing \"data\"");
    cr_assert_str_eq (variant_error ("data", "\"pay\""), "\"data\" must be an object");
    cr_assert_str_eq (variant_error ("data.name", NULL), "missing \"data.name\"");
    cr_assert_str_eq (variant_error ("data.name", "\"\""),
                      "\"data.name\" must be a non-empty string");
}

Test (gateway_json, options_must_be_an_array_of_objects)
{
    cr_assert_str_eq (variant_error ("data.options", "{}"),
                      "\"data.options\" must be an array of at most 25");
    cr_assert_str_eq (variant_error ("data.options", "\"user\""),
                      "\"data.options\" must be an array of at most 25");
    char many[26 * 40 + 8] = "[";
    for (int i = 0; i < 26; i++)
        snprintf (many + strlen (many), sizeof many - strlen (many),
                  "%s{\"name\":\"o%d\",\"type\":4,\"value\":1}", i ? "," : "", i);
    strcat (many, "]");
    cr_assert_str_eq (variant_error ("data.options", many),
                      "\"data.options\" must be an array of at most 25");
    cr_assert_str_eq (variant_error ("data.options", "[{\"name\":\"a\",\"type\":4,\"value\":1},7]"),
                      "\"data.options[1]\" needs a non-empty \"name\"");
    cr_assert_str_eq (variant_error ("data.options", "[{\"type\":4,\"value\":1}]"),
                      "\"data.options[0]\" needs a non-empty \"name\"");
    cr_assert_str_eq (variant_error ("data.options", "[{\"name\":\"\",\"type\":4,\"value\":1}]"),
                      "\"data.options[0]\" needs a non-empty \"name\"");
    cr_assert_str_eq (
        variant_error ("data.options", "[{\"name\":\"a\",\"type\":\"4\",\"value\":1}]"),
        "\"data.options[0].type\" must be an integer");
    cr_assert_str_eq (variant_error ("data.options", "[{\"name\":\"amount\",\"type\":4}]"),
                      "option \"amount\" has no \"value\"");
}

Test (gateway_json, option_of_unsupported_type)
{
    cr_assert_str_eq (variant_error ("data.options", "[{\"name\":\"sub\",\"type\":1,\"value\":1}]"),
                      "option \"sub\" has unsupported type 1");
    cr_assert_str_eq (
        variant_error ("data.options", "[{\"name\":\"ch\",\"type\":7,\"value\":\"1\"}]"),
        "option \"ch\" has unsupported type 7");
    cr_assert_str_eq (
        variant_error ("data.options", "[{\"name\":\"n\",\"type\":10,\"value\":1.5}]"),
        "option \"n\" has unsupported type 10");
}

Test (gateway_json, option_values_must_match_their_type)
{
    static const struct {
        const char *option, *error;
    } cases[] = {
        {"{\"name\":\"s\",\"type\":3,\"value\":3}", "option \"s\" must be a string"},
        {"{\"name\":\"i\",\"type\":4,\"value\":2.5}", "option \"i\" must be an integer"},
        {"{\"name\":\"i\",\"type\":4,\"value\":\"25\"}", "option \"i\" must be an integer"},
        {"{\"name\":\"b\",\"type\":5,\"value\":\"true\"}", "option \"b\" must be a boolean"},
        {"{\"name\":\"b\",\"type\":5,\"value\":1}", "option \"b\" must be a boolean"},
        {"{\"name\":\"u\",\"type\":6,\"value\":5002}", "option \"u\" must be a snowflake string"},
        {"{\"name\":\"u\",\"type\":6,\"value\":\"0\"}", "option \"u\" must be a snowflake string"},
        {"{\"name\":\"u\",\"type\":6,\"value\":\"9223372036854775808\"}",
         "option \"u\" must be a snowflake string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char options[160];
        snprintf (options, sizeof options, "[%s]", cases[i].option);
        cr_assert_str_eq (variant_error ("data.options", options), cases[i].error, "option %s",
                          cases[i].option);
    }
}

Test (gateway_json, integer_past_int64_is_invalid_json)
{
    const char *body = "{\"type\":2,\"data\":{\"name\":\"pay\",\"options\":[{\"name\":\"a\","
                       "\"type\":4,\"value\":9223372036854775808}]}}";
    cr_assert_eq (strncmp (parse_error (body, NULL), "invalid JSON", 12), 0);
}

Test (gateway_json, resolved_users_are_checked)
{
    cr_assert_str_eq (variant_error ("data.resolved", "[]"), "\"data.resolved\" must be an object");
    cr_assert_str_eq (variant_error ("data.resolved.users", "[]"),
                      "\"data.resolved.users\" must be an object");
    cr_assert_str_eq (variant_error ("data.resolved.users.5003", "\"robot\""),
                      "\"data.resolved.users.5003\" must be an object");
    cr_assert_str_eq (variant_error ("data.resolved.users.5003.bot", "\"yes\""),
                      "\"data.resolved.users.5003.bot\" must be a boolean");
    cr_assert_str_eq (variant_error ("data.resolved.users.5003.id", NULL),
                      "missing \"data.resolved.users.5003.id\"");
    cr_assert_str_eq (variant_error ("data.resolved.users.5003.id", "\"0\""),
                      "\"data.resolved.users.5003.id\" must be a snowflake string");
}

//  ---------------------------------------------------------------------------
//  Interaction responses

//  text parsed back; the caller decrefs. Every message suppresses pings:
//  data.allowed_mentions is exactly {"parse":[]}.
static json_t *
loads (char *text)
{
    cr_assert_not_null (text);
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    cr_assert_not_null (root, "not JSON (%s): %s", error.text, text);
    cr_assert_eq (json_integer_value (json_object_get (root, "type")), 4, "%s", text);
    json_t *mentions = json_object_get (json_object_get (root, "data"), "allowed_mentions");
    json_t *parse = json_object_get (mentions, "parse");
    cr_assert (json_is_object (mentions) && json_object_size (mentions) == 1, "%s", text);
    cr_assert (json_is_array (parse) && json_array_size (parse) == 0, "%s", text);
    free (text);
    return root;
}

Test (gateway_json, pong_and_plain_messages)
{
    char *text = gw_json_pong ();
    cr_assert_str_eq (text, "{\"type\":1}");
    free (text);
    text = gw_json_message ("cordbank works inside servers only.", true);
    cr_assert_str_eq (text, "{\"type\":4,\"data\":{\"content\":\"cordbank works inside servers "
                            "only.\",\"flags\":64,\"allowed_mentions\":{\"parse\":[]}}}");
    free (text);
    text = gw_json_message ("hi", false);
    cr_assert_str_eq (
        text, "{\"type\":4,\"data\":{\"content\":\"hi\",\"allowed_mentions\":{\"parse\":[]}}}");
    free (text);
}

//  /leaderboard and /grant name members as <@id>: shown, never pinged.
Test (gateway_json, mentions_render_but_never_ping)
{
    char content[] = "<@1> granted 5 coins to <@2>. @everyone @here <@&3>";
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.content = content;
    json_t *root = loads (gw_json_reply (&reply));
    json_t *data = json_object_get (root, "data");
    cr_assert_str_eq (json_string_value (json_object_get (data, "content")), content,
                      "the mentions stay in the text");
    json_decref (root);
    reply.ephemeral = true;
    json_decref (loads (gw_json_reply (&reply)));
    json_decref (loads (gw_json_message (content, false)));
}

Test (gateway_json, reply_flags_64_only_when_ephemeral)
{
    char content[] = "You cannot pay yourself.";
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.content = content;
    reply.ephemeral = true;
    json_t *root = loads (gw_json_reply (&reply));
    json_t *data = json_object_get (root, "data");
    cr_assert_str_eq (json_string_value (json_object_get (data, "content")),
                      "You cannot pay yourself.");
    cr_assert (json_is_integer (json_object_get (data, "flags")));
    cr_assert_eq (json_integer_value (json_object_get (data, "flags")), 64);
    cr_assert_null (json_object_get (data, "embeds"), "no embeds, no \"embeds\"");
    json_decref (root);
    reply.ephemeral = false;
    root = loads (gw_json_reply (&reply));
    data = json_object_get (root, "data");
    cr_assert_null (json_object_get (data, "flags"));
    cr_assert_eq (json_object_size (data), 2, "only content and allowed_mentions");
    json_decref (root);
}

Test (gateway_json, reply_content_is_escaped)
{
    static char content[] = "say \"hi\"\nback\\slash\ttab \xc3\xa9 \xe2\x9c\x93 "
                            "\xf0\x9f\x92\xb0 </b> \x01";
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.content = content;
    char *text = gw_json_reply (&reply);
    cr_assert_not_null (text);
    cr_assert_null (strchr (text, '\n'), "a raw newline: %s", text);
    cr_assert_null (strchr (text, '\x01'), "a raw control character: %s", text);
    cr_assert_not_null (strstr (text, "say \\\"hi\\\"\\nback\\\\slash\\ttab "), "%s", text);
    cr_assert_not_null (strstr (text, "\\u0001"), "%s", text);
    json_t *root = loads (text);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (root, "data"), "content")), content,
        "the content survives the round trip");
    json_decref (root);
}

Test (gateway_json, reply_with_invalid_utf8_is_null)
{
    char content[] = "bad \xff byte";
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.content = content;
    cr_assert_null (gw_json_reply (&reply));
    cr_assert_null (gw_json_message ("bad \xc3 byte", true));
}

Test (gateway_json, reply_embeds_only_when_present)
{
    char title[] = "Richest", description[] = "1. <@5001> \xe2\x80\x94 1,234 coins";
    char footer[] = "page 1", bare_title[] = "only a title", empty[] = "";
    Cordbank__Embed full = CORDBANK__EMBED__INIT, bare = CORDBANK__EMBED__INIT;
    full.title = title;
    full.description = description;
    full.color = 0x1abc9c;
    full.footer = footer;
    bare.title = bare_title;
    Cordbank__Embed *embeds[] = {&full, &bare};
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.content = empty;
    reply.n_embeds = 2;
    reply.embeds = embeds;
    json_t *root = loads (gw_json_reply (&reply));
    json_t *data = json_object_get (root, "data");
    json_t *list = json_object_get (data, "embeds");
    cr_assert (json_is_array (list));
    cr_assert_eq (json_array_size (list), 2);
    cr_assert_null (json_object_get (data, "flags"));
    json_t *first = json_array_get (list, 0), *second = json_array_get (list, 1);
    cr_assert_str_eq (json_string_value (json_object_get (first, "title")), "Richest");
    cr_assert_str_eq (json_string_value (json_object_get (first, "description")), full.description);
    cr_assert_eq (json_integer_value (json_object_get (first, "color")), 0x1abc9c);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (first, "footer"), "text")), "page 1");
    cr_assert_eq (json_object_size (second), 1, "empty fields are left out");
    cr_assert_str_eq (json_string_value (json_object_get (second, "title")), "only a title");
    json_decref (root);
}
