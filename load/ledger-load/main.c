/*  cordbank-ledger-load — drives balance instances directly with pays and
 *  checks the ledger's promises under load: every acknowledged transfer has
 *  one transfer id, and every repeat of a key (sent to another instance)
 *  gets the first outcome. Two more modes read balances through cache
 *  instances (cache.h): cache-check holds the cache to "never staler than
 *  an acknowledged write", cache-read measures reads.
 *
 *  This file turns options into an ll_config_t (run.h does the work) or an
 *  ll_cache_config_t (cache.h). The output files are opened before the
 *  run, so that a bad path is refused up front (exit 2) instead of after
 *  minutes of load.
 */
#include "load/ledger-load/cache.h"
#include "load/ledger-load/keys.h"
#include "load/ledger-load/reads.h"
#include "load/ledger-load/report.h"
#include "load/ledger-load/run.h"
#include "load/ledger-load/zipf.h"
#include "load/discord-sim/histogram.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/envelope.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRAM "cordbank-ledger-load"
#define SUMMARY                                                                                    \
    "pays against balance instances directly, checking every answer; or balance reads through "    \
    "cache instances (--mode)"
#define PREFIX_MAX   64
#define ENDPOINT_MAX 64

typedef struct {
    char *mode, *endpoints, *cache_endpoints;
    int64_t concurrency, duration_s, accounts, guild, deadline_ms, max_attempts, seed_balance;
    int64_t read_concurrency, users, guilds, first_user, requests, seed_users;
    char *repeat_ratio, *key_prefix, *acked_file, *json, *zipf;
    bool quiet, self_test;
    cb_curve_config_t curve;
} options_t;

