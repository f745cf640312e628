//  outbox.c -- RESULT batches to sinks and their acknowledgements; see
//  outbox.h.  A task is in exactly one list while here: its batch's queued
//  list (record packed, not sent) or the outbox's sent list (oldest first,
//  so the resend check looks at the head only).  A batch also finds its
//  tasks by tuple id when STORED names them.
#include "agent/outbox.h"
#include "agent/idtable.h"
#include "agent/records.h"
#include "agent/sinklink.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "common/seal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;                  //  job name, newline, sink endpoint
    char *job;                  //  the job's name
    sinklink_t *link;
    records_t *records;         //  of the next RESULT
    task_t *queued_head, *queued_tail;
    idtable_t *pending;         //  tuple id -> task_t * (others with that id chained by same)
    size_t tasks;               //  tasks of this batch waiting for STORED
    int64_t since;              //  when its first record not sent was packed (zclock_mono)
} batch_t;

struct outbox {
    char *agent;
    const void *labels;         //  ours, a msgpack map (borrowed), or NULL
    size_t labels_size;
    keys_t *keys;               //  ours, for sealed sinks (NULL: none)
    uint8_t *ad;                //  associated data of a sealed RESULT
    size_t ad_cap;
    int timeout_ms;
    zpoller_t *poller;
    zhashx_t *links;            //  sink spec -> sinklink_t
    zhashx_t *batches;          //  key -> batch_t
    task_t *sent_head, *sent_tail;
    size_t pending;
    batch_t *last;              //  the batch s_batch found last ...
    task_job_t *last_job;       //  ... for this job record (a ref held), or NULL
};

//  ---------------------------------------------------------------------
//  Lists

static void
s_list_append (task_t **head, task_t **tail, task_t *task)
{
    task->outbox.next = NULL;
    task->outbox.prev = *tail;
    if (*tail)
        (*tail)->outbox.next = task;
    else
        *head = task;
    *tail = task;
}

static void
s_list_remove (task_t **head, task_t **tail, task_t *task)
{
    if (task->outbox.prev)
        task->outbox.prev->outbox.next = task->outbox.next;
    else
        *head = task->outbox.next;
    if (task->outbox.next)
        task->outbox.next->outbox.prev = task->outbox.prev;
    else
        *tail = task->outbox.prev;
    task->outbox.prev = task->outbox.next = NULL;
}

//  ---------------------------------------------------------------------
//  Sinks and batches

//  The link to spec's sink, made on first use.
static sinklink_t *
s_link (outbox_t *self, const char *spec)
{
    sinklink_t *link = zhashx_lookup (self->links, spec);
    if (!link && (link = sinklink_new (spec, self->keys, self->poller)))
        zhashx_insert (self->links, spec, link);
    return link;
}

static void
s_batch_destroy (outbox_t *self, batch_t **batch_p)
{
    batch_t *batch = *batch_p;
    if (!batch)
        return;
    if (self->last == batch)
        self->last = NULL;
    //  Tasks still pending here go with it.
    size_t at = 0;
    for (task_t **entry; batch->pending && (entry = idtable_next (batch->pending, &at, NULL)); )
        for (task_t *task = *entry; task; ) {
            task_t *same = task->outbox.same;
            task_destroy (&task);
            self->pending--;
            task = same;
        }
    idtable_destroy (&batch->pending);
    records_destroy (&batch->records);
    free (batch->job);
    free (batch->key);
    free (batch);
    *batch_p = NULL;
}

static batch_t *
s_batch (outbox_t *self, const char *job, sinklink_t *link)
{
    char *key = zsys_sprintf ("%s\n%s", job, sinklink_spec (link));
    if (!key)
        return NULL;
    batch_t *batch = zhashx_lookup (self->batches, key);
    if (batch) {
        zstr_free (&key);
        return self->last = batch;
    }
    batch = calloc (1, sizeof *batch);
    if (!batch) {
        zstr_free (&key);
        return NULL;
    }
    batch->key = key;
    batch->job = strdup (job);
    batch->link = link;
    batch->records = records_new (MSG_VERSION);
    batch->pending = idtable_new (sizeof (task_t *));
    if (!batch->records || !batch->pending || !batch->job) {
        s_batch_destroy (self, &batch);
        return NULL;
    }
    zhashx_insert (self->batches, key, batch);
    return self->last = batch;
}

