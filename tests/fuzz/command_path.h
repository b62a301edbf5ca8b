/*  command_path — what the command service decides from a CommandRequest
 *  alone, for the fuzz targets that produce one (fuzz_command from the
 *  wire, fuzz_interactions from a signed HTTP body).
 *
 *  Runs the option readers and every command's validation as
 *  services/command does (validate.c's contracts: max_pay > 0), and the
 *  refusal text and status of each result; checks that an accepted /pay or
 *  /grant is within the bounds validate.h promises.
 */
#ifndef FUZZ_COMMAND_PATH_H
#define FUZZ_COMMAND_PATH_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "command.pb-c.h"
#include "services/command/options.h"
#include "services/command/render.h"
#include "services/command/validate.h"

//  The refusal a command sends for result (nothing for VALIDATE_OK).
static void
fuzz_refusal (validate_result_t result, int64_t max_pay)
{
    char text[RENDER_TEXT_LEN];
    if (result == VALIDATE_OK)
        return;
    validate_text (result, max_pay, text, sizeof text);
    assert (*text && strlen (text) < sizeof text);
    Cordbank__Status status = validate_status (result);
    assert (status == CORDBANK__STATUS__STATUS_PERMISSION_DENIED ||
            status == CORDBANK__STATUS__STATUS_INVALID_ARGUMENT);
}

static void
fuzz_command_path (const Cordbank__CommandRequest *request, int64_t max_pay)
{
    assert (max_pay > 0);
    char text[RENDER_TEXT_LEN];
    int64_t amount = 0, value = 0;
    uint64_t target = 0, user = 0;
    uint32_t page = 0;
    (void) options_find (request, "amount");
    (void) options_int (request, "amount", &value);
    if (options_user (request, "user", &user) > 0)
        (void) options_user_is_bot (request, user);
    fuzz_refusal (validate_balance (request, &target), max_pay);
    fuzz_refusal (validate_history (request, &target), max_pay);
    validate_result_t result = validate_pay (request, max_pay, &target, &amount);
    if (result == VALIDATE_OK)
        assert (amount >= 1 && amount <= max_pay && target != 0 && target != request->user_id);
    fuzz_refusal (result, max_pay);
    result = validate_grant (request, max_pay, &target, &amount);
    if (result == VALIDATE_OK)
        assert (amount != 0 && amount <= max_pay && amount >= -max_pay && target != 0);
    fuzz_refusal (result, max_pay);
    result = validate_leaderboard (request, &page);
    if (result == VALIDATE_OK)
        assert (page >= 1 && page <= VALIDATE_PAGE_MAX);
    fuzz_refusal (result, max_pay);
    //  dispatch.c answers a command it does not know with its name.
    render_unknown_command (text, sizeof text, request->command_name ? request->command_name : "");
    assert (strlen (text) < sizeof text);
}

#endif
