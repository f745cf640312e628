//  spec.c -- targets x ports minus exclusions as an index space (spec.h):
//  parsing, tuples by index, and the canonical saved form.
#include "spec/spec.h"
#include "spec/wordlist.h"

#include <stdlib.h>
#include <string.h>

struct spec {
    targets_t *targets;
    ports_t *ports;
    uint64_t hosts;
    uint32_t port_count;
};

//  The saved form's version: the first element of its array.
#define SPEC_FORMAT 1

static const char *
s_decimal (address_t value, char out[40])
{
    char *at = out + 39;
    *at = 0;
    do {
        *--at = (char) ('0' + (int) (value % 10));
        value /= 10;
    } while (value);
    return at;
}

//  Counts fit: at least one tuple, at most SPEC_MAX_TUPLES.  0 or -1.
static int
s_check_counts (spec_t *self, char *err, size_t errlen)
{
    address_t hosts = targets_count (self->targets);
    uint32_t ports = ports_count (self->ports);
    if (hosts == 0)
        return wordlist_error (err, errlen, NULL, 0, "no targets (or every one excluded)");
    if (ports == 0)
        return wordlist_error (err, errlen, NULL, 0, "no ports (or every one excluded)");
    if (hosts > SPEC_MAX_TUPLES / ports) {
        char text[40];
        return wordlist_error (err, errlen, NULL, 0, "%s hosts x %u ports is more than 2^53 "
                               "tuples (tuple ids must stay exact in JSON): split the scan",
                               s_decimal (hosts, text), ports);
    }
    self->hosts = (uint64_t) hosts;
    self->port_count = ports;
    return 0;
}

spec_t *
spec_new_from (targets_t **targets_p, ports_t **ports_p, char *err, size_t errlen)
{
    spec_t *self = calloc (1, sizeof *self);
    if (self) {
        self->targets = *targets_p;
        self->ports = *ports_p;
        *targets_p = NULL;
        *ports_p = NULL;
    }
    else {
        targets_destroy (targets_p);
        ports_destroy (ports_p);
        wordlist_error (err, errlen, NULL, 0, "out of memory");
        return NULL;
    }
    if (!self->targets || !self->ports || s_check_counts (self, err, errlen))
        spec_destroy (&self);
    return self;
}

//  Parse one source's targets (text and file) into a new set, or NULL.
static targets_t *
s_targets (const char *text, const char *file, char *err, size_t errlen)
{
    targets_t *targets = targets_new ();
    if (!targets)
        wordlist_error (err, errlen, NULL, 0, "out of memory");
    else
    if ((text && targets_add (targets, text, strlen (text), err, errlen))
    ||  (file && targets_add_file (targets, file, err, errlen)))
        targets_destroy (&targets);
    return targets;
}

static ports_t *
s_ports (const char *text, char *err, size_t errlen)
{
    ports_t *ports = ports_new ();
    if (!ports)
        wordlist_error (err, errlen, NULL, 0, "out of memory");
    else
    if (text && ports_add (ports, text, strlen (text), err, errlen))
        ports_destroy (&ports);
    return ports;
}

spec_t *
spec_new (const spec_source_t *source, char *err, size_t errlen)
{
    targets_t *targets = s_targets (source->targets, source->targets_file, err, errlen);
    targets_t *exclude = targets? s_targets (source->exclude, source->exclude_file, err, errlen)
                                : NULL;
    ports_t *ports = exclude? s_ports (source->ports, err, errlen): NULL;
    ports_t *exclude_ports = ports? s_ports (source->exclude_ports, err, errlen): NULL;
    spec_t *self = NULL;
    if (exclude_ports) {
        if (targets_subtract (targets, exclude) || ports_subtract (ports, exclude_ports))
            wordlist_error (err, errlen, NULL, 0, "out of memory");
        else
            self = spec_new_from (&targets, &ports, err, errlen);
    }
    targets_destroy (&targets);
    targets_destroy (&exclude);
    ports_destroy (&ports);
    ports_destroy (&exclude_ports);
    return self;
}

void
spec_destroy (spec_t **self_p)
{
    spec_t *self = *self_p;
    if (!self)
        return;
    targets_destroy (&self->targets);
    ports_destroy (&self->ports);
    free (self);
    *self_p = NULL;
}

uint64_t
spec_count (const spec_t *self)
{
    return self->hosts * self->port_count;
}

uint64_t
spec_hosts (const spec_t *self)
{
    return self->hosts;
}

uint32_t
spec_ports (const spec_t *self)
{
    return self->port_count;
}

const targets_t *
spec_targets (const spec_t *self)
{
    return self->targets;
}

void
spec_tuple (const spec_t *self, uint64_t host, uint32_t port, spec_tuple_t *out)
{
    targets_nth (self->targets, host, out->host);
    ports_nth (self->ports, port, &out->port, &out->protocol);
}

//  A str header for len bytes (len <= 255).
static uint8_t *
s_str_head (uint8_t *out, size_t len)
{
    if (len < 32)
        *out++ = (uint8_t) (0xa0 | len);
    else {
        *out++ = 0xd9;
        *out++ = (uint8_t) len;
    }
    return out;
}

