/*  discovery: spec validation, and a socket following a static list. */
#include <criterion/criterion.h>

#include "common/discovery.h"

Test (discovery, validates_specs)
{
    char err[256];
    cr_assert_eq (cb_endpoints_validate ("", err, sizeof err), 0);
    cr_assert_eq (cb_endpoints_validate ("tcp://127.0.0.1:7300,tcp://[::1]:7301", err, sizeof err),
                  0);
    cr_assert_eq (cb_endpoints_validate ("dns://balance-headless:7300", err, sizeof err), 0);
    cr_assert_eq (cb_endpoints_validate ("tcp://127.0.0.1", err, sizeof err), -1);
    cr_assert_eq (cb_endpoints_validate ("tcp://127.0.0.1:0", err, sizeof err), -1);
    cr_assert_eq (cb_endpoints_validate ("tcp://h:99999", err, sizeof err), -1);
    cr_assert_eq (cb_endpoints_validate ("http://h:1", err, sizeof err), -1);
    cr_assert_eq (cb_endpoints_validate ("dns://:7300", err, sizeof err), -1);
    cr_assert (strstr (err, "dns://name:port"), "%s", err);
}

//  A port of 8 or more digits (leading zeros) was refused without a reason:
//  err kept what was in it, and --flag errors printed stale stack bytes
//  (found by tests/fuzz/fuzz_config: a secret from an earlier parse).
Test (discovery, long_port_is_refused_with_a_reason)
{
    char err[256];
    memset (err, 'X', sizeof err - 1);
    err[sizeof err - 1] = '\0';
    cr_assert_eq (cb_endpoints_validate ("dns://balance:00000001", err, sizeof err), -1);
    cr_assert_str_eq (err, "\"dns://balance:00000001\": port must be at most 7 digits");
    cr_assert_eq (cb_endpoints_validate ("dns://balance:0007300", err, sizeof err), 0);
}

Test (discovery, static_list_connects_once_each)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cb_discovery_t *d =
        cb_discovery_new ("tcp://127.0.0.1:17301,tcp://127.0.0.1:17302,tcp://127.0.0.1:17301");
    cr_assert_not_null (d);
    cr_assert_not (cb_discovery_is_dns (d));
    cr_assert_eq (cb_discovery_sync (d, sock, NULL), 2, "duplicates collapse");
    cr_assert_eq (cb_discovery_sync (d, sock, NULL), 2, "a second sync changes nothing");
    cb_discovery_destroy (&d);
    cr_assert_null (d);
    zsock_destroy (&sock);
    cr_assert_null (cb_discovery_new ("nonsense"));
}

Test (discovery, dns_resolves_localhost)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cb_discovery_t *d = cb_discovery_new ("dns://localhost:17303");
    cr_assert (cb_discovery_is_dns (d));
    cr_assert_geq (cb_discovery_sync (d, sock, NULL), 1);
    cb_discovery_destroy (&d);
    zsock_destroy (&sock);
}

static int
stop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id, (void) arg;
    return -1;
}

static void
turn (zloop_t *loop, int ms)
{
    zloop_timer (loop, (size_t) ms, 1, stop, NULL);
    zloop_start (loop);
}

Test (discovery, peers_count_handshakes_and_forget_disconnects)
{
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    zloop_t *loop = zloop_new ();
    zloop_set_nonstop (loop, true);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cb_peers_t *peers = cb_peers_new (sock, loop);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    zsock_connect (sock, "%s", endpoint);
    for (int i = 0; i < 50 && cb_peers_connected (peers) == 0; i++)
        turn (loop, 20);
    cr_assert_eq (cb_peers_connected (peers), 1);
    //  libzmq sends no event for a disconnect we ask for: forgetting is ours.
    zsock_disconnect (sock, "%s", endpoint);
    turn (loop, 100);
    cb_peers_forget (peers, endpoint);
    cr_assert_eq (cb_peers_connected (peers), 0);
    cb_peers_destroy (&peers);
    zsock_destroy (&sock);
    zloop_destroy (&loop);
    zsock_destroy (&server);
}
