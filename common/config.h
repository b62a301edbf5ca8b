/*  config — 12-factor configuration: environment variables with matching
 *  --flags, validated up front, and a --help that lists them all.
 *
 *  A service describes its options in a table; each option "pg-url" is read
 *  from CORDBANK_PG_URL, then from --pg-url=V or --pg-url V (a flag wins).
 *  An invalid value is refused with one line naming the variable or flag,
 *  and the service exits 2. Strings are copied (free with cb_config_free).
 *
 *  An option flagged `secret` may also be read from a file, the way
 *  Kubernetes and Docker mount secrets: CORDBANK_PG_URL_FILE=PATH or
 *  --pg-url-file=PATH (the whole file, trailing newlines stripped). A file
 *  that cannot be read, is empty, or is given together with the value at
 *  the same level (both variables, or both flags) is refused like an
 *  invalid value. A secret's text is never printed: --help shows
 *  "<secret>", and errors name where it came from, never what it was.
 *
 *  --print-config prints, once everything has parsed, each option's value
 *  and its source (default, variable, flag, or the file it was read from)
 *  as JSON, a secret's value as "<redacted>", and exits 0: what an
 *  operator runs to see what a pod will use, and a check of it.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CB_OPT_STRING,    // target: char **
    CB_OPT_INT,       // target: int64_t *, checked against [min, max]
    CB_OPT_BOOL,      // target: bool *; true/false/1/0/yes/no; a bare --flag is true
    CB_OPT_ENDPOINTS, // target: char **; "tcp://h:p,tcp://h:p" or "dns://name:port"
} cb_opt_type_t;

typedef struct {
    const char *name; // flag name: "pg-url"
    cb_opt_type_t type;
    const char *default_value; // as text, parsed like any other value
    const char *help;
    void *target;
    int64_t min, max;    // CB_OPT_INT only
    bool secret;         // never printed (help shows "<secret>"); may come from a file
    const char *choices; // CB_OPT_STRING: the allowed values, "a|b|c" (NULL: any)
} cb_option_t;

enum { CB_CONFIG_OK = 0, CB_CONFIG_HELP = 1, CB_CONFIG_ERROR = -1 };

//  Fills every target from defaults, environment, then argv. Returns
//  CB_CONFIG_OK, CB_CONFIG_HELP (--help, or --print-config's JSON, printed
//  on stdout: the caller exits 0), or CB_CONFIG_ERROR
//  with a one-line reason in err.
int cb_config_parse (const char *program, const char *summary, const cb_option_t *opts,
                     size_t count, int argc, char **argv, char *err, size_t errlen);

//  What a main() does with the above: returns -1 to go on, or the exit code
//  (0 after --help, 2 after an error, printed as "program: reason").
int cb_config_main (const char *program, const char *summary, const cb_option_t *opts, size_t count,
                    int argc, char **argv);

void cb_config_free (const cb_option_t *opts, size_t count);

//  Frees a string that may hold a secret (a token, a URL with a password, a
//  payload carrying one), overwriting it first. NULL is fine.
void cb_secret_free (char *text);

//  The environment variable an option is read from ("pg-url" -> CORDBANK_PG_URL).
void cb_config_env_name (const char *name, char *out, size_t outlen);

#endif