//  Remember the job record whose batch was found last.  A record's name
//  and sink never change, and the ref keeps its address from being reused.
static void
s_remember (outbox_t *self, task_job_t *job)
{
    if (self->last_job == job)
        return;
    if (self->last_job)
        task_job_unref (&self->last_job);
    task_job_ref (job);
    self->last_job = job;
}

//  The batch found last, if it is the task's, or NULL.  Most tasks in a
//  row share a job record: one compare of pointers, not two of strings
//  (a job name and a sink spec, ~60 bytes each) per tuple.
static batch_t *
s_last_of (outbox_t *self, const task_t *task)
{
    batch_t *last = self->last;
    if (!last)
        return NULL;
    if (task->job == self->last_job)
        return last;
    if (strcmp (last->job, task->job->name) || strcmp (sinklink_spec (last->link), task->job->sink))
        return NULL;
    s_remember (self, task->job);
    return last;
}

//  The batch of the task's job for its sink.
static batch_t *
s_batch_of (outbox_t *self, const task_t *task)
{
    batch_t *batch = s_last_of (self, task);
    if (batch)
        return batch;
    sinklink_t *link = s_link (self, task->job->sink);
    batch = link? s_batch (self, task->job->name, link): NULL;
    if (batch)
        s_remember (self, task->job);
    return batch;
}

//  ---------------------------------------------------------------------
//  Sending

//  Seal a RESULT's payload in place (plain bytes after the nonce's room)
//  for the batch's sink, binding its header (seal_result_ad), and name our
//  key in it.  Each call takes a new seq, so a resend is a new message.
static int
s_seal (outbox_t *self, batch_t *batch, msg_t *msg, zframe_t *payload, size_t plain)
{
    size_t count = 0;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &count);
    int version = msg_version (msg);
    size_t ad_len = seal_result_ad (NULL, 0, version, keys_public (self->keys), batch->job,
                                    self->agent, runs, count);
    if (ad_len > self->ad_cap) {
        uint8_t *ad = realloc (self->ad, ad_len);
        if (!ad)
            return -ENOMEM;
        self->ad = ad;
        self->ad_cap = ad_len;
    }
    seal_result_ad (self->ad, self->ad_cap, version, keys_public (self->keys), batch->job,
                    self->agent, runs, count);
    uint8_t *data = zframe_data (payload);
    size_t sealed = 0;
    int rc = seal_encrypt (sinklink_seal (batch->link), self->ad, ad_len, data + SEAL_NONCE_SIZE, plain,
                           data, zframe_size (payload), &sealed, NULL);
    if (rc == 0)
        rc = msg_set_str (msg, MSG_F_KEY, keys_public_txt (self->keys));
    return rc;
}

//  The RESULT for the batch's records in *msg_p, sealed if its sink takes
//  sealed results.  0, or -errno (out of memory, the seal failed).
static int
s_result (outbox_t *self, batch_t *batch, msg_t **msg_p)
{
    //  A sealed payload is written after the nonce's room and sealed in place.
    seal_t *seal = sinklink_seal (batch->link);
    size_t plain = records_size (batch->records);
    zframe_t *payload = zframe_new (NULL, plain + (seal? SEAL_OVERHEAD: 0));
    msg_t *msg = msg_new (MSG_RESULT);
    int rc = payload && msg? 0: -ENOMEM;
    if (rc == 0) {
        records_write (batch->records, zframe_data (payload) + (seal? SEAL_NONCE_SIZE: 0));
        msg_set_version (msg, records_version (batch->records));
        msg_set_str (msg, MSG_F_JOB, batch->job);
        msg_set_str (msg, MSG_F_AGENT, self->agent);
        if (self->labels)
            msg_set_raw (msg, MSG_F_LABELS, self->labels, self->labels_size);
        rc = msg_set_refs (msg, MSG_F_TUPLES, records_refs (batch->records),
                           records_count (batch->records));
        if (rc == 0 && seal)
            rc = s_seal (self, batch, msg, payload, plain);
        msg_payload_append (msg, &payload);
    }
    zframe_destroy (&payload);
    if (rc)
        msg_destroy (&msg);
    *msg_p = msg;
    return rc;
}

