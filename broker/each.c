//  each.c -- see each.h.
#include "broker/each.h"
#include "broker/labels.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_NAME_MAX 255

static bool
s_is (const msgpack_object *o, const char *text)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen (text)
        && !memcmp (o->via.str.ptr, text, o->via.str.size);
}

bool
each_label (const void *options, size_t options_size, char *label, size_t size)
{
    if (!options || !memmem (options, options_size, "\xa4" "each", 5))
        return false;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool found = false;
    const msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, options_size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size && !found; i++) {
            const msgpack_object *val = &o->via.map.ptr[i].val;
            if (s_is (&o->via.map.ptr[i].key, "each") && val->type == MSGPACK_OBJECT_STR
            &&  val->via.str.size > 0 && val->via.str.size < size) {
                snprintf (label, size, "%.*s", (int) val->via.str.size, val->via.str.ptr);
                found = true;
            }
        }
    msgpack_unpacked_destroy (&unpacked);
    return found;
}

zlistx_t *
each_values (roster_t *roster, const char *label)
{
    zlistx_t *values = zlistx_new ();
    if (!values)
        return NULL;
    zlistx_set_destructor (values, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (values, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (values, (zlistx_comparator_fn *) strcmp);
    char want[80];
    snprintf (want, sizeof want, ",%s=", label);
    for (session_t *session = roster? roster_first (roster): NULL; session;
         session = roster_next (roster)) {
        const char *labels = session_labels (session);
        const char *at = labels? strstr (labels, want): NULL;
        if (!at)
            continue;
        at += strlen (want);
        char value[64];
        snprintf (value, sizeof value, "%.*s", (int) strcspn (at, ","), at);
        if (!zlistx_find (values, value))
            zlistx_add_end (values, value);
    }
    zlistx_sort (values);
    return values;
}

//  parent's options without "each", with LABEL: VALUE in "requires".
static int
s_options (const job_t *parent, const char *label, const char *value, msgpack_sbuffer *buf)
{
    size_t size;
    const void *options = job_options (parent, &size);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  o->type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (&unpacked);
        return -1;
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    const msgpack_object *requires = NULL;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (s_is (&o->via.map.ptr[i].key, "requires"))
            requires = &o->via.map.ptr[i].val;
        else
            kept += !s_is (&o->via.map.ptr[i].key, "each");
    msgpack_pack_map (&pk, kept + 1);
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (!s_is (&o->via.map.ptr[i].key, "requires") && !s_is (&o->via.map.ptr[i].key, "each")) {
            msgpack_pack_object (&pk, o->via.map.ptr[i].key);
            msgpack_pack_object (&pk, o->via.map.ptr[i].val);
        }
    uint32_t others = 0;
    bool map = requires && requires->type == MSGPACK_OBJECT_MAP;
    for (uint32_t i = 0; map && i < requires->via.map.size; i++)
        others += !s_is (&requires->via.map.ptr[i].key, label);
    msgpack_pack_str_with_body (&pk, "requires", 8);
    msgpack_pack_map (&pk, others + 1);
    for (uint32_t i = 0; map && i < requires->via.map.size; i++)
        if (!s_is (&requires->via.map.ptr[i].key, label)) {
            msgpack_pack_object (&pk, requires->via.map.ptr[i].key);
            msgpack_pack_object (&pk, requires->via.map.ptr[i].val);
        }
    msgpack_pack_str_with_body (&pk, label, strlen (label));
    msgpack_pack_str_with_body (&pk, value, strlen (value));
    msgpack_unpacked_destroy (&unpacked);
    return 0;
}

job_t *
each_job (jobs_t *jobs, const job_t *parent, const char *label, const char *value)
{
    char name[JOB_NAME_MAX + 2];
    int len = snprintf (name, sizeof name, "%s@%s=%s", job_name (parent), label, value);
    if (len < 0 || len > JOB_NAME_MAX || jobs_lookup (jobs, name))
        return NULL;
    job_t *job = job_new (name, job_handler (parent), job_sink (parent));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (!job || s_options (parent, label, value, &buf)
    ||  job_set_options (job, buf.data, buf.size)
    ||  job_set_sink_key (job, job_sink_key (parent)))
        job_destroy (&job);
    msgpack_sbuffer_destroy (&buf);
    if (!job)
        return NULL;
    job_set_max_attempts (job, job_max_attempts (parent));
    job_set_timeout_ms (job, job_timeout_ms (parent));
    return jobs_add (jobs, &job);
}

size_t
each_status (jobs_t *jobs, const job_t *parent, job_counters_t *counters, job_state_t *state)
{
    char prefix[JOB_NAME_MAX + 2];
    snprintf (prefix, sizeof prefix, "%s@", job_name (parent));
    size_t len = strlen (prefix);
    memset (counters, 0, sizeof *counters);
    bool open = false, complete = true;
    size_t runs = 0;
    for (job_t *job = jobs_first (jobs); job; job = jobs_next (jobs)) {
        if (strncmp (job_name (job), prefix, len))
            continue;
        runs++;
        const job_counters_t *c = job_counters (job);
        counters->submitted += c->submitted;
        counters->queued += c->queued;
        counters->running += c->running;
        counters->done += c->done;
        counters->failed += c->failed;
        open |= job_state (job) == JOB_OPEN;
        complete &= job_state (job) == JOB_COMPLETE;
    }
    *state = open? JOB_OPEN: complete? JOB_COMPLETE: JOB_CLOSED;
    return runs;
}
