/*  curve — CURVE encryption and authentication of the ZeroMQ sockets
 *  between services (ZMTP CURVE, RFC 26; ZAP, RFC 27).
 *
 *  Off by default: every socket then speaks ZMTP's NULL mechanism, exactly
 *  as before. On (--curve), every TCP connection between two cordbank
 *  processes is encrypted and both ends are authenticated:
 *
 *    - the side that binds (every ROUTER, balance's event PUB, the metrics
 *      service's snapshot SUB) is a CURVE server with the cluster's server
 *      keypair, and admits only clients whose public key is a certificate
 *      in the allowed-keys directory (a ZAP handler: czmq's zauth);
 *    - the side that connects (every DEALER, cache's event SUB, every
 *      snapshot PUB, the load tools) is a CURVE client with its own
 *      keypair, and talks only to a server holding the cluster's server
 *      secret key.
 *
 *  Keys are czmq certificates (zcert files: a "curve" section with
 *  public-key, and secret-key in the _secret file); cordbank-keygen makes
 *  them. --curve-cert is this process's keypair (NAME or NAME_secret: the
 *  secret file is read), --curve-server-key the cluster server's public
 *  certificate; a process that binds also reads its secret, the file of
 *  the same name plus _secret, beside it. The allowed-keys directory is
 *  read again by the ZAP handler whenever it changes (a key added or
 *  removed takes effect at the next handshake, without a restart).
 *
 *  A file that is missing, unreadable, not a certificate, or whose keys do
 *  not match is refused at startup with one line naming the option.
 */
#ifndef CB_CURVE_H
#define CB_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct {
    bool enabled;       // --curve
    char *cert;         // --curve-cert: this process's keypair
    char *server_key;   // --curve-server-key: the cluster server's certificate
    char *allowed_keys; // --curve-allowed-keys: directory of admitted client certificates
} cb_curve_config_t;

//  The options of a process that only connects (the load tools).
// clang-format off
#define CB_CURVE_CLIENT_OPTIONS(cfg)                                                               \
    {"curve", CB_OPT_BOOL, "false",                                                                \
     "CURVE: encrypt and authenticate every ZeroMQ connection (keys below)", &(cfg).enabled, 0, 0, \
     false, NULL},                                                                                 \
    {"curve-cert", CB_OPT_STRING, "",                                                              \
     "CURVE: this process's certificate (zcert; its _secret file is read)", &(cfg).cert, 0, 0,     \
     false, NULL},                                                                                 \
    {"curve-server-key", CB_OPT_STRING, "",                                                        \
     "CURVE: the cluster server's public certificate (a process that binds also reads "            \
     "PATH_secret)",                                                                               \
     &(cfg).server_key, 0, 0, false, NULL}
//  Every option: a service binds too.
#define CB_CURVE_OPTIONS(cfg)                                                                      \
    CB_CURVE_CLIENT_OPTIONS (cfg),                                                                 \
    {"curve-allowed-keys", CB_OPT_STRING, "",                                                      \
     "CURVE: directory of the client certificates this process admits (re-read on change)",       \
     &(cfg).allowed_keys, 0, 0, false, NULL}
// clang-format on

typedef struct cb_curve cb_curve_t;

//  Loads and checks the keys config names (config->enabled is the
//  caller's business): this process's keypair and the server's public key.
//  serves: the process binds sockets, so the server's secret key and the
//  allowed keys are loaded and checked now too; otherwise the first server
//  socket loads them, and a process that binds nothing (the gateway, the
//  load tools) never reads them. NULL with a one-line reason in err on
//  failure. Starts no thread: safe before cb_service_new.
cb_curve_t *cb_curve_new (const cb_curve_config_t *config, bool serves, char *err, size_t errlen);
//  Stops the ZAP handler and wipes the secret keys.
void cb_curve_destroy (cb_curve_t **self_p);

//  Makes sock (not bound yet) a CURVE server admitting the allowed keys,
//  starting the ZAP handler first if it is not running (one per process:
//  one cb_curve_t serves at a time). 0, or -1 (logged) when the server's
//  secret key or the allowed keys cannot be loaded, or the ZAP handler
//  could not start: the socket must not be bound then, since a CURVE server
//  without a ZAP handler admits every client.
int cb_curve_server (cb_curve_t *self, zsock_t *sock);
//  Makes sock (not connected yet) a CURVE client of the cluster's servers.
void cb_curve_client (const cb_curve_t *self, zsock_t *sock);

//  This process's public key (Z85, 40 characters), for logs.
const char *cb_curve_public_key (const cb_curve_t *self);
//  Client certificates in the allowed-keys directory when it was loaded
//  (0 until this process serves).
size_t cb_curve_allowed_count (const cb_curve_t *self);

//  Counts (cordbank_curve_handshake_failures_total{socket, reason}) and
//  logs (at most once a second) the handshakes a server socket refused: a
//  client key not allowed (auth), no CURVE or a wrong server key
//  (protocol), a connection closed mid-handshake (other: a client without
//  CURVE often hangs up before the server has said why). sock is borrowed
//  and must outlive the watch.
typedef struct cb_curve_watch cb_curve_watch_t;
cb_curve_watch_t *cb_curve_watch_new (zsock_t *sock, zloop_t *loop, const char *socket_name);
void cb_curve_watch_destroy (cb_curve_watch_t **self_p);

#endif
