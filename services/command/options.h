/*  options — reading a command's options and resolved users.
 *
 *  The gateway has already turned Discord's JSON into a CommandRequest, so
 *  an option is typed (INTEGER, STRING, USER, BOOLEAN); here a command asks
 *  for an option by name and type. Discord never repeats an option name;
 *  should a request do so anyway, the first one counts.
 */
#ifndef COMMAND_OPTIONS_H
#define COMMAND_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "command.pb-c.h"

//  The option called `name` (borrowed from request), or NULL.
const Cordbank__CommandOption *options_find (const Cordbank__CommandRequest *request,
                                             const char *name);

//  Typed reads: 1 and *value set when the option is present with that type
//  (a USER also has to be a non-zero snowflake), 0 when it is absent, -1
//  when it is present with another type or an impossible value.
int options_int (const Cordbank__CommandRequest *request, const char *name, int64_t *value);
int options_user (const Cordbank__CommandRequest *request, const char *name, uint64_t *user);

//  True when the request's resolved users say `user` is a bot. A user the
//  request did not resolve is taken for a member.
bool options_user_is_bot (const Cordbank__CommandRequest *request, uint64_t user);

#endif
