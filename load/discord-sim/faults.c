/*  faults — parsing fault requests and holding the timed ones (see faults.h).
 */
#include "load/discord-sim/faults.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[] = {
    [SRV_FAULT_DROP] = "drop",
    [SRV_FAULT_RECONNECT] = "reconnect",
    [SRV_FAULT_INVALID_SESSION] = "invalid_session",
    [SRV_FAULT_INVALID_SESSION_RESUMABLE] = "invalid_session_resumable",
    [SRV_FAULT_CLOSE] = "close",
    [SRV_FAULT_HEARTBEAT_REQUEST] = "heartbeat_request",
    [SRV_FAULT_OVERSIZED] = "oversized",
    [SRV_FAULT_STOP_ACKS] = "stop_acks",
    [SRV_FAULT_RATE_LIMIT_STORM] = "rate_limit_storm",
    [SRV_FAULT_SLOW_REST] = "slow_rest",
    [SRV_FAULT_CLEAR] = "clear",
};
#define KIND_COUNT (sizeof NAMES / sizeof NAMES[0])

const char *
srv_fault_name (srv_fault_kind_t kind)
{
    return (size_t) kind < KIND_COUNT ? NAMES[kind] : "?";
}

bool
srv_fault_is_connection (srv_fault_kind_t kind)
{
    return kind <= SRV_FAULT_OVERSIZED;
}

static void
defaults (srv_fault_t *out)
{
    memset (out, 0, sizeof *out);
    out->shard = -1;
    out->seconds = 10;
    snprintf (out->scope, sizeof out->scope, "user");
    out->delay_ms = 1000;
    out->code = 4000;
}

static int
set_kind (const char *name, srv_fault_t *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (strcmp (name, NAMES[i]) == 0) {
            out->kind = (srv_fault_kind_t) i;
            return 0;
        }
    snprintf (err, errlen, "unknown fault \"%s\"", name);
    return -1;
}

//  Checks the values every source may set.
static int
check (const srv_fault_t *f, char *err, size_t errlen)
{
    if (f->shard < -1 || f->shard > 4095)
        snprintf (err, errlen, "shard must be -1 (all) or 0..4095");
    else if (!isfinite (f->seconds) || f->seconds <= 0 || f->seconds > 86400)
        snprintf (err, errlen, "seconds must be in (0, 86400]");
    else if (strcmp (f->scope, "user") && strcmp (f->scope, "global") &&
             strcmp (f->scope, "shared"))
        snprintf (err, errlen, "scope must be user, global or shared");
    else if (f->delay_ms < 0 || f->delay_ms > 600000)
        snprintf (err, errlen, "delay_ms must be in 0..600000");
    else if (f->code < 1000 || f->code > 4999)
        snprintf (err, errlen, "code must be a WebSocket close code (1000..4999)");
    else if (!isfinite (f->after_s) || f->after_s < 0)
        snprintf (err, errlen, "after must be >= 0 seconds");
    else
        return 0;
    return -1;
}

int
srv_fault_from_json (const json_t *body, srv_fault_t *out, char *err, size_t errlen)
{
    defaults (out);
    const char *name = json_string_value (json_object_get (body, "fault"));
    if (!json_is_object (body) || !name) {
        snprintf (err, errlen, "want {\"fault\": NAME, ...}");
        return -1;
    }
    if (set_kind (name, out, err, errlen) != 0)
        return -1;
    const json_t *v;
    if ((v = json_object_get (body, "shard")) && json_is_integer (v))
        out->shard = (int) json_integer_value (v);
    if ((v = json_object_get (body, "seconds")) && json_is_number (v))
        out->seconds = json_number_value (v);
    if ((v = json_object_get (body, "scope")) && json_is_string (v))
        snprintf (out->scope, sizeof out->scope, "%s", json_string_value (v));
    if ((v = json_object_get (body, "delay_ms")) && json_is_integer (v))
        out->delay_ms = json_integer_value (v);
    if ((v = json_object_get (body, "code")) && json_is_integer (v))
        out->code = (int) json_integer_value (v);
    return check (out, err, errlen);
}

static int
set_key (srv_fault_t *out, const char *key, const char *value, char *err, size_t errlen)
{
    char *end = NULL;
    double number = strtod (value, &end);
    bool numeric = end != value && *end == '\0';
    if (strcmp (key, "scope") == 0)
        snprintf (out->scope, sizeof out->scope, "%s", value);
    else if (!numeric) {
        snprintf (err, errlen, "fault key \"%s\" wants a number", key);
        return -1;
    } else if (strcmp (key, "shard") == 0)
        out->shard = (int) number;
    else if (strcmp (key, "seconds") == 0)
        out->seconds = number;
    else if (strcmp (key, "delay_ms") == 0)
        out->delay_ms = (int64_t) number;
    else if (strcmp (key, "code") == 0)
        out->code = (int) number;
    else if (strcmp (key, "after") == 0)
        out->after_s = number;
    else {
        snprintf (err, errlen, "unknown fault key \"%s\"", key);
        return -1;
    }
    return 0;
}

