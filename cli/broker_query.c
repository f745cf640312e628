//  broker_query.c -- see broker_query.h.  One DEALER, one request in
//  flight: an answer that is not the one awaited (a late reply to a request
//  given up on) is dropped.  Pages are unpacked once and kept, so that the
//  entries a command prints point into them.
#include "cli/broker_query.h"
#include "common/curve.h"
#include "common/msgpack_map.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct broker_query {
    char *endpoint;
    zsock_t *dealer;
    zpoller_t *poller;
    int timeout_ms;
    int version;                    //  2, or older after BAD_VERSION
    msgpack_unpacked *pages;        //  the last list's, pointing into
    zframe_t **frames;              //  these, their bytes
    size_t page_count;
    const msgpack_object **entries;
    size_t entry_count;
    char error[256];
};

broker_query_t *
broker_query_new (const char *endpoint, keys_t *keys, const uint8_t *broker_key,
                  int timeout_ms)
{
    broker_query_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoint = strdup (endpoint);
    self->dealer = zsock_new (ZMQ_DEALER);
    self->timeout_ms = timeout_ms;
    self->version = MSG_VERSION;
    if (!self->endpoint || !self->dealer
    ||  (keys && curve_client (self->dealer, keys, broker_key))
    ||  zsock_connect (self->dealer, "%s", endpoint) != 0
    ||  !(self->poller = zpoller_new (self->dealer, NULL))) {
        broker_query_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndtimeo (self->dealer, timeout_ms);
    return self;
}

static void
s_pages_free (broker_query_t *self)
{
    for (size_t i = 0; i < self->page_count; i++) {
        msgpack_unpacked_destroy (&self->pages[i]);
        zframe_destroy (&self->frames[i]);
    }
    free (self->pages);
    free (self->frames);
    self->frames = NULL;
    free (self->entries);
    self->pages = NULL;
    self->entries = NULL;
    self->page_count = self->entry_count = 0;
}

void
broker_query_destroy (broker_query_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_query_t *self = *self_p;
    s_pages_free (self);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->dealer);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

static int
s_fail (broker_query_t *self, int rc, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int
s_fail (broker_query_t *self, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    return rc;
}

//  Wait for the answer to a request of command (the one in flight).
static int
s_wait (broker_query_t *self, msg_command_t command, int64_t deadline, msg_t **reply_p)
{
    while (true) {
        int64_t wait = deadline - zclock_mono ();
        if (wait <= 0)
            return s_fail (self, -ETIMEDOUT, "no answer from broker at %s after %.3g s",
                           self->endpoint, self->timeout_ms / 1000.0);
        if (!zpoller_wait (self->poller, (int) wait)) {
            if (zpoller_terminated (self->poller))
                return s_fail (self, -EINTR, "interrupted");
            continue;
        }
        msg_t *msg = NULL;
        if (wire_recv (self->dealer, NULL, &msg))
            continue;           //  nothing we can read: still waiting
        msg_command_t got = msg_command (msg);
        bool answer = got == MSG_ERROR
            || ((command == MSG_STATUS || command == MSG_CANCEL) && got == MSG_JOB)
            || (command == MSG_JOBS && got == MSG_JOB_LIST)
            || (command == MSG_AGENTS && got == MSG_AGENT_LIST)
            || (command == MSG_SCHEDULE && got == MSG_SCHEDULE_LIST);
        if (answer) {
            *reply_p = msg;
            return 0;
        }
        msg_destroy (&msg);
    }
}

int
broker_query_ask (broker_query_t *self, msg_t **request_p, msg_t **reply_p)
{
    msg_command_t command = msg_command (*request_p);
    msg_set_version (*request_p, self->version);
    zmsg_t *request = wire_encode (request_p);
    if (!request)
        return s_fail (self, -ENOMEM, "out of memory");
    int64_t deadline = zclock_mono () + self->timeout_ms;
    while (true) {
        zmsg_t *copy = zmsg_dup (request);
        if (!copy || zmsg_send (&copy, self->dealer)) {
            zmsg_destroy (&copy);
            zmsg_destroy (&request);
            return s_fail (self, -ETIMEDOUT, "cannot send to broker at %s", self->endpoint);
        }
        msg_t *reply = NULL;
        int rc = s_wait (self, command, deadline, &reply);
        if (rc) {
            zmsg_destroy (&request);
            return rc;
        }
        if (msg_command (reply) != MSG_ERROR) {
            zmsg_destroy (&request);
            *reply_p = reply;
            return 0;
        }
        int code = (int) msg_uint (reply, MSG_F_CODE);
        int version = code == DRV_E_BAD_VERSION
                    ? wire_fallback_version (msg_str (reply, MSG_F_REASON), self->version): 0;
        if (version && wire_reencode (&request, version) == 0) {
            self->version = version;        //  a broker that speaks an older one
            msg_destroy (&reply);
            continue;
        }
        s_fail (self, code > 0 && code < DRV_E_MAX? -code: -DRV_E_INTERNAL,
                "broker refused %s: %s: %.160s", msg_command_name (command),
                msg_error_name (code), msg_str (reply, MSG_F_REASON));
        msg_destroy (&reply);
        zmsg_destroy (&request);
        return code > 0 && code < DRV_E_MAX? -code: -DRV_E_INTERNAL;
    }
}

//  ---------------------------------------------------------------------
//  Listings

//  Keep a page's entries: its one payload frame (taken: the entries point
//  into it), an array of count maps.
static int
s_take_page (broker_query_t *self, msg_t *reply)
{
    if (msg_payload_count (reply) != 1)
        return s_fail (self, -DRV_E_BAD_HEADER, "a listing without its entries");
    size_t count_before = self->page_count;
    msgpack_unpacked *pages = realloc (self->pages, (count_before + 1) * sizeof *pages);
    if (pages)
        self->pages = pages;
    zframe_t **frames = pages? realloc (self->frames, (count_before + 1) * sizeof *frames)
                             : NULL;
    if (!frames)
        return s_fail (self, -ENOMEM, "out of memory");
    self->frames = frames;
    zframe_t *frame = frames[count_before] = msg_payload_pop (reply);
    msgpack_unpacked *page = &pages[count_before];
    msgpack_unpacked_init (page);
    self->page_count++;
    size_t offset = 0;
    uint64_t count = msg_uint (reply, MSG_F_COUNT);
    if (msgpack_unpack_next (page, (const char *) zframe_data (frame), zframe_size (frame),
                             &offset) != MSGPACK_UNPACK_SUCCESS
    ||  offset != zframe_size (frame) || page->data.type != MSGPACK_OBJECT_ARRAY
    ||  page->data.via.array.size != count)
        return s_fail (self, -DRV_E_BAD_HEADER, "a listing page is not an array of %" PRIu64
                       " entries", count);
    const msgpack_object **entries = realloc (self->entries,
                                              (self->entry_count + count) * sizeof *entries);
    if (!entries)
        return s_fail (self, -ENOMEM, "out of memory");
    self->entries = entries;
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *entry = &page->data.via.array.ptr[i];
        if (entry->type != MSGPACK_OBJECT_MAP)
            return s_fail (self, -DRV_E_BAD_HEADER, "a listing entry is not a map");
        self->entries[self->entry_count++] = entry;
    }
    return 0;
}

int
broker_query_list (broker_query_t *self, msg_command_t command)
{
    s_pages_free (self);
    uint64_t after = 0;
    //  A page's `next` is above its `after`: the loop ends.
    while (true) {
        msg_t *request = msg_new (command);
        if (!request)
            return s_fail (self, -ENOMEM, "out of memory");
        msg_set_uint (request, MSG_F_AFTER, after);
        msg_t *reply = NULL;
        int rc = broker_query_ask (self, &request, &reply);
        if (rc)
            return rc;
        rc = s_take_page (self, reply);
        bool more = msg_has (reply, MSG_F_NEXT) && msg_uint (reply, MSG_F_NEXT) > after;
        after = msg_uint (reply, MSG_F_NEXT);
        msg_destroy (&reply);
        if (rc)
            return rc;
        if (!more)
            break;
    }
    return 0;
}

int
broker_query_ask_list (broker_query_t *self, msg_t **request_p)
{
    s_pages_free (self);
    msg_t *reply = NULL;
    int rc = broker_query_ask (self, request_p, &reply);
    if (rc == 0)
        rc = s_take_page (self, reply);
    msg_destroy (&reply);
    return rc;
}

size_t
broker_query_count (const broker_query_t *self)
{
    return self->entry_count;
}

const msgpack_object *
broker_query_entry (const broker_query_t *self, size_t index)
{
    return index < self->entry_count? self->entries[index]: NULL;
}

const char *
broker_query_error (const broker_query_t *self)
{
    return self->error;
}

bool
broker_query_uint (const msgpack_object *map, const char *key, uint64_t *value_p)
{
    const msgpack_object *value = msgpack_map_find (map, key);
    bool found = value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    *value_p = found? value->via.u64: 0;
    return found;
}

const char *
broker_query_str (const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const msgpack_object *value = msgpack_map_find (map, key);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        snprintf (buf, size, "%s", "");
    else
        snprintf (buf, size, "%.*s", (int) value->via.str.size, value->via.str.ptr);
    return buf;
}
