//  support_site.h -- what the tests of job control (test_listing.c,
//  test_manifest.c) share: a broker, a sink and an agent as real processes
//  on fresh loopback ports in a scratch directory, `drover` commands run
//  with their output kept, and JSON output parsed with common/json_read.h.
#ifndef DROVER_TEST_SUPPORT_SITE_H
#define DROVER_TEST_SUPPORT_SITE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char results[512];          //  the sink's output file
    pid_t broker, sink_pid, agent;
} site_t;

//  A broker; with workers, a sink (sink_args: more of its flags, NULL
//  ended, may be none) and an agent named "agent-1": one worker process of
//  threads threads.
void     site_start (site_t *site, bool workers, int threads, ...)
    __attribute__ ((sentinel));
//  SIGTERM each process (expecting exit 0), remove the directory.
void     site_stop (site_t *site);

typedef struct {
    int status;                 //  wait status
    char *out, *err;
} site_run_t;

//  `drover ARGV...` (NULL ended) with its output kept; killed after 30 s.
site_run_t site_run (site_t *site, const char *arg, ...) __attribute__ ((sentinel));
void     site_run_free (site_run_t *run);
bool     site_exited_with (const site_run_t *run, int code);

//  Submit count tuples ("[value]" each line) to job with handler, closed.
void     site_submit (site_t *site, const char *job, const char *handler, int count,
                      const char *value);

//  JSON text as a msgpack object (json.unpacked.data), which points into
//  json's buffer: free both with site_json_free.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_unpacked unpacked;
} site_json_t;
bool     site_parse_json (const char *text, size_t size, site_json_t *json);
void     site_json_free (site_json_t *json);
//  A uint of a map (0 if absent), or whether a key is there.
uint64_t site_uint (const msgpack_object *map, const char *key);
bool     site_has (const msgpack_object *map, const char *key);
bool     site_str_is (const msgpack_object *map, const char *key, const char *value);

#endif
