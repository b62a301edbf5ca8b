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
#include "load/discord-sim/selftest.h"
#include "load/discord-sim/stats.h"
#include "load/discord-sim/transport.h"
#include "load/ledger-load/zipf.h"
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

//  A closed-model user waiting to send: a min-heap on wake_ns.
typedef struct {
    int64_t wake_ns;
    int64_t member;
} sleeper_t;

typedef struct {
    const sim_load_config_t *config;
    const sim_signer_t *signer;
    sim_mix_t mix;
    sim_transport_t *transport;
    sim_stats_t *stats;
    sim_snowflake_t ids;
    int64_t start_ns;
    int64_t end_ns; // no send is due at or after it (INT64_MAX: no end)
    double period_ns;
    bool scheduled;       // the rate follows a ramp or a spike
    double next_due_ns;   // scheduled: when send `next` is due (relative to start)
    uint64_t planned;     // sends in the whole run; lowered to `next` by a signal
    uint64_t next;        // sequence number of the next send
    int64_t next_tick_ns; // when the current one-second window ends
    int64_t tick;         // windows reported
    ll_zipf_t *zipf;      // zipf_s > 0: member k is rank k + 1
    sleeper_t *sleepers;  // closed model: users waiting to send
    size_t sleeper_count;
} load_t;

