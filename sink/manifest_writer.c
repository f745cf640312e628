//  manifest_writer.c -- see manifest_writer.h.  Reads at most
//  TICK_BYTES a tick so that a big file read at start does not stall the
//  sink's results; a line not yet ended (being written) waits for the next
//  tick.  A file that became shorter (cut, rotated) is read again from its
//  start, with every job's manifest begun again.
#include "sink/manifest_writer.h"
#include "sink/manifest.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TICK_MS     100
#define TICK_BYTES  (8 * 1024 * 1024)

typedef struct {
    manifest_t *manifest;
    bool dirty;                 //  lines added since it was written
    int64_t changed;            //  when the last line was read
} job_state_t;

struct manifest_writer {
    char *path;
    uint32_t delay_ms;
    FILE *file;                 //  NULL until the file exists
    uint64_t offset;            //  read up to here (a line's end)
    zhashx_t *jobs;             //  name -> job_state_t
    manifest_line_t line;
    char *text;                 //  getline's buffer
    size_t text_size;
    int64_t next_tick;
    uint64_t written;
};

static void
s_job_destroy (job_state_t **job_p)
{
    if (*job_p)
        manifest_destroy (&(*job_p)->manifest);
    free (*job_p);
    *job_p = NULL;
}

manifest_writer_t *
manifest_writer_new (const char *path, uint32_t delay_ms)
{
    manifest_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup (path);
    self->delay_ms = delay_ms;
    self->jobs = zhashx_new ();
    manifest_line_init (&self->line);
    if (!self->path || !self->jobs) {
        manifest_writer_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, (zhashx_destructor_fn *) s_job_destroy);
    return self;
}

//  Write one job's manifest: to a temporary file, then renamed over the
//  last, so that a reader never sees half of one.
static void
s_write (manifest_writer_t *self, const char *name, job_state_t *job)
{
    json_buffer_t text = { 0 };
    char *path = manifest_path (self->path, name);
    char *temporary = path? zsys_sprintf ("%s.tmp", path): NULL;
    FILE *out = temporary && manifest_render (job->manifest, &text) == 0
              ? fopen (temporary, "w"): NULL;
    bool ok = out && fwrite (text.data, 1, text.size, out) == text.size;
    if (out && fclose (out))
        ok = false;
    if (ok && rename (temporary, path) == 0) {
        job->dirty = false;
        self->written++;
    }
    else {
        log_error ("cannot write the manifest of job %s at %s: %s",
                   peerlog_str (name).text, path? path: "(out of memory)", strerror (errno));
        if (temporary)
            remove (temporary);
        job->changed = zclock_mono ();          //  try again after the delay
    }
    json_buffer_free (&text);
    zstr_free (&temporary);
    free (path);
}

//  One line read (text[0..size), its newline off): to its job's manifest.
static void
s_line (manifest_writer_t *self, const char *text, size_t size, int64_t now)
{
    char name[256];
    if (manifest_line_parse (&self->line, text, size, name, sizeof name))
        return;                     //  not a result line: no job's
    job_state_t *job = zhashx_lookup (self->jobs, name);
    if (!job) {
        job = calloc (1, sizeof *job);
        if (job && !(job->manifest = manifest_new (name)))
            s_job_destroy (&job);
        if (!job || zhashx_insert (self->jobs, name, job)) {
            s_job_destroy (&job);
            log_error ("manifests: out of memory");
            return;
        }
    }
    if (manifest_add (job->manifest, text, size, &self->line))
        log_error ("manifests: out of memory for job %s", peerlog_str (name).text);
    job->dirty = true;
    job->changed = now;
}

//  Open the file if need be, and start again if it became shorter.
static bool
s_open (manifest_writer_t *self)
{
    if (!self->file && !(self->file = fopen (self->path, "r")))
        return false;
    struct stat st;
    if (fstat (fileno (self->file), &st))
        return false;
    if ((uint64_t) st.st_size < self->offset) {
        log_info ("manifests: %s is shorter than before: reading it again",
                  self->path);
        zhashx_purge (self->jobs);
        self->offset = 0;
    }
    return (uint64_t) st.st_size > self->offset;
}

//  Read whole lines from the offset, up to budget bytes; true at the end.
static bool
s_read (manifest_writer_t *self, uint64_t budget, int64_t now)
{
    if (!s_open (self))
        return true;
    if (fseeko (self->file, (off_t) self->offset, SEEK_SET))
        return true;
    uint64_t read = 0;
    ssize_t size;
    while (read < budget
       &&  (size = getline (&self->text, &self->text_size, self->file)) > 0) {
        if (self->text[size - 1] != '\n')
            return true;            //  being written: the next tick's
        s_line (self, self->text, (size_t) size - 1, now);
        self->offset += (uint64_t) size;
        read += (uint64_t) size;
    }
    clearerr (self->file);
    return read < budget;
}

//  Write the manifests of jobs quiet since the delay (all: every one).
static void
s_write_due (manifest_writer_t *self, int64_t now, bool all)
{
    for (job_state_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
        if (job->dirty && (all || now - job->changed >= self->delay_ms))
            s_write (self, zhashx_cursor (self->jobs), job);
}

void
manifest_writer_tick (manifest_writer_t *self, int64_t now)
{
    if (now < self->next_tick)
        return;
    self->next_tick = now + TICK_MS;
    //  Only once caught up: a job is not quiet while its lines wait unread.
    if (s_read (self, TICK_BYTES, now))
        s_write_due (self, now, false);
}

uint64_t
manifest_writer_written (const manifest_writer_t *self)
{
    return self->written;
}

void
manifest_writer_destroy (manifest_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    manifest_writer_t *self = *self_p;
    if (self->jobs) {
        int64_t now = zclock_mono ();
        while (!s_read (self, TICK_BYTES, now))
            ;
        s_write_due (self, now, true);
    }
    if (self->file)
        fclose (self->file);
    zhashx_destroy (&self->jobs);
    manifest_line_destroy (&self->line);
    free (self->text);
    free (self->path);
    free (self);
    *self_p = NULL;
}