size_t
spec_encode (const spec_t *self, uint64_t host, uint32_t port, uint8_t *out)
{
    spec_tuple_t tuple;
    spec_tuple (self, host, port, &tuple);
    uint8_t *at = out;
    *at++ = tuple.protocol == PORTS_TCP? 0x92: 0x93;
    size_t len = strlen (tuple.host);
    at = s_str_head (at, len);
    memcpy (at, tuple.host, len);
    at += len;
    if (tuple.port < 128)
        *at++ = (uint8_t) tuple.port;           //  positive fixint
    else if (tuple.port < 256) {
        *at++ = 0xcc;
        *at++ = (uint8_t) tuple.port;
    }
    else {
        *at++ = 0xcd;
        *at++ = (uint8_t) (tuple.port >> 8);
        *at++ = (uint8_t) tuple.port;
    }
    if (tuple.protocol != PORTS_TCP) {
        const char *name = ports_protocol_name (tuple.protocol);
        at = s_str_head (at, strlen (name));
        memcpy (at, name, strlen (name));
        at += strlen (name);
    }
    return (size_t) (at - out);
}

void
spec_pack (const spec_t *self, uint64_t host, uint32_t port, msgpack_packer *pk)
{
    uint8_t bytes[SPEC_TUPLE_MAX];
    size_t size = spec_encode (self, host, port, bytes);
    pk->callback (pk->data, (const char *) bytes, size);
}

void
spec_pack_position (const spec_t *self, const walk_t *walk, uint64_t position,
                    msgpack_packer *pk)
{
    uint64_t host;
    uint32_t port;
    walk_at (walk, position, &host, &port);
    spec_pack (self, host, port, pk);
}

static void
s_pack_set (msgpack_packer *pk, const rangeset_t *set)
{
    size_t size = rangeset_encoded_size (set);
    uint8_t *bytes = malloc (size? size: 1);
    if (bytes)
        rangeset_encode (set, bytes);
    //  Out of memory: an empty bin, which spec_load refuses: the caller
    //  finds out before anything is stored.
    msgpack_pack_bin (pk, bytes? size: 0);
    msgpack_pack_bin_body (pk, bytes, bytes? size: 0);
    free (bytes);
}

void
spec_save (const spec_t *self, msgpack_packer *pk)
{
    msgpack_pack_array (pk, 4);
    msgpack_pack_uint8 (pk, SPEC_FORMAT);
    s_pack_set (pk, targets_addresses (self->targets));
    size_t names = targets_names (self->targets);
    msgpack_pack_array (pk, names);
    for (size_t i = 0; i < names; i++) {
        const char *name = targets_name (self->targets, i);
        msgpack_pack_str (pk, strlen (name));
        msgpack_pack_str_body (pk, name, strlen (name));
    }
    s_pack_set (pk, ports_set (self->ports));
}

//  The targets of a saved spec: hosts (bin) and names (array of str).
static targets_t *
s_load_targets (const msgpack_object *hosts, const msgpack_object *names)
{
    if (hosts->type != MSGPACK_OBJECT_BIN || names->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    size_t count = names->via.array.size;
    const char **texts = calloc (count + 1, sizeof *texts);
    uint32_t *lengths = calloc (count + 1, sizeof *lengths);
    bool ok = texts && lengths;
    for (size_t i = 0; ok && i < count; i++) {
        const msgpack_object *name = &names->via.array.ptr[i];
        ok = name->type == MSGPACK_OBJECT_STR;
        texts[i] = ok? name->via.str.ptr: NULL;
        lengths[i] = ok? name->via.str.size: 0;
    }
    rangeset_t *addresses = ok? rangeset_decode ((const uint8_t *) hosts->via.bin.ptr,
                                                 hosts->via.bin.size): NULL;
    targets_t *targets = addresses? targets_from (&addresses, texts, lengths, count): NULL;
    free (texts);
    free (lengths);
    return targets;
}

static spec_t *
s_load (const msgpack_object *root, char *err, size_t errlen)
{
    const msgpack_object *item = root->type == MSGPACK_OBJECT_ARRAY
                              && root->via.array.size == 4? root->via.array.ptr: NULL;
    if (!item || item[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  item[0].via.u64 != SPEC_FORMAT) {
        wordlist_error (err, errlen, NULL, 0, "not a saved spec (version %d)", SPEC_FORMAT);
        return NULL;
    }
    targets_t *targets = s_load_targets (&item[1], &item[2]);
    ports_t *ports = NULL;
    if (item[3].type == MSGPACK_OBJECT_BIN) {
        rangeset_t *set = rangeset_decode ((const uint8_t *) item[3].via.bin.ptr,
                                           item[3].via.bin.size);
        ports = ports_from (&set);
    }
    if (!targets || !ports) {
        wordlist_error (err, errlen, NULL, 0, "a saved spec with malformed %s",
                        targets? "ports": "targets");
        targets_destroy (&targets);
        ports_destroy (&ports);
        return NULL;
    }
    return spec_new_from (&targets, &ports, err, errlen);
}

spec_t *
spec_load (const void *data, size_t size, char *err, size_t errlen)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    spec_t *self = NULL;
    if (msgpack_unpack_next (&unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS
    ||  offset != size)
        wordlist_error (err, errlen, NULL, 0, "not one msgpack value");
    else
        self = s_load (&unpacked.data, err, errlen);
    msgpack_unpacked_destroy (&unpacked);
    //  msgpack has several spellings of one value (1 as 0x01 or 0xcc 0x01);
    //  only the one spec_save writes is a spec.
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &again, msgpack_sbuffer_write);
    if (self)
        spec_save (self, &pk);
    if (self && (again.size != size || memcmp (again.data, data, size))) {
        wordlist_error (err, errlen, NULL, 0, "a saved spec not in its canonical form");
        spec_destroy (&self);
    }
    msgpack_sbuffer_destroy (&again);
    return self;
}
