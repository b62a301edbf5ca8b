/*  cordbank-load — the load generator of the benchmarks (load/bench.sh).
 *
 *  Drives a bot's HTTP interactions endpoint (cordbank's gateway, or the
 *  peer in load/peer) with signed interactions, the way Discord would,
 *  and checks every answer. The engine is the simulator's (load.c: one
 *  thread, libcurl multi, log-linear histograms); this file adds the
 *  workload vocabulary of the benchmarks: named mixes, the closed model,
 *  Zipf popularity, a ramp (stress) and a spike, and a per-second JSON
 *  timeline for the plots.
 */
#include "load/discord-sim/load.h"
#include "load/discord-sim/signer.h"
#include "load/discord-sim/transport.h"
#include "common/config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "cordbank-load"
#define SUMMARY "signed Discord interactions at a bot, open or closed model, checked and timed"

//  The named mixes (load/README.md). mixed is issue 8's: 70% balance,
//  10% pay, 10% daily/work, 10% leaderboard/history.
static const struct {
    const char *name;
    const char *weights;
} MIXES[] = {
    {"mixed", "balance=70,pay=10,daily=5,work=5,leaderboard=5,history=5"},
    {"balance-heavy", "balance=95,pay=3,daily=1,work=1"},
    {"pay-heavy", "pay=60,balance=30,daily=5,work=5"},
    {"balance", "balance=1"},
    {"pay", "pay=1"},
};

typedef struct {
    char *url, *seed, *model, *mix, *popularity, *timeline;
    char *rate, *ramp_to, *spike_factor;
    int64_t users, guilds, duration, think_ms, spike_at, spike_seconds;
    int64_t concurrency, timeout_ms;
} config_t;

//  A number in (0, max]; -1 with one line on stderr otherwise.
static int
parse_positive (const char *flag, const char *text, double max, double *out)
{
    char *end = NULL;
    double value = strtod (text, &end);
    if (end == text || *end != '\0' || !isfinite (value) || value <= 0 || value > max) {
        fprintf (stderr, PROGRAM ": invalid --%s=\"%s\": want a number in (0, %g]\n", flag, text,
                 max);
        return -1;
    }
    *out = value;
    return 0;
}

//  "uniform" -> 0, "zipf" -> 1.1, "zipf:S" -> S in (0, 10].
static int
parse_popularity (const char *text, double *zipf_s)
{
    *zipf_s = 0;
    if (strcmp (text, "uniform") == 0)
        return 0;
    if (strcmp (text, "zipf") == 0) {
        *zipf_s = 1.1;
        return 0;
    }
    if (strncmp (text, "zipf:", 5) == 0)
        return parse_positive ("popularity", text + 5, 10, zipf_s);
    fprintf (stderr, PROGRAM ": invalid --popularity=\"%s\": want uniform, zipf or zipf:S\n", text);
    return -1;
}

//  The weights of a named mix, or the text itself ("balance=60,pay=40").
static const char *
mix_weights (const char *mix)
{
    for (size_t i = 0; i < sizeof MIXES / sizeof MIXES[0]; i++)
        if (strcmp (mix, MIXES[i].name) == 0)
            return MIXES[i].weights;
    return mix;
}

