/*  cordbank-gateway — the only service that speaks to Discord.
 *
 *  Serves Discord's HTTP interactions endpoint (POST /interactions) on its
 *  own listener, checks each request's Ed25519 signature, and turns slash
 *  commands into CommandRequests for the command service (interactions.c).
 *  With a bot token it also speaks Discord's REST API (rest.c: deferred
 *  replies edited in later, Gateway interactions answered by callback,
 *  rate limits shared through Redis when --redis-url is given), and keeps
 *  the Gateway sessions of the shards this pod owns (shards.c).
 *  Ready when at least one command instance is connected and, with a
 *  token, every shard of this pod has a live Gateway session.
 *
 *  `--register-commands [--guild ID]` does nothing else: it PUTs the seven
 *  slash commands (commands.c) and exits 0 when Discord accepted them.
 */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/service.h"
#include "gateway_proto.h"
#include "interactions.h"
#include "rest.h"
#include "shards.h"
#include "signature.h"

#define REDIS_TIMEOUT_MS   200
#define ATTEMPT_TIMEOUT_MS 1000
#define DEFERRED_ATTEMPTS  10
#define REGISTER_TIMEOUT_S 30

typedef struct {
    cb_service_config_t base;
    char *http_bind;
    int64_t http_port;
    char *command_endpoints;
    char *public_key;
    int64_t reply_budget_ms;
    int64_t interaction_max_skew_s;
    char *discord_api_url;
    char *discord_token;
    char *application_id;
    int64_t gateway_replicas;
    int64_t shard_count;
    int64_t ordinal;
    int64_t intents;
    char *redis_url;
    int64_t defer_after_ms;
    int64_t deferred_reply_ms;
    int64_t max_pay;
    bool register_commands;
    char *guild;
} config_t;

static const char SUMMARY[] =
    "Discord's HTTP interactions endpoint and REST client.\n\n"
    "POST /interactions on --http-bind:--http-port checks the Ed25519 signature\n"
    "(X-Signature-Ed25519 over X-Signature-Timestamp + body) against --public-key,\n"
    "refuses a timestamp further than --interaction-max-skew-s from now (a replay),\n"
    "answers PINGs, and sends each slash command to the command service\n"
    "(--command-endpoints), answering Discord within --reply-budget-ms: with\n"
    "command's reply, or an ephemeral \"having trouble\" message when command is\n"
    "down or late. With --discord-token, a command not answered within\n"
    "--defer-after-ms is deferred (type 5) and its reply edited in later through\n"
    "Discord's REST API (--discord-api-url), within --deferred-reply-ms; REST rate\n"
    "limits are shared by every gateway pod through --redis-url, or split by\n"
    "--gateway-replicas without it. With a token the pod also keeps the Gateway\n"
    "sessions of its shards (--shard-count, --gateway-replicas, --ordinal) and\n"
    "answers their interactions the same way. /livez, /readyz (ready when a\n"
    "command instance is connected and, with a token, every shard of this pod\n"
    "is) and /metrics are on the admin port. Without --public-key the\n"
    "local development key is used (a warning is logged): never in production.\n\n"
    "--register-commands [--guild ID] registers the slash commands for\n"
    "--application-id (globally, or in one guild at once) and exits: 0 when\n"
    "Discord accepted them. DISCORD_TOKEN, DISCORD_APPLICATION_ID,\n"
    "DISCORD_PUBLIC_KEY, SHARD_COUNT and GATEWAY_REPLICAS are read when the CORDBANK_ names\n"
    "are not set.";

