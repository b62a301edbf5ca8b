/*  interaction_check — what POST /interactions makes of a request, before
 *  anything is sent anywhere: the signature first (an unsigned request
 *  learns nothing about our parser), then the JSON.
 *
 *  A pure function of the two signature headers and the body, apart from
 *  the lws handler (interactions.c) so that the fuzzers and tests can call
 *  it as Discord would.
 */
#ifndef GW_INTERACTION_CHECK_H
#define GW_INTERACTION_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "discord_json.h"
#include "signature.h"

typedef enum {
    GW_CHECK_UNAUTHORIZED, // 401: a signature header missing, or the signature invalid
    GW_CHECK_BAD_REQUEST,  // 400: signed, but not an interaction we answer (reason in err)
    GW_CHECK_PING,         // 200 with a pong
    GW_CHECK_COMMAND,      // an APPLICATION_COMMAND: out->command is to be dispatched
} gw_check_t;

//  signature_hex and timestamp are the X-Signature-Ed25519 and
//  X-Signature-Timestamp headers (NULL when absent). *out is always
//  initialized (type 0 when the signature failed) and must be cleared with
//  gw_interaction_clear, whatever the result.
gw_check_t gw_interaction_check (const uint8_t key[GW_PUBLIC_KEY_BYTES], const char *signature_hex,
                                 const char *timestamp, const uint8_t *body, size_t size,
                                 gw_interaction_t *out, char *err, size_t errlen);

#endif
