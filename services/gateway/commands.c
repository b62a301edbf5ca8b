/*  commands — the registration payload (see commands.h).
 *
 *  Built with jansson rather than written as one JSON literal so that the
 *  /pay and /grant limits follow command's --max-pay. Every command is
 *  type 1 (CHAT_INPUT), guild-only (dm_permission false: command answers
 *  DMs with a refusal anyway), and /grant is hidden from members without
 *  Manage Server (default_member_permissions "32", a string as Discord
 *  wants; server admins may change it in their settings, and command
 *  checks the permission itself regardless).
 */
#include "commands.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

//  Discord's application command option types.
enum { OPT_INTEGER = 4, OPT_USER = 6 };
//  Discord's integer options are bounded by what a double holds exactly.
#define DISCORD_INT_MAX 9007199254740991LL
//  validate.h's VALIDATE_PAGE_MAX: the last /leaderboard page.
#define PAGE_MAX 1000

static json_t *
user_option (const char *description, bool required)
{
    return json_pack ("{s:i, s:s, s:s, s:b}", "type", OPT_USER, "name", "user", "description",
                      description, "required", required);
}

static json_t *
int_option (const char *name, const char *description, bool required, int64_t min, int64_t max)
{
    return json_pack ("{s:i, s:s, s:s, s:b, s:I, s:I}", "type", OPT_INTEGER, "name", name,
                      "description", description, "required", required, "min_value",
                      (json_int_t) min, "max_value", (json_int_t) max);
}

//  One command; options (may be NULL) is stolen.
static json_t *
command (const char *name, const char *description, json_t *options)
{
    json_t *cmd = json_pack ("{s:s, s:s, s:i, s:b}", "name", name, "description", description,
                             "type", 1, "dm_permission", false);
    if (cmd && options)
        json_object_set_new (cmd, "options", options);
    else
        json_decref (options);
    return cmd;
}

static json_t *
all_commands (int64_t max_pay)
{
    json_t *grant =
        command ("grant", "Mint (amount > 0) or burn (amount < 0) a member's coins.",
                 json_pack ("[o, o]", user_option ("The member whose coins change", true),
                            int_option ("amount", "Coins to mint, or to burn if negative", true,
                                        -max_pay, max_pay)));
    if (grant)
        json_object_set_new (grant, "default_member_permissions", json_string ("32"));
    return json_pack (
        "[o, o, o, o, o, o, o]",
        command ("balance", "Show a member's coins (yours by default).",
                 json_pack ("[o]", user_option ("The member to look up (default: you)", false))),
        command ("daily", "Claim your daily coins (once every 24 hours).", NULL),
        command ("work", "Work for a few coins (once an hour).", NULL),
        command ("pay", "Give some of your coins to another member.",
                 json_pack ("[o, o]", user_option ("Who receives the coins", true),
                            int_option ("amount", "How many coins to give", true, 1, max_pay))),
        command (
            "leaderboard", "The richest members of this server, 10 per page.",
            json_pack ("[o]", int_option ("page", "Which page (default: 1)", false, 1, PAGE_MAX))),
        command ("history",
                 "The last 10 transfers of a member (yours by default); only you see it.",
                 json_pack ("[o]", user_option ("The member whose transfers to show (default: you)",
                                                false))),
        grant);
}

char *
gw_commands_json (int64_t max_pay)
{
    assert (max_pay >= 1);
    if (max_pay > DISCORD_INT_MAX)
        max_pay = DISCORD_INT_MAX;
    json_t *list = all_commands (max_pay);
    char *text = list ? json_dumps (list, JSON_COMPACT) : NULL;
    json_decref (list);
    return text;
}

static bool
snowflake (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int
gw_commands_path (const char *application_id, const char *guild_id, char *out, size_t outlen)
{
    assert (out);
    bool guild = guild_id && *guild_id;
    if (!snowflake (application_id) || (guild && !snowflake (guild_id)))
        return -1;
    int n = guild ? snprintf (out, outlen, "/applications/%s/guilds/%s/commands", application_id,
                              guild_id)
                  : snprintf (out, outlen, "/applications/%s/commands", application_id);
    return n > 0 && (size_t) n < outlen ? 0 : -1;
}
