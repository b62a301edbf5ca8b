/*  signer — the Ed25519 key Discord signs interactions with.
 *
 *  Discord signs every HTTP interaction with its application key: the
 *  X-Signature-Ed25519 header is the hex of the detached signature over
 *  timestamp || body, X-Signature-Timestamp the Unix seconds as text.
 *  The simulator plays Discord, so it holds the private half (a 32-byte
 *  seed, given as 64 hex characters) and the gateway is configured with
 *  the public half (`--print-public-key`).
 */
#ifndef SIM_SIGNER_H
#define SIM_SIGNER_H

#include <stdbool.h>
#include <stddef.h>

//  The dev seed from the brief (local runs only; its public key is the
//  gateway's default --public-key).
#define SIM_DEV_SEED "e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e"

#define SIM_PUBLIC_KEY_HEX_LEN 64
#define SIM_SIGNATURE_HEX_LEN  128

typedef struct sim_signer sim_signer_t;

//  A key pair from a 64-hex-character seed; NULL when the seed is not
//  exactly that (or libsodium cannot start). The secret is wiped on destroy.
sim_signer_t *sim_signer_new (const char *seed_hex);
void sim_signer_destroy (sim_signer_t **self_p);

//  out: SIM_PUBLIC_KEY_HEX_LEN + 1 bytes, lower-case hex.
void sim_signer_public_hex (const sim_signer_t *self, char *out);

//  Signs timestamp || body into out (SIM_SIGNATURE_HEX_LEN + 1 bytes).
//  corrupt flips one bit of the signature (to test that it is refused).
void sim_signer_sign_hex (const sim_signer_t *self, const char *timestamp, const char *body,
                          size_t body_len, bool corrupt, char *out);

//  The header lines of one signed request, ready for libcurl.
enum { SIM_SIGN_CORRUPT = 1, SIM_SIGN_OMIT = 2 };
typedef struct {
    char lines[4][SIM_SIGNATURE_HEX_LEN + 40];
    size_t count;
} sim_headers_t;

//  Content-Type, "Expect:" (no 100-continue round trip) and, unless
//  SIM_SIGN_OMIT, both signature headers. timestamp NULL: now.
void sim_signer_headers (const sim_signer_t *self, const char *body, size_t body_len,
                         const char *timestamp, int flags, sim_headers_t *out);

int sim_signer_test (void);

#endif
