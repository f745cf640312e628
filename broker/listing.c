//  listing.c -- see listing.h.  Jobs are numbered from 1 as they are
//  created (jobs.c), so a table indexed by number lists them in creation
//  order and serves a page in O(page) however many jobs there are; it
//  holds each job's first sighting and, while the job is unfinished, a
//  ring of (time, finished) samples the rate is measured over.
#include "broker/listing.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES (LISTING_WINDOW_MS / LISTING_SAMPLE_MS + 1)

typedef struct {
    int64_t at;
    uint64_t finished;
} sample_t;

typedef struct {
    size_t next, count;
    sample_t ring[SAMPLES];
} samples_t;

typedef struct {
    job_t *job;                 //  NULL: no job has this number
    int64_t seen;               //  when this broker first saw it
    samples_t *samples;         //  while it is not complete
} track_t;

struct listing {
    jobs_t *jobs;
    roster_t *roster;
    each_t *each;               //  or NULL
    track_t *tracks;            //  by job number
    size_t tracks_size;
    size_t known;               //  jobs in tracks
    int64_t next_sample;
    uint32_t page[LISTING_MAX_PAGE];
    session_t **sessions;       //  AGENTS' sort space
    size_t sessions_size;
};

listing_t *
listing_new (jobs_t *jobs, roster_t *roster)
{
    listing_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = jobs;
    self->roster = roster;
    return self;
}

void
listing_set_each (listing_t *self, each_t *each)
{
    self->each = each;
}

void
listing_destroy (listing_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    listing_t *self = *self_p;
    for (size_t i = 0; i < self->tracks_size; i++)
        free (self->tracks[i].samples);
    free (self->tracks);
    free (self->sessions);
    free (self);
    *self_p = NULL;
}

//  Note jobs created since the last look (only then is every job visited).
static void
s_refresh (listing_t *self, int64_t now)
{
    if (jobs_count (self->jobs) == self->known)
        return;
    for (job_t *job = jobs_first (self->jobs); job; job = jobs_next (self->jobs)) {
        size_t number = job_number (job);
        if (number >= self->tracks_size) {
            size_t size = number * 2 + 64;
            track_t *tracks = realloc (self->tracks, size * sizeof *tracks);
            if (!tracks)
                return;         //  listed when memory allows
            memset (tracks + self->tracks_size, 0,
                    (size - self->tracks_size) * sizeof *tracks);
            self->tracks = tracks;
            self->tracks_size = size;
        }
        track_t *track = &self->tracks[number];
        if (!track->job) {
            track->job = job;
            track->seen = now;
            self->known++;
        }
    }
}

static uint64_t
s_finished (job_t *job)
{
    const job_counters_t *counters = job_counters (job);
    return counters->done + counters->failed;
}

void
listing_tick (listing_t *self, int64_t now)
{
    if (now < self->next_sample)
        return;
    self->next_sample = now + LISTING_SAMPLE_MS;
    s_refresh (self, now);
    for (size_t i = 0; i < self->tracks_size; i++) {
        track_t *track = &self->tracks[i];
        if (!track->job)
            continue;
        if (job_state (track->job) == JOB_COMPLETE) {
            free (track->samples);
            track->samples = NULL;
            continue;
        }
        if (!track->samples && !(track->samples = calloc (1, sizeof *track->samples)))
            continue;
        samples_t *samples = track->samples;
        samples->ring[samples->next] = (sample_t) { now, s_finished (track->job) };
        samples->next = (samples->next + 1) % SAMPLES;
        if (samples->count < SAMPLES)
            samples->count++;
    }
}

listing_rate_t
listing_rate (listing_t *self, job_t *job, int64_t now)
{
    listing_rate_t rate = { false, false, 0, 0 };
    if (job_state (job) == JOB_COMPLETE) {
        rate.has_eta = true;
        return rate;
    }
    size_t number = job_number (job);
    samples_t *samples = number < self->tracks_size? self->tracks[number].samples: NULL;
    if (!samples || samples->count == 0)
        return rate;
    //  The oldest sample in the ring: the ring spans the window.
    const sample_t *oldest = &samples->ring[(samples->next + SAMPLES - samples->count) % SAMPLES];
    int64_t elapsed = now - oldest->at;
    uint64_t finished = s_finished (job);
    if (elapsed < LISTING_SAMPLE_MS || finished < oldest->finished)
        return rate;
    uint64_t progress = finished - oldest->finished;
    rate.has_rate = true;
    rate.rate_milli = (uint64_t) ((double) progress * 1e6 / (double) elapsed);
    const job_counters_t *counters = job_counters (job);
    uint64_t remaining = counters->submitted > finished? counters->submitted - finished: 0;
    if (progress > 0 || remaining == 0) {
        rate.has_eta = true;
        rate.eta_ms = remaining? (uint64_t) ((double) remaining * (double) elapsed
                                             / (double) progress): 0;
    }
    return rate;
}