static void
s_send_batch (outbox_t *self, batch_t *batch, int64_t now)
{
    size_t count = records_count (batch->records);
    if (count == 0)
        return;
    msg_t *msg;
    int rc = s_result (self, batch, &msg);
    if (rc == 0)
        rc = sinklink_send (batch->link, &msg);
    msg_destroy (&msg);
    const char *sink = peerlog_str (sinklink_endpoint (batch->link)).text;
    if (rc == 0)
        log_debug ("sent %zu results of job %s to sink %s", count, peerlog_str (batch->job).text,
                   sink);
    else
    if (rc == -ENOTCONN)        //  sent when the sink lets us in again
        log_debug ("%zu results of job %s wait for sink %s", count,
                   peerlog_str (batch->job).text, sink);
    else
        log_warn ("could not send %zu results of job %s to sink %s (%s); will retry in %d ms",
                  count, peerlog_str (batch->job).text, sink, strerror (rc < 0? -rc: ENOMEM),
                  self->timeout_ms);
    //  Sent or not, each waits for STORED now; the resend covers a failure.
    while (batch->queued_head) {
        task_t *task = batch->queued_head;
        s_list_remove (&batch->queued_head, &batch->queued_tail, task);
        task->outbox.sent = true;
        task->outbox.sent_ms = now;
        s_list_append (&self->sent_head, &self->sent_tail, task);
    }
    records_clear (batch->records);
}

//  Pack a task's record into its batch; send the batch if it is full.
static int
s_queue (outbox_t *self, batch_t *batch, task_t *task)
{
    if (records_count (batch->records) == 0)
        batch->since = zclock_mono ();
    if (records_add (batch->records, task))
        return -1;
    task->outbox.sent = false;
    s_list_append (&batch->queued_head, &batch->queued_tail, task);
    if (records_count (batch->records) >= OUTBOX_BATCH_MAX)
        s_send_batch (self, batch, zclock_mono ());
    return 0;
}

//  ---------------------------------------------------------------------
//  Public API

outbox_t *
outbox_new (const char *agent, int result_timeout_ms, zpoller_t *poller, keys_t *keys)
{
    outbox_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = keys;
    self->agent = strdup (agent);
    self->timeout_ms = result_timeout_ms > 0? result_timeout_ms: 10000;
    self->poller = poller;
    self->links = zhashx_new ();
    self->batches = zhashx_new ();
    if (!self->agent || !self->links || !self->batches) {
        outbox_destroy (&self);
        return NULL;
    }
    return self;
}

void
outbox_set_labels (outbox_t *self, const void *labels, size_t size)
{
    self->labels = labels;
    self->labels_size = labels? size: 0;
}

void
outbox_destroy (outbox_t **self_p)
{
    outbox_t *self = *self_p;
    if (!self)
        return;
    if (self->batches) {
        for (batch_t *batch = zhashx_first (self->batches); batch; batch = zhashx_next (self->batches))
            s_batch_destroy (self, &batch);
        zhashx_destroy (&self->batches);
    }
    if (self->links) {
        for (sinklink_t *link = zhashx_first (self->links); link;
             link = zhashx_next (self->links))
            sinklink_destroy (&link);
        zhashx_destroy (&self->links);
    }
    if (self->last_job)
        task_job_unref (&self->last_job);
    free (self->ad);
    free (self->agent);
    free (self);
    *self_p = NULL;
}

