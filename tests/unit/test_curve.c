/*  curve: CURVE keys read from zcert files, refused with one line when
 *  missing or wrong; a CURVE server that admits only the allowed client
 *  keys, over real ZeroMQ TCP on loopback; the refused handshakes counted.
 *
 *  Keys are made in a temporary directory with czmq's zcert, as
 *  cordbank-keygen makes them. Each test runs in its own process
 *  (Criterion forks), so each may start its own ZAP handler.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/curve.h"
#include "common/envelope.h"
#include "common/metrics.h"
#include "common/socket.h"

static char s_dir[64];
static char s_path[8][256];

//  DIR/name.key and DIR/name.key_secret; the path of the public one.
static const char *
keypair (const char *name, int slot)
{
    zcert_t *cert = zcert_new ();
    cr_assert_not_null (cert);
    snprintf (s_path[slot], sizeof s_path[slot], "%s/%s.key", s_dir, name);
    cr_assert_eq (zcert_save (cert, s_path[slot]), 0);
    zcert_destroy (&cert);
    return s_path[slot];
}

static void
write_file (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fputs (text, f);
    fclose (f);
}

static char *
join (const char *a, const char *b)
{
    return zsys_sprintf ("%s/%s", a, b);
}

//  server, gateway (allowed), intruder (not allowed); allowed/ holds
//  gateway's public certificate.
static cb_curve_config_t s_server, s_client, s_intruder;

static void
setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/cb-test-curve.XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    const char *server = keypair ("server", 0);
    const char *gateway = keypair ("gateway", 1);
    const char *intruder = keypair ("intruder", 2);
    char *allowed = join (s_dir, "allowed");
    mkdir (allowed, 0755);
    char *copy = zsys_sprintf ("cp %s %s/", gateway, allowed);
    cr_assert_eq (system (copy), 0);
    free (copy);
    snprintf (s_path[3], sizeof s_path[3], "%s", allowed);
    free (allowed);
    s_server = (cb_curve_config_t){true, (char *) server, (char *) server, s_path[3]};
    s_client = (cb_curve_config_t){true, (char *) gateway, (char *) server, NULL};
    s_intruder = (cb_curve_config_t){true, (char *) intruder, (char *) server, NULL};
}

static void
teardown (void)
{
    char *rm = zsys_sprintf ("rm -rf %s", s_dir);
    cr_assert_eq (system (rm), 0);
    free (rm);
}

TestSuite (curve, .init = setup, .fini = teardown);

//  The reason cb_curve_new gives for config, or "" when it loads.
static const char *
refusal (const cb_curve_config_t *config, bool serves)
{
    static char err[512];
    *err = '\0';
    cb_curve_t *curve = cb_curve_new (config, serves, err, sizeof err);
    if (curve) {
        cr_assert_str_empty (err);
        cb_curve_destroy (&curve);
    } else
        cr_assert_str_not_empty (err);
    return err;
}

Test (curve, good_keys_load)
{
    char err[512] = "";
    cb_curve_t *curve = cb_curve_new (&s_server, true, err, sizeof err);
    cr_assert_not_null (curve, "%s", err);
    cr_assert_eq (cb_curve_allowed_count (curve), 1);
    cr_assert_eq (strlen (cb_curve_public_key (curve)), 40);
    cb_curve_destroy (&curve);
    cr_assert_null (curve);
    cr_assert_str_empty (refusal (&s_client, false));
    //  The _secret file named directly works too.
    char secret[300];
    snprintf (secret, sizeof secret, "%s_secret", s_client.cert);
    cb_curve_config_t direct = s_client;
    direct.cert = secret;
    cr_assert_str_empty (refusal (&direct, false));
}

Test (curve, missing_options_are_named)
{
    cb_curve_config_t c = s_server;
    c.cert = (char *) "";
    cr_assert_str_eq (refusal (&c, true),
                      "--curve needs --curve-cert (CORDBANK_CURVE_CERT): this process's "
                      "certificate");
    c = s_server;
    c.server_key = NULL;
    cr_assert (strstr (refusal (&c, true), "--curve needs --curve-server-key"));
    c = s_server;
    c.allowed_keys = (char *) "";
    cr_assert (strstr (refusal (&c, true), "--curve needs --curve-allowed-keys"));
    //  A process that only connects needs no allowed keys.
    cr_assert_str_empty (refusal (&c, false));
}

Test (curve, missing_file_is_refused)
{
    cb_curve_config_t c = s_client;
    c.cert = (char *) "/nonexistent/gateway.key";
    const char *err = refusal (&c, false);
    cr_assert_str_eq (err,
                      "invalid --curve-cert (CORDBANK_CURVE_CERT) \"/nonexistent/gateway.key\": "
                      "cannot read it: No such file or directory");
}

Test (curve, garbage_is_refused_in_one_line)
{
    char *path = join (s_dir, "garbage");
    FILE *f = fopen (path, "w");
    for (int i = 0; i < 3000; i++)
        fputc ((i * 7919) & 0xff, f);
    fclose (f);
    cb_curve_config_t c = s_client;
    c.cert = path;
    const char *err = refusal (&c, false);
    cr_assert (strstr (err, "not a CURVE certificate"), "%s", err);
    cr_assert_null (strchr (err, '\n'));
    free (path);
}

Test (curve, public_certificate_is_not_a_keypair)
{
    char *copy = zsys_sprintf ("cp %s %s/public-only.key", s_client.cert, s_dir);
    cr_assert_eq (system (copy), 0);
    free (copy);
    char *path = join (s_dir, "public-only.key");
    cb_curve_config_t c = s_client;
    c.cert = path;
    cr_assert (strstr (refusal (&c, false), "holds no secret key"));
    free (path);
}

Test (curve, keys_that_are_not_a_pair_are_refused)
{
    //  The intruder's secret key under the gateway's public one.
    char *path = join (s_dir, "mixed.key_secret");
    char text[512];
    zcert_t *a = zcert_load (s_client.cert);
    zcert_t *b = zcert_load (s_intruder.cert);
    snprintf (text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
              zcert_public_txt (a), zcert_secret_txt (b));
    write_file (path, text);
    cb_curve_config_t c = s_client;
    c.cert = path;
    cr_assert (strstr (refusal (&c, false), "not a pair"));
    zcert_destroy (&a);
    zcert_destroy (&b);
    free (path);
}

Test (curve, a_server_needs_the_server_secret)
{
    char *dir = join (s_dir, "public");
    mkdir (dir, 0755);
    char *copy = zsys_sprintf ("cp %s %s/", s_server.server_key, dir);
    cr_assert_eq (system (copy), 0);
    char *path = join (dir, "server.key");
    cb_curve_config_t c = s_server;
    c.server_key = path;
    cr_assert (strstr (refusal (&c, true), "needs the server's secret certificate"));
    //  Connecting only: the public certificate is enough.
    c.allowed_keys = NULL;
    cr_assert_str_empty (refusal (&c, false));
    free (copy);
    free (path);
    free (dir);
}

Test (curve, allowed_keys_are_checked)
{
    cb_curve_config_t c = s_server;
    c.allowed_keys = (char *) "/nonexistent";
    cr_assert (strstr (refusal (&c, true), "cannot read the directory"));
    char *empty = join (s_dir, "empty");
    mkdir (empty, 0755);
    c.allowed_keys = empty;
    cr_assert (strstr (refusal (&c, true), "no client certificate in it"));
    char *bad = join (empty, "notes.txt");
    write_file (bad, "not a key\n");
    cr_assert (strstr (refusal (&c, true), "notes.txt: not a CURVE certificate"));
    free (bad);
    free (empty);
}

Test (curve, a_process_that_binds_nothing_never_reads_the_server_side)
{
    //  The gateway in a pod whose config names an allowed directory it
    //  does not mount, and no server secret.
    cb_curve_config_t c = s_client;
    c.allowed_keys = (char *) "/nonexistent";
    cr_assert_str_empty (refusal (&c, false));
    cr_assert (strstr (refusal (&c, true), "cannot read the directory"));
}

//  ---------------------------------------------------------------------------
//  Over the wire

static zsock_t *
curve_server (cb_curve_t *curve, int *port)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cb_socket_tune (router, false);
    cr_assert_eq (cb_curve_server (curve, router), 0);
    *port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (*port, 0);
    return router;
}

static zsock_t *
dealer_to (const cb_curve_config_t *config, int port, cb_curve_t **curve_p)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cb_socket_tune (dealer, false);
    if (config) {
        char err[512];
        *curve_p = cb_curve_new (config, false, err, sizeof err);
        cr_assert_not_null (*curve_p, "%s", err);
        cb_curve_client (*curve_p, dealer);
    }
    cr_assert_eq (zsock_connect (dealer, "tcp://127.0.0.1:%d", port), 0);
    return dealer;
}

//  The payload the server got within timeout_ms, or NULL.
static zframe_t *
receive (zsock_t *router, int timeout_ms)
{
    zsock_set_rcvtimeo (router, timeout_ms);
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return NULL;
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *payload = zmsg_pop (msg);
    zframe_destroy (&identity);
    zmsg_destroy (&msg);
    return payload;
}

Test (curve, allowed_client_is_served_even_at_the_message_limit)
{
    char err[512];
    cb_curve_t *server = cb_curve_new (&s_server, true, err, sizeof err);
    cr_assert_not_null (server, "%s", err);
    int port;
    zsock_t *router = curve_server (server, &port);
    cb_curve_t *client = NULL;
    zsock_t *dealer = dealer_to (&s_client, port, &client);
    zstr_send (dealer, "hello");
    zframe_t *got = receive (router, 2000);
    cr_assert_not_null (got);
    cr_assert (zframe_streq (got, "hello"));
    zframe_destroy (&got);
    //  The largest envelope: CURVE's framing must not push it over ZMQ_MAXMSGSIZE.
    zframe_t *big = zframe_new (NULL, CB_MAX_MESSAGE_BYTES);
    memset (zframe_data (big), 'x', CB_MAX_MESSAGE_BYTES);
    cr_assert_eq (zframe_send (&big, dealer, 0), 0);
    got = receive (router, 2000);
    cr_assert_not_null (got);
    cr_assert_eq (zframe_size (got), CB_MAX_MESSAGE_BYTES);
    zframe_destroy (&got);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    cb_curve_destroy (&client);
    cb_curve_destroy (&server);
}

Test (curve, server_keys_load_at_the_first_server_socket)
{
    char err[512];
    cb_curve_t *curve = cb_curve_new (&s_server, false, err, sizeof err);
    cr_assert_not_null (curve, "%s", err);
    cr_assert_eq (cb_curve_allowed_count (curve), 0);
    int port;
    zsock_t *router = curve_server (curve, &port);
    cr_assert_eq (cb_curve_allowed_count (curve), 1);
    zsock_destroy (&router);
    cb_curve_destroy (&curve);
    //  Without them the socket is refused (and must not be bound).
    cb_curve_config_t c = s_client;
    curve = cb_curve_new (&c, false, err, sizeof err);
    cr_assert_not_null (curve, "%s", err);
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (cb_curve_server (curve, sock), -1);
    zsock_destroy (&sock);
    cb_curve_destroy (&curve);
}

//  The counter's value in the registry's text ("" when absent).
static double
failures (const char *reason)
{
    char *text = cb_metrics_render ();
    char series[160];
    snprintf (series, sizeof series,
              "cordbank_curve_handshake_failures_total{socket=\"router\",reason=\"%s\"} ", reason);
    const char *at = strstr (text, series);
    double value = at ? atof (at + strlen (series)) : -1;
    free (text);
    return value;
}

static int
stop_loop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id, (void) arg;
    return -1;
}

//  A client not allowed, and one without CURVE, get nothing through; the
//  server counts both refusals.
static void
refused (const cb_curve_config_t *config, const char *reason)
{
    char err[512];
    cb_curve_t *server = cb_curve_new (&s_server, true, err, sizeof err);
    cr_assert_not_null (server, "%s", err);
    int port;
    zsock_t *router = curve_server (server, &port);
    zloop_t *loop = zloop_new ();
    cb_curve_watch_t *watch = cb_curve_watch_new (router, loop, "router");
    cr_assert_not_null (watch);
    cb_curve_t *client = NULL;
    zsock_t *dealer = dealer_to (config, port, &client);
    zsock_set_sndtimeo (dealer, 0);
    zstr_send (dealer, "let me in");
    cr_assert_null (receive (router, 500));
    zloop_timer (loop, 200, 1, stop_loop, NULL);
    zloop_start (loop);
    cr_assert_geq (failures (reason), 1, "no %s refusal counted", reason);
    zsock_destroy (&dealer);
    cb_curve_watch_destroy (&watch);
    zloop_destroy (&loop);
    zsock_destroy (&router);
    cb_curve_destroy (&client);
    cb_curve_destroy (&server);
}

Test (curve, client_key_not_allowed_is_refused)
{
    refused (&s_intruder, "auth");
}

Test (curve, client_without_curve_is_refused)
{
    refused (NULL, "protocol");
}

Test (curve, client_with_another_server_key_is_refused)
{
    cb_curve_config_t c = s_client;
    c.server_key = s_intruder.cert; // not the server's key
    refused (&c, "protocol");
}