//  What a response callback needs to know about its request.
typedef struct {
    load_t *load;
    int64_t scheduled_ns;
    int64_t member;
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

//  The member who sends next in the open model.
static int64_t
pick_member (const load_t *load)
{
    if (!load->zipf)
        return random_below (load->config->users);
    return (int64_t) ll_zipf_rank (load->zipf, cb_random01 ()) - 1;
}

//  The body of a command sent by member; NULL when out of memory.
static char *
command_body (load_t *load, sim_command_t command, int64_t member)
{
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
sleeper_push (load_t *load, int64_t wake_ns, int64_t member)
{
    size_t i = load->sleeper_count++;
    while (i > 0 && load->sleepers[(i - 1) / 2].wake_ns > wake_ns) {
        load->sleepers[i] = load->sleepers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    load->sleepers[i] = (sleeper_t){wake_ns, member};
}

static sleeper_t
sleeper_pop (load_t *load)
{
    sleeper_t top = load->sleepers[0];
    sleeper_t last = load->sleepers[--load->sleeper_count];
    size_t i = 0, n = load->sleeper_count;
    for (size_t child = 1; child < n; child = 2 * i + 1) {
        if (child + 1 < n && load->sleepers[child + 1].wake_ns < load->sleepers[child].wake_ns)
            child++;
        if (load->sleepers[child].wake_ns >= last.wake_ns)
            break;
        load->sleepers[i] = load->sleepers[child];
        i = child;
    }
    if (n > 0)
        load->sleepers[i] = last;
    return top;
}

//  A think time: exponential with mean think_ms, in ns.
static int64_t
think_ns (const load_t *load)
{
    if (load->config->think_ms <= 0)
        return 0;
    return (int64_t) (-log (1.0 - cb_random01 ()) * (double) load->config->think_ms * 1e6);
}

static void
on_response (const sim_response_t *response, void *arg)
{
    pending_t *pending = arg;
    load_t *load = pending->load;
    sim_verdict_t verdict;
    sim_check_response (response, sim_command_name (pending->command), &verdict);
    int64_t latency_ns = response->done_ns - pending->scheduled_ns;
    sim_stats_on_verdict (load->stats, &verdict, latency_ns > 0 ? (uint64_t) latency_ns / 1000 : 0);
    if (load->sleepers)
        sleeper_push (load, response->done_ns + think_ns (load), pending->member);
    free (pending);
}

//  The open model's rate t_s seconds into the run.
static double
rate_at (const sim_load_config_t *config, double t_s)
{
    double rate = config->rate;
    if (config->ramp_to > 0 && config->duration_s > 0)
        rate += (config->ramp_to - config->rate) * t_s / (double) config->duration_s;
    if (config->spike_factor > 0 && t_s >= (double) config->spike_at_s &&
        t_s < (double) (config->spike_at_s + config->spike_s))
        rate *= config->spike_factor;
    return rate;
}

//  When the next send is due; INT64_MAX when none is left.
static int64_t
next_due_ns (const load_t *load)
{
    if (load->sleepers)
        return load->sleeper_count > 0 && load->next < load->planned ? load->sleepers[0].wake_ns
                                                                     : INT64_MAX;
    if (load->next >= load->planned)
        return INT64_MAX;
    if (!load->scheduled)
        return load->start_ns + (int64_t) ((double) load->next * load->period_ns);
    int64_t due = load->start_ns + (int64_t) load->next_due_ns;
    return due < load->end_ns ? due : INT64_MAX;
}

static void
send_next (load_t *load)
{
    pending_t *pending = malloc (sizeof *pending);
    sim_command_t command = sim_mix_pick (&load->mix, cb_random01 ());
    int64_t due_ns = next_due_ns (load);
    int64_t member;
    if (load->sleepers)
        member = sleeper_pop (load).member;
    else
        member = pick_member (load);
    if (load->scheduled)
        load->next_due_ns +=
            (double) SIM_NS_PER_S / rate_at (load->config, load->next_due_ns / SIM_NS_PER_S);
    char *body = command_body (load, command, member);
    sim_stats_on_sent (load->stats);
    if (pending)
        *pending = (pending_t){load, due_ns, member, command};
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
        if (load->sleepers) //  the user tries again after thinking
            sleeper_push (load, cb_mono_ns () + think_ns (load), member);
        free (body);
        free (pending);
    }
}

static bool
finished (const load_t *load, int64_t now_ns)
{
    if (next_due_ns (load) != INT64_MAX && !load->sleepers)
        return false;
    if (sim_transport_in_flight (load->transport) > 0)
        return false;
    return signals_seen > 0 || now_ns >= load->end_ns;
}

//  The window of second t ends: its JSON line, then its stderr line.
static void
close_window (load_t *load)
{
    load->tick++;
    if (load->config->timeline) {
        double target =
            load->config->closed ? NAN : rate_at (load->config, (double) load->tick - 0.5);
        sim_stats_print_window_json (load->stats, load->config->timeline, load->tick, target);
    }
    sim_stats_print_window (load->stats, stderr, load->tick, 1.0);
}

//  The loop; 0, or -1 when waiting for I/O failed.
static int
drive (load_t *load)
{
    while (signals_seen < 2) {
        int64_t now_ns = cb_mono_ns ();
        //  The closed model's users stop at the end of the run.
        if ((signals_seen == 1 || (load->sleepers && now_ns >= load->end_ns)) &&
            load->planned > load->next)
            load->planned = load->next;
        //  Close the window first, so a send due exactly at a second's
        //  boundary counts in the second it starts.
        for (; now_ns >= load->next_tick_ns; load->next_tick_ns += SIM_NS_PER_S)
            close_window (load);
        if (finished (load, now_ns))
            return 0;
        while (sim_transport_has_slot (load->transport) && next_due_ns (load) <= cb_mono_ns ())
            send_next (load);
        int64_t wake_ns = load->next_tick_ns;
        if (sim_transport_has_slot (load->transport) && next_due_ns (load) < wake_ns)
            wake_ns = next_due_ns (load);
        if (load->sleepers && load->end_ns < wake_ns && load->next < load->planned)
            wake_ns = load->end_ns;
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
    bool schedule = config->ramp_to > 0 || config->spike_factor > 0;
    if (schedule && (config->closed || config->duration_s <= 0)) {
        snprintf (err, size, "a ramp or a spike needs the open model and a --duration");
        return -1;
    }
    if (config->spike_factor > 0 && (config->spike_s <= 0 || config->spike_at_s < 0 ||
                                     config->spike_at_s + config->spike_s > config->duration_s)) {
        snprintf (err, size, "the spike (from %llds, %llds long) must lie within the run (%llds)",
                  (long long) config->spike_at_s, (long long) config->spike_s,
                  (long long) config->duration_s);
        return -1;
    }
    return 0;
}

//  Sets up the model's state; -1 when out of memory.
static int
prepare (load_t *load)
{
    const sim_load_config_t *config = load->config;
    load->start_ns = cb_mono_ns ();
    load->next_tick_ns = load->start_ns + SIM_NS_PER_S;
    load->end_ns =
        config->duration_s > 0 ? load->start_ns + config->duration_s * SIM_NS_PER_S : INT64_MAX;
    load->planned = UINT64_MAX;
    if (config->zipf_s > 0 &&
        !(load->zipf = ll_zipf_new ((uint64_t) config->users, config->zipf_s)))
        return -1;
    if (config->closed) {
        load->sleepers = malloc ((size_t) config->users * sizeof *load->sleepers);
        if (!load->sleepers)
            return -1;
        //  Users arrive spread over the first think time (or 100 ms).
        double spread_ns = (config->think_ms > 0 ? (double) config->think_ms : 100.0) * 1e6;
        for (int64_t member = 0; member < config->users; member++)
            sleeper_push (load, load->start_ns + (int64_t) (cb_random01 () * spread_ns), member);
        return 0;
    }
    load->period_ns = (double) SIM_NS_PER_S / config->rate;
    load->scheduled = config->ramp_to > 0 || config->spike_factor > 0;
    if (config->duration_s > 0 && !load->scheduled)
        load->planned = (uint64_t) ceil (config->rate * (double) config->duration_s - 1e-9);
    return 0;
}

static int
report (load_t *load, int drive_rc)
{
    double duration_s = (double) (cb_mono_ns () - load->start_ns) / (double) SIM_NS_PER_S;
    //  Abandons what is still in flight; their callbacks count them as aborted.
    sim_transport_destroy (&load->transport);
    const sim_load_config_t *config = load->config;
    sim_run_info_t info = {.duration_s = duration_s,
                           .users = config->users,
                           .guilds = config->guilds,
                           .rate = config->rate};
    if (config->program) { //  cordbank-load labels its runs
        info.model = config->closed ? "closed" : "open";
        info.mix = config->mix_name ? config->mix_name : config->mix;
        info.think_ms = config->think_ms;
        if (config->closed)
            info.rate = NAN;
    }
    char popularity[32];
    snprintf (popularity, sizeof popularity, "zipf:%g", config->zipf_s);
    if (config->program)
        info.popularity = config->zipf_s > 0 ? popularity : "uniform";
    if (sim_stats_print_summary (load->stats, stdout, &info) != 0 || drive_rc != 0)
        return 1;
    return sim_stats_errors (load->stats) == 0 ? 0 : 1;
}

int
sim_load_run (const sim_load_config_t *config, const sim_signer_t *signer)
{
    assert (config && signer && (config->rate > 0 || config->closed));
    load_t load = {.config = config, .signer = signer};
    const char *program = config->program ? config->program : "cordbank-discord-sim";
    char err[256];
    if (check_config (config, &load.mix, err, sizeof err) != 0) {
        fprintf (stderr, "%s: %s\n", program, err);
        return 2;
    }
    load.transport = sim_transport_new (config->url, config->concurrency, config->timeout_ms);
    load.stats = sim_stats_new ();
    int rc = 1;
    if (load.transport && load.stats) {
        sim_snowflake_init (&load.ids);
        catch_signals ();
        if (prepare (&load) == 0)
            rc = report (&load, drive (&load));
        else
            fprintf (stderr, "%s: out of memory\n", program);
    } else
        fprintf (stderr, "%s: cannot start libcurl\n", program);
    sim_transport_destroy (&load.transport);
    sim_stats_destroy (&load.stats);
    ll_zipf_destroy (&load.zipf);
    free (load.sleepers);
    return rc;
}

//  The closed model's heap pops in wake order; Zipf puts most sends on
//  the first members and every member is reachable; the schedule ramps
//  and spikes where it says.
int
sim_load_test (void)
{
    load_t load = {0};
    load.sleepers = malloc (1000 * sizeof *load.sleepers);
    SIM_CHECK (load.sleepers);
    for (int64_t i = 0; i < 1000; i++)
        sleeper_push (&load, (int64_t) randombytes_uniform (100000), i);
    int64_t last = -1;
    while (load.sleeper_count > 0) {
        sleeper_t next = sleeper_pop (&load);
        SIM_CHECK (next.wake_ns >= last);
        last = next.wake_ns;
    }
    free (load.sleepers);

    sim_load_config_t config = {.users = 1000, .rate = 100, .duration_s = 100};
    load = (load_t){.config = &config, .zipf = ll_zipf_new (1000, 1.1)};
    SIM_CHECK (load.zipf);
    int64_t first = 0, top = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t member = pick_member (&load);
        SIM_CHECK (member >= 0 && member < 1000);
        first += member == 0;
        top = member > top ? member : top;
    }
    //  P(member 0) = 1 / H(1000, 1.1), about 0.18.
    SIM_CHECK (first > 15000 && first < 21000 && top > 900);
    ll_zipf_destroy (&load.zipf);

    config.ramp_to = 300;
    SIM_CHECK (fabs (rate_at (&config, 0) - 100) < 1e-9 &&
               fabs (rate_at (&config, 50) - 200) < 1e-9);
    config.ramp_to = 0;
    config.spike_factor = 10, config.spike_at_s = 10, config.spike_s = 30;
    SIM_CHECK (rate_at (&config, 9.99) == 100 && rate_at (&config, 10) == 1000);
    SIM_CHECK (rate_at (&config, 39.9) == 1000 && rate_at (&config, 40) == 100);
    return 0;
}
