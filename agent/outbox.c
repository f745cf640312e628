//  outbox.c -- RESULT batches to sinks and their acknowledgements; see
//  outbox.h.  A task is in exactly one list while here: its batch's queued
//  list (record packed, not sent) or the outbox's sent list (oldest first,
//  so the resend check looks at the head only).  A batch also finds its
//  tasks by tuple id when STORED names them.
#include "agent/outbox.h"
#include "agent/peer.h"
#include "agent/records.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "common/seal.h"
#include "proto/wire.h"

#include <stdlib.h>
#include <string.h>

#define OUTBOX_LOG_PER_SEC   10       //  other lines a sink can cause, per sink
#define OUTBOX_DENIED_LOG_MS 10000    //  one DENIED line per sink this often

typedef struct {
    char *spec;                 //  the job's sink: "ENDPOINT" or "ENDPOINT KEY"
    char *endpoint;
    zsock_t *dealer;
    seal_t *seal;               //  sealed sink: session keys, stream and seq
    int64_t denied_logged;      //  when a DENIED was last logged
    uint64_t denied_unlogged;   //  DENIED since then, not logged
    peerlog_t *log;             //  other lines the sink can cause, rate-limited
} link_t;

typedef struct {
    char *key;                  //  job name, newline, sink endpoint
    char *job;                  //  the job's name
    link_t *link;
    records_t *records;         //  of the next RESULT
    task_t *queued_head, *queued_tail;
    zhashx_t *pending;          //  tuple id -> task (others with that id chained by same)
    size_t tasks;               //  tasks of this batch waiting for STORED
} batch_t;

struct outbox {
    char *agent;
    keys_t *keys;               //  ours, for sealed sinks (NULL: none)
    uint8_t *ad;                //  associated data of a sealed RESULT
    size_t ad_cap;
    int timeout_ms;
    zpoller_t *poller;
    zhashx_t *links;            //  endpoint -> link_t
    zhashx_t *batches;          //  key -> batch_t
    task_t *sent_head, *sent_tail;
    size_t pending;
};

//  ---------------------------------------------------------------------
//  Lists and the tuple id table

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

static size_t
s_id_hash (const void *key)
{
    return (size_t) (*(const uint64_t *) key * 0x9E3779B97F4A7C15ull >> 16);
}

static int
s_id_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  ---------------------------------------------------------------------
//  Sinks and batches

static void
s_link_destroy (link_t **self_p)
{
    link_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->dealer);
    seal_destroy (&self->seal);
    free (self->endpoint);
    free (self->spec);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}

//  A sealed sink's part of the link: CURVE client of the sink, and a seal
//  for its key.  0, or -1 with the reason logged.
static int
s_link_secure (outbox_t *self, link_t *link, const char *key_txt)
{
    uint8_t key[KEYS_KEY_SIZE];
    char err[160];
    if (!self->keys) {
        log_error ("sink %s takes sealed results only: start the agent with --cert",
                   peerlog_str (link->endpoint).text);
        return -1;
    }
    if (keys_z85_decode (key_txt, key, "sink_key", err, sizeof err)) {
        log_error ("sink %s: %s", peerlog_str (link->endpoint).text, err);
        return -1;
    }
    link->seal = seal_new (keys_secret (self->keys), keys_public (self->keys), key, SEAL_CLIENT);
    if (!link->seal) {
        log_error ("sink %s: unusable sink_key %s", peerlog_str (link->endpoint).text, key_txt);
        return -1;
    }
    int rc = curve_client (link->dealer, self->keys, key);
    if (rc) {
        log_error ("sink %s: cannot set up CURVE: %s", peerlog_str (link->endpoint).text, strerror (-rc));
        return -1;
    }
    return 0;
}

static link_t *
s_link (outbox_t *self, const char *spec)
{
    link_t *link = zhashx_lookup (self->links, spec);
    if (link)
        return link;
    link = calloc (1, sizeof *link);
    if (!link)
        return NULL;
    link->spec = strdup (spec);
    const char *space = strchr (spec, ' ');
    link->endpoint = space? strndup (spec, (size_t) (space - spec)): strdup (spec);
    link->dealer = zsock_new (ZMQ_DEALER);
    link->log = peerlog_new (OUTBOX_LOG_PER_SEC);
    if (!link->spec || !link->endpoint || !link->dealer || !link->log) {
        s_link_destroy (&link);
        return NULL;
    }
    //  Never block the reactor on a slow sink: a RESULT that does not fit
    //  is sent again after the result timeout.
    zsock_set_sndtimeo (link->dealer, 0);
    zsock_set_linger (link->dealer, 0);
    if (space && s_link_secure (self, link, space + 1)) {
        s_link_destroy (&link);
        return NULL;
    }
    if (zsock_connect (link->dealer, "%s", link->endpoint) != 0) {
        log_error ("cannot connect to sink '%s'", peerlog_str (link->endpoint).text);
        s_link_destroy (&link);
        return NULL;
    }
    zpoller_add (self->poller, link->dealer);
    zhashx_insert (self->links, spec, link);
    log_info ("connecting to sink %s%s", peerlog_str (link->endpoint).text,
              link->seal? " (CURVE, results sealed)": "");
    return link;
}

