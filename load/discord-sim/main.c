/*  cordbank-discord-sim — Discord's side, for local runs and tests.
 *
 *  Three modes. Load and once sign interactions with an Ed25519 key (the
 *  brief's dev key unless --seed says otherwise) and POST them to the
 *  gateway's HTTP endpoint: many, at a fixed rate, checking every answer
 *  (load.c), or exactly one (once.c). --serve is a fake Discord that a bot
 *  connects to: REST, the Gateway WebSocket and a control API (server.c).
 *  This file only wires configuration to those modes.
 *
 *  --option and --fault may be repeated, which the common config table
 *  cannot express, so they are taken out of argv before the table is
 *  parsed (the table keeps entries for --help and the environment).
 */
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/load.h"
#include "load/discord-sim/once.h"
#include "load/discord-sim/selftest.h"
#include "load/discord-sim/server.h"
#include "load/discord-sim/signer.h"
#include "load/discord-sim/transport.h"
#include "common/config.h"
#include "common/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "cordbank-discord-sim"
#define SUMMARY                                                                                    \
    "Discord stand-in: signed HTTP interactions (load, --once), or a fake Discord (--serve)"

typedef struct {
    char *seed;
    bool print_public_key;
    bool self_test;
    char *gateway_url;
    int64_t concurrency, timeout_ms;
    int64_t users, guilds, duration;
    char *rate, *mix;
    bool once, bad_signature, no_signature;
    char *command, *option, *interaction_id, *permissions, *raw_body, *timestamp;
    int64_t guild, user, bot_user, type;
    bool serve;
    int64_t listen_port, shards, max_concurrency, global_limit, heartbeat_ms;
    int64_t disallowed_intents, callback_window_ms, invalid_limit, identify_interval_ms;
    char *port_file, *token, *application_id, *fault;
} config_t;

//  argv without its --option entries, which are collected on their own.
typedef struct {
    int argc;
    char **argv;
    const char **options;
    size_t option_count;
    const char **faults;
    size_t fault_count;
    bool raw_body_given; // tells --raw-body "" from no --raw-body
    bool duration_given; // --serve runs until a signal unless told
} args_t;

static int
split_args (int argc, char **argv, args_t *out)
{
    out->argv = calloc ((size_t) argc + 1, sizeof *out->argv);
    out->options = calloc ((size_t) argc + 1, sizeof *out->options);
    out->faults = calloc ((size_t) argc + 1, sizeof *out->faults);
    if (!out->argv || !out->options || !out->faults)
        return -1;
    out->raw_body_given = getenv ("CORDBANK_RAW_BODY") != NULL;
    out->duration_given = getenv ("CORDBANK_DURATION") != NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp (argv[i], "--option") == 0 && i + 1 < argc)
            out->options[out->option_count++] = argv[++i];
        else if (strncmp (argv[i], "--option=", 9) == 0)
            out->options[out->option_count++] = argv[i] + 9;
        else if (strcmp (argv[i], "--fault") == 0 && i + 1 < argc)
            out->faults[out->fault_count++] = argv[++i];
        else if (strncmp (argv[i], "--fault=", 8) == 0)
            out->faults[out->fault_count++] = argv[i] + 8;
        else
            out->argv[out->argc++] = argv[i];
        if (strcmp (argv[i], "--raw-body") == 0 || strncmp (argv[i], "--raw-body=", 11) == 0)
            out->raw_body_given = true;
        if (strcmp (argv[i], "--duration") == 0 || strncmp (argv[i], "--duration=", 11) == 0)
            out->duration_given = true;
    }
    return 0;
}

//  --rate: a positive number of sends per second, at most a million.
static int
parse_rate (const char *text, double *out)
{
    char *end = NULL;
    double rate = strtod (text, &end);
    if (end == text || *end != '\0' || !isfinite (rate) || rate <= 0 || rate > 1e6) {
        fprintf (stderr, PROGRAM ": invalid --rate=\"%s\": want a number in (0, 1000000]\n", text);
        return -1;
    }
    *out = rate;
    return 0;
}

