//  views.c -- see views.h.  Names come from producers and agents and may
//  hold anything: in tables, bytes a terminal would act on show as '?';
//  JSON goes through the JSON writer.
#include "cli/views.h"
#include "common/json_write.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

//  buf with its control bytes made '?', in place.
static const char *
s_safe (char *buf)
{
    for (char *p = buf; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';
    return buf;
}

//  ms as "45s", "12m05s", "3h20m", "2d04h"; "-" for none.
static const char *
s_duration (bool known, uint64_t ms, char *buf, size_t size)
{
    uint64_t s = ms / 1000;
    if (!known)
        snprintf (buf, size, "-");
    else
    if (s < 60)
        snprintf (buf, size, "%" PRIu64 "s", s);
    else
    if (s < 3600)
        snprintf (buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else
    if (s < 86400)
        snprintf (buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf (buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    return buf;
}

//  tuples per 1000 s as tuples a second, "-" for none.
static const char *
s_rate (bool known, uint64_t rate_milli, char *buf, size_t size)
{
    if (!known)
        snprintf (buf, size, "-");
    else
        snprintf (buf, size, "%.1f", (double) rate_milli / 1000.0);
    return buf;
}

static void
s_json_entries (FILE *out, const broker_query_t *query)
{
    fputc ('[', out);
    for (size_t i = 0; i < broker_query_count (query); i++) {
        if (i)
            fputc (',', out);
        json_write (out, broker_query_entry (query, i));
    }
    fputs ("]\n", out);
}

void
views_jobs (FILE *out, const broker_query_t *query, bool json)
{
    if (json) {
        s_json_entries (out, query);
        return;
    }
    fprintf (out, "%-24s %-8s %3s %10s %10s %8s %8s %8s %8s %8s %8s %9s %8s %8s\n", "JOB",
             "STATE", "PRI", "SUBMITTED", "DONE", "FAILED", "QUEUED", "DELAYED", "WAITING",
             "RUNNING", "SKIPPED", "RATE/s",
             "ETA", "AGE");
    for (size_t i = 0; i < broker_query_count (query); i++) {
        const msgpack_object *e = broker_query_entry (query, i);
        char name[256], state[16], rate[32], eta[32], age[32];
        uint64_t v[9] = { 0 }, rate_milli, eta_ms, age_ms;
        //  waiting and skipped: absent from a broker older than section 14;
        //  delayed and priority, than section 13.
        const char *keys[] = { "submitted", "done", "failed", "queued", "delayed", "waiting",
                               "running", "skipped", "priority" };
        for (size_t k = 0; k < 9; k++)
            broker_query_uint (e, keys[k], &v[k]);
        bool has_rate = broker_query_uint (e, "rate_milli", &rate_milli);
        bool has_eta = broker_query_uint (e, "eta_ms", &eta_ms);
        bool has_age = broker_query_uint (e, "age_ms", &age_ms);
        fprintf (out, "%-24s %-8s %3" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8"
                 PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9s %8s %8s\n",
                 s_safe ((char *) broker_query_str (e, "job", name, sizeof name)),
                 s_safe ((char *) broker_query_str (e, "state", state, sizeof state)),
                 v[8], v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                 s_rate (has_rate, rate_milli, rate, sizeof rate),
                 s_duration (has_eta, eta_ms, eta, sizeof eta),
                 s_duration (has_age, age_ms, age, sizeof age));
    }
}

void
views_agents (FILE *out, const broker_query_t *query, bool json)
{
    if (json) {
        s_json_entries (out, query);
        return;
    }
    fprintf (out, "%-24s %-16s %6s %9s %10s %8s %8s %4s %s\n", "AGENT", "HOST", "SLOTS",
             "IN_FLIGHT", "DONE", "HEARD", "AGE", "PROTO", "LABELS");
    for (size_t i = 0; i < broker_query_count (query); i++) {
        const msgpack_object *e = broker_query_entry (query, i);
        char name[256], host[64], heard[32], age[32], labels[1024];
        uint64_t slots, in_flight, done, heard_ms, age_ms, version;
        broker_query_uint (e, "slots", &slots);
        broker_query_uint (e, "in_flight", &in_flight);
        broker_query_uint (e, "done", &done);
        bool has_heard = broker_query_uint (e, "heard_ms", &heard_ms);
        bool has_age = broker_query_uint (e, "age_ms", &age_ms);
        broker_query_uint (e, "version", &version);
        broker_query_str (e, "host", host, sizeof host);
        if (!broker_query_str (e, "labels", labels, sizeof labels))
            labels[0] = 0;
        fprintf (out, "%-24s %-16s %6" PRIu64 " %9" PRIu64 " %10" PRIu64 " %8s %8s %4" PRIu64
                 " %s\n", s_safe ((char *) broker_query_str (e, "agent", name, sizeof name)),
                 *host? s_safe (host): "-", slots, in_flight, done,
                 s_duration (has_heard, heard_ms, heard, sizeof heard),
                 s_duration (has_age, age_ms, age, sizeof age), version,
                 *labels? s_safe (labels): "-");
    }
}

static void
s_status_json (FILE *out, const msg_t *job)
{
    //  The job name goes through the JSON writer: it may hold anything.
    msgpack_object str = { .type = MSGPACK_OBJECT_STR };
    const char *strings[] = { "{\"job\":", ",\"state\":" };
    msg_field_t fields[] = { MSG_F_JOB, MSG_F_STATE };
    for (size_t i = 0; i < 2; i++) {
        str.via.str.ptr = msg_str (job, fields[i]);
        str.via.str.size = (uint32_t) strlen (str.via.str.ptr);
        fputs (strings[i], out);
        json_write (out, &str);
    }
    fprintf (out, ",\"submitted\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"running\":%" PRIu64
             ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64, msg_uint (job, MSG_F_SUBMITTED),
             msg_uint (job, MSG_F_QUEUED), msg_uint (job, MSG_F_RUNNING),
             msg_uint (job, MSG_F_DONE), msg_uint (job, MSG_F_FAILED));
    fprintf (out, ",\"waiting\":%" PRIu64 ",\"skipped\":%" PRIu64,
             msg_has (job, MSG_F_WAITING)? msg_uint (job, MSG_F_WAITING): 0,
             msg_has (job, MSG_F_SKIPPED)? msg_uint (job, MSG_F_SKIPPED): 0);
    if (msg_has (job, MSG_F_RATE_MILLI))
        fprintf (out, ",\"rate_milli\":%" PRIu64, msg_uint (job, MSG_F_RATE_MILLI));
    if (msg_has (job, MSG_F_ETA_MS))
        fprintf (out, ",\"eta_ms\":%" PRIu64, msg_uint (job, MSG_F_ETA_MS));
    //  PROTOCOL.md 13: absent from an older broker's JOB, and then here.
    const char *more[] = { "delayed", "priority", "not_before", "max_attempts", "timeout_ms" };
    msg_field_t more_fields[] = { MSG_F_DELAYED, MSG_F_PRIORITY, MSG_F_NOT_BEFORE,
                                  MSG_F_MAX_ATTEMPTS, MSG_F_TIMEOUT_MS };
    for (size_t i = 0; i < 5; i++)
        if (msg_has (job, more_fields[i]))
            fprintf (out, ",\"%s\":%" PRIu64, more[i], msg_uint (job, more_fields[i]));
    fputs ("}\n", out);
}

//  PROTOCOL.md 13's fields, where the broker sent them.
static void
s_status_settings (FILE *out, const msg_t *job)
{
    if (msg_has (job, MSG_F_DELAYED))
        fprintf (out, "  delayed    %" PRIu64 " (of queued)\n", msg_uint (job, MSG_F_DELAYED));
    if (msg_has (job, MSG_F_NOT_BEFORE)) {
        time_t t = (time_t) (msg_uint (job, MSG_F_NOT_BEFORE) / 1000);
        struct tm tm;
        char when[64] = "?";
        if (gmtime_r (&t, &tm))
            strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf (out, "  not_before %s\n", when);
    }
    if (msg_has (job, MSG_F_PRIORITY))
        fprintf (out, "  priority   %" PRIu64 "\n", msg_uint (job, MSG_F_PRIORITY));
    if (msg_has (job, MSG_F_TIMEOUT_MS))
        fprintf (out, "  timeout_ms %" PRIu64 "\n", msg_uint (job, MSG_F_TIMEOUT_MS));
    if (msg_has (job, MSG_F_MAX_ATTEMPTS))
        fprintf (out, "  max_attempts %" PRIu64 "\n", msg_uint (job, MSG_F_MAX_ATTEMPTS));
}

void
views_status (FILE *out, const msg_t *job, bool json)
{
    if (json) {
        s_status_json (out, job);
        return;
    }
    uint64_t submitted = msg_uint (job, MSG_F_SUBMITTED);
    uint64_t finished = msg_uint (job, MSG_F_DONE) + msg_uint (job, MSG_F_FAILED);
    char name[256], state[32], rate[32], eta[32];
    snprintf (name, sizeof name, "%s", msg_str (job, MSG_F_JOB));
    snprintf (state, sizeof state, "%s", msg_str (job, MSG_F_STATE));
    fprintf (out, "job %s: %s, %" PRIu64 "/%" PRIu64 " finished (%.1f%%)\n",
             s_safe (name), s_safe (state), finished, submitted,
             submitted? 100.0 * (double) finished / (double) submitted: 100.0);
    fprintf (out, "  submitted  %" PRIu64 "\n  queued     %" PRIu64 "\n  waiting    %" PRIu64
             "\n  running    %" PRIu64 "\n  done       %" PRIu64 "\n  failed     %" PRIu64
             "\n  skipped    %" PRIu64 "\n", submitted, msg_uint (job, MSG_F_QUEUED),
             msg_has (job, MSG_F_WAITING)? msg_uint (job, MSG_F_WAITING): 0,
             msg_uint (job, MSG_F_RUNNING), msg_uint (job, MSG_F_DONE),
             msg_uint (job, MSG_F_FAILED),
             msg_has (job, MSG_F_SKIPPED)? msg_uint (job, MSG_F_SKIPPED): 0);
    fprintf (out, "  rate       %s/s\n  eta        %s\n",
             s_rate (msg_has (job, MSG_F_RATE_MILLI), msg_uint (job, MSG_F_RATE_MILLI), rate,
                     sizeof rate),
             s_duration (msg_has (job, MSG_F_ETA_MS), msg_uint (job, MSG_F_ETA_MS), eta,
                         sizeof eta));
    s_status_settings (out, job);
}

void
views_json (FILE *out, const broker_query_t *query)
{
    s_json_entries (out, query);
}
