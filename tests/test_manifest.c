//  test_manifest.c -- the sink's per-job manifests (sink/manifest.c,
//  sink/manifest_writer.c) and `drover results JOB --verify`, with a real
//  broker, sink and agent: the manifest says what the results file holds
//  (counts, failures, agents, the SHA-256 of the job's lines, computed
//  here on our own), --verify agrees, and catches one changed line.
#include "sink/manifest.h"
#include "support.h"
#include "support_jobsite.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jobsite_t s_site;

static void
s_fini (void)
{
    support_kill_started ();
}

//  The SHA-256 (hex) of the lines of path that start with prefix, and how
//  many there are.
static size_t
s_lines_digest (const char *path, const char *prefix, char *hex)
{
    FILE *file = fopen (path, "r");
    cr_assert (file);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    char *line = NULL;
    size_t size = 0, count = 0;
    ssize_t len;
    while ((len = getline (&line, &size, file)) > 0)
        if (!strncmp (line, prefix, strlen (prefix))) {
            crypto_hash_sha256_update (&state, (unsigned char *) line, (size_t) len);
            count++;
        }
    free (line);
    fclose (file);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&state, digest);
    sodium_bin2hex (hex, 65, digest, sizeof digest);
    return count;
}

//  The job's manifest, once it covers lines lines.
static bool
s_manifest (const char *job, uint64_t lines, jobsite_json_t *json)
{
    char *path = manifest_path (s_site.results, job);
    char *text = support_slurp (path);
    free (path);
    bool ok = text && jobsite_parse_json (text, strlen (text), json)
           && jobsite_uint (&json->unpacked.data, "lines") == lines;
    if (text && !ok)
        jobsite_json_free (json);
    free (text);
    return ok;
}

static const msgpack_object *
s_map (const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (map->via.map.ptr[i].key.via.str.size == strlen (key)
        &&  !memcmp (map->via.map.ptr[i].key.via.str.ptr, key, strlen (key)))
            return &map->via.map.ptr[i].val;
    cr_assert_fail ("no %s in the manifest", key);
    return NULL;
}

static jobsite_run_t
s_verify (const char *job, const char *results)
{
    return jobsite_run (&s_site, "results", job, "--output", results, "--verify", NULL);
}

//  A copy of the results and the job's manifest beside it, with the nth
//  line of the job (from 1) changed: one digit of its tuple's input.
static void
s_tampered_copy (const char *job, const char *copy, int nth)
{
    char *text = support_slurp (s_site.results), *path = manifest_path (s_site.results, job);
    char *manifest = support_slurp (path), *copy_manifest = manifest_path (copy, job);
    cr_assert (text && manifest);
    char prefix[64];
    snprintf (prefix, sizeof prefix, "{\"job\":\"%s\",", job);
    char *line = text;
    for (int seen = 0; line; line = strchr (line, '\n'), line = line? line + 1: NULL)
        if (!strncmp (line, prefix, strlen (prefix)) && ++seen == nth)
            break;
    cr_assert (line);
    char *input = strstr (line, "\"input\":[");
    cr_assert (input);
    input[9] = input[9] == '7'? '8': '7';
    FILE *out = fopen (copy, "w");
    fputs (text, out);
    fclose (out);
    out = fopen (copy_manifest, "w");
    fputs (manifest, out);
    fclose (out);
    free (text);
    free (manifest);
    free (path);
    free (copy_manifest);
}

