//  schedules.c -- see schedules.h.  A hash by name, and the earliest next
//  tick cached (recomputed after each change, never per turn), so the
//  loop's timer and an idle turn cost a comparison.
#include "broker/schedules.h"
#include "broker/campaign.h"
#include "broker/schedule.h"
#include "broker/submit_check.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct schedules {
    store_t *store;
    broker_config_t config;
    schedules_submit_fn *submit;
    void *arg;
    zhashx_t *by_name;          //  name -> schedule_t (owned)
    int64_t next;               //  the earliest tick due after each one's last; INT64_MAX
};

static void
s_destroy_item (void **item)
{
    schedule_destroy ((schedule_t **) item);
}

schedules_t *
schedules_new (store_t *store, const broker_config_t *config, schedules_submit_fn *submit,
               void *arg)
{
    schedules_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->config = *config;
    self->submit = submit;
    self->arg = arg;
    self->next = INT64_MAX;
    self->by_name = zhashx_new ();
    if (!self->by_name) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->by_name, s_destroy_item);
    return self;
}

void
schedules_destroy (schedules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    schedules_t *self = *self_p;
    zhashx_destroy (&self->by_name);
    free (self);
    *self_p = NULL;
}

size_t
schedules_count (const schedules_t *self)
{
    return zhashx_size (self->by_name);
}

//  The earliest tick of any schedule after its last run: one in the past
//  is due now.
static void
s_recompute_next (schedules_t *self, int64_t now)
{
    self->next = INT64_MAX;
    for (schedule_t *schedule = zhashx_first (self->by_name); schedule;
         schedule = zhashx_next (self->by_name)) {
        int64_t tick;
        int64_t next = schedule_due (schedule, now, &tick)? now
                     : schedule_next_after (schedule, now);
        if (next >= 0 && next < self->next)
            self->next = next;
    }
}

int64_t
schedules_wait_ms (const schedules_t *self, int64_t now_ms)
{
    if (self->next == INT64_MAX)
        return INT64_MAX;
    int64_t wait = self->next * 1000 - now_ms;
    return wait > 0? wait: 0;
}

//  Record a schedule in the store's open transaction.
static int
s_put (schedules_t *self, const schedule_t *schedule)
{
    unsigned char *record;
    size_t size;
    int rc = schedule_encode (schedule, &record, &size);
    if (rc == 0) {
        rc = store_put_schedule (self->store, schedule_name (schedule), record, size);
        free (record);
    }
    if (rc == 0)
        return 0;
    log_error ("schedule %s: cannot store it: %s", peerlog_str (schedule_name (schedule)).text,
               strerror (-rc));
    return rc;
}

static void
s_loaded (const void *name, size_t name_size, const void *data, size_t size, void *arg)
{
    schedules_t *self = (schedules_t *) arg;
    schedule_t *schedule = schedule_decode (name, name_size, data, size);
    if (!schedule) {
        log_error ("store: schedule record %s is damaged; skipped",
                   peerlog_mem (name, name_size).text);
        return;
    }
    if (zhashx_insert (self->by_name, schedule_name (schedule), schedule))
        schedule_destroy (&schedule);
}

int
schedules_load (schedules_t *self)
{
    int rc = store_load_schedules (self->store, s_loaded, self);
    int64_t now = zclock_time () / 1000;
    s_recompute_next (self, now);
    if (zhashx_size (self->by_name))
        log_info ("broker: %zu schedules recovered", zhashx_size (self->by_name));
    return rc;
}

//  ---------------------------------------------------------------------
//  The tick

//  Make the job of one schedule due for tick, and record that it ran.
static void
s_run (schedules_t *self, schedule_t *schedule, int64_t tick)
{
    const char *job = NULL;
    char reason[256] = "out of memory";
    msg_t *submit = schedule_submit (schedule, tick, &job);
    int rc = submit? self->submit (self->arg, submit, reason, sizeof reason)
                   : -DRV_E_INTERNAL;
    if (rc)
        log_warn ("schedule %s: its job %s was not made: %s: %s",
                  peerlog_str (schedule_name (schedule)).text,
                  peerlog_str (job? job: "").text, msg_error_name (-rc),
                  peerlog_str (reason).text);
    else
        log_info ("schedule %s: job %s made", peerlog_str (schedule_name (schedule)).text,
                  peerlog_str (job).text);
    //  Whether it went or not, this tick is over: a refusal would be
    //  refused again each turn.
    if (schedule_ran (schedule, tick, rc == 0? job: NULL) == 0)
        s_put (self, schedule);
    msg_destroy (&submit);
}

void
schedules_tick (schedules_t *self, int64_t now)
{
    if (now < self->next)
        return;
    for (schedule_t *schedule = zhashx_first (self->by_name); schedule;
         schedule = zhashx_next (self->by_name)) {
        int64_t tick;
        if (schedule_due (schedule, now, &tick))
            s_run (self, schedule, tick);
    }
    s_recompute_next (self, now);
}

//  ---------------------------------------------------------------------
//  SCHEDULE

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (schedule_name (*(schedule_t *const *) a),
                   schedule_name (*(schedule_t *const *) b));
}

