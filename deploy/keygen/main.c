/*  cordbank-keygen — CURVE certificates for --curve (see common/curve.h).
 *
 *      cordbank-keygen [--force] DIR NAME...
 *
 *  For each NAME, a new keypair in czmq's zcert format: DIR/NAME.key, the
 *  public certificate (to share: the allowed-keys directories, the
 *  cluster server's key), and DIR/NAME.key_secret, the secret one (mode
 *  0600; only the process it belongs to reads it). An existing file is
 *  never overwritten without --force: replacing a key is a rotation
 *  (docs/operations.md), not a side effect.
 *
 *  A C tool rather than a script: the keys come from libzmq's own
 *  generator (zmq_curve_keypair over libsodium), the format from zcert,
 *  so what the services read is exactly what czmq writes.
 */
#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROGRAM "cordbank-keygen"

static const char USAGE[] =
    "usage: " PROGRAM " [--force] DIR NAME...\n"
    "Writes DIR/NAME.key (public) and DIR/NAME.key_secret (secret, 0600) for each NAME:\n"
    "a CURVE keypair for cordbank's --curve options (--curve-cert, --curve-server-key,\n"
    "--curve-allowed-keys). Existing files are kept unless --force.\n";

//  A NAME becomes a file name: no path, nothing hidden.
static bool
name_ok (const char *name)
{
    return *name && *name != '.' && strlen (name) <= 64 &&
           strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
               strlen (name);
}

static int
generate (const char *dir, const char *name, bool force)
{
    char path[1024], secret[1040];
    snprintf (path, sizeof path, "%s/%s.key", dir, name);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (!force && (zsys_file_exists (path) || zsys_file_exists (secret))) {
        fprintf (stderr, PROGRAM ": %s exists: kept (--force replaces it)\n", path);
        return 2;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, PROGRAM ": cannot make a keypair\n");
        return 1;
    }
    char created[32];
    time_t now = time (NULL);
    strftime (created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime (&now));
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "created", "%s", created);
    int rc = zcert_save (cert, path);
    if (rc == 0)
        printf ("%s: %s (public), %s (secret) public-key=%s\n", name, path, secret,
                zcert_public_txt (cert));
    else
        fprintf (stderr, PROGRAM ": cannot write %s: %s\n", path, strerror (errno));
    zcert_destroy (&cert);
    return rc == 0 ? 0 : 1;
}

int
main (int argc, char **argv)
{
    bool force = false;
    int first = 1;
    if (argc > 1 && (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h"))) {
        fputs (USAGE, stdout);
        return 0;
    }
    if (argc > 1 && !strcmp (argv[1], "--force")) {
        force = true;
        first = 2;
    }
    if (argc - first < 2) {
        fputs (USAGE, stderr);
        return 2;
    }
    if (!zsys_has_curve ()) {
        fprintf (stderr, PROGRAM ": this libzmq was built without CURVE\n");
        return 1;
    }
    const char *dir = argv[first];
    for (int i = first + 1; i < argc; i++)
        if (!name_ok (argv[i])) {
            fprintf (stderr, PROGRAM ": invalid NAME \"%s\": letters, digits, . _ - only\n",
                     argv[i]);
            return 2;
        }
    if (zsys_dir_create ("%s", dir) != 0) {
        fprintf (stderr, PROGRAM ": cannot create %s: %s\n", dir, strerror (errno));
        return 1;
    }
    int rc = 0;
    for (int i = first + 1; i < argc && rc == 0; i++)
        rc = generate (dir, argv[i], force);
    return rc;
}
