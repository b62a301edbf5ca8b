/*  signature — verification of Discord's Ed25519 request signatures (see
 *  signature.h), with libsodium.
 *
 *  Discord signs timestamp || body as one message, so the two are joined
 *  into one buffer (bodies are bounded by the listener's max_body). Hex is
 *  decoded strictly (common/hex.h).
 */
#include "signature.h"

#include "common/hex.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
gw_public_key_parse (const char *hex, uint8_t key[GW_PUBLIC_KEY_BYTES], char *err, size_t errlen)
{
    if (!hex || !cb_hex_decode (hex, key, GW_PUBLIC_KEY_BYTES)) {
        snprintf (err, errlen, "must be %d hex characters (the application's Ed25519 public key)",
                  2 * GW_PUBLIC_KEY_BYTES);
        return -1;
    }
    if (!crypto_core_ed25519_is_valid_point (key)) {
        snprintf (err, errlen, "is not a valid Ed25519 public key");
        return -1;
    }
    return 0;
}

int
gw_timestamp_check (const char *timestamp, int64_t now_s, int64_t max_skew_s, char *err,
                    size_t errlen)
{
    size_t len = timestamp ? strlen (timestamp) : 0;
    //  At most 12 digits (year 33658): no overflow, and no sign or space.
    if (len == 0 || len > 12 || strspn (timestamp, "0123456789") != len) {
        snprintf (err, errlen, "X-Signature-Timestamp is not a time in Unix seconds");
        return -1;
    }
    int64_t skew = now_s - strtoll (timestamp, NULL, 10);
    if (skew > max_skew_s || skew < -max_skew_s) {
        snprintf (err, errlen,
                  "X-Signature-Timestamp is %lld s %s (more than %lld s): refused as a replay",
                  (long long) (skew > 0 ? skew : -skew), skew > 0 ? "old" : "in the future",
                  (long long) max_skew_s);
        return -1;
    }
    return 0;
}

bool
gw_signature_valid (const uint8_t key[GW_PUBLIC_KEY_BYTES], const char *signature_hex,
                    const char *timestamp, const uint8_t *body, size_t size)
{
    uint8_t signature[crypto_sign_BYTES];
    if (!signature_hex || !timestamp || !*timestamp ||
        !cb_hex_decode (signature_hex, signature, sizeof signature))
        return false;
    size_t ts_len = strlen (timestamp);
    uint8_t *message = malloc (ts_len + size + 1);
    if (!message)
        return false;
    memcpy (message, timestamp, ts_len);
    if (size)
        memcpy (message + ts_len, body, size);
    bool valid = crypto_sign_verify_detached (signature, message, ts_len + size, key) == 0;
    free (message);
    return valid;
}
