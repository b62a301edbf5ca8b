/*  curve — CURVE keys, the ZAP handler and the sockets' security options
 *  (see curve.h).
 *
 *  Certificates are read here rather than with zcert_load: czmq's ZPL
 *  parser prints its syntax errors (with the offending bytes) on stderr,
 *  and a refusal must be one line naming the option. The format read is
 *  the one zcert_save writes; the ZAP handler (zauth, through zcertstore)
 *  reads the allowed directory with czmq itself, which is why every file
 *  in it is checked here first.
 *
 *  Secret keys live in this object only, and are wiped when it goes.
 */
#include "common/curve.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/socket.h"

#define KEY_TEXT 40 // a 32-byte key in Z85
//  A certificate is a few hundred bytes; anything larger is not one.
#define MAX_CERT_BYTES 65536
//  What CURVE adds to each message on the wire ("\x07MESSAGE", nonce,
//  MAC, flags): ZMQ_MAXMSGSIZE counts it, the envelope limit does not.
#define CURVE_OVERHEAD 64
#define ZAP_DOMAIN     "cordbank"

typedef struct {
    char public_txt[KEY_TEXT + 1];
    char secret_txt[KEY_TEXT + 1]; // "" in a public certificate
} keys_t;

struct cb_curve {
    keys_t own;         // this process's keypair: the client side
    keys_t server;      // the cluster server's: secret_txt once serving
    char *server_key;   // --curve-server-key
    char *allowed_keys; // --curve-allowed-keys, NULL when not given
    bool serving;       // the server's secret key and the allowed keys are loaded
    size_t allowed_count;
    zactor_t *auth; // the ZAP handler, from the first server socket on
};

//  ---------------------------------------------------------------------------
//  Reading certificates

//  The whole file (NUL-terminated; *size bytes) or NULL with the reason
//  in err.
static char *
slurp (const char *path, size_t *size_p, char *err, size_t errlen)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, errlen, "cannot read it: %s", strerror (errno));
        return NULL;
    }
    char *text = malloc (MAX_CERT_BYTES + 1);
    assert (text);
    size_t size = fread (text, 1, MAX_CERT_BYTES + 1, file);
    int error = ferror (file) ? errno : 0; // a directory: EISDIR
    fclose (file);
    if (error || size > MAX_CERT_BYTES) {
        if (error)
            snprintf (err, errlen, "cannot read it: %s", strerror (error));
        else
            snprintf (err, errlen, "larger than any certificate (%d bytes)", MAX_CERT_BYTES);
        free (text);
        return NULL;
    }
    text[size] = '\0';
    *size_p = size;
    return text;
}

//  One "    name = "value"" line of the curve section into keys.
static void
property (char *line, keys_t *keys)
{
    char *name = line + strspn (line, " \t");
    size_t name_len = strcspn (name, " \t=");
    char *p = name + name_len;
    p += strspn (p, " \t");
    if (*p != '=')
        return;
    p += 1 + strspn (p + 1, " \t");
    bool quoted = *p == '"';
    char *value = p + quoted;
    size_t len = quoted ? strcspn (value, "\"") : strcspn (value, " \t#");
    char *target = name_len == 10 && !memcmp (name, "public-key", 10)   ? keys->public_txt
                   : name_len == 10 && !memcmp (name, "secret-key", 10) ? keys->secret_txt
                                                                        : NULL;
    //  A value of another length is kept short, so it fails the check.
    if (target)
        snprintf (target, KEY_TEXT + 1, "%.*s", (int) (len == KEY_TEXT ? len : 0), value);
}

//  The keys of a certificate's text (ZPL: sections at column 0, their
//  properties indented below them, # comments).
static void
parse (char *text, keys_t *keys)
{
    bool in_curve = false;
    for (char *save = NULL, *line = strtok_r (text, "\r\n", &save); line;
         line = strtok_r (NULL, "\r\n", &save)) {
        char *start = line + strspn (line, " \t");
        if (*start == '#' || *start == '\0')
            continue;
        if (start == line)
            in_curve =
                strncmp (line, "curve", 5) == 0 && strspn (line + 5, " \t") == strlen (line + 5);
        else if (in_curve)
            property (line, keys);
    }
}

