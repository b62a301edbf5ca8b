/*  fuzz_gateway — the JSON the gateway reads from Discord.
 *
 *  Every input is given, whole, to each parser that takes Discord's JSON:
 *
 *  - gw_payload_parse, as a shard reads a Gateway message, then what the
 *    shard does by op: HELLO's interval, READY's session and the connect
 *    URL built from its resume_gateway_url, INVALID_SESSION's flag, and an
 *    INTERACTION_CREATE's d dumped and parsed as an interaction (the path
 *    through shards.c into gw_interactions_from_gateway), plus the close
 *    code table on the payload's op and sequence;
 *  - gw_gateway_bot_parse, as GET /gateway/bot's answer;
 *  - gw_interaction_parse, as an HTTP interaction body.
 *
 *  A parsed interaction is checked against discord_json.h's promises (the
 *  ids the ledger keys on are non-zero, names are non-empty) and must pack
 *  to a CommandRequest that decodes again, as it travels to command.
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.pb-c.h"
#include "services/gateway/discord_json.h"
#include "services/gateway/gateway_proto.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  What gw_interaction_parse promises of a command it accepts.
static void
check_command (const Cordbank__CommandRequest *cmd)
{
    assert (cmd->interaction_id > 0 && cmd->interaction_id <= INT64_MAX);
    assert (cmd->application_id > 0 && cmd->user_id > 0);
    assert (cmd->interaction_token && *cmd->interaction_token);
    assert (cmd->command_name && *cmd->command_name);
    assert (cmd->username && cmd->locale);
    for (size_t i = 0; i < cmd->n_options; i++) {
        const Cordbank__CommandOption *opt = cmd->options[i];
        assert (opt && opt->name && *opt->name);
        assert (opt->value_case != CORDBANK__COMMAND_OPTION__VALUE__NOT_SET);
        if (opt->value_case == CORDBANK__COMMAND_OPTION__VALUE_USER_VALUE)
            assert (opt->user_value > 0);
        if (opt->value_case == CORDBANK__COMMAND_OPTION__VALUE_STRING_VALUE)
            assert (opt->string_value);
    }
    for (size_t i = 0; i < cmd->n_resolved_users; i++)
        assert (cmd->resolved_users[i] && cmd->resolved_users[i]->id > 0);
    size_t size = cordbank__command_request__get_packed_size (cmd);
    uint8_t *bytes = malloc (size + 1);
    assert (bytes);
    assert (cordbank__command_request__pack (cmd, bytes) == size);
    Cordbank__CommandRequest *again = cordbank__command_request__unpack (NULL, size, bytes);
    assert (again && again->interaction_id == cmd->interaction_id);
    assert (again->n_options == cmd->n_options);
    cordbank__command_request__free_unpacked (again, NULL);
    free (bytes);
}

static void
parse_interaction (const uint8_t *body, size_t size)
{
    gw_interaction_t it;
    char err[200];
    int rc = gw_interaction_parse (body, size, &it, err, sizeof err);
    if (rc == 0 && it.type == GW_INTERACTION_PING)
        assert (!it.command);
    else if (rc == 0) {
        assert (it.type == GW_INTERACTION_APPLICATION_COMMAND && it.command);
        check_command (it.command);
    } else
        assert (memchr (err, '\0', sizeof err) && *err);
    gw_interaction_clear (&it);
    assert (!it.command);
}

//  What shard_session.c does with one complete message.
static void
on_message (const char *text, size_t len)
{
    gw_payload_t p;
    char err[160];
    if (gw_payload_parse (text, len, &p, err, sizeof err) != 0)
        return;
    assert (p.s >= -1 && memchr (p.t, '\0', sizeof p.t));
    (void) gw_hello_interval (&p);
    (void) gw_invalid_session_resumable (&p);
    char session[128], resume_url[512];
    if (gw_ready_session (&p, session, sizeof session, resume_url, sizeof resume_url) == 0) {
        assert (*session);
        //  On the heap at its own size, as in a shard, so ASan sees an overread.
        char *base = strdup (*resume_url ? resume_url : "wss://gateway.discord.gg");
        char *url = gw_connect_url (base);
        assert (url && strstr (url, "v=10&encoding=json&compress=zlib-stream"));
        free (url);
        free (base);
    }
    gw_close_action_t action = gw_close_action (p.op);
    assert (action == GW_CLOSE_RESUME || action == GW_CLOSE_REIDENTIFY || action == GW_CLOSE_FATAL);
    assert (gw_close_name (p.op));
    if (p.op == GW_OP_DISPATCH && strcmp (p.t, "INTERACTION_CREATE") == 0 && json_is_object (p.d)) {
        char *d = json_dumps (p.d, JSON_COMPACT);
        if (d)
            parse_interaction ((const uint8_t *) d, strlen (d));
        free (d);
    }
    gw_payload_clear (&p);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const char empty[1] = "";
    const char *text = size ? (const char *) data : empty;
    on_message (text, size);
    gw_gateway_bot_t bot;
    char err[160];
    if (gw_gateway_bot_parse (text, size, &bot, err, sizeof err) == 0)
        assert (bot.shards >= 1 && bot.max_concurrency >= 1 && strncmp (bot.url, "ws", 2) == 0);
    parse_interaction ((const uint8_t *) text, size);
    return 0;
}
