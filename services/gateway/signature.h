/*  signature — Discord's request signature: Ed25519, detached, over the
 *  X-Signature-Timestamp text followed by the raw request body; and the
 *  replay window that timestamp must fall in.
 */
#ifndef GW_SIGNATURE_H
#define GW_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_PUBLIC_KEY_BYTES 32
//  Default replay window: a signed request may be this far from now, either
//  way (Discord sends at once; clocks drift a little).
#define GW_MAX_SKEW_S 300

//  The public half of the local development key pair (never for production;
//  the Discord simulator signs with its seed by default).
#define GW_DEV_PUBLIC_KEY "b0824ff5f1aabb79196af1c9c034ef045f8e4bc2a170c235321a7f1e5027f766"

//  Parses 64 hex characters into a key and checks it is a usable Ed25519
//  point. 0, or -1 with a reason in err.
int gw_public_key_parse (const char *hex, uint8_t key[GW_PUBLIC_KEY_BYTES], char *err,
                         size_t errlen);

//  True when signature_hex (128 hex characters) is key's signature of
//  timestamp || body. Any malformed input is simply not valid.
bool gw_signature_valid (const uint8_t key[GW_PUBLIC_KEY_BYTES], const char *signature_hex,
                         const char *timestamp, const uint8_t *body, size_t size);

//  The replay window: timestamp (X-Signature-Timestamp, Unix seconds in
//  decimal) must be within max_skew_s of now_s, either way. A valid
//  signature proves who signed, not when the request was sent: without
//  this, a request captured once (a /pay) could be sent again at any time.
//  0, or -1 with the reason in err.
int gw_timestamp_check (const char *timestamp, int64_t now_s, int64_t max_skew_s, char *err,
                        size_t errlen);

#endif
