/*  signer — Ed25519 signing of interactions with libsodium.
 *
 *  The key pair is derived once from the seed (crypto_sign_seed_keypair);
 *  each request costs one crypto_sign_detached over a scratch buffer that
 *  holds timestamp || body.
 */
#include "load/discord-sim/signer.h"
#include "load/discord-sim/selftest.h"
#include "common/clock.h"
#include "common/hex.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_signer {
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
};

sim_signer_t *
sim_signer_new (const char *seed_hex)
{
    assert (seed_hex);
    unsigned char seed[crypto_sign_SEEDBYTES];
    if (sodium_init () < 0 || !cb_hex_decode (seed_hex, seed, sizeof seed))
        return NULL;
    sim_signer_t *self = calloc (1, sizeof *self);
    if (self)
        crypto_sign_seed_keypair (self->public_key, self->secret_key, seed);
    sodium_memzero (seed, sizeof seed);
    return self;
}

void
sim_signer_destroy (sim_signer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_memzero (*self_p, sizeof **self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void
sim_signer_public_hex (const sim_signer_t *self, char *out)
{
    assert (self && out);
    sodium_bin2hex (out, SIM_PUBLIC_KEY_HEX_LEN + 1, self->public_key, sizeof self->public_key);
}

void
sim_signer_sign_hex (const sim_signer_t *self, const char *timestamp, const char *body,
                     size_t body_len, bool corrupt, char *out)
{
    assert (self && timestamp && (body || body_len == 0) && out);
    size_t ts_len = strlen (timestamp);
    unsigned char *message = malloc (ts_len + body_len + 1);
    unsigned char signature[crypto_sign_BYTES] = {0};
    //  Out of memory leaves an all-zero signature, which the gateway refuses.
    if (message) {
        memcpy (message, timestamp, ts_len);
        if (body_len)
            memcpy (message + ts_len, body, body_len);
        crypto_sign_detached (signature, NULL, message, ts_len + body_len, self->secret_key);
        free (message);
    }
    if (corrupt)
        signature[0] ^= 1;
    sodium_bin2hex (out, SIM_SIGNATURE_HEX_LEN + 1, signature, sizeof signature);
}

static void
add_line (sim_headers_t *out, const char *name, const char *value)
{
    assert (out->count < sizeof out->lines / sizeof out->lines[0]);
    snprintf (out->lines[out->count++], sizeof out->lines[0], "%s:%s%s", name, *value ? " " : "",
              value);
}

void
sim_signer_headers (const sim_signer_t *self, const char *body, size_t body_len,
                    const char *timestamp, int flags, sim_headers_t *out)
{
    assert (self && out);
    out->count = 0;
    add_line (out, "Content-Type", "application/json");
    add_line (out, "Expect", "");
    if (flags & SIM_SIGN_OMIT)
        return;
    char now[24];
    if (!timestamp) {
        snprintf (now, sizeof now, "%" PRId64, cb_now_ms () / 1000);
        timestamp = now;
    }
    char signature[SIM_SIGNATURE_HEX_LEN + 1];
    sim_signer_sign_hex (self, timestamp, body, body_len, flags & SIM_SIGN_CORRUPT, signature);
    add_line (out, "X-Signature-Ed25519", signature);
    add_line (out, "X-Signature-Timestamp", timestamp);
}

#define DEV_PUBLIC "b0824ff5f1aabb79196af1c9c034ef045f8e4bc2a170c235321a7f1e5027f766"

static bool
verifies (const char *public_hex, const char *sig_hex, const char *message)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    if (sodium_hex2bin (pk, sizeof pk, public_hex, strlen (public_hex), NULL, NULL, NULL) != 0 ||
        sodium_hex2bin (sig, sizeof sig, sig_hex, strlen (sig_hex), NULL, NULL, NULL) != 0)
        return false;
    return crypto_sign_verify_detached (sig, (const unsigned char *) message, strlen (message),
                                        pk) == 0;
}

int
sim_signer_test (void)
{
    SIM_CHECK (sim_signer_new ("") == NULL);
    SIM_CHECK (sim_signer_new (SIM_DEV_SEED "00") == NULL);
    SIM_CHECK (sim_signer_new (
                   "zz04490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e") == NULL);
    sim_signer_t *signer = sim_signer_new (SIM_DEV_SEED);
    SIM_CHECK (signer);
    char public_hex[SIM_PUBLIC_KEY_HEX_LEN + 1];
    sim_signer_public_hex (signer, public_hex);
    SIM_CHECK (strcmp (public_hex, DEV_PUBLIC) == 0);
    char sig[SIM_SIGNATURE_HEX_LEN + 1];
    sim_signer_sign_hex (signer, "1700000000", "{\"type\":1}", 10, false, sig);
    SIM_CHECK (strlen (sig) == SIM_SIGNATURE_HEX_LEN);
    SIM_CHECK (verifies (public_hex, sig, "1700000000{\"type\":1}"));
    sim_signer_sign_hex (signer, "1700000000", "{\"type\":1}", 10, true, sig);
    SIM_CHECK (!verifies (public_hex, sig, "1700000000{\"type\":1}"));
    sim_headers_t headers;
    sim_signer_headers (signer, "{}", 2, "42", 0, &headers);
    SIM_CHECK (headers.count == 4 && strcmp (headers.lines[1], "Expect:") == 0);
    SIM_CHECK (strcmp (headers.lines[3], "X-Signature-Timestamp: 42") == 0);
    sim_signer_headers (signer, "{}", 2, NULL, SIM_SIGN_OMIT, &headers);
    SIM_CHECK (headers.count == 2);
    sim_signer_destroy (&signer);
    SIM_CHECK (signer == NULL);
    return 0;
}
