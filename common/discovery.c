/*  discovery — keeps a socket connected to the endpoints a spec names
 *  (see discovery.h).
 *
 *  The connected set is kept as a sorted list of "tcp://addr:port"
 *  strings; each sync computes the wanted set and applies the difference,
 *  so a re-resolution that returns the same addresses touches nothing.
 */
#include "common/discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cb_discovery {
    char *spec;
    bool dns;
    char host[256];      // dns only
    char port[8];        // dns only
    zlistx_t *connected; // of char *, sorted
};

static int
check_port (const char *text, char *err, size_t errlen, const char *item)
{
    char *end;
    long port = strtol (text, &end, 10);
    if (*text == '\0' || *end != '\0' || port < 1 || port > 65535) {
        snprintf (err, errlen, "\"%s\": port must be 1..65535", item);
        return -1;
    }
    return 0;
}

//  One tcp://host:port item (host may be * or [v6]).
static int
check_tcp (const char *item, char *err, size_t errlen)
{
    if (strncmp (item, "tcp://", 6) != 0) {
        snprintf (err, errlen, "\"%s\": expected tcp://host:port or dns://name:port", item);
        return -1;
    }
    const char *colon = strrchr (item + 6, ':');
    if (!colon || colon == item + 6) {
        snprintf (err, errlen, "\"%s\": expected tcp://host:port", item);
        return -1;
    }
    return check_port (colon + 1, err, errlen, item);
}

static int
parse_dns (const char *spec, char *host, size_t hostlen, char *port, size_t portlen, char *err,
           size_t errlen)
{
    const char *rest = spec + 6;
    const char *colon = strrchr (rest, ':');
    if (!colon || colon == rest || (size_t) (colon - rest) >= hostlen) {
        snprintf (err, errlen, "\"%s\": expected dns://name:port", spec);
        return -1;
    }
    if (check_port (colon + 1, err, errlen, spec) != 0)
        return -1;
    //  A valid port with leading zeros ("00000001") can still be too long.
    if (strlen (colon + 1) >= portlen) {
        snprintf (err, errlen, "\"%s\": port must be at most %zu digits", spec, portlen - 1);
        return -1;
    }
    snprintf (host, hostlen, "%.*s", (int) (colon - rest), rest);
    snprintf (port, portlen, "%s", colon + 1);
    return 0;
}

int
cb_endpoints_validate (const char *spec, char *err, size_t errlen)
{
    if (!spec || !*spec)
        return 0;
    if (strncmp (spec, "dns://", 6) == 0) {
        char host[256], port[8];
        return parse_dns (spec, host, sizeof host, port, sizeof port, err, errlen);
    }
    char *copy = strdup (spec);
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item && rc == 0;
         item = strtok_r (NULL, ",", &save))
        rc = check_tcp (item, err, errlen);
    free (copy);
    return rc;
}

static int
compare_strings (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

static zlistx_t *
new_string_list (void)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (list, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (list, compare_strings);
    return list;
}

cb_discovery_t *
cb_discovery_new (const char *spec)
{
    char err[256];
    if (cb_endpoints_validate (spec, err, sizeof err) != 0)
        return NULL;
    cb_discovery_t *self = calloc (1, sizeof *self);
    assert (self);
    self->spec = strdup (spec ? spec : "");
    self->dns = strncmp (self->spec, "dns://", 6) == 0;
    if (self->dns)
        parse_dns (self->spec, self->host, sizeof self->host, self->port, sizeof self->port, err,
                   sizeof err);
    self->connected = new_string_list ();
    return self;
}

void
cb_discovery_destroy (cb_discovery_t **self_p)
{
    assert (self_p);
    cb_discovery_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->connected);
        free (self->spec);
        free (self);
        *self_p = NULL;
    }
}

bool
cb_discovery_is_dns (const cb_discovery_t *self)
{
    return self->dns;
}

size_t
cb_discovery_size (const cb_discovery_t *self)
{
    return zlistx_size (self->connected);
}

//  The endpoints the spec names now; NULL when DNS failed.
static zlistx_t *
resolve (cb_discovery_t *self)
{
    zlistx_t *wanted = new_string_list ();
    if (!self->dns) {
        char *copy = strdup (self->spec), *save = NULL;
        for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save))
            if (!zlistx_find (wanted, item))
                zlistx_add_end (wanted, item);
        free (copy);
        return wanted;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo (self->host, self->port, &hints, &res) != 0) {
        zlistx_destroy (&wanted);
        return NULL;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN], endpoint[INET6_ADDRSTRLEN + 16];
        const void *src = ai->ai_family == AF_INET
                              ? (const void *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr
                              : (const void *) &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
        inet_ntop (ai->ai_family, src, addr, sizeof addr);
        snprintf (endpoint, sizeof endpoint,
                  ai->ai_family == AF_INET ? "tcp://%s:%s" : "tcp://[%s]:%s", addr, self->port);
        if (!zlistx_find (wanted, endpoint))
            zlistx_add_end (wanted, endpoint);
    }
    freeaddrinfo (res);
    return wanted;
}

int
cb_discovery_sync (cb_discovery_t *self, zsock_t *sock, cb_peers_t *peers)
{
    zlistx_t *wanted = resolve (self);
    if (!wanted)
        return -1;
    //  Disconnect what is gone, then connect what is new. (zlistx_find
    //  moves a list's cursor, so the gone ones are collected first.)
    zlistx_t *gone = new_string_list ();
    for (char *ep = zlistx_first (self->connected); ep; ep = zlistx_next (self->connected))
        if (!zlistx_find (wanted, ep))
            zlistx_add_end (gone, ep);
    for (char *ep = zlistx_first (gone); ep; ep = zlistx_next (gone)) {
        zsock_disconnect (sock, "%s", ep);
        if (peers)
            cb_peers_forget (peers, ep);
        zlistx_delete (self->connected, zlistx_find (self->connected, ep));
    }
    zlistx_destroy (&gone);
    for (char *ep = zlistx_first (wanted); ep; ep = zlistx_next (wanted))
        if (!zlistx_find (self->connected, ep) && zsock_connect (sock, "%s", ep) == 0)
            zlistx_add_end (self->connected, ep);
    zlistx_destroy (&wanted);
    return (int) zlistx_size (self->connected);
}
