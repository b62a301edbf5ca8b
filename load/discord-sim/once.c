/*  once — one interaction, built from flags, through the same transport.
 *
 *  Every flag is checked before anything is sent. The body is signed
 *  exactly as sent, so --raw-body can carry malformed JSON with a valid
 *  signature (to reach the gateway's 400 path rather than its 401 one).
 */
#include "load/discord-sim/once.h"
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/monotime.h"
#include "load/discord-sim/transport.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLICATION_ID 42
#define FIRST_GUILD    7000
#define FIRST_CHANNEL  9000

typedef struct {
    bool done;
    int rc;
} outcome_t;

static bool
is_set (const char *text)
{
    return text && *text;
}

//  Checks an optional unsigned decimal flag; 0 or -1 with err set.
static int
check_number (const char *flag, const char *text, uint64_t *out, char *err, size_t size)
{
    if (!is_set (text) || sim_parse_u64 (text, out) == 0)
        return 0;
    snprintf (err, size, "--%s '%s': want an unsigned decimal number", flag, text);
    return -1;
}

static int
check_config (const sim_once_config_t *config, sim_option_t *options, uint64_t *id, char *err,
              size_t size)
{
    uint64_t ignored;
    if (!config->raw_body && config->type != SIM_INTERACTION_PING && !is_set (config->command)) {
        snprintf (err, size, "--command is required with --once (or --type 1, or --raw-body)");
        return -1;
    }
    if (check_number ("permissions", config->permissions, &ignored, err, size) != 0 ||
        check_number ("interaction-id", config->interaction_id, id, err, size) != 0 ||
        check_number ("timestamp", config->timestamp, &ignored, err, size) != 0)
        return -1;
    for (size_t i = 0; i < config->option_count; i++)
        if (sim_option_parse (config->option_specs[i], &options[i], err, size) != 0)
            return -1;
    return 0;
}

static char *
build_body (const sim_once_config_t *config, const sim_option_t *options, uint64_t id)
{
    if (config->raw_body)
        return strdup (config->raw_body);
    char token[SIM_TOKEN_SIZE];
    sim_token_new (token);
    uint64_t guild = config->guild_id;
    sim_interaction_t interaction = {
        .type = (int) config->type,
        .id = id,
        .application_id = APPLICATION_ID,
        .token = token,
        .guild_id = guild,
        .channel_id = FIRST_CHANNEL + (guild >= FIRST_GUILD ? (guild - FIRST_GUILD) % 1000 : 0),
        .user_id = config->user_id,
        .permissions = is_set (config->permissions) ? config->permissions : "0",
        .command = config->command,
        .options = options,
        .option_count = config->option_count,
        .bot_user_id = config->bot_user_id,
    };
    return sim_interaction_json (&interaction);
}

//  The body as JSON if it is JSON, else as a string (bytes that are not
//  valid UTF-8 become '?', since a JSON string cannot hold them).
static json_t *
body_json (const char *body, size_t len)
{
    json_t *value = json_loadb (body, len, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_stringn (body, len);
    if (value)
        return value;
    char *ascii = malloc (len + 1);
    if (!ascii)
        return NULL;
    for (size_t i = 0; i < len; i++)
        ascii[i] = (unsigned char) body[i] < 0x80 && body[i] != '\0' ? body[i] : '?';
    value = json_stringn (ascii, len);
    free (ascii);
    return value;
}

static void
on_response (const sim_response_t *response, void *arg)
{
    outcome_t *outcome = arg;
    json_t *report;
    if (response->curl_code == 0)
        report = json_pack ("{s:i, s:o}", "status", (int) response->status, "body",
                            body_json (response->body, response->body_len));
    else
        report = json_pack ("{s:i, s:s}", "status", 0, "error", response->error);
    if (report) {
        json_dumpf (report, stdout, JSON_COMPACT);
        json_decref (report);
    }
    fputc ('\n', stdout);
    fflush (stdout);
    if (response->curl_code != 0)
        fprintf (stderr, "cordbank-discord-sim: no response: %s\n", response->error);
    outcome->rc = response->curl_code == 0 && report ? 0 : 1;
    outcome->done = true;
}

//  Signs and posts body (taking it), then waits for the one response.
static int
send_and_wait (const sim_once_config_t *config, const sim_signer_t *signer, char **body_p)
{
    sim_transport_t *transport = sim_transport_new (config->url, 1, config->timeout_ms);
    if (!transport) {
        free (*body_p);
        *body_p = NULL;
        fprintf (stderr, "cordbank-discord-sim: cannot start libcurl\n");
        return 1;
    }
    size_t len = strlen (*body_p);
    int flags =
        (config->bad_signature ? SIM_SIGN_CORRUPT : 0) | (config->no_signature ? SIM_SIGN_OMIT : 0);
    sim_headers_t headers;
    sim_signer_headers (signer, *body_p, len, is_set (config->timestamp) ? config->timestamp : NULL,
                        flags, &headers);
    const char *lines[4];
    for (size_t i = 0; i < headers.count; i++)
        lines[i] = headers.lines[i];
    outcome_t outcome = {false, 1};
    int rc =
        sim_transport_post (transport, body_p, len, lines, headers.count, on_response, &outcome);
    while (rc == 0 && !outcome.done)
        rc = sim_transport_wait (transport, cb_mono_ns () + SIM_NS_PER_S);
    sim_transport_destroy (&transport);
    return rc == 0 ? outcome.rc : 1;
}

int
sim_once_run (const sim_once_config_t *config, const sim_signer_t *signer)
{
    assert (config && signer);
    sim_option_t *options = calloc (config->option_count + 1, sizeof *options);
    uint64_t id = 0;
    char err[256];
    if (!options)
        return 1;
    if (check_config (config, options, &id, err, sizeof err) != 0) {
        fprintf (stderr, "cordbank-discord-sim: %s\n", err);
        free (options);
        return 2;
    }
    if (!is_set (config->interaction_id)) {
        sim_snowflake_t ids;
        sim_snowflake_init (&ids);
        id = sim_snowflake_next (&ids);
    }
    char *body = build_body (config, options, id);
    free (options);
    if (!body)
        return 1;
    return send_and_wait (config, signer, &body);
}
