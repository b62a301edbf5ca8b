/*  render (command service): numbers with thousands separators, cooldown
 *  durations, and the exact reply texts. Needs services/command/render.o
 *  linked into the runner (pure: no sockets, no clock).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "services/command/render.h"

#define MAX_PAY INT64_C (1000000000000)

static const char *
amount (int64_t value)
{
    static char out[RENDER_AMOUNT_LEN];
    return render_amount (out, sizeof out, value);
}

static const char *
duration (int64_t ms)
{
    static char out[RENDER_DURATION_LEN];
    return render_duration (out, sizeof out, ms);
}

Test (render, amount_has_thousands_separators)
{
    cr_assert_str_eq (amount (0), "0");
    cr_assert_str_eq (amount (7), "7");
    cr_assert_str_eq (amount (999), "999");
    cr_assert_str_eq (amount (1000), "1,000");
    cr_assert_str_eq (amount (100000), "100,000");
    cr_assert_str_eq (amount (1234567), "1,234,567");
    cr_assert_str_eq (amount (MAX_PAY), "1,000,000,000,000");
}

Test (render, amount_negative_and_extremes)
{
    cr_assert_str_eq (amount (-1), "-1");
    cr_assert_str_eq (amount (-999), "-999");
    cr_assert_str_eq (amount (-1234), "-1,234");
    cr_assert_str_eq (amount (-1000000), "-1,000,000");
    cr_assert_str_eq (amount (INT64_MAX), "9,223,372,036,854,775,807");
    cr_assert_str_eq (amount (INT64_MIN), "-9,223,372,036,854,775,808");
}

Test (render, duration_hours_round_down)
{
    cr_assert_str_eq (duration (86400000 - 5), "23h 59m", "just after a claim");
    cr_assert_str_eq (duration (86400000), "24h 00m");
    cr_assert_str_eq (duration (3600000), "1h 00m");
    cr_assert_str_eq (duration (3600000 + 61000), "1h 01m");
    cr_assert_str_eq (duration (INT64_MAX), "2562047788015h 12m");
}

Test (render, duration_minutes_round_up_never_zero)
{
    cr_assert_str_eq (duration (3599999), "59m 59s");
    cr_assert_str_eq (duration (65000), "1m 05s");
    cr_assert_str_eq (duration (1001), "0m 02s");
    cr_assert_str_eq (duration (1000), "0m 01s");
    cr_assert_str_eq (duration (1), "0m 01s");
    cr_assert_str_eq (duration (0), "0m 01s");
    cr_assert_str_eq (duration (-5000), "0m 01s", "clock skew");
    cr_assert_str_eq (duration (INT64_MIN), "0m 01s");
}

Test (render, texts)
{
    char out[RENDER_TEXT_LEN];
    int64_t balance = 1250;
    cr_assert_str_eq (render_balance (out, sizeof out, 5001, 1234567),
                      "<@5001> has 1,234,567 coins.");
    cr_assert_str_eq (render_balance (out, sizeof out, UINT64_MAX, -5),
                      "<@18446744073709551615> has -5 coins.");
    cr_assert_str_eq (render_daily_claimed (out, sizeof out, 100, &balance),
                      "You claimed your daily 100 coins. Your balance is 1,250 coins.");
    cr_assert_str_eq (render_daily_cooldown (out, sizeof out, 86399000),
                      "You already claimed your daily reward. Try again in 23h 59m.");
    cr_assert_str_eq (render_paid (out, sizeof out, 5001, 5002, 25, &balance),
                      "<@5001> paid <@5002> 25 coins. Your balance is 1,250 coins.");
    cr_assert_str_eq (render_insufficient (out, sizeof out, &balance, 5000),
                      "Insufficient funds: you have 1,250 coins and tried to pay 5,000.");
    cr_assert_str_eq (render_bad_amount (out, sizeof out, MAX_PAY),
                      "The amount must be a whole number from 1 to 1,000,000,000,000.");
    cr_assert_str_eq (render_unknown_command (out, sizeof out, "rob"), "Unknown command: /rob.");
}

Test (render, texts_without_a_balance)
{
    char out[RENDER_TEXT_LEN];
    cr_assert_str_eq (render_daily_claimed (out, sizeof out, 100, NULL),
                      "You claimed your daily 100 coins.");
    cr_assert_str_eq (render_paid (out, sizeof out, 1, 2, 3, NULL), "<@1> paid <@2> 3 coins.");
    cr_assert_str_eq (render_insufficient (out, sizeof out, NULL, 3),
                      "Insufficient funds: you tried to pay 3.");
}

Test (render, unknown_command_long_name_cut_on_utf8_boundary)
{
    char name[300], out[RENDER_TEXT_LEN];
    //  99 ASCII bytes then 2-byte characters: byte 100 is the middle of one.
    memset (name, 'a', 99);
    for (int i = 99; i < 299; i += 2) {
        name[i] = (char) 0xC3;
        name[i + 1] = (char) 0xA9;
    }
    name[299] = '\0';
    render_unknown_command (out, sizeof out, name);
    cr_assert_eq (strlen (out), strlen ("Unknown command: /.") + 99);
    cr_assert_eq (out[strlen (out) - 1], '.');
}