//  The plain names, read when neither the CORDBANK_ variable nor
//  its _FILE form is set (either wins over the plain name).
static void
env_fallbacks (void)
{
    static const char *const pairs[][2] = {
        {"DISCORD_TOKEN", "CORDBANK_DISCORD_TOKEN"},
        {"DISCORD_APPLICATION_ID", "CORDBANK_APPLICATION_ID"},
        {"DISCORD_PUBLIC_KEY", "CORDBANK_PUBLIC_KEY"},
        {"SHARD_COUNT", "CORDBANK_SHARD_COUNT"},
        {"GATEWAY_REPLICAS", "CORDBANK_GATEWAY_REPLICAS"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char file_var[64];
        snprintf (file_var, sizeof file_var, "%s_FILE", pairs[i][1]);
        const char *value = getenv (pairs[i][0]);
        if (value && !getenv (pairs[i][1]) && !getenv (file_var))
            setenv (pairs[i][1], value, 0);
    }
}

static bool
command_reachable (void *arg)
{
    return cb_client_peers (arg) >= 1;
}

static size_t
rest_busy (void *arg)
{
    return gw_rest_pending (arg);
}

//  Checked before anything starts: exit 2 with one line, like other options.
static int
load_public_key (const char *hex, uint8_t key[GW_PUBLIC_KEY_BYTES])
{
    char why[128], env[64];
    if (sodium_init () >= 0 && gw_public_key_parse (hex, key, why, sizeof why) == 0)
        return 0;
    cb_config_env_name ("public-key", env, sizeof env);
    fprintf (stderr, "cordbank-gateway: invalid %s / --public-key: %s\n", env, why);
    return -1;
}

static int
check_redis_url (const config_t *cfg, cb_redis_addr_t *addr)
{
    char why[128];
    if (!*cfg->redis_url || cb_redis_parse_url (cfg->redis_url, addr, why, sizeof why) == 0)
        return 0;
    fprintf (stderr, "cordbank-gateway: invalid CORDBANK_REDIS_URL / --redis-url: %s\n", why);
    return -1;
}

//  --ordinal -1: the StatefulSet pod's ordinal from POD_NAME or the
//  hostname, else 0. It must be below --gateway-replicas; a hostname that
//  only looks like a pod's ("laptop-7", outside Kubernetes) gives 0.
static int
resolve_ordinal (config_t *cfg)
{
    if (cfg->ordinal < 0) {
        char host[256] = "";
        const char *pod = getenv ("POD_NAME");
        bool from_pod = pod && *pod;
        if (!from_pod)
            pod = gethostname (host, sizeof host - 1) == 0 ? host : "";
        int ordinal = gw_ordinal_from_name (pod);
        cfg->ordinal = ordinal >= 0 ? ordinal : 0;
        if (!from_pod && cfg->ordinal >= cfg->gateway_replicas)
            cfg->ordinal = 0;
    }
    if (cfg->ordinal < cfg->gateway_replicas)
        return 0;
    fprintf (stderr,
             "cordbank-gateway: --ordinal %lld must be below --gateway-replicas %lld (the pod "
             "name's ordinal when --ordinal is -1)\n",
             (long long) cfg->ordinal, (long long) cfg->gateway_replicas);
    return -1;
}

//  --- Discord's REST API on the service's loop ---------------------------------

typedef struct {
    cb_redis_t *redis;
    gw_rest_t *rest;
    gw_shards_t *shards; // the Gateway sessions of this pod's shards
} discord_t;

//  Ready when command is reachable and, with a token, every shard this
//  pod owns has a live Gateway session.
typedef struct {
    cb_client_t *command;
    discord_t *discord;
} readiness_t;

static bool
gateway_ready (void *arg)
{
    const readiness_t *r = arg;
    return command_reachable (r->command) &&
           (!r->discord->shards || gw_shards_ready (r->discord->shards));
}

static cb_redis_t *
redis_new (const config_t *cfg, zloop_t *loop)
{
    cb_redis_addr_t addr;
    if (!*cfg->redis_url || check_redis_url (cfg, &addr) != 0)
        return NULL;
    cb_redis_config_t rc = {.breaker_target = "redis",
                            .metric_prefix = "cordbank_gateway_redis",
                            .timeout_ms = REDIS_TIMEOUT_MS,
                            .op_names = GW_REDIS_OP_NAMES,
                            .op_count = GW_REDIS_OP_COUNT};
    return cb_redis_new (&addr, loop, &rc);
}

//  0 with REST up (or nothing to do without a token), -1 on failure.
static int
discord_start (discord_t *d, const config_t *cfg, cb_service_t *svc, cb_client_t *command,
               gw_interactions_t *it)
{
    if (!*cfg->discord_token)
        return 0;
    zloop_t *loop = cb_service_loop (svc);
    d->redis = redis_new (cfg, loop);
    gw_rest_config_t rc = {.api_url = cfg->discord_api_url,
                           .token = cfg->discord_token,
                           .redis = d->redis,
                           .replicas = (int) cfg->gateway_replicas};
    d->rest = gw_rest_new (loop, &rc);
    if (!d->rest)
        return -1;
    gw_interactions_set_rest (it, loop, d->rest, cfg->defer_after_ms, cfg->deferred_reply_ms);
    //  A deferred command may take --deferred-reply-ms: more attempts let a
    //  call outlive a command instance's hiccup (retries are replays there).
    cb_client_set_attempts (command, ATTEMPT_TIMEOUT_MS, DEFERRED_ATTEMPTS);
    cb_service_set_busy_check (svc, rest_busy, d->rest);
    gw_shards_config_t sc = {.token = cfg->discord_token,
                             .intents = cfg->intents,
                             .shard_count = (int) cfg->shard_count,
                             .replicas = (int) cfg->gateway_replicas,
                             .ordinal = (int) cfg->ordinal,
                             .redis = d->redis,
                             .pod = cb_service_instance (svc)};
    d->shards = gw_shards_new (loop, d->rest, it, &sc);
    return 0;
}

static void
discord_stop (discord_t *d, gw_interactions_t *it)
{
    gw_shards_destroy (&d->shards);
    if (it)
        gw_interactions_set_rest (it, NULL, NULL, 0, 0);
    gw_rest_destroy (&d->rest);
    cb_redis_destroy (&d->redis);
}

//  Everything after the configuration; returns the exit code.
static int
serve (const config_t *cfg, const uint8_t key[GW_PUBLIC_KEY_BYTES])
{
    cb_service_t *svc = cb_service_new ("gateway", &cfg->base);
    if (!svc)
        return 1;
    if (strcmp (cfg->public_key, GW_DEV_PUBLIC_KEY) == 0)
        cb_log_warn (NULL, "using the local development key", "{s:s}", "hint",
                     "set CORDBANK_PUBLIC_KEY to the application's public key");
    cb_client_t *command = cb_service_client (svc, "command", cfg->command_endpoints);
    cb_http_t *http =
        cb_service_http (svc, "interactions", cfg->http_bind, (int) cfg->http_port, GW_MAX_BODY);
    gw_interactions_t *interactions =
        command && http ? gw_interactions_new (command, key, cfg->reply_budget_ms) : NULL;
    discord_t discord = {0};
    readiness_t readiness = {command, &discord};
    int rc = 1;
    if (interactions) {
        gw_interactions_set_max_inflight (interactions, (size_t) cfg->base.max_inflight);
        gw_interactions_set_max_skew (interactions, cfg->interaction_max_skew_s);
    }
    if (interactions && discord_start (&discord, cfg, svc, command, interactions) == 0) {
        cb_http_route (http, "POST", "/interactions", gw_interactions_handle, interactions);
        cb_service_set_ready_check (svc, gateway_ready, &readiness);
        rc = cb_service_run (svc) == 0 ? 0 : 1;
    }
    //  REST first, on the still living loop (its pending requests are
    //  answered, as "shutting down"); then the service: destroying its
    //  client answers any interaction still waiting on command, through
    //  the listener, with our state.
    discord_stop (&discord, interactions);
    cb_service_destroy (&svc);
    gw_interactions_destroy (&interactions);
    return rc;
}

//  --- --register-commands ---------------------------------------------------------

//  One PUT: global (guild "") or one guild's.
typedef struct {
    char guild[24];
    char path[160];
    bool done;
    int status;
    char detail[512];
} registration_t;

typedef struct {
    registration_t *items;
    size_t count, done;
} registrations_t;

static void
on_registered (const gw_rest_response_t *r, void *arg)
{
    registration_t *reg = arg;
    reg->done = true;
    reg->status = r->status;
    snprintf (reg->detail, sizeof reg->detail, "%s", r->status ? r->body : r->error);
}

static int
on_registration_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    registrations_t *all = arg;
    size_t done = 0;
    for (size_t i = 0; i < all->count; i++)
        done += all->items[i].done;
    return done == all->count ? -1 : 0;
}

