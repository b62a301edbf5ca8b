/*  command_validate (command service): typed option reads and the /pay,
 *  /balance, /grant, /history and /leaderboard refusals decided before any
 *  downstream call. Needs
 *  services/command/options.o, validate.o and render.o linked into the runner.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "services/command/options.h"
#include "services/command/render.h"
#include "services/command/validate.h"

#define MAX_PAY INT64_C (1000000000000)

//  A request built on the stack, as the gateway's would decode.
typedef struct {
    Cordbank__CommandRequest request;
    Cordbank__CommandOption options[4];
    Cordbank__CommandOption *option_ptrs[4];
    Cordbank__ResolvedUser users[2];
    Cordbank__ResolvedUser *user_ptrs[2];
} fixture_t;

static void
fixture_init (fixture_t *f, uint64_t invoker)
{
    memset (f, 0, sizeof *f);
    cordbank__command_request__init (&f->request);
    f->request.user_id = invoker;
    f->request.guild_id = 7001;
    f->request.options = f->option_ptrs;
    f->request.resolved_users = f->user_ptrs;
}

static void
add_int (fixture_t *f, const char *name, int64_t value)
{
    Cordbank__CommandOption *o = &f->options[f->request.n_options];
    cordbank__command_option__init (o);
    o->name = (char *) name;
    o->value_case = CORDBANK__COMMAND_OPTION__VALUE_INT_VALUE;
    o->int_value = value;
    f->option_ptrs[f->request.n_options++] = o;
}

static void
add_user (fixture_t *f, const char *name, uint64_t user, bool bot)
{
    Cordbank__CommandOption *o = &f->options[f->request.n_options];
    cordbank__command_option__init (o);
    o->name = (char *) name;
    o->value_case = CORDBANK__COMMAND_OPTION__VALUE_USER_VALUE;
    o->user_value = user;
    f->option_ptrs[f->request.n_options++] = o;
    Cordbank__ResolvedUser *u = &f->users[f->request.n_resolved_users];
    cordbank__resolved_user__init (u);
    u->id = user;
    u->bot = bot;
    f->user_ptrs[f->request.n_resolved_users++] = u;
}

static void
add_string (fixture_t *f, const char *name, const char *value)
{
    Cordbank__CommandOption *o = &f->options[f->request.n_options];
    cordbank__command_option__init (o);
    o->name = (char *) name;
    o->value_case = CORDBANK__COMMAND_OPTION__VALUE_STRING_VALUE;
    o->string_value = (char *) value;
    f->option_ptrs[f->request.n_options++] = o;
}

Test (command_validate, options_typed_reads)
{
    fixture_t f;
    fixture_init (&f, 5001);
    add_int (&f, "amount", 25);
    add_string (&f, "note", "hi");
    add_user (&f, "user", 5002, true);
    int64_t value = 0;
    uint64_t user = 0;
    cr_assert_eq (options_int (&f.request, "amount", &value), 1);
    cr_assert_eq (value, 25);
    cr_assert_eq (options_int (&f.request, "note", &value), -1);
    cr_assert_eq (options_int (&f.request, "missing", &value), 0);
    cr_assert_eq (options_user (&f.request, "user", &user), 1);
    cr_assert_eq (user, 5002);
    cr_assert_eq (options_user (&f.request, "amount", &user), -1);
    cr_assert (options_user_is_bot (&f.request, 5002));
    cr_assert_not (options_user_is_bot (&f.request, 5003), "unresolved users are members");
}

Test (command_validate, balance_target)
{
    fixture_t f;
    uint64_t target = 0;
    fixture_init (&f, 5001);
    cr_assert_eq (validate_balance (&f.request, &target), VALIDATE_OK);
    cr_assert_eq (target, 5001, "the invoker by default");
    add_user (&f, "user", 5002, false);
    cr_assert_eq (validate_balance (&f.request, &target), VALIDATE_OK);
    cr_assert_eq (target, 5002);
    fixture_init (&f, 5001);
    add_int (&f, "user", 5002);
    cr_assert_eq (validate_balance (&f.request, &target), VALIDATE_BAD_USER);
}

static validate_result_t
pay (fixture_t *f)
{
    uint64_t target = 0;
    int64_t value = 0;
    return validate_pay (&f->request, MAX_PAY, &target, &value);
}

Test (command_validate, pay_amount_checked_first)
{
    fixture_t f;
    fixture_init (&f, 5001);
    add_user (&f, "user", 5001, false);
    cr_assert_eq (pay (&f), VALIDATE_BAD_AMOUNT, "missing amount, before self");
    int64_t bad[] = {0, -1, MAX_PAY + 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture_init (&f, 5001);
        add_int (&f, "amount", bad[i]);
        add_user (&f, "user", 5002, false);
        cr_assert_eq (pay (&f), VALIDATE_BAD_AMOUNT, "amount %" PRId64, bad[i]);
    }
    fixture_init (&f, 5001);
    add_string (&f, "amount", "25");
    add_user (&f, "user", 5002, false);
    cr_assert_eq (pay (&f), VALIDATE_BAD_AMOUNT, "a STRING is not a whole number");
}

Test (command_validate, pay_user_checks)
{
    fixture_t f;
    fixture_init (&f, 5001);
    add_int (&f, "amount", 25);
    cr_assert_eq (pay (&f), VALIDATE_NO_USER);
    add_user (&f, "user", 5001, false);
    cr_assert_eq (pay (&f), VALIDATE_SELF);
    fixture_init (&f, 5001);
    add_int (&f, "amount", 25);
    add_user (&f, "user", 9, true);
    cr_assert_eq (pay (&f), VALIDATE_BOT);
    fixture_init (&f, 5001);
    add_int (&f, "amount", MAX_PAY);
    add_user (&f, "user", 5002, false);
    uint64_t target = 0;
    int64_t value = 0;
    cr_assert_eq (validate_pay (&f.request, MAX_PAY, &target, &value), VALIDATE_OK);
    cr_assert_eq (target, 5002);
    cr_assert_eq (value, MAX_PAY);
}

Test (command_validate, refusal_texts)
{
    char out[RENDER_TEXT_LEN];
    cr_assert_str_eq (validate_text (VALIDATE_SELF, MAX_PAY, out, sizeof out),
                      "You cannot pay yourself.");
    cr_assert_str_eq (validate_text (VALIDATE_BOT, MAX_PAY, out, sizeof out),
                      "You cannot pay a bot.");
    cr_assert_str_eq (validate_text (VALIDATE_BAD_AMOUNT, 5000, out, sizeof out),
                      "The amount must be a whole number from 1 to 5,000.");
}

static validate_result_t
grant (fixture_t *f, uint64_t *target, int64_t *value)
{
    return validate_grant (&f->request, MAX_PAY, target, value);
}

//  An admin's /grant to user of amount, with these permission bits.
static void
grant_fixture (fixture_t *f, uint64_t permissions, int64_t amount, uint64_t user, bool bot)
{
    fixture_init (f, 9001);
    f->request.member_permissions = permissions;
    add_int (f, "amount", amount);
    add_user (f, "user", user, bot);
}

Test (command_validate, grant_needs_manage_server_or_administrator)
{
    fixture_t f;
    uint64_t target = 0;
    int64_t value = 0;
    uint64_t denied[] = {0, 1u << 4, 1u << 6, (uint64_t) 1 << 40,
                         ~(uint64_t) ((1u << 3) | (1u << 5))};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        grant_fixture (&f, denied[i], 500, 5001, false);
        cr_assert_eq (grant (&f, &target, &value), VALIDATE_GRANT_DENIED, "permissions %" PRIu64,
                      denied[i]);
    }
    uint64_t allowed[] = {1u << 5, 1u << 3, (1u << 3) | (1u << 5),
                          (1u << 5) | ((uint64_t) 1 << 40)};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        grant_fixture (&f, allowed[i], -500, 5001, false);
        target = 0;
        value = 0;
        cr_assert_eq (grant (&f, &target, &value), VALIDATE_OK, "permissions %" PRIu64, allowed[i]);
        cr_assert_eq (target, 5001);
        cr_assert_eq (value, -500, "a burn keeps its sign");
    }
    //  Permission comes first: a member without it learns nothing else.
    fixture_init (&f, 9001);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_GRANT_DENIED);
    cr_assert_eq (validate_status (VALIDATE_GRANT_DENIED),
                  CORDBANK__STATUS__STATUS_PERMISSION_DENIED);
}

Test (command_validate, grant_amount_and_user)
{
    fixture_t f;
    uint64_t target = 0;
    int64_t value = 0;
    uint64_t admin = 1u << 5;
    int64_t bad[] = {0, MAX_PAY + 1, -MAX_PAY - 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grant_fixture (&f, admin, bad[i], 5001, false);
        cr_assert_eq (grant (&f, &target, &value), VALIDATE_BAD_GRANT_AMOUNT, "amount %" PRId64,
                      bad[i]);
    }
    grant_fixture (&f, admin, MAX_PAY, 5001, false);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_OK);
    cr_assert_eq (value, MAX_PAY);
    grant_fixture (&f, admin, -MAX_PAY, 5001, false);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_OK);
    cr_assert_eq (value, -MAX_PAY);
    grant_fixture (&f, admin, 5, 5001, true);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_GRANT_BOT);
    grant_fixture (&f, admin, 5, 9001, false);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_OK, "an admin may grant to themselves");
    fixture_init (&f, 9001);
    f.request.member_permissions = admin;
    add_int (&f, "amount", 5);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_GRANT_NO_USER);
    add_int (&f, "user", 5001);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_BAD_USER);
    fixture_init (&f, 9001);
    f.request.member_permissions = admin;
    add_string (&f, "amount", "5");
    add_user (&f, "user", 5001, false);
    cr_assert_eq (grant (&f, &target, &value), VALIDATE_BAD_GRANT_AMOUNT);
}

Test (command_validate, history_target)
{
    fixture_t f;
    uint64_t target = 0;
    fixture_init (&f, 5001);
    cr_assert_eq (validate_history (&f.request, &target), VALIDATE_OK);
    cr_assert_eq (target, 5001, "the invoker by default");
    add_user (&f, "user", 5002, false);
    cr_assert_eq (validate_history (&f.request, &target), VALIDATE_OK);
    cr_assert_eq (target, 5002, "another member's history may be read");
    fixture_init (&f, 5001);
    add_string (&f, "user", "5002");
    cr_assert_eq (validate_history (&f.request, &target), VALIDATE_BAD_USER);
}

Test (command_validate, leaderboard_page)
{
    fixture_t f;
    uint32_t page = 0;
    fixture_init (&f, 5001);
    cr_assert_eq (validate_leaderboard (&f.request, &page), VALIDATE_OK);
    cr_assert_eq (page, 1, "page 1 by default");
    int64_t good[] = {1, 2, VALIDATE_PAGE_MAX};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fixture_init (&f, 5001);
        add_int (&f, "page", good[i]);
        cr_assert_eq (validate_leaderboard (&f.request, &page), VALIDATE_OK);
        cr_assert_eq (page, good[i]);
    }
    int64_t bad[] = {0, -1, VALIDATE_PAGE_MAX + 1, INT64_MIN, INT64_MAX, (int64_t) UINT32_MAX + 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture_init (&f, 5001);
        add_int (&f, "page", bad[i]);
        cr_assert_eq (validate_leaderboard (&f.request, &page), VALIDATE_BAD_PAGE, "page %" PRId64,
                      bad[i]);
    }
    fixture_init (&f, 5001);
    add_string (&f, "page", "2");
    cr_assert_eq (validate_leaderboard (&f.request, &page), VALIDATE_BAD_PAGE);
}

Test (command_validate, new_refusal_texts)
{
    char out[RENDER_TEXT_LEN];
    cr_assert_str_eq (validate_text (VALIDATE_GRANT_DENIED, MAX_PAY, out, sizeof out),
                      "You need the Manage Server permission to use /grant.");
    cr_assert_str_eq (validate_text (VALIDATE_BAD_GRANT_AMOUNT, 5000, out, sizeof out),
                      "The amount must be a whole number from 1 to 5,000 to grant, or from -1 to "
                      "-5,000 to remove.");
    cr_assert_str_eq (validate_text (VALIDATE_GRANT_NO_USER, MAX_PAY, out, sizeof out),
                      "Choose the member whose balance you want to change.");
    cr_assert_str_eq (validate_text (VALIDATE_GRANT_BOT, MAX_PAY, out, sizeof out),
                      "Bots cannot hold coins; choose a member.");
    cr_assert_str_eq (validate_text (VALIDATE_BAD_PAGE, MAX_PAY, out, sizeof out),
                      "The page must be a whole number from 1 to 1,000.");
    cr_assert_eq (validate_status (VALIDATE_BAD_PAGE), CORDBANK__STATUS__STATUS_INVALID_ARGUMENT);
}