//  ---------------------------------------------------------------------
//  Pages

static void
s_pack_str (msgpack_packer *pk, const char *str)
{
    size_t size = strlen (str);
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, str, size);
}

static void
s_pack_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    s_pack_str (pk, key);
    msgpack_pack_uint64 (pk, value);
}

static void
s_pack_pair (msgpack_packer *pk, const char *key, const char *value)
{
    s_pack_str (pk, key);
    s_pack_str (pk, value);
}

//  An agent's labels as "k=v,k=v" (labels.h keeps ",k=v,k=v,"), "" for none.
static void
s_pack_labels (msgpack_packer *pk, const char *labels)
{
    s_pack_str (pk, "labels");
    size_t size = labels? strlen (labels): 0;
    const char *text = labels;
    if (size && text[0] == ',')
        text++, size--;
    if (size && text[size - 1] == ',')
        size--;
    msgpack_pack_str_with_body (pk, text? text: "", size);
}

//  The request's page: entries numbered above *after_p, at most *limit_p.
//  -DRV_E_BAD_TYPE for a limit of 0.
static int
s_page_bounds (const msg_t *request, uint64_t *after_p, size_t *limit_p, char *reason,
               size_t size)
{
    *after_p = msg_uint (request, MSG_F_AFTER);
    uint64_t limit = msg_has (request, MSG_F_LIMIT)? msg_uint (request, MSG_F_LIMIT)
                                                    : LISTING_MAX_PAGE;
    if (limit == 0) {
        snprintf (reason, size, "limit must be 1 or more");
        return -DRV_E_BAD_TYPE;
    }
    *limit_p = limit < LISTING_MAX_PAGE? (size_t) limit: LISTING_MAX_PAGE;
    return 0;
}

//  The reply: count entries, packed by pack (entry i of the page), total
//  in all, more after next.
typedef void (pack_fn) (listing_t *self, msgpack_packer *pk, size_t index, int64_t now);

static msg_t *
s_answer (listing_t *self, msg_command_t command, const msg_t *request, size_t count,
          pack_fn *pack, int64_t now, size_t total, bool more, uint64_t next, int *code_p,
          char *reason, size_t size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++)
        pack (self, &pk, i, now);
    msg_t *reply = msg_new (command);
    zframe_t *frame = reply && sbuf.data? zframe_new (sbuf.data, sbuf.size): NULL;
    msgpack_sbuffer_destroy (&sbuf);
    if (!frame || msg_payload_reserve (reply, 1)) {
        zframe_destroy (&frame);
        msg_destroy (&reply);
        *code_p = -DRV_E_INTERNAL;
        snprintf (reason, size, "out of memory");
        return NULL;
    }
    msg_set_version (reply, msg_version (request));
    msg_set_uint (reply, MSG_F_COUNT, count);
    msg_set_uint (reply, MSG_F_TOTAL, total);
    if (more)
        msg_set_uint (reply, MSG_F_NEXT, next);
    msg_payload_append (reply, &frame);
    return reply;
}

