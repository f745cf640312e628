//  header.c -- see header.h.  Decoding walks the map (validate.h) before
//  msgpack-c builds it, then hands each known field to msg_t's setters:
//  this file knows the layout of both versions, msg.c the rules.  Tuple
//  references are parsed straight into one array of runs the message
//  adopts: no allocation per reference.
#include "proto/header.h"
#include "proto/validate.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  msgpack map -> fields

static bool
s_is_uint (const msgpack_object *obj)
{
    return obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

//  Version 1: an array of [id, attempt] pairs, as runs.
static int
s_take_refs (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return -DRV_E_BAD_TYPE;
    size_t count = obj->via.array.size;
    if (count > MSG_MAX_REFS)
        return -DRV_E_TOO_LARGE;
    msg_run_t *runs = NULL;
    if (count && !(runs = malloc (count * sizeof *runs)))
        return -ENOMEM;
    size_t made = 0;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *pair = &obj->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2
        || !s_is_uint (&pair->via.array.ptr[0]) || !s_is_uint (&pair->via.array.ptr[1])
        || pair->via.array.ptr[1].via.u64 > UINT32_MAX) {
            free (runs);
            return -DRV_E_BAD_TYPE;
        }
        runs_append (runs, &made, pair->via.array.ptr[0].via.u64,
                     (uint32_t) pair->via.array.ptr[1].via.u64);
    }
    return msg_adopt_runs (msg, field, &runs, made);
}

//  Version 2's refs, and HELLO's `held`: an array of [first, count,
//  attempt] runs.  msg_adopt_runs checks what spans runs (a last id over
//  2^64 - 1, the total).
int
header_runs_parse (const msgpack_object *obj, msg_run_t **runs_p, size_t *count_p)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return -DRV_E_BAD_TYPE;
    size_t count = obj->via.array.size;
    if (count > MSG_MAX_RUNS)
        return -DRV_E_TOO_LARGE;
    msg_run_t *runs = NULL;
    if (count && !(runs = malloc (count * sizeof *runs)))
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const msgpack_object *run = &obj->via.array.ptr[i];
        const msgpack_object *item = run->via.array.ptr;
        if (run->type != MSGPACK_OBJECT_ARRAY || run->via.array.size != 3
        || !s_is_uint (&item[0]) || !s_is_uint (&item[1]) || !s_is_uint (&item[2])
        || item[1].via.u64 == 0 || item[2].via.u64 == 0 || item[2].via.u64 > UINT32_MAX)
            rc = -DRV_E_BAD_TYPE;
        else
        if (item[1].via.u64 > MSG_MAX_RUN_TUPLES)
            rc = -DRV_E_TOO_LARGE;
        else
            runs[i] = (msg_run_t) { item[0].via.u64, (uint32_t) item[1].via.u64,
                                    (uint32_t) item[2].via.u64 };
    }
    if (rc) {
        free (runs);
        return rc;
    }
    *runs_p = runs;
    *count_p = count;
    return 0;
}

static int
s_take_runs (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    msg_run_t *runs = NULL;
    size_t count = 0;
    int rc = header_runs_parse (obj, &runs, &count);
    return rc? rc: msg_adopt_runs (msg, field, &runs, count);
}

