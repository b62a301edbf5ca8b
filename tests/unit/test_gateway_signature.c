/*  gateway_signature (gateway service): Discord's Ed25519 signature over
 *  timestamp || body, and the public key option. Needs
 *  services/gateway/signature.o linked into the runner.
 *
 *  Requests are signed here with libsodium from the development seed (the
 *  one the Discord simulator uses by default), so a valid case is a real
 *  signature and every invalid one differs from it in one way.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "services/gateway/signature.h"

#define DEV_SEED "e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e"
#define SIG_HEX  (2 * crypto_sign_BYTES)

static const char TIMESTAMP[] = "1700000000";
static const char BODY[] =
    "{\"type\":2,\"id\":\"1000000000000000001\",\"data\":{\"name\":\"pay\"}}";

static uint8_t s_secret[crypto_sign_SECRETKEYBYTES];
static uint8_t s_public[crypto_sign_PUBLICKEYBYTES];
static uint8_t s_key[GW_PUBLIC_KEY_BYTES]; // as the gateway parses it

static void
setup (void)
{
    cr_assert_geq (sodium_init (), 0);
    uint8_t seed[crypto_sign_SEEDBYTES];
    cr_assert_eq (sodium_hex2bin (seed, sizeof seed, DEV_SEED, strlen (DEV_SEED), NULL, NULL, NULL),
                  0);
    cr_assert_eq (crypto_sign_seed_keypair (s_public, s_secret, seed), 0);
    char err[128] = "";
    cr_assert_eq (gw_public_key_parse (GW_DEV_PUBLIC_KEY, s_key, err, sizeof err), 0, "%s", err);
}

//  The hex signature of timestamp || body with secret.
static void
sign (const uint8_t *secret, const char *timestamp, const void *body, size_t size,
      char out[SIG_HEX + 1])
{
    size_t ts_len = strlen (timestamp);
    uint8_t message[1024], signature[crypto_sign_BYTES];
    cr_assert_leq (ts_len + size, sizeof message);
    memcpy (message, timestamp, ts_len);
    memcpy (message + ts_len, body, size);
    crypto_sign_detached (signature, NULL, message, ts_len + size, secret);
    sodium_bin2hex (out, SIG_HEX + 1, signature, sizeof signature);
}

static bool
valid (const char *signature_hex, const char *timestamp, const char *body)
{
    return gw_signature_valid (s_key, signature_hex, timestamp, (const uint8_t *) body,
                               body ? strlen (body) : 0);
}

TestSuite (gateway_signature, .init = setup);

Test (gateway_signature, dev_key_is_the_seeds_public_half)
{
    cr_assert_eq (memcmp (s_key, s_public, sizeof s_key), 0);
}

Test (gateway_signature, valid_signature_is_accepted)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    cr_assert (valid (sig, TIMESTAMP, BODY));
}

Test (gateway_signature, empty_body_signs_the_timestamp_alone)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, "", 0, sig);
    cr_assert (gw_signature_valid (s_key, sig, TIMESTAMP, NULL, 0));
    cr_assert_not (valid (sig, TIMESTAMP, "{}"));
}

//  The signature covers the two as one message: moving bytes from the
//  timestamp to the body keeps it valid, which is how Discord defines it.
Test (gateway_signature, message_is_timestamp_then_body)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, "1700000000", "{}", 2, sig);
    cr_assert (valid (sig, "170000", "0000{}"));
    cr_assert_not (valid (sig, "{}", "1700000000"), "the order matters");
}

Test (gateway_signature, any_flipped_bit_is_refused)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    uint8_t raw[crypto_sign_BYTES];
    cr_assert_eq (sodium_hex2bin (raw, sizeof raw, sig, SIG_HEX, NULL, NULL, NULL), 0);
    for (size_t bit = 0; bit < 8 * sizeof raw; bit += 7) {
        raw[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        char flipped[SIG_HEX + 1];
        sodium_bin2hex (flipped, sizeof flipped, raw, sizeof raw);
        cr_assert_not (valid (flipped, TIMESTAMP, BODY), "bit %zu flipped", bit);
        raw[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    char body[sizeof BODY];
    memcpy (body, BODY, sizeof BODY);
    body[10] ^= 1;
    cr_assert_not (valid (sig, TIMESTAMP, body), "a changed body");
}

Test (gateway_signature, wrong_timestamp_is_refused)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    cr_assert_not (valid (sig, "1700000001", BODY));
    cr_assert_not (valid (sig, "1700000000 ", BODY));
    cr_assert_not (valid (sig, "", BODY));
}

Test (gateway_signature, another_key_is_refused)
{
    uint8_t other_public[crypto_sign_PUBLICKEYBYTES], other_secret[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair (other_public, other_secret);
    char sig[SIG_HEX + 1];
    sign (other_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    cr_assert_not (valid (sig, TIMESTAMP, BODY));
    cr_assert (
        gw_signature_valid (other_public, sig, TIMESTAMP, (const uint8_t *) BODY, strlen (BODY)));
}

Test (gateway_signature, bad_hex_is_refused)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    static const char not_hex[] = {'g', 'z', ' ', ':', '-', '\n'};
    for (size_t i = 0; i < sizeof not_hex; i++) {
        char bad[SIG_HEX + 1];
        memcpy (bad, sig, sizeof bad);
        bad[SIG_HEX / 2] = not_hex[i];
        cr_assert_not (valid (bad, TIMESTAMP, BODY), "a '%c' in the hex", not_hex[i]);
    }
}

Test (gateway_signature, wrong_length_is_refused)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    char longer[SIG_HEX + 3];
    snprintf (longer, sizeof longer, "%s00", sig);
    cr_assert_not (valid (longer, TIMESTAMP, BODY), "two extra hex digits");
    snprintf (longer, sizeof longer, "%s0", sig);
    cr_assert_not (valid (longer, TIMESTAMP, BODY), "one extra hex digit");
    sig[SIG_HEX - 1] = '\0';
    cr_assert_not (valid (sig, TIMESTAMP, BODY), "one hex digit short");
    sig[SIG_HEX - 2] = '\0';
    cr_assert_not (valid (sig, TIMESTAMP, BODY), "one byte short");
    cr_assert_not (valid ("", TIMESTAMP, BODY));
}

Test (gateway_signature, missing_signature_or_timestamp_is_refused)
{
    char sig[SIG_HEX + 1];
    sign (s_secret, TIMESTAMP, BODY, strlen (BODY), sig);
    cr_assert_not (valid (NULL, TIMESTAMP, BODY));
    cr_assert_not (valid (sig, NULL, BODY));
    //  Even with a signature of the body alone: Discord always sends one.
    sign (s_secret, "", BODY, strlen (BODY), sig);
    cr_assert_not (valid (sig, "", BODY));
}

Test (gateway_signature, public_key_must_be_64_hex)
{
    static const char reason[] = "must be 64 hex characters (the application's Ed25519 public key)";
    uint8_t key[GW_PUBLIC_KEY_BYTES];
    char err[128], hex[80];
    cr_assert_eq (gw_public_key_parse (NULL, key, err, sizeof err), -1);
    cr_assert_str_eq (err, reason);
    cr_assert_eq (gw_public_key_parse ("", key, err, sizeof err), -1);
    cr_assert_str_eq (err, reason);
    snprintf (hex, sizeof hex, "%.63s", GW_DEV_PUBLIC_KEY);
    cr_assert_eq (gw_public_key_parse (hex, key, err, sizeof err), -1, "63 characters");
    cr_assert_str_eq (err, reason);
    snprintf (hex, sizeof hex, "%s0", GW_DEV_PUBLIC_KEY);
    cr_assert_eq (gw_public_key_parse (hex, key, err, sizeof err), -1, "65 characters");
    cr_assert_str_eq (err, reason);
    snprintf (hex, sizeof hex, "%s", GW_DEV_PUBLIC_KEY);
    hex[0] = 'x';
    cr_assert_eq (gw_public_key_parse (hex, key, err, sizeof err), -1, "not hex");
    cr_assert_str_eq (err, reason);
}

Test (gateway_signature, public_key_must_be_a_usable_point)
{
    uint8_t key[GW_PUBLIC_KEY_BYTES];
    char err[128];
    //  The identity and a point of order 4: small-order keys accept forged
    //  signatures, so libsodium refuses them.
    static const char *const weak[] = {
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq (gw_public_key_parse (weak[i], key, err, sizeof err), -1, "%s", weak[i]);
        cr_assert_str_eq (err, "is not a valid Ed25519 public key");
    }
}

//  ---------------------------------------------------------------------------
//  The replay window: X-Signature-Timestamp within max_skew_s of now.

#define NOW 1700000000

static const char *
skew_refusal (const char *timestamp, int64_t max_skew_s)
{
    static char err[200];
    *err = '\0';
    int rc = gw_timestamp_check (timestamp, NOW, max_skew_s, err, sizeof err);
    cr_assert_eq (rc == 0, *err == '\0', "rc %d with \"%s\"", rc, err);
    return err;
}

Test (gateway_signature, timestamps_inside_the_window_pass)
{
    cr_assert_str_empty (skew_refusal ("1700000000", GW_MAX_SKEW_S));
    cr_assert_str_empty (skew_refusal ("1699999700", GW_MAX_SKEW_S)); // 300 s old
    cr_assert_str_empty (skew_refusal ("1700000300", GW_MAX_SKEW_S)); // 300 s ahead
}

Test (gateway_signature, timestamps_outside_the_window_are_replays)
{
    cr_assert_str_eq (skew_refusal ("1699999699", GW_MAX_SKEW_S),
                      "X-Signature-Timestamp is 301 s old (more than 300 s): refused as a replay");
    cr_assert_str_eq (
        skew_refusal ("1700000301", GW_MAX_SKEW_S),
        "X-Signature-Timestamp is 301 s in the future (more than 300 s): refused as a replay");
    cr_assert_str_not_empty (skew_refusal ("0", GW_MAX_SKEW_S));
    cr_assert_str_not_empty (skew_refusal ("1700000006", 5));
    cr_assert_str_empty (skew_refusal ("1700000005", 5));
}

Test (gateway_signature, timestamps_that_are_not_unix_seconds_are_refused)
{
    const char *bad[] = {"",
                         "now",
                         "-5",
                         " 1700000000",
                         "1700000000 ",
                         "1700000000.5",
                         "+1700000000",
                         "9999999999999",
                         "0x65"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_str_eq (skew_refusal (bad[i], GW_MAX_SKEW_S),
                          "X-Signature-Timestamp is not a time in Unix seconds", "\"%s\"", bad[i]);
    char err[100];
    cr_assert_eq (gw_timestamp_check (NULL, NOW, GW_MAX_SKEW_S, err, sizeof err), -1);
}

//  What the gateway does: a valid signature from outside the window is
//  still refused (the signature covers the timestamp, so it cannot be
//  refreshed without the key).
Test (gateway_signature, a_valid_signature_does_not_excuse_a_stale_timestamp)
{
    char sig[SIG_HEX + 1], err[200];
    const char *stale = "1699990000";
    sign (s_secret, stale, BODY, strlen (BODY), sig);
    cr_assert (valid (sig, stale, BODY));
    cr_assert_eq (gw_timestamp_check (stale, NOW, GW_MAX_SKEW_S, err, sizeof err), -1);
    cr_assert_not (valid (sig, "1700000000", BODY));
}
