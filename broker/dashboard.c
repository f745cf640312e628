//  dashboard.c -- see dashboard.h.  /api/state is written by hand with
//  json_write for the strings (job and agent names come from peers: it
//  escapes them, invalid UTF-8 included).  Its fields are what
//  broker/dashboard.html reads.
#include "broker/dashboard.h"
#include "common/json_write.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The page, generated from broker/dashboard.html (cmake/embed.cmake).
extern const char dashboard_html[];
extern const size_t dashboard_html_size;

int
dashboard_publish_page (http_t *http)
{
    return http_publish_static (http, "/", "text/html; charset=utf-8",
                                dashboard_html, dashboard_html_size);
}

static void
s_string (FILE *out, const char *text)
{
    msgpack_object string = { .type = MSGPACK_OBJECT_STR,
                              .via.str = { (uint32_t) strlen (text), text } };
    json_write (out, &string);
}

//  Unfinished jobs first, then newest first.
static int
s_job_order (const void *a, const void *b)
{
    job_t *x = *(job_t *const *) a, *y = *(job_t *const *) b;
    bool x_done = job_state (x) == JOB_COMPLETE, y_done = job_state (y) == JOB_COMPLETE;
    if (x_done != y_done)
        return x_done? 1: -1;
    return job_number (x) < job_number (y)? 1: job_number (x) > job_number (y)? -1: 0;
}

static void
s_counts (FILE *out, const job_counters_t *c)
{
    fprintf (out, "\"submitted\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"running\":%" PRIu64
             ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64, c->submitted, c->queued, c->running,
             c->done, c->failed);
}

//  A job's row: a job run with each (broker/each.h) holds no tuples, so
//  it shows its runs added up, as STATUS does, and says so ("each"); the
//  runs have rows of their own.
static void
s_job (FILE *out, const broker_parts_t *parts, job_t *job, bool first)
{
    job_counters_t runs;
    job_state_t state = job_state (job);
    bool parent = parts->each && each_status (parts->each, job, &runs, &state);
    fprintf (out, "%s{\"name\":", first? "": ",");
    s_string (out, job_name (job));
    fprintf (out, ",\"handler\":");
    s_string (out, job_handler (job));
    fprintf (out, ",\"state\":\"%s\",\"each\":%s,", job_state_name (state),
             parent? "true": "false");
    s_counts (out, parent? &runs: job_counters (job));
    fputc ('}', out);
}

static void
s_jobs (FILE *out, const broker_parts_t *parts)
{
    jobs_t *jobs = parts->jobs;
    size_t count = jobs_count (jobs), n = 0;
    job_t **all = malloc ((count? count: 1) * sizeof *all);
    for (job_t *job = jobs_first (jobs); all && job && n < count; job = jobs_next (jobs))
        all[n++] = job;
    qsort (all, n, sizeof *all, s_job_order);
    fprintf (out, "\"jobs\":[");
    //  The jobs not shown, summed: a parent's own counters are zero, so
    //  its runs count once.
    job_counters_t rest = { 0 };
    for (size_t i = 0; i < n; i++) {
        const job_counters_t *c = job_counters (all[i]);
        if (i >= DASHBOARD_JOBS) {
            rest.submitted += c->submitted;
            rest.queued += c->queued;
            rest.running += c->running;
            rest.done += c->done;
            rest.failed += c->failed;
            continue;
        }
        s_job (out, parts, all[i], i == 0);
    }
    fprintf (out, "],\"jobs_total\":%zu,\"jobs_other\":{", n);
    s_counts (out, &rest);
    fputc ('}', out);
    free (all);
}

static int
s_agent_order (const void *a, const void *b)
{
    return strcmp (session_name (*(session_t *const *) a), session_name (*(session_t *const *) b));
}

//  An agent's labels (labels.h's text ",k=v,k=v,") as a JSON object.
static void
s_labels (FILE *out, const char *labels)
{
    fputc ('{', out);
    bool first = true;
    for (const char *at = labels? labels: ""; *at; ) {
        at += *at == ',';
        size_t key = strcspn (at, "=,"), len = strcspn (at, ",");
        if (len > key && at[key] == '=') {
            fprintf (out, "%s\"%.*s\":\"%.*s\"", first? "": ",", (int) key, at,
                     (int) (len - key - 1), at + key + 1);
            first = false;
        }
        at += len;
    }
    fputc ('}', out);
}

static void
s_agents (FILE *out, roster_t *roster, int64_t now)
{
    size_t count = roster_size (roster), n = 0;
    session_t **all = malloc ((count? count: 1) * sizeof *all);
    for (session_t *s = roster_first (roster); all && s && n < count; s = roster_next (roster))
        all[n++] = s;
    qsort (all, n, sizeof *all, s_agent_order);
    fprintf (out, "\"agents\":[");
    for (size_t i = 0; i < n && i < DASHBOARD_AGENTS; i++) {
        size_t held = held_size (session_held (all[i]));
        fprintf (out, "%s{\"name\":", i? ",": "");
        s_string (out, session_name (all[i]));
        fprintf (out, ",\"slots\":%" PRIu64 ",\"held\":%zu,\"heard_ms\":%" PRId64
                 ",\"labels\":", held + session_credit (all[i]), held,
                 now - session_last_heard (all[i]));
        s_labels (out, session_labels (all[i]));
        fputc ('}', out);
    }
    fprintf (out, "],\"agents_total\":%zu", n);
    free (all);
}

static void
s_dead_letters (FILE *out, const dead_letters_t *dead)
{
    fprintf (out, "\"dead_letters\":[");
    for (size_t i = 0; i < dead_letters_count (dead); i++) {
        const dead_letter_t *letter = dead_letters_get (dead, i);
        fprintf (out, "%s{\"job\":", i? ",": "");
        s_string (out, letter->job);
        fprintf (out, ",\"tuple\":%" PRIu64 ",\"attempts\":%" PRIu32 ",\"reason\":",
                 letter->tuple, letter->attempts);
        s_string (out, letter->reason);
        fprintf (out, ",\"at\":%" PRId64 "}", letter->at);
    }
    fputc (']', out);
}

char *
dashboard_state (const broker_parts_t *parts, size_t *size_p)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    const broker_counters_t *c = parts->counters;
    fprintf (out, "{\"version\":\"%s\",\"now\":%" PRId64 ",\"store\":", DROVER_VERSION,
             zclock_time ());
    s_string (out, parts->store);
    fprintf (out, ",\"tuples\":{\"waiting\":%zu,\"backing_off\":%zu,\"accepted\":%" PRIu64
             ",\"dispatched\":%" PRIu64 ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64
             ",\"requeued\":%" PRIu64 ",\"dead_letters\":%" PRIu64 "},",
             jobs_waiting (parts->jobs), jobs_backing_off (parts->jobs), c->accepted,
             c->dispatched, c->done, c->failed, c->requeued, c->dead_letters);
    s_jobs (out, parts);
    fputc (',', out);
    s_agents (out, parts->roster, zclock_mono ());
    fputc (',', out);
    s_dead_letters (out, parts->dead_letters);
    fputs ("}\n", out);
    if (fclose (out)) {
        free (text);
        return NULL;
    }
    *size_p = size;
    return text;
}
