/*  discord_json — Discord's interaction JSON in and out.
 *
 *  In: an interaction body becomes a checked CommandRequest. Everything in
 *  it came from outside, so every field is validated here and a failure
 *  names the field ("\"member.user.id\" must be a snowflake string").
 *  Out: a CommandReply, or a plain message, becomes an interaction
 *  response (type 4, CHANNEL_MESSAGE_WITH_SOURCE) whose allowed_mentions
 *  parse list is empty: mentions render but never ping.
 */
#ifndef GW_DISCORD_JSON_H
#define GW_DISCORD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.pb-c.h"

//  Discord interaction types this gateway answers.
enum { GW_INTERACTION_PING = 1, GW_INTERACTION_APPLICATION_COMMAND = 2 };

typedef struct {
    int64_t type;                      // 0 until the body's "type" was read
    Cordbank__CommandRequest *command; // APPLICATION_COMMAND: owned
} gw_interaction_t;

//  Parses and validates body. 0 with *out filled (free with
//  gw_interaction_clear), or -1 with the reason in err (*out keeps the type
//  when it was read, and needs clearing too).
int gw_interaction_parse (const uint8_t *body, size_t size, gw_interaction_t *out, char *err,
                          size_t errlen);
void gw_interaction_clear (gw_interaction_t *self);

//  Interaction responses; the caller frees the text. NULL only when the
//  reply's strings are not valid UTF-8.
char *gw_json_pong (void);
char *gw_json_message (const char *content, bool ephemeral);
char *gw_json_reply (const Cordbank__CommandReply *reply);

#endif
