/*  hex — strict hex decoding of keys and signatures.
 *
 *  libsodium's sodium_hex2bin stops quietly at the first character it
 *  cannot read and can skip separators; a key or a signature must be
 *  exactly 2 hex characters per byte with nothing left over or ignored.
 */
#ifndef CB_HEX_H
#define CB_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  True when hex is exactly 2 * size hex characters; they are decoded into
//  out[0..size). False (out unspecified) for anything else, NULL included.
bool cb_hex_decode (const char *hex, uint8_t *out, size_t size);

#endif