//  pack_fn: the page's job index.
static void
s_pack_job (listing_t *self, msgpack_packer *pk, size_t index, int64_t now)
{
    const track_t *track = &self->tracks[self->page[index]];
    job_t *job = track->job;
    const job_counters_t *counters = job_counters (job);
    job_counters_t runs;
    job_state_t state = job_state (job);
    bool parent = self->each && each_status (self->each, job, &runs, &state);
    listing_rate_t rate = parent? (listing_rate_t) { 0 }: listing_rate (self, job, now);
    counters = parent? &runs: counters;
    bool not_before = job_not_before (job) != 0;
    msgpack_pack_map (pk, 16 + rate.has_rate + rate.has_eta + not_before);
    s_pack_pair (pk, "job", job_name (job));
    s_pack_uint (pk, "number", job_number (job));
    s_pack_pair (pk, "state", job_state_name (state));
    s_pack_pair (pk, "handler", job_handler (job));
    s_pack_uint (pk, "submitted", counters->submitted);
    s_pack_uint (pk, "queued", counters->queued);
    s_pack_uint (pk, "running", counters->running);
    s_pack_uint (pk, "done", counters->done);
    s_pack_uint (pk, "failed", counters->failed);
    s_pack_uint (pk, "waiting", counters->waiting);
    s_pack_uint (pk, "skipped", counters->skipped);
    s_pack_uint (pk, "max_attempts", job_max_attempts (job));
    s_pack_uint (pk, "timeout_ms", job_timeout_ms (job));
    s_pack_uint (pk, "priority", job_priority (job));
    s_pack_uint (pk, "delayed", jobs_delayed (self->jobs, job));
    if (not_before)
        s_pack_uint (pk, "not_before", job_not_before (job));
    s_pack_uint (pk, "age_ms", (uint64_t) (now > track->seen? now - track->seen: 0));
    if (rate.has_rate)
        s_pack_uint (pk, "rate_milli", rate.rate_milli);
    if (rate.has_eta)
        s_pack_uint (pk, "eta_ms", rate.eta_ms);
}

msg_t *
listing_jobs (listing_t *self, const msg_t *request, int64_t now, int *code_p,
              char *reason, size_t size)
{
    uint64_t after;
    size_t limit;
    if ((*code_p = s_page_bounds (request, &after, &limit, reason, size)) != 0)
        return NULL;
    s_refresh (self, now);
    size_t count = 0, number = after < self->tracks_size? (size_t) after + 1: self->tracks_size;
    for (; number < self->tracks_size && count < limit; number++)
        if (self->tracks[number].job)
            self->page[count++] = (uint32_t) number;
    bool more = false;
    for (; number < self->tracks_size && !more; number++)
        more = self->tracks[number].job != NULL;
    return s_answer (self, MSG_JOB_LIST, request, count, s_pack_job, now,
                     jobs_count (self->jobs), more, count? self->page[count - 1]: after,
                     code_p, reason, size);
}

static int
s_by_number (const void *a, const void *b)
{
    uint64_t x = session_number (*(session_t * const *) a);
    uint64_t y = session_number (*(session_t * const *) b);
    return x < y? -1: x > y;
}

//  pack_fn: the sorted sessions' index.
static void
s_pack_agent (listing_t *self, msgpack_packer *pk, size_t index, int64_t now)
{
    session_t *session = self->sessions[index];
    msgpack_pack_map (pk, 11);
    s_pack_pair (pk, "agent", session_name (session));
    s_pack_uint (pk, "number", session_number (session));
    s_pack_pair (pk, "host", session_host (session));
    s_pack_uint (pk, "slots", session_slots (session));
    s_pack_uint (pk, "credit", session_credit (session));
    s_pack_uint (pk, "in_flight", held_size (session_held (session)));
    s_pack_uint (pk, "done", session_done (session));
    int64_t heard = session_last_heard (session), started = session_started (session);
    s_pack_uint (pk, "heard_ms", (uint64_t) (now > heard? now - heard: 0));
    s_pack_uint (pk, "age_ms", (uint64_t) (now > started? now - started: 0));
    s_pack_uint (pk, "version", (uint64_t) session_version (session));
    s_pack_labels (pk, session_labels (session));
}

msg_t *
listing_agents (listing_t *self, const msg_t *request, int64_t now, int *code_p,
                char *reason, size_t size)
{
    uint64_t after;
    size_t limit;
    if ((*code_p = s_page_bounds (request, &after, &limit, reason, size)) != 0)
        return NULL;
    size_t total = roster_size (self->roster);
    if (total > self->sessions_size) {
        session_t **sessions = realloc (self->sessions, total * sizeof *sessions);
        if (!sessions) {
            *code_p = -DRV_E_INTERNAL;
            snprintf (reason, size, "out of memory");
            return NULL;
        }
        self->sessions = sessions;
        self->sessions_size = total;
    }
    size_t found = 0;
    for (session_t *session = roster_first (self->roster); session;
         session = roster_next (self->roster))
        if (session_number (session) > after)
            self->sessions[found++] = session;
    if (found > 1)
        qsort (self->sessions, found, sizeof *self->sessions, s_by_number);
    size_t count = found < limit? found: limit;
    uint64_t next = count? session_number (self->sessions[count - 1]): after;
    return s_answer (self, MSG_AGENT_LIST, request, count, s_pack_agent, now, total,
                     found > count, next, code_p, reason, size);
}