Test (manifest, matches_the_results_and_verify_catches_a_changed_line, .fini = s_fini,
      .timeout = 180)
{
    cr_assert_geq (sodium_init (), 0);
    jobsite_start (&s_site, true, 4, "--manifests", "--manifest-delay", "0.2", NULL);
    jobsite_submit (&s_site, "audit", "echo", 600, "12345");
    jobsite_submit (&s_site, "broken", "fail", 5, "1");
    jobsite_json_t audit, broken;
    cr_assert (SUPPORT_WAIT (s_manifest ("audit", 600, &audit), 60000), "audit's manifest");
    cr_assert (SUPPORT_WAIT (s_manifest ("broken", 5, &broken), 60000), "broken's manifest");
    //  What it says, against the file read here.
    char hex[65];
    cr_assert_eq (s_lines_digest (s_site.results, "{\"job\":\"audit\",", hex), 600);
    const msgpack_object *m = &audit.unpacked.data;
    cr_assert (jobsite_str_is (m, "sha256", hex), "the SHA-256 of the job's lines");
    cr_assert_eq (jobsite_uint (s_map (m, "counts"), "ok"), 600);
    cr_assert_eq (jobsite_uint (s_map (m, "counts"), "failed"), 0);
    cr_assert_eq (s_map (m, "chunks")->via.array.size, 3, "runs of 256 lines: 256, 256, 88");
    cr_assert_eq (jobsite_uint (m, "agents_total"), 1);
    cr_assert (jobsite_str_is (&s_map (m, "agents")->via.array.ptr[0], "agent", "agent-1"));
    cr_assert_eq (jobsite_uint (&s_map (m, "agents")->via.array.ptr[0], "results"), 600);
    cr_assert_gt (jobsite_uint (m, "first_started_us"), 0);
    cr_assert_geq (jobsite_uint (m, "last_finished_us"), jobsite_uint (m, "first_started_us"));
    const msgpack_object *durations = s_map (m, "duration_us");
    cr_assert_leq (jobsite_uint (durations, "p50"), jobsite_uint (durations, "p99"));
    cr_assert_leq (jobsite_uint (durations, "p99"), jobsite_uint (durations, "max"));
    m = &broken.unpacked.data;
    cr_assert_eq (jobsite_uint (s_map (m, "counts"), "failed"), 5);
    cr_assert_eq (s_map (m, "failures")->via.array.size, 5);
    cr_assert (s_map (&s_map (m, "failures")->via.array.ptr[0], "error")->type
               == MSGPACK_OBJECT_STR, "a failure has its error");
    jobsite_json_free (&audit);
    jobsite_json_free (&broken);
    //  --verify agrees, and names the run of lines a changed line is in.
    jobsite_run_t run = s_verify ("audit", s_site.results);
    cr_assert (jobsite_exited_with (&run, 0), "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "600 lines match"), "%s", run.out);
    jobsite_run_free (&run);
    char copy[600];
    snprintf (copy, sizeof copy, "%s/tampered.jsonl", s_site.dir);
    s_tampered_copy ("audit", copy, 300);
    run = s_verify ("audit", copy);
    cr_assert (jobsite_exited_with (&run, 1), "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "MISMATCH") && strstr (run.out, "lines 257 to 512"), "%s",
               run.out);
    jobsite_run_free (&run);
    //  A job without a manifest is no match either.
    run = s_verify ("nosuchjob", s_site.results);
    cr_assert (jobsite_exited_with (&run, 1) && strstr (run.err, "no manifest"), "%s", run.err);
    jobsite_run_free (&run);
    //  A restarted sink reads the file again and writes the same manifest.
    char *path = manifest_path (s_site.results, "audit");
    char *before = support_slurp (path);
    cr_assert (support_stop (s_site.sink_pid, SIGTERM, 10000) == 0);
    cr_assert_eq (remove (path), 0);
    char log[600];
    snprintf (log, sizeof log, "%s/sink2.log", s_site.dir);
    s_site.sink_pid = support_spawn (log, "sink", "--bind", s_site.sink, "--output",
                                     s_site.results, "--manifests", "--manifest-delay", "0.1",
                                     NULL);
    support_started (s_site.sink_pid);
    char *after = NULL;
    cr_assert (SUPPORT_WAIT ((free (after), after = support_slurp (path)) != NULL, 30000));
    cr_assert_str_eq (after, before);
    free (after);
    free (before);
    free (path);
    jobsite_stop (&s_site);
}
