/*  interaction_check — signature, then JSON, of one POST /interactions
 *  request (see interaction_check.h).
 */
#include "interaction_check.h"

#include <stdio.h>
#include <string.h>

gw_check_t
gw_interaction_check (const uint8_t key[GW_PUBLIC_KEY_BYTES], const char *signature_hex,
                      const char *timestamp, const uint8_t *body, size_t size,
                      gw_interaction_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    if (!gw_signature_valid (key, signature_hex, timestamp, body, size)) {
        snprintf (err, errlen, "invalid request signature");
        return GW_CHECK_UNAUTHORIZED;
    }
    if (gw_interaction_parse (body, size, out, err, errlen) != 0)
        return GW_CHECK_BAD_REQUEST;
    return out->type == GW_INTERACTION_PING ? GW_CHECK_PING : GW_CHECK_COMMAND;
}