//  msgpack-c keeps no byte offsets, so a map is packed again; the bytes may
//  differ from the sender's but mean the same.
static int
s_take_map (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return -DRV_E_BAD_TYPE;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_object (&pk, *obj) == 0
           ? msg_set_raw (msg, field, sbuf.data, sbuf.size): -ENOMEM;
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  Store one field's value, checking its type.
static int
s_take_value (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    switch (schema_field_type (field)) {
        case SCHEMA_STR:
            if (obj->type != MSGPACK_OBJECT_STR)
                return -DRV_E_BAD_TYPE;
            return msg_set_strn (msg, field, obj->via.str.ptr, obj->via.str.size);
        case SCHEMA_UINT:
            if (!s_is_uint (obj))
                return -DRV_E_BAD_TYPE;
            return msg_set_uint (msg, field, obj->via.u64);
        case SCHEMA_BOOL:
            if (obj->type != MSGPACK_OBJECT_BOOLEAN)
                return -DRV_E_BAD_TYPE;
            return msg_set_bool (msg, field, obj->via.boolean);
        case SCHEMA_MAP:
            return s_take_map (msg, field, obj);
        case SCHEMA_REFS:
            return msg_version (msg) == 1? s_take_refs (msg, field, obj)
                                         : s_take_runs (msg, field, obj);
    }
    return -DRV_E_BAD_TYPE;
}

//  True if key is SUBMIT's (or SCHEDULE's) `count` in version 2: the
//  packed frame's, not a field of the message.
static bool
s_is_packed_count (const msg_t *msg, const msgpack_object *key)
{
    return schema_payload (msg_command (msg)) == SCHEMA_PAYLOAD_ANY && msg_version (msg) >= 2
        && key->via.str.size == schema_field_name_size (MSG_F_COUNT)
        && memcmp (key->via.str.ptr, schema_field_name (MSG_F_COUNT),
                   key->via.str.size) == 0;
}

//  The keys of a header map, into msg's fields (and *count_p).
static int
s_take_fields (msg_t *msg, const msgpack_object_map *map, uint64_t *count_p,
               bool *has_count_p)
{
    for (uint32_t i = 0; i < map->size; i++)
        if (map->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return -DRV_E_BAD_HEADER;
    schema_fields_t accepts = schema_accepts (msg_command (msg));
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        if (s_is_packed_count (msg, &kv->key)) {
            if (*has_count_p)
                return -DRV_E_BAD_HEADER;
            if (!s_is_uint (&kv->val))
                return -DRV_E_BAD_TYPE;
            *count_p = kv->val.via.u64;
            *has_count_p = true;
            continue;
        }
        int field = schema_field_find (kv->key.via.str.ptr, kv->key.via.str.size);
        if (field < 0 || !(accepts & SCHEMA_FIELD (field)))
            continue;               //  unknown to this command: ignored
        if (msg_has (msg, (msg_field_t) field))
            return -DRV_E_BAD_HEADER;   //  a known key twice is ambiguous
        int rc = s_take_value (msg, (msg_field_t) field, &kv->val);
        if (rc)
            return rc == -ENOMEM? -DRV_E_INTERNAL: rc;
    }
    return 0;
}

int
header_decode (msg_t *msg, const uint8_t *data, size_t size, uint64_t *count_p,
               bool *has_count_p)
{
    *count_p = 0;
    *has_count_p = false;
    if (size > MSG_MAX_HEADER)
        return -DRV_E_TOO_LARGE;
    //  Walked before msgpack-c sees it (validate.h), which also bounds
    //  what msgpack-c allocates for the containers it claims.
    if (validate_msgpack_map (data, size) != 0)
        return -DRV_E_BAD_HEADER;
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t off = 0;
    int rc = -DRV_E_BAD_HEADER;
    if (msgpack_unpack_next (&result, (const char *) data, size, &off)
            == MSGPACK_UNPACK_SUCCESS
    &&  off == size && result.data.type == MSGPACK_OBJECT_MAP)
        rc = s_take_fields (msg, &result.data.via.map, count_p, has_count_p);
    msgpack_unpacked_destroy (&result);
    return rc;
}

//  ---------------------------------------------------------------------
//  fields -> msgpack map

void
header_runs_pack (msgpack_packer *pk, const msg_run_t *runs, size_t count)
{
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (pk, 3);
        msgpack_pack_uint64 (pk, runs[i].first);
        msgpack_pack_uint32 (pk, runs[i].count);
        msgpack_pack_uint32 (pk, runs[i].attempt);
    }
}

static void
s_pack_runs (msgpack_packer *pk, const msg_t *msg, msg_field_t field)
{
    size_t count;
    const msg_run_t *runs = msg_runs (msg, field, &count);
    if (msg_version (msg) >= 2) {
        header_runs_pack (pk, runs, count);
        return;
    }
    //  Version 1: a pair per tuple, straight from the runs.
    msgpack_pack_array (pk, msg_runs_total (msg, field));
    for (size_t i = 0; i < count; i++)
        for (uint32_t k = 0; k < runs[i].count; k++) {
            msgpack_pack_array (pk, 2);
            msgpack_pack_uint64 (pk, runs[i].first + k);
            msgpack_pack_uint32 (pk, runs[i].attempt);
        }
}

static void
s_pack_value (msgpack_packer *pk, msgpack_sbuffer *sbuf, const msg_t *msg,
              msg_field_t field)
{
    size_t size;
    const char *str;
    const void *raw;
    switch (schema_field_type (field)) {
        case SCHEMA_STR:
            str = msg_str (msg, field);
            msgpack_pack_str_with_body (pk, str, strlen (str));
            break;
        case SCHEMA_UINT:
            msgpack_pack_uint64 (pk, msg_uint (msg, field));
            break;
        case SCHEMA_BOOL:
            if (msg_bool (msg, field))
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case SCHEMA_MAP:
            //  Already one whole map (msg_set_raw): its bytes as they are.
            raw = msg_raw (msg, field, &size);
            msgpack_sbuffer_write (sbuf, raw, size);
            break;
        case SCHEMA_REFS:
            s_pack_runs (pk, msg, field);
            break;
    }
}

static void
s_pack_key (msgpack_packer *pk, msg_field_t field)
{
    msgpack_pack_str_with_body (pk, schema_field_name (field), schema_field_name_size (field));
}

zframe_t *
header_encode (const msg_t *msg)
{
    //  SUBMIT (and SCHEDULE) in version 2 says how many tuples its packed
    //  frame holds.
    bool packed_count = schema_payload (msg_command (msg)) == SCHEMA_PAYLOAD_ANY
                     && msg_version (msg) >= 2
                     && msg_tuple_count (msg) > 0;
    size_t count = packed_count;
    for (int field = 0; field < MSG_F_MAX; field++)
        count += msg_has (msg, (msg_field_t) field);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (int field = 0; field < MSG_F_MAX; field++) {
        if (field == MSG_F_COUNT && packed_count) {
            s_pack_key (&pk, MSG_F_COUNT);
            msgpack_pack_uint64 (&pk, msg_tuple_count (msg));
        }
        if (!msg_has (msg, (msg_field_t) field))
            continue;
        s_pack_key (&pk, (msg_field_t) field);
        s_pack_value (&pk, &sbuf, msg, (msg_field_t) field);
    }
    zframe_t *frame = zframe_new (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return frame;
}