static int
registration_refused (const char *why)
{
    fprintf (stderr, "cordbank-gateway: --register-commands: %s\n", why);
    return 2;
}

//  --guild "" (global), "ID" or "ID,ID,...": one registration each (an
//  ID may repeat). 0, or -1 when an id is not a snowflake.
static int
registrations_parse (const config_t *cfg, registrations_t *all)
{
    size_t n = 1;
    for (const char *c = cfg->guild; *c; c++)
        n += *c == ',';
    all->items = calloc (n, sizeof *all->items);
    if (!all->items)
        return -1;
    all->count = n;
    const char *at = cfg->guild;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn (at, ",");
        registration_t *reg = &all->items[i];
        if (len >= sizeof reg->guild)
            return -1;
        memcpy (reg->guild, at, len);
        if ((n > 1 && len == 0) ||
            gw_commands_path (cfg->application_id, reg->guild, reg->path, sizeof reg->path) != 0)
            return -1;
        at += len + (at[len] == ',');
    }
    return 0;
}

//  Sends every PUT and runs loop until each has its answer.
static void
registrations_run (const config_t *cfg, registrations_t *all, zloop_t *loop, cb_redis_t *redis)
{
    gw_rest_config_t rc = {.api_url = cfg->discord_api_url,
                           .token = cfg->discord_token,
                           .redis = redis,
                           .replicas = (int) cfg->gateway_replicas};
    gw_rest_t *rest = gw_rest_new (loop, &rc);
    char *body = gw_commands_json (cfg->max_pay);
    int64_t deadline = cb_now_ms () + REGISTER_TIMEOUT_S * 1000;
    size_t sent = 0;
    for (size_t i = 0; rest && body && i < all->count; i++) {
        registration_t *reg = &all->items[i];
        if (gw_rest_request (rest, "PUT", reg->path, body, deadline, NULL, on_registered, reg) == 0)
            sent++;
        else
            reg->done = true, snprintf (reg->detail, sizeof reg->detail, "could not send");
    }
    if (sent && zloop_timer (loop, 10, 0, on_registration_tick, all) >= 0)
        zloop_start (loop);
    gw_rest_destroy (&rest);
    free (body);
}

