//  labels.c -- see labels.h.
#include "broker/labels.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
labels_word_ok (const char *word, size_t size)
{
    if (size == 0 || size > 63)
        return false;
    for (size_t i = 0; i < size; i++) {
        char c = word[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        ||    c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool
s_word_ok (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR && labels_word_ok (o->via.str.ptr, o->via.str.size);
}

static int
s_by_key (const void *a, const void *b)
{
    const msgpack_object *x = &((const msgpack_object_kv *) a)->key;
    const msgpack_object *y = &((const msgpack_object_kv *) b)->key;
    uint32_t n = x->via.str.size < y->via.str.size? x->via.str.size: y->via.str.size;
    int c = memcmp (x->via.str.ptr, y->via.str.ptr, n);
    return c? c: (int) x->via.str.size - (int) y->via.str.size;
}

int
labels_text (const void *map, size_t size, char *out, char *reason, size_t reason_size)
{
    *out = 0;
    if (!map)
        return 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const char *problem = NULL;
    msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, map, size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  o->type != MSGPACK_OBJECT_MAP)
        problem = "labels: not a map";
    for (uint32_t i = 0; !problem && i < o->via.map.size; i++)
        if (!s_word_ok (&o->via.map.ptr[i].key) || !s_word_ok (&o->via.map.ptr[i].val))
            problem = "labels: keys and values are 1 to 63 of A-Z a-z 0-9 _ . -";
    size_t used = 0;
    if (!problem) {
        if (o->via.map.size > 1)
            qsort (o->via.map.ptr, o->via.map.size, sizeof *o->via.map.ptr, s_by_key);
        for (uint32_t i = 0; i < o->via.map.size && used < LABELS_TEXT_MAX; i++) {
            msgpack_object_kv *kv = &o->via.map.ptr[i];
            used += (size_t) snprintf (out + used, LABELS_TEXT_MAX - used, "%s%.*s=%.*s,",
                                       i? "": ",", (int) kv->key.via.str.size,
                                       kv->key.via.str.ptr, (int) kv->val.via.str.size,
                                       kv->val.via.str.ptr);
        }
        if (used >= LABELS_TEXT_MAX)
            problem = "labels: too many";
    }
    msgpack_unpacked_destroy (&unpacked);
    if (problem) {
        *out = 0;
        snprintf (reason, reason_size, "%s", problem);
    }
    return problem? -1: 0;
}

//  ",k=v," among labels?
static bool
s_has (const char *labels, const msgpack_object *key, const msgpack_object *value)
{
    char want[140];
    if (key->type != MSGPACK_OBJECT_STR || value->type != MSGPACK_OBJECT_STR
    ||  key->via.str.size > 63 || value->via.str.size > 63)
        return false;
    snprintf (want, sizeof want, ",%.*s=%.*s,", (int) key->via.str.size, key->via.str.ptr,
              (int) value->via.str.size, value->via.str.ptr);
    return labels && strstr (labels, want);
}

bool
labels_fit (const char *labels, const void *options, size_t options_size)
{
    //  Most jobs have no requires: a look for its key's bytes, no decoding.
    if (!options || !memmem (options, options_size, "\xa8requires", 9))
        return true;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool fit = true;
    msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, options_size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            msgpack_object *key = &o->via.map.ptr[i].key;
            msgpack_object *val = &o->via.map.ptr[i].val;
            if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != 8
            ||  memcmp (key->via.str.ptr, "requires", 8))
                continue;
            //  A requires that is not a map asks for what no agent has.
            fit = val->type == MSGPACK_OBJECT_MAP;
            for (uint32_t j = 0; fit && j < val->via.map.size; j++)
                fit = s_has (labels, &val->via.map.ptr[j].key, &val->via.map.ptr[j].val);
        }
    msgpack_unpacked_destroy (&unpacked);
    return fit;
}
