/*  config: defaults, environment, flags, and one-line refusals. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common/config.h"

typedef struct {
    char *url;
    int64_t port;
    bool verbose;
    char *peers;
    char *token;
    char *level;
} fixture_t;

static fixture_t f;
static cb_option_t opts[] = {
    {"url", CB_OPT_STRING, "postgresql://x", "database", &f.url, 0, 0, false, NULL},
    {"port", CB_OPT_INT, "7300", "port", &f.port, 1, 65535, false, NULL},
    {"verbose", CB_OPT_BOOL, "false", "chatty", &f.verbose, 0, 0, false, NULL},
    {"peers", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:1", "peers", &f.peers, 0, 0, false, NULL},
    {"token", CB_OPT_STRING, "", "secret", &f.token, 0, 0, true, NULL},
    {"level", CB_OPT_STRING, "info", "level", &f.level, 0, 0, false, "debug|info|warn"},
};
#define N (sizeof opts / sizeof opts[0])

static int
parse (int argc, const char **argv, char *err)
{
    return cb_config_parse ("t", "test", opts, N, argc, (char **) argv, err, 256);
}

static void
teardown (void)
{
    cb_config_free (opts, N);
    unsetenv ("CORDBANK_PORT");
    unsetenv ("CORDBANK_TOKEN");
}

TestSuite (config, .fini = teardown);

Test (config, defaults)
{
    char err[256];
    const char *argv[] = {"t"};
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_OK);
    cr_assert_str_eq (f.url, "postgresql://x");
    cr_assert_eq (f.port, 7300);
    cr_assert_not (f.verbose);
}

Test (config, env_then_flag_wins)
{
    char err[256];
    const char *argv[] = {"t", "--port", "9000", "--verbose", "--url=pg://y"};
    setenv ("CORDBANK_PORT", "8000", 1);
    cr_assert_eq (parse (5, argv, err), CB_CONFIG_OK);
    cr_assert_eq (f.port, 9000);
    cr_assert (f.verbose);
    cr_assert_str_eq (f.url, "pg://y");
}

Test (config, env_alone)
{
    char err[256];
    const char *argv[] = {"t"};
    setenv ("CORDBANK_PORT", "8000", 1);
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_OK);
    cr_assert_eq (f.port, 8000);
}

Test (config, bad_env_names_the_variable)
{
    char err[256];
    const char *argv[] = {"t"};
    setenv ("CORDBANK_PORT", "eighty", 1);
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_PORT") != NULL, "%s", err);
    cr_assert (strstr (err, "whole number") != NULL, "%s", err);
}

Test (config, out_of_range_flag)
{
    char err[256];
    const char *argv[] = {"t", "--port=70000"};
    cr_assert_eq (parse (2, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--port") && strstr (err, "1..65535"), "%s", err);
}

Test (config, unknown_flag_and_missing_value)
{
    char err[256];
    const char *a1[] = {"t", "--nope"}, *a2[] = {"t", "--port"}, *a3[] = {"t", "stray"};
    cr_assert_eq (parse (2, a1, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "unknown option --nope"), "%s", err);
    cr_assert_eq (parse (2, a2, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "needs a value"), "%s", err);
    cr_assert_eq (parse (2, a3, err), CB_CONFIG_ERROR);
}

Test (config, bad_endpoints)
{
    char err[256];
    const char *argv[] = {"t", "--peers", "tcp://127.0.0.1:1,udp://x:2"};
    cr_assert_eq (parse (3, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--peers") && strstr (err, "udp://x:2"), "%s", err);
}

Test (config, bad_bool)
{
    char err[256];
    const char *argv[] = {"t", "--verbose=maybe"};
    cr_assert_eq (parse (2, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "true or false"), "%s", err);
}

Test (config, secret_value_never_echoed)
{
    char err[256];
    const char *argv[] = {"t"};
    opts[4].type = CB_OPT_INT; // make any value invalid for a moment
    opts[4].min = 0, opts[4].max = 1;
    f.token = NULL;
    setenv ("CORDBANK_TOKEN", "hunter2", 1);
    opts[4].default_value = "0";
    int rc = parse (1, argv, err);
    opts[4].type = CB_OPT_STRING;
    opts[4].default_value = "";
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_TOKEN") && !strstr (err, "hunter2"), "%s", err);
}

Test (config, env_name)
{
    char env[64];
    cb_config_env_name ("pg-url", env, sizeof env);
    cr_assert_str_eq (env, "CORDBANK_PG_URL");
}

Test (config, choices)
{
    char err[256];
    const char *ok[] = {"t", "--level", "warn"}, *bad[] = {"t", "--level=inf"};
    cr_assert_eq (parse (3, ok, err), CB_CONFIG_OK);
    cr_assert_str_eq (f.level, "warn");
    cr_assert_eq (parse (2, bad, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--level=\"inf\"") && strstr (err, "debug|info|warn"), "%s", err);
}
