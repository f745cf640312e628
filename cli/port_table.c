//  port_table.c -- a scan's ports from the sink's JSON Lines (port_table.h).
//  Each line is turned into msgpack (common/json_read) and read for its
//  job, status, input and output; rows are sorted once, when printed.
#include "cli/port_table.h"
#include "common/json_read.h"
#include "common/json_write.h"
#include "spec/address.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int kind;                   //  0 IPv4, 1 IPv6, 2 a name: the sort order
    address_t address;
    char *host;
    unsigned port;
    char protocol[8];
    char state[12];
    double ms;                  //  < 0: not given
    size_t line;                //  the order read: the first of equals wins
} row_t;

struct port_table {
    char *job;
    bool all;
    row_t *rows;
    size_t count, capacity;
    bool sorted;
    port_table_counts_t counts;
};

port_table_t *
port_table_new (const char *job, bool all)
{
    port_table_t *self = calloc (1, sizeof *self);
    if (self && !(self->job = strdup (job))) {
        free (self);
        return NULL;
    }
    if (self)
        self->all = all;
    return self;
}

void
port_table_destroy (port_table_t **self_p)
{
    port_table_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (self->rows[i].host);
    free (self->rows);
    free (self->job);
    free (self);
    *self_p = NULL;
}

static const msgpack_object *
s_key (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len
        &&  memcmp (kv->key.via.str.ptr, key, len) == 0)
            return &kv->val;
    }
    return NULL;
}

static const msgpack_object *
s_item (const msgpack_object *array, uint32_t index)
{
    return array && array->type == MSGPACK_OBJECT_ARRAY && index < array->via.array.size
         ? &array->via.array.ptr[index]: NULL;
}

static bool
s_is (const msgpack_object *text, const char *word)
{
    return text && text->type == MSGPACK_OBJECT_STR && text->via.str.size == strlen (word)
        && !memcmp (text->via.str.ptr, word, text->via.str.size);
}

//  A str into buf (cut to fit), or false if not a str.
static bool
s_copy (const msgpack_object *text, char *buf, size_t size)
{
    if (!text || text->type != MSGPACK_OBJECT_STR || text->via.str.size == 0)
        return false;
    size_t len = text->via.str.size < size - 1? text->via.str.size: size - 1;
    memcpy (buf, text->via.str.ptr, len);
    buf[len] = 0;
    return true;
}

static int
s_add_row (port_table_t *self, const msgpack_object *host, unsigned port,
           const msgpack_object *protocol, const msgpack_object *state, double ms)
{
    if (self->count == self->capacity) {
        size_t grown = self->capacity? self->capacity * 2: 64;
        row_t *more = realloc (self->rows, grown * sizeof *more);
        if (!more)
            return -1;
        self->rows = more;
        self->capacity = grown;
    }
    row_t *row = &self->rows[self->count];
    *row = (row_t) { .port = port, .ms = ms, .line = self->counts.results };
    if (!(row->host = strndup (host->via.str.ptr, host->via.str.size)))
        return -1;
    int family = address_parse (row->host, strlen (row->host), &row->address);
    row->kind = family == 4? 0: family == 6? 1: 2;
    if (!s_copy (protocol, row->protocol, sizeof row->protocol))
        strcpy (row->protocol, "tcp");
    s_copy (state, row->state, sizeof row->state);
    self->count++;
    self->sorted = false;
    return 0;
}

//  One result of the job: count it; keep its row if it has a state that
//  the table shows.
static int
s_add_result (port_table_t *self, const msgpack_object *result)
{
    port_table_counts_t *counts = &self->counts;
    counts->results++;
    if (!s_is (s_key (result, "status"), "ok")) {
        counts->failed++;
        return 0;
    }
    const msgpack_object *input = s_key (result, "input"), *output = s_key (result, "output");
    const msgpack_object *state = s_key (output, "state");
    const msgpack_object *host = s_key (output, "host"), *port = s_key (output, "port");
    host = host? host: s_item (input, 0);
    port = port? port: s_item (input, 1);
    const msgpack_object *ms = s_key (output, "ms");
    bool open = s_is (state, "open");
    if (open)
        counts->open++;
    else if (s_is (state, "closed"))
        counts->closed++;
    else if (s_is (state, "filtered"))
        counts->filtered++;
    else {
        counts->stateless++;
        return 0;
    }
    if ((!open && !self->all) || !host || host->type != MSGPACK_OBJECT_STR
    ||  host->via.str.size == 0 || !port || port->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  port->via.u64 > 65535)
        return 0;
    double took = !ms? -1: ms->type == MSGPACK_OBJECT_FLOAT64? ms->via.f64
                : ms->type == MSGPACK_OBJECT_POSITIVE_INTEGER? (double) ms->via.u64: -1;
    return s_add_row (self, host, (unsigned) port->via.u64, s_item (input, 2), state, took);
}

//  One line of the file: a result of the job, of another job, or not a
//  result at all.
static int
s_add_line (port_table_t *self, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0)
        return 0;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char err[128];
    int rc = 0;
    if (json_to_msgpack (line, len, &buffer, err, sizeof err) == 0
    &&  msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  s_key (&unpacked.data, "tuple")) {
        const msgpack_object *job = s_key (&unpacked.data, "job");
        if (s_is (job, self->job))
            rc = s_add_result (self, &unpacked.data);
    }
    else
        self->counts.unreadable++;
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