static void
s_batch_destroy (outbox_t *self, batch_t **batch_p)
{
    batch_t *batch = *batch_p;
    if (!batch)
        return;
    //  Tasks still pending here go with it.
    for (task_t *task = zhashx_first (batch->pending); task; task = zhashx_next (batch->pending))
        while (task) {
            task_t *same = task->outbox.same;
            task_destroy (&task);
            self->pending--;
            task = same;
        }
    zhashx_destroy (&batch->pending);
    records_destroy (&batch->records);
    free (batch->job);
    free (batch->key);
    free (batch);
    *batch_p = NULL;
}

static batch_t *
s_batch (outbox_t *self, const char *job, link_t *link)
{
    char *key = zsys_sprintf ("%s\n%s", job, link->spec);
    if (!key)
        return NULL;
    batch_t *batch = zhashx_lookup (self->batches, key);
    if (batch) {
        zstr_free (&key);
        return batch;
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
    batch->pending = zhashx_new ();
    if (!batch->records || !batch->pending || !batch->job) {
        s_batch_destroy (self, &batch);
        return NULL;
    }
    zhashx_set_key_duplicator (batch->pending, NULL);
    zhashx_set_key_destructor (batch->pending, NULL);
    zhashx_set_key_hasher (batch->pending, s_id_hash);
    zhashx_set_key_comparator (batch->pending, s_id_compare);
    zhashx_insert (self->batches, key, batch);
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
    int rc = seal_encrypt (batch->link->seal, self->ad, ad_len, data + SEAL_NONCE_SIZE, plain,
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
    seal_t *seal = batch->link->seal;
    size_t plain = records_size (batch->records);
    zframe_t *payload = zframe_new (NULL, plain + (seal? SEAL_OVERHEAD: 0));
    msg_t *msg = msg_new (MSG_RESULT);
    int rc = payload && msg? 0: -ENOMEM;
    if (rc == 0) {
        records_write (batch->records, zframe_data (payload) + (seal? SEAL_NONCE_SIZE: 0));
        msg_set_version (msg, records_version (batch->records));
        msg_set_str (msg, MSG_F_JOB, batch->job);
        msg_set_str (msg, MSG_F_AGENT, self->agent);
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
        rc = wire_send (&msg, batch->link->dealer, NULL);
    msg_destroy (&msg);
    if (rc == 0)
        log_debug ("sent %zu results of job %s to sink %s", count, peerlog_str (batch->job).text,
                   batch->link->endpoint);
    else
        log_warn ("could not send %zu results of job %s to sink %s (%s); will retry in %d ms",
                  count, peerlog_str (batch->job).text,
                  peerlog_str (batch->link->endpoint).text, strerror (rc < 0? -rc: ENOMEM),
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
        for (link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
            zpoller_remove (self->poller, link->dealer);
            s_link_destroy (&link);
        }
        zhashx_destroy (&self->links);
    }
    free (self->ad);
    free (self->agent);
    free (self);
    *self_p = NULL;
}

int
outbox_add (outbox_t *self, task_t *task)
{
    link_t *link = s_link (self, task->job->sink);
    batch_t *batch = link? s_batch (self, task->job->name, link): NULL;
    if (!batch)
        return -1;
    task_t *same = zhashx_lookup (batch->pending, &task->ref.id);
    if (same) {
        task->outbox.same = same->outbox.same;
        same->outbox.same = task;
    }
    else {
        task->outbox.same = NULL;
        if (zhashx_insert (batch->pending, &task->ref.id, task))
            return -1;
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
        zhashx_delete (batch->pending, &task->ref.id);
    batch->tasks--;
    self->pending--;
    return -1;
}

void
outbox_flush (outbox_t *self, int64_t now)
{
    for (batch_t *batch = zhashx_first (self->batches); batch; batch = zhashx_next (self->batches))
        s_send_batch (self, batch, now);
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
}

int64_t
outbox_next_resend (outbox_t *self)
{
    return self->sent_head? self->sent_head->outbox.sent_ms + self->timeout_ms: INT64_MAX;
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
    for (link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        zsock_set_linger (link->dealer, linger_ms);
}

//  ---------------------------------------------------------------------
//  Acknowledgements

//  Take the task with this ref out of the batch, or NULL if none waits.
static task_t *
s_take (outbox_t *self, batch_t *batch, msg_ref_t ref)
{
    task_t *head = zhashx_lookup (batch->pending, &ref.id);
    task_t *prev = NULL, *task = head;
    while (task && task->ref.attempt != ref.attempt) {
        prev = task;
        task = task->outbox.same;
    }
    if (!task)
        return NULL;
    if (prev)
        prev->outbox.same = task->outbox.same;
    else {
        zhashx_delete (batch->pending, &ref.id);
        if (task->outbox.same)
            zhashx_insert (batch->pending, &task->outbox.same->ref.id, task->outbox.same);
    }
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
s_on_stored (outbox_t *self, link_t *link, msg_t *msg, outbox_stored_fn *stored, void *arg)
{
    char *key = zsys_sprintf ("%s\n%s", msg_str (msg, MSG_F_JOB), link->spec);
    batch_t *batch = key? zhashx_lookup (self->batches, key): NULL;
    zstr_free (&key);
    size_t count = 0, known = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    //  Report each tuple as the sink holds it (PROTOCOL.md 4.3).
    size_t dead_count = 0, next_dead = 0;
    const msg_ref_t *dead = msg_refs (msg, MSG_F_DEAD, &dead_count);
    for (size_t i = 0; batch && i < count; i++) {
        task_t *task = s_take (self, batch, refs[i]);
        if (task) {
            known++;
            stored (arg, task, s_is_dead (dead, dead_count, &next_dead, refs[i]));
        }
    }
    if (known < count)
        log_debug ("sink %s stored %zu results of job %s we no longer wait for",
                   peerlog_str (link->endpoint).text, count - known,
                   peerlog_str (msg_str (msg, MSG_F_JOB)).text);
    if (batch && batch->tasks == 0 && records_count (batch->records) == 0) {
        zhashx_delete (self->batches, batch->key);
        s_batch_destroy (self, &batch);
    }
}

//  An ERROR from a sink.  The results it refused wait for the result
//  timeout and go again, resealed.  DENIED (a sealed sink refusing plain
//  results, a key it does not take, a seal it cannot open) repeats with
//  every resend, so it is logged once per OUTBOX_DENIED_LOG_MS per sink.
static void
s_on_error (link_t *link, msg_t *msg)
{
    int code = (int) msg_uint (msg, MSG_F_CODE);
    const char *reason = msg_str (msg, MSG_F_REASON);
    if (code != DRV_E_DENIED) {
        peerlog_write (link->log, "sink errors", LOG_LEVEL_WARN, "sink %s answered ERROR %s: %s",
                       peerlog_str (link->endpoint).text, msg_error_name (code),
                       peerlog_str (reason).text);
        return;
    }
    int64_t now = zclock_mono ();
    if (link->denied_logged && now - link->denied_logged < OUTBOX_DENIED_LOG_MS) {
        link->denied_unlogged++;
        return;
    }
    log_error ("sink %s refused results (DENIED): %s%s; they are sent again later "
               "(%llu more DENIED not logged)", peerlog_str (link->endpoint).text,
               peerlog_str (reason).text,
               link->seal? "": " (this agent sends them unsealed: start it with --cert "
               "and submit the job with the sink's key)",
               (unsigned long long) link->denied_unlogged);
    link->denied_logged = now;
    link->denied_unlogged = 0;
}

static void
s_recv_link (outbox_t *self, link_t *link, outbox_stored_fn *stored, void *arg)
{
    for (int budget = 1000; budget && (zsock_events (link->dealer) & ZMQ_POLLIN); budget--) {
        msg_t *msg = peer_recv (link->dealer, link->log, "sink", link->endpoint, NULL);
        if (!msg)
            continue;
        if (msg_command (msg) == MSG_STORED)
            s_on_stored (self, link, msg, stored, arg);
        else
        if (msg_command (msg) == MSG_ERROR)
            s_on_error (link, msg);
        else {
            peerlog_write (link->log, "sink errors", LOG_LEVEL_WARN, "unexpected %s from sink %s",
                           msg_command_name (msg_command (msg)),
                           peerlog_str (link->endpoint).text);
            wire_send_error (link->dealer, NULL, msg_version (msg), DRV_E_UNEXPECTED,
                             "agents take only STORED from sinks");
        }
        msg_destroy (&msg);
    }
}

void
outbox_recv (outbox_t *self, outbox_stored_fn *stored, void *arg)
{
    for (link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        s_recv_link (self, link, stored, arg);
}
