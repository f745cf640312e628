//  support_jobsite.h -- what the tests of job control (test_listing.c,
//  test_manifest.c) share: a broker, a sink and an agent as real processes
//  on fresh loopback ports in a scratch directory, `drover` commands run
//  with their output kept, and JSON output parsed with common/json_read.h.
#ifndef DROVER_TEST_SUPPORT_JOBSITE_H
#define DROVER_TEST_SUPPORT_JOBSITE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char results[512];          //  the sink's output file
    pid_t broker, sink_pid, agent;
} jobsite_t;

//  A broker; with workers, a sink (sink_args: more of its flags, NULL
//  ended, may be none) and an agent named "agent-1" with labels site=dc1
//  and zone=dmz: one worker process of threads threads.
void     jobsite_start (jobsite_t *site, bool workers, int threads, ...)
    __attribute__ ((sentinel));
//  SIGTERM each process (expecting exit 0), remove the directory.
void     jobsite_stop (jobsite_t *site);

typedef struct {
    int status;                 //  wait status
    char *out, *err;
} jobsite_run_t;

//  `drover ARGV...` (NULL ended) with its output kept; killed after 30 s.
jobsite_run_t jobsite_run (jobsite_t *site, const char *arg, ...) __attribute__ ((sentinel));
void     jobsite_run_free (jobsite_run_t *run);
bool     jobsite_exited_with (const jobsite_run_t *run, int code);

//  Submit count tuples ("[value]" each line) to job with handler, closed.
void     jobsite_submit (jobsite_t *site, const char *job, const char *handler, int count,
                      const char *value);

//  JSON text as a msgpack object (json.unpacked.data), which points into
//  json's buffer: free both with jobsite_json_free.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_unpacked unpacked;
} jobsite_json_t;
bool     jobsite_parse_json (const char *text, size_t size, jobsite_json_t *json);
void     jobsite_json_free (jobsite_json_t *json);
//  A uint of a map (0 if absent), or whether a key is there.
uint64_t jobsite_uint (const msgpack_object *map, const char *key);
bool     jobsite_has (const msgpack_object *map, const char *key);
bool     jobsite_str_is (const msgpack_object *map, const char *key, const char *value);

#endif