static int
s_self_test (void)
{
    int rc = ll_keys_test () == 0 && ll_report_test () == 0 && sim_hist_test () == 0 &&
                     ll_zipf_test () == 0 && ll_reads_test () == 0
                 ? 0
                 : 1;
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

//  --zipf: an exponent in [0, 10]; 0 is uniform.
static int
s_parse_zipf (const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double s = strtod (text, &end);
    if (end == text || *end != '\0' || errno || !isfinite (s) || s < 0 || s > 10) {
        fprintf (stderr,
                 PROGRAM ": invalid --zipf=\"%s\" (CORDBANK_ZIPF): want an exponent from 0 "
                         "(uniform) to 10\n",
                 text);
        return -1;
    }
    *out = s;
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

//  Splits the endpoint list of --flag; each one becomes one instance. -1
//  when empty.
static int
s_split_endpoints (char *text, char **out, size_t *count, const char *flag, const char *env)
{
    *count = 0;
    for (char *save = NULL, *item = strtok_r (text, ",", &save); item;
         item = strtok_r (NULL, ",", &save))
        if (*item && *count < ENDPOINT_MAX)
            out[(*count)++] = item;
    if (*count == 0) {
        fprintf (stderr, PROGRAM ": invalid --%s=\"\" (%s): want at least one endpoint\n", flag,
                 env);
        return -1;
    }
    return 0;
}

//  Flags that belong to another mode are refused rather than ignored: a
//  test that sets one means something by it. "Set" is "not the default".
static int
s_flags_fit (const options_t *o)
{
    enum { PAY = 1, CHECK = 2, READ = 4 };
    const struct {
        const char *flag;
        bool set;
        unsigned modes;
    } uses[] = {
        {"--acked-file", *o->acked_file != '\0', PAY},
        {"--repeat-ratio", strcmp (o->repeat_ratio, "0.05") != 0, PAY},
        {"--max-attempts", o->max_attempts != 4, PAY},
        {"--cache-endpoints", strcmp (o->cache_endpoints, "tcp://127.0.0.1:7400") != 0,
         CHECK | READ},
        {"--read-concurrency", o->read_concurrency != 64, CHECK},
        {"--accounts", o->accounts != 100, PAY | CHECK},
        {"--users", o->users != 100000, READ},
        {"--guilds", o->guilds != 1, READ},
        {"--first-user", o->first_user != 1, READ},
        {"--zipf", strcmp (o->zipf, "0") != 0, READ},
        {"--requests", o->requests != 0, READ},
        {"--seed-users", o->seed_users != 0, READ},
    };
    unsigned mode = strcmp (o->mode, "pay") == 0           ? PAY
                    : strcmp (o->mode, "cache-check") == 0 ? CHECK
                                                           : READ;
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
        if (uses[i].set && !(uses[i].modes & mode)) {
            fprintf (stderr, PROGRAM ": %s does not apply to --mode %s\n", uses[i].flag, o->mode);
            return -1;
        }
    return 0;
}

//  cache-check: pays among --accounts members of --guild, all of them
//  seeded, reads of them at --read-concurrency. cache-read: reads only, at
//  --concurrency, over --users members of --guilds guilds.
static int
s_run_cache (const options_t *o, const char *prefix, const cb_curve_t *curve)
{
    bool check = strcmp (o->mode, "cache-check") == 0;
    char *caches[ENDPOINT_MAX];
    char *list = strdup (o->cache_endpoints);
    ll_cache_config_t config = {.mode = o->mode,
                                .balance_endpoints = o->endpoints,
                                .cache_endpoints = caches,
                                .cache_text = o->cache_endpoints,
                                .duration_s = o->duration_s,
                                .guild_id = (uint64_t) o->guild,
                                .seed_balance = o->seed_balance,
                                .deadline_ms = o->deadline_ms,
                                .key_prefix = prefix,
                                .quiet = o->quiet,
                                .curve = curve};
    if (check) {
        config.pay_concurrency = o->concurrency;
        config.read_concurrency = o->read_concurrency;
        config.users = config.seed_users = o->accounts;
        config.guilds = config.first_user = 1;
    } else {
        config.read_concurrency = o->concurrency;
        config.users = o->users;
        config.guilds = o->guilds;
        config.first_user = o->first_user;
        config.requests = o->requests;
        config.seed_users = o->seed_users;
    }
    bool failed = !list ||
                  s_split_endpoints (list, caches, &config.cache_count, "cache-endpoints",
                                     "CORDBANK_CACHE_ENDPOINTS") != 0 ||
                  s_parse_zipf (o->zipf, &config.zipf) != 0;
    if (!failed && config.seed_users > config.users) {
        fprintf (stderr, PROGRAM ": invalid --seed-users=%" PRId64 ": more than --users\n",
                 config.seed_users);
        failed = true;
    }
    if (!failed)
        config.json_file = s_open_output (o->json, "json", &failed);
    int rc = failed ? 2 : ll_cache_run (&config);
    if (config.json_file && fclose (config.json_file) != 0)
        rc = rc ? rc : 1;
    free (list);
    return rc;
}

static int
s_run (const options_t *o, const cb_curve_t *curve)
{
    if (o->self_test)
        return s_self_test ();
    if (s_flags_fit (o) != 0)
        return 2;
    char prefix[PREFIX_MAX + 1], *endpoints[ENDPOINT_MAX];
    if (strcmp (o->mode, "pay") != 0) {
        if (s_key_prefix (o->key_prefix, prefix, sizeof prefix) != 0)
            return 2;
        cb_identity_set ("ledger-load", prefix);
        cb_log_init ("ledger-load", prefix);
        cb_log_set_level (CB_LOG_WARN);
        return s_run_cache (o, prefix, curve);
    }
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
                          .quiet = o->quiet,
                          .curve = curve};
    bool failed = !list ||
                  s_split_endpoints (list, endpoints, &config.endpoint_count, "balance-endpoints",
                                     "CORDBANK_BALANCE_ENDPOINTS") != 0 ||
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
        {"mode", CB_OPT_STRING, "pay",
         "pay: pays against balance; cache-check: pays with write-through, reads through the "
         "caches checked against them; cache-read: reads through the caches",
         &o.mode, 0, 0, false, "pay|cache-check|cache-read"},
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
        {"cache-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7400",
         "cache modes: cache instances, comma-separated; the first gets the write-throughs",
         &o.cache_endpoints, 0, 0, false, NULL},
        {"read-concurrency", CB_OPT_INT, "64", "cache-check: reads in flight", &o.read_concurrency,
         1, 100000, false, NULL},
        {"users", CB_OPT_INT, "100000", "cache-read: members read (member i is user first-user+i)",
         &o.users, 1, LL_ZIPF_MAX_N, false, NULL},
        {"guilds", CB_OPT_INT, "1", "cache-read: member i is in guild --guild + i % guilds",
         &o.guilds, 1, 1000000, false, NULL},
        {"first-user", CB_OPT_INT, "1", "cache-read: user id of member 0", &o.first_user, 1,
         INT64_MAX / 2, false, NULL},
        {"zipf", CB_OPT_STRING, "0",
         "cache-read: popularity exponent (member i read in proportion to (i+1)^-s); 0 = uniform",
         &o.zipf, 0, 0, false, NULL},
        {"requests", CB_OPT_INT, "0", "cache-read: stop after this many reads (0: by duration)",
         &o.requests, 0, INT64_MAX, false, NULL},
        {"seed-users", CB_OPT_INT, "0",
         "cache-read: first grant --seed-balance to members 0..N-1 (the most popular)",
         &o.seed_users, 0, LL_ZIPF_MAX_N, false, NULL},
        {"self-test", CB_OPT_BOOL, "false", "run the built-in tests and exit", &o.self_test, 0, 0,
         false, NULL},
        CB_CURVE_CLIENT_OPTIONS (o.curve),
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = cb_config_main (PROGRAM, SUMMARY, opts, count, argc, argv);
    if (rc < 0) {
        char err[512];
        cb_curve_t *curve =
            o.curve.enabled ? cb_curve_new (&o.curve, false, err, sizeof err) : NULL;
        if (o.curve.enabled && !curve) {
            fprintf (stderr, PROGRAM ": %s\n", err);
            rc = 2;
        } else
            rc = sodium_init () < 0 ? 1 : s_run (&o, curve);
        cb_curve_destroy (&curve);
        cb_config_free (opts, count);
    }
    return rc;
}
