/*  seeds — writes the fuzz targets' seed corpora (make fuzz-seeds).
 *
 *  Usage: fuzz-seeds DIR (tests/fuzz/corpus): one file per seed in
 *  DIR/<target>/, named for what it is. Run once by hand when a format
 *  changes; the files are committed, and the fuzzers only ever read them
 *  (make fuzz works on a copy).
 *
 *  The seeds are what the system really sends, built by its own code:
 *  interaction bodies by the Discord simulator (load/discord-sim/
 *  interaction.c), the CommandRequests the gateway makes of them
 *  (gw_interaction_parse), Gateway payloads as the simulator writes them,
 *  compressed onto one zlib stream by the simulator's deflater, metric
 *  snapshots by the metrics registry (cb_metrics_snapshot), replies as the
 *  ledger fills them. Ids, tokens and times are fixed, so a second run
 *  writes the same bytes.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/envelope.h"
#include "common/metrics.h"
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/zstream.h"
#include "services/gateway/discord_json.h"
#include "tests/fuzz/messages.h"

#define DEV_SEED  "e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e"
#define TIMESTAMP "1733450000"

static const char *s_dir;

static void
write_seed (const char *target, const char *name, const void *prefix, size_t prefix_len,
            const void *bytes, size_t len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, target);
    if (mkdir (path, 0755) != 0 && errno != EEXIST) {
        perror (path);
        exit (1);
    }
    snprintf (path, sizeof path, "%s/%s/%s", s_dir, target, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (prefix, 1, prefix_len, file) != prefix_len ||
        fwrite (bytes, 1, len, file) != len || fclose (file) != 0) {
        perror (path);
        exit (1);
    }
}

//  --- interactions, as the simulator writes them ----------------------------------------

typedef struct {
    const char *name;        // the seed's name
    const char *command;     // NULL: a PING
    uint64_t guild;          // 0: a DM
    const char *permissions; // member.permissions
    const char *options[4];  // "name=value", as the simulator's --option
} interaction_spec_t;

static const interaction_spec_t INTERACTIONS[] = {
    {"ping", NULL, 0, NULL, {NULL}},
    {"balance", "balance", 7001, "0", {NULL}},
    {"balance-user", "balance", 7001, "0", {"user=5002"}},
    {"daily", "daily", 7001, "0", {NULL}},
    {"work", "work", 7001, "0", {NULL}},
    {"pay", "pay", 7001, "0", {"user=5002", "amount=25"}},
    {"pay-self", "pay", 7001, "0", {"user=5001", "amount=25"}},
    {"pay-bot", "pay", 7001, "0", {"user=9999", "amount=25"}},
    {"pay-zero", "pay", 7001, "0", {"user=5002", "amount=0"}},
    {"pay-huge", "pay", 7001, "0", {"user=5002", "amount=9223372036854775807"}},
    {"pay-string", "pay", 7001, "0", {"user=5002", "amount=lots", "note=for \"lunch\" \xc3\xa9"}},
    {"grant", "grant", 7001, "32", {"user=5002", "amount=-100"}},
    {"grant-denied", "grant", 7001, "0", {"user=5002", "amount=100"}},
    {"leaderboard", "leaderboard", 7001, "0", {"page=2"}},
    {"leaderboard-bad", "leaderboard", 7001, "0", {"page=1001"}},
    {"history", "history", 7001, "0", {"user=5002", "public=true"}},
    {"unknown", "coinflip", 7001, "0", {NULL}},
    {"dm", "balance", 0, NULL, {NULL}},
};
#define INTERACTION_COUNT (sizeof INTERACTIONS / sizeof INTERACTIONS[0])

//  The body of spec, by the simulator; the caller frees it.
static char *
interaction_body (const interaction_spec_t *spec)
{
    sim_option_t options[4];
    size_t count = 0;
    char err[160];
    for (; count < 4 && spec->options[count]; count++)
        if (sim_option_parse (spec->options[count], &options[count], err, sizeof err) != 0) {
            fprintf (stderr, "seeds: %s\n", err);
            exit (1);
        }
    sim_interaction_t it = {.type = spec->command ? SIM_INTERACTION_COMMAND : SIM_INTERACTION_PING,
                            .id = UINT64_C (1314000000000000001),
                            .application_id = 42,
                            .token = "tok-0123456789abcdef0123456789abcdef",
                            .guild_id = spec->guild,
                            .channel_id = 9001,
                            .user_id = 5001,
                            .permissions = spec->permissions,
                            .command = spec->command,
                            .options = options,
                            .option_count = count,
                            .bot_user_id = 9999};
    char *body = sim_interaction_json (&it);
    assert (body);
    return body;
}

//  fuzz_interactions: flag byte, "TIMESTAMP\n", [signature line,] body.
static void
seed_interactions (void)
{
    uint8_t seed[crypto_sign_SEEDBYTES], public[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret[crypto_sign_SECRETKEYBYTES];
    assert (sodium_hex2bin (seed, sizeof seed, DEV_SEED, strlen (DEV_SEED), NULL, NULL, NULL) == 0);
    crypto_sign_seed_keypair (public, secret, seed);
    for (size_t i = 0; i < INTERACTION_COUNT; i++) {
        char *body = interaction_body (&INTERACTIONS[i]);
        char prefix[256], name[64];
        //  Signed by the target (flag 1): the usual case.
        int n = snprintf (prefix, sizeof prefix, "%c%s\n", 1, TIMESTAMP);
        snprintf (name, sizeof name, "signed-%s", INTERACTIONS[i].name);
        write_seed ("interactions", name, prefix, (size_t) n, body, strlen (body));
        if (i % 4 != 0) {
            free (body);
            continue;
        }
        //  A real signature in the input (flag 0), and one header left out.
        uint8_t message[4096], signature[crypto_sign_BYTES];
        char hex[2 * crypto_sign_BYTES + 1];
        n = snprintf ((char *) message, sizeof message, "%s%s", TIMESTAMP, body);
        crypto_sign_detached (signature, NULL, message, (size_t) n, secret);
        sodium_bin2hex (hex, sizeof hex, signature, sizeof signature);
        n = snprintf (prefix, sizeof prefix, "%c%s\n%s\n", 0, TIMESTAMP, hex);
        snprintf (name, sizeof name, "header-%s", INTERACTIONS[i].name);
        write_seed ("interactions", name, prefix, (size_t) n, body, strlen (body));
        n = snprintf (prefix, sizeof prefix, "%c%s\n", 1 | 4, TIMESTAMP);
        snprintf (name, sizeof name, "no-timestamp-%s", INTERACTIONS[i].name);
        write_seed ("interactions", name, prefix, (size_t) n, body, strlen (body));
        free (body);
    }
}

//  --- the gateway's CommandRequests -----------------------------------------------------

//  What the gateway makes of spec's body; the caller frees it.
static Cordbank__CommandRequest *
command_request (const interaction_spec_t *spec)
{
    char *body = interaction_body (spec);
    gw_interaction_t it;
    char err[200];
    int rc = gw_interaction_parse ((const uint8_t *) body, strlen (body), &it, err, sizeof err);
    free (body);
    if (rc != 0 || !it.command) {
        gw_interaction_clear (&it);
        return NULL; // a PING, or refused by the gateway
    }
    Cordbank__CommandRequest *cmd = it.command;
    it.command = NULL;
    return cmd;
}

static void
write_message (const char *target, const char *name, uint8_t prefix, const ProtobufCMessage *m)
{
    size_t size = protobuf_c_message_get_packed_size (m);
    uint8_t *bytes = malloc (size + 1);
    assert (bytes);
    protobuf_c_message_pack (m, bytes);
    write_seed (target, name, &prefix, 1, bytes, size);
    free (bytes);
}

//  fuzz_command: the max-pay byte, then a CommandRequest.
static void
seed_command (void)
{
    for (size_t i = 0; i < INTERACTION_COUNT; i++) {
        Cordbank__CommandRequest *cmd = command_request (&INTERACTIONS[i]);
        if (!cmd)
            continue;
        //  2: 10^12, command's default --max-pay; pay-huge also under 2^63-1.
        write_message ("command", INTERACTIONS[i].name, 2, &cmd->base);
        if (strcmp (INTERACTIONS[i].name, "pay-huge") == 0)
            write_message ("command", "pay-huge-max", 4, &cmd->base);
        cordbank__command_request__free_unpacked (cmd, NULL);
    }
}

//  --- protobuf messages --------------------------------------------------------------

static uint8_t
selector (const ProtobufCMessageDescriptor *d)
{
    int index = fuzz_message_index (d);
    assert (index >= 0);
    return (uint8_t) index;
}

//  The bare message (fuzz_proto picks it by descriptor) and, when
//  body_case is set, the same wrapped in an envelope as a request or reply.
static void
write_proto (const char *name, const ProtobufCMessage *m, Cordbank__Envelope__BodyCase body_case)
{
    char file[96];
    snprintf (file, sizeof file, "%s", name);
    write_message ("proto", file, selector (m->descriptor), m);
    if (body_case == CORDBANK__ENVELOPE__BODY__NOT_SET)
        return;
    Cordbank__Sender sender = CORDBANK__SENDER__INIT;
    sender.service = (char *) "balance";
    sender.instance = (char *) "balance-0";
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.trace_id = (char *) "4bf92f3577b34da6a3ce929d0e0e4736";
    env.request_id = 17;
    env.deadline_unix_ms = 1733450002500;
    env.sender = &sender;
    env.attempt = 1;
    env.body_case = body_case;
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (&cordbank__envelope__descriptor, body_case);
    assert (field);
    *(const ProtobufCMessage **) ((char *) &env + field->offset) = m;
    snprintf (file, sizeof file, "envelope-%s", name);
    write_message ("proto", file, selector (&cordbank__envelope__descriptor), &env.base);
}

static void
seed_proto_commands (void)
{
    Cordbank__CommandRequest *pay = command_request (&INTERACTIONS[5]);
    assert (pay);
    write_proto ("command-request", &pay->base, CORDBANK__ENVELOPE__BODY_COMMAND_REQUEST);
    write_proto ("command-option", &pay->options[0]->base, 0);
    write_proto ("resolved-user", &pay->resolved_users[0]->base, 0);
    cordbank__command_request__free_unpacked (pay, NULL);

    Cordbank__Embed embed = CORDBANK__EMBED__INIT;
    embed.title = (char *) "Leaderboard — page 1";
    embed.description = (char *) "1. <@5001> — 1,234 coins\n2. <@5002> — 99 coins";
    embed.color = 0xf1c40f;
    embed.footer = (char *) "More: /leaderboard page:2";
    Cordbank__Embed *embeds[] = {&embed};
    Cordbank__CommandReply reply = CORDBANK__COMMAND_REPLY__INIT;
    reply.status = CORDBANK__STATUS__STATUS_OK;
    reply.content = (char *) "<@5001> paid <@5002> 25 coins. Your balance is 975 coins.";
    reply.n_embeds = 1;
    reply.embeds = embeds;
    write_proto ("embed", &embed.base, 0);
    write_proto ("command-reply", &reply.base, CORDBANK__ENVELOPE__BODY_COMMAND_REPLY);
    reply.status = CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS;
    reply.content = (char *) "Insufficient funds: you have 5 coins and tried to pay 25.";
    reply.ephemeral = 1;
    reply.n_embeds = 0;
    write_proto ("command-reply-ephemeral", &reply.base, 0);
}

static void
seed_proto_ledger (void)
{
    Cordbank__BalanceGetRequest get = CORDBANK__BALANCE_GET_REQUEST__INIT;
    get.guild_id = 7001, get.user_id = 5001, get.min_version = 12;
    write_proto ("balance-get-request", &get.base, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST);
    Cordbank__BalanceGetReply got = CORDBANK__BALANCE_GET_REPLY__INIT;
    got.status = CORDBANK__STATUS__STATUS_OK, got.balance = 975, got.version = 13, got.cached = 1;
    write_proto ("balance-get-reply", &got.base, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY);

    Cordbank__TransferRequest transfer = CORDBANK__TRANSFER_REQUEST__INIT;
    transfer.idempotency_key = (char *) "1314000000000000001";
    transfer.guild_id = 7001, transfer.kind = CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY;
    transfer.from_user = 5001, transfer.to_user = 5002, transfer.amount = 25, transfer.actor = 5001;
    write_proto ("transfer-request", &transfer.base, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST);
    Cordbank__AccountState a = CORDBANK__ACCOUNT_STATE__INIT, b = CORDBANK__ACCOUNT_STATE__INIT;
    a.user_id = 5001, a.balance = 975, a.version = 13;
    b.user_id = 5002, b.balance = 125, b.version = 4;
    Cordbank__AccountState *accounts[] = {&a, &b};
    Cordbank__TransferReply done = CORDBANK__TRANSFER_REPLY__INIT;
    done.status = CORDBANK__STATUS__STATUS_OK, done.transfer_id = 125, done.amount = 25;
    done.n_accounts = 2, done.accounts = accounts;
    write_proto ("account-state", &a.base, 0);
    write_proto ("transfer-reply", &done.base, CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY);
    Cordbank__TransferReply cooldown = CORDBANK__TRANSFER_REPLY__INIT;
    cooldown.status = CORDBANK__STATUS__STATUS_COOLDOWN;
    cooldown.message = (char *) "daily reward already claimed";
    cooldown.retry_at_unix_ms = 1733536400000;
    write_proto ("transfer-reply-cooldown", &cooldown.base, 0);

    Cordbank__BalanceChanged changed = CORDBANK__BALANCE_CHANGED__INIT;
    changed.guild_id = 7001, changed.user_id = 5001, changed.balance = 975, changed.version = 13;
    write_proto ("balance-changed", &changed.base, CORDBANK__ENVELOPE__BODY_BALANCE_CHANGED);
    Cordbank__BalanceChanged *changes[] = {&changed, &changed};
    Cordbank__BalanceUpdate update = CORDBANK__BALANCE_UPDATE__INIT;
    update.n_changes = 2, update.changes = changes;
    write_proto ("balance-update", &update.base, CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE);
    Cordbank__BalanceUpdateReply updated = CORDBANK__BALANCE_UPDATE_REPLY__INIT;
    updated.status = CORDBANK__STATUS__STATUS_OK;
    write_proto ("balance-update-reply", &updated.base,
                 CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE_REPLY);

    Cordbank__ActiveAccountsRequest active = CORDBANK__ACTIVE_ACCOUNTS_REQUEST__INIT;
    active.limit = 1000, active.guild_id = 7001, active.after_user = 5000;
    write_proto ("active-accounts-request", &active.base,
                 CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REQUEST);
    Cordbank__ActiveAccountsReply actives = CORDBANK__ACTIVE_ACCOUNTS_REPLY__INIT;
    actives.status = CORDBANK__STATUS__STATUS_OK, actives.n_accounts = 2,
    actives.accounts = changes;
    write_proto ("active-accounts-reply", &actives.base,
                 CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REPLY);

    Cordbank__AdmitRequest admit = CORDBANK__ADMIT_REQUEST__INIT;
    admit.interaction_id = UINT64_C (1314000000000000001), admit.guild_id = 7001;
    admit.user_id = 5001, admit.command = (char *) "pay";
    write_proto ("admit-request", &admit.base, CORDBANK__ENVELOPE__BODY_ADMIT_REQUEST);
    Cordbank__AdmitReply admitted = CORDBANK__ADMIT_REPLY__INIT;
    admitted.status = CORDBANK__STATUS__STATUS_RATE_LIMITED, admitted.retry_after_ms = 2500;
    admitted.global = 1, admitted.guild_limit = 1;
    write_proto ("admit-reply", &admitted.base, CORDBANK__ENVELOPE__BODY_ADMIT_REPLY);
}

static void
seed_proto_lists (void)
{
    Cordbank__HistoryRequest history = CORDBANK__HISTORY_REQUEST__INIT;
    history.guild_id = 7001, history.user_id = 5001, history.limit = 10;
    write_proto ("history-request", &history.base, CORDBANK__ENVELOPE__BODY_HISTORY_REQUEST);
    Cordbank__HistoryEntry e[4];
    Cordbank__HistoryEntry *entries[4];
    const Cordbank__TransferKind kinds[4] = {
        CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY,
        CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_WORK};
    for (int i = 0; i < 4; i++) {
        cordbank__history_entry__init (&e[i]);
        e[i].transfer_id = (uint64_t) (125 - i), e[i].kind = kinds[i];
        e[i].from_user = i == 0 ? 5001 : 0, e[i].to_user = i == 0 ? 5002 : 5001;
        e[i].amount = 25 * (i + 1), e[i].delta = i == 0 ? -25 : 25 * (i + 1);
        e[i].actor = i == 2 ? 5003 : 5001, e[i].created_unix_ms = 1733450000000 - i * 60000;
        entries[i] = &e[i];
    }
    Cordbank__HistoryReply hreply = CORDBANK__HISTORY_REPLY__INIT;
    hreply.status = CORDBANK__STATUS__STATUS_OK, hreply.n_entries = 4, hreply.entries = entries;
    hreply.has_more = 1;
    write_proto ("history-entry", &e[0].base, 0);
    write_proto ("history-reply", &hreply.base, CORDBANK__ENVELOPE__BODY_HISTORY_REPLY);

    Cordbank__LeaderboardRequest board = CORDBANK__LEADERBOARD_REQUEST__INIT;
    board.guild_id = 7001, board.page = 2, board.page_size = 10;
    write_proto ("leaderboard-request", &board.base, CORDBANK__ENVELOPE__BODY_LEADERBOARD_REQUEST);
    Cordbank__LeaderboardEntry r[3];
    Cordbank__LeaderboardEntry *ranks[3];
    for (int i = 0; i < 3; i++) {
        cordbank__leaderboard_entry__init (&r[i]);
        r[i].rank = (uint32_t) (11 + i), r[i].user_id = (uint64_t) (5001 + i);
        r[i].balance = 1234567 / (i + 1);
        ranks[i] = &r[i];
    }
    Cordbank__LeaderboardReply lreply = CORDBANK__LEADERBOARD_REPLY__INIT;
    lreply.status = CORDBANK__STATUS__STATUS_OK, lreply.n_entries = 3, lreply.entries = ranks;
    lreply.page = 2, lreply.has_more = 1;
    write_proto ("leaderboard-entry", &r[0].base, 0);
    write_proto ("leaderboard-reply", &lreply.base, CORDBANK__ENVELOPE__BODY_LEADERBOARD_REPLY);
}

//  A snapshot as a gateway instance publishes it, with fixed values (the
//  process families, which vary from run to run, are left out).
static void
seed_proto_metrics (void)
{
    const char *outcomes[] = {"ok", "degraded", "unauthorized"};
    for (int i = 0; i < 3; i++) {
        char labels[128];
        cb_metrics_labels (labels, sizeof labels, "type", "application_command", "outcome",
                           outcomes[i], NULL);
        cb_counter_add (cb_metrics_counter ("cordbank_gateway_interactions_total",
                                            "Discord interactions answered.", labels),
                        100.0 / (i + 1));
    }
    cb_metric_t *duration = cb_metrics_histogram ("cordbank_gateway_interaction_duration_seconds",
                                                  "Time to answer.", "type=\"application_command\"",
                                                  CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    for (int i = 1; i <= 50; i++)
        cb_histogram_observe (duration, 0.0005 * i);
    cb_gauge_set (cb_metrics_gauge ("cordbank_gateway_shards_connected", "Shards connected.", NULL),
                  4);
    cb_metrics_exemplar_offer ("4bf92f3577b34da6a3ce929d0e0e4736", "interaction /pay", 0.025);
    Cordbank__MetricsSnapshot *snapshot = cb_metrics_snapshot ();
    assert (snapshot);
    size_t kept = 0;
    for (size_t i = 0; i < snapshot->n_families; i++) {
        if (strncmp (snapshot->families[i]->name, "cordbank_gateway_", 17) == 0)
            snapshot->families[kept++] = snapshot->families[i];
        else
            cordbank__metric_family__free_unpacked (snapshot->families[i], NULL);
    }
    snapshot->n_families = kept;
    snapshot->unix_ms = 1733450000000;
    for (size_t i = 0; i < kept; i++) {
        const Cordbank__MetricFamily *family = snapshot->families[i];
        if (family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM) {
            write_proto ("metric-family", &family->base, 0);
            write_proto ("metric-sample", &family->samples[0]->base, 0);
        }
    }
    write_proto ("metrics-snapshot", &snapshot->base, CORDBANK__ENVELOPE__BODY_METRICS_SNAPSHOT);
    cb_metrics_snapshot_free (&snapshot);
}

static void
seed_proto (void)
{
    seed_proto_commands ();
    seed_proto_ledger ();
    seed_proto_lists ();
    seed_proto_metrics ();
    Cordbank__Sender sender = CORDBANK__SENDER__INIT;
    sender.service = (char *) "command", sender.instance = (char *) "command-7f9c";
    write_proto ("sender", &sender.base, 0);
    //  A transport-level refusal: status and error, no body.
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.request_id = 18, env.status = CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED;
    env.error = (char *) "deadline passed before the request was served";
    write_proto ("envelope-deadline", &env.base, 0);
}

//  --- the Gateway -------------------------------------------------------------------

//  The payloads a session sees, in order, as the simulator sends them.
static char *
gateway_payloads (const char *out[8])
{
    char *body = interaction_body (&INTERACTIONS[5]);
    size_t len = strlen (body) + 64;
    char *dispatch = malloc (len);
    assert (dispatch);
    snprintf (dispatch, len, "{\"op\":0,\"d\":%s,\"s\":3,\"t\":\"INTERACTION_CREATE\"}", body);
    free (body);
    out[0] = "{\"op\":10,\"d\":{\"heartbeat_interval\":41250},\"s\":null,\"t\":null}";
    out[1] =
        "{\"op\":0,\"d\":{\"v\":10,\"user\":{\"id\":\"42\",\"username\":\"cordbank\",\"bot\":true},"
        "\"guilds\":[{\"id\":\"7001\",\"unavailable\":true}],\"session_id\":"
        "\"9f2b7c1e4d5a6b3c\",\"resume_gateway_url\":\"ws://127.0.0.1:7000/resume\","
        "\"shard\":[0,1],\"application\":{\"id\":\"42\",\"flags\":0}},\"s\":1,\"t\":\"READY\"}";
    out[2] = "{\"op\":0,\"d\":{\"id\":\"7001\",\"name\":\"sim guild\",\"member_count\":100},"
             "\"s\":2,\"t\":\"GUILD_CREATE\"}";
    out[3] = dispatch;
    out[4] = "{\"op\":11,\"d\":null}";
    out[5] = "{\"op\":1,\"d\":3}";
    out[6] = "{\"op\":9,\"d\":true}";
    out[7] = "{\"op\":0,\"d\":{\"_trace\":[\"cordbank-discord-sim\"]},\"s\":4,\"t\":\"RESUMED\"}";
    return dispatch;
}

static void
seed_gateway (void)
{
    static const char *const NAMES[8] = {
        "hello",         "ready",     "guild-create",    "interaction-create",
        "heartbeat-ack", "heartbeat", "invalid-session", "resumed"};
    const char *payloads[8];
    char *dispatch = gateway_payloads (payloads);
    for (int i = 0; i < 8; i++)
        write_seed ("gateway", NAMES[i], "", 0, payloads[i], strlen (payloads[i]));
    free (dispatch);
    static const char RECONNECT[] = "{\"op\":7,\"d\":null}";
    write_seed ("gateway", "reconnect", "", 0, RECONNECT, strlen (RECONNECT));
    static const char BOT[] =
        "{\"url\":\"wss://"
        "gateway.discord.gg\",\"shards\":4,\"session_start_limit\":{\"total\":1000,"
        "\"remaining\":997,\"reset_after\":14400000,\"max_concurrency\":1}}";
    write_seed ("gateway", "gateway-bot", "", 0, BOT, strlen (BOT));
    for (size_t i = 0; i < INTERACTION_COUNT; i += 3) {
        char *body = interaction_body (&INTERACTIONS[i]), name[64];
        snprintf (name, sizeof name, "body-%s", INTERACTIONS[i].name);
        write_seed ("gateway", name, "", 0, body, strlen (body));
        free (body);
    }
}

//  fuzz_zstream: the option byte, then one connection's stream: the
//  payloads deflated one after the other by the simulator's deflater.
static void
write_stream (const char *name, uint8_t option, const char *const *payloads, size_t count)
{
    srv_zstream_t *z = srv_zstream_new ();
    assert (z);
    size_t total = 0;
    uint8_t *stream = NULL;
    for (size_t i = 0; i < count; i++) {
        size_t len;
        uint8_t *bytes = srv_zstream_push (z, payloads[i], strlen (payloads[i]), 0, &len);
        assert (bytes);
        stream = realloc (stream, total + len);
        assert (stream);
        memcpy (stream + total, bytes, len);
        total += len;
        free (bytes);
    }
    write_seed ("zstream", name, &option, 1, stream, total);
    free (stream);
    srv_zstream_destroy (&z);
}

static void
seed_zstream (void)
{
    const char *payloads[8];
    char *dispatch = gateway_payloads (payloads);
    write_stream ("hello", 1, payloads, 1);
    write_stream ("session", 1 | (7 << 2), payloads, 8);
    write_stream ("session-small-bound", 0 | (3 << 2), payloads, 8);
    //  A message over 4 KiB: the output buffer grows, and over a 4 KiB bound.
    size_t big_len = 6000;
    char *big = malloc (big_len + 1);
    assert (big);
    int at =
        snprintf (big, big_len + 1, "{\"op\":0,\"t\":\"GUILD_CREATE\",\"s\":5,\"d\":{\"x\":\"");
    memset (big + at, 'a', big_len - (size_t) at - 3);
    memcpy (big + big_len - 3, "\"}}", 4);
    const char *with_big[3] = {payloads[0], big, payloads[4]};
    write_stream ("big-message", 2 | (11 << 2), with_big, 3);
    write_stream ("big-message-too-big", 1 | (5 << 2), with_big, 3);
    free (big);
    free (dispatch);
}

//  --- configuration -------------------------------------------------------------------

static void
seed_config (void)
{
    static const char *const SEEDS[][2] = {
        {"empty", ""},
        {"flags", "--admin-port=7201\n--log-level\ndebug\n--count\n12\n--register"},
        {"env", "CORDBANK_ADMIN_PORT=7301\nCORDBANK_MODE=gateway\nCORDBANK_REGISTER=yes"},
        {"secret-flag", "--discord-token=S3CR3T-abc\n--pg-url\npostgresql://u:S3CR3T@db/x"},
        {"secret-env", "CORDBANK_DISCORD_TOKEN=S3CR3T-abc\nCORDBANK_PEERS=dns://balance:7300"},
        {"secret-file", "--discord-token-file=token\n--peers-file\nurl"},
        {"secret-env-file", "CORDBANK_PG_URL_FILE=crlf\nCORDBANK_PEERS_FILE=badurl"},
        {"secret-file-bad", "--discord-token-file=nul"},
        {"secret-file-big", "CORDBANK_DISCORD_TOKEN_FILE=big"},
        {"secret-file-empty", "--pg-url-file=newlines"},
        {"secret-file-missing", "--discord-token-file=/run/secrets/none"},
        {"secret-both-flags", "--discord-token=S3CR3T\n--discord-token-file=token"},
        {"secret-both-env", "CORDBANK_PG_URL=S3CR3T\nCORDBANK_PG_URL_FILE=token"},
        {"secret-bad-endpoints", "--peers=tcp://S3CR3T"},
        {"endpoints", "--metrics-endpoints=tcp://127.0.0.1:7500,tcp://127.0.0.1:7501\n--peers="
                      "dns://balance-headless.default.svc:7300"},
        {"int-range", "--count\n70000\n--snapshot-ms=99"},
        {"choice", "--mode=both\n--log-level=verbose"},
        {"bool", "--register=maybe\n--curve"},
        {"curve", "--curve=true\n--curve-cert=certs/gateway\n--curve-server-key=certs/server\n"
                  "--curve-allowed-keys=certs/allowed"},
        {"unknown", "--no-such-option=1"},
        {"stray", "S3CR3T"},
        {"missing-value", "--instance"},
        {"help", "--log-level=debug\n--help"},
        {"print-config", "CORDBANK_PG_URL=S3CR3T\n--discord-token-file=token\n--print-config\n"
                         "--count=7"},
        {"print-config-not-utf8", "--api-url=http://\xff\xfe/\n--print-config"},
    };
    for (size_t i = 0; i < sizeof SEEDS / sizeof SEEDS[0]; i++)
        write_seed ("config", SEEDS[i][0], "", 0, SEEDS[i][1], strlen (SEEDS[i][1]));
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    s_dir = argv[1];
    if (mkdir (s_dir, 0755) != 0 && errno != EEXIST) {
        perror (s_dir);
        return 1;
    }
    assert (sodium_init () >= 0);
    seed_interactions ();
    seed_command ();
    seed_proto ();
    seed_gateway ();
    seed_zstream ();
    seed_config ();
    printf ("seeds written to %s\n", s_dir);
    return 0;
}
