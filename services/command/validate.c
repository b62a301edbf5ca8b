/*  validate — the refusals a command can decide from its request alone.
 *
 *  The order of the /pay checks is part of the product: a request that is
 *  wrong in several ways is refused for its amount first, as the reply
 *  texts in the brief list them.
 */
#include "services/command/validate.h"

#include <assert.h>
#include <stdio.h>

#include "services/command/options.h"
#include "services/command/render.h"

validate_result_t
validate_balance (const Cordbank__CommandRequest *request, uint64_t *target)
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
    case VALIDATE_BAD_USER:
        break;
    case VALIDATE_OK:
        assert (!"validate_text: nothing to refuse");
        break;
    }
    snprintf (out, outlen, "%s", text);
    return out;
}
