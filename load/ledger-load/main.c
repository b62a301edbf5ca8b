/*  cordbank-ledger-load — drives balance instances directly with pays and
 *  checks the ledger's promises under load: every acknowledged transfer has
 *  one transfer id, and every repeat of a key (sent to another instance)
 *  gets the first outcome.
 *
 *  This file turns options into an ll_config_t (run.h does the work). The
 *  output files are opened before the run, so that a bad path is refused
 *  up front (exit 2) instead of after minutes of load.
 */
#include "load/ledger-load/keys.h"
#include "load/ledger-load/report.h"
#include "load/ledger-load/run.h"
#include "load/discord-sim/histogram.h"
#include "common/config.h"
#include "common/envelope.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRAM      "cordbank-ledger-load"
#define SUMMARY      "pays against balance instances directly, checking every answer"
#define PREFIX_MAX   64
#define ENDPOINT_MAX 64

typedef struct {
    char *endpoints;
    int64_t concurrency, duration_s, accounts, guild, deadline_ms, max_attempts, seed_balance;
    char *repeat_ratio, *key_prefix, *acked_file, *json;
    bool quiet, self_test;
} options_t;

static int
s_self_test (void)
{
    int rc = ll_keys_test () == 0 && ll_report_test () == 0 && sim_hist_test () == 0 ? 0 : 1;
    printf ("self-test: %s\n", rc == 0 ? "ok" : "FAILED");
    return rc;
}

//  --repeat-ratio: a fraction in [0, 1].
static int
s_parse_ratio (const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double ratio = strtod (text, &end);
    if (end == text || *end != '\0' || errno || !isfinite (ratio) || ratio < 0 || ratio > 1) {
        fprintf (stderr,
                 PROGRAM ": invalid --repeat-ratio=\"%s\" (CORDBANK_REPEAT_RATIO): want a "
                         "number from 0 to 1\n",
                 text);
        return -1;
    }
    *out = ratio;
    return 0;
}

//  --key-prefix: what keys are named by, so that a test can find them in
//  SQL; empty means "ll-" and 8 random hex characters. Any key the balance
//  service takes (printable ASCII, no space) may be a prefix, so that a test
//  can check that keys with quotes, backslashes and braces are stored as
//  sent. No space: the acked file separates its fields with spaces.
static int
s_key_prefix (const char *given, char *out, size_t outlen)
{
    if (!*given) {
        unsigned char bytes[4];
        char hex[9];
        randombytes_buf (bytes, sizeof bytes);
        sodium_bin2hex (hex, sizeof hex, bytes, sizeof bytes);
        snprintf (out, outlen, "ll-%s", hex);
        return 0;
    }
    size_t len = strlen (given);
    bool ok = len <= PREFIX_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = given[i] >= 0x21 && given[i] <= 0x7e;
    if (!ok) {
        fprintf (stderr,
                 PROGRAM ": invalid --key-prefix (CORDBANK_KEY_PREFIX): want at most %d "
                         "printable ASCII characters, no spaces\n",
                 PREFIX_MAX);
        return -1;
    }
    snprintf (out, outlen, "%s", given);
    return 0;
}

//  Opens an output file now; NULL for "" (none). *failed on error.
static FILE *
s_open_output (const char *path, const char *flag, bool *failed)
{
    if (!*path)
        return NULL;
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, PROGRAM ": invalid --%s=\"%s\": %s\n", flag, path, strerror (errno));
        *failed = true;
    }
    return file;
}

//  Splits the endpoint list; each one becomes one instance. -1 when empty.
static int
s_split_endpoints (char *text, char **out, size_t *count)
{
    *count = 0;
    for (char *save = NULL, *item = strtok_r (text, ",", &save); item;
         item = strtok_r (NULL, ",", &save))
        if (*item && *count < ENDPOINT_MAX)
            out[(*count)++] = item;
    if (*count == 0) {
        fprintf (stderr, PROGRAM ": invalid --balance-endpoints=\"\" (CORDBANK_BALANCE_ENDPOINTS): "
                                 "want at least one endpoint\n");
        return -1;
    }
    return 0;
}