static bool
z85_valid (const char *text)
{
    uint8_t key[32];
    bool valid = strlen (text) == KEY_TEXT && zmq_z85_decode (key, text) != NULL;
    sodium_memzero (key, sizeof key); // it may be a secret one
    return valid;
}

//  Reads the certificate at path. need_secret: it must hold the secret
//  key (and the two must be a pair). 0 or -1 with the reason in err.
static int
cert_read (const char *path, bool need_secret, keys_t *keys, char *err, size_t errlen)
{
    memset (keys, 0, sizeof *keys);
    size_t size;
    char *text = slurp (path, &size, err, errlen);
    if (!text)
        return -1;
    parse (text, keys);
    sodium_memzero (text, size);
    free (text);
    char derived[KEY_TEXT + 1];
    if (!z85_valid (keys->public_txt))
        snprintf (err, errlen,
                  "not a CURVE certificate (zcert: a curve section with a "
                  "40-character public-key)");
    else if (need_secret && !*keys->secret_txt)
        snprintf (err, errlen, "holds no secret key (a public certificate; give the _secret file)");
    else if (*keys->secret_txt && !z85_valid (keys->secret_txt))
        snprintf (err, errlen, "its secret-key is not a 40-character Z85 key");
    else if (*keys->secret_txt && (zmq_curve_public (derived, keys->secret_txt) != 0 ||
                                   strcmp (derived, keys->public_txt) != 0))
        snprintf (err, errlen, "its public-key and secret-key are not a pair");
    else
        return 0;
    sodium_memzero (keys, sizeof *keys);
    return -1;
}

//  NAME_secret when it exists and path does not name it already.
static char *
secret_path (const char *path)
{
    size_t len = strlen (path);
    if (len >= 7 && strcmp (path + len - 7, "_secret") == 0)
        return strdup (path);
    char *secret = zsys_sprintf ("%s_secret", path);
    if (access (secret, F_OK) == 0)
        return secret;
    free (secret);
    return strdup (path);
}

//  Checks every certificate zcertstore will load from dir (regular files,
//  not hidden, not *_secret, subdirectories too); counts them.
static int
check_allowed (const char *dir, size_t *count, char *err, size_t errlen)
{
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, errlen, "cannot read the directory: %s", strerror (errno));
        return -1;
    }
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir (d))) {
        size_t len = strlen (entry->d_name);
        if (entry->d_name[0] == '.' || (len >= 7 && !strcmp (entry->d_name + len - 7, "_secret")))
            continue;
        char *path = zsys_sprintf ("%s/%s", dir, entry->d_name);
        struct stat st;
        keys_t keys;
        char why[160];
        if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
            rc = check_allowed (path, count, err, errlen);
        else if (stat (path, &st) == 0 && S_ISREG (st.st_mode)) {
            if (cert_read (path, false, &keys, why, sizeof why) == 0)
                (*count)++;
            else {
                snprintf (err, errlen, "%s: %s", entry->d_name, why);
                rc = -1;
            }
        }
        free (path);
    }
    closedir (d);
    return rc;
}

//  ---------------------------------------------------------------------------
//  The object

//  "invalid --curve-cert (CORDBANK_CURVE_CERT) "PATH": why".
static int
refuse (const char *flag, const char *path, const char *why, char *err, size_t errlen)
{
    char env[64];
    cb_config_env_name (flag, env, sizeof env);
    snprintf (err, errlen, "invalid --%s (%s) \"%s\": %s", flag, env, path, why);
    return -1;
}

static int
require (const char *flag, const char *value, const char *what, char *err, size_t errlen)
{
    if (value && *value)
        return 0;
    char env[64];
    cb_config_env_name (flag, env, sizeof env);
    snprintf (err, errlen, "--curve needs --%s (%s): %s", flag, env, what);
    return -1;
}

