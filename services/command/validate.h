/*  validate — the refusals a command can decide from its request alone.
 *
 *  These run before any downstream call: a /pay to oneself or to a bot, or
 *  with an amount out of range, never reaches the ledger. Pure functions of
 *  the request and the configured bound.
 */
#ifndef COMMAND_VALIDATE_H
#define COMMAND_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "command.pb-c.h"

typedef enum {
    VALIDATE_OK = 0,
    VALIDATE_BAD_AMOUNT, // amount absent, not an INTEGER, or outside 1..max
    VALIDATE_NO_USER,    // /pay without a user
    VALIDATE_BAD_USER,   // a user option of another type, or user id 0
    VALIDATE_SELF,       // /pay to oneself
    VALIDATE_BOT,        // /pay to a bot
} validate_result_t;

//  /balance [user]: *target is the user option, or the invoker.
validate_result_t validate_balance (const Cordbank__CommandRequest *request, uint64_t *target);

//  /pay user amount, checked in this order: amount, user, self, bot.
//  On VALIDATE_OK, *target and *amount are set.
validate_result_t validate_pay (const Cordbank__CommandRequest *request, int64_t max_pay,
                                uint64_t *target, int64_t *amount);

//  The refusal text for a result other than VALIDATE_OK (outlen at least
//  RENDER_TEXT_LEN). Returns out.
char *validate_text (validate_result_t result, int64_t max_pay, char *out, size_t outlen);

#endif
