/*  hex: exact length, every character read, nothing skipped. */
#include <criterion/criterion.h>

#include "common/hex.h"

Test (hex, decodes_exact_input)
{
    uint8_t out[3];
    cr_assert (cb_hex_decode ("00aBff", out, sizeof out));
    cr_assert (out[0] == 0x00 && out[1] == 0xab && out[2] == 0xff);
}

Test (hex, refuses_anything_else)
{
    uint8_t out[3];
    cr_assert_not (cb_hex_decode (NULL, out, sizeof out));
    cr_assert_not (cb_hex_decode ("00abf", out, sizeof out), "too short");
    cr_assert_not (cb_hex_decode ("00abff00", out, sizeof out), "too long");
    cr_assert_not (cb_hex_decode ("00abfg", out, sizeof out), "not hex");
    cr_assert_not (cb_hex_decode ("00 abf", out, sizeof out), "a space is not skipped");
    cr_assert_not (cb_hex_decode ("", out, sizeof out));
}
