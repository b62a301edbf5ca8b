/*  transport — libcurl multi + epoll + timerfd.
 *
 *  curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 *  it next needs a timeout call (CURLMOPT_TIMERFUNCTION); we keep both in
 *  one epoll set with a timerfd armed at the earlier of curl's deadline
 *  and the caller's. Each request slot owns one easy handle for the whole
 *  run; connections live in the multi handle's pool, so they are kept
 *  alive across requests whichever slot uses them next. A response body
 *  is capped (RESPONSE_MAX) so a misbehaving server cannot eat memory.
 */
#include "load/discord-sim/transport.h"
#include "load/discord-sim/monotime.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define RESPONSE_MAX (1024 * 1024)
#define EVENTS_MAX   64

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char *response;
    size_t response_len, response_cap;
    sim_response_fn *fn;
    void *arg;
    char error[CURL_ERROR_SIZE];
} slot_t;

struct sim_transport {
    CURLM *multi;
    int epoll_fd;
    int timer_fd;
    int64_t curl_deadline_ns; // -1: curl needs no timeout call
    slot_t *slots;
    size_t slot_count;
    slot_t **free_slots; // a stack of the idle ones
    size_t free_count;
    bool curl_ready; // curl_global_init succeeded
};

int
sim_transport_check_url (const char *url, char *err, size_t errlen)
{
    CURLU *parsed = curl_url ();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (parsed && curl_url_set (parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get (parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get (parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        rc = strcmp (scheme, "http") == 0 || strcmp (scheme, "https") == 0 ? 0 : -1;
    if (rc != 0)
        snprintf (err, errlen, "--gateway-url '%s': want an http:// or https:// URL", url);
    curl_free (scheme);
    curl_free (host);
    curl_url_cleanup (parsed);
    return rc;
}

static int
on_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void) easy;
    (void) socketp;
    sim_transport_t *self = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event event = {.data.fd = fd};
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT)
        return epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -1;
    return 0;
}

static int
on_timer (CURLM *multi, long timeout_ms, void *userp)
{
    (void) multi;
    sim_transport_t *self = userp;
    self->curl_deadline_ns = timeout_ms < 0 ? -1 : cb_mono_ns () + timeout_ms * SIM_NS_PER_MS;
    return 0;
}

static size_t
on_body (char *data, size_t size, size_t count, void *userp)
{
    slot_t *slot = userp;
    size_t len = size * count;
    if (len > RESPONSE_MAX - slot->response_len)
        return 0; // curl fails the transfer with CURLE_WRITE_ERROR
    if (slot->response_len + len + 1 > slot->response_cap) {
        size_t cap = (slot->response_len + len + 1) * 2;
        char *grown = realloc (slot->response, cap);
        if (!grown)
            return 0;
        slot->response = grown;
        slot->response_cap = cap;
    }
    memcpy (slot->response + slot->response_len, data, len);
    slot->response_len += len;
    slot->response[slot->response_len] = '\0';
    return len;
}

static int
open_slot (slot_t *slot, const char *url, long timeout_ms)
{
    slot->easy = curl_easy_init ();
    if (!slot->easy)
        return -1;
    CURLcode rc = curl_easy_setopt (slot->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_POST, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_WRITEFUNCTION, on_body);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_WRITEDATA, slot);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_PRIVATE, slot);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_ERRORBUFFER, slot->error);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_USERAGENT, "cordbank-discord-sim");
    //  The gateway is reached directly: a proxy from the environment would
    //  measure the proxy, or send test traffic off the machine.
    if (rc == CURLE_OK)
        rc = curl_easy_setopt (slot->easy, CURLOPT_PROXY, "");
    return rc == CURLE_OK ? 0 : -1;
}

static int
open_multi (sim_transport_t *self, size_t concurrency)
{
    self->multi = curl_multi_init ();
    if (!self->multi)
        return -1;
    CURLMcode rc = curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    if (rc == CURLM_OK)
        rc = curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    if (rc == CURLM_OK)
        rc = curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    if (rc == CURLM_OK)
        rc = curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    //  Keep one idle connection per slot, or keep-alive breaks at bursts.
    if (rc == CURLM_OK)
        rc = curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long) concurrency);
    return rc == CURLM_OK ? 0 : -1;
}

static int
open_loop (sim_transport_t *self)
{
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->epoll_fd < 0 || self->timer_fd < 0)
        return -1;
    struct epoll_event event = {.events = EPOLLIN, .data.fd = self->timer_fd};
    return epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &event);
}

//  One descriptor per connection: lift the soft limit (often 1024) toward
//  the hard one when the concurrency asks for more. Best effort.
static void
raise_fd_limit (size_t concurrency)
{
    struct rlimit limit;
    rlim_t wanted = (rlim_t) concurrency + 64;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted)
        return;
    limit.rlim_cur = limit.rlim_max < wanted ? limit.rlim_max : wanted;
    setrlimit (RLIMIT_NOFILE, &limit);
}

sim_transport_t *
sim_transport_new (const char *url, size_t concurrency, long timeout_ms)
{
    assert (url && concurrency > 0 && timeout_ms > 0);
    sim_transport_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->epoll_fd = self->timer_fd = -1;
    self->curl_deadline_ns = -1;
    raise_fd_limit (concurrency);
    self->curl_ready = curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK;
    self->slots = calloc (concurrency, sizeof *self->slots);
    self->free_slots = calloc (concurrency, sizeof *self->free_slots);
    int rc = self->curl_ready && self->slots && self->free_slots ? open_loop (self) : -1;
    if (rc == 0)
        rc = open_multi (self, concurrency);
    for (size_t i = 0; rc == 0 && i < concurrency; i++) {
        rc = open_slot (&self->slots[i], url, timeout_ms);
        self->slot_count++;
        self->free_slots[self->free_count++] = &self->slots[i];
    }
    if (rc != 0)
        sim_transport_destroy (&self);
    return self;
}

