/*  validate — the refusals a command can decide from its request alone.
 *
 *  These run before any downstream call: a /pay to oneself or to a bot, or
 *  with an amount out of range, a /grant by a member without the Manage
 *  Server permission, a /leaderboard page out of range, never reach the
 *  ledger. Pure functions of the request and the configured bound.
 */
#ifndef COMMAND_VALIDATE_H
#define COMMAND_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "command.pb-c.h"
#include "status.pb-c.h"

typedef enum {
    VALIDATE_OK = 0,
    VALIDATE_BAD_AMOUNT,       // amount absent, not an INTEGER, or outside 1..max
    VALIDATE_NO_USER,          // /pay without a user
    VALIDATE_BAD_USER,         // a user option of another type, or user id 0
    VALIDATE_SELF,             // /pay to oneself
    VALIDATE_BOT,              // /pay to a bot
    VALIDATE_GRANT_DENIED,     // /grant without Manage Server or Administrator
    VALIDATE_BAD_GRANT_AMOUNT, // amount absent, not an INTEGER, 0, or |amount| > max
    VALIDATE_GRANT_NO_USER,    // /grant without a user
    VALIDATE_GRANT_BOT,        // /grant to a bot
    VALIDATE_BAD_PAGE,         // /leaderboard page not an INTEGER, or outside 1..max
} validate_result_t;

//  Discord permission bits (member.permissions) that allow /grant.
#define VALIDATE_PERM_ADMINISTRATOR (UINT64_C (1) << 3)
#define VALIDATE_PERM_MANAGE_GUILD  (UINT64_C (1) << 5)

//  The last /leaderboard page the ledger serves.
#define VALIDATE_PAGE_MAX 1000

//  /balance [user]: *target is the user option, or the invoker.
validate_result_t validate_balance (const Cordbank__CommandRequest *request, uint64_t *target);

//  /pay user amount, checked in this order: amount, user, self, bot.
//  On VALIDATE_OK, *target and *amount are set.
validate_result_t validate_pay (const Cordbank__CommandRequest *request, int64_t max_pay,
                                uint64_t *target, int64_t *amount);

//  /history [user]: *target is the user option, or the invoker.
validate_result_t validate_history (const Cordbank__CommandRequest *request, uint64_t *target);

//  /grant user amount, checked in this order: permission (so a member
//  without it learns nothing else), amount, user, bot. A negative amount
//  burns; granting to oneself is allowed (it is an admin's own ledger
//  entry, recorded with them as actor). On VALIDATE_OK, *target and
//  *amount are set.
validate_result_t validate_grant (const Cordbank__CommandRequest *request, int64_t max_amount,
                                  uint64_t *target, int64_t *amount);

//  /leaderboard [page]: *page is the option, or 1.
validate_result_t validate_leaderboard (const Cordbank__CommandRequest *request, uint32_t *page);

//  The refusal text for a result other than VALIDATE_OK (outlen at least
//  RENDER_TEXT_LEN). Returns out.
char *validate_text (validate_result_t result, int64_t max_pay, char *out, size_t outlen);

//  The status to refuse a result other than VALIDATE_OK with:
//  PERMISSION_DENIED for VALIDATE_GRANT_DENIED, INVALID_ARGUMENT otherwise.
Cordbank__Status validate_status (validate_result_t result);

#endif
