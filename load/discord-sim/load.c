/*  load — the open-model send loop and the simulated members.
 *
 *  One thread: the loop sends everything that is due (while a slot is
 *  free), prints the window line when a second has passed, then sleeps in
 *  sim_transport_wait until the next send is due, the next second starts,
 *  or a response arrives. Send k is due at start + k * period, computed
 *  from k rather than accumulated, so pacing does not drift.
 */
#include "load/discord-sim/load.h"
#include "load/discord-sim/check.h"
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/mix.h"
#include "load/discord-sim/monotime.h"
#include "load/discord-sim/stats.h"
#include "load/discord-sim/transport.h"
#include "common/backoff.h"

#include <assert.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLICATION_ID 42
#define FIRST_USER     100000
#define FIRST_GUILD    7000
#define FIRST_CHANNEL  9000
#define PAY_MAX        50

//  Signals seen (capped at 2). The one global: a signal handler has no
//  other way to reach the loop.
static volatile sig_atomic_t signals_seen;

typedef struct {
    const sim_load_config_t *config;
    const sim_signer_t *signer;
    sim_mix_t mix;
    sim_transport_t *transport;
    sim_stats_t *stats;
    sim_snowflake_t ids;
    int64_t start_ns;
    double period_ns;
    uint64_t planned;     // sends in the whole run; lowered to `next` by a signal
    uint64_t next;        // sequence number of the next send
    int64_t next_tick_ns; // when the current one-second window ends
    int64_t tick;         // windows reported
} load_t;

//  What a response callback needs to know about its request.
typedef struct {
    load_t *load;
    int64_t scheduled_ns;
    sim_command_t command;
} pending_t;

static void
on_signal (int signal)
{
    (void) signal;
    if (signals_seen < 2)
        signals_seen = signals_seen + 1;
}

