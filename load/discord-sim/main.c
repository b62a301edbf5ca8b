/*  cordbank-discord-sim — Discord's side of HTTP interactions, for local
 *  runs and tests.
 *
 *  Signs interactions with an Ed25519 key (the brief's dev key unless
 *  --seed says otherwise) and POSTs them to the gateway: either many, at a
 *  fixed rate, checking every answer (load.c), or exactly one (once.c).
 *  This file only wires configuration to those modes.
 *
 *  --option may be repeated, which the common config table cannot express,
 *  so every --option is taken out of argv before the table is parsed (the
 *  table keeps an "option" entry for --help and for CORDBANK_OPTION).
 */
#include "load/discord-sim/load.h"
#include "load/discord-sim/once.h"
#include "load/discord-sim/selftest.h"
#include "load/discord-sim/signer.h"
#include "load/discord-sim/transport.h"
#include "common/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "cordbank-discord-sim"
#define SUMMARY "Discord stand-in: signed HTTP interactions, as load or one at a time"

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
} config_t;

//  argv without its --option entries, which are collected on their own.
typedef struct {
    int argc;
    char **argv;
    const char **options;
    size_t option_count;
    bool raw_body_given; // tells --raw-body "" from no --raw-body
} args_t;

static int
split_args (int argc, char **argv, args_t *out)
{
    out->argv = calloc ((size_t) argc + 1, sizeof *out->argv);
    out->options = calloc ((size_t) argc + 1, sizeof *out->options);
    if (!out->argv || !out->options)
        return -1;
    out->raw_body_given = getenv ("CORDBANK_RAW_BODY") != NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp (argv[i], "--option") == 0 && i + 1 < argc)
            out->options[out->option_count++] = argv[++i];
        else if (strncmp (argv[i], "--option=", 9) == 0)
            out->options[out->option_count++] = argv[i] + 9;
        else
            out->argv[out->argc++] = argv[i];
        if (strcmp (argv[i], "--raw-body") == 0 || strncmp (argv[i], "--raw-body=", 11) == 0)
            out->raw_body_given = true;
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
run (const config_t *cfg, const args_t *args)
{
    if (cfg->self_test)
        return sim_selftest_run ();
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
        {"users", CB_OPT_INT, "100", "load: simulated members", &cfg.users, 1, 10000000, false,
         NULL},
        {"guilds", CB_OPT_INT, "10", "load: guilds they are spread over", &cfg.guilds, 1, 1000000,
         false, NULL},
        {"rate", CB_OPT_STRING, "200", "load: sends per second (open model)", &cfg.rate, 0, 0,
         false, NULL},
        {"duration", CB_OPT_INT, "10", "load: seconds; 0 = until SIGINT/SIGTERM", &cfg.duration, 0,
         31536000, false, NULL},
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
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = split_args (argc, argv, &args) == 0
                 ? cb_config_main (PROGRAM, SUMMARY, opts, count, args.argc, args.argv)
                 : 1;
    if (rc < 0) {
        rc = run (&cfg, &args);
        cb_config_free (opts, count);
    }
    free (args.argv);
    free (args.options);
    return rc;
}