int
outbox_add (outbox_t *self, task_t *task)
{
    batch_t *batch = s_batch_of (self, task);
    if (!batch)
        return -1;
    task_t **entry = idtable_find (batch->pending, task->ref.id);
    task_t *same = entry? *entry: NULL;
    if (same) {
        task->outbox.same = same->outbox.same;
        same->outbox.same = task;
    }
    else {
        task->outbox.same = NULL;
        if (!(entry = idtable_add (batch->pending, task->ref.id)))
            return -1;
        *entry = task;
    }
    task->outbox.batch = batch;
    batch->tasks++;
    self->pending++;
    if (s_queue (self, batch, task) == 0)
        return 0;
    //  Out of memory: take it back out.
    if (same)
        same->outbox.same = task->outbox.same;
    else
        idtable_remove (batch->pending, task->ref.id);
    batch->tasks--;
    self->pending--;
    return -1;
}

void
outbox_prefetch (outbox_t *self, const task_t *task)
{
    //  Only into the batch found last: finding another costs more than
    //  the miss this saves.
    batch_t *last = s_last_of (self, task);
    if (last)
        idtable_prefetch (last->pending, task->ref.id);
}

void
outbox_flush (outbox_t *self, int64_t now, size_t running)
{
    for (batch_t *batch = zhashx_first (self->batches); batch; batch = zhashx_next (self->batches))
        if (running == 0 || now - batch->since >= OUTBOX_LINGER_MS)
            s_send_batch (self, batch, now);
}

int64_t
outbox_next_flush (outbox_t *self)
{
    int64_t next = INT64_MAX;
    for (batch_t *batch = zhashx_first (self->batches); batch; batch = zhashx_next (self->batches))
        if (records_count (batch->records) && batch->since + OUTBOX_LINGER_MS < next)
            next = batch->since + OUTBOX_LINGER_MS;
    return next;
}

