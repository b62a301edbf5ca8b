/*  validate — the refusals a command can decide from its request alone.
 *
 *  The order of the /pay and /grant checks is part of the product: a
 *  request that is wrong in several ways is refused for its amount first,
 *  as the reply texts in the brief list them; /grant checks the invoker's
 *  permission before anything else.
 */
#include "services/command/validate.h"

#include <assert.h>
#include <stdio.h>

#include "services/command/options.h"
#include "services/command/render.h"

//  An optional user option that defaults to the invoker.
static validate_result_t
s_member_or_invoker (const Cordbank__CommandRequest *request, uint64_t *target)
{
    assert (request && target);
    uint64_t user = 0;
    int found = options_user (request, "user", &user);
    if (found < 0)
        return VALIDATE_BAD_USER;
    *target = found ? user : request->user_id;
    return VALIDATE_OK;
}

validate_result_t
validate_balance (const Cordbank__CommandRequest *request, uint64_t *target)
{
    return s_member_or_invoker (request, target);
}

validate_result_t
validate_history (const Cordbank__CommandRequest *request, uint64_t *target)
{
    return s_member_or_invoker (request, target);
}

validate_result_t
validate_pay (const Cordbank__CommandRequest *request, int64_t max_pay, uint64_t *target,
              int64_t *amount)
{
    assert (request && target && amount);
    int64_t value = 0;
    if (options_int (request, "amount", &value) != 1 || value < 1 || value > max_pay)
        return VALIDATE_BAD_AMOUNT;
    uint64_t user = 0;
    int found = options_user (request, "user", &user);
    if (found == 0)
        return VALIDATE_NO_USER;
    if (found < 0)
        return VALIDATE_BAD_USER;
    if (user == request->user_id)
        return VALIDATE_SELF;
    if (options_user_is_bot (request, user))
        return VALIDATE_BOT;
    *target = user;
    *amount = value;
    return VALIDATE_OK;
}

validate_result_t
validate_grant (const Cordbank__CommandRequest *request, int64_t max_amount, uint64_t *target,
                int64_t *amount)
{
    assert (request && target && amount && max_amount > 0);
    if (!(request->member_permissions & (VALIDATE_PERM_ADMINISTRATOR | VALIDATE_PERM_MANAGE_GUILD)))
        return VALIDATE_GRANT_DENIED;
    //  -max_amount cannot overflow: max_amount > 0.
    int64_t value = 0;
    if (options_int (request, "amount", &value) != 1 || value == 0 || value > max_amount ||
        value < -max_amount)
        return VALIDATE_BAD_GRANT_AMOUNT;
    uint64_t user = 0;
    int found = options_user (request, "user", &user);
    if (found == 0)
        return VALIDATE_GRANT_NO_USER;
    if (found < 0)
        return VALIDATE_BAD_USER;
    if (options_user_is_bot (request, user))
        return VALIDATE_GRANT_BOT;
    *target = user;
    *amount = value;
    return VALIDATE_OK;
}

validate_result_t
validate_leaderboard (const Cordbank__CommandRequest *request, uint32_t *page)
{
    assert (request && page);
    int64_t value = 1;
    if (options_int (request, "page", &value) < 0 || value < 1 || value > VALIDATE_PAGE_MAX)
        return VALIDATE_BAD_PAGE;
    *page = (uint32_t) value;
    return VALIDATE_OK;
}

char *
validate_text (validate_result_t result, int64_t max_pay, char *out, size_t outlen)
{
    assert (out && outlen >= RENDER_TEXT_LEN);
    const char *text = RENDER_BAD_USER;
    switch (result) {
    case VALIDATE_BAD_AMOUNT:
        return render_bad_amount (out, outlen, max_pay);
    case VALIDATE_NO_USER:
        text = RENDER_PAY_NO_USER;
        break;
    case VALIDATE_SELF:
        text = RENDER_PAY_SELF;
        break;
    case VALIDATE_BOT:
        text = RENDER_PAY_BOT;
        break;
    case VALIDATE_GRANT_DENIED:
        text = RENDER_GRANT_DENIED;
        break;
    case VALIDATE_BAD_GRANT_AMOUNT:
        return render_bad_grant_amount (out, outlen, max_pay);
    case VALIDATE_GRANT_NO_USER:
        text = RENDER_GRANT_NO_USER;
        break;
    case VALIDATE_GRANT_BOT:
        text = RENDER_GRANT_BOT;
        break;
    case VALIDATE_BAD_PAGE:
        return render_bad_page (out, outlen, VALIDATE_PAGE_MAX);
    case VALIDATE_BAD_USER:
        break;
    case VALIDATE_OK:
        assert (!"validate_text: nothing to refuse");
        break;
    }
    snprintf (out, outlen, "%s", text);
    return out;
}

Cordbank__Status
validate_status (validate_result_t result)
{
    assert (result != VALIDATE_OK);
    return result == VALIDATE_GRANT_DENIED ? CORDBANK__STATUS__STATUS_PERMISSION_DENIED
                                           : CORDBANK__STATUS__STATUS_INVALID_ARGUMENT;
}