static int
run_load (const config_t *cfg, const sim_signer_t *signer)
{
    sim_load_config_t load = {
        .url = cfg->gateway_url,
        .concurrency = (size_t) cfg->concurrency,
        .timeout_ms = (long) cfg->timeout_ms,
        .users = cfg->users,
        .guilds = cfg->guilds,
        .duration_s = cfg->duration,
        .mix = cfg->mix,
    };
    if (parse_rate (cfg->rate, &load.rate) != 0)
        return 2;
    return sim_load_run (&load, signer);
}

static int
run_once (const config_t *cfg, const args_t *args, const sim_signer_t *signer)
{
    //  CORDBANK_OPTION stands in for a single --option when none is given.
    const char *from_env[] = {cfg->option};
    bool use_env = args->option_count == 0 && *cfg->option;
    sim_once_config_t once = {
        .url = cfg->gateway_url,
        .timeout_ms = (long) cfg->timeout_ms,
        .type = cfg->type,
        .command = cfg->command,
        .guild_id = (uint64_t) cfg->guild,
        .user_id = (uint64_t) cfg->user,
        .bot_user_id = (uint64_t) cfg->bot_user,
        .option_specs = use_env ? from_env : args->options,
        .option_count = use_env ? 1 : args->option_count,
        .interaction_id = cfg->interaction_id,
        .permissions = cfg->permissions,
        .raw_body = args->raw_body_given ? cfg->raw_body : NULL,
        .timestamp = cfg->timestamp,
        .bad_signature = cfg->bad_signature,
        .no_signature = cfg->no_signature,
    };
    return sim_once_run (&once, signer);
}

static int
run_serve (const config_t *cfg, const args_t *args)
{
    //  CORDBANK_FAULT stands in for a single --fault when none is given.
    const char *from_env[] = {cfg->fault};
    bool use_env = args->fault_count == 0 && *cfg->fault;
    sim_server_config_t serve = {
        .listen_port = cfg->listen_port,
        .port_file = cfg->port_file,
        .token = cfg->token,
        .application_id = cfg->application_id,
        .shards = cfg->shards,
        .max_concurrency = cfg->max_concurrency,
        .global_limit = cfg->global_limit,
        .heartbeat_ms = cfg->heartbeat_ms,
        .disallowed_intents = cfg->disallowed_intents,
        .guilds = cfg->guilds,
        .users = cfg->users,
        .duration_s = args->duration_given ? cfg->duration : 0,
        .callback_window_ms = cfg->callback_window_ms,
        .invalid_limit = cfg->invalid_limit,
        .identify_interval_ms = cfg->identify_interval_ms,
        .faults = use_env ? from_env : args->faults,
        .fault_count = use_env ? 1 : args->fault_count,
    };
    uint64_t app;
    if (sim_parse_u64 (cfg->application_id, &app) != 0 || app == 0) {
        fprintf (stderr, PROGRAM ": invalid --application-id: want a snowflake\n");
        return 2;
    }
    if (!*cfg->token || strchr (cfg->token, ' ')) {
        fprintf (stderr, PROGRAM ": invalid --token: want a non-empty token without spaces\n");
        return 2;
    }
    cb_log_init ("discord-sim", "serve");
    return sim_server_run (&serve);
}

static int
run (const config_t *cfg, const args_t *args)
{
    if (cfg->self_test)
        return sim_selftest_run ();
    if (cfg->serve)
        return run_serve (cfg, args);
    sim_signer_t *signer = sim_signer_new (cfg->seed);
    if (!signer) {
        fprintf (stderr, PROGRAM ": invalid --seed: want 64 hex characters (an Ed25519 seed)\n");
        return 2;
    }
    char err[256];
    int rc;
    if (cfg->print_public_key) {
        char public_hex[SIM_PUBLIC_KEY_HEX_LEN + 1];
        sim_signer_public_hex (signer, public_hex);
        printf ("%s\n", public_hex);
        rc = 0;
    } else if (sim_transport_check_url (cfg->gateway_url, err, sizeof err) != 0) {
        fprintf (stderr, PROGRAM ": %s\n", err);
        rc = 2;
    } else
        rc = cfg->once ? run_once (cfg, args, signer) : run_load (cfg, signer);
    sim_signer_destroy (&signer);
    return rc;
}