//  SCHEDULELIST of count schedules, in name order.
static msg_t *
s_list (schedule_t **schedules, size_t count, int64_t now)
{
    qsort (schedules, count, sizeof *schedules, s_by_name);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++)
        schedule_pack (schedules[i], now, &pk);
    msg_t *reply = msg_new (MSG_SCHEDULE_LIST);
    zframe_t *frame = buf.data? zframe_new (buf.data, buf.size): NULL;
    msgpack_sbuffer_destroy (&buf);
    if (!reply || !frame || msg_set_uint (reply, MSG_F_COUNT, count)) {
        zframe_destroy (&frame);
        msg_destroy (&reply);
        return NULL;
    }
    msg_payload_append (reply, &frame);
    return reply;
}

static msg_t *
s_list_all (schedules_t *self, int64_t now)
{
    size_t count = zhashx_size (self->by_name), i = 0;
    schedule_t **all = calloc (count? count: 1, sizeof *all);
    if (!all)
        return NULL;
    for (schedule_t *schedule = zhashx_first (self->by_name); schedule;
         schedule = zhashx_next (self->by_name))
        all[i++] = schedule;
    msg_t *reply = s_list (all, count, now);
    free (all);
    return reply;
}

//  What a new job's SUBMIT must pass, but the room in the queue (a
//  schedule's jobs are made later, when the room is what it will be).
static int
s_submit_rules (schedules_t *self, const msg_t *submit, char *reason, size_t size)
{
    uint64_t bytes = 0;
    int rc = submit_check_fields (submit, NULL, reason, size);
    if (rc || !msg_has (submit, MSG_F_SPEC))
        return rc? rc: submit_check_tuples (submit, &self->config, &bytes, reason, size);
    if (msg_tuple_count (submit) > 0) {
        snprintf (reason, size, "a job with a spec carries no tuples");
        return -DRV_E_BAD_TUPLE;
    }
    size_t map_size;
    const void *map = msg_raw (submit, MSG_F_SPEC, &map_size);
    campaign_spec_t *spec = campaign_spec_new (map, map_size, msg_str (submit, MSG_F_JOB),
                                               reason, size);
    if (!spec)
        return -DRV_E_BAD_TYPE;
    campaign_spec_destroy (&spec);
    return 0;
}

static msg_t *
s_add (schedules_t *self, const msg_t *request, int64_t now, int *code_p, char *reason,
       size_t size)
{
    schedule_t *schedule = schedule_new (request, now, code_p, reason, size);
    if (!schedule)
        return NULL;
    const char *name = schedule_name (schedule);
    const char *job = NULL;
    msg_t *sample = NULL;
    int rc = 0;
    if (zhashx_lookup (self->by_name, name)) {
        *code_p = DRV_E_CONFLICT;
        snprintf (reason, size, "schedule %.64s exists (drover schedule rm it first)", name);
    }
    else
    if (zhashx_size (self->by_name) >= SCHEDULES_MAX) {
        *code_p = DRV_E_TOO_LARGE;
        snprintf (reason, size, "the broker keeps at most %d schedules", SCHEDULES_MAX);
    }
    else
    //  Its jobs must pass a SUBMIT's rules: checked now, on a sample.
    if ((sample = schedule_submit (schedule, now, &job)) == NULL
    ||  (rc = s_submit_rules (self, sample, reason, size)) != 0)
        *code_p = rc? -rc: DRV_E_INTERNAL;
    else
    if (s_put (self, schedule)) {
        *code_p = DRV_E_INTERNAL;
        snprintf (reason, size, "the store failed");
    }
    else {
        zhashx_insert (self->by_name, name, schedule);
        log_info ("schedule %s added", peerlog_str (name).text);
        s_recompute_next (self, now);
        msg_destroy (&sample);
        return s_list (&schedule, 1, now);
    }
    msg_destroy (&sample);
    schedule_destroy (&schedule);
    return NULL;
}

static msg_t *
s_remove (schedules_t *self, const char *name, int64_t now, int *code_p, char *reason,
          size_t size)
{
    schedule_t *schedule = name? zhashx_lookup (self->by_name, name): NULL;
    if (!schedule) {
        *code_p = DRV_E_UNKNOWN_JOB;
        snprintf (reason, size, "no schedule %.64s", name? name: "(no name given)");
        return NULL;
    }
    msg_t *reply = s_list (&schedule, 1, now);
    if (reply && store_del_schedule (self->store, name)) {
        msg_destroy (&reply);
        snprintf (reason, size, "the store failed");
    }
    if (!reply) {
        *code_p = DRV_E_INTERNAL;
        return NULL;
    }
    log_info ("schedule %s removed", peerlog_str (name).text);
    zhashx_delete (self->by_name, name);
    s_recompute_next (self, now);
    return reply;
}

msg_t *
schedules_request (schedules_t *self, const msg_t *request, int64_t now, int *code_p,
                   char *reason, size_t size)
{
    const char *op = msg_str (request, MSG_F_OP);
    msg_t *reply = NULL;
    *code_p = DRV_E_INTERNAL;
    snprintf (reason, size, "out of memory");
    if (!strcmp (op, "add"))
        reply = s_add (self, request, now, code_p, reason, size);
    else
    if (!strcmp (op, "rm"))
        reply = s_remove (self, msg_str (request, MSG_F_SCHEDULE), now, code_p, reason, size);
    else
    if (!strcmp (op, "list"))
        reply = s_list_all (self, now);
    else {
        *code_p = DRV_E_BAD_TYPE;
        snprintf (reason, size, "op '%.32s' is not add, list or rm", op);
    }
    return reply;
}