static int
run (const config_t *cfg)
{
    sim_load_config_t load = {
        .url = cfg->url,
        .concurrency = (size_t) cfg->concurrency,
        .timeout_ms = (long) cfg->timeout_ms,
        .users = cfg->users,
        .guilds = cfg->guilds,
        .duration_s = cfg->duration,
        .mix = mix_weights (cfg->mix),
        .mix_name = cfg->mix,
        .closed = strcmp (cfg->model, "closed") == 0,
        .think_ms = cfg->think_ms,
        .program = PROGRAM,
    };
    if (parse_positive ("rate", cfg->rate, 1e6, &load.rate) != 0 ||
        parse_popularity (cfg->popularity, &load.zipf_s) != 0)
        return 2;
    if (*cfg->ramp_to && parse_positive ("ramp-to", cfg->ramp_to, 1e6, &load.ramp_to) != 0)
        return 2;
    if (cfg->spike_at >= 0) {
        if (parse_positive ("spike-factor", cfg->spike_factor, 1000, &load.spike_factor) != 0)
            return 2;
        load.spike_at_s = cfg->spike_at;
        load.spike_s = cfg->spike_seconds;
    }
    if (load.closed) {
        //  Every user has its request in flight at most: room for all of them.
        if (cfg->users > 10000) {
            fprintf (stderr, PROGRAM ": --users=%lld: the closed model takes at most 10000\n",
                     (long long) cfg->users);
            return 2;
        }
        load.concurrency = (size_t) cfg->users;
    }
    char err[256];
    if (sim_transport_check_url (cfg->url, err, sizeof err) != 0) {
        fprintf (stderr, PROGRAM ": %s\n", err);
        return 2;
    }
    sim_signer_t *signer = sim_signer_new (cfg->seed);
    if (!signer) {
        fprintf (stderr, PROGRAM ": invalid --seed: want 64 hex characters (an Ed25519 seed)\n");
        return 2;
    }
    int rc = 2;
    if (*cfg->timeline && !(load.timeline = fopen (cfg->timeline, "w")))
        fprintf (stderr, PROGRAM ": cannot write --timeline=\"%s\": %s\n", cfg->timeline,
                 strerror (errno));
    else
        rc = sim_load_run (&load, signer);
    if (load.timeline && fclose (load.timeline) != 0 && rc == 0)
        rc = 1;
    sim_signer_destroy (&signer);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        {"url", CB_OPT_STRING, "http://127.0.0.1:7100/interactions",
         "the bot's interactions endpoint (http or https)", &cfg.url, 0, 0, false, NULL},
        {"seed", CB_OPT_STRING, SIM_DEV_SEED, "Ed25519 private seed, 64 hex (the bot's key pair)",
         &cfg.seed, 0, 0, true, NULL},
        {"model", CB_OPT_STRING, "open",
         "open: a fixed arrival rate (latency from the intended send time); closed: --users "
         "members each send, await the answer, think, send again",
         &cfg.model, 0, 0, false, "open|closed"},
        {"rate", CB_OPT_STRING, "200", "open: arrivals per second", &cfg.rate, 0, 0, false, NULL},
        {"users", CB_OPT_INT, "1000", "simulated members (closed: concurrent users, <= 10000)",
         &cfg.users, 1, 10000000, false, NULL},
        {"guilds", CB_OPT_INT, "10", "guilds the members are spread over", &cfg.guilds, 1, 1000000,
         false, NULL},
        {"duration", CB_OPT_INT, "30", "seconds; 0 = until SIGINT/SIGTERM", &cfg.duration, 0,
         31536000, false, NULL},
        {"mix", CB_OPT_STRING, "mixed",
         "mixed (70% balance, 10% pay, 10% daily/work, 10% leaderboard/history), balance-heavy, "
         "pay-heavy, balance, pay, or weights like balance=60,pay=40",
         &cfg.mix, 0, 0, false, NULL},
        {"popularity", CB_OPT_STRING, "uniform", "who sends: uniform, zipf (s = 1.1) or zipf:S",
         &cfg.popularity, 0, 0, false, NULL},
        {"think-ms", CB_OPT_INT, "1000", "closed: mean think time (exponential); 0 = none",
         &cfg.think_ms, 0, 3600000, false, NULL},
        {"ramp-to", CB_OPT_STRING, "", "open: the rate rises linearly to this by the end",
         &cfg.ramp_to, 0, 0, false, NULL},
        {"spike-at", CB_OPT_INT, "-1", "open: a spike starts this many seconds in (-1: none)",
         &cfg.spike_at, -1, 31536000, false, NULL},
        {"spike-seconds", CB_OPT_INT, "30", "open: how long the spike lasts", &cfg.spike_seconds, 1,
         31536000, false, NULL},
        {"spike-factor", CB_OPT_STRING, "10", "open: the rate during the spike, times --rate",
         &cfg.spike_factor, 0, 0, false, NULL},
        {"timeline", CB_OPT_STRING, "", "write one JSON line per second to this file",
         &cfg.timeline, 0, 0, false, NULL},
        {"concurrency", CB_OPT_INT, "1024",
         "open: requests in flight at most (a send waiting for a slot counts the wait)",
         &cfg.concurrency, 1, 10000, false, NULL},
        {"timeout-ms", CB_OPT_INT, "5000", "a request without an answer by then is an error",
         &cfg.timeout_ms, 1, 600000, false, NULL},
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = cb_config_main (PROGRAM, SUMMARY, opts, count, argc, argv);
    if (rc < 0) {
        rc = run (&cfg);
        cb_config_free (opts, count);
    } else if (rc == 0)
        fputs ("\nOne line per second on stderr; at the end one JSON object on stdout (the\n"
               "simulator's, load/README.md, plus p999_ms, percentiles, model, mix and\n"
               "popularity). Exit 0: no errors; 1: errors; 2: bad flags.\n",
               stdout);
    return rc;
}
