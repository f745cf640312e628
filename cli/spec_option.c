//  spec_option.c -- see spec_option.h.
#include "cli/spec_option.h"
#include "proto/msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  text, then the file's bytes after a newline, as one malloc'd string;
//  NULL if neither is given.  *failed with the reason in err.
static char *
s_join (const char *text, const char *file, bool *failed, char *err, size_t errlen)
{
    if (!file)
        return text? strdup (text): NULL;
    FILE *in = fopen (file, "r");
    char *joined = NULL;
    size_t size = 0;
    FILE *out = in? open_memstream (&joined, &size): NULL;
    if (!in || !out) {
        snprintf (err, errlen, "cannot read %s: %s", file, strerror (errno));
        *failed = true;
        if (in)
            fclose (in);
        return NULL;
    }
    if (text)
        fprintf (out, "%s\n", text);
    char chunk[4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, in)) > 0)
        fwrite (chunk, 1, got, out);
    fclose (in);
    fclose (out);
    return joined;
}

static void
s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

int
spec_option_map (const spec_source_t *source, msgpack_sbuffer *buf, uint64_t *count_p,
                 char *err, size_t errlen)
{
    spec_t *spec = spec_new (source, err, errlen);
    if (!spec)
        return -1;
    *count_p = spec_count (spec);
    spec_destroy (&spec);
    bool failed = false;
    char *text[4] = {
        s_join (source->targets, source->targets_file, &failed, err, errlen),
        source->ports? strdup (source->ports): NULL,
        s_join (source->exclude, source->exclude_file, &failed, err, errlen),
        source->exclude_ports? strdup (source->exclude_ports): NULL };
    static const char *const keys[4] = { "targets", "ports", "exclude", "exclude_ports" };
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    uint32_t fields = 0;
    for (int i = 0; i < 4; i++)
        fields += text[i] != NULL;
    msgpack_pack_map (&pk, fields);
    for (int i = 0; i < 4; i++)
        if (text[i])
            s_pack_str (&pk, keys[i], text[i]);
    for (int i = 0; i < 4; i++)
        free (text[i]);
    if (!failed && buf->size > MSG_MAX_HEADER - 4096) {
        snprintf (err, errlen, "the spec is %zu bytes as text, over the 60 KiB a SUBMIT's "
                  "header may carry: merge addresses into ranges, or split the scan", buf->size);
        failed = true;
    }
    return failed? -1: 0;
}