//  The server's secret key: in the file --curve-server-key names when that
//  is the _secret one, else in PATH_secret beside it.
static int
load_server_secret (cb_curve_t *self, char *err, size_t errlen)
{
    if (*self->server.secret_txt)
        return 0; // the option named the secret file itself
    char why[200];
    char *path = secret_path (self->server_key);
    keys_t pair;
    int rc = -1;
    if (strcmp (path, self->server_key) == 0)
        snprintf (
            why, sizeof why,
            "a process that binds needs the server's secret certificate beside it (%s_secret)",
            self->server_key);
    else if (cert_read (path, true, &pair, why, sizeof why) != 0)
        ;
    else if (strcmp (pair.public_txt, self->server.public_txt) != 0)
        snprintf (why, sizeof why, "not the secret certificate of %s (another key)",
                  self->server_key);
    else {
        memcpy (self->server.secret_txt, pair.secret_txt, sizeof pair.secret_txt);
        rc = 0;
    }
    sodium_memzero (&pair, sizeof pair);
    if (rc != 0)
        refuse ("curve-server-key", path, why, err, errlen);
    free (path);
    return rc;
}

//  What only a process that binds needs: the server's secret key and the
//  allowed client keys. Loaded once, at startup (serves) or by the first
//  server socket.
static int
load_serving (cb_curve_t *self, char *err, size_t errlen)
{
    if (self->serving)
        return 0;
    if (require ("curve-allowed-keys", self->allowed_keys,
                 "the directory of client certificates to admit", err, errlen) != 0 ||
        load_server_secret (self, err, errlen) != 0)
        return -1;
    char why[200];
    size_t count = 0;
    if (check_allowed (self->allowed_keys, &count, why, sizeof why) != 0)
        return refuse ("curve-allowed-keys", self->allowed_keys, why, err, errlen);
    if (count == 0)
        return refuse ("curve-allowed-keys", self->allowed_keys,
                       "no client certificate in it: every client would be refused", err, errlen);
    self->allowed_count = count;
    self->serving = true;
    return 0;
}

static int
load (cb_curve_t *self, const cb_curve_config_t *config, bool serves, char *err, size_t errlen)
{
    char why[200];
    if (require ("curve-cert", config->cert, "this process's certificate", err, errlen) != 0 ||
        require ("curve-server-key", config->server_key, "the cluster server's certificate", err,
                 errlen) != 0)
        return -1;
    self->server_key = strdup (config->server_key);
    if (config->allowed_keys && *config->allowed_keys)
        self->allowed_keys = strdup (config->allowed_keys);
    char *path = secret_path (config->cert);
    int rc = cert_read (path, true, &self->own, why, sizeof why);
    if (rc != 0)
        refuse ("curve-cert", path, why, err, errlen);
    free (path);
    if (rc != 0)
        return -1;
    if (cert_read (config->server_key, false, &self->server, why, sizeof why) != 0)
        return refuse ("curve-server-key", config->server_key, why, err, errlen);
    return serves ? load_serving (self, err, errlen) : 0;
}

cb_curve_t *
cb_curve_new (const cb_curve_config_t *config, bool serves, char *err, size_t errlen)
{
    assert (config && err);
    if (!zsys_has_curve ()) {
        snprintf (err, errlen, "--curve: this libzmq was built without CURVE");
        return NULL;
    }
    cb_curve_t *self = calloc (1, sizeof *self);
    assert (self);
    if (load (self, config, serves, err, errlen) != 0)
        cb_curve_destroy (&self);
    return self;
}

void
cb_curve_destroy (cb_curve_t **self_p)
{
    assert (self_p);
    cb_curve_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->auth);
    free (self->server_key);
    free (self->allowed_keys);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------------
//  Sockets

static int
start_auth (cb_curve_t *self)
{
    if (self->auth)
        return 0;
    self->auth = zactor_new (zauth, NULL);
    if (!self->auth)
        return -1;
    //  Synchronous: the handler is bound and configured once this returns.
    if (zstr_sendx (self->auth, "CURVE", self->allowed_keys, NULL) != 0 ||
        zsock_wait (self->auth) != 0) {
        zactor_destroy (&self->auth);
        return -1;
    }
    cb_log_info (NULL, "CURVE: admitting the client certificates of a directory", "{s:s, s:I, s:s}",
                 "allowed_keys", self->allowed_keys, "certificates",
                 (json_int_t) self->allowed_count, "server_key", self->server.public_txt);
    return 0;
}

