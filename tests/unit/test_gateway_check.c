/*  gateway_check (gateway service): what POST /interactions makes of a
 *  request, from its signature headers and body alone. Needs
 *  services/gateway/interaction_check.o, discord_json.o and signature.o
 *  linked into the runner.
 *
 *  Requests are signed with the development seed, as in
 *  test_gateway_signature.c; the cases follow the handler's order: the
 *  signature first (an unsigned body is never parsed), then the JSON.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "services/gateway/interaction_check.h"

#define DEV_SEED "e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e"
#define SIG_HEX  (2 * crypto_sign_BYTES)

static const char TIMESTAMP[] = "1700000000";
static const char COMMAND[] =
    "{\"type\":2,\"id\":\"1000000000000000001\",\"application_id\":\"42\",\"token\":\"tok\","
    "\"guild_id\":\"7001\",\"member\":{\"user\":{\"id\":\"5001\"}},\"data\":{\"name\":\"daily\"}}";

static uint8_t s_secret[crypto_sign_SECRETKEYBYTES];
static uint8_t s_key[GW_PUBLIC_KEY_BYTES];

static void
setup (void)
{
    uint8_t seed[crypto_sign_SEEDBYTES], public[crypto_sign_PUBLICKEYBYTES];
    cr_assert_geq (sodium_init (), 0);
    cr_assert_eq (sodium_hex2bin (seed, sizeof seed, DEV_SEED, strlen (DEV_SEED), NULL, NULL, NULL),
                  0);
    cr_assert_eq (crypto_sign_seed_keypair (public, s_secret, seed), 0);
    char err[128] = "";
    cr_assert_eq (gw_public_key_parse (GW_DEV_PUBLIC_KEY, s_key, err, sizeof err), 0, "%s", err);
}

static void
sign (const char *body, char out[SIG_HEX + 1])
{
    uint8_t message[1024], signature[crypto_sign_BYTES];
    size_t ts_len = strlen (TIMESTAMP), size = strlen (body);
    cr_assert_leq (ts_len + size, sizeof message);
    memcpy (message, TIMESTAMP, ts_len);
    memcpy (message + ts_len, body, size);
    crypto_sign_detached (signature, NULL, message, ts_len + size, s_secret);
    sodium_bin2hex (out, SIG_HEX + 1, signature, sizeof signature);
}

//  The check of body with the given headers; *out must be cleared.
static gw_check_t
check (const char *signature, const char *timestamp, const char *body, gw_interaction_t *out,
       char *err, size_t errlen)
{
    return gw_interaction_check (s_key, signature, timestamp, (const uint8_t *) body, strlen (body),
                                 out, err, errlen);
}

TestSuite (gateway_check, .init = setup);

Test (gateway_check, missing_or_bad_signature_is_unauthorized_and_not_parsed)
{
    char sig[SIG_HEX + 1], err[200];
    sign (COMMAND, sig);
    const char *cases[][2] = {{NULL, TIMESTAMP}, {sig, NULL}, {sig, ""}, {sig, "1700000001"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_interaction_t it;
        cr_assert_eq (check (cases[i][0], cases[i][1], COMMAND, &it, err, sizeof err),
                      GW_CHECK_UNAUTHORIZED, "case %zu", i);
        cr_assert_str_eq (err, "invalid request signature");
        cr_assert_eq (it.type, 0, "an unsigned body is never parsed");
        cr_assert_null (it.command);
        gw_interaction_clear (&it);
    }
}

Test (gateway_check, signed_ping_is_a_ping)
{
    char sig[SIG_HEX + 1], err[200];
    sign ("{\"type\":1}", sig);
    gw_interaction_t it;
    cr_assert_eq (check (sig, TIMESTAMP, "{\"type\":1}", &it, err, sizeof err), GW_CHECK_PING);
    cr_assert_eq (it.type, GW_INTERACTION_PING);
    cr_assert_null (it.command);
    gw_interaction_clear (&it);
}

Test (gateway_check, signed_command_is_parsed)
{
    char sig[SIG_HEX + 1], err[200];
    sign (COMMAND, sig);
    gw_interaction_t it;
    cr_assert_eq (check (sig, TIMESTAMP, COMMAND, &it, err, sizeof err), GW_CHECK_COMMAND);
    cr_assert_not_null (it.command);
    cr_assert_str_eq (it.command->command_name, "daily");
    cr_assert_eq (it.command->guild_id, 7001);
    gw_interaction_clear (&it);
    cr_assert_null (it.command);
}

Test (gateway_check, signed_but_malformed_is_a_bad_request_with_its_type)
{
    char sig[SIG_HEX + 1], err[200];
    gw_interaction_t it;
    sign ("{\"type\":3}", sig);
    cr_assert_eq (check (sig, TIMESTAMP, "{\"type\":3}", &it, err, sizeof err),
                  GW_CHECK_BAD_REQUEST);
    cr_assert_str_eq (err, "unsupported interaction type 3");
    cr_assert_eq (it.type, 3, "the type is kept for the metrics label");
    gw_interaction_clear (&it);
    sign ("{", sig);
    cr_assert_eq (check (sig, TIMESTAMP, "{", &it, err, sizeof err), GW_CHECK_BAD_REQUEST);
    cr_assert_eq (it.type, 0);
    gw_interaction_clear (&it);
}