//  One line per registration; the exit code (0 when Discord accepted all).
static int
registrations_report (const registrations_t *all)
{
    int rc = 0;
    for (size_t i = 0; i < all->count; i++) {
        const registration_t *reg = &all->items[i];
        const char *where = *reg->guild ? reg->guild : "global";
        if (reg->status >= 200 && reg->status < 300)
            printf ("cordbank-gateway: Discord accepted %d commands (%s)\n", GW_COMMANDS_COUNT,
                    where);
        else {
            fprintf (stderr,
                     "cordbank-gateway: Discord did not accept the commands (%s): %s%d %s\n", where,
                     reg->status ? "HTTP " : "", reg->status,
                     reg->done ? reg->detail : "interrupted");
            rc = 1;
        }
    }
    return rc;
}

//  PUTs the commands (through Redis-shared limits when --redis-url is
//  given) and waits for Discord's answers; the exit code.
static int
register_commands (const config_t *cfg)
{
    if (!*cfg->discord_token)
        return registration_refused ("needs DISCORD_TOKEN / --discord-token");
    registrations_t all = {0};
    if (registrations_parse (cfg, &all) != 0) {
        free (all.items);
        return registration_refused ("--application-id and each --guild must be snowflakes");
    }
    zloop_t *loop = zloop_new ();
    cb_redis_t *redis = redis_new (cfg, loop);
    registrations_run (cfg, &all, loop, redis);
    cb_redis_destroy (&redis);
    zloop_destroy (&loop);
    int rc = registrations_report (&all);
    free (all.items);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7101"),
        {"http-bind", CB_OPT_STRING, "127.0.0.1",
         "address of the interactions listener (0.0.0.0 for every IPv4 interface)", &cfg.http_bind,
         0, 0, false, NULL},
        {"http-port", CB_OPT_INT, "7100", "port of the interactions listener (0 = any free port)",
         &cfg.http_port, 0, 65535, false, NULL},
        {"command-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7200",
         "command service ROUTERs: tcp://h:p,... or dns://name:port", &cfg.command_endpoints, 0, 0,
         false, NULL},
        {"public-key", CB_OPT_STRING, GW_DEV_PUBLIC_KEY,
         "the Discord application's Ed25519 public key, 64 hex characters", &cfg.public_key, 0, 0,
         true, NULL},
        {"reply-budget-ms", CB_OPT_INT, "2500",
         "time allowed to command before the trouble message (Discord waits 3 s)",
         &cfg.reply_budget_ms, 100, 2900, false, NULL},
        {"interaction-max-skew-s", CB_OPT_INT, "300",
         "replay window: refuse (401) an interaction whose X-Signature-Timestamp is further "
         "than this from now, either way, even when its signature is valid",
         &cfg.interaction_max_skew_s, 1, 86400, false, NULL},
        {"discord-api-url", CB_OPT_STRING, "https://discord.com/api/v10",
         "Discord's REST API base (a simulator's in tests)", &cfg.discord_api_url, 0, 0, false,
         NULL},
        {"discord-token", CB_OPT_STRING, "",
         "the bot token (also DISCORD_TOKEN); empty: HTTP interactions only, no REST",
         &cfg.discord_token, 0, 0, true, NULL},
        {"application-id", CB_OPT_STRING, "",
         "the Discord application id (also DISCORD_APPLICATION_ID)", &cfg.application_id, 0, 0,
         false, NULL},
        {"gateway-replicas", CB_OPT_INT, "1",
         "gateway pods of this bot: each takes 1/N of the REST global limit without Redis",
         &cfg.gateway_replicas, 1, 1024, false, NULL},
        {"shard-count", CB_OPT_INT, "0",
         "Gateway shards of the bot (also SHARD_COUNT); 0: what GET /gateway/bot recommends",
         &cfg.shard_count, 0, 65536, false, NULL},
        {"ordinal", CB_OPT_INT, "-1",
         "this pod's index: it runs shards i with i % gateway-replicas == ordinal; -1: the "
         "number after the last '-' of POD_NAME or the hostname (a StatefulSet's), else 0",
         &cfg.ordinal, -1, 1023, false, NULL},
        {"intents", CB_OPT_INT, "1", "Gateway intents bitmask sent in IDENTIFY (1 = GUILDS)",
         &cfg.intents, 0, 4194303, false, NULL},
        {"redis-url", CB_OPT_STRING, "",
         "redis://host[:port][/db] shared by the gateway pods (REST limits); empty: per pod",
         &cfg.redis_url, 0, 0, true, NULL},
        {"defer-after-ms", CB_OPT_INT, "2500",
         "with a token: defer (type 5) a command not answered by then, edit its reply in later",
         &cfg.defer_after_ms, 100, 2800, false, NULL},
        {"deferred-reply-ms", CB_OPT_INT, "60000",
         "time allowed to a deferred command (Discord's token lives 15 min)",
         &cfg.deferred_reply_ms, 1000, 890000, false, NULL},
        {"max-pay", CB_OPT_INT, "1000000000000",
         "--register-commands: the largest /pay and /grant amount (command's --max-pay)",
         &cfg.max_pay, 1, INT64_MAX, false, NULL},
        {"register-commands", CB_OPT_BOOL, "false",
         "register the slash commands with Discord and exit", &cfg.register_commands, 0, 0, false,
         NULL},
        {"guild", CB_OPT_STRING, "",
         "--register-commands: register in this guild (or these, comma-separated) only, "
         "effective at once; empty: globally",
         &cfg.guild, 0, 0, false, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    env_fallbacks ();
    //  The gateway binds no ZeroMQ socket: a CURVE client only.
    int rc =
        cb_service_config_main ("cordbank-gateway", SUMMARY, opts, n, argc, argv, &cfg.base, false);
    if (rc >= 0)
        return rc;
    uint8_t key[GW_PUBLIC_KEY_BYTES];
    cb_redis_addr_t addr;
    //  Once, before any thread: libcurl's global state (rest.c's client).
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "cordbank-gateway: libcurl could not be initialised\n");
        cb_config_free (opts, n);
        return 1;
    }
    if (cfg.register_commands)
        rc = check_redis_url (&cfg, &addr) == 0 ? register_commands (&cfg) : 2;
    else if (load_public_key (cfg.public_key, key) != 0 || check_redis_url (&cfg, &addr) != 0 ||
             resolve_ordinal (&cfg) != 0)
        rc = 2;
    else
        rc = serve (&cfg, key);
    cb_config_free (opts, n);
    return rc;
}