int
cb_curve_server (cb_curve_t *self, zsock_t *sock)
{
    assert (self && sock);
    char err[512];
    if (load_serving (self, err, sizeof err) != 0) {
        cb_log_error (NULL, "CURVE: cannot serve", "{s:s}", "error", err);
        return -1;
    }
    if (start_auth (self) != 0) {
        cb_log_error (NULL, "CURVE: the ZAP handler (zauth) did not start", NULL);
        return -1;
    }
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey (sock, self->server.secret_txt);
    zsock_set_curve_publickey (sock, self->server.public_txt);
    zsock_set_maxmsgsize (sock, CB_MAX_MESSAGE_BYTES + CURVE_OVERHEAD);
    return 0;
}

void
cb_curve_client (const cb_curve_t *self, zsock_t *sock)
{
    assert (self && sock);
    zsock_set_curve_serverkey (sock, self->server.public_txt);
    zsock_set_curve_secretkey (sock, self->own.secret_txt);
    zsock_set_curve_publickey (sock, self->own.public_txt);
    zsock_set_maxmsgsize (sock, CB_MAX_MESSAGE_BYTES + CURVE_OVERHEAD);
}

const char *
cb_curve_public_key (const cb_curve_t *self)
{
    assert (self);
    return self->own.public_txt;
}

size_t
cb_curve_allowed_count (const cb_curve_t *self)
{
    assert (self);
    return self->allowed_count;
}

//  ---------------------------------------------------------------------------
//  Refused handshakes

enum { REASON_AUTH, REASON_PROTOCOL, REASON_OTHER, REASON_COUNT };
static const char *const REASONS[REASON_COUNT] = {"auth", "protocol", "other"};

struct cb_curve_watch {
    zsock_t *pair; // the socket's monitor events
    zloop_t *loop;
    char *socket_name;
    cb_metric_t *failures[REASON_COUNT];
    cb_log_limiter_t limiter;
};

//  Why a handshake failed, from its monitor event and value.
static const char *
refusal_text (uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return "the client's key is not in the allowed keys";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "the client does not speak CURVE";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "cryptographic failure (the client has another server key)";
    return event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               ? "ZMTP protocol error"
               : "closed during the handshake (a client without CURVE hangs up first)";
}

static int
on_event (zloop_t *loop, zsock_t *pair, void *arg)
{
    (void) loop;
    cb_curve_watch_t *self = arg;
    zmsg_t *msg = zmsg_recv (pair);
    zframe_t *head = msg ? zmsg_first (msg) : NULL;
    if (head && zframe_size (head) >= 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (head), sizeof event);
        memcpy (&value, zframe_data (head) + 2, sizeof value);
        int reason = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? REASON_AUTH
                     : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? REASON_PROTOCOL
                                                                    : REASON_OTHER;
        cb_counter_inc (self->failures[reason]);
        uint64_t suppressed;
        if (cb_log_limiter_allow (&self->limiter, &suppressed))
            cb_log_warn (NULL, "CURVE handshake refused", "{s:s, s:s, s:s, s:I}", "socket",
                         self->socket_name, "reason", REASONS[reason], "why",
                         refusal_text (event, value), "suppressed", (json_int_t) suppressed);
    }
    zmsg_destroy (&msg);
    return 0;
}

cb_curve_watch_t *
cb_curve_watch_new (zsock_t *sock, zloop_t *loop, const char *socket_name)
{
    assert (sock && loop && socket_name);
    cb_curve_watch_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->socket_name = strdup (socket_name);
    self->pair =
        cb_socket_monitor (sock,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                           loop, on_event, self);
    if (!self->pair) {
        cb_curve_watch_destroy (&self);
        return NULL;
    }
    for (int r = 0; r < REASON_COUNT; r++) {
        char labels[96];
        cb_metrics_labels (labels, sizeof labels, "socket", socket_name, "reason", REASONS[r],
                           NULL);
        self->failures[r] = cb_metrics_counter (
            "cordbank_curve_handshake_failures_total",
            "Connections a CURVE server socket refused: auth (client key not allowed), protocol "
            "(no CURVE, or another server key), other.",
            labels);
    }
    return self;
}

void
cb_curve_watch_destroy (cb_curve_watch_t **self_p)
{
    assert (self_p);
    cb_curve_watch_t *self = *self_p;
    if (!self)
        return;
    cb_socket_monitor_end (self->loop, &self->pair);
    free (self->socket_name);
    free (self);
    *self_p = NULL;
}