int
srv_fault_from_spec (const char *spec, srv_fault_t *out, char *err, size_t errlen)
{
    defaults (out);
    char copy[256], *save = NULL;
    snprintf (copy, sizeof copy, "%s", spec);
    char *name = strtok_r (copy, ",", &save);
    if (!name || set_kind (name, out, err, errlen) != 0) {
        if (!name)
            snprintf (err, errlen, "empty --fault");
        return -1;
    }
    for (char *pair = strtok_r (NULL, ",", &save); pair; pair = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (pair, '=');
        if (!eq) {
            snprintf (err, errlen, "fault option \"%s\" is not key=value", pair);
            return -1;
        }
        *eq = '\0';
        if (set_key (out, pair, eq + 1, err, errlen) != 0)
            return -1;
    }
    return check (out, err, errlen);
}

void
srv_faults_apply (srv_faults_t *self, const srv_fault_t *f, int64_t now_ms)
{
    assert (self && f);
    int64_t until = now_ms + (int64_t) llround (f->seconds * 1000.0);
    switch (f->kind) {
    case SRV_FAULT_STOP_ACKS:
        self->stop_acks_until_ms = until;
        self->stop_acks_shard = f->shard;
        break;
    case SRV_FAULT_RATE_LIMIT_STORM:
        self->storm_until_ms = until;
        snprintf (self->storm_scope, sizeof self->storm_scope, "%s", f->scope);
        break;
    case SRV_FAULT_SLOW_REST:
        self->slow_until_ms = until;
        self->slow_delay_ms = f->delay_ms;
        break;
    case SRV_FAULT_CLEAR:
        memset (self, 0, sizeof *self);
        break;
    default:
        break;
    }
}

bool
srv_faults_acks_stopped (const srv_faults_t *self, int shard, int64_t now_ms)
{
    return now_ms < self->stop_acks_until_ms &&
           (self->stop_acks_shard == -1 || self->stop_acks_shard == shard);
}

const char *
srv_faults_storm (const srv_faults_t *self, int64_t now_ms)
{
    return now_ms < self->storm_until_ms ? self->storm_scope : NULL;
}

int64_t
srv_faults_rest_delay_ms (const srv_faults_t *self, int64_t now_ms)
{
    return now_ms < self->slow_until_ms ? self->slow_delay_ms : 0;
}

int
srv_faults_test (void)
{
    srv_fault_t f;
    char err[128];
    SIM_CHECK (srv_fault_from_spec ("rate_limit_storm,seconds=3,scope=global,after=5", &f, err,
                                    sizeof err) == 0);
    SIM_CHECK (f.kind == SRV_FAULT_RATE_LIMIT_STORM && f.seconds == 3 && f.after_s == 5);
    SIM_CHECK (strcmp (f.scope, "global") == 0 && f.shard == -1);
    SIM_CHECK (srv_fault_from_spec ("explode", &f, err, sizeof err) == -1);
    SIM_CHECK (srv_fault_from_spec ("drop,shard", &f, err, sizeof err) == -1);
    SIM_CHECK (srv_fault_from_spec ("close,code=99", &f, err, sizeof err) == -1);
    SIM_CHECK (srv_fault_from_spec ("slow_rest,scope=galaxy", &f, err, sizeof err) == -1);
    json_t *body = json_pack ("{s:s, s:i, s:f}", "fault", "stop_acks", "shard", 1, "seconds", 2.0);
    SIM_CHECK (srv_fault_from_json (body, &f, err, sizeof err) == 0);
    json_decref (body);
    SIM_CHECK (f.kind == SRV_FAULT_STOP_ACKS && f.shard == 1 && !srv_fault_is_connection (f.kind));
    srv_faults_t active = {0};
    srv_faults_apply (&active, &f, 1000);
    SIM_CHECK (srv_faults_acks_stopped (&active, 1, 2999));
    SIM_CHECK (!srv_faults_acks_stopped (&active, 0, 2000));
    SIM_CHECK (!srv_faults_acks_stopped (&active, 1, 3000));
    SIM_CHECK (srv_fault_from_spec ("slow_rest,delay_ms=250,seconds=1", &f, err, sizeof err) == 0);
    srv_faults_apply (&active, &f, 1000);
    SIM_CHECK (srv_faults_rest_delay_ms (&active, 1500) == 250);
    SIM_CHECK (srv_faults_storm (&active, 1500) == NULL);
    SIM_CHECK (srv_fault_from_spec ("clear", &f, err, sizeof err) == 0);
    srv_faults_apply (&active, &f, 1500);
    SIM_CHECK (srv_faults_rest_delay_ms (&active, 1500) == 0);
    body = json_pack ("{s:s}", "nofault", "x");
    SIM_CHECK (srv_fault_from_json (body, &f, err, sizeof err) == -1);
    json_decref (body);
    return 0;
}