static void
catch_signals (void)
{
    //  No SA_RESTART: the signal must interrupt epoll_wait.
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

static int64_t
random_below (int64_t bound)
{
    return (int64_t) randombytes_uniform ((uint32_t) bound);
}

//  Another member of member's guild (members are i, i + guilds, ...).
static int64_t
other_member (const load_t *load, int64_t member)
{
    int64_t guilds = load->config->guilds;
    int64_t guild = member % guilds;
    int64_t members = (load->config->users - guild + guilds - 1) / guilds;
    if (members < 2)
        return member;
    int64_t k = random_below (members - 1);
    if (k >= member / guilds)
        k++;
    return guild + k * guilds;
}

static void
set_option (sim_option_t *option, const char *name, sim_opt_type_t type, int64_t value)
{
    memset (option, 0, sizeof *option);
    snprintf (option->name, sizeof option->name, "%s", name);
    option->type = type;
    if (type == SIM_OPT_USER)
        option->user_id = (uint64_t) value;
    else
        option->integer = value;
}

//  Fills options (room for 2) for a command by member; returns how many.
static size_t
command_options (const load_t *load, sim_command_t command, int64_t member, sim_option_t *options)
{
    switch (command) {
    case SIM_CMD_PAY:
        set_option (&options[0], "user", SIM_OPT_USER, FIRST_USER + other_member (load, member));
        set_option (&options[1], "amount", SIM_OPT_INTEGER, 1 + random_below (PAY_MAX));
        return 2;
    case SIM_CMD_BALANCE:
        if (random_below (4) != 0)
            return 0;
        set_option (&options[0], "user", SIM_OPT_USER, FIRST_USER + other_member (load, member));
        return 1;
    case SIM_CMD_LEADERBOARD:
        set_option (&options[0], "page", SIM_OPT_INTEGER, 1);
        return 1;
    default:
        return 0;
    }
}

//  The body of a command sent by a random member; NULL when out of memory.
static char *
random_body (load_t *load, sim_command_t command)
{
    int64_t member = random_below (load->config->users);
    int64_t guild = member % load->config->guilds;
    sim_option_t options[2];
    char token[SIM_TOKEN_SIZE];
    sim_token_new (token);
    sim_interaction_t interaction = {
        .type = SIM_INTERACTION_COMMAND,
        .id = sim_snowflake_next (&load->ids),
        .application_id = APPLICATION_ID,
        .token = token,
        .guild_id = (uint64_t) (FIRST_GUILD + guild),
        .channel_id = (uint64_t) (FIRST_CHANNEL + guild),
        .user_id = (uint64_t) (FIRST_USER + member),
        .permissions = "0",
        .command = sim_command_name (command),
        .options = options,
        .option_count = command_options (load, command, member, options),
    };
    return sim_interaction_json (&interaction);
}

static void
on_response (const sim_response_t *response, void *arg)
{
    pending_t *pending = arg;
    sim_verdict_t verdict;
    sim_check_response (response, sim_command_name (pending->command), &verdict);
    int64_t latency_ns = response->done_ns - pending->scheduled_ns;
    sim_stats_on_verdict (pending->load->stats, &verdict,
                          latency_ns > 0 ? (uint64_t) latency_ns / 1000 : 0);
    free (pending);
}

static int64_t
scheduled_ns (const load_t *load, uint64_t k)
{
    return load->start_ns + (int64_t) ((double) k * load->period_ns);
}

static void
send_next (load_t *load)
{
    pending_t *pending = malloc (sizeof *pending);
    sim_command_t command = sim_mix_pick (&load->mix, cb_random01 ());
    char *body = random_body (load, command);
    sim_stats_on_sent (load->stats);
    if (pending) {
        *pending = (pending_t){load, scheduled_ns (load, load->next), command};
    }
    load->next++;
    int rc = -1;
    if (pending && body) {
        size_t len = strlen (body);
        sim_headers_t headers;
        sim_signer_headers (load->signer, body, len, NULL, 0, &headers);
        const char *lines[4];
        for (size_t i = 0; i < headers.count; i++)
            lines[i] = headers.lines[i];
        rc = sim_transport_post (load->transport, &body, len, lines, headers.count, on_response,
                                 pending);
    }
    if (rc != 0) {
        sim_verdict_t verdict = {.outcome = SIM_OUTCOME_ERROR, .kind = "local"};
        sim_stats_on_verdict (load->stats, &verdict, 0);
        free (body);
        free (pending);
    }
}

static bool
finished (const load_t *load, int64_t now_ns)
{
    if (load->next < load->planned || sim_transport_in_flight (load->transport) > 0)
        return false;
    int64_t end_ns = load->start_ns + load->config->duration_s * SIM_NS_PER_S;
    return signals_seen > 0 || now_ns >= end_ns;
}

//  The loop; 0, or -1 when waiting for I/O failed.
static int
drive (load_t *load)
{
    while (signals_seen < 2) {
        if (signals_seen == 1 && load->planned > load->next)
            load->planned = load->next;
        //  Close the window first, so a send due exactly at a second's
        //  boundary counts in the second it starts.
        int64_t now_ns = cb_mono_ns ();
        for (; now_ns >= load->next_tick_ns; load->next_tick_ns += SIM_NS_PER_S)
            sim_stats_print_window (load->stats, stderr, ++load->tick, 1.0);
        if (finished (load, now_ns))
            return 0;
        while (load->next < load->planned && sim_transport_has_slot (load->transport) &&
               scheduled_ns (load, load->next) <= cb_mono_ns ())
            send_next (load);
        int64_t wake_ns = load->next_tick_ns;
        if (load->next < load->planned && sim_transport_has_slot (load->transport) &&
            scheduled_ns (load, load->next) < wake_ns)
            wake_ns = scheduled_ns (load, load->next);
        if (sim_transport_wait (load->transport, wake_ns) != 0)
            return -1;
    }
    return 0;
}

static int
check_config (const sim_load_config_t *config, sim_mix_t *mix, char *err, size_t size)
{
    if (sim_mix_parse (config->mix, mix, err, size) != 0)
        return -1;
    if (config->users < config->guilds) {
        snprintf (err, size, "--users (%lld) must be at least --guilds (%lld)",
                  (long long) config->users, (long long) config->guilds);
        return -1;
    }
    if (mix->weight[SIM_CMD_PAY] > 0 && config->users < 2 * config->guilds) {
        snprintf (err, size, "--users must be at least twice --guilds when the mix has pay");
        return -1;
    }
    return 0;
}

static int
report (load_t *load, int drive_rc)
{
    double duration_s = (double) (cb_mono_ns () - load->start_ns) / (double) SIM_NS_PER_S;
    //  Abandons what is still in flight; their callbacks count them as aborted.
    sim_transport_destroy (&load->transport);
    const sim_load_config_t *config = load->config;
    sim_run_info_t info = {duration_s, config->users, config->guilds, config->rate};
    if (sim_stats_print_summary (load->stats, stdout, &info) != 0 || drive_rc != 0)
        return 1;
    return sim_stats_errors (load->stats) == 0 ? 0 : 1;
}

int
sim_load_run (const sim_load_config_t *config, const sim_signer_t *signer)
{
    assert (config && signer && config->rate > 0);
    load_t load = {.config = config, .signer = signer};
    char err[256];
    if (check_config (config, &load.mix, err, sizeof err) != 0) {
        fprintf (stderr, "cordbank-discord-sim: %s\n", err);
        return 2;
    }
    load.transport = sim_transport_new (config->url, config->concurrency, config->timeout_ms);
    load.stats = sim_stats_new ();
    int rc = 1;
    if (load.transport && load.stats) {
        sim_snowflake_init (&load.ids);
        catch_signals ();
        load.period_ns = (double) SIM_NS_PER_S / config->rate;
        load.planned = config->duration_s > 0
                           ? (uint64_t) ceil (config->rate * (double) config->duration_s - 1e-9)
                           : UINT64_MAX;
        load.start_ns = cb_mono_ns ();
        load.next_tick_ns = load.start_ns + SIM_NS_PER_S;
        rc = report (&load, drive (&load));
    } else
        fprintf (stderr, "cordbank-discord-sim: cannot start libcurl\n");
    sim_transport_destroy (&load.transport);
    sim_stats_destroy (&load.stats);
    return rc;
}