//  After --help's option list: what the options cannot say about --serve.
static const char SERVE_HELP[] =
    "\n--serve: a fake Discord on 127.0.0.1 (load/README.md has the whole contract)\n"
    "  REST      /api/v10: GET gateway/bot, POST interactions/{id}/{token}/callback,\n"
    "            PATCH|GET|DELETE webhooks/{app}/{token}/messages/@original, POST "
    "webhooks/{app}/{token},\n"
    "            GET|PUT applications/{app}[/guilds/{g}]/commands (validated), GET users/@me,\n"
    "            POST channels/{c}/messages; X-RateLimit-* headers, bucket and global 429s\n"
    "  Gateway   ws://127.0.0.1:PORT/?v=10&encoding=json[&compress=zlib-stream]; resume at "
    "/resume\n"
    "  Control   (no auth, loopback test tool only)\n"
    "            GET  /_sim/stats\n"
    "            POST /_sim/interactions "
    "{\"count\",\"rate\",\"command\",\"options\",\"guilds\",\"users\",\"permissions\"}\n"
    "            POST /_sim/fault {\"fault\": NAME, \"shard\": -1, \"seconds\": S, \"scope\", "
    "\"delay_ms\", \"code\"}\n"
    "  Faults    drop, reconnect, invalid_session, invalid_session_resumable, close (code),\n"
    "            heartbeat_request, oversized (a 33 MiB dispatch), stop_acks (seconds),\n"
    "            rate_limit_storm (seconds, scope),\n"
    "            slow_rest (seconds, delay_ms), clear; --fault NAME,key=value,...,after=S at "
    "start\n";

