/*  redis_url — where Redis is, from a redis://host[:port][/db] URL.
 *
 *  Checked at start so that a typo stops the pod with a clear message
 *  instead of looking like a Redis outage forever. Credentials in the URL
 *  are refused rather than half-supported: they would leak into logs and
 *  process listings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/cache/redis.h"

static const char *
ipv6_host (const char *at, cache_redis_addr_t *addr, char *err, size_t errlen)
{
    const char *close = strchr (at, ']');
    size_t len = close ? (size_t) (close - at - 1) : 0;
    if (!close || len == 0 || len >= sizeof addr->host) {
        snprintf (err, errlen, "bad IPv6 host (expected [addr])");
        return NULL;
    }
    memcpy (addr->host, at + 1, len);
    addr->host[len] = '\0';
    return close + 1;
}

static const char *
plain_host (const char *at, cache_redis_addr_t *addr, char *err, size_t errlen)
{
    size_t len = strcspn (at, ":/");
    if (len == 0 || len >= sizeof addr->host) {
        snprintf (err, errlen, "missing or too long host");
        return NULL;
    }
    memcpy (addr->host, at, len);
    addr->host[len] = '\0';
    return at + len;
}

//  A decimal number in [min, max] that ends at `stop` (or the string end).
static const char *
parse_number (const char *at, char stop, long min, long max, int *out)
{
    char *end;
    if (*at < '0' || *at > '9')
        return NULL;
    errno = 0;
    long value = strtol (at, &end, 10);
    if (errno || value < min || value > max || (*end && *end != stop))
        return NULL;
    *out = (int) value;
    return end;
}

int
cache_redis_parse_url (const char *url, cache_redis_addr_t *addr, char *err, size_t errlen)
{
    memset (addr, 0, sizeof *addr);
    addr->port = 6379;
    if (strncmp (url, "redis://", 8) != 0) {
        snprintf (err, errlen, "expected redis://host[:port][/db]");
        return -1;
    }
    const char *at = url + 8;
    if (strchr (at, '@')) {
        snprintf (err, errlen, "credentials in the URL are not supported");
        return -1;
    }
    at = *at == '[' ? ipv6_host (at, addr, err, errlen) : plain_host (at, addr, err, errlen);
    if (!at)
        return -1;
    if (*at == ':' && !(at = parse_number (at + 1, '/', 1, 65535, &addr->port))) {
        snprintf (err, errlen, "port must be a number from 1 to 65535");
        return -1;
    }
    if (*at == '/' && at[1] && !parse_number (at + 1, '\0', 0, 1000000, &addr->db)) {
        snprintf (err, errlen, "database must be a whole number from 0");
        return -1;
    }
    if (*at && *at != '/') {
        snprintf (err, errlen, "expected redis://host[:port][/db]");
        return -1;
    }
    return 0;
}
