//  records.c -- RESULT payloads; see records.h.  Inputs and outputs are
//  embedded as the msgpack they already are, never decoded and packed again.
#include "agent/records.h"
#include "proto/validate.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct records {
    int version;                //  of the RESULT: map records (1), arrays (2)
    msgpack_sbuffer buffer;     //  the records, packed back to back
    msgpack_packer packer;      //  packs into buffer
    msg_ref_t *refs;            //  their refs, in the same order
    size_t count, cap;
    msgpack_zone zone;          //  to check a failed task's tuple before embedding it
};

records_t *
records_new (int version)
{
    records_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->version = version;
    msgpack_sbuffer_init (&self->buffer);
    msgpack_packer_init (&self->packer, &self->buffer, msgpack_sbuffer_write);
    msgpack_zone_init (&self->zone, 1024);
    return self;
}

void
records_destroy (records_t **self_p)
{
    records_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy (&self->buffer);
    msgpack_zone_destroy (&self->zone);
    free (self->refs);
    free (self);
    *self_p = NULL;
}

static void
s_pack_key (msgpack_packer *pk, const char *key)
{
    size_t len = strlen (key);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, key, len);
}

//  The tuple as the record's input: embedded as the msgpack it already is;
//  a tuple that is not valid msgpack (it failed for that) goes in as bin,
//  so the record stays decodable.
static void
s_pack_input (records_t *self, const task_t *task, bool ok)
{
    const char *input = (const char *) task->tuple;
    size_t input_size = task->tuple_size;
    bool valid = ok;
    if (!valid) {
        size_t offset = 0;
        msgpack_object obj;
        valid = validate_msgpack (input, input_size) == 0
             && msgpack_unpack (input, input_size, &offset, &self->zone, &obj)
                == MSGPACK_UNPACK_SUCCESS;
        msgpack_zone_clear (&self->zone);
    }
    if (valid)
        msgpack_sbuffer_write (&self->buffer, input, input_size);
    else {
        msgpack_pack_bin (&self->packer, input_size);
        msgpack_pack_bin_body (&self->packer, input, input_size);
    }
}

//  count outputs packed back to back at data, as one value: several
//  outputs (a handler that emits many) become an array; none is nil.
static void
s_pack_outputs (records_t *self, size_t count, const void *data, size_t size)
{
    if (count == 0) {
        msgpack_pack_nil (&self->packer);
        return;
    }
    if (count > 1)
        msgpack_pack_array (&self->packer, count);
    msgpack_sbuffer_write (&self->buffer, data, size);
}

const char *
records_status_name (unsigned status)
{
    static const char *names[] = { "ok", "failed", "excluded", "cancelled", "aborted",
                                   "skipped" };
    return status < sizeof names / sizeof names[0]? names[status]: "failed";
}

//  A tuple stored as excluded, cancelled or aborted without running has no
//  start time; one cancelled while it ran has its own.
static uint64_t
s_started_us (const task_t *task)
{
    return task->dead && task->stored_as > 1? 0: task->started_us;
}

//  Only a dead letter (status failed) keeps the outputs emitted before its
//  attempt failed (9.1).
static bool
s_partial (const task_t *task)
{
    return task->status != POOL_OK && task->stored_as <= 1 && task->partial_outputs;
}

