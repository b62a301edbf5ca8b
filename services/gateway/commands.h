/*  commands — the seven slash commands as Discord registers them.
 *
 *  `cordbank-gateway --register-commands [--guild ID]` PUTs this list
 *  (Discord's bulk overwrite: commands not in it are deleted) to
 *  /applications/{app}/commands, or to one guild's commands, which take
 *  effect at once (global ones may take up to an hour to show).
 *
 *  The names, option names, types and limits are what the command service
 *  reads (services/command/validate.c): Discord then refuses out-of-range
 *  input in the client, and command still checks everything itself.
 */
#ifndef GW_COMMANDS_H
#define GW_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#define GW_COMMANDS_COUNT 7

//  The bulk-overwrite body: a JSON array of command objects; the caller
//  frees it. max_pay is the largest /pay and /grant amount (command's
//  --max-pay, at most 2^53 - 1 for Discord). NULL only when out of memory.
char *gw_commands_json (int64_t max_pay);

//  The PUT path after the API base for application_id and, when guild_id
//  is not NULL or "", that guild. 0, or -1 when an id is not a snowflake.
int gw_commands_path (const char *application_id, const char *guild_id, char *out, size_t outlen);

#endif