static bool
wants_help (int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
            return true;
    return false;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    args_t args = {0};
    cb_option_t opts[] = {
        {"seed", CB_OPT_STRING, SIM_DEV_SEED, "Ed25519 private seed, 64 hex", &cfg.seed, 0, 0, true,
         NULL},
        {"print-public-key", CB_OPT_BOOL, "false", "print the public key (hex) and exit",
         &cfg.print_public_key, 0, 0, false, NULL},
        {"gateway-url", CB_OPT_STRING, "http://127.0.0.1:7100/interactions",
         "the gateway's interactions endpoint", &cfg.gateway_url, 0, 0, false, NULL},
        {"concurrency", CB_OPT_INT, "64", "requests in flight at most", &cfg.concurrency, 1, 10000,
         false, NULL},
        {"timeout-ms", CB_OPT_INT, "5000", "a request without answer by then is an error",
         &cfg.timeout_ms, 1, 600000, false, NULL},
        {"users", CB_OPT_INT, "100", "load/serve: simulated members", &cfg.users, 1, 10000000,
         false, NULL},
        {"guilds", CB_OPT_INT, "10", "load/serve: guilds they are spread over", &cfg.guilds, 1,
         1000000, false, NULL},
        {"rate", CB_OPT_STRING, "200", "load: sends per second (open model)", &cfg.rate, 0, 0,
         false, NULL},
        {"duration", CB_OPT_INT, "10", "load: seconds; 0 = until a signal (serve: only if given)",
         &cfg.duration, 0, 31536000, false, NULL},
        {"mix", CB_OPT_STRING, "balance=60,pay=25,daily=15", "load: command weights", &cfg.mix, 0,
         0, false, NULL},
        {"once", CB_OPT_BOOL, "false", "send one interaction, print the answer", &cfg.once, 0, 0,
         false, NULL},
        {"command", CB_OPT_STRING, "", "once: command name", &cfg.command, 0, 0, false, NULL},
        {"guild", CB_OPT_INT, "7001", "once: guild id; 0 = a DM", &cfg.guild, 0, INT64_MAX, false,
         NULL},
        {"user", CB_OPT_INT, "5001", "once: invoking user id", &cfg.user, 1, INT64_MAX, false,
         NULL},
        {"option", CB_OPT_STRING, "", "once: name=value, repeatable", &cfg.option, 0, 0, false,
         NULL},
        {"bot-user", CB_OPT_INT, "0", "once: resolved user id that is a bot", &cfg.bot_user, 0,
         INT64_MAX, false, NULL},
        {"interaction-id", CB_OPT_STRING, "", "once: interaction id; empty = fresh",
         &cfg.interaction_id, 0, 0, false, NULL},
        {"permissions", CB_OPT_STRING, "0", "once: member permissions (decimal bits)",
         &cfg.permissions, 0, 0, false, NULL},
        {"type", CB_OPT_INT, "2", "once: interaction type; 1 = PING", &cfg.type, 1, 255, false,
         NULL},
        {"raw-body", CB_OPT_STRING, "", "once: send exactly this body (still signed)",
         &cfg.raw_body, 0, 0, false, NULL},
        {"bad-signature", CB_OPT_BOOL, "false", "once: flip a bit of the signature",
         &cfg.bad_signature, 0, 0, false, NULL},
        {"no-signature", CB_OPT_BOOL, "false", "once: send no signature headers", &cfg.no_signature,
         0, 0, false, NULL},
        {"timestamp", CB_OPT_STRING, "", "once: X-Signature-Timestamp; empty = now", &cfg.timestamp,
         0, 0, false, NULL},
        {"self-test", CB_OPT_BOOL, "false", "run the built-in tests and exit", &cfg.self_test, 0, 0,
         false, NULL},
        {"serve", CB_OPT_BOOL, "false", "be a fake Discord (REST, Gateway, /_sim control API)",
         &cfg.serve, 0, 0, false, NULL},
        {"listen-port", CB_OPT_INT, "0", "serve: port on 127.0.0.1; 0 = any free port",
         &cfg.listen_port, 0, 65535, false, NULL},
        {"port-file", CB_OPT_STRING, "", "serve: write the bound port to this file", &cfg.port_file,
         0, 0, false, NULL},
        {"token", CB_OPT_STRING, "cordbank-dev-token",
         "serve: the bot token to accept (dev default: cordbank-dev-token)", &cfg.token, 0, 0, true,
         NULL},
        {"application-id", CB_OPT_STRING, "1100000000000000001",
         "serve: application (and bot user) id", &cfg.application_id, 0, 0, false, NULL},
        {"shards", CB_OPT_INT, "1", "serve: shards /gateway/bot recommends (and requires at least)",
         &cfg.shards, 1, 1024, false, NULL},
        {"max-concurrency", CB_OPT_INT, "1", "serve: identify buckets (one IDENTIFY per 5 s each)",
         &cfg.max_concurrency, 1, 1024, false, NULL},
        {"global-limit", CB_OPT_INT, "50", "serve: REST requests per second (global limit)",
         &cfg.global_limit, 1, 100000, false, NULL},
        {"heartbeat-ms", CB_OPT_INT, "41250", "serve: HELLO heartbeat_interval", &cfg.heartbeat_ms,
         100, 600000, false, NULL},
        {"disallowed-intents", CB_OPT_INT, "0", "serve: intent bits not enabled (IDENTIFY -> 4014)",
         &cfg.disallowed_intents, 0, INT64_MAX, false, NULL},
        {"callback-window-ms", CB_OPT_INT, "3000", "serve: a later interaction callback is 10062",
         &cfg.callback_window_ms, 1, 3600000, false, NULL},
        {"invalid-limit", CB_OPT_INT, "10000", "serve: invalid requests per 10 min before blocking",
         &cfg.invalid_limit, 1, INT64_MAX, false, NULL},
        {"identify-interval-ms", CB_OPT_INT, "5000", "serve: IDENTIFY window per bucket",
         &cfg.identify_interval_ms, 0, 600000, false, NULL},
        {"fault", CB_OPT_STRING, "",
         "serve: NAME[,shard=,seconds=,scope=,delay_ms=,code=,after=], repeatable", &cfg.fault, 0,
         0, false, NULL},
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = split_args (argc, argv, &args) == 0
                 ? cb_config_main (PROGRAM, SUMMARY, opts, count, args.argc, args.argv)
                 : 1;
    if (rc < 0) {
        rc = run (&cfg, &args);
        cb_config_free (opts, count);
    } else if (rc == 0 && wants_help (argc, argv))
        fputs (SERVE_HELP, stdout);
    free (args.argv);
    free (args.options);
    free (args.faults);
    return rc;
}