int
port_table_read (port_table_t *self, FILE *file)
{
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline (&line, &size, file)) >= 0)
        rc = s_add_line (self, line, (size_t) len);
    free (line);
    return rc || ferror (file)? -1: 0;
}

void
port_table_counts (const port_table_t *self, port_table_counts_t *counts)
{
    *counts = self->counts;
}

//  Rows of one (host, port, protocol) compare equal.
static int
s_compare_target (const row_t *a, const row_t *b)
{
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if (a->kind < 2 && a->address != b->address)
        return a->address < b->address? -1: 1;
    int order = a->kind == 2? strcmp (a->host, b->host): 0;
    if (order == 0)
        order = (int) a->port - (int) b->port;
    return order? order: strcmp (a->protocol, b->protocol);
}

static int
s_compare (const void *a_v, const void *b_v)
{
    const row_t *a = a_v, *b = b_v;
    int order = s_compare_target (a, b);
    return order? order: a->line < b->line? -1: a->line > b->line;
}

//  Sort, and keep each (host, port, protocol) once: the first seen open
//  if any was.  (Two results for one target: the same target twice in a
//  job's tuples.)
static void
s_sort (port_table_t *self)
{
    if (self->sorted)
        return;
    if (self->count > 1)            //  rows is NULL while there are none
        qsort (self->rows, self->count, sizeof *self->rows, s_compare);
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        row_t *row = &self->rows[i];
        row_t *last = kept? &self->rows[kept - 1]: NULL;
        if (last && s_compare_target (last, row) == 0) {
            if (strcmp (last->state, "open") && !strcmp (row->state, "open")) {
                free (last->host);
                *last = *row;
            }
            else
                free (row->host);
        }
        else
            self->rows[kept++] = *row;
    }
    self->count = kept;
    self->sorted = true;
}

static void
s_print_host (FILE *out, const char *host)
{
    for (const char *at = host; *at; at++)
        fputc (*at >= 0x20 && *at < 0x7f? *at: '?', out);
}

void
port_table_print (port_table_t *self, FILE *out, const char *suffix, port_table_note_fn *note,
                  void *arg)
{
    s_sort (self);
    for (size_t i = 0; i < self->count; i++) {
        const row_t *row = &self->rows[i];
        if (i == 0 || strcmp (self->rows[i - 1].host, row->host)) {
            fprintf (out, "%s%s", i? "\n": "", self->all? "ports on ": "open ports on ");
            s_print_host (out, row->host);
            fprintf (out, "%s:\n  %-6s %-8s %10s%s\n", suffix? suffix: "", "PORT", "STATE",
                     "TIME", note? "  NOTE": "");
        }
        char port[16], took[16] = "";
        if (strcmp (row->protocol, "tcp"))
            snprintf (port, sizeof port, "%u/%s", row->port, row->protocol);
        else
            snprintf (port, sizeof port, "%u", row->port);
        if (row->ms >= 0)
            snprintf (took, sizeof took, "%7.3f ms", row->ms);
        const char *text = note? note (arg, row->host, row->port): NULL;
        char line[96];
        int len = snprintf (line, sizeof line, "  %-6s %-8s %10s  %s", port, row->state, took,
                            text? text: "");
        len = len < (int) sizeof line? len: (int) sizeof line - 1;
        while (len > 0 && line[len - 1] == ' ')
            len--;                  //  no trailing blanks where TIME or NOTE is empty
        fprintf (out, "%.*s\n", len, line);
    }
}

static void
s_json_str (FILE *out, const char *text)
{
    msgpack_object obj = { .type = MSGPACK_OBJECT_STR };
    obj.via.str.ptr = text;
    obj.via.str.size = (uint32_t) strlen (text);
    json_write (out, &obj);
}

void
port_table_print_json (port_table_t *self, FILE *out)
{
    s_sort (self);
    const port_table_counts_t *counts = &self->counts;
    fputs ("{\"job\":", out);
    s_json_str (out, self->job);
    fprintf (out, ",\"results\":%zu,\"open\":%zu,\"closed\":%zu,\"filtered\":%zu,"
             "\"failed\":%zu,\"stateless\":%zu,\"hosts\":[", counts->results, counts->open,
             counts->closed, counts->filtered, counts->failed, counts->stateless);
    for (size_t i = 0; i < self->count; i++) {
        const row_t *row = &self->rows[i];
        bool first = i == 0 || strcmp (self->rows[i - 1].host, row->host);
        if (first) {
            fputs (i? "]},{\"host\":": "{\"host\":", out);
            s_json_str (out, row->host);
            fputs (",\"ports\":[", out);
        }
        fprintf (out, "%s{\"port\":%u,\"protocol\":", first? "": ",", row->port);
        s_json_str (out, row->protocol);
        fputs (",\"state\":", out);
        s_json_str (out, row->state);
        if (row->ms >= 0)
            fprintf (out, ",\"ms\":%.3f", row->ms);
        fputc ('}', out);
    }
    fputs (self->count? "]}]}\n": "]}\n", out);
}
