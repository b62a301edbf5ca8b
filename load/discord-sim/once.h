/*  once — send exactly one interaction and show what came back.
 *
 *  For tests and for poking a gateway by hand. Prints one JSON object on
 *  stdout:
 *
 *      {"status":200,"body":{"type":4,"data":{"content":"..."}}}
 *
 *  ("body" is the raw text as a JSON string when it is not JSON), or
 *  {"status":0,"error":"<curl's reason>"} when no HTTP response arrived.
 */
#ifndef SIM_ONCE_H
#define SIM_ONCE_H

#include "load/discord-sim/signer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *url;
    long timeout_ms;
    int64_t type;        // interaction type: 2 command, 1 PING
    const char *command; // required for a command (unless raw_body)
    uint64_t guild_id;   // 0: a DM
    uint64_t user_id;
    uint64_t bot_user_id;            // 0: none
    const char *const *option_specs; // "name=value" each
    size_t option_count;
    const char *interaction_id; // "" or NULL: a fresh snowflake
    const char *permissions;
    const char *raw_body;  // NULL: build the body
    const char *timestamp; // "" or NULL: now
    bool bad_signature;
    bool no_signature;
} sim_once_config_t;

//  The process exit code: 0 when an HTTP response arrived (whatever its
//  status), 1 when none did, 2 when the configuration is invalid (one
//  line on stderr).
int sim_once_run (const sim_once_config_t *config, const sim_signer_t *signer);

#endif
