/*  commands — application commands as Discord validates and stores them.
 *
 *  PUT /applications/{app}/commands (and .../guilds/{g}/commands) replaces
 *  a whole set. Discord checks every command against its documented
 *  structure and answers 400 with code 50035 "Invalid Form Body" and an
 *  `errors` tree that mirrors the request (index, field, then `_errors`);
 *  this module does the same checks, so a client that registers a command
 *  Discord would refuse is refused here too:
 *
 *  - name: 1..32 characters of `-`, `_`, `'`, letters and digits (any
 *    script), lower case where a lower case exists (CHAT_INPUT; user and
 *    message commands allow spaces and capitals); unique per type;
 *  - description: 1..100 characters (CHAT_INPUT), empty for other types;
 *  - type 1..4; at most 100 CHAT_INPUT commands, 15 USER, 15 MESSAGE;
 *  - options: at most 25, type 1..11, required before optional, unique
 *    names, choices (at most 25) only for STRING/INTEGER/NUMBER, min/max
 *    values only for INTEGER/NUMBER, min/max length only for STRING,
 *    subcommands and groups nested as Discord allows;
 *  - default_member_permissions: null or a string of decimal digits;
 *    dm_permission and nsfw booleans; contexts 0..2, integration_types 0..1;
 *  - at most 4,000 characters of names, descriptions and choices per command.
 *
 *  Stored commands get an id, application_id, version (and guild_id).
 */
#ifndef SIM_COMMANDS_H
#define SIM_COMMANDS_H

#include <jansson.h>

typedef struct srv_commands srv_commands_t;

srv_commands_t *srv_commands_new (const char *application_id);
void srv_commands_destroy (srv_commands_t **self_p);

//  NULL when body (the request's JSON array) is a valid set; otherwise the
//  400 body to send (the caller's reference).
json_t *srv_commands_validate (const json_t *body);

//  Replaces the set of guild_id (NULL: the global set) with body, which
//  must be valid. Returns the stored array (a new reference).
json_t *srv_commands_put (srv_commands_t *self, const char *guild_id, const json_t *body);

//  The stored set (a new reference; an empty array when none).
json_t *srv_commands_get (srv_commands_t *self, const char *guild_id);

//  {"global": [...], "guilds": {"id": [...]}} for /_sim/stats (new reference).
json_t *srv_commands_stats (srv_commands_t *self);

int srv_commands_test (void);

#endif