static int
s_run (const options_t *o)
{
    if (o->self_test)
        return s_self_test ();
    char prefix[PREFIX_MAX + 1], *endpoints[ENDPOINT_MAX];
    char *list = strdup (o->endpoints);
    ll_config_t config = {.endpoints = endpoints,
                          .endpoints_text = o->endpoints,
                          .concurrency = o->concurrency,
                          .duration_s = o->duration_s,
                          .accounts = o->accounts,
                          .guild_id = (uint64_t) o->guild,
                          .deadline_ms = o->deadline_ms,
                          .max_attempts = o->max_attempts,
                          .seed_balance = o->seed_balance,
                          .key_prefix = prefix,
                          .quiet = o->quiet};
    bool failed = !list || s_split_endpoints (list, endpoints, &config.endpoint_count) != 0 ||
                  s_parse_ratio (o->repeat_ratio, &config.repeat_ratio) != 0 ||
                  s_key_prefix (o->key_prefix, prefix, sizeof prefix) != 0;
    if (!failed)
        config.acked_file = s_open_output (o->acked_file, "acked-file", &failed);
    if (!failed)
        config.json_file = s_open_output (o->json, "json", &failed);
    int rc = 2;
    if (!failed) {
        cb_identity_set ("ledger-load", prefix);
        cb_log_init ("ledger-load", prefix);
        cb_log_set_level (CB_LOG_WARN);
        rc = ll_run (&config);
    }
    if (config.acked_file && fclose (config.acked_file) != 0)
        rc = rc ? rc : 1;
    if (config.json_file && fclose (config.json_file) != 0)
        rc = rc ? rc : 1;
    free (list);
    return rc;
}

int
main (int argc, char **argv)
{
    options_t o = {0};
    cb_option_t opts[] = {
        {"balance-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7300",
         "balance instances, comma-separated (each one is an instance)", &o.endpoints, 0, 0, false,
         NULL},
        {"concurrency", CB_OPT_INT, "64", "requests in flight", &o.concurrency, 1, 100000, false,
         NULL},
        {"duration-s", CB_OPT_INT, "10", "seconds of load", &o.duration_s, 1, 86400, false, NULL},
        {"accounts", CB_OPT_INT, "100", "members paying each other (users 1..N)", &o.accounts, 2,
         10000000, false, NULL},
        {"guild", CB_OPT_INT, "424242", "guild id", &o.guild, 1, INT64_MAX, false, NULL},
        {"repeat-ratio", CB_OPT_STRING, "0.05",
         "share of requests that re-send an earlier key to another instance", &o.repeat_ratio, 0, 0,
         false, NULL},
        {"deadline-ms", CB_OPT_INT, "2000", "deadline of each attempt", &o.deadline_ms, 10, 600000,
         false, NULL},
        {"max-attempts", CB_OPT_INT, "4",
         "attempts per request (UNAVAILABLE or no answer: same key, next instance)",
         &o.max_attempts, 1, 100, false, NULL},
        {"seed-balance", CB_OPT_INT, "100", "coins granted to each account first (0 = none)",
         &o.seed_balance, 0, 1000000000000, false, NULL},
        {"key-prefix", CB_OPT_STRING, "", "idempotency keys are PREFIX-N (empty: ll-<random>)",
         &o.key_prefix, 0, 0, false, NULL},
        {"acked-file", CB_OPT_STRING, "",
         "write 'key transfer_id STATUS' per acknowledged key here", &o.acked_file, 0, 0, false,
         NULL},
        {"json", CB_OPT_STRING, "", "write the JSON summary here", &o.json, 0, 0, false, NULL},
        {"quiet", CB_OPT_BOOL, "false", "no per-second lines on stderr", &o.quiet, 0, 0, false,
         NULL},
        {"self-test", CB_OPT_BOOL, "false", "run the built-in tests and exit", &o.self_test, 0, 0,
         false, NULL},
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = cb_config_main (PROGRAM, SUMMARY, opts, count, argc, argv);
    if (rc < 0) {
        rc = sodium_init () < 0 ? 1 : s_run (&o);
        cb_config_free (opts, count);
    }
    return rc;
}
