/*  hex — strict hex decoding (see hex.h). */
#include "common/hex.h"

#include <sodium.h>
#include <string.h>

bool
cb_hex_decode (const char *hex, uint8_t *out, size_t size)
{
    size_t decoded = 0;
    const char *end = NULL;
    if (!hex || strlen (hex) != 2 * size)
        return false;
    return sodium_hex2bin (out, size, hex, 2 * size, NULL, &decoded, &end) == 0 &&
           decoded == size && end == hex + 2 * size;
}
