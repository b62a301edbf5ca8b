/*  check — sorting answers into ok, refused and kinds of error.
 *
 *  The texts come from the brief's reply table (the command service must
 *  render them exactly). A refusal is only "expected" when its text is one
 *  a well-behaved simulated member can legitimately get: being short of
 *  coins, a cooldown, paying oneself or a bot. Anything else ephemeral is
 *  an error, so a load run that silently degrades does not pass, except
 *  a command whose ok answer is itself ephemeral (/history).
 */
#include "load/discord-sim/check.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EPHEMERAL 64 // message flag

static const char *const refusal_prefixes[] = {
    "Insufficient funds",       "You already claimed",   "You already worked",
    "You cannot pay yourself.", "You cannot pay a bot.",
};

//  Substrings one of which every ok answer of a command contains, and
//  whether that answer is ephemeral (/history shows only to its asker).
static const struct {
    const char *command;
    const char *markers[2];
    bool ephemeral;
} ok_markers[] = {
    {"balance", {" has "}, false},
    {"pay", {" paid "}, false},
    {"daily", {"You claimed your daily "}, false},
    {"work", {"You worked and earned "}, false},
    {"grant", {" granted ", " removed "}, false},
    {"history", {"Transfers of <@", " has no transfers yet."}, true},
    {"leaderboard",
     {"Leaderboard \u2014 page ", "Nobody in this server has any coins yet."},
     false},
};

static bool
starts_with (const char *text, const char *prefix)
{
    return strncmp (text, prefix, strlen (prefix)) == 0;
}

static void
fail (sim_verdict_t *out, const char *format, ...)
{
    out->outcome = SIM_OUTCOME_ERROR;
    va_list args;
    va_start (args, format);
    vsnprintf (out->kind, sizeof out->kind, format, args);
    va_end (args);
}

static bool
expected_refusal (const char *content)
{
    for (size_t i = 0; i < sizeof refusal_prefixes / sizeof refusal_prefixes[0]; i++)
        if (starts_with (content, refusal_prefixes[i]))
            return true;
    //  Cooldowns of commands added later read "... Try again in 5m 00s."
    return strstr (content, "Try again in ") != NULL;
}

//  Whether content is an ok answer of command (NULL: any command), given
//  whether it came ephemeral. A command this table does not know passes
//  when it is public, as before.
static bool
fits_command (const char *command, const char *content, bool ephemeral)
{
    for (size_t i = 0; command && i < sizeof ok_markers / sizeof ok_markers[0]; i++) {
        if (strcmp (command, ok_markers[i].command) != 0)
            continue;
        if (ok_markers[i].ephemeral != ephemeral)
            return false;
        for (size_t m = 0; m < 2 && ok_markers[i].markers[m]; m++)
            if (strstr (content, ok_markers[i].markers[m]))
                return true;
        return false;
    }
    return !ephemeral;
}

//  The error kind of a body that is no usable command answer, or NULL
//  with *content and *flags set.
static const char *
shape_error (const json_t *root, const char **content, json_int_t *flags)
{
    if (!json_is_object (root))
        return "bad_json";
    const json_t *type = json_object_get (root, "type");
    if (!json_is_integer (type) || json_integer_value (type) != 4)
        return "unexpected_type";
    const json_t *data = json_object_get (root, "data");
    *content = json_string_value (json_object_get (data, "content"));
    *flags = json_integer_value (json_object_get (data, "flags"));
    if (!*content || !**content)
        return "no_content";
    if (starts_with (*content, "cordbank is having trouble"))
        return "trouble";
    if (starts_with (*content, "cordbank is busy"))
        return "busy";
    if (starts_with (*content, "Unknown command:"))
        return "unknown_command";
    return NULL;
}

static void
check_body (const json_t *root, const char *command, sim_verdict_t *out)
{
    const char *content = NULL;
    json_int_t flags = 0;
    const char *error = shape_error (root, &content, &flags);
    bool ephemeral = flags & EPHEMERAL;
    if (error)
        fail (out, "%s", error);
    else if (fits_command (command, content, ephemeral))
        out->outcome = SIM_OUTCOME_OK;
    else if (ephemeral)
        out->outcome = expected_refusal (content) ? SIM_OUTCOME_REFUSED : SIM_OUTCOME_ERROR;
    else
        out->outcome = SIM_OUTCOME_ERROR;
    if (out->outcome == SIM_OUTCOME_ERROR && !out->kind[0])
        fail (out, "unexpected_reply");
}

