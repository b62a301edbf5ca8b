/*  check — is this the answer Discord would accept, and what kind is it?
 *
 *  Every response is sorted into one outcome: ok (a non-ephemeral
 *  command answer), refused (an ephemeral answer with an expected refusal,
 *  such as insufficient funds or a cooldown) or an error with a short kind
 *  that names what went wrong:
 *
 *      transport          no HTTP response (curl error; connection refused...)
 *      timeout            no response within --timeout-ms
 *      aborted            still in flight when the run was cut short
 *      http_<code>        a status other than 200
 *      bad_json           the body is not a JSON object
 *      unexpected_type    "type" is not 4 (CHANNEL_MESSAGE_WITH_SOURCE)
 *      no_content         data.content missing or empty
 *      trouble            "cordbank is having trouble..." (degraded)
 *      unknown_command    "Unknown command: /x."
 *      unexpected_reply   ephemeral with a text that is no expected refusal,
 *                         or an ok text that does not fit the command
 */
#ifndef SIM_CHECK_H
#define SIM_CHECK_H

#include "load/discord-sim/transport.h"

typedef enum { SIM_OUTCOME_OK, SIM_OUTCOME_REFUSED, SIM_OUTCOME_ERROR } sim_outcome_t;

#define SIM_KIND_SIZE 32

typedef struct {
    sim_outcome_t outcome;
    char kind[SIM_KIND_SIZE]; // errors only; "" otherwise
    bool answered;            // an HTTP response arrived
} sim_verdict_t;

//  Classifies the response to `command` (its data.name; NULL skips the
//  check of the ok text).
void sim_check_response (const sim_response_t *response, const char *command, sim_verdict_t *out);

int sim_check_test (void);

#endif