//  One version 1 record (PROTOCOL.md 4.3): a map.
static void
s_pack_map (records_t *self, const task_t *task)
{
    msgpack_packer *pk = &self->packer;
    bool ok = task->status == POOL_OK;
    const char *data = (const char *) task->data;
    size_t data_size = task->data_size;

    //  A failed last attempt keeps what its handler emitted before it
    //  failed (or its worker died), marked partial.
    bool partial = s_partial (task);
    msgpack_pack_map (pk, partial? 9: 7);
    s_pack_key (pk, "tuple");
    msgpack_pack_uint64 (pk, task->ref.id);
    s_pack_key (pk, "attempt");
    msgpack_pack_uint32 (pk, task->ref.attempt);
    s_pack_key (pk, "status");
    s_pack_key (pk, records_status_name (ok? 0: task->stored_as > 1? task->stored_as: 1));
    s_pack_key (pk, "started_us");
    msgpack_pack_uint64 (pk, s_started_us (task));
    s_pack_key (pk, "duration_us");
    msgpack_pack_uint64 (pk, task->duration_us);
    s_pack_key (pk, "input");
    s_pack_input (self, task, ok);
    if (ok) {
        s_pack_key (pk, "output");
        s_pack_outputs (self, task->outputs, data, data_size);
    }
    else {
        s_pack_key (pk, "error");
        msgpack_pack_str (pk, data_size);
        msgpack_pack_str_body (pk, data, data_size);
    }
    if (partial) {
        s_pack_key (pk, "output");
        s_pack_outputs (self, task->partial_outputs, task->partial, task->partial_size);
        s_pack_key (pk, "partial");
        msgpack_pack_true (pk);
    }
}

//  One version 2 record (PROTOCOL.md 9.1): [status, started_us,
//  duration_us, input, output, error, partial]; the tuple and attempt are
//  the header's.
static void
s_pack_array (records_t *self, const task_t *task)
{
    msgpack_packer *pk = &self->packer;
    bool ok = task->status == POOL_OK;
    const char *data = (const char *) task->data;
    size_t data_size = task->data_size;
    bool partial = s_partial (task);
    msgpack_pack_array (pk, 7);
    msgpack_pack_uint8 (pk, ok? 0: task->stored_as > 1? task->stored_as: 1);
    msgpack_pack_uint64 (pk, s_started_us (task));
    msgpack_pack_uint64 (pk, task->duration_us);
    s_pack_input (self, task, ok);
    if (ok)
        s_pack_outputs (self, task->outputs, data, data_size);
    else
        s_pack_outputs (self, partial? task->partial_outputs: 0, task->partial,
                        task->partial_size);
    if (ok)
        msgpack_pack_nil (pk);
    else {
        msgpack_pack_str (pk, data_size);
        msgpack_pack_str_body (pk, data, data_size);
    }
    if (partial)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

int
records_add (records_t *self, const task_t *task)
{
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 16;
        msg_ref_t *refs = realloc (self->refs, cap * sizeof *refs);
        if (!refs)
            return -ENOMEM;
        self->refs = refs;
        self->cap = cap;
    }
    if (self->version == 1)
        s_pack_map (self, task);
    else
        s_pack_array (self, task);
    self->refs[self->count++] = task->ref;
    return 0;
}

int
records_version (const records_t *self)
{
    return self->version;
}

size_t
records_count (const records_t *self)
{
    return self->count;
}

const msg_ref_t *
records_refs (const records_t *self)
{
    return self->refs;
}

//  The msgpack head of an array of count elements; its size.
static size_t
s_array_head (uint32_t count, uint8_t head[5])
{
    if (count < 16) {
        head[0] = 0x90 | (uint8_t) count;
        return 1;
    }
    if (count < 65536) {
        head[0] = 0xdc, head[1] = (uint8_t) (count >> 8), head[2] = (uint8_t) count;
        return 3;
    }
    head[0] = 0xdd, head[1] = (uint8_t) (count >> 24), head[2] = (uint8_t) (count >> 16);
    head[3] = (uint8_t) (count >> 8), head[4] = (uint8_t) count;
    return 5;
}

size_t
records_size (const records_t *self)
{
    uint8_t head[5];
    return s_array_head ((uint32_t) self->count, head) + self->buffer.size;
}

void
records_write (const records_t *self, uint8_t *out)
{
    uint8_t head[5];
    size_t head_size = s_array_head ((uint32_t) self->count, head);
    memcpy (out, head, head_size);
    if (self->buffer.size)
        memcpy (out + head_size, self->buffer.data, self->buffer.size);
}

void
records_clear (records_t *self)
{
    self->count = 0;
    msgpack_sbuffer_clear (&self->buffer);
}