//  The error kind of a transfer that brought no 200, or NULL.
static const char *
transfer_error (const sim_response_t *response, char *buffer, size_t size)
{
    switch (response->curl_code) {
    case CURLE_OK:
        break;
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_ABORTED_BY_CALLBACK:
        return "aborted";
    default:
        return "transport";
    }
    if (response->status == 200)
        return NULL;
    snprintf (buffer, size, "http_%ld", response->status);
    return buffer;
}

void
sim_check_response (const sim_response_t *response, const char *command, sim_verdict_t *out)
{
    assert (response && out);
    memset (out, 0, sizeof *out);
    out->answered = response->curl_code == CURLE_OK;
    char buffer[SIM_KIND_SIZE];
    const char *error = transfer_error (response, buffer, sizeof buffer);
    if (error) {
        fail (out, "%s", error);
        return;
    }
    json_t *root = json_loadb (response->body, response->body_len, 0, NULL);
    check_body (root, command, out);
    json_decref (root);
}

static sim_outcome_t
classify (long status, const char *body, const char *command, char *kind)
{
    sim_response_t response = {.status = status, .body = body, .body_len = strlen (body)};
    sim_verdict_t verdict;
    sim_check_response (&response, command, &verdict);
    strcpy (kind, verdict.kind);
    return verdict.outcome;
}

int
sim_check_test (void)
{
    char kind[SIM_KIND_SIZE];
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{\"content\":\"<@1> has 5 coins.\"}}",
                         "balance", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"Insufficient funds: you have 0 "
                         "coins and tried to pay 5.\",\"flags\":64}}",
                         "pay", kind) == SIM_OUTCOME_REFUSED);
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{\"content\":\"Nope.\",\"flags\":64}}", "pay",
                         kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "unexpected_reply") == 0);
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{\"content\":\"<@1> has 5 coins.\"}}", "pay",
                         kind) == SIM_OUTCOME_ERROR);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"cordbank is having trouble right "
                         "now; please try again in a moment.\",\"flags\":64}}",
                         "daily", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "trouble") == 0);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"You worked and earned 30 coins. "
                         "Your balance is 130 coins.\"}}",
                         "work", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"You already worked this hour. Try "
                         "again in 59m 59s.\",\"flags\":64}}",
                         "work", kind) == SIM_OUTCOME_REFUSED);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"<@1> removed 5 coins from <@2>. "
                         "Their balance is 0 coins.\"}}",
                         "grant", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"Transfers of <@1>, newest "
                         "first:\\n#3 +100 daily\",\"flags\":64}}",
                         "history", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"<@1> has no transfers "
                         "yet.\",\"flags\":64}}",
                         "history", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{\"content\":\"<@1> has no transfers yet.\"}}",
                         "history", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "unexpected_reply") == 0);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"Leaderboard \u2014 page "
                         "1\\n1. <@1> \u2014 5 coins\"}}",
                         "leaderboard", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200,
                         "{\"type\":4,\"data\":{\"content\":\"Nobody in this server has any "
                         "coins yet.\"}}",
                         "leaderboard", kind) == SIM_OUTCOME_OK);
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{\"content\":\"<@1> has 5 coins.\"}}",
                         "leaderboard", kind) == SIM_OUTCOME_ERROR);
    SIM_CHECK (classify (200, "{\"type\":5}", "daily", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "unexpected_type") == 0);
    SIM_CHECK (classify (200, "{\"type\":4,\"data\":{}}", "daily", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "no_content") == 0);
    SIM_CHECK (classify (200, "<html>", "daily", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "bad_json") == 0);
    SIM_CHECK (classify (503, "", "daily", kind) == SIM_OUTCOME_ERROR &&
               strcmp (kind, "http_503") == 0);
    sim_response_t refused = {.curl_code = CURLE_COULDNT_CONNECT, .body = ""};
    sim_verdict_t verdict;
    sim_check_response (&refused, "daily", &verdict);
    SIM_CHECK (!verdict.answered && strcmp (verdict.kind, "transport") == 0);
    return 0;
}
