/*  interaction — the JSON body Discord sends for an interaction.
 *
 *  Builds INTERACTION_CREATE payloads as Discord's HTTP interactions
 *  endpoint receives them (PING, and application commands with options and
 *  resolved users), plus the ids and tokens that go in them. Nothing here
 *  knows about HTTP, so a Gateway-WebSocket simulator can wrap the same
 *  body in a dispatch event.
 */
#ifndef SIM_INTERACTION_H
#define SIM_INTERACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SIM_INTERACTION_PING = 1, SIM_INTERACTION_COMMAND = 2 };

typedef enum {
    SIM_OPT_STRING = 3,
    SIM_OPT_INTEGER = 4,
    SIM_OPT_BOOLEAN = 5,
    SIM_OPT_USER = 6,
} sim_opt_type_t;

#define SIM_OPTION_NAME_MAX 32 // Discord's limit

typedef struct {
    char name[SIM_OPTION_NAME_MAX + 1];
    sim_opt_type_t type;
    const char *text; // STRING: borrowed, must outlive the option
    int64_t integer;  // INTEGER
    bool boolean;     // BOOLEAN
    uint64_t user_id; // USER
} sim_option_t;

//  Parses "name=value": a name that is "user" or ends in "user" makes a
//  USER option (the value must be a snowflake); otherwise a decimal int64 is
//  an INTEGER, true/false a BOOLEAN, anything else a STRING (borrowing
//  spec). 0, or -1 with a reason in err.
int sim_option_parse (const char *spec, sim_option_t *out, char *err, size_t errlen);

typedef struct {
    int type; // SIM_INTERACTION_*, or any other number to test refusals
    uint64_t id;
    uint64_t application_id;
    const char *token;
    uint64_t guild_id; // 0: a DM (no guild_id, no member; "user" at top level)
    uint64_t channel_id;
    uint64_t user_id;        // the invoking user
    const char *permissions; // decimal bit set, as Discord sends it
    const char *command;     // data.name
    const sim_option_t *options;
    size_t option_count;
    uint64_t bot_user_id; // a resolved user with this id is marked as a bot
} sim_interaction_t;

//  The body as compact JSON; the caller frees it with free(). NULL when
//  out of memory. A PING carries no guild, member or data.
char *sim_interaction_json (const sim_interaction_t *self);

//  Interaction ids: snowflake-like (ms since the Discord epoch << 22, then
//  a random 10-bit node so concurrent simulators do not collide, then a
//  12-bit sequence), strictly increasing within one generator.
typedef struct {
    int64_t last_ms;
    uint32_t sequence;
    uint32_t node;
} sim_snowflake_t;

void sim_snowflake_init (sim_snowflake_t *self);
uint64_t sim_snowflake_next (sim_snowflake_t *self);

//  A random interaction token ("tok-" + 32 hex) into out (>= 37 bytes).
#define SIM_TOKEN_SIZE 37
void sim_token_new (char *out);

//  Strict unsigned decimal (no sign, no spaces, no overflow). 0 or -1.
int sim_parse_u64 (const char *text, uint64_t *out);

int sim_interaction_test (void);

struct json_t;
//  A snowflake as Discord writes it in JSON: a string of decimal digits.
struct json_t *sim_snowflake_json (uint64_t id);

#endif