//  Frees what one request owned and returns its slot to the stack.
static void
release (sim_transport_t *self, slot_t *slot)
{
    free (slot->body);
    slot->body = NULL;
    curl_slist_free_all (slot->headers);
    slot->headers = NULL;
    slot->fn = NULL;
    slot->response_len = 0;
    self->free_slots[self->free_count++] = slot;
}

static void
complete (sim_transport_t *self, slot_t *slot, CURLcode code)
{
    sim_response_t response = {.curl_code = (int) code, .done_ns = cb_mono_ns ()};
    curl_easy_getinfo (slot->easy, CURLINFO_RESPONSE_CODE, &response.status);
    if (code != CURLE_OK)
        response.error = slot->error[0] ? slot->error : curl_easy_strerror (code);
    response.body = slot->response_len ? slot->response : "";
    response.body_len = slot->response_len;
    sim_response_fn *fn = slot->fn;
    void *arg = slot->arg;
    fn (&response, arg);
    release (self, slot);
}

void
sim_transport_destroy (sim_transport_t **self_p)
{
    assert (self_p);
    sim_transport_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->slot_count; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->fn) {
            curl_multi_remove_handle (self->multi, slot->easy);
            complete (self, slot, CURLE_ABORTED_BY_CALLBACK);
        }
        curl_easy_cleanup (slot->easy);
        free (slot->response);
    }
    if (self->multi)
        curl_multi_cleanup (self->multi);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    if (self->timer_fd >= 0)
        close (self->timer_fd);
    if (self->curl_ready)
        curl_global_cleanup ();
    free (self->slots);
    free (self->free_slots);
    free (self);
    *self_p = NULL;
}

static struct curl_slist *
header_list (const char *const *headers, size_t count)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < count; i++) {
        struct curl_slist *longer = curl_slist_append (list, headers[i]);
        if (!longer) {
            curl_slist_free_all (list);
            return NULL;
        }
        list = longer;
    }
    return list;
}

int
sim_transport_post (sim_transport_t *self, char **body_p, size_t body_len,
                    const char *const *headers, size_t header_count, sim_response_fn *fn, void *arg)
{
    assert (self && body_p && fn);
    char *body = *body_p;
    *body_p = NULL;
    if (!body || self->free_count == 0) {
        free (body);
        return -1;
    }
    slot_t *slot = self->free_slots[--self->free_count];
    slot->body = body;
    slot->headers = header_list (headers, header_count);
    slot->fn = fn;
    slot->arg = arg;
    slot->error[0] = '\0';
    int rc = header_count == 0 || slot->headers ? 0 : -1;
    if (rc == 0)
        rc = curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
    if (rc == 0)
        rc = curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDS, body);
    if (rc == 0)
        rc = curl_easy_setopt (slot->easy, CURLOPT_HTTPHEADER, slot->headers);
    if (rc == 0)
        rc = curl_multi_add_handle (self->multi, slot->easy);
    if (rc != 0)
        release (self, slot);
    return rc == 0 ? 0 : -1;
}

size_t
sim_transport_in_flight (const sim_transport_t *self)
{
    assert (self);
    return self->slot_count - self->free_count;
}

bool
sim_transport_has_slot (const sim_transport_t *self)
{
    assert (self);
    return self->free_count > 0;
}

//  Hands finished transfers to their callbacks.
static void
reap (sim_transport_t *self)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL *easy = message->easy_handle;
        CURLcode code = message->data.result; // message dies with remove_handle
        slot_t *slot = NULL;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &slot);
        curl_multi_remove_handle (self->multi, easy);
        complete (self, slot, code);
    }
}

static void
run_curl_timer (sim_transport_t *self)
{
    if (self->curl_deadline_ns < 0 || self->curl_deadline_ns > cb_mono_ns ())
        return;
    int running;
    self->curl_deadline_ns = -1;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

static void
arm_timer (sim_transport_t *self, int64_t at_ns)
{
    struct itimerspec spec = {
        .it_value = {.tv_sec = at_ns / SIM_NS_PER_S, .tv_nsec = at_ns % SIM_NS_PER_S}};
    timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static void
dispatch (sim_transport_t *self, const struct epoll_event *event)
{
    if (event->data.fd == self->timer_fd) {
        uint64_t expirations;
        //  EAGAIN is fine: the timer was re-armed after it fired.
        ssize_t got = read (self->timer_fd, &expirations, sizeof expirations);
        (void) got;
        return;
    }
    int flags = (event->events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                (event->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                (event->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action (self->multi, event->data.fd, flags, &running);
}

int
sim_transport_wait (sim_transport_t *self, int64_t deadline_ns)
{
    assert (self);
    run_curl_timer (self);
    reap (self);
    int64_t wake = deadline_ns;
    if (self->curl_deadline_ns >= 0 && self->curl_deadline_ns < wake)
        wake = self->curl_deadline_ns;
    //  Already due: still look at the sockets (without blocking), so a
    //  caller that is always behind cannot starve the I/O.
    int timeout_ms = 0;
    if (wake > cb_mono_ns ()) {
        arm_timer (self, wake);
        timeout_ms = -1;
    }
    struct epoll_event events[EVENTS_MAX];
    int count = epoll_wait (self->epoll_fd, events, EVENTS_MAX, timeout_ms);
    if (count < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < count; i++)
        dispatch (self, &events[i]);
    run_curl_timer (self);
    reap (self);
    return 0;
}