void
outbox_resend (outbox_t *self, int64_t now)
{
    size_t count = 0;
    while (self->sent_head && self->sent_head->outbox.sent_ms + self->timeout_ms <= now) {
        task_t *task = self->sent_head;
        s_list_remove (&self->sent_head, &self->sent_tail, task);
        if (s_queue (self, task->outbox.batch, task) != 0) {
            //  No memory for it now: try again at the next timeout.
            task->outbox.sent_ms = now;
            s_list_append (&self->sent_head, &self->sent_tail, task);
            break;
        }
        count++;
    }
    if (count)
        log_warn ("sending %zu results again: no STORED within %d ms", count, self->timeout_ms);
    for (sinklink_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        sinklink_timers (link, now);
}

//  Queue again every sent record of link's sink: its connection was lost
//  and came back, and what went on the lost one may be gone with it.
static void
s_resend_link (outbox_t *self, sinklink_t *link, int64_t now)
{
    size_t count = 0;
    //  Batches this sends go to the tail: stop at the tail as it was.
    task_t *last = self->sent_tail;
    for (task_t *task = self->sent_head, *next; task; task = next) {
        bool end = task == last;
        next = task->outbox.next;
        batch_t *batch = task->outbox.batch;
        if (batch->link == link) {
            s_list_remove (&self->sent_head, &self->sent_tail, task);
            if (s_queue (self, batch, task) == 0)
                count++;
            else {                  //  no memory for it now: at its timeout
                task->outbox.sent_ms = now;
                s_list_append (&self->sent_head, &self->sent_tail, task);
            }
        }
        if (end)
            break;
    }
    if (count)
        log_info ("sending %zu results again to sink %s: the connection to it was lost",
                  count, peerlog_str (sinklink_endpoint (link)).text);
}

int64_t
outbox_next_resend (outbox_t *self)
{
    int64_t next = self->sent_head? self->sent_head->outbox.sent_ms + self->timeout_ms
                                  : INT64_MAX;
    for (sinklink_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
        int64_t at = sinklink_next_timer (link);
        next = at < next? at: next;
    }
    return next;
}

size_t
outbox_pending (outbox_t *self)
{
    return self->pending;
}

void
outbox_each (outbox_t *self, void (*fn) (void *arg, task_t *task), void *arg)
{
    for (task_t *task = self->sent_head; task; task = task->outbox.next)
        fn (arg, task);
    for (batch_t *batch = zhashx_first (self->batches); batch; batch = zhashx_next (self->batches))
        for (task_t *task = batch->queued_head; task; task = task->outbox.next)
            fn (arg, task);
}

void
outbox_linger (outbox_t *self, int linger_ms)
{
    for (sinklink_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        sinklink_linger (link, linger_ms);
}

//  ---------------------------------------------------------------------
//  Acknowledgements

//  Take the task with this ref out of the batch, or NULL if none waits.
static task_t *
s_take (outbox_t *self, batch_t *batch, msg_ref_t ref)
{
    task_t **entry = idtable_find (batch->pending, ref.id);
    task_t *prev = NULL, *task = entry? *entry: NULL;
    while (task && task->ref.attempt != ref.attempt) {
        prev = task;
        task = task->outbox.same;
    }
    if (!task)
        return NULL;
    if (prev)
        prev->outbox.same = task->outbox.same;
    else
    if (task->outbox.same)
        *entry = task->outbox.same;     //  the same id: its slot stays
    else
        idtable_remove (batch->pending, ref.id);
    task->outbox.same = NULL;
    if (!task->outbox.sent)
        s_list_remove (&batch->queued_head, &batch->queued_tail, task);
    else
        s_list_remove (&self->sent_head, &self->sent_tail, task);
    task->outbox.batch = NULL;
    batch->tasks--;
    self->pending--;
    return task;
}

//  Whether ref is in STORED's dead.  The sink lists them in the order of
//  tuples, so *next, the first dead ref not yet matched, usually matches at
//  once; a full scan covers any other order.
static bool
s_is_dead (const msg_ref_t *dead, size_t dead_count, size_t *next, msg_ref_t ref)
{
    if (*next < dead_count && dead[*next].id == ref.id && dead[*next].attempt == ref.attempt) {
        (*next)++;
        return true;
    }
    for (size_t i = 0; i < dead_count; i++)
        if (dead[i].id == ref.id && dead[i].attempt == ref.attempt)
            return true;
    return false;
}

static void
s_on_stored (outbox_t *self, sinklink_t *link, msg_t *msg, outbox_stored_fn *stored, void *arg)
{
    char *key = zsys_sprintf ("%s\n%s", msg_str (msg, MSG_F_JOB), sinklink_spec (link));
    batch_t *batch = key? zhashx_lookup (self->batches, key): NULL;
    zstr_free (&key);
    size_t count = 0, known = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    //  Report each tuple as the sink holds it (PROTOCOL.md 4.3).
    size_t dead_count = 0, next_dead = 0;
    const msg_ref_t *dead = msg_refs (msg, MSG_F_DEAD, &dead_count);
    for (size_t i = 0; batch && i < count && i < IDTABLE_AHEAD; i++)
        idtable_prefetch (batch->pending, refs[i].id);
    for (size_t i = 0; batch && i < count; i++) {
        if (i + IDTABLE_AHEAD < count)
            idtable_prefetch (batch->pending, refs[i + IDTABLE_AHEAD].id);
        task_t *task = s_take (self, batch, refs[i]);
        if (task) {
            known++;
            stored (arg, task, s_is_dead (dead, dead_count, &next_dead, refs[i]));
        }
    }
    if (known < count)
        log_debug ("sink %s stored %zu results of job %s we no longer wait for",
                   peerlog_str (sinklink_endpoint (link)).text, count - known,
                   peerlog_str (msg_str (msg, MSG_F_JOB)).text);
    if (batch && batch->tasks == 0 && records_count (batch->records) == 0) {
        zhashx_delete (self->batches, batch->key);
        s_batch_destroy (self, &batch);
    }
}

//  What s_stored needs of outbox_recv's arguments.
typedef struct {
    outbox_t *self;
    outbox_stored_fn *stored;
    void *arg;
} recv_t;

//  The link's callback: a STORED from its sink.
static void
s_stored (void *arg, sinklink_t *link, msg_t *msg)
{
    recv_t *recv = arg;
    s_on_stored (recv->self, link, msg, recv->stored, recv->arg);
}

void
outbox_recv (outbox_t *self, outbox_stored_fn *stored, void *arg)
{
    recv_t recv = { self, stored, arg };
    int64_t now = zclock_mono ();
    for (sinklink_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        if (sinklink_recv (link, now, s_stored, &recv))
            s_resend_link (self, link, now);
}
