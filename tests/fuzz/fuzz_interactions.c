/*  fuzz_interactions — POST /interactions as the gateway checks it:
 *  gw_interaction_check on the two signature headers and the body.
 *
 *  Input: one flag byte, then "TIMESTAMP\n" and the body; without
 *  SIGN_HERE, the X-Signature-Ed25519 header's text comes as a second line
 *  between them. With SIGN_HERE the target signs TIMESTAMP || body itself
 *  with the development key pair (the simulator's, whose public half is
 *  the gateway's default --public-key), so half the inputs get past the
 *  signature to the JSON. OMIT_SIGNATURE and OMIT_TIMESTAMP leave a header
 *  out, as a request without it would.
 *
 *  The handler's replay window (gw_timestamp_check) is checked on the
 *  timestamp header too, at a fixed "now".
 *
 *  Oracles: a request the target signed, with both headers and a
 *  timestamp, is never refused as unauthorized; one refused as unauthorized
 *  was never parsed; a command carries what discord_json.h promises, packs
 *  to a CommandRequest that decodes again (it travels to command), and goes
 *  through what command decides from it alone (command_path.h).
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.pb-c.h"
#include "services/gateway/interaction_check.h"
#include "tests/fuzz/command_path.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

enum { SIGN_HERE = 1, OMIT_SIGNATURE = 2, OMIT_TIMESTAMP = 4 };

#define DEV_SEED   "e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e"
#define HEADER_MAX 256
#define MAX_PAY    INT64_C (1000000000000)
#define NOW_S      INT64_C (1733450000) // the seeds' X-Signature-Timestamp
#define MAX_SKEW_S 300                  // the gateway's --interaction-max-skew-s

static uint8_t s_secret[crypto_sign_SECRETKEYBYTES];
static uint8_t s_key[GW_PUBLIC_KEY_BYTES]; // as the gateway parses --public-key

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    uint8_t seed[crypto_sign_SEEDBYTES], public[crypto_sign_PUBLICKEYBYTES];
    assert (sodium_init () >= 0);
    assert (sodium_hex2bin (seed, sizeof seed, DEV_SEED, strlen (DEV_SEED), NULL, NULL, NULL) == 0);
    assert (crypto_sign_seed_keypair (public, s_secret, seed) == 0);
    char err[128];
    assert (gw_public_key_parse (GW_DEV_PUBLIC_KEY, s_key, err, sizeof err) == 0);
    assert (memcmp (public, s_key, sizeof s_key) == 0);
    return 0;
}

//  The text up to the next '\n' (at most HEADER_MAX - 1 bytes, cut at a
//  NUL as a header would be) into out; advances *data and *size past it.
static void
take_line (const uint8_t **data, size_t *size, char out[HEADER_MAX])
{
    const uint8_t *nl = memchr (*data, '\n', *size);
    size_t len = nl ? (size_t) (nl - *data) : *size;
    size_t keep = len < HEADER_MAX - 1 ? len : HEADER_MAX - 1;
    memcpy (out, *data, keep);
    out[keep] = '\0';
    *data += nl ? len + 1 : len;
    *size -= nl ? len + 1 : len;
}

//  Discord's signature of timestamp || body with the development key, in hex.
static void
sign (const char *timestamp, const uint8_t *body, size_t size, char out[HEADER_MAX])
{
    size_t ts_len = strlen (timestamp);
    uint8_t *message = malloc (ts_len + size + 1), signature[crypto_sign_BYTES];
    assert (message);
    memcpy (message, timestamp, ts_len);
    if (size)
        memcpy (message + ts_len, body, size);
    crypto_sign_detached (signature, NULL, message, ts_len + size, s_secret);
    sodium_bin2hex (out, HEADER_MAX, signature, sizeof signature);
    free (message);
}

//  What happens to an accepted command: packed to command, read there.
static void
forward (const Cordbank__CommandRequest *cmd)
{
    assert (cmd->interaction_id > 0 && cmd->application_id > 0 && cmd->user_id > 0);
    assert (*cmd->interaction_token && *cmd->command_name);
    size_t size = cordbank__command_request__get_packed_size (cmd);
    uint8_t *bytes = malloc (size + 1);
    assert (bytes && cordbank__command_request__pack (cmd, bytes) == size);
    Cordbank__CommandRequest *received = cordbank__command_request__unpack (NULL, size, bytes);
    assert (received && received->guild_id == cmd->guild_id);
    fuzz_command_path (received, MAX_PAY);
    cordbank__command_request__free_unpacked (received, NULL);
    free (bytes);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int flags = data[0];
    data++, size--;
    char timestamp[HEADER_MAX], signature[HEADER_MAX];
    take_line (&data, &size, timestamp);
    if (flags & SIGN_HERE)
        sign (timestamp, data, size, signature);
    else
        take_line (&data, &size, signature);
    //  A body copied to a buffer of its own size, so ASan sees any overread.
    uint8_t *body = malloc (size ? size : 1);
    assert (body);
    memcpy (body, data, size);
    gw_interaction_t parsed;
    char err[200];
    gw_check_t check = gw_interaction_check (s_key, flags & OMIT_SIGNATURE ? NULL : signature,
                                             flags & OMIT_TIMESTAMP ? NULL : timestamp, body, size,
                                             &parsed, err, sizeof err);
    //  The replay window the handler applies to a signed request, at the
    //  seeds' time: only a timestamp of digits within the window passes.
    const char *ts = flags & OMIT_TIMESTAMP ? NULL : timestamp;
    char why[200];
    if (gw_timestamp_check (ts, NOW_S, MAX_SKEW_S, why, sizeof why) == 0)
        assert (strspn (ts, "0123456789") == strlen (ts) &&
                llabs (strtoll (ts, NULL, 10) - NOW_S) <= MAX_SKEW_S);
    else
        assert (*why);
    bool signed_here = (flags & SIGN_HERE) && !(flags & (OMIT_SIGNATURE | OMIT_TIMESTAMP));
    if (signed_here && *timestamp)
        assert (check != GW_CHECK_UNAUTHORIZED);
    switch (check) {
    case GW_CHECK_UNAUTHORIZED:
        assert (parsed.type == 0 && !parsed.command && *err);
        break;
    case GW_CHECK_BAD_REQUEST:
        assert (!parsed.command || parsed.type == 2);
        assert (*err);
        break;
    case GW_CHECK_PING:
        assert (parsed.type == GW_INTERACTION_PING && !parsed.command);
        break;
    case GW_CHECK_COMMAND:
        assert (parsed.type == GW_INTERACTION_APPLICATION_COMMAND && parsed.command);
        forward (parsed.command);
        break;
    }
    gw_interaction_clear (&parsed);
    free (body);
    return 0;
}
